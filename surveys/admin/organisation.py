"""Admin for the organisation model: the same validation as every other route (model ``clean``), and a
change history kept by django-simple-history."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from simple_history.admin import SimpleHistoryAdmin

from surveys.forms import PeopleImportApplyForm, PeopleImportForm
from surveys.models import Membership, Organisation, Person, Team
from surveys.services.people_import import people_import, people_import_apply


@admin.register(Organisation)
class OrganisationAdmin(SimpleHistoryAdmin[Organisation]):
    list_display = ["name", "min_group_size", "time_zone", "locale"]
    search_fields = ["name"]

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:organisation_id>/import-people/",
                self.admin_site.admin_view(self.import_people_view),
                name="surveys_organisation_import_people",
            )
        ]
        return own + super().get_urls()

    def import_people_view(self, request: HttpRequest, organisation_id: int) -> HttpResponse:
        """Upload an HR export: always a dry run first (a per-row report), then an atomic apply of exactly
        what that dry run showed. Deactivating people missing from the file is chosen on the upload form,
        listed by name in the dry run, and confirmed with its own tick."""
        organisation = Organisation.objects.get(pk=organisation_id)
        report = None
        csv_text = ""
        deactivate_missing = False
        confirm_error = ""
        form = PeopleImportForm()
        if request.method == "POST" and "apply" in request.POST:
            apply_form = PeopleImportApplyForm(request.POST)
            if apply_form.is_valid():
                csv_text = apply_form.cleaned_data["csv_text"]
                deactivate_missing = apply_form.cleaned_data["deactivate_missing"]
                report, confirm_error = people_import_apply(
                    organisation=organisation,
                    csv_text=csv_text,
                    deactivate_missing=deactivate_missing,
                    fingerprint=apply_form.cleaned_data["fingerprint"],
                    deactivation_confirmed=apply_form.cleaned_data["confirm_deactivation"],
                )
                if report.applied:
                    messages.success(request, report.summary())
                    return redirect("admin:surveys_organisation_change", organisation.pk)
        elif request.method == "POST":
            form = PeopleImportForm(request.POST, request.FILES)
            if form.is_valid():
                csv_text = form.cleaned_text()
                deactivate_missing = form.cleaned_data["deactivate_missing"]
                report = people_import(
                    organisation=organisation, csv_text=csv_text, deactivate_missing=deactivate_missing
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import people into {organisation}",
            "organisation": organisation,
            "form": form,
            "report": report,
            "csv_text": csv_text,
            "deactivate_missing": deactivate_missing,
            "confirm_error": confirm_error,
            "opts": self.model._meta,
        }
        return render(request, "admin/surveys/import_people.html", context)


class MembershipInline(admin.TabularInline[Membership, Team]):
    model = Membership
    extra = 0
    autocomplete_fields = ["person"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin[Team]):
    list_display = ["indented_name", "organisation", "time_zone", "slug"]
    list_filter = ["organisation"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    inlines = [MembershipInline]

    @admin.display(description="team", ordering="path")
    def indented_name(self, team: Team) -> str:
        return "— " * team.depth + team.name


@admin.register(Person)
class PersonAdmin(SimpleHistoryAdmin[Person]):
    list_display = ["display_name", "email", "organisation", "is_active", "is_admin", "emails_paused_at"]
    list_filter = ["organisation", "is_active", "is_admin", ("emails_paused_at", admin.EmptyFieldListFilter)]
    search_fields = ["display_name", "email"]
    autocomplete_fields = ["user"]
    # Set and cleared by the person, from the link in their check-in emails; not an admin's to change.
    readonly_fields = ["emails_paused_at"]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin[Membership]):
    list_display = ["person", "team", "role", "starts_on", "ends_on"]
    list_filter = ["role", "team__organisation"]
    search_fields = ["person__display_name", "person__email", "team__name"]
    autocomplete_fields = ["person", "team"]
