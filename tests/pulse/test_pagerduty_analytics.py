"""PagerDuty Analytics beside the log entries (docs/oncall.md §9.1), against the local server
(pulse.devtools.pagerduty_server), which answers ``POST /analytics/metrics/responders/teams`` from its own
incidents and notifications, or refuses it as an account without Analytics does (402, 403, 404).

Where Analytics answers, each settled week's team sums are stored beside the weeks computed from the log
entries and the admin page compares them; where it does not, the sync stores what it always did and the page
says the counts come from the log entries only. Nothing per responder is stored: not an id, not a name, not
an unkeyed hash, not one row per responder."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test import Client, override_settings

from pulse.analysis.oncall import HourSplit
from pulse.analysis.pagerduty import (
    ANALYTICS_PATH,
    analytics_request,
    analytics_team_interruptions,
    analytics_weeks,
    interruption_checks,
)
from pulse.devtools.pagerduty_server import PagerDutyServer, pagerduty_server
from pulse.models import OncallPage, OncallWeek, PagerDutyAnalyticsWeek
from pulse.models.pagerduty import AnalyticsState, PagerDutyTeamLink, SyncOutcome
from pulse.services.pagerduty import (
    pagerduty_connection_save,
    pagerduty_team_link_save,
    pagerduty_team_sync,
)
from surveys.models import Membership, Team
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY = "u+TestKeyOfTheAccount_9zQ"
MONDAY = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)  # Monday 9 March 2026, 00:00 in Berlin
# Tuesday of the week after: the week of 9 March ended (Berlin) on 15 March 23:00 UTC, over a day ago.
NOW = datetime(2026, 3, 17, 18, 0, tzinfo=UTC)
RESPONDERS = ("PU1", "PU2", "PU3")


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


def _link(server: PagerDutyServer, team: Team, pagerduty_team_id: str = "PTEAM1") -> PagerDutyTeamLink:
    pagerduty_connection_save(organisation_id=team.organisation_id, api_url=server.url, api_key=KEY)
    return pagerduty_team_link_save(
        organisation_id=team.organisation_id,
        team_id=team.pk,
        schedule_ids=["PSCHED1"],
        escalation_policy_ids=[],
        service_ids=["PSERV1"],
        pagerduty_team_id=pagerduty_team_id,
    )


def _fixtures(server: PagerDutyServer) -> None:
    """Three people on call in the week of 9 March; the team's incidents belong to PagerDuty team PTEAM1,
    another service's to another team."""
    server.add_team("PTEAM1", "Site Reliability")
    server.add_team("POTHERTEAM", "Payments")
    server.add_user("PU1", "Europe/Berlin")
    server.add_user("PU2", "America/New_York")
    server.add_user("PU3", "Europe/Berlin")
    for day in range(3):
        start = MONDAY + timedelta(days=day)
        server.add_oncall("PU1", start, start + timedelta(hours=12))
        server.add_oncall("PU2", start + timedelta(hours=12), start + timedelta(hours=24))
        server.add_oncall("PU3", start, start + timedelta(hours=24), level=2)
    # Tuesday 02:00 in Berlin: a push and an SMS 30 s apart wake PU1 once (sleep hours).
    tuesday_night = MONDAY + timedelta(days=1, hours=2)
    server.add_incident("PINC1", tuesday_night, team_ids=("PTEAM1",))
    server.add_notification("PINC1", "PU1", tuesday_night, "push_notification")
    server.add_notification("PINC1", "PU1", tuesday_night + timedelta(seconds=30), "sms_notification")
    # Tuesday 10:00 in New York: PU2 by phone (business hours); PU3 by email, which interrupts no one.
    tuesday_morning = MONDAY + timedelta(days=1, hours=16)
    server.add_incident("PINC2", tuesday_morning, urgency="low", team_ids=("PTEAM1",))
    server.add_notification("PINC2", "PU2", tuesday_morning, "phone_notification")
    server.add_notification("PINC2", "PU3", tuesday_morning, "email_notification")
    # Another service and team's incident notifies PU1 too: neither source counts it for this team.
    evening = MONDAY + timedelta(days=1, hours=21)
    server.add_incident("PINC3", evening, service_id="POTHERSERV", team_ids=("POTHERTEAM",))
    server.add_notification("PINC3", "PU1", evening, "push_notification")


