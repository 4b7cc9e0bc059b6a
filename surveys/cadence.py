"""Cadence arithmetic: when a schedule opens rounds, when they close, when reminders go out.

Pure functions over frozen dataclasses and the standard library (``zoneinfo``); no ORM, nothing from Django.
The minute tick (``surveys.services.tick``) asks this module which openings are due, the schedule editor
asks it for validation errors and for a preview of the next openings in local time and in UTC.

Every argument that is an instant must be an aware ``datetime``; every instant returned is an aware
``datetime`` in UTC. Dates (``start_date``, pauses, ``local_date``) and ``local_time`` are *wall-clock*
values in the schedule's IANA time zone.

Local time first, then UTC
--------------------------
A cadence is a rule about the wall clock of a team ("Mondays at 09:00 in Berlin"), so it is computed on
local dates and converted to UTC once per opening; arithmetic that spans days is done on the wall clock
and arithmetic in hours on UTC instants. Adding ``timedelta(days=7)`` to an aware local datetime in Python
keeps the wall clock but silently carries the old UTC offset across a DST change, which is why nothing
here adds a timedelta to an aware local datetime (healthchecks.io computes its schedules the same way:
local zone for the rule, UTC for storage and comparison).

DST: the two awkward wall-clock times
-------------------------------------
Converting a local date and time to an instant has two awkward cases, and both are decided by one rule:
build the local datetime with ``fold=0`` and let ``zoneinfo`` convert it (PEP 495). That rule is the one
RFC 5545 (iCalendar) §3.3.5 states for DATE-TIME values with a TZID, so calendar clients that receive an
invitation for the round show the same instant:

* **Nonexistent time** (spring forward: 02:30 in Europe/Berlin on 2026-03-29, when clocks jump from 02:00
  to 03:00). It is "interpreted using the UTC offset before the gap", i.e. shifted forward by the length
  of the gap: 02:30 CET = 01:30 UTC = 03:30 CEST. RFC 5545's own example: New York 2007-03-11 02:30
  means 03:30 EDT (07:30 UTC). Why forward and not skip: a round must not silently vanish once a year
  (one paragraph of RFC 5545 §3.3.10 drops such recurrence instances, the next one defers to §3.3.5;
  a weekly pulse that silently disappears would be a bug report), and shifting backwards would open
  before the configured time, which can land inside a pause or before ``start_date``.
* **Ambiguous time** (fall back: 02:30 in Europe/Berlin on 2026-10-25 happens at 00:30 UTC and again at
  01:30 UTC). It means the **first** occurrence (``fold=0``, daylight time): 00:30 UTC. RFC 5545's
  example: New York 2007-11-04 01:30 means 01:30 EDT (05:30 UTC). Why the first: the opening is one
  instant computed from the date, so it can only happen once; the tick that passes 00:30 UTC opens the
  round and the repeated hour finds it already open (the unique ``(schedule, opens_at)`` constraint
  backs this up).

Consequences, all tested: every scheduled local date yields exactly one opening (never two, never none);
an opening's local wall time equals the configured time except on a gap day, where it is later by the
gap; a weekly 09:00 schedule stays at 09:00 local across a change, so its UTC instant moves by an hour
and the elapsed time between two openings is the period plus or minus the DST shift.

Skipped, not postponed
----------------------
A scheduled date inside a pause (inclusive local date range) produces no round; the next round is the
next scheduled date after the pause. Every-N-weeks schedules keep their grid: a pause never re-anchors a
biweekly rhythm, so the team's "every other Monday" is the same Mondays before and after a holiday.
"""

from __future__ import annotations

import calendar
import math
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cache
from itertools import islice

__all__ = [
    "LAST",
    "MAX_REMINDERS",
    "MONTHLY_MINIMUM_GAP",
    "AskConflict",
    "CadenceKind",
    "CadenceSpec",
    "InvalidCadence",
    "OpeningPreview",
    "Pause",
    "check_recall",
    "defer_for_quiet_hours",
    "defer_overdue_message",
    "delivery_before_close",
    "email_due_times",
    "is_quiet",
    "iter_openings",
    "minimum_gap",
    "next_opening",
    "opening_on",
    "openings_after",
    "openings_between",
    "overlapping_asks",
    "preview_openings",
    "reminder_times",
    "round_closes_at",
    "validate_cadence",
    "wall_clock_to_utc",
]

