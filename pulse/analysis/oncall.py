"""On-call load per team and ISO week: interruptions by hour type, time on call, incidents, rotation size.

Pure module: plain data in (:class:`Shift` and :class:`Page`, validated, or the store's rows of them as
tuples, :data:`ShiftRow` and :data:`PageRow`), plain data out (:class:`WeekLoad`), no Django and no ORM. A
responder is an opaque reference string (the caller stores keyed hashes, never a name); nothing here needs
to know who anyone is.

The definitions (docs/oncall.md §2 and docs/oncall.md §3), and the choices made where the sources leave room:

* **Week.** An ISO week (Monday 00:00 to the next Monday 00:00) in the *team's* time zone, so a week in
  which the clocks change is 167 or 169 hours long, not 168 (its bounds are kept as UTC instants). A page
  belongs to the week its ``occurred_at`` falls in; a shift is cut at the week's edges.
* **Interruptions** follow PagerDuty (Knowledge Base, "Responder Insights" and "Operational Reviews", cited
  with their addresses in docs/oncall.md §2.2; REST API v2, "Analytics" metrics for responders and
  incidents: ``total_interruptions`` and its split into ``total_business_hour_interruptions``,
  ``total_off_hour_interruptions`` and ``total_sleep_hour_interruptions``). Only push, phone and SMS
  notifications interrupt; email never does. The destination is the responder: notifications that reach
  the same responder within 60 seconds of the notification that opened an interruption (inclusive; a phone
  call and an SMS of one escalation step, or two incidents firing together) are one interruption, whatever
  the channel or incident. The window is anchored on the opening notification, not chained, so ten
  notifications 30 seconds apart (four and a half minutes) are four interruptions, not one.
* **Hour type**, in the *responder's* own zone, of the interruption's opening notification, as PagerDuty
  defines it: business hours 08:00–18:00 Monday to Friday, sleep hours 22:00–08:00 every day, off hours
  the rest (18:00–22:00 Monday to Friday and 08:00–22:00 on Saturday and Sunday).
* **Share of time on call** of a responder, judged over the rotation's cycle: the union of their shifts
  (any level; overlapping shifts of one person count once) in the four ISO weeks ending with this one (the
  rotation's own window, below), divided by those weeks' real length. The SRE book reads its 25 % over a
  rotation: a rota of weekly shifts has its person on call all week and each of them a quarter of the
  month, which is within the limit, and judged week by week every weekly rota would breach it. Weeks before
  the team's first shift or page are unknown, not idle, so the cycle starts no earlier than the team's first
  week (``WeekLoad.cycle_weeks`` says how many weeks it spans). The team's maximum and median run over the
  rotation, a member with no shift in the cycle counting as 0.
* **Incidents per 12-hour shift**: the team's distinct incidents whose first high-urgency page falls in the
  week, divided by the week's level-1 (primary) coverage in units of 12 hours (the union of level-1
  shifts, so two primaries overlapping cover the hour once). No level-1 coverage: not defined (``None``).
  This is the week's mean rate; a single bad night inside a quiet week does not breach it.
* **Rotation**: the distinct responders with any shift (any level) overlapping the four ISO weeks ending
  with this one; per site, each responder counted at the site of their latest shift in that window.
* **Google SRE thresholds** (Beyer, Jones, Petoff and Murphy (eds.), *Site Reliability Engineering*,
  O'Reilly 2016, ch. 11 "Being On-Call"): at most 25 % of time on call; at most 2 incidents per 12-hour
  on-call shift; a rotation of at least 8 engineers at one site, or at least 6 at each site of a two-site
  team. The book speaks of one or two sites; for three or more this module applies the per-site minimum of
  6 to every site (a choice, named in the reason). Each breach is a :class:`Reason` with its source.
* **Concentration**: the share of the interruptions of the rotation's cycle (the same four weeks as time on
  call) carried by the most-loaded responder, only when the rotation has at least ``k`` people and the cycle
  has at least one interruption (else ``None``).
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Channel = Literal["push", "phone", "sms", "email"]
Urgency = Literal["high", "low"]
HourType = Literal["business", "off", "sleep"]

CHANNELS: tuple[Channel, ...] = ("push", "phone", "sms", "email")
URGENCIES: tuple[Urgency, ...] = ("high", "low")
INTERRUPTING_CHANNELS: frozenset[str] = frozenset({"push", "phone", "sms"})
LEVELS: tuple[int, ...] = (1, 2)

INTERRUPTION_WINDOW = timedelta(seconds=60)
ROTATION_WEEKS = 4
SHIFT_HOURS = 12

PAGERDUTY_SOURCE = (
    "PagerDuty REST API v2, Analytics: aggregated responder and incident metrics "
    "(total_interruptions; business, off and sleep hour interruptions)"
)
SRE_SOURCE = (
    "Beyer, Jones, Petoff and Murphy (eds.), Site Reliability Engineering, O'Reilly 2016, "
    'ch. 11 "Being On-Call"'
)

# The version of the weekly rules above. Raise it with any change to this module that changes a stored figure:
# every week stored under an earlier version is then recomputed from the stored rows (the hourly
# ``oncall_weeks_refresh``), so leaders never read a figure by an old rule beside one by the new.
# 1: time on call and the busiest person's share over the rotation's four-week cycle (docs/oncall.md §2.3,
#    §2.6); weeks stored before had them week by week and carry 0.
RULES_VERSION = 1

MAX_ON_CALL_SHARE = 0.25
MAX_INCIDENTS_PER_SHIFT = 2.0
MIN_ROTATION_ONE_SITE = 8
MIN_ROTATION_PER_SITE = 6


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; a ``ValueError`` naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must carry a UTC offset, got {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class Shift:
    """One responder on call from ``start`` to ``end`` (aware datetimes), at escalation ``level`` 1 or 2."""

    team: str
    responder: str
    start: datetime
    end: datetime
    level: int = 1
    site: str = ""

    def __post_init__(self) -> None:
        _require_aware(self.start, "a shift's start")
        _require_aware(self.end, "a shift's end")
        if self.end <= self.start:
            raise ValueError(
                f"a shift must end after it starts ({self.start.isoformat()} → {self.end.isoformat()})"
            )
        if self.level not in LEVELS:
            raise ValueError(f"a shift's level is 1 or 2, got {self.level!r}")
        if not self.responder:
            raise ValueError("a shift needs a responder reference")


@dataclass(frozen=True, slots=True)
class Page:
    """One notification of ``incident`` to ``responder`` (living in ``responder_zone``) at ``occurred_at``."""

    team: str
    responder: str
    responder_zone: str
    occurred_at: datetime
    incident: str
    urgency: Urgency = "high"
    channel: Channel = "push"

    def __post_init__(self) -> None:
        _require_aware(self.occurred_at, "a page's time")
        zone(self.responder_zone)
        if self.channel not in CHANNELS:
            raise ValueError(f"a page's channel is one of {', '.join(CHANNELS)}, got {self.channel!r}")
        if self.urgency not in URGENCIES:
            raise ValueError(f"a page's urgency is high or low, got {self.urgency!r}")
        if not self.responder:
            raise ValueError("a page needs a responder reference")


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    def __post_init__(self) -> None:
        date.fromisocalendar(self.year, self.week, 1)  # ValueError for a week the year does not have

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> IsoWeek:
        calendar = moment.astimezone(tz).isocalendar()
        return cls(calendar.year, calendar.week)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The week's first instant and the next week's first instant, local midnights in ``tz``."""
        monday = date.fromisocalendar(self.year, self.week, 1)
        following = monday + timedelta(days=7)
        # In UTC: Python subtracts two datetimes that share a tzinfo on the wall clock, which would make
        # every week 168 hours long.
        return (
            datetime(monday.year, monday.month, monday.day, tzinfo=tz).astimezone(UTC),
            datetime(following.year, following.month, following.day, tzinfo=tz).astimezone(UTC),
        )

    def shifted(self, weeks: int) -> IsoWeek:
        monday = date.fromisocalendar(self.year, self.week, 1) + timedelta(weeks=weeks)
        calendar = monday.isocalendar()
        return IsoWeek(calendar.year, calendar.week)