def _analytics_requests(server: PagerDutyServer) -> list[dict[str, object]]:
    return [seen.body for seen in server.requests_to(ANALYTICS_PATH)]


def test_where_analytics_answers_each_settled_week_is_asked_once_and_its_team_sums_stored(
    server: PagerDutyServer, team: Team
) -> None:
    _fixtures(server)
    link = _link(server, team)

    report = pagerduty_team_sync(link_id=link.pk, now=NOW)

    assert report is not None
    assert report.outcome == SyncOutcome.OK
    # One week settled (the week of 16 March is not over): one request, for exactly that week in Berlin.
    assert _analytics_requests(server) == [
        {
            "filters": {
                "date_range_start": "2026-03-09T00:00:00+01:00",
                "date_range_end": "2026-03-16T00:00:00+01:00",
                "team_ids": ["PTEAM1"],
            },
            "time_zone": "Europe/Berlin",
        }
    ]
    assert server.requests_to(ANALYTICS_PATH)[0].method == "POST"
    analysed = PagerDutyAnalyticsWeek.objects.get(team=team)
    assert analysed.week_start == date(2026, 3, 9)
    assert (analysed.interruptions_business, analysed.interruptions_off, analysed.interruptions_sleep) == (
        1,
        0,
        1,
    )
    logged = OncallWeek.objects.get(team=team, week_start=date(2026, 3, 9))
    assert (logged.interruptions_business, logged.interruptions_off, logged.interruptions_sleep) == (1, 0, 1)
    link.refresh_from_db()
    assert (link.analytics_state, link.analytics_status) == (AnalyticsState.AVAILABLE, None)

    # An hour later nothing new has settled: nothing is asked. A week later the next week is, alone.
    pagerduty_team_sync(link_id=link.pk, now=NOW + timedelta(hours=1))
    assert len(_analytics_requests(server)) == 1
    pagerduty_team_sync(link_id=link.pk, now=NOW + timedelta(days=7))
    bodies = _analytics_requests(server)
    assert len(bodies) == 2
    assert bodies[1]["filters"]["date_range_start"] == "2026-03-16T00:00:00+01:00"  # type: ignore[index]
    assert PagerDutyAnalyticsWeek.objects.filter(team=team).count() == 2


def test_the_admin_page_says_the_counts_are_the_log_entries_cross_checked_and_where_they_differ(
    server: PagerDutyServer, team: Team
) -> None:
    _fixtures(server)
    # Created on Sunday 23:59 in Berlin, paging a minute later on Monday: Analytics counts the interruption
    # in the week the incident was created, the log entries in the week it woke PU1.
    sunday = MONDAY + timedelta(days=7) - timedelta(minutes=1)
    server.add_incident("PINC4", sunday, team_ids=("PTEAM1",))
    server.add_notification("PINC4", "PU1", sunday + timedelta(minutes=2), "phone_notification")
    link = _link(server, team)
    with override_settings(LANGUAGE_CODE="en"):
        pagerduty_team_sync(link_id=link.pk, now=NOW + timedelta(days=7))

    week_one = PagerDutyAnalyticsWeek.objects.get(team=team, week_start=date(2026, 3, 9))
    assert week_one.interruptions_sleep == 2
    assert OncallWeek.objects.get(team=team, week_start=date(2026, 3, 9)).interruptions_sleep == 1
    assert OncallWeek.objects.get(team=team, week_start=date(2026, 3, 16)).interruptions_sleep == 1
    assert PagerDutyAnalyticsWeek.objects.get(team=team, week_start=date(2026, 3, 16)).interruptions == 0

    page = _admin_page(team, at=NOW + timedelta(days=7))
    assert "cross-checked with PagerDuty Analytics of team <code>PTEAM1</code>" in page
    assert "they agree in 0 of 2 weeks" in page
    assert (
        "Week of 2026-03-09: log entries 2 (1 business, 0 off, 1 sleep hours), "
        "Analytics 3 (1 business, 0 off, 2 sleep hours)"
    ) in page


