"""Reads about flags for the leaders' pages and the API: which flags a caller sees, their sentences behind
the disclosure gate, how a metric moved after an action, and the inbox.

A flag's sentence is written by the trend run (``pulse.analysis.rules``), which applies the threshold but
not the complementary suppression (``pulse.disclosure.rules.aggregate_withheld``). It is therefore shown
only when every value the trend run could have used for it (the team's results in the rounds up to the
flag's last evaluation, among the rounds loaded) is also published by the release; otherwise it is replaced
by a sentence without numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from pulse.analysis.formatting import decimals_of
from pulse.analysis.glossary import REASON_NAME, REASON_TERM
from pulse.analysis.metrics import RESPONSE_RATE, DisplayScale, Metric
from pulse.analysis.rules import REASON_ORDER, FlagKind
from pulse.analysis.sentences import signed_text
from pulse.analysis.stats import fit_trend
from pulse.analysis.suggestions import Suggestion, suggestions_for
from pulse.dates import day_text
from pulse.disclosure.release import (
    RoundInfo,
    RoundRelease,
    TeamIndex,
    TeamInfo,
    release_all,
    rounds_covering,
)
from pulse.disclosure.rules import Published
from pulse.models import Action, Flag, FlagEvent
from pulse.permissions import Caller
from pulse.selectors.cells import (
    _plain,
    _trend_words,
    horizon,
    metric_infos_for,
    min_rounds,
    shown_cell,
    visible_team_ids,
    window,
)
from pulse.selectors.flag_words import (
    DATA_LANGUAGE,
    FlagWords,
    ReaderWords,
    escalation_words,
    flag_words,
    label_lang,
    metric_label,
    recovery_words,
)
from pulse.selectors.people import teams_led_by
from surveys.models import Person

_OPEN_STATES = (Flag.State.OPEN, Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED)


_STATE_ORDER = {Flag.State.OPEN: 0, Flag.State.ACKNOWLEDGED: 1, Flag.State.ACTION_PLANNED: 2}


_SEVERITY_ORDER = {Flag.Severity.ALERT: 0, Flag.Severity.WARNING: 1, Flag.Severity.WATCH: 2}


def flag_list_for_leader(*, person: Person, include_resolved: bool = True) -> QuerySet[Flag]:
    """Flags a leader can see: of the teams they lead and every team below; never pending or lapsed ones
    (they have not held for two evaluations yet)."""
    states = (
        Flag.VISIBLE_STATES
        if include_resolved
        else (Flag.State.OPEN, Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED)
    )
    return (
        Flag.objects.filter(team__in=teams_led_by(person=person), state__in=states)
        .select_related("team")
        .prefetch_related("actions", "events")
        .order_by("-opened_at", "-pk")
    )


def _flags_visible(caller: Caller, *, states: Sequence[str]) -> QuerySet[Flag]:
    """Flags through the flags selector for leaders; an admin's are the organisation's."""
    if caller.is_admin:
        flags = Flag.objects.filter(organisation_id=caller.organisation_id).select_related("team")
    else:
        flags = flag_list_for_leader(person=caller.person, include_resolved=True).prefetch_related(None)
    return flags.filter(state__in=list(states), organisation_id=caller.organisation_id)


def _flag_order(flag: Flag) -> tuple[int, int, float]:
    opened = flag.opened_at or flag.created_at
    return (
        _STATE_ORDER.get(Flag.State(flag.state), 3),
        _SEVERITY_ORDER.get(Flag.Severity(flag.severity), 3),
        -opened.timestamp(),
    )


@dataclass(frozen=True)
class OutcomeView:
    action: Action
    due: bool
    sentence: str


@dataclass(frozen=True)
class EventView:
    """One entry of a flag's history. The trend run's own notes (detected, opened, updated, recovered …)
    repeat sentences with numbers from past evaluations, which the gate cannot re-check, so only what
    people wrote (notes, actions) and escalations are shown with their text."""

    at: datetime
    kind: str
    actor: str
    why: str
    flag_label: str
    lang: str = ""  # the language of ``why`` when not the page's ("en": stored before it was worded)
    flag_label_lang: str = DATA_LANGUAGE  # "" for a load measure's label, worded in the page's language


@dataclass(frozen=True)
class ReasonView:
    """One reason a flag holds: its name, the technical sentence (empty when redacted) and the glossary
    entry that says what it means."""

    kind: str
    name: str
    sentence: str
    term: str
    lang: str = ""  # the sentence's language when not the page's ("en": the stored English)


@dataclass(frozen=True)
class FlagView:
    flag: Flag
    team: TeamInfo
    label: str
    headline: str  # in a leader's words, in the reader's language (pulse.selectors.flag_words)
    explanation: str  # the statistics, one sentence per reason
    reasons: tuple[ReasonView, ...]
    redacted: bool
    can_act: bool
    outcomes: tuple[OutcomeView, ...]
    events: tuple[EventView, ...]
    suggestions: tuple[Suggestion, ...]
    resolution_note: str  # a leader's note when resolved by hand; what the system saw when recovered
    can_reopen: bool
    lang: str = ""  # the headline's and explanation's language when not the page's (the stored English)


def _reasons(flag: Flag, said: FlagWords, *, redacted: bool) -> tuple[ReasonView, ...]:
    kinds = [kind for kind in REASON_ORDER if kind.value in (flag.reasons or [flag.kind])]
    return tuple(
        ReasonView(
            kind=kind.value,
            name=gettext(REASON_NAME[kind]),
            sentence="" if redacted else said.reasons.get(kind.value, ""),
            term=REASON_TERM[kind],
            lang="" if redacted else said.lang,
        )
        for kind in kinds
    )


def suggestion_in_language(suggestion: Suggestion) -> Suggestion:
    """A suggestion's title and text in the active language (its source is cited as published)."""
    return replace(suggestion, title=gettext(suggestion.title), text=gettext(suggestion.text))