@dataclass(frozen=True)
class HourSplit:
    business: int = 0
    off: int = 0
    sleep: int = 0

    @property
    def total(self) -> int:
        return self.business + self.off + self.sleep


@dataclass(frozen=True)
class Reason:
    """One threshold breached: what was measured, the limit, and where the limit comes from."""

    code: Literal["time_on_call", "incidents_per_shift", "rotation_size"]
    measured: float
    threshold: float
    text: str
    source: str = SRE_SOURCE
    weeks: int | None = None  # time on call: the weeks of the cycle the share is over


@dataclass(frozen=True)
class WeekLoad:
    team: str
    week: IsoWeek
    starts_at: datetime
    ends_at: datetime
    interruptions: HourSplit
    on_call_share: Mapping[str, float]
    max_on_call_share: float | None
    median_on_call_share: float | None
    incidents: int
    primary_hours: float
    incidents_per_shift: float | None
    rotation_size: int
    rotation_by_site: Mapping[str, int]
    concentration: float | None
    reasons: tuple[Reason, ...] = field(default=())
    cycle_weeks: int = ROTATION_WEEKS  # the weeks the shares of time on call are over (fewer at the start)

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600


def hour_type(moment: datetime, tz: ZoneInfo) -> HourType:
    """PagerDuty's hour type of ``moment`` read on the wall clock of ``tz``."""
    return _hour_type_on_clock(moment.astimezone(tz))


