"""On-call load metrics (pulse.analysis.oncall), each expected value computed by hand in the test's comment.

Dates: in 2026 Europe/Berlin springs forward on Sunday 29 March (ISO week 13: 167 hours) and falls back on
Sunday 25 October (week 43: 169 hours); America/New_York springs forward on Sunday 8 March and falls back on
Sunday 1 November.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from pulse.analysis.oncall import (
    SRE_SOURCE,
    IsoWeek,
    Page,
    Shift,
    hour_type,
    interruptions,
    week_load,
    weekly_load,
    zone,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
TEAM = "sre"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def page(
    when: str,
    responder: str = "r1",
    *,
    channel: str = "push",
    incident: str = "i1",
    urgency: str = "high",
    responder_zone: str = BERLIN,
    team: str = TEAM,
) -> Page:
    return Page(team, responder, responder_zone, at(when), incident, urgency, channel)  # type: ignore[arg-type]


def shift(
    start: str, end: str, responder: str = "r1", *, level: int = 1, site: str = "", team: str = TEAM
) -> Shift:
    return Shift(team, responder, at(start), at(end), level, site)


def full_week(week: IsoWeek, responder: str, tz: str = BERLIN, *, site: str = "", level: int = 1) -> Shift:
    start, end = week.bounds(zone(tz))
    return Shift(TEAM, responder, start, end, level, site)


# --- hour types --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-06-15T07:59:59", "sleep"),  # Monday
        ("2026-06-15T08:00:00", "business"),
        ("2026-06-15T17:59:59", "business"),
        ("2026-06-15T18:00:00", "off"),
        ("2026-06-19T21:59:59", "off"),  # Friday
        ("2026-06-19T22:00:00", "sleep"),
        ("2026-06-20T08:00:00", "off"),  # Saturday daytime
        ("2026-06-21T13:00:00", "off"),  # Sunday
        ("2026-06-21T23:30:00", "sleep"),
        ("2026-06-20T03:00:00", "sleep"),
    ],
)
def test_hour_types_follow_pagerduty_s_boundaries(local: str, expected: str) -> None:
    tz = zone(NEW_YORK)
    assert hour_type(datetime.fromisoformat(local).replace(tzinfo=tz), tz) == expected


def test_hour_type_is_read_on_the_responder_s_clock_across_a_dst_change() -> None:
    tz = zone(NEW_YORK)
    # Monday 9 March 2026, 12:30 UTC: 08:30 EDT (UTC−4, after the change) is business hours; on last week's
    # offset (EST, UTC−5) it would have been 07:30, sleep.
    assert hour_type(at("2026-03-09T12:30:00+00:00"), tz) == "business"
    assert hour_type(at("2026-03-02T12:30:00+00:00"), tz) == "sleep"
    # Monday 2 November 2026, 12:30 UTC: 07:30 EST after falling back, sleep; a week earlier 08:30 EDT.
    assert hour_type(at("2026-11-02T12:30:00+00:00"), tz) == "sleep"
    assert hour_type(at("2026-10-26T12:30:00+00:00"), tz) == "business"


# --- interruptions -----------------------------------------------------------------------------------------


def test_one_destination_within_60_seconds_is_one_interruption_and_email_never_interrupts() -> None:
    pages = [
        page("2026-06-15T10:00:00+00:00", channel="push"),
        page("2026-06-15T10:00:30+00:00", channel="sms", incident="i2"),  # same person, 30 s: same
        page("2026-06-15T10:01:00+00:00", channel="phone"),  # 60 s after the opener: same (inclusive)
        page("2026-06-15T10:01:01+00:00", channel="push"),  # 61 s: a new interruption
        page("2026-06-15T10:05:00+00:00", channel="email"),  # email: none
        page("2026-06-15T10:00:10+00:00", "r2", channel="phone"),  # another destination: its own
    ]
    found = interruptions(pages)
    assert [(item.responder, item.opened_at) for item in found] == [
        ("r1", at("2026-06-15T10:00:00+00:00")),
        ("r2", at("2026-06-15T10:00:10+00:00")),
        ("r1", at("2026-06-15T10:01:01+00:00")),
    ]


def test_the_60_second_window_is_anchored_not_chained() -> None:
    # Ten pushes 30 s apart (0, 30, …, 270 s): openers at 0, 90, 180 and 270 s (each next opener is the first
    # one more than 60 s after the last), so four interruptions.
    start = at("2026-06-15T10:00:00+00:00")
    pages = [page((start + timedelta(seconds=30 * n)).isoformat()) for n in range(10)]
    openers = [item.opened_at - start for item in interruptions(pages)]
    assert openers == [timedelta(seconds=s) for s in (0, 90, 180, 270)]


def test_interruptions_split_by_the_responder_s_zone_and_counted_in_the_team_s_week() -> None:
    week = IsoWeek(2026, 25)  # Mon 15 June – Sun 21 June 2026, Berlin
    pages = [
        # Berlin responder, Monday 10:00 CEST: business.
        page("2026-06-15T10:00:00+02:00"),
        # New York responder, Monday 10:00 CEST = 04:00 EDT: sleep on their clock.
        page("2026-06-15T10:00:00+02:00", "ny", responder_zone=NEW_YORK),
        # Berlin responder, Wednesday 19:30: off hours.
        page("2026-06-17T19:30:00+02:00"),
        # Berlin responder, Saturday 11:00: off hours (weekend daytime).
        page("2026-06-20T11:00:00+02:00"),
        # Berlin responder, Sunday 23:30 CEST: still week 25 in Berlin, sleep.
        page("2026-06-21T23:30:00+02:00"),
        # Monday 00:30 CEST: week 26, not counted.
        page("2026-06-22T00:30:00+02:00"),
    ]
    load = week_load(TEAM, BERLIN, week, [full_week(week, "r1")], pages, k=1)
    assert (load.interruptions.business, load.interruptions.off, load.interruptions.sleep) == (1, 2, 2)
    assert load.interruptions.total == 5


def test_a_week_starts_at_the_team_s_local_monday() -> None:
    # Sunday 29 March 2026, 15:30 UTC is Monday 30 March 00:30 in Tokyo: week 14 for a Tokyo team.
    pages = [page("2026-03-29T15:30:00+00:00", responder_zone="Asia/Tokyo")]
    w13 = week_load(TEAM, "Asia/Tokyo", IsoWeek(2026, 13), [], pages, k=1)
    w14 = week_load(TEAM, "Asia/Tokyo", IsoWeek(2026, 14), [], pages, k=1)
    assert (w13.interruptions.total, w14.interruptions.total) == (0, 1)
    assert w14.interruptions.sleep == 1  # 00:30 in Tokyo


# --- time on call ------------------------------------------------------------------------------------------


def test_dst_weeks_are_167_and_169_hours_long() -> None:
    tz = zone(BERLIN)
    lengths = {}
    for number in (10, 13, 43):
        start, end = IsoWeek(2026, number).bounds(tz)
        lengths[number] = (end - start).total_seconds() / 3600
    assert lengths == {10: 168.0, 13: 167.0, 43: 169.0}


def test_share_of_time_on_call_divides_by_the_real_length_of_a_dst_week() -> None:
    spring, autumn = IsoWeek(2026, 13), IsoWeek(2026, 43)
    spring_shifts = [
        full_week(spring, "whole"),
        # Friday 27 March 08:00 to Sunday 29 March 02:00 CET, 42 real hours, all before the change.
        shift("2026-03-27T08:00:00+01:00", "2026-03-29T02:00:00+01:00", "part"),
    ]
    autumn_shifts = [
        full_week(autumn, "whole"),
        # Saturday 24 October 12:00 CEST to Sunday 25 October 12:00 CET: 25 real hours across the fall back.
        shift("2026-10-24T12:00:00+02:00", "2026-10-25T12:00:00+01:00", "part"),
    ]
    # Each the team's first week, so each share is over that week alone (the cycle starts with the data).
    spring_load = week_load(TEAM, BERLIN, spring, spring_shifts, [], k=1)
    autumn_load = week_load(TEAM, BERLIN, autumn, autumn_shifts, [], k=1)
    assert (spring_load.cycle_weeks, autumn_load.cycle_weeks) == (1, 1)
    assert spring_load.hours == 167
    assert spring_load.on_call_share == {"whole": 1.0, "part": pytest.approx(42 / 167)}
    assert autumn_load.hours == 169
    assert autumn_load.on_call_share == {"whole": 1.0, "part": pytest.approx(25 / 169)}


def test_shifts_are_cut_at_the_cycle_s_edges_and_a_person_s_overlaps_count_once() -> None:
    week = IsoWeek(2026, 25)  # its cycle: weeks 22 to 25, Monday 25 May to Monday 22 June, 672 hours
    shifts = [
        # Someone else in week 20, long before: the team's data starts there, so the cycle is whole.
        shift("2026-05-11T09:00:00+02:00", "2026-05-11T10:00:00+02:00", "before"),
        # Sunday 24 May 12:00 to Monday 25 May 12:00 CEST: 12 of its 24 hours fall in the cycle.
        shift("2026-05-24T12:00:00+02:00", "2026-05-25T12:00:00+02:00"),
        # Monday 06:00–18:00 overlaps the first by 6 hours: together Monday 00:00–18:00, 18 hours.
        shift("2026-05-25T06:00:00+02:00", "2026-05-25T18:00:00+02:00", level=2),
        # Given in UTC: Wednesday 17 June 08:00–20:00 CEST, 12 hours. 18 + 12 = 30 hours.
        shift("2026-06-17T06:00:00+00:00", "2026-06-17T18:00:00+00:00"),
    ]
    load = week_load(TEAM, BERLIN, week, shifts, [], k=1)
    assert load.cycle_weeks == 4
    assert load.on_call_share == {"r1": pytest.approx(30 / 672)}  # "before" is not in the rotation


def test_maximum_and_median_run_over_the_rotation_and_a_share_above_25_percent_is_a_reason() -> None:
    week = IsoWeek(2026, 25)  # the cycle: weeks 22 to 25, 672 hours
    shifts = [
        shift("2026-06-15T00:00:00+02:00", "2026-06-18T12:00:00+02:00", "a"),  # 84 h
        shift("2026-05-25T00:00:00+02:00", "2026-06-01T00:00:00+02:00", "a"),  # week 22: 168 h more
        shift("2026-06-18T12:00:00+02:00", "2026-06-20T06:00:00+02:00", "b"),  # 42 h
        shift("2026-06-20T06:00:00+02:00", "2026-06-22T00:00:00+02:00", "c"),  # 42 h
        shift("2026-06-01T00:00:00+02:00", "2026-06-08T00:00:00+02:00", "d"),  # week 23: 168 h
        shift("2026-05-18T00:00:00+02:00", "2026-05-25T00:00:00+02:00", "e"),  # week 21: outside 4 weeks
    ]
    load = week_load(TEAM, BERLIN, week, shifts, [], k=1)
    assert load.rotation_size == 4
    # a 252 of 672 hours, b and c 42 each, d 168: every share is over the whole cycle.
    assert load.on_call_share == {"a": 0.375, "b": 0.0625, "c": 0.0625, "d": 0.25}
    assert load.max_on_call_share == 0.375
    assert load.median_on_call_share == pytest.approx((0.0625 + 0.25) / 2)
    on_call = [reason for reason in load.reasons if reason.code == "time_on_call"]
    assert len(on_call) == 1
    assert (on_call[0].measured, on_call[0].threshold, on_call[0].source) == (0.375, 0.25, SRE_SOURCE)
    assert on_call[0].weeks == 4
    assert "Being On-Call" in on_call[0].source


def test_a_weekly_rota_of_four_is_within_25_percent_and_one_of_three_is_not() -> None:
    # The SRE book's reading of its limit: with week-long shifts, each of four people is on call one week a
    # month. Judged week by week, the person on call (100 % of that week) would breach it every week.
    weeks = [IsoWeek(2026, n) for n in (22, 23, 24, 25)]
    four = [full_week(week, "abcd"[n]) for n, week in enumerate(weeks)]
    load = week_load(TEAM, BERLIN, weeks[-1], four, [], k=1)
    assert load.on_call_share == {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}
    assert [reason.code for reason in load.reasons] == [
        "rotation_size"
    ]  # 4 at one site: too few, not too long
    three = [full_week(week, "abc"[n % 3]) for n, week in enumerate(weeks)]
    load = week_load(TEAM, BERLIN, weeks[-1], three, [], k=1)
    assert load.on_call_share == {"a": 0.5, "b": 0.25, "c": 0.25}  # "a" has weeks 22 and 25
    assert [reason.code for reason in load.reasons] == ["time_on_call", "rotation_size"]
    assert "of the 4 weeks ending with this one" in load.reasons[0].text


def test_the_cycle_starts_with_the_team_s_first_week_of_data() -> None:
    # Weeks before the first shift are unknown, not idle: a rota of four imported from week 22 on is judged
    # over one, two, three and then four weeks, and its first person's one week is 100 % of the first.
    weeks = [IsoWeek(2026, n) for n in (22, 23, 24, 25, 26)]
    rota = [full_week(week, "abcd"[n % 4]) for n, week in enumerate(weeks)]
    series = weekly_load(TEAM, BERLIN, rota, [], k=1)
    assert [load.cycle_weeks for load in series] == [1, 2, 3, 4, 4]
    assert [load.max_on_call_share for load in series] == [1.0, 0.5, pytest.approx(1 / 3), 0.25, 0.25]


def test_exactly_25_percent_is_within_the_limit() -> None:
    week = IsoWeek(2026, 25)
    shifts = [shift("2026-06-15T00:00:00+02:00", "2026-06-16T18:00:00+02:00", name) for name in "abcdefgh"]
    load = week_load(TEAM, BERLIN, week, shifts, [], k=1)  # 42 h of 168 each, 8 at one site
    assert load.max_on_call_share == 0.25
    assert load.reasons == ()


# --- incidents per 12-hour shift ---------------------------------------------------------------------------


def incident_pages(count: int, first: str) -> list[Page]:
    start = at(first)
    return [page((start + timedelta(hours=n)).isoformat(), incident=f"i{n}") for n in range(count)]


def test_incidents_per_12_hour_shift_over_level_1_coverage() -> None:
    week = IsoWeek(2026, 25)
    rota = [full_week(week, name) for name in "abcdefgh"]  # 8 primaries overlapping: 168 h covered once
    rota.append(full_week(week, "secondary", level=2))
    # 168 h of primary coverage is 14 twelve-hour shifts; 28 incidents is 2.0 per shift, 30 is 30/14.
    at_limit = week_load(TEAM, BERLIN, week, rota, incident_pages(28, "2026-06-15T01:00:00+02:00"), k=1)
    above = week_load(TEAM, BERLIN, week, rota, incident_pages(30, "2026-06-15T01:00:00+02:00"), k=1)
    assert (at_limit.primary_hours, at_limit.incidents, at_limit.incidents_per_shift) == (168, 28, 2.0)
    assert [reason.code for reason in at_limit.reasons] == ["time_on_call"]  # everyone on call all week
    assert above.incidents_per_shift == pytest.approx(30 / 14)
    per_shift = [reason for reason in above.reasons if reason.code == "incidents_per_shift"]
    assert per_shift[0].threshold == 2
    assert per_shift[0].measured == pytest.approx(2.142857, abs=1e-6)


def test_an_incident_counts_once_in_the_week_of_its_first_high_urgency_page() -> None:
    week = IsoWeek(2026, 25)
    # Primary Monday 08:00–20:00 only: 12 hours, one shift.
    rota = [shift("2026-06-15T08:00:00+02:00", "2026-06-15T20:00:00+02:00")]
    pages = [
        page("2026-06-15T09:00:00+02:00", incident="x"),
        page("2026-06-15T09:10:00+02:00", "r2", incident="x"),  # same incident again
        page("2026-06-15T10:00:00+02:00", incident="y", channel="email"),  # email still an incident
        page("2026-06-15T11:00:00+02:00", incident="low", urgency="low"),  # low urgency only: not counted
        page("2026-06-14T23:00:00+02:00", incident="old"),  # first paged in week 24
        page("2026-06-15T12:00:00+02:00", incident="old"),
    ]
    load = week_load(TEAM, BERLIN, week, rota, pages, k=1)
    assert (load.incidents, load.primary_hours, load.incidents_per_shift) == (2, 12, 2.0)


def test_no_primary_coverage_leaves_the_rate_undefined() -> None:
    week = IsoWeek(2026, 25)
    load = week_load(
        TEAM, BERLIN, week, [full_week(week, "b", level=2)], [page("2026-06-15T09:00:00+02:00")], k=1
    )
    assert load.incidents == 1
    assert load.incidents_per_shift is None


# --- rotation size -----------------------------------------------------------------------------------------


def rota_at(week: IsoWeek, sites: dict[str, int]) -> list[Shift]:
    return [full_week(week, f"{site}-{n}", site=site) for site, size in sites.items() for n in range(size)]


def rotation_reasons(week: IsoWeek, shifts: list[Shift]) -> list[tuple[float, float, str]]:
    load = week_load(TEAM, BERLIN, week, shifts, [], k=1)
    return [(r.measured, r.threshold, r.text) for r in load.reasons if r.code == "rotation_size"]


def test_rotation_size_counts_distinct_people_over_four_weeks() -> None:
    week = IsoWeek(2026, 25)
    shifts = [
        full_week(IsoWeek(2026, 22), "a"),  # 3 weeks back: in
        full_week(IsoWeek(2026, 21), "b"),  # 4 weeks back: out
        full_week(IsoWeek(2026, 24), "a"),  # again: counted once
        full_week(week, "c"),
        full_week(IsoWeek(2026, 26), "d"),  # next week: out
    ]
    assert week_load(TEAM, BERLIN, week, shifts, [], k=1).rotation_size == 2


def test_one_site_needs_eight_and_two_sites_six_each() -> None:
    week = IsoWeek(2026, 25)
    assert rotation_reasons(week, rota_at(week, {"": 8})) == []
    [(measured, threshold, _)] = rotation_reasons(week, rota_at(week, {"": 7}))
    assert (measured, threshold) == (7, 8)
    assert rotation_reasons(week, rota_at(week, {"dublin": 6, "zurich": 6})) == []
    [(measured, threshold, text)] = rotation_reasons(week, rota_at(week, {"dublin": 7, "zurich": 5}))
    assert (measured, threshold) == (5, 6)
    assert "2 sites" in text


def test_three_sites_apply_the_per_site_minimum_and_say_so() -> None:
    week = IsoWeek(2026, 25)
    [(measured, _, text)] = rotation_reasons(week, rota_at(week, {"a": 6, "b": 6, "c": 4}))
    assert measured == 4
    assert "the book speaks of two sites" in text


def test_a_responder_counts_at_the_site_of_their_latest_shift() -> None:
    week = IsoWeek(2026, 25)
    shifts = [full_week(IsoWeek(2026, 23), "mover", site="dublin"), full_week(week, "mover", site="zurich")]
    assert week_load(TEAM, BERLIN, week, shifts, [], k=1).rotation_by_site == {"zurich": 1}


# --- concentration -----------------------------------------------------------------------------------------


def test_concentration_is_the_most_loaded_share_only_at_k_or_more_people() -> None:
    week = IsoWeek(2026, 25)
    rota = [full_week(week, name) for name in ("a", "b", "c", "d", "e")]
    pages = [
        page("2026-06-15T10:00:00+02:00", "a"),
        page("2026-06-15T11:00:00+02:00", "a"),
        page("2026-06-15T12:00:00+02:00", "a"),
        page("2026-06-15T12:00:30+02:00", "a"),  # within 60 s: not another interruption
        page("2026-06-16T10:00:00+02:00", "b"),
    ]
    assert week_load(TEAM, BERLIN, week, rota, pages, k=5).concentration == 0.75  # 3 of 4
    assert week_load(TEAM, BERLIN, week, rota, pages, k=6).concentration is None
    assert week_load(TEAM, BERLIN, week, rota, [], k=5).concentration is None  # nothing to share


def test_concentration_runs_over_the_rotation_s_four_weeks_so_a_weekly_rota_spreads_its_pages() -> None:
    # Eight people, one whole week each: whoever is on call carries all of that week's pages. Over the cycle
    # the pages spread over the four people of its four weeks, and only someone taking more stands out.
    weeks = [IsoWeek(2026, number) for number in range(20, 28)]
    rota = [full_week(week, f"p{index}") for index, week in enumerate(weeks)]
    pages = []
    for index, week in enumerate(weeks):
        start, _ = week.bounds(zone(BERLIN))
        for hour in range(3):
            moment = (start + timedelta(days=1, hours=10 + hour)).isoformat()
            pages.append(page(moment, f"p{index}", incident=f"i{index}-{hour}"))
    last = weeks[-1]
    assert week_load(TEAM, BERLIN, last, rota, pages, k=4).concentration == 0.25  # 3 of 12, not 3 of 3
    # The week before, p6 also answered twelve escalations: 15 of the cycle's 24 pages, more than half.
    start, _ = weeks[-2].bounds(zone(BERLIN))
    extra = [
        page((start + timedelta(days=2, hours=hour)).isoformat(), "p6", incident=f"x{hour}")
        for hour in range(12)
    ]
    assert week_load(TEAM, BERLIN, last, rota, pages + extra, k=4).concentration == 15 / 24


# --- whole series and inputs -------------------------------------------------------------------------------


def test_weekly_load_covers_every_week_of_the_team_and_ignores_other_teams() -> None:
    shifts = [
        shift("2026-06-14T12:00:00+02:00", "2026-06-16T12:00:00+02:00"),  # weeks 24 and 25
        shift("2026-01-01T00:00:00+01:00", "2026-01-02T00:00:00+01:00", team="other"),
    ]
    pages = [page("2026-07-01T09:00:00+02:00"), page("2026-12-01T09:00:00+01:00", team="other")]
    loads = weekly_load(TEAM, BERLIN, shifts, pages, k=1)
    assert [str(load.week) for load in loads] == [f"2026-W{n}" for n in range(24, 28)]
    assert [load.interruptions.total for load in loads] == [0, 0, 0, 1]
    assert weekly_load("nobody", BERLIN, shifts, pages, k=1) == []


def test_an_interruption_opened_on_sunday_night_takes_monday_s_first_seconds_with_it() -> None:
    # Sunday 21 June 23:59:30 CEST opens an interruption in week 25; a push 40 s later (Monday 00:00:10, week
    # 26) falls inside its 60 s and is no interruption of week 26's. The incident counts in week 25 only.
    pages = [page("2026-06-21T23:59:30+02:00"), page("2026-06-22T00:00:10+02:00")]
    rota = [shift("2026-06-15T00:00:00+02:00", "2026-06-29T00:00:00+02:00")]
    w25, w26 = weekly_load(TEAM, BERLIN, rota, pages, k=1)
    assert (w25.interruptions.sleep, w26.interruptions.total) == (1, 0)
    assert (w25.incidents, w26.incidents) == (1, 0)
    assert week_load(TEAM, BERLIN, IsoWeek(2026, 26), rota, pages, k=1).interruptions.total == 0


def test_a_series_says_what_each_week_says_on_its_own() -> None:
    # Eight weeks across Berlin's spring change: a rota of three at two sites, pages every 7 hours to a
    # responder in New York and one in Berlin, each incident paged twice (the second 5 minutes later).
    rota = []
    first_monday = IsoWeek(2026, 10).bounds(zone(BERLIN))[0]
    for n in range(8):
        start = first_monday + timedelta(weeks=n)
        rota.append(Shift(TEAM, "abc"[n % 3], start, start + timedelta(days=7), 1, "ab"[n % 2]))
        rota.append(Shift(TEAM, "abc"[(n + 1) % 3], start, start + timedelta(days=3), 2, "ab"[(n + 1) % 2]))
    pages = []
    for n in range(8 * 24):
        moment = first_monday + timedelta(hours=7 * n)
        for repeat in (0, 5):
            pages.append(
                Page(
                    TEAM,
                    "ny" if n % 2 else "a",
                    NEW_YORK if n % 2 else BERLIN,
                    moment + timedelta(minutes=repeat),
                    f"i{n}",
                    "high" if n % 5 else "low",
                    "email" if n % 7 == 0 else "push",
                )
            )
    series = weekly_load(TEAM, BERLIN, rota, pages, k=2)
    # The shifts are 7 × 24 real hours from Monday 2 March 00:00 CET; after the spring change that is 01:00
    # CEST, so the last one runs an hour into week 18.
    assert [str(load.week) for load in series] == [f"2026-W{n}" for n in range(10, 19)]
    # Week 18's cycle is weeks 15 to 18 (6 April 00:00 to 4 May 00:00 CEST, 672 hours). a: primary 13–20
    # April (168 h) and secondary 6–9 April (72 h); b: the last hour of the primary ending 6 April 01:00,
    # primary 20–27 April (168 h) and secondary 13–16 April (72 h); c: primary 6–13 April (168 h) and
    # secondary 20–23 April (72 h).
    assert series[-1].on_call_share == {
        "a": pytest.approx(240 / 672),
        "b": pytest.approx(241 / 672),
        "c": pytest.approx(240 / 672),
    }
    assert series == [week_load(TEAM, BERLIN, load.week, rota, pages, k=2) for load in series]
    assert sum(load.interruptions.total for load in series) == 2 * (8 * 24 - len(range(0, 8 * 24, 7)))


def test_iso_weeks_cross_the_year_boundary() -> None:
    assert str(IsoWeek(2026, 53).shifted(1)) == "2027-W01"
    assert IsoWeek.of(at("2027-01-03T12:00:00+00:00"), zone(BERLIN)) == IsoWeek(2026, 53)
    with pytest.raises(ValueError, match="53"):
        IsoWeek(2027, 53)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Shift(TEAM, "r", at("2026-01-01T00:00"), at("2026-01-02T00:00+00:00")), "UTC offset"),
        (lambda: shift("2026-01-02T00:00:00+00:00", "2026-01-01T00:00:00+00:00"), "end after it starts"),
        (lambda: shift("2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00", level=3), "level is 1 or 2"),
        (lambda: shift("2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00", ""), "responder reference"),
        (lambda: page("2026-01-01T00:00:00+00:00", channel="pigeon"), "channel is one of"),
        (lambda: page("2026-01-01T00:00:00+00:00", urgency="urgent"), "urgency is high or low"),
        (lambda: page("2026-01-01T00:00:00+00:00", responder_zone="Mars/Olympus"), "unknown time zone"),
        (lambda: page("2026-01-01T00:00:00"), "UTC offset"),
    ],
)
def test_inputs_are_refused_when_they_cannot_be_measured(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        week_load(TEAM, BERLIN, IsoWeek(2026, 25), [], [], k=0)
    with pytest.raises(ValueError, match="k must be at least 1"):
        weekly_load(TEAM, BERLIN, [], [], k=0)