def _resolution_note(flag: Flag) -> str:
    if flag.state != Flag.State.RESOLVED:
        return ""
    if flag.resolution == Flag.Resolution.RECOVERED:
        return gettext("Recovered on its own: back within bounds for two rounds in a row.")
    notes = [e for e in flag.events.all() if e.kind == FlagEvent.Kind.RESOLVED]
    if not notes:
        return ""
    last = notes[-1]
    return f"{last.why} ({last.actor_label})"


def _event_view(event: FlagEvent, label: str, metric: str) -> EventView:
    """One history entry, with the language of the flag's label (``metric``'s) for the page to mark."""
    return replace(_event_view_of(event, label), flag_label_lang=label_lang(metric))


def _event_view_of(event: FlagEvent, label: str) -> EventView:
    if event.kind == FlagEvent.Kind.ESCALATED:
        why = escalation_words(event)
        return EventView(event.at, event.get_kind_display(), event.actor_label, why.text, label, why.lang)
    data = event.data or {}
    if event.kind == FlagEvent.Kind.ACTION_PLANNED and {"what", "who", "due_on"} <= set(data):
        planned = gettext("%(what)s — %(who)s, by %(due)s") % {
            "what": data["what"],
            "who": data["who"],
            "due": day_text(date.fromisoformat(data["due_on"])),
        }
        return EventView(event.at, event.get_kind_display(), event.actor_label, planned, label)
    says = event.actor_id is not None
    return EventView(event.at, event.get_kind_display(), event.actor_label, event.why if says else "", label)


def recovered_text(event: FlagEvent, *, label: str, zone: str) -> tuple[str, str]:
    """Why a flag recovered, in the active language, as plain text, with its language when it is the
    stored English ("en")."""
    words = recovery_words(event, label=label, zone=zone)
    return words.text, words.lang


