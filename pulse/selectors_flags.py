"""Reads about flags for the leaders' pages and the API: their list, and how a metric moved after an action.

Everything shown comes from published team aggregates (``pulse.services.trends.aggregate_withheld``
decides), coarsened as reports are (``pulse.trends.format_value``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from pulse.disclosure import coarsen_mean, coarsen_percent
from pulse.models import Action, Flag, TeamAggregate
from pulse.selectors import teams_led_by
from pulse.services.trends import aggregate_withheld
from pulse.trends import METRICS, DisplayScale, format_value, metric_key
from surveys.models import Person


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


@dataclass(frozen=True)
class ActionOutcome:
    """How the flag's metric moved after an action: the last published value before the action was
    planned, the published values of the rounds that closed after its due date, and one sentence."""

    action: Action
    due: bool  # the due date has passed
    before: str | None
    after: list[tuple[datetime, str]]
    change: str | None
    sentence: str


def _published(flag: Flag) -> list[tuple[datetime, float]]:
    k = flag.organisation.min_group_size
    rows = TeamAggregate.objects.filter(team_id=flag.team_id, metric=flag.metric).order_by("closes_at")
    out = []
    for closes_at, kind, respondents, n, total in rows.values_list(
        "closes_at", "kind", "respondents", "n", "total"
    ):
        if n and not aggregate_withheld(respondents=respondents, kind=kind, k=k):
            value = total / n
            out.append((closes_at, 100.0 * value if kind == TeamAggregate.Kind.RESPONSE_RATE else value))
    return out


def _shown_change(before: float, after: float, scale: DisplayScale) -> str:
    """The difference of the two values *as shown* (coarsened first), so it adds no precision to them."""
    if scale == "percent":
        delta = float(coarsen_percent(after) - coarsen_percent(before))
        decimals = 0
    else:
        delta = coarsen_mean(after, scale=scale) - coarsen_mean(before, scale=scale)
        decimals = 0 if scale == "0-100" else 1
    rounded = round(delta, decimals)
    return "0" if rounded == 0 else f"{rounded:+.{decimals}f}".replace("-", "−")


def flag_action_outcomes(*, flag: Flag, today: date | None = None) -> list[ActionOutcome]:
    """For each action of the flag: once its date has passed, how the metric moved since it was planned."""
    key = metric_key(flag.metric)
    info = METRICS[key] if key else None
    zone = ZoneInfo(flag.organisation.time_zone)
    day = today or timezone.localdate(timezone=zone)
    series = _published(flag) if info else []
    outcomes = []
    for action in flag.actions.all():
        due = day >= action.due_on
        before_values = [value for moment, value in series if moment <= action.created_at]
        due_moment = datetime.combine(action.due_on, time.min, zone)
        after = [(moment, value) for moment, value in series if moment >= due_moment]
        if info is None or not due:
            outcomes.append(ActionOutcome(action, due, None, [], None, "The action's date has not come yet."))
            continue
        before = format_value(before_values[-1], info.scale) if before_values else None
        shown_after = [(moment, format_value(value, info.scale)) for moment, value in after]
        if not before_values or not after:
            sentence = "No published round yet to compare with since the action's date."
            outcomes.append(ActionOutcome(action, due, before, shown_after, None, sentence))
            continue
        change = _shown_change(before_values[-1], after[-1][1], info.scale)
        unit = " points" if info.scale == "percent" else ""
        rounds = "1 round" if len(after) == 1 else f"{len(after)} rounds"
        sentence = (
            f"Since the action was planned, {info.label[0].lower() + info.label[1:]} moved from {before} to "
            f"{shown_after[-1][1]} ({change}{unit}) over {rounds} after its date."
        )
        outcomes.append(ActionOutcome(action, due, before, shown_after, change, sentence))
    return outcomes
