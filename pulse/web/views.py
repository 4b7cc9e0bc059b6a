"""The admin pages: organisation settings, people (with the CSV import), teams, memberships, schedules,
the instrument library, and the API token page.

Every page needs an admin of the organisation (``admin_required``): anonymous visitors are sent to sign in,
everyone else gets 403. Objects are looked up in querysets scoped to the admin's organisation
(``pulse.permissions``), so another organisation's id is a 404.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from pulse.permissions import (
    Caller,
    caller_of_request,
    instruments_visible_to,
    memberships_visible_to,
    people_visible_to,
    schedules_visible_to,
    teams_visible_to,
)
from pulse.selectors.api_tokens import api_tokens_of
from pulse.services.api_tokens import api_token_create, api_token_revoke
from pulse.services.email_changes import email_change_open
from pulse.services.people import person_update
from pulse.web.forms import (
    ApiTokenForm,
    MembershipEndForm,
    MembershipForm,
    OrganisationForm,
    PeopleImportForm,
    PersonForm,
    ScheduleForm,
    TeamForm,
)
from surveys.definitions import FALLBACK_LOCALE, untranslated_items
from surveys.forms import PeopleImportApplyForm
from surveys.models import Membership, Person, Schedule
from surveys.models.instruments import configured_locales
from surveys.services.organisation import (
    membership_create,
    membership_end,
    organisation_update,
    person_create,
    person_deactivate,
    team_create,
    team_update,
)
from surveys.services.people_import import people_import, people_import_apply
from surveys.services.schedules import schedule_build, schedule_errors, schedule_next_openings, schedule_save

View = Callable[..., HttpResponse]
PAGE_SIZE = 50


def admin_required(view: Callable[..., HttpResponse]) -> View:
    """Signed in (else the sign-in page), and an active admin of an organisation (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        caller = caller_of_request(request)
        if caller is None or not caller.is_admin:
            raise PermissionDenied(gettext("Only an admin of the organisation can open this page."))
        return view(request, caller, *args, **kwargs)

    return wrapper


def tree_label(team: Any) -> str:
    return f"{'— ' * team.depth}{team.name}"


def _one(queryset: QuerySet[Any], pk: int) -> Any:
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404(gettext("Not found."))
    return obj


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(default)


# --- overview and organisation --------------------------------------------------------------------------


@admin_required
def overview(request: HttpRequest, caller: Caller) -> HttpResponse:
    organisation = caller.organisation
    counts = {
        "people": people_visible_to(caller).filter(is_active=True).count(),
        "teams": teams_visible_to(caller).count(),
        "schedules": schedules_visible_to(caller).filter(is_active=True).count(),
    }
    return render(request, "pulse/admin_app/overview.html", {"organisation": organisation, "counts": counts})


@admin_required
def organisation_settings(request: HttpRequest, caller: Caller) -> HttpResponse:
    organisation = caller.organisation
    if request.method == "POST":
        form = OrganisationForm(request.POST)
        if form.is_valid():
            try:
                changes = {k: v for k, v in form.cleaned_data.items() if v is not None}
                organisation_update(organisation=organisation, changes=changes)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, gettext("Organisation settings saved."))
                return redirect("web_organisation")
    else:
        form = OrganisationForm(
            initial={
                "name": organisation.name,
                "min_group_size": organisation.min_group_size,
                "time_zone": organisation.time_zone,
                "locale": organisation.locale,
                "password_sign_in": organisation.password_sign_in,
                "email_link_sign_in": organisation.email_link_sign_in,
                "team_summaries": organisation.team_summaries,
                "no_action_reminder_days": organisation.no_action_reminder_days,
            }
        )
    return _form_page(request, "pulse/admin_app/organisation.html", form, {"organisation": organisation})


def _form_page(request: HttpRequest, template: str, form: Any, context: dict[str, Any]) -> HttpResponse:
    """Render a form page: 400 when the form was posted and has errors (tests and scripts can tell)."""
    status = 400 if request.method == "POST" and form.is_bound and form.errors else 200
    return render(request, template, {"form": form, "time_zones": time_zones(), **context}, status=status)


@cache
def time_zones() -> list[str]:
    """For the time zone fields' suggestions (a datalist): typing "Ber" offers Europe/Berlin."""
    return sorted(
        zone for zone in zoneinfo.available_timezones() if "/" in zone and not zone.startswith("Etc/")
    )


# --- people ---------------------------------------------------------------------------------------------


