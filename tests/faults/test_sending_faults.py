"""Faults met while sending, with real Celery workers and beat on this test's own Redis, the run's
PostgreSQL and an SMTP sink that counts every message: a worker killed mid-batch, a slow mail server, and
two beats at once. Time is scaled down (``Deployment``): a tick a second, a claim of 8 s extended every
second, so what takes minutes in production takes seconds here."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import time

import pytest
from django.utils import timezone

from surveys.models import Instrument, Invitation, Round, Schedule
from surveys.services import emails as emails_module
from surveys.services.schedules import schedule_save
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory
from tests.faults.conftest import Deployment, SmtpSink, record
from tests.helpers_rounds import open_round

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait_until_sent(round_: Round, count: int, *, timeout: float) -> float:
    """Seconds until ``count`` invitations of the round have their invitation email recorded as sent."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if Invitation.objects.filter(round=round_, email_outcomes__startswith="s").count() >= count:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_worker_killed_while_sending_resends_at_most_its_group_and_the_rest_follows(
    deployment: Deployment, smtp_sink: SmtpSink
) -> None:
    smtp_sink.sink.delay = 0.05
    setup = open_round(people_per_team=(60,), instruments=("workload1",))
    invitations = Invitation.objects.filter(round=setup.round).count()
    deployment.start_beat()
    worker = deployment.start_worker()
    deadline = time.monotonic() + 60
    while smtp_sink.sink.total < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool: a machine lost mid-batch
    worker.wait(timeout=10)
    killed_at = time.monotonic()
    delivered_before = smtp_sink.sink.total
    deployment.start_worker()
    waited = _wait_until_sent(setup.round, invitations, timeout=60)
    finished = time.monotonic() - killed_at
    sink = smtp_sink.sink
    sent = Invitation.objects.filter(round=setup.round, email_outcomes="s").count()
    record(
        f"worker SIGKILLed while sending {invitations} invitations",
        f"each delivered, <= {emails_module.RECORD_EVERY_MESSAGES} duplicates (group in flight), "
        f"rest within the claim ({deployment.claim_seconds:.0f} s, production 120 s)",
        f"killed after {delivered_before}; {len(sink.received)} addresses reached, "
        f"{sink.duplicates} duplicates, "
        f"{sent} recorded sent, all done {finished:.1f} s after the kill",
    )
    assert waited < 60, deployment.processes.tails()
    assert delivered_before < invitations  # killed mid-batch
    assert len(sink.received) == invitations
    assert sink.duplicates <= emails_module.RECORD_EVERY_MESSAGES
    assert sent == invitations
    # No ten-minute stall: the killed sender's rows wait out its short claim, plus a new worker's start-up.
    assert finished < deployment.claim_seconds + 30


def test_a_slow_mail_server_sends_nothing_twice(deployment: Deployment, smtp_sink: SmtpSink) -> None:
    """Each message takes 1 to 4 s to be accepted, so one batch outlives its claim many times over, while
    two senders (a worker of concurrency 2, a tick a second) look for work all the while."""
    smtp_sink.sink.delay = (1.0, 4.0)
    setup = open_round(people_per_team=(8,), instruments=("workload1",))
    invitations = Invitation.objects.filter(round=setup.round).count()
    deployment.start_worker(concurrency=2)
    deployment.start_beat()
    took = _wait_until_sent(setup.round, invitations, timeout=120)
    time.sleep(2 * deployment.tick_seconds)  # a late duplicate would arrive now
    sink = smtp_sink.sink
    sent = Invitation.objects.filter(round=setup.round, email_outcomes="s").count()
    record(
        f"slow SMTP (1-4 s a message), {invitations} invitations, 2 senders, "
        f"claim {deployment.claim_seconds:.0f} s",
        "0 duplicates, each sent once",
        f"{sink.total} delivered to {len(sink.received)} addresses in {took:.0f} s, "
        f"{sink.duplicates} duplicates, "
        f"{len(sink.message_ids)} Message-IDs, {sent} recorded sent",
    )
    assert sink.duplicates == 0
    assert len(sink.received) == sent == invitations
    assert len(sink.message_ids) == invitations


def _schedule_due_now(people: int) -> Schedule:
    """A schedule on a team of ``people``, due a minute ago and not opened yet (the tick opens it)."""
    organisation = OrganisationFactory()
    team = TeamFactory(organisation=organisation)
    for index in range(people):
        person = PersonFactory(organisation=organisation, email=f"beats{index}@example.org")
        MembershipFactory(person=person, team=team, starts_on=dt.date(2025, 1, 1))
    now = timezone.now()
    schedule = Schedule(
        organisation=organisation,
        team=team,
        name="Weekly",
        local_time=dt.time(10, 0),
        starts_on=now.date() - dt.timedelta(days=30),
        quiet_start=dt.time(0, 0),
        quiet_end=dt.time(0, 0),  # equal bounds: no quiet hours, so the emails are due at once
        quiet_weekends=False,
    )
    schedule_save(schedule=schedule, instruments=list(Instrument.objects.filter(key="workload1")[:1]))
    Schedule.objects.filter(pk=schedule.pk).update(next_opening_at=now - dt.timedelta(minutes=1))
    return schedule


def test_two_beats_for_a_while_open_one_round_and_send_each_email_once(
    deployment: Deployment, smtp_sink: SmtpSink
) -> None:
    people = 20
    schedule = _schedule_due_now(people)
    deployment.start_worker(concurrency=2)
    beats = [deployment.start_beat(schedule=f"beat-{number}") for number in (1, 2)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and smtp_sink.sink.total < people:
        time.sleep(0.2)
    time.sleep(5)  # both beats keep ticking: nothing more may arrive
    ticks = [
        len(re.findall(r"Sending due task pulse-tick", deployment.processes.log_of(beat))) for beat in beats
    ]
    rounds = Round.objects.filter(schedule=schedule).count()
    invitations = Invitation.objects.filter(round__schedule=schedule).count()
    sink = smtp_sink.sink
    record(
        f"two beats ticking at once, a round due for {people} people",
        f"1 round, {people} invitations, {people} emails, 0 duplicates",
        f"ticks sent {ticks[0]} + {ticks[1]}; {rounds} round, {invitations} invitations, "
        f"{sink.total} emails, {sink.duplicates} duplicates",
    )
    assert min(ticks) >= 3, deployment.processes.tails()  # both really ticked, several times
    assert rounds == 1
    assert invitations == people
    assert sink.total == people
    assert sink.duplicates == 0