def _hour_type_on_clock(local: datetime) -> HourType:
    if local.hour >= 22 or local.hour < 8:
        return "sleep"
    if local.weekday() < 5 and local.hour < 18:
        return "business"
    return "off"


@dataclass(frozen=True, slots=True)
class Interruption:
    responder: str
    opened_at: datetime
    hour_type: HourType


# --- rows: the computation's own form of shifts and pages -----------------------------------------------
#
# The weekly metrics are worked out on plain tuples with instants as whole microseconds since 1970 (UTC):
# a team-year is some five thousand notifications, and a validated dataclass and an aware datetime for each
# cost more than the whole computation (``pulse_bench oncall``, docs/oncall.md §11). Integers also make every
# sum of time on call exact. :class:`Shift` and :class:`Page` stay the validated form every import builds;
# the store hands back rows it validated on the way in.

ShiftRow = tuple[str, int, int, int, str]
"""(responder, start, end, level, site), instants in microseconds (:func:`micros`)."""
PageRow = tuple[str, str, int, str, str, str]
"""(responder, responder's zone, occurred at, incident, urgency, channel), the instant in microseconds."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_WINDOW_US = INTERRUPTION_WINDOW // _MICROSECOND


def micros(moment: datetime) -> int:
    """An aware instant as whole microseconds since 1970 (UTC)."""
    return (moment - _EPOCH) // _MICROSECOND


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def shift_row(shift: Shift) -> ShiftRow:
    return (shift.responder, micros(shift.start), micros(shift.end), shift.level, shift.site)


def page_row(page: Page) -> PageRow:
    return (
        page.responder,
        page.responder_zone,
        micros(page.occurred_at),
        page.incident,
        page.urgency,
        page.channel,
    )


def _interruption_rows(pages: Iterable[PageRow]) -> list[tuple[int, str, HourType]]:
    """(opened at, responder, hour type) of every interruption, by opening then responder (module docstring:
    push, phone or SMS; one destination; anchored 60-second window, inclusive)."""
    by_responder: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for responder, zone_name, at, _incident, _urgency, channel in pages:
        if channel in INTERRUPTING_CHANNELS:
            by_responder[responder].append((at, zone_name))
    zones: dict[str, ZoneInfo] = {}
    found: list[tuple[int, str, HourType]] = []
    for responder, own in by_responder.items():
        own.sort(key=itemgetter(0))  # stable: of two notifications at one instant, the first given opens
        opened: int | None = None
        for at, zone_name in own:
            if opened is not None and at - opened <= _WINDOW_US:
                continue
            opened = at
            tz = zones.get(zone_name)
            if tz is None:
                tz = zones[zone_name] = zone(zone_name)
            # Whole seconds: the hour types change on the hour, so the fraction never moves one.
            local = datetime.fromtimestamp(at // 1_000_000, tz)
            found.append((at, responder, _hour_type_on_clock(local)))
    found.sort(key=itemgetter(0, 1))
    return found


def interruptions(pages: Iterable[Page]) -> list[Interruption]:
    """The interruptions the pages caused, each opened by its first notification (module docstring)."""
    return [
        Interruption(responder, _instant(at), kind)
        for at, responder, kind in _interruption_rows(page_row(page) for page in pages)
    ]


def _union(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of half-open spans as disjoint runs in order (one person's overlapping shifts count once)."""
    runs: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if runs and a <= runs[-1][1]:
            if b > runs[-1][1]:
                runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    return runs


