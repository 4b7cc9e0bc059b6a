"""On-call load as leaders see it: a team's weekly load beside its survey results, and the teams below.

Reads ``OncallWeek`` rows (``pulse.services.oncall`` computes them from shifts and pages, docs/oncall.md §2),
which hold team figures only: interruptions by hour type, the team's maximum and median share of time on
call, incidents per 12-hour shift, the rotation's size (per site), and, only where the group is at least the
organisation's minimum size k, the busiest person's share of the interruptions and the share of the team
without a week off. Nothing here is per person, and nothing is computed from anyone's answers: load is
shown *beside* the survey results, on the same time axis, never joined to them.

Who sees a team's load: whoever sees its survey results (a leader of it or above, an admin;
``pulse.selectors.cells.visible_team_ids``). The weeks shown are those of the team page's window: from the
first week of its earliest shown round, and at least the last ``PULSE_TREND_WINDOW`` weeks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext, pgettext

from pulse import dates
from pulse.analysis.load import CONCENTRATION_LIMIT, LoadWeek
from pulse.analysis.oncall import (
    MAX_INCIDENTS_PER_SHIFT,
    MAX_ON_CALL_SHARE,
    MIN_ROTATION_ONE_SITE,
    MIN_ROTATION_PER_SITE,
    ROTATION_WEEKS,
    SRE_SOURCE,
)
from pulse.disclosure.release import TeamIndex, TeamInfo
from pulse.models import OncallWeek
from pulse.permissions import Caller
from pulse.selectors.cells import visible_team_ids, window

#: Weeks a roll-up row sums over: the rotation's own four weeks (docs/oncall.md §2.5).
ROLLUP_WEEKS = ROTATION_WEEKS


@dataclass(frozen=True)
class LoadWeekView:
    """One ISO week of a team's load, as shown: shares in whole percent, None where not stored."""

    week_start: date
    starts_at: datetime
    ends_at: datetime
    day: str  # the Monday, as the table and the time axis write it
    business: int
    off: int
    sleep: int
    max_share: int | None  # over the rotation's cycle: the ``cycle_weeks`` weeks ending with this one
    median_share: int | None
    incidents: int
    incidents_per_shift: float | None
    rotation_size: int
    sites: int
    smallest_site: int
    rotation_minimum: int  # 8 at one site, 6 per site for more (the SRE book)
    concentration: int | None
    without_time_off: int | None
    breaches: tuple[str, ...]  # the SRE thresholds breached: time_on_call, incidents_per_shift, rotation_size
    cycle_weeks: int = ROTATION_WEEKS  # fewer in the team's first weeks of data (docs/oncall.md §2.3)

    @property
    def interruptions(self) -> int:
        return self.business + self.off + self.sleep

    @property
    def rotation_short(self) -> bool:
        return "rotation_size" in self.breaches

    @property
    def busiest_carries_most(self) -> bool:
        return self.concentration is not None and self.concentration > round(100 * CONCENTRATION_LIMIT)


def _percent(value: float | None) -> int | None:
    return None if value is None else round(100 * value)