@admin_required
def people_list(request: HttpRequest, caller: Caller) -> HttpResponse:
    people = people_visible_to(caller).select_related("user")
    active = request.GET.get("active", "yes")
    if active in ("yes", "no"):
        people = people.filter(is_active=active == "yes")
    query = request.GET.get("q", "").strip()[:200]
    if query:
        people = people.filter(Q(display_name__icontains=query) | Q(email__icontains=query))
    team_id = request.GET.get("team", "")
    if team_id.isdigit() and len(team_id) < 19:
        people = people.filter(
            pk__in=Membership.objects.current().filter(team_id=int(team_id)).values("person_id")
        )
    people = people.prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.current().select_related("team").order_by("team__path"),
            to_attr="current_memberships",
        )
    )
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "pulse/admin_app/people.html",
        {
            "page": page,
            "active": active,
            "q": query,
            "team": team_id,
            "team_options": [(str(team.pk), tree_label(team)) for team in teams_visible_to(caller)],
        },
    )


@admin_required
def person_new(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method == "POST":
        form = PersonForm(request.POST)
        if form.is_valid():
            try:
                person = person_create(organisation=caller.organisation, **form.cleaned_data)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, gettext("%(name)s added.") % {"name": person.display_name})
                return redirect("web_person", person.pk)
    else:
        form = PersonForm()
    return _form_page(request, "pulse/admin_app/person_form.html", form, {"person": None})


@admin_required
def person_edit(request: HttpRequest, caller: Caller, pk: int) -> HttpResponse:
    person: Person = _one(people_visible_to(caller).select_related("user"), pk)
    if request.method == "POST":
        form = PersonForm(request.POST)
        if form.is_valid():
            changes = dict(form.cleaned_data)
            can_sign_in = changes.pop("can_sign_in")
            try:
                person_update(
                    person=person,
                    changes=changes,
                    can_sign_in=can_sign_in,
                    actor=caller.person,
                    actor_is_staff=bool(request.user.is_staff or request.user.is_superuser),
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                change = email_change_open(person=person)
                if change is not None and change.new_email.lower() == form.cleaned_data["email"].lower():
                    messages.success(
                        request,
                        gettext(
                            "%(name)s saved. The new address %(new)s takes effect when its owner confirms "
                            "it by the link just emailed to it; %(old)s has been told."
                        )
                        % {"name": person.display_name, "new": change.new_email, "old": change.old_email},
                    )
                else:
                    messages.success(request, gettext("%(name)s saved.") % {"name": person.display_name})
                return redirect("web_person", person.pk)
    else:
        form = PersonForm(
            initial={
                "email": person.email,
                "display_name": person.display_name,
                "locale": person.locale,
                "time_zone": person.time_zone,
                "is_admin": person.is_admin,
                "can_sign_in": person.user is None or person.user.is_active,
            }
        )
    pending = email_change_open(person=person)
    memberships = (
        memberships_visible_to(caller).filter(person=person).select_related("team").order_by("-starts_on")
    )
    membership_form = MembershipForm(caller=caller, initial={"person": person.pk})
    return _form_page(
        request,
        "pulse/admin_app/person_form.html",
        form,
        {
            "person": person,
            "memberships": memberships,
            "membership_form": membership_form,
            "pending_email": pending.new_email if pending is not None else None,
        },
    )


@admin_required
@require_POST
def person_deactivate_view(request: HttpRequest, caller: Caller, pk: int) -> HttpResponse:
    person: Person = _one(people_visible_to(caller), pk)
    try:
        person_deactivate(person=person)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            gettext("%(name)s deactivated; their memberships ended today.") % {"name": person.display_name},
        )
    return redirect("web_person", person.pk)


