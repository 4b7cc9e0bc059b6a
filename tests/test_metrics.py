"""GET /metrics over HTTP: only with the bearer token, Prometheus' text format, the system's state read from
the database at scrape time, the senders' and drains' counters, and nothing personal in it."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from pulse.models import AuthEmail
from pulse.services.auth_emails import auth_email_queue
from pulse.services.notifications import escalation_clock_start
from pulse.services.team_results import (
    no_action_reminders_queue_due,
    team_results_emails_send_due,
    team_summaries_queue_due,
)
from pulse.services.team_summary_slack import team_summary_slack_send_due
from surveys.models import Instrument, Invitation, Organisation, Person, Schedule, Team
from surveys.services.rounds import rounds_open_due, schedule_refresh
from surveys.services.tick import queue_drain, tick_heartbeat_start
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value
from tests.pulse.helpers_slack import local_slack, slack_connect

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-0123456789"
UTC = dt.UTC
OPENS = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def scrape(client: Client, token: str | None = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def open_round(members: int) -> Schedule:
    organisation = OrganisationFactory(name="Acme Secret Org", time_zone="Europe/Berlin")
    team = TeamFactory(organisation=organisation, name="Team Nightingale", time_zone="Europe/Berlin")
    for index in range(members):
        person = PersonFactory(
            organisation=organisation, email=f"alice{index}@example.org", display_name=f"Alice {index}"
        )
        MembershipFactory(person=person, team=team, starts_on=dt.date(2025, 1, 1))
    schedule = Schedule.objects.create(
        organisation=organisation,
        team=team,
        name="Weekly",
        weekday=0,
        local_time=dt.time(10, 0),
        starts_on=dt.date(2026, 11, 1),
        reminder_1=None,
    )
    schedule.instruments.set(Instrument.objects.filter(key="workload1"))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    with time_machine.travel(OPENS + dt.timedelta(seconds=10), tick=False):
        rounds_open_due()
    return schedule


def test_without_a_configured_token_there_is_no_endpoint(client: Client) -> None:
    with override_settings(PULSE_METRICS_TOKEN=""):
        assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
        assert client.get("/metrics").status_code == 404


@override_settings(PULSE_METRICS_TOKEN=TOKEN)
def test_a_request_without_the_right_token_gets_nothing(client: Client) -> None:
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    for wrong in (TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "é" * 10):
        response = client.get("/metrics", headers={"Authorization": f"Bearer {wrong}"})
        assert response.status_code == 403
        assert b"pulse_" not in response.content
    assert client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405
    assert client.get("/metrics/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


@override_settings(PULSE_METRICS_TOKEN=TOKEN, EMAIL_BACKEND=LOCMEM)
def test_the_scrape_reports_due_messages_rounds_the_tick_and_what_the_senders_did(client: Client) -> None:
    open_round(5)
    person = Person.objects.first()
    assert person is not None
    late = OPENS + dt.timedelta(minutes=7)
    with time_machine.travel(late, tick=False):
        auth_email_queue(
            kind=AuthEmail.Kind.SIGN_IN_LINK, address=person.email, now=late - dt.timedelta(minutes=1)
        )
        tick_heartbeat_start(now=late - dt.timedelta(seconds=42))
        before = scrape(client)
    assert before["pulse_messages_due", (("transport", "checkin_email"),)] == 5
    assert before["pulse_messages_oldest_due_age_seconds", (("transport", "checkin_email"),)] == 7 * 60
    assert before["pulse_messages_due", (("transport", "sign_in_email"),)] == 1
    assert before["pulse_messages_oldest_due_age_seconds", (("transport", "sign_in_email"),)] == 60
    assert before["pulse_messages_due", (("transport", "slack"),)] == 0
    assert before["pulse_rounds", (("state", "open"),)] == 1
    assert before["pulse_rounds", (("state", "closing"),)] == 0
    assert before["pulse_tick_age_seconds", ()] == 42
    assert before["pulse_messages_total", (("outcome", "sent"), ("transport", "checkin_email"))] == 0

    # A worker's drain sends them (in this process here; the counters live in the database, so a scrape
    # served by any web process sees what every worker did).
    with time_machine.travel(late, tick=False):
        handled = queue_drain(queue="sending", budget=5)
        after = scrape(client)
    assert handled["surveys.services.emails.emails_send_due"] == 5
    assert after["pulse_messages_due", (("transport", "checkin_email"),)] == 0
    assert after["pulse_messages_oldest_due_age_seconds", (("transport", "checkin_email"),)] == 0
    assert after["pulse_messages_total", (("outcome", "sent"), ("transport", "checkin_email"))] == 5
    assert after["pulse_messages_total", (("outcome", "sent"), ("transport", "sign_in_email"))] == 1
    assert after["pulse_step_rows_total", (("step", "emails_send_due"),)] == 5
    assert after["pulse_step_runs_total", (("step", "emails_send_due"),)] >= 2  # until a run finds nothing
    assert after["pulse_step_seconds_total", (("step", "emails_send_due"),)] > 0
    assert after["pulse_step_failures_total", (("step", "emails_send_due"),)] == 0

    # Past the close, before the close step: closing.
    with time_machine.travel(OPENS + dt.timedelta(days=3, minutes=1), tick=False):
        closing = scrape(client)
    assert closing["pulse_rounds", (("state", "open"),)] == 0
    assert closing["pulse_rounds", (("state", "closing"),)] == 1


@override_settings(PULSE_METRICS_TOKEN=TOKEN)
def test_the_scrape_names_no_one_and_costs_a_few_queries(client: Client) -> None:
    open_round(8)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        seconds = time.perf_counter() - started
    assert response.status_code == 200
    body = response.content.decode()
    names = [
        *Person.objects.values_list("email", flat=True),
        *Person.objects.values_list("display_name", flat=True),
        *Team.objects.values_list("name", flat=True),
        *Organisation.objects.values_list("name", flat=True),
        *(str(pk) for pk in Invitation.objects.values_list("round_id", flat=True)),
    ]
    assert names
    leaked = [name for name in names if name and name in body.replace("pulse_", "")]
    # Round ids are small integers that appear in values; only names and addresses may not appear at all.
    assert [name for name in leaked if not name.isdigit()] == []
    assert "round" not in {
        label for family in text_string_to_metric_families(body) for s in family.samples for label in s.labels
    }
    # Nine reads of the database (the outboxes, the rounds, the tick, the counters), whatever the size.
    assert len(queries) == 9, [q["sql"] for q in queries]
    assert seconds < 1.0


@override_settings(PULSE_METRICS_TOKEN=TOKEN, EMAIL_BACKEND=LOCMEM)
def test_the_scrape_counts_the_team_summaries_and_no_action_reminders(client: Client) -> None:
    org = ReportOrg(k=5)
    org.round(
        {"Root": {BURNOUT: Value(14, 2.8), RATE: (16, 14)}, "A": {BURNOUT: Value(8, 3.4), RATE: (9, 8)}}
    )
    alice, bernd, carla = (org.person(name, member_of="A") for name in ("Alice", "Bernd", "Carla"))
    lena = org.person("Lena", leads="A")
    seen = timezone.now()  # an escalation clock starts at the wall clock
    flag = org.flag("A", opened_at=seen, created_at=seen)
    escalation_clock_start(flag=flag, now=seen)
    aggregated = org.rounds[-1].aggregated_at
    assert aggregated is not None
    now = aggregated + dt.timedelta(hours=49)

    def team_results(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
        return {
            "{kind}/{channel}/{outcome}".format(**dict(labels)): value
            for (name, labels), value in scraped.items()
            if name == "pulse_team_results_messages_total"
        }

    with local_slack() as slack:
        slack_connect(slack, org, [alice, carla])  # Slack only (the default); Bernd and Lena: email
        team_summaries_queue_due(now=now)  # DMs to Alice and Carla, emails to Bernd and Lena
        no_action_reminders_queue_due(now=seen + dt.timedelta(days=8))  # Lena, about the flag
        with time_machine.travel(now + dt.timedelta(minutes=5), tick=False):
            queued = scrape(client)
        assert team_results(queued) == {
            "no_action_reminder/email/failed": 0,
            "no_action_reminder/email/queued": 1,
            "no_action_reminder/email/sent": 0,
            "no_action_reminder/slack/failed": 0,
            "no_action_reminder/slack/queued": 0,
            "no_action_reminder/slack/sent": 0,
            "summary/email/failed": 0,
            "summary/email/queued": 2,
            "summary/email/sent": 0,
            "summary/slack/failed": 0,
            "summary/slack/queued": 2,
            "summary/slack/sent": 0,
        }
        assert (
            queued["pulse_messages_due", (("transport", "team_results_email"),)] == 2
        )  # the reminder: later
        assert queued["pulse_messages_due", (("transport", "team_results_slack"),)] == 2
        assert queued["pulse_messages_oldest_due_age_seconds", (("transport", "team_results_slack"),)] == 300

        del slack.users[carla.email.lower()]  # Slack no longer knows Carla: her DM fails for good
        assert team_summary_slack_send_due() == 1
        assert team_results_emails_send_due(now=seen + dt.timedelta(days=8)) == 3
        done = scrape(client)
    counts = team_results(done)
    assert counts["summary/slack/sent"] == counts["summary/slack/failed"] == 1
    assert counts["summary/email/sent"] == 2
    assert counts["no_action_reminder/email/sent"] == 1
    assert counts["summary/slack/queued"] == 2  # queued counts every message, whatever became of it
    assert done["pulse_messages_due", (("transport", "team_results_slack"),)] == 0
    assert done["pulse_messages_total", (("outcome", "sent"), ("transport", "slack"))] == 1
    assert done["pulse_messages_total", (("outcome", "failed"), ("transport", "slack"))] == 1
    body = "\n".join(str(key) for key in done)
    for person in (alice, bernd, carla, lena):
        assert person.display_name not in body
        assert person.email not in body
