"""The PagerDuty sync against a local server that answers like PagerDuty's REST API v2
(pulse.devtools.pagerduty_server): what a full sync stores, that a second stores nothing new, that long
ranges and big result sets are split as the API requires, that 429 is honoured, that a wrong key stores
nothing, and that the pace is shared by every client of one key."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from django.test import override_settings

from pulse.devtools.pagerduty_server import PagerDutyServer, pagerduty_server, parse_time
from pulse.models import OncallPage, OncallShift, OncallWeek
from pulse.models.oncall import ReferenceKind, keyed_reference
from pulse.models.pagerduty import PagerDutyTeamLink, SyncOutcome
from pulse.services.pagerduty import (
    CURSOR_OVERLAP,
    _LocalPacer,
    _RedisPacer,
    pagerduty_connection_save,
    pagerduty_team_link_save,
    pagerduty_team_sync,
)
from surveys.models import Team
from tests.factories import OrganisationFactory, TeamFactory

pytestmark = pytest.mark.django_db

KEY = "u+TestKeyOfTheAccount_9zQ"
NOW = datetime(2026, 3, 11, 18, 0, tzinfo=UTC)  # a Wednesday, PU2 on call (12:00 to midnight)
MONDAY = datetime(2026, 3, 9, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[PagerDutyServer]:
    with (
        pagerduty_server(KEY) as running,
        override_settings(
            PULSE_PAGERDUTY_API_URLS=[running.url],
            PULSE_PAGERDUTY_PACING_URL="",
            PULSE_PAGERDUTY_REQUESTS_PER_MINUTE=60_000,
            PULSE_PAGERDUTY_CA_BUNDLE=str(running.ca_file),
        ),
    ):
        yield running


@pytest.fixture
def team() -> Team:
    organisation = OrganisationFactory(time_zone="Europe/Berlin", min_group_size=3)
    return TeamFactory(organisation=organisation, name="SRE", slug="sre")


def _link(server: PagerDutyServer, team: Team) -> PagerDutyTeamLink:
    pagerduty_connection_save(organisation_id=team.organisation_id, api_url=server.url, api_key=KEY)
    return pagerduty_team_link_save(
        organisation_id=team.organisation_id,
        team_id=team.pk,
        schedule_ids=["PSCHED1"],
        escalation_policy_ids=[],
        service_ids=["PSERV1"],
    )


def _week_of_fixtures(server: PagerDutyServer) -> None:
    """Three people in 12-hour turns this week; another schedule's and another service's rows beside."""
    server.add_user("PU1", "Europe/Berlin")
    server.add_user("PU2", "America/New_York")
    server.add_user("PU3", "Europe/Berlin")
    for day in range(3):
        start = MONDAY + timedelta(days=day)
        server.add_oncall("PU1", start, start + timedelta(hours=12))
        server.add_oncall("PU2", start + timedelta(hours=12), start + timedelta(hours=24))
        server.add_oncall("PU3", start, start + timedelta(hours=24), level=2)
    server.add_oncall("PU9", MONDAY, MONDAY + timedelta(days=1), schedule_id="POTHER")
    # Tuesday 01:00 UTC = 02:00 in Berlin: a push and an SMS 30 s apart wake PU1 once (sleep hours).
    server.add_incident("PINC1", MONDAY + timedelta(days=1, hours=1))
    server.add_notification("PINC1", "PU1", MONDAY + timedelta(days=1, hours=1), "push_notification")
    server.add_notification(
        "PINC1", "PU1", MONDAY + timedelta(days=1, hours=1, seconds=30), "sms_notification"
    )
    server.add_log_entry("PINC1", "acknowledge_log_entry", MONDAY + timedelta(days=1, hours=1, minutes=2))
    # Tuesday 15:00 UTC = 10:00 in New York: PU2 by phone (business hours), and an email that interrupts
    # no one.
    server.add_incident("PINC2", MONDAY + timedelta(days=1, hours=15), urgency="low")
    server.add_notification("PINC2", "PU2", MONDAY + timedelta(days=1, hours=15), "phone_notification")
    server.add_notification("PINC2", "PU3", MONDAY + timedelta(days=1, hours=15), "email_notification")
    # Another service's incident notifies PU1 too: another team's page.
    server.add_incident("PINC3", MONDAY + timedelta(days=1, hours=20), service_id="POTHERSERV")
    server.add_notification("PINC3", "PU1", MONDAY + timedelta(days=1, hours=20), "push_notification")


def test_a_full_sync_stores_the_teams_shifts_pages_and_weeks(server: PagerDutyServer, team: Team) -> None:
    _week_of_fixtures(server)
    link = _link(server, team)

    report = pagerduty_team_sync(link_id=link.pk, now=NOW)

    assert report is not None
    assert report.outcome == SyncOutcome.OK
    assert (report.shifts_new, report.pages_new) == (9, 4)
    org = team.organisation_id

    def ref(value: str) -> str:
        return keyed_reference(org, ReferenceKind.RESPONDER, value)

    shifts = set(OncallShift.objects.filter(team=team).values_list("responder", "starts_at", "level"))
    assert shifts == {
        (ref(user), MONDAY + timedelta(days=day, hours=hour), level)
        for day in range(3)
        for user, hour, level in (("PU1", 0, 1), ("PU2", 12, 1), ("PU3", 0, 2))
    }
    pages = sorted(
        OncallPage.objects.filter(team=team).values_list(
            "responder", "responder_time_zone", "channel", "urgency"
        )
    )
    assert pages == sorted(
        [
            (ref("PU1"), "Europe/Berlin", "push", "high"),
            (ref("PU1"), "Europe/Berlin", "sms", "high"),
            (ref("PU2"), "America/New_York", "phone", "low"),
            (ref("PU3"), "Europe/Berlin", "email", "low"),
        ]
    )
    assert not OncallPage.objects.filter(responder="PU1").exists()  # hashed, never the PagerDuty id
    week = OncallWeek.objects.get(team=team, week_start=date(2026, 3, 9))
    assert (week.interruptions_sleep, week.interruptions_business, week.interruptions_off) == (1, 1, 0)
    assert week.incidents == 1  # PINC2 paged at low urgency only
    assert week.rotation_size == 3

    link.refresh_from_db()
    assert link.synced_until == NOW
    assert link.last_sync_outcome == SyncOutcome.OK
    assert link.sync_started_at is None
    oncall_query = server.requests_to("/oncalls")[-1].query
    assert oncall_query["schedule_ids[]"] == ["PSCHED1"]
    assert oncall_query["time_zone"] == ["UTC"]
    assert all(item.authorised for item in server.seen)


def test_a_second_sync_stores_nothing_new_and_starts_just_before_the_cursor(
    server: PagerDutyServer, team: Team
) -> None:
    _week_of_fixtures(server)
    link = _link(server, team)
    pagerduty_team_sync(link_id=link.pk, now=NOW)
    counts = (OncallShift.objects.count(), OncallPage.objects.count())
    server.seen.clear()

    later = NOW + timedelta(hours=1)
    report = pagerduty_team_sync(link_id=link.pk, now=later)

    assert report is not None
    assert report.outcome == SyncOutcome.OK
    assert (report.shifts_new, report.pages_new) == (0, 0)
    assert (OncallShift.objects.count(), OncallPage.objects.count()) == counts
    since = parse_time(server.requests_to("/oncalls")[0].query["since"][0])
    assert since == NOW - CURSOR_OVERLAP


def test_a_range_longer_than_six_months_is_asked_for_in_windows_of_at_most_six(
    server: PagerDutyServer, team: Team
) -> None:
    _week_of_fixtures(server)
    server.add_incident("POLD", NOW - timedelta(days=300))
    server.add_notification("POLD", "PU1", NOW - timedelta(days=300), "phone_notification")
    link = _link(server, team)

    report = pagerduty_team_sync(link_id=link.pk, now=NOW, since=NOW - timedelta(days=320))

    assert report is not None
    assert report.outcome == SyncOutcome.OK, report
    ranges = sorted(
        (parse_time(seen.query["since"][0]), parse_time(seen.query["until"][0]))
        for seen in server.requests_to("/incidents")
        if "since" in seen.query
    )
    assert len(set(ranges)) >= 2
    assert all(until - since <= timedelta(days=181) for since, until in ranges)
    assert ranges[0][0] <= NOW - timedelta(days=320)
    assert max(until for _, until in ranges) == NOW
    assert OncallPage.objects.filter(team=team).count() == 5  # the old page too


def test_more_results_than_offset_and_limit_may_reach_are_read_by_splitting_the_range(
    server: PagerDutyServer, team: Team
) -> None:
    _week_of_fixtures(server)
    # 10,100 other log entries in one day: one query would need offsets past 10,000, which the API refuses.
    busy = MONDAY + timedelta(days=2)
    for second in range(10_100):
        server.add_log_entry("PINC1", "annotate_log_entry", busy + timedelta(seconds=second))
    link = _link(server, team)

    report = pagerduty_team_sync(link_id=link.pk, now=NOW, since=MONDAY)

    assert report is not None
    assert report.outcome == SyncOutcome.OK, report
    log_requests = server.requests_to("/log_entries")
    assert all(int(seen.query.get("offset", ["0"])[0]) + 100 <= 10_000 for seen in log_requests)
    assert len({(seen.query["since"][0], seen.query["until"][0]) for seen in log_requests}) >= 3
    assert OncallPage.objects.filter(team=team).count() == 4  # every notification found among them


def test_a_429_is_waited_out_for_its_retry_after_and_the_sync_goes_on(
    server: PagerDutyServer, team: Team
) -> None:
    _week_of_fixtures(server)
    link = _link(server, team)
    server.seen.clear()
    server.limit_next(2, retry_after=1)

    report = pagerduty_team_sync(link_id=link.pk, now=NOW)

    assert report is not None
    assert report.outcome == SyncOutcome.OK
    assert OncallPage.objects.filter(team=team).count() == 4
    first, second, third = server.seen[:3]
    assert third.at - first.at >= 2.0  # one Retry-After second after each 429, at least
    assert first.path == second.path == third.path


def test_a_key_that_stays_rate_limited_ends_the_sync_with_that_reason_and_stores_nothing(
    server: PagerDutyServer, team: Team
) -> None:
    _week_of_fixtures(server)
    link = _link(server, team)
    server.limit_next(1000, retry_after=0)

    report = pagerduty_team_sync(link_id=link.pk, now=NOW)

    assert report is not None
    assert report.outcome == SyncOutcome.RATE_LIMITED
    assert report.status == 429
    assert not OncallShift.objects.exists()
    assert not OncallPage.objects.exists()
    link.refresh_from_db()
    assert link.synced_until is None
    assert link.last_sync_outcome == SyncOutcome.RATE_LIMITED


def test_a_key_refused_later_stops_the_sync_stores_nothing_and_keeps_the_cursor(
    server: PagerDutyServer, team: Team
) -> None:
    _week_of_fixtures(server)
    link = _link(server, team)
    server.data.api_key = "a-new-key-after-rotation"

    report = pagerduty_team_sync(link_id=link.pk, now=NOW)

    assert report is not None
    assert report.outcome == SyncOutcome.KEY_REFUSED
    assert report.status == 401
    assert not OncallShift.objects.exists()
    assert not OncallPage.objects.exists()
    link.refresh_from_db()
    assert (link.synced_until, link.last_sync_outcome, link.last_sync_status) == (None, "key_refused", 401)


def test_a_sync_already_running_elsewhere_is_not_run_twice(server: PagerDutyServer, team: Team) -> None:
    link = _link(server, team)
    PagerDutyTeamLink.objects.filter(pk=link.pk).update(sync_started_at=NOW - timedelta(minutes=1))
    assert pagerduty_team_sync(link_id=link.pk, now=NOW) is None
    assert server.requests_to("/oncalls") == []
    # A lease older than a task may live is a dead worker's: taken over.
    assert pagerduty_team_sync(link_id=link.pk, now=NOW + timedelta(hours=1)) is not None


def _redis_url() -> str:
    return os.environ.get("PULSE_TEST_PACING_URL", "redis://127.0.0.1:6379/12")


@pytest.fixture
def shared_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(_redis_url(), socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"needs a Redis at {_redis_url()} (PULSE_TEST_PACING_URL)")
    name = f"pulse:test:pace:{os.getpid()}"
    client.delete(f"{name}:tat", f"{name}:pause")
    yield client
    client.delete(f"{name}:tat", f"{name}:pause")


def test_two_workers_with_one_key_share_one_pace_through_redis(shared_redis: redis.Redis) -> None:
    name = f"pulse:test:pace:{os.getpid()}"
    turns: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        pacer = _RedisPacer(shared_redis, name, per_minute=1200)  # one every 0.05 s
        for _ in range(20):
            pacer.wait_turn()
            with lock:
                turns.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 40 turns: the burst of 10 (+1) at once, the other 29 spaced 0.05 s apart, whichever worker took them.
    assert len(turns) == 40
    assert max(turns) - started >= 29 * 0.05 - 0.05


def test_a_429_seen_by_one_worker_pauses_the_other(shared_redis: redis.Redis) -> None:
    name = f"pulse:test:pace:{os.getpid()}"
    one, other = _RedisPacer(shared_redis, name, per_minute=60_000), _RedisPacer(shared_redis, name, 60_000)
    one.pause(0.5)
    started = time.monotonic()
    other.wait_turn()
    assert time.monotonic() - started >= 0.45


def test_without_redis_one_process_keeps_the_pace_itself() -> None:
    pacer = _LocalPacer(per_minute=1200)
    started = time.monotonic()
    for _ in range(21):
        pacer.wait_turn()
    assert time.monotonic() - started >= 9 * 0.05 - 0.01