#: ``nth_weekday`` value meaning "the last such weekday of the month".
LAST = -1

#: Reminders per round. Two is the ceiling Pulse allows: every further nudge to a non-participant costs
#: goodwill and adds little response (and reminders go to non-participants only, so each one is a
#: reminder to someone who chose not to answer yet).
MAX_REMINDERS = 2

#: Shortest distance between two monthly openings. The n-th (or last) given weekday of consecutive
#: months is the same weekday, so the distance is a multiple of 7 days; a month has 28 to 31 days, so the
#: weekday moves by 28 or 35 days. 28 is therefore the exact minimum, reached every year.
MONTHLY_MINIMUM_GAP = timedelta(days=28)

_DAY = timedelta(days=1)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

TimeZoneLike = str | tzinfo


class CadenceKind(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class InvalidCadence(ValueError):
    """Raised by the computing functions when a spec does not pass :func:`validate_cadence`."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


@dataclass(frozen=True)
class Pause:
    """Local dates, both inclusive, on which no round opens (a holiday, an incident freeze)."""

    start: date
    end: date

    def covers(self, local_date: date) -> bool:
        return self.start <= local_date <= self.end


@dataclass(frozen=True)
class CadenceSpec:
    """A schedule of round openings in one team's time zone.

    ``kind`` WEEKLY opens every ``every_weeks`` weeks on ``weekday``; the grid is anchored on the first
    ``weekday`` on or after ``start_date`` ("every 2 weeks from the start"). ``kind`` MONTHLY opens on
    the ``nth_weekday``-th ``weekday`` of each month (1..4, or ``LAST``). ``weekday`` follows
    ``date.weekday()``: Monday is 0, Sunday is 6. ``local_time`` is a naive wall-clock time in
    ``time_zone``. ``start_date`` is the first eligible local date, ``end_date`` (if any) the last
    one, both inclusive. Fields that do not apply to ``kind`` are ignored.

    The dataclass accepts any values so that the editor can build one from a form and show every error
    at once (:func:`validate_cadence`); the computing functions refuse an invalid spec.
    """

    kind: CadenceKind
    weekday: int
    local_time: time
    time_zone: str
    start_date: date
    every_weeks: int = 1
    nth_weekday: int = 1
    end_date: date | None = None
    pauses: Sequence[Pause] = field(default=())

    def __post_init__(self) -> None:
        # A frozen dataclass should be hashable and immune to the caller mutating its list afterwards.
        object.__setattr__(self, "pauses", tuple(self.pauses))

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class OpeningPreview:
    """One upcoming opening as the schedule editor shows it: local wall time next to UTC.

    ``shifted`` is true when the configured time does not exist on that date (DST gap) and the opening
    moved forward by the gap; ``ambiguous`` when the configured time occurs twice on that date and the
    opening is the first of the two.
    """

    utc: datetime
    local: datetime
    shifted: bool
    ambiguous: bool


@dataclass(frozen=True)
class AskConflict:
    """Two openings of different schedules that ask the same instrument too close together."""

    first: datetime
    second: datetime
    days_apart: int


# ---------------------------------------------------------------------------------------------------------
# Time zones and the one local-to-UTC rule


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone(tz: TimeZoneLike) -> tzinfo:
    if isinstance(tz, str):
        if tz not in _known_zones():
            raise ValueError(f"{tz!r} is not a known IANA time zone")
        return zoneinfo.ZoneInfo(tz)
    return tz


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value!r}")
    return value


def wall_clock_to_utc(local_date: date, local_time: time, tz: TimeZoneLike) -> datetime:
    """The UTC instant at which the wall clock in ``tz`` shows ``local_time`` on ``local_date``.

    A nonexistent wall time (DST gap) is shifted forward by the gap; an ambiguous one (DST overlap) is
    its first occurrence. This is ``fold=0`` under PEP 495 and the rule of RFC 5545 §3.3.5; see the
    module docstring for why.
    """
    if local_time.tzinfo is not None:
        raise ValueError("local_time must be naive: the time zone is a separate argument")
    local = datetime.combine(local_date, local_time.replace(fold=0), tzinfo=_zone(tz))
    return local.astimezone(UTC)


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    """The naive wall-clock reading of ``instant`` in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _shift_calendar_days(instant: datetime, days: int, zone: tzinfo) -> datetime:
    """The instant ``days`` calendar days away on the wall clock of ``zone`` (same wall time).

    ``days == 0`` returns the instant itself: re-reading its wall clock would turn the second
    occurrence of an ambiguous time into the first.
    """
    if days == 0:
        return instant.astimezone(UTC)
    target = _wall(instant, zone) + timedelta(days=days)
    return wall_clock_to_utc(target.date(), target.time(), zone)


# ---------------------------------------------------------------------------------------------------------
# Validation


def minimum_gap(spec: CadenceSpec) -> timedelta:
    """The shortest distance, in local calendar days, between two consecutive openings of ``spec``.

    Weekly every N weeks: N × 7 days. Monthly: 28 days (:data:`MONTHLY_MINIMUM_GAP`). Pauses and an end
    date only remove openings, so they never make a gap shorter. In elapsed time a gap can be shorter by
    the DST shift (one hour in most zones, 30 minutes on Lord Howe Island); recall periods are stated in
    days ("over the last two weeks"), so that hour does not count as asking too often.
    """
    if spec.kind == CadenceKind.MONTHLY:
        return MONTHLY_MINIMUM_GAP
    return timedelta(weeks=spec.every_weeks)


def check_recall(spec: CadenceSpec, recall: timedelta) -> str | None:
    """An error message if ``spec`` could ask an instrument more often than its recall period, else None.

    An instrument is never asked more often than its recall period, and the schedule editor refuses a
    cadence that would (docs/science.md §1.8): a person asked again before the period their answers
    describe has passed answers about overlapping weeks. The periods are the instruments' own
    (``InstrumentDef.recall_period_days``): the WHO-5 (1998) asks about "the last two weeks"; the
    library gives 4 weeks to the Copenhagen Burnout Inventory scales (Kristensen et al. 2005) and 1 week to
    the single-item burnout measure. A recall of zero or less (free text) never conflicts.
    """
    if recall <= timedelta(0):
        return None
    if spec.kind == CadenceKind.WEEKLY and (not isinstance(spec.every_weeks, int) or spec.every_weeks < 1):
        return None  # validate_cadence reports every_weeks itself
    gap = minimum_gap(spec)
    if gap >= recall:
        return None
    return (
        f"Openings can be {_days(gap)} apart, but this instrument asks about the last {_days(recall)}: "
        f"schedule it at most once every {_days(recall)}."
    )


def duration_words(delta: timedelta) -> str:
    """A duration as people say it: "2 weeks", "3 days", "20 days and 20 hours", "1 hour and 30 minutes"
    (never Python's "20 days, 20:00:00"). Seconds are left out; under a minute reads "less than a minute"."""
    if delta < timedelta(0):
        return "minus " + duration_words(-delta)
    if delta and delta % timedelta(weeks=1) == timedelta(0):
        weeks = delta // timedelta(weeks=1)
        return f"{weeks} week{'s' if weeks != 1 else ''}"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{count} {unit}{'s' if count != 1 else ''}"
        for count, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if count
    ]
    if not parts:
        return "less than a minute" if delta else "0 minutes"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