def _redacted_explanation(
    flag: Flag,
    label: str,
    asked: Sequence[RoundInfo],
    releases: Mapping[int, RoundRelease],
    scale: DisplayScale | None,
    zone: str,
) -> str:
    """A flag's explanation rebuilt from published values only, for a flag whose own sentence may rest on
    a result this report withholds. In the active language, the trend words too (``pulse.selectors.cells``);
    the cell's band note too (``pulse.selectors.cells.shown_cell``)."""
    words = ReaderWords(zone, html=True)
    parts = [
        words.fill(
            gettext(
                "%(metric)s: the trend run's sentences for this flag used a result that is withheld here to "
                "protect a smaller group, so they are not shown."
            ),
            {"metric": words.label(label, flag.metric)},
        )
    ]
    shown = [(r, shown_cell(releases[r.pk].verdict(flag.metric, flag.team_id))) for r in asked]
    published = [(r, c) for r, c in shown if c.published]
    if published:
        last_round, last = published[-1]
        values = {"value": last.text, "date": words.day(last_round.closes_at.isoformat())}
        if last.note:
            template = gettext(
                "From the results shown here: the latest is %(value)s, %(band)s, in the round closing "
                "%(date)s."
            )
            values["band"] = last.note
        else:
            template = gettext(
                "From the results shown here: the latest is %(value)s, in the round closing %(date)s."
            )
        parts.append(words.fill(template, values))
    if scale is not None and scale != "percent":
        values_shown = [(r.closes_at, v) for r, c in published[-window() :] if (v := _plain(c)) is not None]
        trend = fit_trend(values_shown, least=min_rounds())
        parts.append(_trend_words(words, words.term(label), trend, scale, len(values_shown)))
    return words.join(" ", parts)


def _redacted_headline(flag: Flag, label: str, zone: str) -> str:
    words = ReaderWords(zone, html=True)
    template = (
        gettext(
            "%(metric)s is beyond the instrument's cut-off. The figures behind this are withheld here to "
            "protect a smaller group."
        )
        if flag.reasons == [FlagKind.CUTOFF.value]
        else gettext(
            "%(metric)s is worsening. The figures behind this are withheld here to protect a smaller group."
        )
    )
    return words.fill(template, {"metric": words.term(label)})


def _flag_views(
    caller: Caller,
    flags: QuerySet[Flag],
    releases: Mapping[int, RoundRelease],
    teams: TeamIndex,
    *,
    rounds_by_team: Mapping[int, Sequence[RoundInfo]],
    today: date | None = None,
) -> tuple[FlagView, ...]:
    """Flags with their sentences behind the gate (see the module docstring) and their actions' outcomes."""
    zone = caller.organisation.time_zone
    day = today or timezone.localdate(timezone=ZoneInfo(zone))
    leads = {t.pk for t in caller.led_teams}
    rows = list(
        flags.select_related("team").prefetch_related(
            Prefetch("actions", queryset=Action.objects.select_related("created_by")),
            Prefetch("events", queryset=FlagEvent.objects.select_related("actor")),
        )
    )
    # Every release of a load shares the instrument versions it loaded.
    loaded = next(iter(releases.values())).definitions if releases else {}
    infos = metric_infos_for((flag.metric for flag in rows), known=loaded.values())
    views = []
    for flag in sorted(rows, key=_flag_order):
        asked = [
            r for r in rounds_by_team.get(flag.team_id, ()) if r.pk in releases and _asks(r, flag.metric)
        ]
        evidence = [r for r in asked if r.closes_at <= flag.evaluated_through]
        # Every value the trend run could have used for this flag must be published here too.
        redacted = any(
            flag.team_id in releases[r.pk].basic.get(flag.metric, set())
            and not isinstance(releases[r.pk].verdict(flag.metric, flag.team_id), Published)
            for r in evidence
        )
        label = metric_label(infos, flag.metric)
        scale = info.scale if (info := infos.info(flag.metric)) else None
        # Worded now, for this reader; the gate above decides whether it may be shown at all.
        said = flag_words(flag, label=label, zone=zone, html=True)
        explanation = (
            _redacted_explanation(flag, label, asked, releases, scale, zone) if redacted else said.explanation
        )
        series = [
            (r.closes_at, v)
            for r in asked
            if (v := _plain(shown_cell(releases[r.pk].verdict(flag.metric, flag.team_id)))) is not None
        ]
        outcomes = tuple(
            _outcome(action, series, scale, label, zone=zone, day=day) for action in flag.actions.all()
        )
        can_act = flag.team_id in leads
        views.append(
            FlagView(
                flag=flag,
                team=teams.by_id[flag.team_id],
                label=label,
                headline=_redacted_headline(flag, label, zone) if redacted else said.headline,
                explanation=explanation,
                reasons=_reasons(flag, said, redacted=redacted),
                redacted=redacted,
                can_act=can_act and flag.state in _OPEN_STATES,
                outcomes=outcomes,
                events=tuple(_event_view(event, label, flag.metric) for event in flag.events.all()),
                suggestions=tuple(suggestion_in_language(s) for s in suggestions_for(flag.metric)),
                resolution_note=_resolution_note(flag),
                can_reopen=can_act and flag.state == Flag.State.RESOLVED,
                lang="" if redacted else said.lang,
            )
        )
    return tuple(views)


