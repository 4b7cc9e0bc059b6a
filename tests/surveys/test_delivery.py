"""Exactly once, against real servers: a real SMTP server, real PostgreSQL races, a real Celery worker on
Redis, and a sender killed mid-batch."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from celery import Celery
from django.conf import settings
from django.db import connection, connections
from django.test import override_settings

from surveys.models import Instrument, Invitation, OutgoingEmail, Round, Schedule
from surveys.services.emails import emails_send_due
from surveys.services.rounds import rounds_open_due, schedule_refresh
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
OPENS = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class CountingHandler:
    """An SMTP server's handler that records every recipient; some addresses fail, some answer slowly."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.received: Counter[str] = Counter()
        self.delay = delay
        self.lock = threading.Lock()
        self.temporary_failures_left: Counter[str] = Counter()
        self.messages: list[bytes] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        with self.lock:
            if self.temporary_failures_left[address] > 0:
                self.temporary_failures_left[address] -= 1
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received[address] += 1
            self.messages.append(envelope.original_content or b"")
        return "250 Message accepted"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[CountingHandler, int]]:
    handler = CountingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_settings(port: int) -> override_settings:
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port
    )


def open_round(members: int, *, prefix: str = "person") -> tuple[Schedule, list[str]]:
    organisation = OrganisationFactory(time_zone="Europe/Berlin")
    team = TeamFactory(organisation=organisation, time_zone="Europe/Berlin")
    emails = []
    for index in range(members):
        person = PersonFactory(organisation=organisation, email=f"{prefix}{index}@example.org")
        MembershipFactory(person=person, team=team, starts_on=dt.date(2025, 1, 1))
        emails.append(person.email)
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
    return schedule, emails


@pytest.mark.django_db
def test_every_invitation_reaches_a_real_smtp_server_once(smtp_server: tuple[CountingHandler, int]) -> None:
    handler, port = smtp_server
    _schedule, emails = open_round(12)
    with smtp_settings(port), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        rounds_open_due()
        assert emails_send_due(batch=5) == 5
        assert emails_send_due(batch=100) == 7
        assert emails_send_due() == 0
    assert handler.received == Counter(dict.fromkeys(emails, 1))
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_an_unreachable_mail_server_backs_the_batch_off() -> None:
    _schedule, _emails = open_round(3)
    with smtp_settings(free_port()), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        rounds_open_due()
        assert emails_send_due() == 0
    rows = list(OutgoingEmail.objects.values_list("status", "attempts", "claimed_until", "due_at"))
    assert rows == [("pending", 1, None, OPENS + dt.timedelta(minutes=3))] * 3


@pytest.mark.django_db
def test_messages_sent_through_the_smtp_template_are_complete_and_escaped(
    smtp_server: tuple[CountingHandler, int],
) -> None:
    import email
    from email import policy

    handler, port = smtp_server
    schedule, _emails = open_round(2)
    person = schedule.team.memberships.first().person
    person.display_name = "Zoë <O'Brien> & Co"
    person.locale = "de"
    person.save()
    with smtp_settings(port), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        rounds_open_due()
        assert emails_send_due() == 2
    parsed = [email.message_from_bytes(raw, policy=policy.default) for raw in handler.messages]
    assert len({message["Message-ID"] for message in parsed}) == 2
    zoe = next(message for message in parsed if message["To"] == person.email)
    text = zoe.get_body(preferencelist=("plain",)).get_content()
    html = zoe.get_body(preferencelist=("html",)).get_content()
    assert "Hallo Zoë <O'Brien> & Co," in text
    assert "Zoë &lt;O&#x27;Brien&gt; &amp; Co" in html
    assert zoe["Subject"] == "Ihr einminütiger Team-Check-in"
    links = [line for line in text.splitlines() if "/checkin/" in line]
    assert len(links) == 1
    assert links[0].split("/checkin/")[1].rstrip("/") in html
    assert "Pulse" not in zoe["To"]