def _admin_page(team: Team, at: datetime = NOW) -> str:
    """The PagerDuty page as an admin of the team's organisation sees it at ``at``."""
    admin_user = UserFactory()
    person = PersonFactory(organisation=team.organisation, user=admin_user, is_admin=True)
    MembershipFactory(person=person, team=team, role=Membership.Role.MEMBER)
    client = Client()
    client.force_login(admin_user)
    with time_machine.travel(at, tick=False):
        response = client.get("/manage/oncall/pagerduty/")
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.parametrize("status", [402, 403, 404])
def test_without_analytics_the_sync_stores_the_log_entries_as_before_and_the_page_says_so(
    server: PagerDutyServer, team: Team, status: int
) -> None:
    _fixtures(server)
    server.analytics_error = status
    link = _link(server, team)

    report = pagerduty_team_sync(link_id=link.pk, now=NOW)

    assert report is not None
    assert report.outcome == SyncOutcome.OK
    assert (report.shifts_new, report.pages_new) == (9, 4)
    assert OncallPage.objects.filter(team=team).count() == 4
    week = OncallWeek.objects.get(team=team, week_start=date(2026, 3, 9))
    assert (week.interruptions_business, week.interruptions_off, week.interruptions_sleep) == (1, 0, 1)
    assert not PagerDutyAnalyticsWeek.objects.exists()
    link.refresh_from_db()
    assert (link.analytics_state, link.analytics_status) == (AnalyticsState.UNAVAILABLE, status)
    assert link.last_sync_outcome == SyncOutcome.OK
    page = _admin_page(team)
    assert (
        "PagerDuty's log entries only: PagerDuty Analytics is not available to this account or key "
        f"(HTTP {status})."
    ) in page

    # Not asked again within the day; asked again after it (the account may have bought Analytics).
    pagerduty_team_sync(link_id=link.pk, now=NOW + timedelta(hours=2))
    assert len(_analytics_requests(server)) == 1
    server.analytics_error = None
    pagerduty_team_sync(link_id=link.pk, now=NOW + timedelta(days=1, hours=1))
    assert len(_analytics_requests(server)) == 2
    link.refresh_from_db()
    assert link.analytics_state == AnalyticsState.AVAILABLE
    assert PagerDutyAnalyticsWeek.objects.filter(team=team).count() == 1


def test_an_analytics_error_keeps_the_sync_and_the_week_is_asked_again_next_time(
    server: PagerDutyServer, team: Team
) -> None:
    _fixtures(server)
    link = _link(server, team)
    server.analytics_error = 500

    report = pagerduty_team_sync(link_id=link.pk, now=NOW)

    assert report is not None
    assert report.outcome == SyncOutcome.OK
    assert OncallPage.objects.filter(team=team).count() == 4
    link.refresh_from_db()
    assert (link.analytics_state, link.analytics_status) == (AnalyticsState.FAILED, 500)
    assert "Analytics' last answer was an error (HTTP 500); the next sync asks again." in _admin_page(team)

    server.analytics_error = None
    pagerduty_team_sync(link_id=link.pk, now=NOW + timedelta(hours=1))
    link.refresh_from_db()
    assert link.analytics_state == AnalyticsState.AVAILABLE
    assert PagerDutyAnalyticsWeek.objects.filter(team=team).count() == 1


def test_a_team_with_no_pagerduty_team_is_never_asked_and_the_page_says_how_to_cross_check(
    server: PagerDutyServer, team: Team
) -> None:
    _fixtures(server)
    link = _link(server, team, pagerduty_team_id="")
    pagerduty_team_sync(link_id=link.pk, now=NOW)
    assert _analytics_requests(server) == []
    assert not PagerDutyAnalyticsWeek.objects.exists()
    assert "Name the team's PagerDuty team to cross-check them with PagerDuty Analytics." in _admin_page(team)