def _asks(info: RoundInfo, metric: str) -> bool:
    if metric == RESPONSE_RATE:
        return True
    parsed = Metric.parse(metric)
    if parsed is None:
        return False
    asked = info.instruments.get(parsed.instrument_key or parsed.key)
    return asked is not None and asked[1] == parsed.version


def _outcome(
    action: Action,
    series: Sequence[tuple[datetime, float]],
    scale: DisplayScale | None,
    label: str,
    *,
    zone: str,
    day: date,
) -> OutcomeView:
    """How the metric moved since the action was planned, from published values only: the last one
    before it was planned, and those of the rounds that closed after its date."""
    due = day >= action.due_on
    if not due or scale is None:
        return OutcomeView(action, due, gettext("The action's date has not come yet.") if not due else "")
    before = [value for moment, value in series if moment <= action.created_at]
    after = [
        value
        for moment, value in series
        if moment >= datetime.combine(action.due_on, time.min, ZoneInfo(zone))
    ]
    if not before or not after:
        return OutcomeView(
            action, due, gettext("No round with a result to compare yet since the action's date.")
        )
    words = ReaderWords(zone, html=True)
    decimals = decimals_of(scale)
    change = signed_text(words, after[-1] - before[-1], decimals)
    values = {
        # Mid-sentence, English writes the label in lower case ("burnout (single item)"); German keeps its
        # nouns' capitals, and so does every other language until its catalogue says otherwise.
        "metric": words.term(label[0].lower() + label[1:] if translation.get_language() == "en" else label),
        "before": _shown(words, before[-1], scale),
        "after": _shown(words, after[-1], scale),
        "change": change,
        "count": len(after),
    }
    template = (
        ngettext(
            "Since the action was planned, %(metric)s moved from %(before)s to %(after)s (%(change)s points) "
            "over %(count)d round after its date.",
            "Since the action was planned, %(metric)s moved from %(before)s to %(after)s (%(change)s points) "
            "over %(count)d rounds after its date.",
            len(after),
        )
        if scale == "percent"
        else ngettext(
            "Since the action was planned, %(metric)s moved from %(before)s to %(after)s (%(change)s) over "
            "%(count)d round after its date.",
            "Since the action was planned, %(metric)s moved from %(before)s to %(after)s (%(change)s) over "
            "%(count)d rounds after its date.",
            len(after),
        )
    )
    return OutcomeView(action, due, words.fill(template, values))