@pytest.mark.django_db
def test_a_refused_address_fails_permanently_and_a_busy_server_is_retried_with_backoff(
    smtp_server: tuple[CountingHandler, int],
) -> None:
    handler, port = smtp_server
    _schedule, _emails = open_round(2)
    organisation = Schedule.objects.get().organisation
    bounce = PersonFactory(organisation=organisation, email="bounce@example.org")
    MembershipFactory(person=bounce, team=Schedule.objects.get().team, starts_on=dt.date(2025, 1, 1))
    handler.temporary_failures_left["person0@example.org"] = 2
    with smtp_settings(port):
        with time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
            rounds_open_due()
            assert emails_send_due() == 1  # person1 only
        failed = OutgoingEmail.objects.get(invitation__person=bounce)
        assert failed.status == "failed"
        assert failed.last_error.startswith("recipient refused: 550")
        busy = OutgoingEmail.objects.get(invitation__person__email="person0@example.org")
        assert (busy.status, busy.attempts) == ("pending", 1)
        assert busy.due_at == OPENS + dt.timedelta(minutes=1) + dt.timedelta(minutes=2)
        with time_machine.travel(OPENS + dt.timedelta(minutes=2), tick=False):
            assert emails_send_due() == 0  # not due yet: backing off
        with time_machine.travel(OPENS + dt.timedelta(minutes=4), tick=False):
            assert emails_send_due() == 0  # second temporary failure, backs off 4 minutes
        with time_machine.travel(OPENS + dt.timedelta(minutes=9), tick=False):
            assert emails_send_due() == 1
    assert handler.received == Counter({"person0@example.org": 1, "person1@example.org": 1})
    assert OutgoingEmail.objects.get(invitation__person=bounce).attempts == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_several_ticks_at_once_open_one_round_and_send_each_email_once(
    smtp_server: tuple[CountingHandler, int],
) -> None:
    handler, port = smtp_server
    schedule, emails = open_round(40)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            with smtp_settings(port), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
                barrier.wait()
                rounds_open_due()
                for _ in range(5):
                    emails_send_due(batch=7)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Round.objects.filter(schedule=schedule).count() == 1
    assert Invitation.objects.count() == 40
    assert OutgoingEmail.objects.count() == 40
    assert handler.received == Counter(dict.fromkeys(emails, 1))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_mid_batch_resends_at_most_that_batch() -> None:
    handler = CountingHandler(delay=0.05)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
            _schedule, emails = open_round(60)
            rounds_open_due()
        # The subprocess runs on the real clock: make the emails due now (the round itself is still open).
        OutgoingEmail.objects.update(due_at=dt.datetime.now(UTC) - dt.timedelta(minutes=1))
        database = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
        }
        script = (
            "from surveys.services.emails import emails_send_due\nwhile emails_send_due(batch=20): pass\n"
        )
        sender = subprocess.Popen([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while sum(handler.received.values()) < 25 and time.monotonic() < deadline:
            time.sleep(0.02)
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        delivered_before = sum(handler.received.values())
        assert 25 <= delivered_before < 60
        # A restarted sender picks the killed batch up once its claim has expired.
        with (
            override_settings(
                EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=port,
            ),
            time_machine.travel(dt.datetime.now(UTC) + dt.timedelta(minutes=11), tick=False),
        ):
            while emails_send_due(batch=20):
                pass
        assert set(handler.received) == set(emails)  # nobody missed
        duplicates = sum(count - 1 for count in handler.received.values())
        assert duplicates <= 20  # at most the batch in flight
        assert OutgoingEmail.objects.filter(status="sent").count() == 60
    finally:
        controller.stop()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_runs_the_tick() -> None:
    from config.celery import app

    schedule, _emails = open_round(6)
    Schedule.objects.filter(pk=schedule.pk).update(
        next_opening_at=dt.datetime.now(UTC) - dt.timedelta(minutes=1)
    )
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    app.conf.broker_url = settings.CELERY_BROKER_URL
    # A queue of its own, so no other worker on this Redis (another test run) takes the messages.
    queue = f"test-{uuid.uuid4().hex}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            run_worker_until_done(app, queue, schedule)
    finally:
        app.conf.task_default_queue = previous_queue
    assert Round.objects.filter(schedule=schedule).count() == 1
    assert Invitation.objects.count() == 6
    assert OutgoingEmail.objects.filter(status="sent").count() == 6


def run_worker_until_done(app: Celery, queue: str, schedule: Schedule) -> None:
    from celery.contrib.testing.worker import start_worker

    from surveys.tasks import tick

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=[queue]):
        tick.delay()
        tick.delay()  # a repeated tick must not open a second round
        deadline = time.monotonic() + 90  # generous: a loaded 2-core CI machine starts workers slowly
        while time.monotonic() < deadline and not (
            Round.objects.filter(schedule=schedule).exists()
            and OutgoingEmail.objects.filter(status="sent").count() == 6
        ):
            time.sleep(0.2)
        time.sleep(1)