_days = duration_words


def validate_cadence(
    spec: CadenceSpec,
    *,
    open_for: timedelta | None = None,
    reminders: Sequence[timedelta] = (),
    recall: timedelta | None = None,
) -> dict[str, str]:
    """Field-by-field errors for the schedule editor and the API; an empty dict means valid.

    Keys are the :class:`CadenceSpec` attribute names plus ``open_for`` (the round window) and
    ``reminders`` (durations before close). A recall-period violation is reported on the field the admin
    must change: ``every_weeks`` for a weekly schedule, ``kind`` for a monthly one. Several problems with
    one field are joined into one message.

    Rules: the time zone must be an IANA name zoneinfo knows; weekly needs ``every_weeks`` ≥ 1; monthly
    needs ``nth_weekday`` in 1..4 or ``LAST`` (a fifth weekday exists in only some months); the end date
    may not precede the start date; each pause must end on or after its start; the window must be
    positive and no longer than :func:`minimum_gap` (a round closes at the latest when the next one
    opens); at most :data:`MAX_REMINDERS` reminders, each strictly inside the window (a reminder at or
    after close reaches nobody, one at or before the opening duplicates the invitation).

    A window equal to the period is allowed. On the day a DST gap shifts an opening forward (say 02:30 to
    03:30), its round closes at 03:30 a period later while the next opens at 02:30: the two rounds
    overlap by the gap length. Nothing breaks (they are different rounds), and it only happens for
    schedules set inside the one hour a year that does not exist.
    """
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    kind_ok = spec.kind in tuple(CadenceKind)
    if not kind_ok:
        add("kind", f"Choose one of: {', '.join(k.value for k in CadenceKind)}.")
    if not isinstance(spec.time_zone, str) or spec.time_zone not in _known_zones():
        add(
            "time_zone",
            f"{spec.time_zone!r} is not a known time zone; use an IANA name such as Europe/Berlin.",
        )
    if not isinstance(spec.weekday, int) or not 0 <= spec.weekday <= 6:
        add("weekday", "Choose a weekday from 0 (Monday) to 6 (Sunday).")
    if not isinstance(spec.local_time, time) or spec.local_time.tzinfo is not None:
        add("local_time", "Give a wall-clock time without a time zone; the zone is set separately.")
    period_ok = True
    if spec.kind == CadenceKind.WEEKLY and (not isinstance(spec.every_weeks, int) or spec.every_weeks < 1):
        add("every_weeks", "A weekly schedule repeats every 1 or more weeks.")
        period_ok = False
    if spec.kind == CadenceKind.MONTHLY and spec.nth_weekday not in (1, 2, 3, 4, LAST):
        add("nth_weekday", "Choose the 1st to 4th weekday of the month, or the last (-1).")
    if spec.end_date is not None and spec.end_date < spec.start_date:
        add("end_date", "The end date is before the start date.")
    for pause in spec.pauses:
        if pause.end < pause.start:
            add("pauses", f"The pause from {pause.start} ends before it starts ({pause.end}).")

    if open_for is not None:
        if open_for <= timedelta(0):
            add("open_for", "A round must stay open for a positive time.")
        elif kind_ok and period_ok and open_for > minimum_gap(spec):
            add(
                "open_for",
                f"A round open for {_days(open_for)} would still be open when the next one opens "
                f"(openings can be {_days(minimum_gap(spec))} apart).",
            )
    if len(reminders) > MAX_REMINDERS:
        add("reminders", f"At most {MAX_REMINDERS} reminders per round.")
    for before_close in reminders:
        if before_close <= timedelta(0):
            add("reminders", "A reminder must come before the round closes.")
        elif open_for is not None and before_close >= open_for:
            add(
                "reminders",
                f"A reminder {_days(before_close)} before close would come before the round opens.",
            )
    if len(set(reminders)) < len(reminders):
        add("reminders", "Two reminders at the same time.")

    if recall is not None and kind_ok:
        recall_error = check_recall(spec, recall)
        if recall_error is not None:
            add("every_weeks" if spec.kind == CadenceKind.WEEKLY else "kind", recall_error)

    return {name: " ".join(messages) for name, messages in errors.items()}