def _week_index(week_starts: Sequence[int], moment: int) -> int:
    """The week of the grid that ``moment`` falls in (the grid's last entry is the end of its last week)."""
    return bisect.bisect_right(week_starts, moment) - 1


def _covered_per_week(runs: Iterable[tuple[int, int]], week_starts: Sequence[int]) -> list[int]:
    """Microseconds of each week of the grid covered by ``runs`` (disjoint, :func:`_union`). The weeks
    partition time, so a span's coverage of several weeks is the sum of these, exactly."""
    covered = [0] * (len(week_starts) - 1)
    for a, b in runs:
        index = max(_week_index(week_starts, a), 0)
        while index < len(covered) and week_starts[index] < b:
            covered[index] += min(b, week_starts[index + 1]) - max(a, week_starts[index])
            index += 1
    return covered


def sre_reasons(
    max_share: float | None,
    incidents_per_shift: float | None,
    by_site: Mapping[str, int],
    cycle_weeks: int = ROTATION_WEEKS,
) -> tuple[Reason, ...]:
    """The Google SRE book's on-call thresholds this week breaches, one reason each. ``max_share`` is over
    the ``cycle_weeks`` weeks ending with this one."""
    reasons: list[Reason] = []
    if max_share is not None and max_share > MAX_ON_CALL_SHARE:
        span = "this week" if cycle_weeks == 1 else f"the {cycle_weeks} weeks ending with this one"
        reasons.append(
            Reason(
                "time_on_call",
                max_share,
                MAX_ON_CALL_SHARE,
                f"someone in the rotation was on call {max_share:.0%} of {span}; "
                f"the limit is {MAX_ON_CALL_SHARE:.0%} of their time",
                weeks=cycle_weeks,
            )
        )
    if incidents_per_shift is not None and incidents_per_shift > MAX_INCIDENTS_PER_SHIFT:
        reasons.append(
            Reason(
                "incidents_per_shift",
                incidents_per_shift,
                MAX_INCIDENTS_PER_SHIFT,
                f"{incidents_per_shift:.1f} incidents per 12-hour shift; the limit is "
                f"{MAX_INCIDENTS_PER_SHIFT:.0f}",
            )
        )
    if by_site:
        if len(by_site) == 1:
            (size,) = by_site.values()
            if size < MIN_ROTATION_ONE_SITE:
                reasons.append(
                    Reason(
                        "rotation_size",
                        size,
                        MIN_ROTATION_ONE_SITE,
                        f"a rotation of {size} at one site; a single-site rotation needs at least "
                        f"{MIN_ROTATION_ONE_SITE}",
                    )
                )
        else:
            smallest = min(by_site.values())
            if smallest < MIN_ROTATION_PER_SITE:
                extrapolated = (
                    " (the book speaks of two sites; Pulse applies the same minimum to each of more)"
                    if len(by_site) > 2
                    else ""
                )
                reasons.append(
                    Reason(
                        "rotation_size",
                        smallest,
                        MIN_ROTATION_PER_SITE,
                        f"a site with {smallest} people in a rotation across {len(by_site)} sites; each site "
                        f"needs at least {MIN_ROTATION_PER_SITE}{extrapolated}",
                    )
                )
    return tuple(reasons)