def _shown(words: ReaderWords, value: float, scale: DisplayScale) -> str:
    """A coarsened value in the reader's number format ("3,4", "52", "85 %")."""
    if scale == "percent":
        return words.fill(gettext("%(number)s%%"), {"number": words.number(value, 0)})
    return words.number(value, decimals_of(scale))


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: a state group ("open": waiting for a response, "in_hand": acknowledged or
    with an action, "resolved"; empty: all), one team (and the teams below it), one severity."""

    state: str = ""
    team_id: int | None = None
    severity: str = ""


STATE_GROUPS: dict[str, tuple[str, ...]] = {
    "open": (Flag.State.OPEN,),
    "in_hand": (Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED),
    "resolved": (Flag.State.RESOLVED,),
}


@dataclass(frozen=True)
class Inbox:
    needs_you: tuple[FlagView, ...]  # open: acknowledge or plan an action
    in_hand: tuple[FlagView, ...]  # acknowledged or with an action planned
    resolved: tuple[FlagView, ...]
    teams: tuple[TeamInfo, ...]  # the teams the caller may filter by, in tree order


RESOLVED_SHOWN = 20


def flag_inbox_get(*, caller: Caller, today: date | None = None, only: InboxFilter | None = None) -> Inbox:
    """The caller's flags (a leader's teams and below; an admin's organisation), with the gate applied,
    narrowed by ``only``."""
    only = only or InboxFilter()
    organisation = caller.organisation
    teams = TeamIndex.of(organisation.pk)
    visible = visible_team_ids(caller, teams)
    choosable = tuple(t for t in teams.ordered if t.pk in visible)
    if only.team_id is not None:
        chosen = teams.by_id.get(only.team_id)
        subtree = {t.pk for t in choosable if chosen and (t.pk == chosen.pk or chosen.pk in t.ancestor_ids)}
        visible = visible & subtree
    groups = [STATE_GROUPS[only.state]] if only.state in STATE_GROUPS else list(STATE_GROUPS.values())
    wanted = {state for group in groups for state in group}
    active_states = [state for state in _OPEN_STATES if state in wanted]

    def narrowed(states: Sequence[str]) -> QuerySet[Flag]:
        flags = _flags_visible(caller, states=states).filter(team_id__in=visible)
        return flags.filter(severity=only.severity) if only.severity else flags

    active = list(narrowed(active_states).values_list("pk", flat=True)) if active_states else []
    resolved_ids = (
        list(
            narrowed([Flag.State.RESOLVED])
            .order_by("-resolved_at", "-pk")
            .values_list("pk", flat=True)[:RESOLVED_SHOWN]
        )
        if Flag.State.RESOLVED in wanted
        else []
    )
    views = flag_views_for(caller, active + resolved_ids, teams=teams, today=today)
    return Inbox(
        needs_you=tuple(v for v in views if v.flag.state == Flag.State.OPEN),
        in_hand=tuple(
            v for v in views if v.flag.state in (Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED)
        ),
        resolved=tuple(v for v in views if v.flag.state == Flag.State.RESOLVED),
        teams=choosable,
    )


def flag_views_for(
    caller: Caller, flag_ids: Sequence[int], *, teams: TeamIndex | None = None, today: date | None = None
) -> tuple[FlagView, ...]:
    """These flags, if the caller may see them, as views behind the gate (a fixed number of queries)."""
    organisation = caller.organisation
    teams = teams or TeamIndex.of(organisation.pk)
    visible = visible_team_ids(caller, teams)
    flags = Flag.objects.filter(pk__in=list(flag_ids), organisation_id=organisation.pk, team_id__in=visible)
    pairs = list(flags.values_list("team_id", "metric"))
    if not pairs:
        return ()
    flagged = [teams.by_id[t] for t in {t for t, _ in pairs} if t in teams.by_id]
    rounds = rounds_covering(organisation.pk, flagged, limit=horizon())
    metrics = {m for _, m in pairs}
    releases = release_all(
        rounds,
        teams,
        organisation=organisation,
        condition=Q(metric__in=metrics),
        extra_metrics=lambda r: [m for m in metrics if _asks(r, m)],
    )
    by_team = {
        t.pk: sorted((r for r in rounds if r.covers(t)), key=lambda r: (r.closes_at, r.pk))[-horizon() :]
        for t in flagged
    }
    return _flag_views(caller, flags, releases, teams, rounds_by_team=by_team, today=today)


def flag_visible_get(*, caller: Caller, flag_id: int) -> Flag | None:
    """A flag the caller may see (its team among theirs, same organisation), else None (the view: 404)."""
    flag = (
        Flag.objects.filter(pk=flag_id, organisation_id=caller.organisation_id, state__in=Flag.VISIBLE_STATES)
        .select_related("team")
        .first()
    )
    if flag is None:
        return None
    if caller.is_admin or flag.team_id in {t.pk for t in caller.led_teams}:
        return flag
    return None