def cycle_weeks(row: OncallWeek, first_week: date) -> int:
    """How many weeks the row's shares of time on call are over: the rotation's four, or fewer in the
    team's first weeks of data (``first_week``: its first stored week), as ``weekly_load`` judges them."""
    return max(1, min(ROTATION_WEEKS, (row.week_start - first_week).days // 7 + 1))


def week_view(row: OncallWeek, zone: str, cycle: int = ROTATION_WEEKS) -> LoadWeekView:
    by_site: Mapping[str, int] = {str(k): int(v) for k, v in (row.rotation_by_site or {}).items()}
    sites = len(by_site)
    smallest = min(by_site.values()) if by_site else row.rotation_size
    return LoadWeekView(
        week_start=row.week_start,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        day=dates.day_text(row.week_start),
        business=row.interruptions_business,
        off=row.interruptions_off,
        sleep=row.interruptions_sleep,
        max_share=_percent(row.max_on_call_share),
        median_share=_percent(row.median_on_call_share),
        incidents=row.incidents,
        incidents_per_shift=None if row.incidents_per_shift is None else round(row.incidents_per_shift, 1),
        rotation_size=row.rotation_size,
        sites=sites,
        smallest_site=smallest,
        rotation_minimum=MIN_ROTATION_ONE_SITE if sites <= 1 else MIN_ROTATION_PER_SITE,
        concentration=_percent(row.concentration),
        without_time_off=_percent(row.without_time_off_share),
        breaches=tuple(str(reason.get("code")) for reason in (row.reasons or []) if isinstance(reason, dict)),
        cycle_weeks=cycle,
    )


def load_week(row: OncallWeek) -> LoadWeek:
    """A stored week as the pure flag rules take it (``pulse.analysis.load``)."""
    return LoadWeek(
        week_start=row.week_start,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        business=row.interruptions_business,
        off=row.interruptions_off,
        sleep=row.interruptions_sleep,
        max_on_call_share=row.max_on_call_share,
        median_on_call_share=row.median_on_call_share,
        incidents=row.incidents,
        incidents_per_shift=row.incidents_per_shift,
        rotation_size=row.rotation_size,
        rotation_by_site=dict(row.rotation_by_site or {}),
        concentration=row.concentration,
        without_time_off_share=row.without_time_off_share,
        reasons=tuple(r for r in (row.reasons or []) if isinstance(r, dict)),
    )


def load_weeks_for_trends(
    team_ids: Iterable[int], *, weeks: int, until: datetime
) -> dict[int, list[LoadWeek]]:
    """Each team's latest ``weeks`` weeks that ended by ``until``, oldest first (one query), for the trend
    run: a week still under way is not judged, and a run as of a past moment sees no later week."""
    wanted = list(team_ids)
    if not wanted:
        return {}
    since = until - timedelta(weeks=weeks + 1)
    out: dict[int, list[LoadWeek]] = {}
    rows = OncallWeek.objects.filter(team_id__in=wanted, ends_at__lte=until, ends_at__gt=since).order_by(
        "team_id", "week_start"
    )
    for row in rows:
        out.setdefault(row.team_id, []).append(load_week(row))
    return {team: found[-weeks:] for team, found in out.items()}


@dataclass(frozen=True)
class Threshold:
    """A limit drawn on a chart: its value, which side is beyond it, its label and its source."""

    value: float
    op: str
    label: str
    source: str


@dataclass(frozen=True)
class LoadChart:
    key: str
    title: str
    axis: str
    unit: str  # "%" or ""
    values: tuple[float | None, ...]
    thresholds: tuple[Threshold, ...] = ()
    stack: tuple[tuple[str, str, tuple[int, ...]], ...] = ()  # (key, label, values), bottom first


@dataclass(frozen=True)
class TeamLoad:
    team: TeamInfo
    k: int
    weeks: tuple[LoadWeekView, ...]  # chronological
    charts: tuple[LoadChart, ...]
    source: str = SRE_SOURCE

    @property
    def latest(self) -> LoadWeekView:
        return self.weeks[-1]

    @property
    def first(self) -> LoadWeekView:
        return self.weeks[0]

    @property
    def has_concentration(self) -> bool:
        return any(w.concentration is not None for w in self.weeks)

    @property
    def has_time_off(self) -> bool:
        return any(w.without_time_off is not None for w in self.weeks)

    @property
    def weeks_breaching_time_on_call(self) -> int:
        return sum(1 for w in self.weeks if "time_on_call" in w.breaches)

    @property
    def weeks_breaching_incidents(self) -> int:
        return sum(1 for w in self.weeks if "incidents_per_shift" in w.breaches)

    def chart_data(self, x_range: Sequence[int] | None = None) -> dict[str, dict[str, Any]]:
        """The charts' data for the page script, keyed ``load-<chart>``; ``x_range``: the page's common time
        axis (the survey charts' and these weeks'), so every chart on the page spans the same dates."""
        x = [int(w.starts_at.timestamp()) for w in self.weeks]
        span = list(x_range) if x_range else [min(x), max(x)]
        out: dict[str, dict[str, Any]] = {}
        for chart in self.charts:
            finite = [v for v in chart.values if v is not None]
            for _key, _label, values in chart.stack:
                finite.extend(values)
            if chart.stack:
                finite = [
                    sum(column) for column in zip(*(values for _k, _l, values in chart.stack), strict=True)
                ]
            high = max([*finite, *(t.value for t in chart.thresholds), 1.0])
            # Room above the highest value and every limit; shares in steps of 10 points, up to 100 %.
            top = (
                min(100.0, 10.0 * math.ceil(high * 1.2 / 10))
                if chart.unit == "%"
                else float(int(high * 1.15) + 1)
            )
            out[f"load-{chart.key}"] = {
                "kind": "stacked" if chart.stack else "line",
                "label": chart.title,
                "scale": "load",
                "unit": chart.unit,
                "axis": chart.axis,
                "range": [0, top],
                "x": x,
                "x_range": span,
                "days": [w.day for w in self.weeks],
                "values": list(chart.values),
                "stack": [
                    {"key": key, "label": label, "values": list(values)} for key, label, values in chart.stack
                ],
                "trend": [None] * len(x),
                "low": [None] * len(x),
                "high": [None] * len(x),
                "cutoffs": [{"value": t.value, "op": t.op, "label": t.label} for t in chart.thresholds],
                "actions": [],
                "gaps": [
                    {"x": x[i], "day": self.weeks[i].day, "reason": ""}
                    for i, v in enumerate(chart.values)
                    if v is None and not chart.stack
                ],
            }
        return out


def _charts(weeks: Sequence[LoadWeekView]) -> tuple[LoadChart, ...]:
    source = gettext("SRE book, ch. 11")
    minimum = weeks[-1].rotation_minimum
    one_site = weeks[-1].sites <= 1
    charts = [
        LoadChart(
            "interruptions",
            gettext("Interruptions per week, by hour type"),
            gettext("Interruptions per week"),
            "",
            tuple(float(w.interruptions) for w in weeks),
            stack=(
                ("business", pgettext("hour type", "Business hours"), tuple(w.business for w in weeks)),
                ("off", pgettext("hour type", "Off hours"), tuple(w.off for w in weeks)),
                ("sleep", pgettext("hour type", "Sleep hours"), tuple(w.sleep for w in weeks)),
            ),
        ),
        LoadChart(
            "time-on-call",
            gettext("Time on call"),
            gettext("% of 4 weeks on call"),
            "%",
            tuple(None if w.max_share is None else float(w.max_share) for w in weeks),
            thresholds=(
                Threshold(
                    100 * MAX_ON_CALL_SHARE,
                    ">",
                    gettext("Limit: 25%% of the time on call (%(source)s)") % {"source": source},
                    SRE_SOURCE,
                ),
            ),
        ),
        LoadChart(
            "incidents",
            gettext("Incidents per 12-hour shift"),
            gettext("Incidents per 12-hour shift"),
            "",
            tuple(w.incidents_per_shift for w in weeks),
            thresholds=(
                Threshold(
                    MAX_INCIDENTS_PER_SHIFT,
                    ">",
                    gettext("Limit: 2 incidents per 12-hour shift (%(source)s)") % {"source": source},
                    SRE_SOURCE,
                ),
            ),
        ),
        LoadChart(
            "rotation",
            gettext("Rotation size"),
            gettext("People in the rotation") if one_site else gettext("People at the smallest site"),
            "",
            tuple(float(w.smallest_site) for w in weeks),
            thresholds=(
                Threshold(
                    float(minimum),
                    "<",
                    (
                        gettext("Minimum: 8 people at one site (%(source)s)")
                        if one_site
                        else gettext("Minimum: 6 people per site (%(source)s)")
                    )
                    % {"source": source},
                    SRE_SOURCE,
                ),
            ),
        ),
    ]
    return tuple(charts)


def _weeks_of(
    team_ids: Sequence[int], *, since: date | None, at_least: int, zone: str
) -> dict[int, list[LoadWeekView]]:
    """Each team's weeks that have ended (a week under way would read as a sudden drop), from ``since``'s
    week on and at least the last ``at_least``, each with the weeks its time on call is over (counted from
    the team's first stored week, which every earlier week of the team is read with to know)."""
    rows = OncallWeek.objects.filter(team_id__in=list(team_ids), ends_at__lte=timezone.now()).order_by(
        "team_id", "week_start"
    )
    found: dict[int, list[OncallWeek]] = {}
    for row in rows:
        found.setdefault(row.team_id, []).append(row)
    out: dict[int, list[LoadWeekView]] = {}
    for team_id, team_rows in found.items():
        start = len(team_rows) - at_least
        if since is not None:
            start = min(
                start, next((i for i, r in enumerate(team_rows) if r.week_start >= since), len(team_rows))
            )
        first = team_rows[0].week_start
        out[team_id] = [week_view(row, zone, cycle_weeks(row, first)) for row in team_rows[max(0, start) :]]
    return out


def team_load_get(*, caller: Caller, team_id: int, since: datetime | None = None) -> TeamLoad | None:
    """The team's weekly load for its page, or None when it has none (or the caller may not see the team).
    ``since``: the earliest round the page shows; its week is the first shown (at least ``window()`` weeks
    are)."""
    organisation = caller.organisation
    teams = TeamIndex.of(organisation.pk)
    if team_id not in visible_team_ids(caller, teams) or team_id not in teams.by_id:
        return None
    first_day = since.date() - timedelta(days=since.weekday()) if since else None
    found = _weeks_of([team_id], since=first_day, at_least=window(), zone=organisation.time_zone)
    weeks = tuple(found.get(team_id, ()))
    if not weeks:
        return None
    return TeamLoad(
        team=teams.by_id[team_id], k=organisation.min_group_size, weeks=weeks, charts=_charts(weeks)
    )


@dataclass(frozen=True)
class RollupLoad:
    """A team's load in a roll-up row: its latest week, and sums over the last :data:`ROLLUP_WEEKS`."""

    latest: LoadWeekView
    weeks: int
    interruptions: int
    sleep: int

    @property
    def breaches(self) -> tuple[str, ...]:
        return self.latest.breaches

    @property
    def sleep_per_week(self) -> float:
        """Sleep-hour interruptions a week, the mean over these weeks, to 0.1 (as the roll-up shows it)."""
        return round(self.sleep / self.weeks, 1)

    @property
    def interruptions_per_week(self) -> float:
        return round(self.interruptions / self.weeks, 1)


def rollup_load_get(*, caller: Caller, team_ids: Iterable[int]) -> dict[int, RollupLoad]:
    """The load of each of these teams that has on-call data (one query). ``team_ids`` are the rows of a
    roll-up the caller was given (``pulse.selectors.rollup.team_rollup_get`` applied who sees what)."""
    zone = caller.organisation.time_zone
    out: dict[int, RollupLoad] = {}
    for team_id, views in _weeks_of(list(team_ids), since=None, at_least=ROLLUP_WEEKS, zone=zone).items():
        out[team_id] = RollupLoad(
            latest=views[-1],
            weeks=len(views),
            interruptions=sum(v.interruptions for v in views),
            sleep=sum(v.sleep for v in views),
        )
    return out
