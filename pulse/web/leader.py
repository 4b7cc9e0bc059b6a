"""The leaders' pages: the home heatmap, a team's page and the flags inbox.

Thin edges (HackSoft): each view finds the caller, calls one selector of ``pulse.reports`` (every number
shown comes from there, through ``pulse.disclosure``) or one flag service, and renders. A team or flag the
caller may not see — another organisation's, or a team they do not lead — is a 404, exactly like an id that
does not exist (a 403 would confirm that it exists). Admins see the organisation's results and flags but
only a team's leaders act on its flags (``pulse.services.flags`` checks it again).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from pulse.analysis import suggestions
from pulse.analysis.glossary import TERMS
from pulse.disclosure.release import TeamIndex, TeamInfo
from pulse.models import Flag
from pulse.permissions import Caller, caller_of_request
from pulse.selectors import reports
from pulse.selectors.cells import metric_infos_for, min_rounds, sees_results
from pulse.selectors.flag_words import metric_label
from pulse.selectors.flags import (
    FlagView,
    InboxFilter,
    flag_inbox_get,
    flag_views_for,
    flag_visible_get,
)
from pulse.selectors.oncall import (
    ROLLUP_WEEKS,
    RollupLoad,
    TeamLoad,
    rollup_load_get,
    team_load_get,
)
from pulse.selectors.people import teams_led_by
from pulse.selectors.rollup import Rollup, RollupRow, team_rollup_get
from pulse.selectors.team_results import round_note_get
from pulse.services import team_results
from pulse.services.flags import (
    FlagTransitionError,
    flag_acknowledge,
    flag_action_plan,
    flag_reopen,
    flag_resolve,
)
from pulse.web import exports

# --- forms --------------------------------------------------------------------------------------------


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("What you know so far."),
    )


class ActionForm(forms.Form):
    suggestion = forms.ChoiceField(
        label=gettext_lazy("Start from a suggestion"),
        required=False,
        # The suggestions' titles are marked in pulse.analysis.suggestions and translated here, lazily.
        choices=[
            ("", gettext_lazy("None: I will write my own")),
            *((s.key, gettext_lazy(s.title)) for s in suggestions.ALL),
        ],
        help_text=gettext_lazy("Its text becomes what will be done, if you leave that empty."),
    )
    what = forms.CharField(
        label=gettext_lazy("What will be done"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    who = forms.CharField(label=gettext_lazy("Who"), max_length=200)
    due_on = forms.DateField(label=gettext_lazy("By when"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean_due_on(self) -> dt.date:
        due: dt.date = self.cleaned_data["due_on"]
        if due < timezone.localdate():
            raise forms.ValidationError(gettext("Choose today or a later day."))
        return due

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        what = (data.get("what") or "").strip()
        chosen = suggestions.BY_KEY.get(data.get("suggestion") or "")
        if not what and chosen is not None:
            what = f"{gettext(chosen.title)}: {gettext(chosen.text)}"
        if not what:
            self.add_error("what", gettext("Write what will be done, or start from a suggestion."))
        data["what"] = what
        return data

    def plan(self) -> dict[str, Any]:
        """What the service takes."""
        return {key: self.cleaned_data[key] for key in ("what", "who", "due_on")}


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Why it is resolved"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why it is reopened"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class RoundNoteForm(forms.Form):
    """The leader's note to the team on a round (the rule: ``team_results.round_note_clean``)."""

    text = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=team_results.NOTE_MAX_CHARACTERS + 500,  # the service's rule says how long, in words
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": team_results.NOTE_MAX_CHARACTERS}),
        help_text=gettext_lazy(
            "Shown to every member of the team with these results, and in their summary email. A few short "
            "paragraphs at most; no names of people who answered or not (Pulse does not know them)."
        ),
    )

    def clean_text(self) -> str:
        try:
            return team_results.round_note_clean(self.cleaned_data["text"])
        except ValidationError as error:
            raise forms.ValidationError(error.message_dict["text"]) from None


class InboxFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=gettext_lazy("State"),
        required=False,
        choices=[
            ("", gettext_lazy("Any state")),
            ("open", gettext_lazy("Waiting for a response")),
            ("in_hand", gettext_lazy("Acknowledged or action planned")),
            ("resolved", pgettext_lazy("a flag's state", "Resolved")),
        ],
    )
    team = forms.TypedChoiceField(
        label=gettext_lazy("Team"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", gettext_lazy("Any team"))],
    )
    severity = forms.ChoiceField(
        label=gettext_lazy("Severity"),
        required=False,
        choices=[
            ("", gettext_lazy("Any severity")),
            (Flag.Severity.WATCH, pgettext_lazy("flag severity", "Watch")),
            (Flag.Severity.WARNING, pgettext_lazy("flag severity", "Warning")),
            (Flag.Severity.ALERT, pgettext_lazy("flag severity", "Alert")),
        ],
    )

    def __init__(self, *args: Any, teams: Iterable[TeamInfo] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["team"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", gettext("Any team")), *((t.pk, "· " * t.depth + t.name) for t in teams)]

    def chosen(self) -> InboxFilter:
        if not self.is_valid():
            return InboxFilter()
        data = self.cleaned_data
        return InboxFilter(state=data["state"], team_id=data["team"], severity=data["severity"])


# --- helpers ------------------------------------------------------------------------------------------


def _results_caller(request: HttpRequest) -> Caller:
    """A leader or an admin; anyone else gets a 403, whatever the id they asked for."""
    caller = caller_of_request(request)
    if not sees_results(caller):
        raise PermissionDenied("Only leaders and admins see team results and flags.")
    assert caller is not None
    return caller


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(default)


# A form that was sent with errors, shown again in place of its blank one: (flag id, form name, form).
Bound = tuple[int, str, forms.Form] | None


def _items(views: Iterable[FlagView], bound: Bound = None) -> list[dict[str, Any]]:
    """Each flag with its three forms when the caller can act on it (a leader of its team or above). The
    form sent with errors keeps what was typed and shows each error at its field."""
    items = []
    for view in views:
        flag_forms: dict[str, forms.Form] | None = None
        if view.can_act:
            flag_forms = {
                "acknowledge": AcknowledgeForm(prefix=f"ack{view.flag.pk}"),
                "action": ActionForm(prefix=f"act{view.flag.pk}"),
                "resolve": ResolveForm(prefix=f"res{view.flag.pk}"),
            }
        elif view.can_reopen:
            flag_forms = {"reopen": ReopenForm(prefix=f"reo{view.flag.pk}")}
        if flag_forms is not None and bound is not None and bound[0] == view.flag.pk:
            flag_forms[bound[1]] = bound[2]
        invalid = flag_forms is not None and bound is not None and bound[0] == view.flag.pk
        items.append({"view": view, "forms": flag_forms, "invalid": invalid})
    return items


# --- pages --------------------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Leaders and admins: the heatmap of their teams. Engineers: where their check-ins are."""
    caller = caller_of_request(request)
    if not sees_results(caller):
        person = caller.person if caller else None
        teams = list(teams_led_by(person=person)) if person else []
        return render(request, "pulse/home.html", {"person": person, "teams": teams})
    assert caller is not None
    home = reports.leader_home_get(caller=caller)
    parents = {row.team.parent_id for row in home.rows}
    context: dict[str, Any] = {
        "home": home,
        # The led teams with teams below them have a roll-up page.
        "rollups": [team for team in home.led if team.pk in parents],
        # One reverse for all rows ("/teams/" + id + "/"): a {% url %} per row is measurable at 500 teams.
        "team_url": reverse("team_report", args=[0]).removesuffix("0/"),
    }
    return render(request, "pulse/leader/home.html", context)


@login_required
def team(request: HttpRequest, pk: int) -> HttpResponse:
    return _team_page(request, pk)


@login_required
def team_print(request: HttpRequest, pk: int) -> HttpResponse:
    """The team page laid out for paper: tables instead of charts, no forms."""
    return _team_page(request, pk, printable=True)


@login_required
def team_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The team page's results as CSV: the same selector call as the page, so the same release."""
    caller = _results_caller(request)
    report = reports.team_report_get(caller=caller, team_id=pk)
    if report is None:
        raise Http404("Not found.")
    name = exports.filename(report.team.name, "team", _today(caller))
    rows = exports.team_rows(report, load=_team_load(caller, report))
    return exports.csv_response(exports.TEAM_HEADER, rows, name)


def _team_load(caller: Caller, report: reports.TeamReport) -> TeamLoad | None:
    """The team's on-call load over the weeks of the page's rounds (``pulse.selectors.oncall``)."""
    series = [*report.metrics, *([report.response_rate] if report.response_rate else [])]
    earliest = min((p.round.closes_at for m in series for p in m.points), default=None)
    return team_load_get(caller=caller, team_id=report.team.pk, since=earliest)


def _one_time_axis(charts: dict[str, dict[str, Any]], load: TeamLoad) -> dict[str, dict[str, Any]]:
    """The survey charts and the load charts over one span of dates, so that a week of pages and a round
    of answers sit at the same place across the page."""
    spans = [chart["x_range"] for chart in charts.values() if chart.get("x_range")]
    weeks = [int(week.starts_at.timestamp()) for week in load.weeks]
    span = [min([*weeks, *(s[0] for s in spans)]), max([*weeks, *(s[1] for s in spans)])]
    together = {key: {**chart, "x_range": span} for key, chart in charts.items()}
    together.update(load.chart_data(span))
    return together


@login_required
def team_rollup(request: HttpRequest, pk: int) -> HttpResponse:
    return _rollup_page(request, pk)


@login_required
def team_rollup_print(request: HttpRequest, pk: int) -> HttpResponse:
    return _rollup_page(request, pk, printable=True)


def _rollup_page(request: HttpRequest, pk: int, *, printable: bool = False) -> HttpResponse:
    """A team with teams below it: each of them side by side (``pulse.selectors.rollup``)."""
    caller = _results_caller(request)
    rollup = team_rollup_get(caller=caller, team_id=pk)
    if rollup is None:
        raise Http404("Not found.")
    load_rows = _rollup_load_rows(caller, rollup)
    context = {
        "rollup": rollup,
        "load_rows": load_rows,
        "load_weeks": ROLLUP_WEEKS,
        "missing_load": len(rollup.rows) - len(load_rows) if load_rows else 0,
        "printable": printable,
        "team_url": reverse("team_report", args=[0]).removesuffix("0/"),
        "min_rounds": min_rounds(),
    }
    return render(request, "pulse/leader/rollup.html", context)


def _rollup_load_rows(caller: Caller, rollup: Rollup) -> list[tuple[RollupRow, RollupLoad]]:
    """Each team of the roll-up that has on-call data, with its load, in the roll-up's order (the row
    gives the load table the same indentation as the results table)."""
    loads = rollup_load_get(caller=caller, team_ids=[row.team.pk for row in rollup.rows])
    return [(row, loads[row.team.pk]) for row in rollup.rows if row.team.pk in loads]


@login_required
def team_rollup_export(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _results_caller(request)
    rollup = team_rollup_get(caller=caller, team_id=pk)
    if rollup is None:
        raise Http404("Not found.")
    name = exports.filename(rollup.team.name, "rollup", _today(caller))
    loads = rollup_load_get(caller=caller, team_ids=[row.team.pk for row in rollup.rows])
    return exports.csv_response(exports.ROLLUP_HEADER, exports.rollup_rows(rollup, loads=loads), name)


def _today(caller: Caller) -> dt.date:
    return timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(caller.organisation.time_zone)).date()


def _team_page(
    request: HttpRequest,
    pk: int,
    bound: Bound = None,
    *,
    printable: bool = False,
    note_form: RoundNoteForm | None = None,
) -> HttpResponse:
    caller = _results_caller(request)
    report = reports.team_report_get(caller=caller, team_id=pk)
    if report is None:
        raise Http404("Not found.")
    charts = {m.metric: m.chart for m in report.metrics}
    if report.response_rate is not None:
        charts[report.response_rate.metric] = report.response_rate.chart
    load = _team_load(caller, report)
    if load is not None:
        charts = _one_time_axis(charts, load)
    latest = report.latest_round
    note = round_note_get(round_id=latest.pk, team_id=pk) if latest else None
    # Who may write it is may_write_note's rule: a leader of the team or above, i.e. among led_teams.
    can_note = latest is not None and not printable and pk in {t.pk for t in caller.led_teams}
    context = {
        "report": report,
        "charts": charts,
        "load": load,
        "min_rounds": min_rounds(),
        "printable": printable,
        "has_rollup": bool(report.children),
        "note": note,
        "note_form": (note_form or RoundNoteForm(initial={"text": note.text if note else ""}))
        if can_note
        else None,
        "summary_delay_hours": settings.PULSE_TEAM_SUMMARY_DELAY_HOURS,
    }
    invalid = bound is not None or (note_form is not None and not note_form.is_valid())
    return render(request, "pulse/leader/team.html", context, status=400 if invalid else 200)


@login_required
@require_POST
def round_note_view(request: HttpRequest, pk: int, round_pk: int) -> HttpResponse:
    """Save the leader's note to the team on a round (``team_results.round_note_save``, which refuses
    anyone but the team's leaders or leaders above it); errors are shown at the field."""
    caller = _results_caller(request)
    if reports.team_report_get(caller=caller, team_id=pk) is None:
        raise Http404("Not found.")
    form = RoundNoteForm(request.POST)
    if form.is_valid():
        try:
            team_results.round_note_save(
                round_id=round_pk, team_id=pk, by=caller.person, text=form.cleaned_data["text"]
            )
        except ValidationError as error:
            form.add_error("text", error.message_dict.get("text", error.messages))
        else:
            messages.success(request, gettext("Your note is saved; the team sees it with the results."))
            return redirect(reverse("team_report", args=[pk]) + "#note")
    return _team_page(request, pk, note_form=form)


@login_required
def flags(request: HttpRequest) -> HttpResponse:
    return _flags_page(request)


def _flags_page(request: HttpRequest, bound: Bound = None) -> HttpResponse:
    caller = _results_caller(request)
    filters = InboxFilterForm(request.GET or None, teams=TeamIndex.of(caller.organisation_id).ordered)
    inbox = flag_inbox_get(caller=caller, only=filters.chosen())
    context = {
        "inbox": inbox,
        "filters": filters,
        "filtered": any(request.GET.get(name) for name in filters.fields),
        "organisation": caller.organisation,
        "needs_you": inbox.needs_you,
        "in_hand": inbox.in_hand,
        "resolved": inbox.resolved,
    }
    return render(request, "pulse/leader/flags.html", context, status=400 if bound else 200)


@login_required
def flag_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _flag_page(request, pk)


def _flag_page(request: HttpRequest, pk: int, bound: Bound = None) -> HttpResponse:
    """One flag: the headline, its reasons with the statistics behind them, what to do, the actions and the
    history, and the forms to respond."""
    caller = _results_caller(request)
    if flag_visible_get(caller=caller, flag_id=pk) is None:
        raise Http404("Not found.")
    (view,) = flag_views_for(caller, [pk])
    (item,) = _items([view], bound)
    context = {"item": item, "view": view, "organisation": caller.organisation}
    return render(request, "pulse/leader/flag.html", context, status=400 if bound else 200)


@login_required
def glossary(request: HttpRequest) -> HttpResponse:
    """What the statistics in a flag's details mean, with their sources."""
    _results_caller(request)
    # The terms in the page's language (pulse.analysis.catalogue marks them); sources as published.
    terms = [replace(term, name=gettext(term.name), meaning=gettext(term.meaning)) for term in TERMS]
    return render(request, "pulse/leader/glossary.html", {"terms": terms})


# --- flag actions (POST only; the services guard the transitions) --------------------------------------


def _act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    caller = _results_caller(request)
    flag = flag_visible_get(caller=caller, flag_id=pk)
    if flag is None:
        raise Http404("Not found.")
    default = reverse("flag_detail", args=[pk])
    label = metric_label(metric_infos_for([flag.metric]), flag.metric)
    form: forms.Form
    try:
        if action == "acknowledge":
            form = AcknowledgeForm(request.POST, prefix=f"ack{pk}")
            if form.is_valid():
                flag_acknowledge(flag_id=pk, by=caller.person, note=form.cleaned_data["note"])
                messages.success(
                    request,
                    gettext("Acknowledged: %(team)s, %(metric)s.")
                    % {"team": flag.team.name, "metric": label},
                )
                return _back(request, default)
        elif action == "plan":
            form = ActionForm(request.POST, prefix=f"act{pk}")
            if form.is_valid():
                assert isinstance(form, ActionForm)
                flag_action_plan(flag_id=pk, by=caller.person, **form.plan())
                messages.success(request, gettext("Action planned for %(team)s.") % {"team": flag.team.name})
                return _back(request, default)
        elif action == "reopen":
            form = ReopenForm(request.POST, prefix=f"reo{pk}")
            if form.is_valid():
                flag_reopen(flag_id=pk, by=caller.person, reason=form.cleaned_data["reason"])
                messages.success(
                    request,
                    gettext("Reopened: %(team)s, %(metric)s.") % {"team": flag.team.name, "metric": label},
                )
                return _back(request, default)
        else:
            form = ResolveForm(request.POST, prefix=f"res{pk}")
            if form.is_valid():
                flag_resolve(flag_id=pk, by=caller.person, note=form.cleaned_data["note"])
                messages.success(
                    request,
                    gettext("Resolved: %(team)s, %(metric)s.") % {"team": flag.team.name, "metric": label},
                )
                return _back(request, default)
    except FlagTransitionError as error:
        messages.error(request, str(error))
        return _back(request, default)
    # The page the form was on, again, with this form as it was sent: the typed text stays and each error
    # is shown at its field (and in the form's summary), instead of a banner over an emptied form.
    bound: Bound = (pk, "action" if action == "plan" else action, form)
    return _flag_page(request, pk, bound)


@login_required
@require_POST
def flag_acknowledge_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "acknowledge")


@login_required
@require_POST
def flag_plan_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "plan")


@login_required
@require_POST
def flag_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "resolve")


@login_required
@require_POST
def flag_reopen_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "reopen")