def first_high_urgency_pages(pages: Iterable[Page]) -> dict[str, datetime]:
    """Each incident's first high-urgency page, in UTC; an incident paged only at low urgency is absent."""
    return {
        incident: _instant(at)
        for incident, at in _first_high_urgency_rows(page_row(page) for page in pages).items()
    }


def _first_high_urgency_rows(pages: Iterable[PageRow]) -> dict[str, int]:
    first: dict[str, int] = {}
    for _responder, _zone, at, incident, urgency, _channel in pages:
        if urgency == "high":
            seen = first.get(incident)
            if seen is None or at < seen:
                first[incident] = at
    return first


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def week_load(
    team: str, team_zone: str, week: IsoWeek, shifts: Sequence[Shift], pages: Sequence[Page], *, k: int
) -> WeekLoad:
    """The on-call load of ``team`` in ``week`` (module docstring); other teams' rows are ignored."""
    _check_k(k)
    shift_rows = [shift_row(shift) for shift in shifts if shift.team == team]
    page_rows = [page_row(page) for page in pages if page.team == team]
    known = _known_weeks(zone(team_zone), shift_rows, page_rows)
    first = week.shifted(-(ROTATION_WEEKS - 1))
    last = week
    if known is not None:
        first, last = min(first, known[0]), max(last, known[1])
    loads = _loads(team, zone(team_zone), shift_rows, page_rows, first, last, known, k=k)
    return next(load for load in loads if load.week == week)


def weekly_load(
    team: str, team_zone: str, shifts: Sequence[Shift], pages: Sequence[Page], *, k: int
) -> list[WeekLoad]:
    """:func:`week_load` for every ISO week from the team's first shift or page to its last."""
    return weekly_load_of_rows(
        team,
        team_zone,
        [shift_row(shift) for shift in shifts if shift.team == team],
        [page_row(page) for page in pages if page.team == team],
        k=k,
    )


def weekly_load_of_rows(
    team: str, team_zone: str, shifts: Sequence[ShiftRow], pages: Sequence[PageRow], *, k: int
) -> list[WeekLoad]:
    """:func:`weekly_load` of one team's rows (every row is the team's, already validated)."""
    _check_k(k)
    tz = zone(team_zone)
    known = _known_weeks(tz, shifts, pages)
    if known is None:
        return []
    return _loads(team, tz, shifts, pages, known[0], known[1], known, k=k)


def _known_weeks(
    tz: ZoneInfo, shifts: Sequence[ShiftRow], pages: Sequence[PageRow]
) -> tuple[IsoWeek, IsoWeek] | None:
    """The week of the team's first shift or page and of its last instant on call or paged (None: no rows).
    Nothing is known before the first: weeks there are unknown, not idle."""
    moments = [page[2] for page in pages]
    if shifts:
        moments.append(min(shift[1] for shift in shifts))
        moments.append(max(shift[2] for shift in shifts) - 1)
    if not moments:
        return None
    return IsoWeek.of(_instant(min(moments)), tz), IsoWeek.of(_instant(max(moments)), tz)


