"""Tests for surveys.cadence: openings, windows, reminders and quiet hours across DST changes.

Expected instants come from the published tz rules (tzdb) for 2026:
- Europe/Berlin (EU rule): CET→CEST on the last Sunday of March at 01:00 UTC (2026-03-29, local 02:00
  becomes 03:00); back on the last Sunday of October at 01:00 UTC (2026-10-25, 03:00 becomes 02:00).
- America/New_York (US rule): EST→EDT on the second Sunday of March at 02:00 local (2026-03-08); back on
  the first Sunday of November at 02:00 local (2026-11-01, 02:00 EDT becomes 01:00 EST).
- Australia/Sydney (NSW rule): AEDT→AEST on the first Sunday of April at 03:00 local (2026-04-05);
  AEST→AEDT on the first Sunday of October at 02:00 local (2026-10-04).
- Asia/Kolkata: +05:30 all year, no DST.
and from RFC 5545 §3.3.5's own examples for New York in 2007.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from surveys.cadence import (
    LAST,
    MAX_REMINDERS,
    AskConflict,
    CadenceKind,
    CadenceSpec,
    InvalidCadence,
    Pause,
    check_recall,
    defer_for_quiet_hours,
    delivery_before_close,
    email_due_times,
    is_quiet,
    minimum_gap,
    next_opening,
    opening_on,
    openings_after,
    openings_between,
    overlapping_asks,
    preview_openings,
    reminder_times,
    round_closes_at,
    validate_cadence,
    wall_clock_to_utc,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
ONE_US = timedelta(microseconds=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly(
    zone: str,
    at: time,
    *,
    weekday: int = SUN,
    start: date = date(2026, 1, 1),
    every: int = 1,
    end: date | None = None,
    pauses: Sequence[Pause] = (),
) -> CadenceSpec:
    return CadenceSpec(
        kind=CadenceKind.WEEKLY,
        weekday=weekday,
        local_time=at,
        time_zone=zone,
        start_date=start,
        every_weeks=every,
        end_date=end,
        pauses=pauses,
    )


def monthly(zone: str, at: time, *, weekday: int, nth: int, start: date = date(2026, 1, 1)) -> CadenceSpec:
    return CadenceSpec(
        kind=CadenceKind.MONTHLY,
        weekday=weekday,
        nth_weekday=nth,
        local_time=at,
        time_zone=zone,
        start_date=start,
    )


# ---------------------------------------------------------------------------------------------------------
# The local-to-UTC rule


def test_rfc5545_worked_examples() -> None:
    # RFC 5545 §3.3.5: "TZID=America/New_York:20070311T023000 indicates March 11, 2007 at 3:30 A.M. EDT"
    assert wall_clock_to_utc(date(2007, 3, 11), time(2, 30), "America/New_York") == utc(2007, 3, 11, 7, 30)
    # "TZID=America/New_York:20071104T013000 indicates November 4, 2007 at 1:30 A.M. EDT (UTC-04:00)"
    assert wall_clock_to_utc(date(2007, 11, 4), time(1, 30), "America/New_York") == utc(2007, 11, 4, 5, 30)


def test_wall_clock_refuses_aware_time_and_unknown_zone() -> None:
    with pytest.raises(ValueError, match="naive"):
        wall_clock_to_utc(date(2026, 1, 5), time(9, tzinfo=UTC), "Europe/Berlin")
    with pytest.raises(ValueError, match="not a known"):
        wall_clock_to_utc(date(2026, 1, 5), time(9), "Europe/Berlinn")


# Each DST change day of 2026, a weekly Sunday schedule at an awkward time: (zone, day, local time,
# the one opening expected that day, what the wall time is on that day).
DST_CHANGE_DAYS = [
    # Spring forward: 02:30 does not exist; shifted forward by the gap to 03:30 local.
    ("Europe/Berlin", date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1, 30), "nonexistent"),
    ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30), "nonexistent"),
    ("Australia/Sydney", date(2026, 10, 4), time(2, 30), utc(2026, 10, 3, 16, 30), "nonexistent"),
    # Fall back: 02:30 happens twice; the first occurrence (daylight time) is the opening.
    ("Europe/Berlin", date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30), "ambiguous"),
    ("Australia/Sydney", date(2026, 4, 5), time(2, 30), utc(2026, 4, 4, 15, 30), "ambiguous"),
    # New York falls back from 02:00 to 01:00: 02:30 happens once (EST) and 01:30 twice.
    ("America/New_York", date(2026, 11, 1), time(2, 30), utc(2026, 11, 1, 7, 30), "normal"),
    ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), "ambiguous"),
]


@pytest.mark.parametrize(("zone", "day", "at", "expected", "kind"), DST_CHANGE_DAYS)
def test_exactly_one_opening_on_a_dst_change_day(
    zone: str, day: date, at: time, expected: datetime, kind: str
) -> None:
    spec = weekly(zone, at, weekday=SUN, start=date(2026, 1, 1))
    tz = ZoneInfo(zone)
    day_starts = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    day_ends = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)

    assert openings_between(spec, day_starts - ONE_US, day_ends - ONE_US) == [expected]
    assert opening_on(spec, day) == expected
    # The tick passing through the repeated hour right after the opening finds nothing new that day.
    assert next_opening(spec, expected) == wall_clock_to_utc(day + timedelta(days=7), at, zone)
    assert next_opening(spec, expected - ONE_US) == expected

    local = expected.astimezone(tz)
    assert local.date() == day
    if kind == "nonexistent":
        assert local.time() == time(at.hour + 1, at.minute)  # later by the one-hour gap
    else:
        assert local.time() == at
        assert local.fold == 0
    preview = preview_openings(spec, day_starts - ONE_US, 1)[0]
    assert (preview.utc, preview.shifted, preview.ambiguous) == (
        expected,
        kind == "nonexistent",
        kind == "ambiguous",
    )


@pytest.mark.parametrize(
    ("zone", "sundays", "expected_utc"),
    [
        # 09:00 local stays 09:00 local; the UTC instant moves by the DST shift.
        ("Europe/Berlin", [date(2026, 3, 22), date(2026, 3, 29)], [utc(2026, 3, 22, 8), utc(2026, 3, 29, 7)]),
        (
            "Europe/Berlin",
            [date(2026, 10, 18), date(2026, 10, 25)],
            [utc(2026, 10, 18, 7), utc(2026, 10, 25, 8)],
        ),
        (
            "America/New_York",
            [date(2026, 3, 1), date(2026, 3, 8)],
            [utc(2026, 3, 1, 14), utc(2026, 3, 8, 13)],
        ),
        (
            "America/New_York",
            [date(2026, 10, 25), date(2026, 11, 1)],
            [utc(2026, 10, 25, 13), utc(2026, 11, 1, 14)],
        ),
        (
            "Australia/Sydney",
            [date(2026, 3, 29), date(2026, 4, 5)],
            [utc(2026, 3, 28, 22), utc(2026, 4, 4, 23)],
        ),
        (
            "Australia/Sydney",
            [date(2026, 9, 27), date(2026, 10, 4)],
            [utc(2026, 9, 26, 23), utc(2026, 10, 3, 22)],
        ),
        # Half-hour zone without DST: 09:00 IST is 03:30 UTC every week.
        (
            "Asia/Kolkata",
            [date(2026, 3, 22), date(2026, 3, 29)],
            [utc(2026, 3, 22, 3, 30), utc(2026, 3, 29, 3, 30)],
        ),
    ],
)
def test_weekly_nine_oclock_keeps_local_time_across_the_change(
    zone: str, sundays: list[date], expected_utc: list[datetime]
) -> None:
    spec = weekly(zone, time(9), weekday=SUN)
    after = wall_clock_to_utc(sundays[0], time.min, zone)
    got = openings_after(spec, after, 2)
    assert got == expected_utc
    assert [o.astimezone(ZoneInfo(zone)).time() for o in got] == [time(9), time(9)]


def test_kolkata_half_hour_offset_crosses_the_utc_date() -> None:
    spec = weekly("Asia/Kolkata", time(2, 30), weekday=SUN)
    # 02:30 IST on Sunday is 21:00 UTC on Saturday.
    assert openings_after(spec, utc(2026, 3, 27), 2) == [utc(2026, 3, 28, 21), utc(2026, 4, 4, 21)]


def test_midnight_transitions_in_santiago() -> None:
    # Chile changes clocks at 24:00: on 2026-09-06 local 00:00–01:00 does not exist, and on 2026-04-04
    # 23:00–24:00 happens twice.
    spring = weekly("America/Santiago", time(0, 30), weekday=SUN)
    assert opening_on(spring, date(2026, 9, 6)) == utc(2026, 9, 6, 4, 30)  # 01:30 -03
    fall = weekly("America/Santiago", time(23, 30), weekday=SAT)
    assert opening_on(fall, date(2026, 4, 4)) == utc(2026, 4, 5, 2, 30)  # first 23:30, at -03
    assert next_opening(fall, utc(2026, 4, 5, 2, 30)) == utc(2026, 4, 12, 3, 30)


def test_samoa_skipped_a_whole_day() -> None:
    # Pacific/Apia jumped from 2011-12-29 23:59:59 (-10) to 2011-12-31 00:00 (+14): Friday the 30th never
    # happened. The Friday opening moves forward by the 24-hour gap and still happens exactly once.
    spec = weekly("Pacific/Apia", time(9), weekday=FRI, start=date(2011, 12, 1))
    got = openings_after(spec, utc(2011, 12, 20), 3)
    assert got == [utc(2011, 12, 23, 19), utc(2011, 12, 30, 19), utc(2012, 1, 5, 19)]
    assert got[1].astimezone(ZoneInfo("Pacific/Apia")).date() == date(2011, 12, 31)
    # Asked an hour before, when the wall clock already reads Saturday 08:00: Friday's opening is still due.
    assert next_opening(spec, utc(2011, 12, 30, 18)) == utc(2011, 12, 30, 19)


# ---------------------------------------------------------------------------------------------------------
# Monthly, anchoring, pauses, end date


def test_monthly_nth_weekday_matches_published_holidays() -> None:
    new_york = "America/New_York"
    # US Thanksgiving is the 4th Thursday of November: 2026-11-26.
    assert opening_on(monthly(new_york, time(10), weekday=THU, nth=4), date(2026, 11, 26)) is not None
    # US Memorial Day is the last Monday of May: 2026-05-25; Labor Day the 1st Monday of September: 09-07.
    last_monday = monthly(new_york, time(10), weekday=MON, nth=LAST)
    first_monday = monthly(new_york, time(10), weekday=MON, nth=1)
    assert [o.date() for o in openings_after(last_monday, utc(2026, 5, 1), 1)] == [date(2026, 5, 25)]
    assert [o.date() for o in openings_after(first_monday, utc(2026, 9, 1), 1)] == [date(2026, 9, 7)]


def test_monthly_second_tuesday_and_last_friday() -> None:
    second_tuesday = monthly("Europe/Berlin", time(9), weekday=TUE, nth=2)
    assert [
        o.astimezone(ZoneInfo("Europe/Berlin")).date()
        for o in openings_after(second_tuesday, utc(2026, 1, 1), 4)
    ] == [date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10), date(2026, 4, 14)]
    last_friday = monthly("Europe/Berlin", time(9), weekday=FRI, nth=LAST)
    got = openings_after(last_friday, utc(2026, 1, 1), 4)
    # 09:00 CET is 08:00 UTC; after 2026-03-29, 09:00 CEST is 07:00 UTC.
    assert got == [utc(2026, 1, 30, 8), utc(2026, 2, 27, 8), utc(2026, 3, 27, 8), utc(2026, 4, 24, 7)]


def test_monthly_minimum_gap_is_exactly_28_days() -> None:
    gaps = set()
    for weekday in range(7):
        for nth in (1, 2, 3, 4, LAST):
            spec = monthly("UTC", time(0), weekday=weekday, nth=nth, start=date(2000, 1, 1))
            openings = openings_after(spec, utc(1999, 12, 31), 12 * 100)
            assert len(openings) == 1200
            gaps |= {(b - a).days for a, b in pairwise(openings)}
    assert gaps == {28, 35}
    assert minimum_gap(monthly("UTC", time(0), weekday=MON, nth=1)) == timedelta(days=28)


def test_every_two_weeks_is_anchored_on_the_first_opening_after_start() -> None:
    # Start Wednesday 2026-01-07, Mondays, every 2 weeks: the grid is Jan 12, Jan 26, Feb 9, ...
    spec = weekly("UTC", time(9), weekday=MON, start=date(2026, 1, 7), every=2)
    assert openings_after(spec, utc(2026, 1, 1), 3) == [
        utc(2026, 1, 12, 9),
        utc(2026, 1, 26, 9),
        utc(2026, 2, 9, 9),
    ]
    # Asked in the middle of the grid, it stays on the grid (Feb 9, not Feb 2).
    assert next_opening(spec, utc(2026, 2, 1)) == utc(2026, 2, 9, 9)
    assert opening_on(spec, date(2026, 2, 2)) is None
    # A start date on the weekday itself is the first opening.
    on_monday = weekly("UTC", time(9), weekday=MON, start=date(2026, 1, 5), every=2)
    assert next_opening(on_monday, utc(2025, 6, 1)) == utc(2026, 1, 5, 9)


def test_pause_skips_without_postponing_or_reanchoring() -> None:
    holidays = Pause(date(2026, 12, 21), date(2027, 1, 3))
    spec = weekly("Europe/Berlin", time(9), weekday=MON, pauses=(holidays,))
    got = [o.astimezone(ZoneInfo("Europe/Berlin")).date() for o in openings_after(spec, utc(2026, 12, 10), 3)]
    assert got == [date(2026, 12, 14), date(2027, 1, 4), date(2027, 1, 11)]

    # Biweekly from Jan 5 (Jan 5, 19, Feb 2, 16): a pause over Jan 19 leaves Feb 2 on the original grid.
    biweekly = weekly(
        "UTC",
        time(9),
        weekday=MON,
        start=date(2026, 1, 5),
        every=2,
        pauses=[
            Pause(date(2026, 1, 19), date(2026, 1, 19)),  # both ends inclusive
        ],
    )
    assert openings_after(biweekly, utc(2026, 1, 1), 3) == [
        utc(2026, 1, 5, 9),
        utc(2026, 2, 2, 9),
        utc(2026, 2, 16, 9),
    ]
    assert opening_on(biweekly, date(2026, 1, 19)) is None
    assert isinstance(biweekly.pauses, tuple)  # a list given by the caller is frozen


def test_end_date_is_inclusive_and_ends_the_schedule() -> None:
    spec = weekly("UTC", time(9), weekday=MON, start=date(2026, 1, 5), end=date(2026, 1, 19))
    assert openings_after(spec, utc(2026, 1, 1), 10) == [
        utc(2026, 1, 5, 9),
        utc(2026, 1, 12, 9),
        utc(2026, 1, 19, 9),
    ]
    assert next_opening(spec, utc(2026, 1, 19, 9)) is None
    assert opening_on(spec, date(2026, 1, 26)) is None
    assert opening_on(spec, date(2025, 12, 29)) is None  # before the start


def test_catch_up_after_an_outage_returns_every_missed_opening_once() -> None:
    spec = weekly("Europe/Berlin", time(9), weekday=MON)
    missed = openings_between(spec, utc(2026, 3, 1), utc(2026, 3, 23, 12))
    assert missed == [utc(2026, 3, 2, 8), utc(2026, 3, 9, 8), utc(2026, 3, 16, 8), utc(2026, 3, 23, 8)]
    # The next tick, a minute later, finds nothing new.
    assert openings_between(spec, utc(2026, 3, 23, 12), utc(2026, 3, 23, 12, 1)) == []


def test_invalid_spec_and_naive_instants_are_refused() -> None:
    with pytest.raises(InvalidCadence) as excinfo:
        openings_after(weekly("Nowhere/Atlantis", time(9), every=0), utc(2026, 1, 1), 1)
    assert set(excinfo.value.errors) == {"time_zone", "every_weeks"}
    with pytest.raises(ValueError, match="aware"):
        openings_after(weekly("UTC", time(9)), datetime(2026, 1, 1), 1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="count"):
        openings_after(weekly("UTC", time(9)), utc(2026, 1, 1), -1)


# ---------------------------------------------------------------------------------------------------------
# Windows and reminders


def test_day_windows_are_wall_clock_days() -> None:
    berlin = "Europe/Berlin"
    # Friday 09:00 CET + 3 days = Monday 09:00 CEST: 71 hours, across the spring change.
    opens = utc(2026, 3, 27, 8)
    closes = round_closes_at(opens, timedelta(days=3), berlin)
    assert closes == utc(2026, 3, 30, 7)
    assert closes - opens == timedelta(hours=71)
    # Friday 09:00 CEST + 3 days = Monday 09:00 CET: 73 hours, across the autumn change.
    assert round_closes_at(utc(2026, 10, 23, 7), timedelta(days=3), berlin) == utc(2026, 10, 26, 8)
    # Days and hours: days on the wall clock, then the hours as elapsed time.
    assert round_closes_at(utc(2026, 3, 27, 8), timedelta(days=2, hours=6), berlin) == utc(2026, 3, 29, 13)


def test_hour_windows_are_elapsed_time() -> None:
    berlin = "Europe/Berlin"
    # Saturday 22:00 CET + 6 hours = 04:00 UTC = 06:00 CEST (the night lost an hour, the window did not).
    assert round_closes_at(utc(2026, 3, 28, 21), timedelta(hours=6), berlin) == utc(2026, 3, 29, 3)
    # Opened at the *second* 02:30 of 2026-10-25 (01:30 UTC): 2 hours later, not 1.
    assert round_closes_at(utc(2026, 10, 25, 1, 30), timedelta(hours=2), berlin) == utc(2026, 10, 25, 3, 30)
    with pytest.raises(ValueError, match="positive"):
        round_closes_at(utc(2026, 1, 1), timedelta(0), berlin)


def test_reminders_keep_wall_clock_days_before_close() -> None:
    berlin = "Europe/Berlin"
    opens, closes = utc(2026, 3, 27, 11), utc(2026, 3, 29, 10)  # Fri 12:00 CET to Sun 12:00 CEST
    got = reminder_times(opens, closes, [timedelta(hours=2), timedelta(days=1)], tz=berlin)
    # 1 day before Sunday 12:00 CEST is Saturday 12:00 CET (23 hours earlier); 2 hours is 2 hours.
    assert got == [utc(2026, 3, 28, 11), utc(2026, 3, 29, 8)]


def test_reminders_landing_before_opening_are_dropped_and_bad_input_refused() -> None:
    berlin = "Europe/Berlin"
    opens = utc(2026, 3, 28, 11)  # Saturday 12:00 CET
    closes = round_closes_at(opens, timedelta(days=1), berlin)  # Sunday 12:00 CEST: 23 hours later
    assert closes - opens == timedelta(hours=23)
    # 23.5 hours before close is valid in the editor (< 1 day) but before this round's opening.
    assert reminder_times(
        opens, closes, [timedelta(hours=23, minutes=30), timedelta(hours=1)], tz=berlin
    ) == [closes - timedelta(hours=1)]
    assert reminder_times(opens, closes, [timedelta(hours=23)], tz=berlin) == []  # exactly at opening
    assert len(reminder_times(opens, closes, [timedelta(hours=3), timedelta(minutes=180)], tz=berlin)) == 1
    with pytest.raises(ValueError, match="at most"):
        reminder_times(opens, closes, [timedelta(hours=h) for h in range(1, MAX_REMINDERS + 2)], tz=berlin)
    with pytest.raises(ValueError, match="positive"):
        reminder_times(opens, closes, [timedelta(0)], tz=berlin)


def test_email_due_times_count_days_in_the_rounds_zone_then_wait_for_the_recipients_quiet_hours() -> None:
    # Tue 24 March 09:00 CET to Tue 31 March 09:00 CEST, Berlin's clocks spring forward in between.
    opens, closes = utc(2026, 3, 24, 8), utc(2026, 3, 31, 7)
    reminders = [timedelta(days=3), timedelta(hours=2)]
    # Three days before the close is Saturday 09:00 Berlin (08:00 UTC); 2 hours before it is 05:00 UTC.
    assert email_due_times(opens, closes, reminders, tz="Europe/Berlin", recipient_tz="Europe/Berlin") == (
        opens,
        utc(2026, 3, 30, 6),  # Saturday is quiet: Monday 08:00 CEST
        utc(2026, 3, 31, 6),  # 07:00 CEST is quiet until 08:00 CEST
    )
    # In New York 07:00 UTC is 03:00: the 2-hour reminder would wait past the close and is dropped; the
    # other one waits for Monday 08:00 EDT, and the free slot is None.
    assert email_due_times(
        opens, closes, reminders, tz="Europe/Berlin", recipient_tz="America/New_York", weekends_quiet=True
    ) == (utc(2026, 3, 24, 12), utc(2026, 3, 30, 12), None)
    # Without reminders every slot is None; two reminders deferred onto one instant are sent once.
    assert email_due_times(opens, closes, [], tz="Europe/Berlin", recipient_tz="Europe/Berlin") == (
        (opens,) + (None,) * MAX_REMINDERS
    )
    assert email_due_times(
        opens,
        closes,
        [timedelta(days=3), timedelta(days=2)],
        tz="Europe/Berlin",
        recipient_tz="Europe/Berlin",
    ) == (opens, utc(2026, 3, 30, 6), None)


# ---------------------------------------------------------------------------------------------------------
# Quiet hours


def test_quiet_hours_defer_across_a_weekend_and_a_dst_change() -> None:
    berlin = "Europe/Berlin"
    # Friday 2026-03-27 21:00 CET → Monday 08:00 CEST, the clocks having changed on Sunday.
    assert defer_for_quiet_hours(utc(2026, 3, 27, 20), berlin) == utc(2026, 3, 30, 6)
    # Saturday 10:00 in January → Monday 08:00 CET.
    assert defer_for_quiet_hours(utc(2026, 1, 10, 9), berlin) == utc(2026, 1, 12, 7)
    # Sunday 23:00 → Monday 08:00; Tuesday 03:00 → Tuesday 08:00 (Kolkata, +05:30).
    assert defer_for_quiet_hours(utc(2026, 1, 11, 22), berlin) == utc(2026, 1, 12, 7)
    assert defer_for_quiet_hours(utc(2026, 1, 12, 21, 30), "Asia/Kolkata") == utc(2026, 1, 13, 2, 30)


def test_quiet_hours_across_dst_nights_keep_the_wall_clock() -> None:
    # Saturday 22:00 CET → Sunday 08:00 CEST: 9 hours later (weekends allowed).
    assert defer_for_quiet_hours(utc(2026, 3, 28, 21), "Europe/Berlin", weekends_quiet=False) == utc(
        2026, 3, 29, 6
    )
    # New York's fall-back night: Saturday 23:00 EDT → Sunday 08:00 EST, 10 hours later.
    assert defer_for_quiet_hours(utc(2026, 11, 1, 3), "America/New_York", weekends_quiet=False) == utc(
        2026, 11, 1, 13
    )
    # The second 01:30 of that night is quiet too and defers to the same 08:00.
    assert defer_for_quiet_hours(utc(2026, 11, 1, 6, 30), "America/New_York", weekends_quiet=False) == utc(
        2026, 11, 1, 13
    )


def test_quiet_hours_bounds_and_configuration() -> None:
    berlin = "Europe/Berlin"
    tuesday_0800, tuesday_2000 = utc(2026, 1, 13, 7), utc(2026, 1, 13, 19)
    assert defer_for_quiet_hours(tuesday_0800, berlin) == tuesday_0800  # the end is not quiet
    assert defer_for_quiet_hours(tuesday_0800 - ONE_US, berlin) == tuesday_0800
    assert defer_for_quiet_hours(tuesday_2000, berlin) == utc(2026, 1, 14, 7)  # the start is quiet
    assert not is_quiet(tuesday_2000 - ONE_US, berlin)
    # A daytime quiet block that does not wrap midnight.
    lunch = defer_for_quiet_hours(utc(2026, 1, 13, 11, 30), berlin, time(12), time(13), weekends_quiet=False)
    assert lunch == utc(2026, 1, 13, 12)
    # Weekends only: released at local midnight starting Monday.
    weekends_only = defer_for_quiet_hours(utc(2026, 1, 10, 9), berlin, quiet_start=time(0), quiet_end=time(0))
    assert weekends_only == utc(2026, 1, 11, 23)
    # Everything allowed: unchanged, returned in UTC.
    sunday_night = datetime(2026, 1, 11, 23, tzinfo=ZoneInfo(berlin))
    got = defer_for_quiet_hours(
        sunday_night, berlin, quiet_start=time(0), quiet_end=time(0), weekends_quiet=False
    )
    assert got == sunday_night
    assert got.tzinfo is UTC


def test_delivery_before_close_tells_the_caller_when_quiet_hours_outlast_the_round() -> None:
    berlin = "Europe/Berlin"
    friday_2100 = utc(2026, 1, 9, 20)
    assert delivery_before_close(friday_2100, utc(2026, 1, 12, 9), berlin) == utc(2026, 1, 12, 7)
    assert delivery_before_close(friday_2100, utc(2026, 1, 12, 7), berlin) is None  # exactly at close
    assert delivery_before_close(friday_2100, utc(2026, 1, 10, 9), berlin) is None


# ---------------------------------------------------------------------------------------------------------
# Validation, recall periods, overlapping schedules


def test_a_valid_schedule_has_no_errors() -> None:
    spec = weekly("Europe/Berlin", time(9), weekday=MON, every=2, end=date(2026, 12, 31))
    assert (
        validate_cadence(
            spec,
            open_for=timedelta(days=14),
            reminders=[timedelta(days=1), timedelta(hours=2)],
            recall=timedelta(weeks=2),
        )
        == {}
    )
    assert (
        validate_cadence(monthly("Asia/Kolkata", time(9), weekday=FRI, nth=LAST), recall=timedelta(weeks=4))
        == {}
    )


def test_validation_reports_each_field() -> None:
    bad = CadenceSpec(
        kind=CadenceKind.WEEKLY,
        weekday=7,
        local_time=time(9, tzinfo=UTC),
        time_zone="CET+1",
        start_date=date(2026, 2, 1),
        every_weeks=0,
        end_date=date(2026, 1, 1),
        pauses=(Pause(date(2026, 5, 2), date(2026, 5, 1)),),
    )
    errors = validate_cadence(bad, open_for=timedelta(0))
    assert set(errors) == {
        "weekday",
        "local_time",
        "time_zone",
        "every_weeks",
        "end_date",
        "pauses",
        "open_for",
    }
    assert "CET+1" in errors["time_zone"]

    fifth = monthly("UTC", time(9), weekday=MON, nth=5)
    assert set(validate_cadence(fifth)) == {"nth_weekday"}
    assert set(validate_cadence(monthly("UTC", time(9), weekday=MON, nth=0))) == {"nth_weekday"}
    assert set(validate_cadence(CadenceSpec("yearly", MON, time(9), "UTC", date(2026, 1, 1)))) == {  # type: ignore[arg-type]
        "kind"
    }


@pytest.mark.parametrize(
    ("spec", "open_for", "ok"),
    [
        (weekly("UTC", time(9), every=1), timedelta(days=7), True),
        (weekly("UTC", time(9), every=1), timedelta(days=7, seconds=1), False),
        (weekly("UTC", time(9), every=3), timedelta(days=21), True),
        (weekly("UTC", time(9), every=3), timedelta(days=22), False),
        (monthly("UTC", time(9), weekday=MON, nth=1), timedelta(days=28), True),
        (monthly("UTC", time(9), weekday=MON, nth=1), timedelta(days=29), False),
    ],
)
def test_window_may_not_exceed_the_minimum_gap(spec: CadenceSpec, open_for: timedelta, ok: bool) -> None:
    assert ("open_for" not in validate_cadence(spec, open_for=open_for)) is ok


def test_reminder_validation() -> None:
    spec = weekly("UTC", time(9))
    window = timedelta(days=3)

    def reminder_error(reminders: list[timedelta]) -> str | None:
        return validate_cadence(spec, open_for=window, reminders=reminders).get("reminders")

    assert reminder_error([timedelta(days=1), timedelta(hours=4)]) is None
    assert reminder_error([timedelta(hours=1)] * 1 + [timedelta(hours=2), timedelta(hours=3)]) is not None
    assert reminder_error([timedelta(0)]) is not None  # at close
    assert reminder_error([-timedelta(hours=1)]) is not None  # after close
    assert reminder_error([window]) is not None  # at opening
    assert reminder_error([window + timedelta(hours=1)]) is not None  # before opening
    assert reminder_error([timedelta(hours=5), timedelta(hours=5)]) is not None


def test_recall_periods_from_science_md() -> None:
    who5, cbi, burnout1 = timedelta(weeks=2), timedelta(weeks=4), timedelta(weeks=1)
    assert check_recall(weekly("UTC", time(9), every=1), who5) is not None
    assert check_recall(weekly("UTC", time(9), every=2), who5) is None
    assert check_recall(weekly("UTC", time(9), every=1), burnout1) is None
    assert check_recall(weekly("UTC", time(9), every=3), cbi) is not None
    assert check_recall(monthly("UTC", time(9), weekday=MON, nth=1), cbi) is None  # 28 days ≥ 4 weeks
    assert check_recall(monthly("UTC", time(9), weekday=MON, nth=1), timedelta(days=29)) is not None
    assert check_recall(weekly("UTC", time(9), every=1), timedelta(0)) is None  # free text
    errors = validate_cadence(weekly("UTC", time(9), every=1), recall=who5)
    assert set(errors) == {"every_weeks"}
    assert "2 weeks" in errors["every_weeks"]
    assert set(validate_cadence(monthly("UTC", time(9), weekday=MON, nth=1), recall=timedelta(weeks=5))) == {
        "kind"
    }


def test_overlapping_asks_between_two_schedules() -> None:
    berlin = "Europe/Berlin"
    # Two four-weekly Monday schedules, two weeks apart on the same grid: fine for WHO-5 (two weeks),
    # not for the CBI (four weeks): each of A's 13 openings in 2026 has a B opening 14 days away.
    team = weekly(berlin, time(9), weekday=MON, start=date(2026, 1, 5), every=4)
    org = weekly(berlin, time(15), weekday=MON, start=date(2026, 1, 19), every=4)
    after, horizon = utc(2026, 1, 1), timedelta(days=364)
    assert overlapping_asks(team, org, recall=timedelta(weeks=2), after=after, horizon=horizon) == []
    conflicts = overlapping_asks(team, org, recall=timedelta(weeks=4), after=after, horizon=horizon)
    assert {c.days_apart for c in conflicts} == {14}
    assert conflicts[0] == AskConflict(first=utc(2026, 1, 5, 8), second=utc(2026, 1, 19, 14), days_apart=14)
    assert len(conflicts) == 13 + 12  # B before and after each A, except before the first one

    # The same schedule twice asks on the same day (Jan 5, Feb 2, Mar 2 within the first 61 days).
    same = overlapping_asks(team, team, recall=timedelta(weeks=2), after=after, horizon=timedelta(days=61))
    assert [c.days_apart for c in same] == [0, 0, 0]

    # Calendar days in the person's zone: Sunday 23:00 in Berlin is already Monday in Kolkata, so the
    # 13 Berlin days between Monday Jan 5 and Sunday Jan 18 are 14 days for a person in Kolkata.
    monday = weekly(berlin, time(9), weekday=MON, start=date(2026, 1, 5), every=4)
    late_sunday = weekly(berlin, time(23), weekday=SUN, start=date(2026, 1, 18), every=4)
    two_weeks, month = timedelta(weeks=2), timedelta(days=28)
    pair = (late_sunday, monday)
    in_berlin = overlapping_asks(*pair, recall=two_weeks, after=after, horizon=month)
    assert in_berlin == [AskConflict(first=utc(2026, 1, 18, 22), second=utc(2026, 1, 5, 8), days_apart=13)]
    in_kolkata = overlapping_asks(*pair, recall=two_weeks, after=after, horizon=month, tz="Asia/Kolkata")
    assert in_kolkata == []


# ---------------------------------------------------------------------------------------------------------
# Properties


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # changes at midnight
    "UTC",
]
# Times around the usual change hours are drawn often, so DST days are actually hit.
awkward_times = st.builds(time, st.integers(0, 3), st.sampled_from([0, 15, 30, 45]))
any_time = st.builds(time, st.integers(0, 23), st.integers(0, 59))


def _awkward_wall_times() -> list[tuple[str, date, time]]:
    """Every (zone, local date, wall time on the quarter hour) in 2025–2027 that is nonexistent or
    ambiguous, found by reading the zone rules rather than by listing them by hand."""
    found = []
    for name in ZONES:
        zone = ZoneInfo(name)
        day = date(2025, 1, 2)
        while day <= date(2027, 12, 31):
            noon = datetime.combine(day, time(12), tzinfo=zone)
            if noon.utcoffset() != (noon - timedelta(days=1)).utcoffset():
                wall = datetime.combine(day - timedelta(days=1), time(12))
                while wall < datetime.combine(day, time(12)):
                    folds = {wall.replace(tzinfo=zone, fold=f).utcoffset() for f in (0, 1)}
                    if len(folds) == 2:  # both readings differ: a gap or an overlap
                        found.append((name, wall.date(), wall.time()))
                    wall += timedelta(minutes=15)
            day += timedelta(days=1)
    return found


AWKWARD = _awkward_wall_times()


@st.composite
def random_schedules(draw: st.DrawFn) -> tuple[CadenceSpec, datetime]:
    kind = draw(st.sampled_from(list(CadenceKind)))
    start = draw(st.dates(date(2025, 1, 1), date(2027, 12, 31)))
    end = draw(st.none() | st.integers(0, 800).map(lambda days: start + timedelta(days=days)))
    pauses = draw(
        st.lists(
            st.tuples(st.integers(0, 400), st.integers(0, 30)).map(
                lambda p: Pause(start + timedelta(days=p[0]), start + timedelta(days=p[0] + p[1]))
            ),
            max_size=3,
        )
    )
    spec = CadenceSpec(
        kind=kind,
        weekday=draw(st.integers(0, 6)),
        local_time=draw(awkward_times | any_time),
        time_zone=draw(st.sampled_from(ZONES)),
        start_date=start,
        every_weeks=draw(st.integers(1, 4)),
        nth_weekday=draw(st.sampled_from([1, 2, 3, 4, LAST])),
        end_date=end,
        pauses=pauses,
    )
    offset = timedelta(minutes=draw(st.integers(-60 * 24 * 40, 60 * 24 * 400)))
    return spec, datetime.combine(start, time(12), tzinfo=UTC) + offset


@st.composite
def dst_schedules(draw: st.DrawFn) -> tuple[CadenceSpec, datetime]:
    """A schedule with an opening at a nonexistent or ambiguous wall time within its first few openings."""
    zone, day, at = draw(st.sampled_from(AWKWARD))
    kind = draw(st.sampled_from(list(CadenceKind)))
    every = draw(st.integers(1, 4))
    if kind == CadenceKind.WEEKLY:
        # The anchor is the first weekday on or after the start, so the grid passes through ``day``.
        anchor = day - timedelta(weeks=every * draw(st.integers(0, 5)))
        start = anchor - timedelta(days=draw(st.integers(0, 6)))
        nth = 1
    else:
        is_last = (day + timedelta(days=7)).month != day.month
        nth = LAST if day.day > 28 or (is_last and draw(st.booleans())) else (day.day - 1) // 7 + 1
        start = day - timedelta(days=draw(st.integers(0, 150)))
    spec = CadenceSpec(
        kind=kind,
        weekday=day.weekday(),
        local_time=at,
        time_zone=zone,
        start_date=start,
        every_weeks=every,
        nth_weekday=nth,
    )
    return spec, datetime.combine(start, time.min, tzinfo=UTC) - timedelta(days=2)


schedules = random_schedules() | dst_schedules()


def _reference_dates(spec: CadenceSpec, limit: date) -> list[date]:
    """Scheduled dates by brute force, day by day, straight from the definition."""
    found = []
    first_on_weekday: date | None = None
    day = spec.start_date
    last = min(limit, spec.end_date) if spec.end_date else limit
    while day <= last:
        if day.weekday() == spec.weekday:
            first_on_weekday = first_on_weekday or day
            if spec.kind == CadenceKind.WEEKLY:
                on_rule = (day - first_on_weekday).days % (7 * spec.every_weeks) == 0
            else:
                same = [
                    d
                    for d in calendar.Calendar().itermonthdates(day.year, day.month)
                    if d.month == day.month and d.weekday() == spec.weekday
                ]
                on_rule = same[spec.nth_weekday - 1 if spec.nth_weekday != LAST else -1] == day
            if on_rule and not any(p.start <= day <= p.end for p in spec.pauses):
                found.append(day)
        day += timedelta(days=1)
    return found


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    return any(
        naive.replace(tzinfo=zone, fold=fold).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive
        for fold in (0, 1)
    )


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(schedule=schedules)
def test_openings_follow_the_definition(schedule: tuple[CadenceSpec, datetime]) -> None:
    spec, after = schedule
    zone = ZoneInfo(spec.time_zone)
    got = openings_after(spec, after, 12)

    assert all(o.tzinfo is UTC for o in got)
    assert all(o > after for o in got)
    assert all(a < b for a, b in pairwise(got))

    # Exactly the brute-force dates whose opening lies after ``after``; no date twice, none missed.
    local_dates = [o.astimezone(zone).date() for o in got]
    assert len(set(local_dates)) == len(local_dates)
    expected = [
        d
        for d in _reference_dates(spec, after.date() + timedelta(days=12 * 40 * spec.every_weeks))
        if wall_clock_to_utc(d, spec.local_time, zone) > after
    ][:12]
    assert local_dates == expected

    for opening, local_date in zip(got, local_dates, strict=True):
        configured = datetime.combine(local_date, spec.local_time)
        wall = opening.astimezone(zone).replace(tzinfo=None)
        if _exists(configured, zone):
            assert wall == configured
            twice = {configured.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)}
            assert opening == min(twice)  # the first occurrence when ambiguous
            if len(twice) == 2:
                event("an opening at an ambiguous wall time")
        else:
            event("an opening at a nonexistent wall time")
            before = (opening - timedelta(days=1)).astimezone(zone).utcoffset()
            now = opening.astimezone(zone).utcoffset()
            assert before is not None
            assert now is not None
            assert wall == configured + (now - before)  # shifted forward by exactly the gap

    for a, b in pairwise(got):
        assert b - a >= minimum_gap(spec) - timedelta(hours=1)


@FAST
@given(schedule=schedules, split=st.integers(1, 5))
def test_openings_do_not_depend_on_when_you_ask(schedule: tuple[CadenceSpec, datetime], split: int) -> None:
    spec, after = schedule
    whole = openings_after(spec, after, 6)
    if len(whole) <= split:
        return
    assert whole[:split] + openings_after(spec, whole[split - 1], 6 - split) == whole
    for opening in whole:
        assert next_opening(spec, opening - ONE_US) == opening
        assert opening_on(spec, opening.astimezone(ZoneInfo(spec.time_zone)).date()) == opening


def _reference_quiet(local: datetime, start: time, end: time, weekends: bool) -> bool:
    if weekends and local.weekday() >= 5:
        return True
    t = local.time().replace(tzinfo=None)
    if start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


@FAST
@given(
    # Hypothesis takes naive bounds and attaches the zone itself.
    instant=st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    zone_name=st.sampled_from(ZONES),
    start=st.sampled_from([time(20), time(22), time(0), time(12)]),
    end=st.sampled_from([time(8), time(7, 30), time(0), time(13)]),
    weekends=st.booleans(),
)
def test_quiet_hours_deferral_is_the_earliest_allowed_instant(
    instant: datetime, zone_name: str, start: time, end: time, weekends: bool
) -> None:
    zone = ZoneInfo(zone_name)
    got = defer_for_quiet_hours(instant, zone_name, start, end, weekends)
    assert got >= instant
    assert not _reference_quiet(got.astimezone(zone), start, end, weekends)
    assert got - instant <= timedelta(days=3, hours=12)
    if got != instant:
        assert _reference_quiet(instant.astimezone(zone), start, end, weekends)
        # Nothing in between is allowed: sample the stretch densely (quiet blocks are at least 30 minutes).
        steps = 200
        for i in range(1, steps):
            between = instant + (got - instant) * i / steps
            assert _reference_quiet(between.astimezone(zone), start, end, weekends)
        assert _reference_quiet((got - timedelta(minutes=1)).astimezone(zone), start, end, weekends) or (
            got - timedelta(minutes=1) < instant
        )


def test_durations_read_as_words() -> None:
    from surveys.cadence import duration_words

    assert duration_words(timedelta(hours=500)) == "20 days and 20 hours"
    assert duration_words(timedelta(days=14)) == "2 weeks"
    assert duration_words(timedelta(days=1)) == "1 day"
    assert duration_words(timedelta(days=1, hours=2, minutes=5)) == "1 day, 2 hours and 5 minutes"
    assert duration_words(timedelta(minutes=90)) == "1 hour and 30 minutes"