@admin_required
def people_import_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Upload or paste an HR export: always a dry run first (a report per row), then apply exactly the
    outcome that dry run showed (its fingerprint). The import adds and updates; deactivating the people
    missing from the file is chosen explicitly, listed by name and confirmed with its own tick."""
    report = None
    csv_text = ""
    deactivate_missing = False
    confirm_error = ""
    form = PeopleImportForm()
    if request.method == "POST" and request.POST.get("action") == "apply":
        apply_form = PeopleImportApplyForm(request.POST)
        if not apply_form.is_valid():
            return redirect("web_people_import")
        csv_text = apply_form.cleaned_data["csv_text"]
        deactivate_missing = apply_form.cleaned_data["deactivate_missing"]
        report, confirm_error = people_import_apply(
            organisation=caller.organisation,
            csv_text=csv_text,
            deactivate_missing=deactivate_missing,
            fingerprint=apply_form.cleaned_data["fingerprint"],
            deactivation_confirmed=apply_form.cleaned_data["confirm_deactivation"],
        )
        if report.applied:
            messages.success(request, report.summary())
            return redirect("web_people")
    elif request.method == "POST":
        form = PeopleImportForm(request.POST, request.FILES)
        if form.is_valid():
            csv_text = form.cleaned_data["csv_text"]
            deactivate_missing = form.cleaned_data["deactivate_missing"]
            report = people_import(
                organisation=caller.organisation, csv_text=csv_text, deactivate_missing=deactivate_missing
            )
    failed = form.errors or (report and (report.errors or report.stale)) or confirm_error
    status = 400 if request.method == "POST" and failed else 200
    return render(
        request,
        "pulse/admin_app/people_import.html",
        {
            "form": form,
            "report": report,
            "csv_text": csv_text,
            "deactivate_missing": deactivate_missing,
            "confirm_error": confirm_error,
        },
        status=status,
    )


# --- teams and memberships ------------------------------------------------------------------------------


@admin_required
def teams_tree(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method == "POST":
        form = TeamForm(request.POST, caller=caller)
        if form.is_valid():
            try:
                team = team_create(organisation=caller.organisation, **form.cleaned_data)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, gettext("Team %(team)s created.") % {"team": team.name})
                return redirect("web_teams")
    else:
        form = TeamForm(caller=caller)
    teams = teams_visible_to(caller).select_related("organisation").order_by("path")
    leaders: dict[int, list[str]] = {}
    for membership in (
        Membership.objects.current()
        .filter(team__in=teams, role=Membership.Role.LEADER)
        .select_related("person")
    ):
        leaders.setdefault(membership.team_id, []).append(membership.person.display_name)
    rows = [{"team": team, "leaders": leaders.get(team.pk, [])} for team in teams]
    return _form_page(request, "pulse/admin_app/teams.html", form, {"rows": rows})


@admin_required
def team_edit(request: HttpRequest, caller: Caller, pk: int) -> HttpResponse:
    team = _one(teams_visible_to(caller).select_related("organisation", "parent"), pk)
    if request.method == "POST":
        form = TeamForm(request.POST, caller=caller, team=team)
        if form.is_valid():
            try:
                team_update(team=team, changes=form.cleaned_data)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, gettext("Team %(team)s saved.") % {"team": team.name})
                return redirect("web_team", team.pk)
    else:
        form = TeamForm(
            caller=caller,
            team=team,
            initial={
                "name": team.name,
                "slug": team.slug,
                "parent": team.parent_id,
                "time_zone": team.time_zone,
            },
        )
    members = (
        Membership.objects.current()
        .filter(team=team)
        .select_related("person")
        .order_by("role", "person__display_name")
    )
    membership_form = MembershipForm(caller=caller, initial={"team": team.pk})
    return _form_page(
        request,
        "pulse/admin_app/team_form.html",
        form,
        {"team": team, "members": members, "membership_form": membership_form},
    )


@admin_required
@require_POST
def membership_new(request: HttpRequest, caller: Caller) -> HttpResponse:
    form = MembershipForm(request.POST, caller=caller)
    if form.is_valid():
        try:
            membership = membership_create(**form.cleaned_data)
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                (
                    gettext("%(name)s is now a leader of %(team)s.")
                    if membership.role == membership.Role.LEADER
                    else gettext("%(name)s is now a member of %(team)s.")
                )
                % {"name": membership.person.display_name, "team": membership.team.name},
            )
            return _back(request, reverse("web_team", args=[membership.team_id]))
    return render(request, "pulse/admin_app/membership_form.html", {"form": form}, status=400)


@admin_required
@require_POST
def membership_end_view(request: HttpRequest, caller: Caller, pk: int) -> HttpResponse:
    membership: Membership = _one(memberships_visible_to(caller).select_related("person", "team"), pk)
    form = MembershipEndForm(request.POST)
    if form.is_valid():
        try:
            membership_end(membership=membership, ends_on=form.cleaned_data.get("ends_on"))
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(
                request,
                gettext("%(name)s left %(team)s.")
                % {"name": membership.person.display_name, "team": membership.team.name},
            )
    else:
        messages.error(request, gettext("The end date is not a valid date (YYYY-MM-DD)."))
    return _back(request, reverse("web_team", args=[membership.team_id]))


# --- schedules ------------------------------------------------------------------------------------------


def _schedules(caller: Caller) -> QuerySet[Schedule]:
    return (
        schedules_visible_to(caller)
        .select_related("team__organisation")
        .prefetch_related("instruments", "pauses")
        .order_by("name", "pk")
    )


@admin_required
def schedules_list(request: HttpRequest, caller: Caller) -> HttpResponse:
    rows = [
        {"schedule": schedule, "openings": schedule_next_openings(schedule, count=1)}
        for schedule in _schedules(caller)
    ]
    return render(request, "pulse/admin_app/schedules.html", {"rows": rows})


@admin_required
def schedule_new(request: HttpRequest, caller: Caller) -> HttpResponse:
    return _schedule_editor(request, caller, None)


@admin_required
def schedule_edit(request: HttpRequest, caller: Caller, pk: int) -> HttpResponse:
    return _schedule_editor(request, caller, _one(_schedules(caller), pk))


def _schedule_editor(request: HttpRequest, caller: Caller, schedule: Schedule | None) -> HttpResponse:
    """Create or edit a schedule. "Preview" validates and shows the next openings without saving."""
    preview: list[dict[str, Any]] | None = None
    preview_zone = ""
    if request.method == "POST":
        form = ScheduleForm(request.POST, caller=caller)
        if form.is_valid():
            fields, instruments = form.schedule_fields()
            candidate = schedule_build(organisation=caller.organisation, fields=fields, schedule=schedule)
            if request.POST.get("action") == "preview":
                errors = schedule_errors(candidate, instruments)
                if errors:
                    form.add_service_errors(ValidationError(errors))
                else:
                    preview, preview_zone = schedule_next_openings(candidate), candidate.effective_time_zone
            else:
                try:
                    saved = schedule_save(schedule=candidate, instruments=instruments)
                except ValidationError as error:
                    form.add_service_errors(error)
                else:
                    messages.success(request, gettext("Schedule %(name)s saved.") % {"name": saved.name})
                    return redirect("web_schedule", saved.pk)
    else:
        form = ScheduleForm(caller=caller, initial=ScheduleForm.initial_from(schedule) if schedule else None)
    if preview is None and schedule is not None and request.method == "GET":
        preview, preview_zone = schedule_next_openings(schedule), schedule.effective_time_zone
    return _form_page(
        request,
        "pulse/admin_app/schedule_form.html",
        form,
        {"schedule": schedule, "preview": preview, "preview_zone": preview_zone},
    )


# --- instruments ----------------------------------------------------------------------------------------


@admin_required
def instruments_list(request: HttpRequest, caller: Caller) -> HttpResponse:
    instruments = (
        instruments_visible_to(caller).prefetch_related("questions", "scales").order_by("key", "version")
    )
    locales = configured_locales()
    rows = [
        {"instrument": instrument, "untranslated": untranslated_items(instrument.definition(), locales)}
        for instrument in instruments
    ]
    return render(request, "pulse/admin_app/instruments.html", {"rows": rows})


@admin_required
def instrument_detail(request: HttpRequest, caller: Caller, pk: int) -> HttpResponse:
    instrument = _one(instruments_visible_to(caller).prefetch_related("questions", "scales"), pk)
    definition = instrument.definition()
    # Per language offered, the items a page in it shows in English (docs/languages.md §7).
    untranslated = untranslated_items(definition, configured_locales())
    stem_missing = [
        locale
        for locale in configured_locales()
        if definition.stem.get(FALLBACK_LOCALE) and not definition.stem.get(locale)
    ]
    for locale in stem_missing:
        untranslated.setdefault(locale, [])
    return render(
        request,
        "pulse/admin_app/instrument.html",
        {
            "instrument": instrument,
            "definition": definition,
            "untranslated": untranslated,
            "stem_missing": stem_missing,
        },
    )


# --- API token (any signed-in person) -------------------------------------------------------------------


@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    """The signed-in person's API tokens for scripts: make one (named, expiring; shown once), revoke one."""
    if caller_of_request(request) is None:
        raise PermissionDenied(gettext("Your account is not linked to an active person of an organisation."))
    new_key = None
    form = ApiTokenForm()
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token_id = request.POST.get("token", "")
            if token_id.isdigit() and api_token_revoke(user=request.user, token_id=int(token_id)):
                messages.success(request, gettext("The token was revoked: it no longer works."))
            return redirect("web_api_token")
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                _token, new_key = api_token_create(user=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                form = ApiTokenForm()
    tokens = list(api_tokens_of(user=request.user))
    context = {"new_key": new_key, "form": form, "tokens": tokens, "now": timezone.now()}
    response = render(request, "pulse/admin_app/api_token.html", context, status=400 if form.errors else 200)
    response["Cache-Control"] = "no-store"
    return response