def _loads(
    team: str,
    tz: ZoneInfo,
    shifts: Sequence[ShiftRow],
    pages: Sequence[PageRow],
    first: IsoWeek,
    last: IsoWeek,
    known: tuple[IsoWeek, IsoWeek] | None,
    *,
    k: int,
) -> list[WeekLoad]:
    """The loads of every week from ``first`` to ``last`` (``known``: the weeks the rows span).

    Each figure is worked out once for the whole series and read per week: every person's time on call and
    the primary coverage as microseconds per week (a cycle's is the sum of its weeks, since the weeks
    partition time), the interruptions and incidents counted per week, each person's latest shift per week.
    """
    weeks = [first]
    while weeks[-1] < last:
        weeks.append(weeks[-1].shifted(1))
    bounds = [week.bounds(tz) for week in weeks]
    grid = [micros(start) for start, _ in bounds] + [micros(bounds[-1][1])]
    count = len(weeks)
    # Time on call counts from the team's first week (the module docstring's cycle).
    known_first = weeks.index(known[0]) if known is not None else 0

    by_responder: dict[str, list[tuple[int, int]]] = defaultdict(list)
    primary_spans: list[tuple[int, int]] = []
    # Per week, each person's latest shift overlapping it: (start, order given, site); a person's site in the
    # rotation is that of their latest shift in its four weeks, the first given of two that start together.
    latest: list[dict[str, tuple[int, int, str]]] = [{} for _ in weeks]
    for order, (responder, start, end, level, site) in enumerate(sorted(shifts, key=itemgetter(1))):
        by_responder[responder].append((start, end))
        if level == 1:
            primary_spans.append((start, end))
        index = max(_week_index(grid, start), 0)
        while index < count and grid[index] < end:
            seen = latest[index].get(responder)
            if seen is None or start > seen[0]:
                latest[index][responder] = (start, -order, site)
            index += 1
    on_call = {responder: _covered_per_week(_union(spans), grid) for responder, spans in by_responder.items()}
    primary = _covered_per_week(_union(primary_spans), grid)

    split = [[0, 0, 0] for _ in weeks]  # business, off, sleep
    carried: list[dict[str, int]] = [defaultdict(int) for _ in weeks]
    slot = {"business": 0, "off": 1, "sleep": 2}
    for at, responder, kind in _interruption_rows(pages):
        index = _week_index(grid, at)
        if 0 <= index < count:
            split[index][slot[kind]] += 1
            carried[index][responder] += 1
    incidents = [0] * count
    for at in _first_high_urgency_rows(pages).values():
        index = _week_index(grid, at)
        if 0 <= index < count:
            incidents[index] += 1

    loads: list[WeekLoad] = []
    for index, week in enumerate(weeks):
        week_start, week_end = bounds[index]
        window = range(max(index - (ROTATION_WEEKS - 1), 0), index + 1)
        members: dict[str, tuple[int, int, str]] = {}
        for back in window:
            for responder, seen in latest[back].items():
                held = members.get(responder)
                if held is None or seen[:2] > held[:2]:
                    members[responder] = seen
        by_site: dict[str, int] = defaultdict(int)
        for _start, _order, site in members.values():
            by_site[site] += 1

        cycle_first = min(max(index - (ROTATION_WEEKS - 1), known_first), index)
        cycle = range(cycle_first, index + 1)
        cycle_length = grid[index + 1] - grid[cycle_first]
        share = {
            responder: sum(on_call[responder][back] for back in cycle) / cycle_length for responder in members
        }
        shares = sorted(share.values())

        primary_seconds = primary[index] / 1e6
        per_shift = incidents[index] / (primary_seconds / (SHIFT_HOURS * 3600)) if primary_seconds else None

        # Over the same cycle as time on call: within one week a weekly rota's one responder carries every
        # page, so a week's share would say "one person carries most of the pages" of every healthy rota.
        concentration: float | None = None
        if len(members) >= k:
            in_cycle: dict[str, int] = defaultdict(int)
            for back in cycle:
                for responder, number in carried[back].items():
                    in_cycle[responder] += number
            total = sum(in_cycle.values())
            if total:
                concentration = max(in_cycle.values()) / total

        business, off, sleep = split[index]
        max_share = shares[-1] if shares else None
        loads.append(
            WeekLoad(
                team=team,
                week=week,
                starts_at=week_start,
                ends_at=week_end,
                interruptions=HourSplit(business=business, off=off, sleep=sleep),
                on_call_share=share,
                max_on_call_share=max_share,
                median_on_call_share=statistics.median(shares) if shares else None,
                incidents=incidents[index],
                primary_hours=primary_seconds / 3600,
                incidents_per_shift=per_shift,
                rotation_size=len(members),
                rotation_by_site=dict(by_site),
                concentration=concentration,
                reasons=sre_reasons(max_share, per_shift, by_site, len(cycle)),
                cycle_weeks=len(cycle),
            )
        )
    return loads
