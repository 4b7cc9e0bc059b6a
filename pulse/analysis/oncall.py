"""On-call load per team and ISO week: interruptions by hour type, time on call, incidents, rotation size.

Pure module: plain data in (:class:`Shift`, :class:`Page`), plain data out (:class:`WeekLoad`), no Django and
no ORM. A responder is an opaque reference string (the caller stores keyed hashes, never a name); nothing
here needs to know who anyone is.

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
    local = moment.astimezone(tz)
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


def interruptions(pages: Iterable[Page]) -> list[Interruption]:
    """The interruptions the pages caused, each opened by its first notification (module docstring)."""
    by_responder: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        if page.channel in INTERRUPTING_CHANNELS:
            by_responder[page.responder].append(page)
    found: list[Interruption] = []
    for responder, own in by_responder.items():
        opened: datetime | None = None
        for page in sorted(own, key=lambda p: p.occurred_at):
            moment = page.occurred_at.astimezone(UTC)
            if opened is not None and moment - opened <= INTERRUPTION_WINDOW:
                continue
            opened = moment
            found.append(Interruption(responder, opened, hour_type(opened, zone(page.responder_zone))))
    found.sort(key=lambda item: (item.opened_at, item.responder))
    return found


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    """An instant as whole microseconds since 1970: spans of time on call are merged and summed as integers,
    exactly, without a datetime made and converted at every step."""
    return (moment - _EPOCH) // _MICROSECOND


def _covered(spans: Iterable[tuple[int, int]], start: int, end: int) -> int:
    """Microseconds of [start, end) covered by the union of ``spans`` (microseconds, :func:`_micros`)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in spans if a < end and b > start)
    if not clipped:
        return 0
    total = 0
    run_start, run_end = clipped[0]
    for a, b in clipped[1:]:
        if a > run_end:
            total += run_end - run_start
            run_start, run_end = a, b
        elif b > run_end:
            run_end = b
    return total + run_end - run_start


def rotation(shifts: Sequence[Shift], start: datetime, end: datetime) -> dict[str, str]:
    """Each responder on call at any time in [start, end), with the site of their latest shift there."""
    latest: dict[str, Shift] = {}
    for shift in shifts:
        if shift.start < end and shift.end > start:
            seen = latest.get(shift.responder)
            if seen is None or shift.start > seen.start:
                latest[shift.responder] = shift
    return {responder: shift.site for responder, shift in latest.items()}


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
    first: dict[str, datetime] = {}
    for page in pages:
        if page.urgency == "high":
            moment = page.occurred_at.astimezone(UTC)
            seen = first.get(page.incident)
            if seen is None or moment < seen:
                first[page.incident] = moment
    return first


@dataclass(frozen=True)
class _TeamData:
    """A team's rows and what depends on its whole history (interruptions, first pages), worked out once and
    in order of time, so that each week finds its own rows by bisection instead of reading the whole year
    (a team-year of 3,400 pages: 15 ms instead of 25 ms, ``pulse_bench oncall``)."""

    tz: ZoneInfo
    shifts: tuple[Shift, ...]  # by start
    shift_starts: tuple[datetime, ...]
    shift_spans: tuple[tuple[int, int], ...]  # each shift's start and end in microseconds (:func:`_micros`)
    longest_shift: timedelta
    interruptions: tuple[Interruption, ...]  # by opening
    openings: tuple[datetime, ...]
    first_pages: tuple[datetime, ...]  # each incident's first high-urgency page, in order
    first_week: IsoWeek | None  # the week of the team's first shift or page: nothing is known before it

    @classmethod
    def of(cls, team: str, team_zone: str, shifts: Sequence[Shift], pages: Sequence[Page]) -> _TeamData:
        tz = zone(team_zone)
        own_shifts = sorted((shift for shift in shifts if shift.team == team), key=lambda shift: shift.start)
        own_pages = [page for page in pages if page.team == team]
        found = interruptions(own_pages)
        moments = [page.occurred_at for page in own_pages]
        if own_shifts:
            moments.append(own_shifts[0].start)
        return cls(
            tz=tz,
            shifts=tuple(own_shifts),
            shift_starts=tuple(shift.start for shift in own_shifts),
            shift_spans=tuple((_micros(shift.start), _micros(shift.end)) for shift in own_shifts),
            longest_shift=max((shift.end - shift.start for shift in own_shifts), default=timedelta(0)),
            interruptions=tuple(found),
            openings=tuple(item.opened_at for item in found),
            first_pages=tuple(sorted(first_high_urgency_pages(own_pages).values())),
            first_week=IsoWeek.of(min(moments), tz) if moments else None,
        )

    def shifts_within(self, start: datetime, end: datetime) -> list[int]:
        """The shifts overlapping [start, end), by index: those that start before ``end``, no longer before
        ``start`` than the longest shift lasts (an earlier one has ended by then), and end after ``start``."""
        first = bisect.bisect_left(self.shift_starts, start - self.longest_shift)
        last = bisect.bisect_left(self.shift_starts, end)
        return [index for index in range(first, last) if self.shifts[index].end > start]

    def interruptions_within(self, start: datetime, end: datetime) -> tuple[Interruption, ...]:
        return self.interruptions[
            bisect.bisect_left(self.openings, start) : bisect.bisect_left(self.openings, end)
        ]

    def incidents_within(self, start: datetime, end: datetime) -> int:
        return bisect.bisect_left(self.first_pages, end) - bisect.bisect_left(self.first_pages, start)