def _checked(spec: CadenceSpec) -> tzinfo:
    errors = validate_cadence(spec)
    if errors:
        raise InvalidCadence(errors)
    return spec.zone


# ---------------------------------------------------------------------------------------------------------
# Openings


def _nth_weekday_of_month(year: int, month: int, weekday: int, nth: int) -> date:
    first_weekday, days_in_month = calendar.monthrange(year, month)
    if nth == LAST:
        last = date(year, month, days_in_month)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    return date(year, month, 1 + (weekday - first_weekday) % 7 + 7 * (nth - 1))


def _grid_dates(spec: CadenceSpec, from_date: date) -> Iterator[date]:
    """Dates of the cadence's rule on or after ``max(from_date, start_date)``, ignoring pauses and end."""
    first = max(from_date, spec.start_date)
    try:
        if spec.kind == CadenceKind.WEEKLY:
            # The grid is anchored on the start, never on ``from_date``: otherwise the same biweekly
            # schedule would land on different Mondays depending on when the tick asks.
            anchor = spec.start_date + timedelta(days=(spec.weekday - spec.start_date.weekday()) % 7)
            step = 7 * spec.every_weeks
            steps = max(0, -(-(first - anchor).days // step))
            current = anchor + timedelta(days=steps * step)
            while True:
                yield current
                current += timedelta(days=step)
        else:
            year, month = first.year, first.month
            while True:
                candidate = _nth_weekday_of_month(year, month, spec.weekday, spec.nth_weekday)
                if candidate >= first:
                    yield candidate
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    except (OverflowError, ValueError):
        return  # past date.max: a schedule without an end simply stops at the end of the calendar


def _scheduled_dates(spec: CadenceSpec, from_date: date) -> Iterator[date]:
    for local_date in _grid_dates(spec, from_date):
        if spec.end_date is not None and local_date > spec.end_date:
            return
        if any(pause.covers(local_date) for pause in spec.pauses):
            continue  # skipped, not postponed: see the module docstring
        yield local_date


def iter_openings(spec: CadenceSpec, after: datetime) -> Iterator[datetime]:
    """All openings strictly after the instant ``after``, in order, as UTC instants (lazy)."""
    zone = _checked(spec)
    _require_aware(after, "after")
    # Start a few days before the local date of ``after``: the opening of an earlier date can fall after
    # ``after`` only if a gap shifted it across midnight (Samoa skipped a whole day in 2011), never by
    # more than a day. Dates whose opening is not later than ``after`` are filtered out below. Far
    # before the start there is nothing to skip, and no need to read the wall clock of a remote instant.
    earliest = datetime.combine(spec.start_date, time.min, tzinfo=UTC) - timedelta(days=2)
    from_date = spec.start_date if after < earliest else _wall(after, zone).date() - timedelta(days=3)
    for local_date in _scheduled_dates(spec, from_date):
        opens_at = wall_clock_to_utc(local_date, spec.local_time, zone)
        if opens_at > after:
            yield opens_at


def openings_after(spec: CadenceSpec, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` openings strictly after ``after`` (fewer if the schedule ends), in UTC."""
    if count < 0:
        raise ValueError("count must be zero or more")
    return list(islice(iter_openings(spec, after), count))


def next_opening(spec: CadenceSpec, after: datetime) -> datetime | None:
    """The first opening strictly after ``after``, or None once the schedule has ended."""
    return next(iter_openings(spec, after), None)


def openings_between(spec: CadenceSpec, after: datetime, until: datetime) -> list[datetime]:
    """Openings with ``after < opens_at <= until``: what a tick that last ran at ``after`` must open now."""
    _require_aware(until, "until")
    found: list[datetime] = []
    for opens_at in iter_openings(spec, after):
        if opens_at > until:
            break
        found.append(opens_at)
    return found


def opening_on(spec: CadenceSpec, local_date: date) -> datetime | None:
    """The UTC opening instant of the round scheduled on ``local_date``, or None if none is scheduled.

    None for a date off the cadence, before the start, after the end or inside a pause. For the bare
    conversion of a date and time, use :func:`wall_clock_to_utc`.
    """
    zone = _checked(spec)
    if next(_scheduled_dates(spec, local_date), None) != local_date:
        return None
    return wall_clock_to_utc(local_date, spec.local_time, zone)


def preview_openings(spec: CadenceSpec, after: datetime, count: int = 5) -> list[OpeningPreview]:
    """The next ``count`` openings with their local wall time, for the schedule editor."""
    zone = _checked(spec)
    previews = []
    for opens_at in openings_after(spec, after, count):
        local = opens_at.astimezone(zone)
        wall = local.replace(tzinfo=None)
        shifted = wall.time() != spec.local_time
        ambiguous = not shifted and wall.replace(tzinfo=zone, fold=1).utcoffset() != local.utcoffset()
        previews.append(OpeningPreview(utc=opens_at, local=local, shifted=shifted, ambiguous=ambiguous))
    return previews


# ---------------------------------------------------------------------------------------------------------
# Round window and reminders


def round_closes_at(opens_at: datetime, open_for: timedelta, tz: TimeZoneLike) -> datetime:
    """When a round that opened at ``opens_at`` closes, in UTC.

    Whole days of ``open_for`` are calendar days on the team's wall clock: a round opened Monday 09:00
    with a 3-day window closes Thursday 09:00 local, even if the clocks changed in between (then the
    window is 71 or 73 hours long). The remainder below a day is elapsed time, added to that instant:
    a 4-hour window is exactly 4 hours, also across a DST change. A ``timedelta`` cannot tell 72 hours
    from 3 days (they compare equal), so whole days are always calendar days; the editor offers windows
    in days and hours accordingly. If the closing wall time falls in a gap or an overlap, the rule of
    :func:`wall_clock_to_utc` applies.
    """
    _require_aware(opens_at, "opens_at")
    if open_for <= timedelta(0):
        raise ValueError("open_for must be positive")
    zone = _zone(tz)
    whole_days = timedelta(days=open_for.days)
    return _shift_calendar_days(opens_at, open_for.days, zone) + (open_for - whole_days)


def reminder_times(
    opens_at: datetime,
    closes_at: datetime,
    reminders: Sequence[timedelta],
    *,
    tz: TimeZoneLike,
) -> list[datetime]:
    """The UTC instants of a round's reminders, each given as a duration before close; ascending.

    The same rule as :func:`round_closes_at`, backwards: whole days are calendar days on the team's wall
    clock ("1 day before a Thursday 09:00 close" is Wednesday 09:00 local), the rest is elapsed time.
    At most :data:`MAX_REMINDERS`; a non-positive duration is refused (:func:`validate_cadence` catches
    both for the editor). A reminder that lands at or before the opening is dropped rather than refused,
    because a DST change can make a window valid in the editor an hour shorter in practice; it would
    only duplicate the invitation. Two reminders that land on the same instant are sent once.

    Quiet hours are applied later, per recipient (:func:`defer_for_quiet_hours`).
    """
    _require_aware(opens_at, "opens_at")
    _require_aware(closes_at, "closes_at")
    if len(reminders) > MAX_REMINDERS:
        raise ValueError(f"at most {MAX_REMINDERS} reminders per round")
    zone = _zone(tz)
    instants: set[datetime] = set()
    for before_close in reminders:
        if before_close <= timedelta(0):
            raise ValueError("a reminder must be a positive duration before close")
        whole_days = timedelta(days=before_close.days)
        at = _shift_calendar_days(closes_at, -before_close.days, zone) - (before_close - whole_days)
        if opens_at < at < closes_at:
            instants.add(at)
    return sorted(instants)


# ---------------------------------------------------------------------------------------------------------
# Quiet hours


def is_quiet(
    instant: datetime,
    recipient_tz: TimeZoneLike,
    quiet_start: time = time(20, 0),
    quiet_end: time = time(8, 0),
    weekends_quiet: bool = True,
) -> bool:
    """Whether ``instant`` is inside the recipient's quiet hours, judged on their own wall clock.

    Quiet hours run from ``quiet_start`` (inclusive) to ``quiet_end`` (exclusive) and wrap past midnight
    when ``quiet_start`` is later than ``quiet_end`` (20:00–08:00). Equal bounds mean no daily quiet
    hours. With ``weekends_quiet`` all of local Saturday and Sunday is quiet. The default keeps the
    night and the evening before it free of survey mail.
    """
    _require_aware(instant, "instant")
    local = instant.astimezone(_zone(recipient_tz))
    if weekends_quiet and local.weekday() >= 5:
        return True
    wall = local.time().replace(tzinfo=None, fold=0)
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= wall < quiet_end
    return wall >= quiet_start or wall < quiet_end


def defer_for_quiet_hours(
    instant: datetime,
    recipient_tz: TimeZoneLike,
    quiet_start: time = time(20, 0),
    quiet_end: time = time(8, 0),
    weekends_quiet: bool = True,
) -> datetime:
    """``instant`` itself if it is not quiet for the recipient, else the next instant that is; in UTC.

    The message waits, it is never dropped: Friday 21:00 becomes Monday 08:00 local, Tuesday 03:00
    becomes Tuesday 08:00. The release time is ``quiet_end`` on the recipient's wall clock (or local
    midnight starting a weekday when there are no daily quiet hours), converted with the rule of
    :func:`wall_clock_to_utc`, so 08:00 stays 08:00 across a DST night (the night is an hour shorter or
    longer in elapsed time).

    The deferred instant may be after the round has closed. This function does not know the round; the
    caller compares the result with the close (or uses :func:`delivery_before_close`) and decides, e.g.
    an invitation that would arrive after close is not sent.
    """
    _require_aware(instant, "instant")
    zone = _zone(recipient_tz)

    def quiet(at: datetime) -> bool:
        return is_quiet(at, zone, quiet_start, quiet_end, weekends_quiet)

    if not quiet(instant):
        return instant.astimezone(UTC)
    first_date = _wall(instant, zone).date()
    release_times = sorted({time.min, quiet_end.replace(tzinfo=None)})
    # Quiet time ends within a week plus a day (a weekend, then a night); the loop checks both release
    # times of each date in order, so the first allowed one is the earliest.
    for offset in range(9):
        for release in release_times:
            candidate = wall_clock_to_utc(first_date + timedelta(days=offset), release, zone)
            if candidate > instant and not quiet(candidate):
                return candidate
    raise ValueError("these quiet hours never end")  # only reachable if every weekday were quiet


def delivery_before_close(
    instant: datetime,
    closes_at: datetime,
    recipient_tz: TimeZoneLike,
    quiet_start: time = time(20, 0),
    quiet_end: time = time(8, 0),
    weekends_quiet: bool = True,
) -> datetime | None:
    """:func:`defer_for_quiet_hours`, or None if the deferred instant is at or after ``closes_at``.

    None tells the caller that this recipient cannot get the message while the round is open without
    breaking quiet hours; Pulse does not break them, so that recipient gets no reminder for this round.
    """
    _require_aware(closes_at, "closes_at")
    deferred = defer_for_quiet_hours(instant, recipient_tz, quiet_start, quiet_end, weekends_quiet)
    return deferred if deferred < closes_at else None


def defer_overdue_message(
    due_times: Sequence[datetime | None],
    handled: int,
    now: datetime,
    closes_at: datetime,
    recipient_tz: TimeZoneLike,
    quiet_start: time = time(20, 0),
    quiet_end: time = time(8, 0),
    weekends_quiet: bool = True,
) -> tuple[datetime | None, ...] | None:
    """At send time: None if the message now due (``due_times[handled]``) may go out ``now``; else the
    invitation's due times with that message moved to the end of the recipient's quiet period.

    The due times of :func:`email_due_times` respect quiet hours, but a message sent late (a backlog, an
    outage, a retry after a temporary failure) can become sendable inside them: a Berlin invitation due at
    19:00 and reached at 20:18 waits until 08:00 (:func:`defer_for_quiet_hours`, so DST-safe), it is not
    dropped. Later messages due at or before that release would follow it at once, a reminder of something
    the recipient has only just received: they are dropped, and the rest keep their order (so a second
    reminder may become the only one). A release at or after ``closes_at`` cannot reach the recipient while
    the round is open: the moved message and every later one are then None (not sent). Messages before
    ``handled`` are done and returned unchanged.
    """
    _require_aware(now, "now")
    if not is_quiet(now, recipient_tz, quiet_start, quiet_end, weekends_quiet):
        return None
    release = defer_for_quiet_hours(now, recipient_tz, quiet_start, quiet_end, weekends_quiet)
    done = tuple(due_times[:handled])
    if release >= closes_at:
        return (*done, *[None] * (len(due_times) - handled))
    later = [at for at in due_times[handled + 1 :] if at is not None and at > release]
    return (*done, release, *later, *[None] * (len(due_times) - handled - 1 - len(later)))


def email_due_times(
    opens_at: datetime,
    closes_at: datetime,
    reminders: Sequence[timedelta],
    *,
    tz: TimeZoneLike,
    recipient_tz: TimeZoneLike,
    quiet_start: time = time(20, 0),
    quiet_end: time = time(8, 0),
    weekends_quiet: bool = True,
) -> tuple[datetime | None, ...]:
    """When one recipient gets a round's invitation and each of its reminders, in sending order: the
    invitation first, then :data:`MAX_REMINDERS` reminder slots, earliest first; None means not sent.

    The reminders are :func:`reminder_times` in the round's zone ``tz`` (whole days on the team's wall
    clock), then each message waits out the recipient's quiet hours in ``recipient_tz``
    (:func:`defer_for_quiet_hours`). A reminder pushed to or past the close by them would reach nobody:
    it is dropped, and two pushed onto one instant are sent once. The invitation is never dropped here;
    the sender skips it if the round has closed by then.
    """
    quiet = (quiet_start, quiet_end, weekends_quiet)
    invitation = defer_for_quiet_hours(opens_at, recipient_tz, *quiet)
    deferred = {
        defer_for_quiet_hours(at, recipient_tz, *quiet)
        for at in reminder_times(opens_at, closes_at, reminders, tz=tz)
    }
    due: list[datetime | None] = [*sorted(at for at in deferred if at < closes_at)]
    return (invitation, *due, *[None] * (MAX_REMINDERS - len(due)))


# ---------------------------------------------------------------------------------------------------------
# Two schedules, one instrument


def overlapping_asks(
    spec_a: CadenceSpec,
    spec_b: CadenceSpec,
    *,
    recall: timedelta,
    after: datetime,
    horizon: timedelta = timedelta(days=366),
    tz: TimeZoneLike | None = None,
) -> list[AskConflict]:
    """Pairs of openings, one from each schedule, that would ask one person the same instrument twice
    within its recall period (docs/science.md §1.8), among openings in ``(after, after + horizon]``.

    The distance is counted in local calendar days in ``tz``, the person's time zone (default: spec_a's),
    for the same reason as in :func:`minimum_gap`: recall periods are stated in days. Two openings are
    too close when ``days_apart × 1 day < recall``; with a two-week recall, openings 13 days apart
    conflict and 14 days apart do not. Each schedule's own spacing is :func:`check_recall`'s job.
    """
    if recall <= timedelta(0):
        return []
    zone = _zone(tz) if tz is not None else spec_a.zone
    until = after + horizon
    a_openings = openings_between(spec_a, after, until)
    b_openings = openings_between(spec_b, after, until)
    b_days = [_wall(b, zone).date().toordinal() for b in b_openings]
    # The largest whole number of days that is still shorter than the recall period.
    max_days = math.ceil(recall / _DAY) - 1
    conflicts: list[AskConflict] = []
    for a in a_openings:
        a_day = _wall(a, zone).date().toordinal()
        for b, b_day in zip(b_openings, b_days, strict=True):
            if abs(b_day - a_day) <= max_days:
                conflicts.append(AskConflict(first=a, second=b, days_apart=abs(b_day - a_day)))
    return conflicts
