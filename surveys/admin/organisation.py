"""Admin for the organisation model: the same validation as every other route (model ``clean``), and a
change history kept by django-simple-history."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from simple_history.admin import SimpleHistoryAdmin

from surveys.forms import PeopleImportForm
from surveys.models import Membership, Organisation, Person, Team
from surveys.services.people_import import people_import


@admin.register(Organisation)
class OrganisationAdmin(SimpleHistoryAdmin):
    list_display = ["name", "min_group_size", "time_zone", "locale"]
    search_fields = ["name"]

    def get_urls(self) -> list[URLPattern | URLResolver]:
        own = [
            path(
                "<int:organisation_id>/import-people/",
                self.admin_site.admin_view(self.import_people_view),
                name="surveys_organisation_import_people",
            )
        ]
        return own + super().get_urls()

    def import_people_view(self, request: HttpRequest, organisation_id: int) -> HttpResponse:
        """Upload an HR export: a dry run first (a per-row report), then an atomic apply."""
        organisation = Organisation.objects.get(pk=organisation_id)
        report = None
        if request.method == "POST":
            form = PeopleImportForm(request.POST, request.FILES)
            if form.is_valid():
                text = form.cleaned_text()
                apply = "apply" in request.POST and form.cleaned_data["confirmed"]
                report = people_import(organisation=organisation, csv_text=text, apply=apply)
                if report.applied:
                    messages.success(request, report.summary())
                    return redirect("admin:surveys_organisation_change", organisation.pk)
        else:
            form = PeopleImportForm()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import people into {organisation}",
            "organisation": organisation,
            "form": form,
            "report": report,
            "opts": self.model._meta,
        }
        return render(request, "admin/surveys/import_people.html", context)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["person"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
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
class PersonAdmin(SimpleHistoryAdmin):
    list_display = ["display_name", "email", "organisation", "is_active", "is_admin"]
    list_filter = ["organisation", "is_active", "is_admin"]
    search_fields = ["display_name", "email"]
    autocomplete_fields = ["user"]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["person", "team", "role", "starts_on", "ends_on"]
    list_filter = ["role", "team__organisation"]
    search_fields = ["person__display_name", "person__email", "team__name"]
    autocomplete_fields = ["person", "team"]