def test_naming_another_pagerduty_team_drops_the_figures_of_the_one_before(
    server: PagerDutyServer, team: Team
) -> None:
    _fixtures(server)
    link = _link(server, team)
    pagerduty_team_sync(link_id=link.pk, now=NOW)
    assert PagerDutyAnalyticsWeek.objects.filter(team=team).exists()

    relinked = _link(server, team, pagerduty_team_id="POTHERTEAM")
    assert relinked.pk == link.pk
    assert not PagerDutyAnalyticsWeek.objects.exists()
    assert (relinked.analytics_state, relinked.pagerduty_team_id) == ("", "POTHERTEAM")
    assert relinked.synced_until is not None  # the log entries' cursor is the same objects' and stays


def test_the_admin_links_a_pagerduty_team_through_the_form(server: PagerDutyServer, team: Team) -> None:
    pagerduty_connection_save(organisation_id=team.organisation_id, api_url=server.url, api_key=KEY)
    admin_user = UserFactory()
    PersonFactory(organisation=team.organisation, user=admin_user, is_admin=True)
    client = Client()
    client.force_login(admin_user)
    form = {"action": "link_team", "team": team.pk, "schedule_ids": "PSCHED1", "service_ids": "PSERV1"}
    response = client.post("/manage/oncall/pagerduty/", {**form, "pagerduty_team_id": "PTEAM1"})
    assert response.status_code == 302
    assert PagerDutyTeamLink.objects.get(team=team).pagerduty_team_id == "PTEAM1"
    refused = client.post("/manage/oncall/pagerduty/", {**form, "pagerduty_team_id": "P-TEAM 1"})
    assert refused.status_code == 400
    assert PagerDutyTeamLink.objects.get(team=team).pagerduty_team_id == "PTEAM1"


# --- nothing per responder -------------------------------------------------------------------------------


def _every_pulse_value() -> str:
    """Every column of every row of every table of the pulse app, as the database returns it."""
    cells: list[str] = []
    with connection.cursor() as cursor:
        for model in apps.get_app_config("pulse").get_models():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            cells.extend(str(cell) for row in cursor.fetchall() for cell in row)
    return "\n".join(cells).lower()


def test_nothing_per_responder_is_stored_or_logged_from_analytics(
    server: PagerDutyServer, team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    _fixtures(server)
    link = _link(server, team)
    # What the server answers holds one row per responder, with ids and names: what must not be kept.
    answer = server._responders_by_team(
        analytics_request(
            "PTEAM1",
            analytics_weeks(MONDAY, NOW, "Europe/Berlin")[0],
            "Europe/Berlin",
        )
    )
    assert {row["responder_id"] for row in answer["data"]} == set(RESPONDERS)
    assert {row["responder_name"] for row in answer["data"]} == {f"User {user}" for user in RESPONDERS}

    with caplog.at_level(logging.INFO):  # the production default (LOG_LEVEL)
        pagerduty_team_sync(link_id=link.pk, now=NOW)

    assert PagerDutyAnalyticsWeek.objects.count() == 1  # one row for the team's week, not one per person
    assert {field.name for field in PagerDutyAnalyticsWeek._meta.get_fields()} == {
        "id",
        "team",
        "week_start",
        "starts_at",
        "ends_at",
        "interruptions_business",
        "interruptions_off",
        "interruptions_sleep",
        "fetched_at",
    }
    stored = _every_pulse_value()
    logged = caplog.text.lower()
    for user in RESPONDERS:
        for guess in (
            user,
            f"user {user}",
            f"{user}@example.com",
            *(hashlib.new(name, user.encode()).hexdigest() for name in ("md5", "sha1", "sha256")),
        ):
            assert guess.lower() not in stored, guess
            assert guess.lower() not in logged, guess


# --- the pure parts --------------------------------------------------------------------------------------


def test_the_weeks_asked_are_whole_weeks_of_the_teams_zone_across_a_clock_change() -> None:
    # Berlin moves its clocks on 29 March 2026: that week is 167 hours long, from +01:00 to +02:00.
    weeks = analytics_weeks(
        datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 5, 21, 59, tzinfo=UTC), "Europe/Berlin"
    )
    assert [week.monday for week in weeks] == [date(2026, 3, 16), date(2026, 3, 23)]
    assert weeks[1].ends_at - weeks[1].starts_at == timedelta(hours=167)
    body = analytics_request("PTEAM1", weeks[1], "Europe/Berlin")
    assert body["filters"]["date_range_start"] == "2026-03-23T00:00:00+01:00"
    assert body["filters"]["date_range_end"] == "2026-03-30T00:00:00+02:00"
    # The week of 30 March ends on 6 April at 00:00 in Berlin (5 April, 22:00 UTC): a minute short of it, the
    # week is not over, so it is not asked about.
    assert date(2026, 3, 30) not in [week.monday for week in weeks]
    later = analytics_weeks(
        datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 5, 22, tzinfo=UTC), "Europe/Berlin"
    )
    assert later[-1].monday == date(2026, 3, 30)