def week_load(
    team: str, team_zone: str, week: IsoWeek, shifts: Sequence[Shift], pages: Sequence[Page], *, k: int
) -> WeekLoad:
    """The on-call load of ``team`` in ``week`` (module docstring); other teams' rows are ignored."""
    return _week_load(team, week, _TeamData.of(team, team_zone, shifts, pages), k=k)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _week_load(team: str, week: IsoWeek, data: _TeamData, *, k: int) -> WeekLoad:
    _check_k(k)
    start, end = week.bounds(data.tz)

    in_week = data.interruptions_within(start, end)
    split = HourSplit(
        business=sum(1 for item in in_week if item.hour_type == "business"),
        off=sum(1 for item in in_week if item.hour_type == "off"),
        sleep=sum(1 for item in in_week if item.hour_type == "sleep"),
    )

    rotation_start, _ = week.shifted(-(ROTATION_WEEKS - 1)).bounds(data.tz)
    window = data.shifts_within(rotation_start, end)
    members = rotation([data.shifts[index] for index in window], rotation_start, end)
    by_site: dict[str, int] = defaultdict(int)
    for site in members.values():
        by_site[site] += 1

    # Time on call over the rotation's cycle, from the team's first week on (module docstring).
    cycle_first = week.shifted(-(ROTATION_WEEKS - 1))
    if data.first_week is not None:
        cycle_first = min(max(cycle_first, data.first_week), week)
    cycle_start, _ = cycle_first.bounds(data.tz)
    cycle_weeks = 1 + sum(1 for back in range(1, ROTATION_WEEKS) if week.shifted(-back) >= cycle_first)
    start_us, end_us, cycle_us = _micros(start), _micros(end), _micros(cycle_start)
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    primary: list[tuple[int, int]] = []
    for index in window:
        shift, span = data.shifts[index], data.shift_spans[index]
        if span[1] > cycle_us:  # an earlier one is in the rotation, not in the cycle
            spans[shift.responder].append(span)
        if shift.level == 1 and span[1] > start_us:
            primary.append(span)
    share = {
        responder: _covered(spans[responder], cycle_us, end_us) / (end_us - cycle_us) for responder in members
    }
    shares = sorted(share.values())

    incidents = data.incidents_within(start, end)
    primary_seconds = _covered(primary, start_us, end_us) / 1e6
    per_shift = incidents / (primary_seconds / (SHIFT_HOURS * 3600)) if primary_seconds else None

    # Over the same cycle as time on call: within one week a weekly rota's one responder carries every page,
    # so a week's share would say "one person carries most of the pages" of every healthy weekly rota.
    concentration: float | None = None
    in_cycle = data.interruptions_within(cycle_start, end)
    if len(members) >= k and in_cycle:
        carried: dict[str, int] = defaultdict(int)
        for item in in_cycle:
            carried[item.responder] += 1
        concentration = max(carried.values()) / len(in_cycle)

    max_share = shares[-1] if shares else None
    return WeekLoad(
        team=team,
        week=week,
        starts_at=start,
        ends_at=end,
        interruptions=split,
        on_call_share=share,
        max_on_call_share=max_share,
        median_on_call_share=statistics.median(shares) if shares else None,
        incidents=incidents,
        primary_hours=primary_seconds / 3600,
        incidents_per_shift=per_shift,
        rotation_size=len(members),
        rotation_by_site=dict(by_site),
        concentration=concentration,
        reasons=sre_reasons(max_share, per_shift, by_site, cycle_weeks),
        cycle_weeks=cycle_weeks,
    )


def weekly_load(
    team: str, team_zone: str, shifts: Sequence[Shift], pages: Sequence[Page], *, k: int
) -> list[WeekLoad]:
    """:func:`week_load` for every ISO week from the team's first shift or page to its last.

    The interruptions and each incident's first page depend on the team's whole history, so they are worked
    out once for the series rather than once a week.
    """
    _check_k(k)
    data = _TeamData.of(team, team_zone, shifts, pages)
    moments = [p.occurred_at for p in pages if p.team == team]
    if data.shifts:
        moments.append(data.shift_starts[0])
        moments.append(max(s.end for s in data.shifts) - timedelta(microseconds=1))
    if not moments:
        return []
    week, last = IsoWeek.of(min(moments), data.tz), IsoWeek.of(max(moments), data.tz)
    loads = []
    while week <= last:
        loads.append(_week_load(team, week, data, k=k))
        week = week.shifted(1)
    return loads