def test_the_team_sums_read_only_the_teams_rows_and_refuse_what_is_not_a_count() -> None:
    answer = {
        "data": [
            {"team_id": "PTEAM1", "responder_id": "PU1", "total_sleep_hour_interruptions": 2},
            {
                "team_id": "PTEAM1",
                "responder_id": "PU2",
                "total_business_hour_interruptions": 3,
                "total_off_hour_interruptions": 1,
                "total_sleep_hour_interruptions": 0,
            },
            {"team_id": "POTHER", "responder_id": "PU1", "total_sleep_hour_interruptions": 9},
        ]
    }
    assert analytics_team_interruptions(answer, "PTEAM1") == HourSplit(business=3, off=1, sleep=2)
    assert analytics_team_interruptions({"data": []}, "PTEAM1") == HourSplit()
    for bad in ({}, {"data": None}, {"data": ["row"]}):
        with pytest.raises(ValueError, match="an Analytics"):
            analytics_team_interruptions(bad, "PTEAM1")
    for count in (-1, "2", True, 1.5):
        with pytest.raises(ValueError, match="is not a count"):
            analytics_team_interruptions(
                {"data": [{"team_id": "PTEAM1", "total_off_hour_interruptions": count}]}, "PTEAM1"
            )


def test_only_weeks_both_sources_have_are_compared() -> None:
    one, two, three = date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)
    checks = interruption_checks(
        {one: HourSplit(1, 0, 0), two: HourSplit(0, 0, 2)},
        {two: HourSplit(0, 0, 2), three: HourSplit(5, 0, 0)},
    )
    assert [(check.week_start, check.agrees) for check in checks] == [(two, True)]
    assert not interruption_checks({one: HourSplit(1, 0, 0)}, {one: HourSplit(0, 1, 0)})[0].agrees


def test_the_local_server_refuses_a_range_it_cannot_answer(server: PagerDutyServer) -> None:
    headers = {"Authorization": f"Token token={KEY}"}
    status, body, _ = server.answer("POST", ANALYTICS_PATH, {}, headers, b'{"filters": {}}')
    assert status == 400
    status, _, _ = server.answer(
        "POST",
        ANALYTICS_PATH,
        {},
        headers,
        json.dumps(
            {
                "filters": {
                    "date_range_start": "2025-01-01T00:00:00Z",
                    "date_range_end": "2026-03-01T00:00:00Z",
                }
            }
        ).encode(),
    )
    assert status == 400  # more than a year
    server.analytics_error = 402
    status, body, _ = server.answer("POST", ANALYTICS_PATH, {}, headers, b"{}")
    assert (status, body["error"]["code"]) == (402, 2014)
    status, _, _ = server.answer("POST", ANALYTICS_PATH, {}, {}, b"{}")
    assert status == 401
