"""Exactly once, against real servers: a real SMTP server, real PostgreSQL races, a real Celery worker on
Redis, and a sender killed mid-batch."""

from __future__ import annotations

import datetime as dt
import http.server
import json
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
from typing import ClassVar

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from celery import Celery
from django.conf import settings
from django.core import mail
from django.db import connection, connections
from django.test import override_settings

from surveys.models import Instrument, Invitation, Round, Schedule
from surveys.sealing import KeyRing, open_token
from surveys.services import emails as emails_module
from surveys.services.answering import response_submit
from surveys.services.emails import MAX_ATTEMPTS, emails_claim, emails_mark_handled, emails_send_due
from surveys.services.rounds import rounds_open_due, schedule_refresh
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory
from tests.helpers_broker import use_broker
from tests.helpers_rounds import answers_for

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
OPENS = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class CountingHandler:
    """An SMTP server's handler that records every recipient; some addresses fail, some answer slowly."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.received: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.delay = delay
        self.lock = threading.Lock()
        self.temporary_failures_left: Counter[str] = Counter()
        self.messages: list[bytes] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("bounce"):
            with self.lock:
                self.refused[address] += 1
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
        # Several tests send on the real clock (a subprocess, threads); the sender checks quiet hours at
        # send time, so with them a run at night in Berlin would wait for the morning.
        quiet_start=dt.time(0, 0),
        quiet_end=dt.time(0, 0),
        quiet_weekends=False,
    )
    schedule.instruments.set(Instrument.objects.filter(key="workload1"))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    return schedule, emails


def due_on_the_real_clock() -> None:
    """For senders on the real clock (a subprocess, threads): the invitations' emails are due now, and their
    round, opened at ``OPENS``, and its links are still open then. Its window from ``OPENS`` ends on a fixed
    day, and the sender skips the emails of a closed round or an expired link, so after that day these
    tests would find nothing to send."""
    now = dt.datetime.now(UTC)
    later = now + dt.timedelta(days=2)
    Round.objects.update(closes_at=later)
    Invitation.objects.update(email_due_at=now - dt.timedelta(minutes=1), expires_at=later)


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
    assert set(Invitation.objects.values_list("email_outcomes", "emails_handled", "email_due_at")) == {
        ("s", 1, None)
    }


@pytest.mark.django_db
def test_an_unreachable_mail_server_backs_the_batch_off() -> None:
    _schedule, _emails = open_round(3)
    with smtp_settings(free_port()), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        rounds_open_due()
        assert emails_send_due() == 0
    rows = list(
        Invitation.objects.values_list(
            "emails_handled", "email_attempts", "email_claim", "email_claimed_until", "email_due_at"
        )
    )
    assert rows == [(0, 1, None, None, OPENS + dt.timedelta(minutes=3))] * 3
    assert set(Invitation.objects.values_list("email_error", flat=True)) == {
        "cannot connect: ConnectionRefusedError"
    }


@pytest.mark.django_db
def test_a_message_that_keeps_failing_is_given_up_after_max_attempts_and_the_reminder_still_goes() -> None:
    schedule, _emails = open_round(3)
    Schedule.objects.filter(pk=schedule.pk).update(reminder_1=dt.timedelta(hours=24))
    moment = OPENS + dt.timedelta(minutes=1)
    with smtp_settings(free_port()):
        with time_machine.travel(moment, tick=False):
            rounds_open_due()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with time_machine.travel(moment, tick=False):
                assert emails_send_due() == 0
            rows = set(Invitation.objects.values_list("emails_handled", "email_attempts", "email_due_at"))
            if attempt < MAX_ATTEMPTS:
                moment += dt.timedelta(minutes=2**attempt)
                assert rows == {(0, attempt, moment)}
    # Given up: recorded as failed; the row moves on to the reminder with a fresh count of attempts.
    reminder_due = OPENS + dt.timedelta(days=2)
    assert rows == {(1, 0, reminder_due)}
    assert set(Invitation.objects.values_list("email_outcomes", "email_error")) == {
        ("f", "cannot connect: ConnectionRefusedError")
    }
    with time_machine.travel(reminder_due, tick=False):
        assert emails_send_due() == 3  # the locmem backend: the mail server is back
    assert set(Invitation.objects.values_list("email_outcomes", "email_due_at")) == {("fs", None)}
    assert all("Reminder" in message.subject for message in mail.outbox)


@pytest.mark.django_db
def test_messages_sent_through_the_smtp_template_are_complete_and_escaped(
    smtp_server: tuple[CountingHandler, int],
) -> None:
    import email
    from email import policy

    handler, port = smtp_server
    schedule, _emails = open_round(2)
    membership = schedule.team.memberships.first()
    assert membership is not None
    person = membership.person
    person.display_name = "Zoë <O'Brien> & Co"
    person.locale = "de"
    person.save()
    with smtp_settings(port), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        rounds_open_due()
        assert emails_send_due() == 2
    parsed = [email.message_from_bytes(raw, policy=policy.default) for raw in handler.messages]
    assert len({message["Message-ID"] for message in parsed}) == 2
    zoe = next(message for message in parsed if message["To"] == person.email)
    plain, rich = zoe.get_body(preferencelist=("plain",)), zoe.get_body(preferencelist=("html",))
    assert plain is not None
    assert rich is not None
    text, html = plain.get_content(), rich.get_content()
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
        failed = Invitation.objects.get(person=bounce)
        assert (failed.emails_handled, failed.email_outcomes, failed.email_due_at) == (1, "f", None)
        assert failed.email_error.startswith("recipient refused: 550")
        busy = Invitation.objects.get(person__email="person0@example.org")
        assert (busy.emails_handled, busy.email_attempts) == (0, 1)
        assert busy.email_due_at == OPENS + dt.timedelta(minutes=1) + dt.timedelta(minutes=2)
        with time_machine.travel(OPENS + dt.timedelta(minutes=2), tick=False):
            assert emails_send_due() == 0  # not due yet: backing off
        with time_machine.travel(OPENS + dt.timedelta(minutes=4), tick=False):
            assert emails_send_due() == 0  # second temporary failure, backs off 4 minutes
        with time_machine.travel(OPENS + dt.timedelta(minutes=9), tick=False):
            assert emails_send_due() == 1
    assert handler.received == Counter({"person0@example.org": 1, "person1@example.org": 1})
    assert handler.refused == Counter({"bounce@example.org": 1})  # never retried
    outcomes = dict(Invitation.objects.values_list("person__email", "email_outcomes"))
    assert outcomes == {"person0@example.org": "s", "person1@example.org": "s", "bounce@example.org": "f"}
    busy = Invitation.objects.get(person__email="person0@example.org")
    assert (busy.email_attempts, busy.email_due_at) == (0, None)  # handled: nothing left to send


@pytest.mark.django_db
def test_a_sender_whose_claim_expired_cannot_mark_the_message_a_second_time(
    smtp_server: tuple[CountingHandler, int],
) -> None:
    handler, port = smtp_server
    schedule, emails = open_round(3)
    Schedule.objects.filter(pk=schedule.pk).update(reminder_1=dt.timedelta(hours=24))
    with smtp_settings(port):
        with time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
            rounds_open_due()
            # A sender claims the batch and stalls (a long GC pause, a hung connection) past its claim.
            stale_claim, stale_rows = emails_claim(now=OPENS + dt.timedelta(minutes=1))
            assert len(stale_rows) == 3
            assert emails_send_due() == 0  # claimed: nobody else sends them meanwhile
        with time_machine.travel(OPENS + dt.timedelta(minutes=12), tick=False):
            assert emails_send_due() == 3  # the claim expired: another sender takes the batch over
        # The stalled sender wakes up and records what it believes it sent: nothing changes, so the
        # reminder is not counted as handled along with the invitation.
        emails_mark_handled([row.pk for row in stale_rows], stale_claim, Invitation.EmailOutcome.SENT)
    assert handler.received == Counter(dict.fromkeys(emails, 1))
    rows = set(Invitation.objects.values_list("emails_handled", "email_outcomes", "email_due_at"))
    assert rows == {(1, "s", OPENS + dt.timedelta(days=2))}  # next: the reminder, 24 h before the close


@pytest.mark.django_db
def test_a_link_sealed_with_a_key_no_longer_in_the_ring_fails_permanently(
    smtp_server: tuple[CountingHandler, int],
) -> None:
    handler, port = smtp_server
    _schedule, _emails = open_round(2)
    with smtp_settings(port), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        rounds_open_due()
        with override_settings(PULSE_TOKEN_KEYS=[b"n" * 32]):  # the round's key was rotated out too early
            assert emails_send_due() == 0
            assert emails_send_due() == 0
    assert not handler.received
    rows = set(Invitation.objects.values_list("email_outcomes", "email_due_at", "email_error"))
    assert rows == {("f", None, "the link's key is no longer in the key ring")}


@pytest.mark.django_db
def test_a_reminder_is_skipped_for_whoever_has_answered(smtp_server: tuple[CountingHandler, int]) -> None:
    handler, port = smtp_server
    schedule, emails = open_round(3)
    Schedule.objects.filter(pk=schedule.pk).update(reminder_1=dt.timedelta(hours=24))
    with smtp_settings(port):
        with time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
            rounds_open_due()
            assert emails_send_due() == 3
            round_ = Round.objects.get()
            ring = KeyRing.from_settings()
            answerer = Invitation.objects.select_related("person").order_by("person__email").first()
            assert answerer is not None
            assert answerer.sealed_token is not None
            response_submit(token=open_token(ring, bytes(answerer.sealed_token)), answers=answers_for(round_))
        with time_machine.travel(OPENS + dt.timedelta(days=2), tick=False):
            assert emails_send_due() == 2
            assert emails_send_due() == 0
    assert handler.received == Counter({emails[0]: 1, emails[1]: 2, emails[2]: 2})
    outcomes = dict(Invitation.objects.values_list("person__email", "email_outcomes"))
    assert outcomes == {emails[0]: "sk", emails[1]: "ss", emails[2]: "ss"}
    assert not Invitation.objects.exclude(email_due_at=None).exists()


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
            barrier.wait()
            rounds_open_due()
            for _ in range(5):
                emails_send_due(batch=7)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    # Settings and the clock are process-wide: set once here. Entered in each thread, they would be undone
    # out of order and leave another thread's SMTP settings behind for the tests that follow.
    with smtp_settings(port), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        threads = [threading.Thread(target=tick) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert Round.objects.filter(schedule=schedule).count() == 1
    assert Invitation.objects.count() == 40
    assert handler.received == Counter(dict.fromkeys(emails, 1))
    assert set(Invitation.objects.values_list("email_outcomes", "email_claim")) == {("s", None)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_mid_batch_resends_at_most_the_message_in_flight() -> None:
    handler = CountingHandler(delay=0.05)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
            _schedule, emails = open_round(60)
            rounds_open_due()
        # The subprocess runs on the real clock: make the emails due now and the round open then.
        due_on_the_real_clock()
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
            # The killed sender's claim lasts two minutes, not ten: the rest waits no longer than that.
            time_machine.travel(
                dt.datetime.now(UTC) + emails_module.CLAIM_FOR + dt.timedelta(seconds=1), tick=False
            ),
        ):
            while emails_send_due(batch=20):
                pass
        assert set(handler.received) == set(emails)  # nobody missed
        duplicates = sum(count - 1 for count in handler.received.values())
        assert duplicates <= emails_module.RECORD_EVERY_MESSAGES  # at most the unrecorded group in flight
        assert Invitation.objects.filter(email_outcomes="s").count() == 60
    finally:
        controller.stop()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_slow_mail_server_never_lets_a_second_sender_send_a_batch_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch takes longer than a claim lasts (here 3 s of sending against a 1.5 s claim, as 400 emails
    at 4 s each once outlived a 10-minute claim): the sender extends its claim while it works, so a second
    sender polling all the while finds nothing to take over, and nothing is delivered twice."""
    monkeypatch.setattr(emails_module, "CLAIM_FOR", dt.timedelta(seconds=1.5))
    monkeypatch.setattr(emails_module, "EXTEND_EVERY", dt.timedelta(seconds=0.3))
    handler = CountingHandler(delay=0.2)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
            _schedule, emails = open_round(15)
            rounds_open_due()
        due_on_the_real_clock()
        results: dict[str, int] = Counter()
        done = threading.Event()

        def first() -> None:
            try:
                results["first"] += emails_send_due()
            finally:
                connections.close_all()
                done.set()

        def second() -> None:
            try:
                while not done.is_set():
                    results["second"] += emails_send_due()
                    time.sleep(0.1)
            finally:
                connections.close_all()

        with smtp_settings(port):
            threads = [threading.Thread(target=first), threading.Thread(target=second)]
            threads[0].start()
            time.sleep(0.3)
            threads[1].start()
            for thread in threads:
                thread.join(timeout=60)
        assert handler.received == Counter(dict.fromkeys(emails, 1)), handler.received
        assert results["first"] == 15
        assert results["second"] == 0
        assert Invitation.objects.filter(email_outcomes="s").count() == 15
    finally:
        controller.stop()


@pytest.mark.django_db
def test_each_message_has_a_stable_message_id_so_a_resend_can_be_dropped(
    smtp_server: tuple[CountingHandler, int],
) -> None:
    """The same message sent twice (a crash between acceptance and record) carries the same Message-ID;
    every other message has its own; the header names no database row."""
    handler, port = smtp_server
    _schedule, _emails = open_round(3)
    with smtp_settings(port), time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
        rounds_open_due()
        assert emails_send_due() == 3
        # As if the sender had died before recording: the same messages are due again.
        Invitation.objects.update(emails_handled=0, email_outcomes="", email_due_at=OPENS)
        assert emails_send_due() == 3
    ids = [
        next(line for line in message.splitlines() if line.lower().startswith(b"message-id:"))
        for message in handler.messages
    ]
    assert len(ids) == 6
    assert len(set(ids)) == 3  # one per invitation's first message, repeated on the resend
    invitation_ids = {str(pk).encode() for pk in Invitation.objects.values_list("pk", flat=True)}
    assert all(
        b"@" in header and not any(b"<" + pk + b"@" in header for pk in invitation_ids) for header in ids
    )


RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_runs_the_tick() -> None:
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    tick_through_a_real_worker(settings.CELERY_BROKER_URL)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_rabbitmq_runs_the_tick() -> None:
    tick_through_a_real_worker(RABBITMQ)


def tick_through_a_real_worker(broker_url: str) -> None:
    """Two ticks through a real worker on ``broker_url``: a round opens, each of its emails goes out once."""
    from config.celery import app

    schedule, _emails = open_round(6)
    # It runs at the real time of day: no quiet hours, or a run at night (in Berlin) would wait for morning.
    Schedule.objects.filter(pk=schedule.pk).update(
        next_opening_at=dt.datetime.now(UTC) - dt.timedelta(minutes=1),
        quiet_start=dt.time(0, 0),
        quiet_end=dt.time(0, 0),
        quiet_weekends=False,
    )
    previous_url = app.conf.broker_url
    use_broker(broker_url, app)
    # Queues of its own, so no other worker on this broker (another test run) takes the messages.
    prefix = f"test-{uuid.uuid4().hex}-"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = f"{prefix}tick"
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            PULSE_QUEUE_PREFIX=prefix,
            CELERY_BROKER_URL=broker_url,
        ):
            queues = [f"{prefix}{name}" for name in settings.PULSE_QUEUES]
            run_worker_until_done(app, queues, schedule)
    finally:
        app.conf.task_default_queue = previous_queue
        use_broker(previous_url, app)
    assert Round.objects.filter(schedule=schedule).count() == 1
    assert Invitation.objects.count() == 6
    assert Invitation.objects.filter(email_outcomes="s").count() == 6


def run_worker_until_done(app: Celery, queues: list[str], schedule: Schedule) -> None:
    from celery.contrib.testing.worker import start_worker

    from surveys.tasks import tick

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=queues):
        tick.delay()
        tick.delay()  # a repeated tick must not open a second round
        deadline = time.monotonic() + 90  # generous: a loaded 2-core CI machine starts workers slowly
        while time.monotonic() < deadline and not (
            Round.objects.filter(schedule=schedule).exists()
            and Invitation.objects.filter(email_outcomes="s").count() == 6
        ):
            time.sleep(0.2)
        time.sleep(1)


class PostmarkStandIn(http.server.BaseHTTPRequestHandler):
    """Answers as Postmark's /email endpoint does: an inactive recipient is a 422 with ErrorCode 406, a
    recipient listed in ``busy`` gets a 503 as often as its count says, everyone else is accepted."""

    accepted: ClassVar[Counter[str]]
    busy: ClassVar[Counter[str]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        to = body["To"]
        if to.startswith("bounce"):
            self._answer(
                422,
                {
                    "ErrorCode": 406,
                    "Message": f"You tried to send to a recipient that has been marked as inactive.\n"
                    f"Found inactive addresses: {to}.\nInactive recipients are ones that have generated "
                    "a hard bounce or a spam complaint.",
                },
            )
        elif self.busy[to] > 0:
            self.busy[to] -= 1
            self._answer(503, {"ErrorCode": 500, "Message": "Service unavailable"})
        else:
            self.accepted[to] += 1
            self._answer(200, {"To": to, "ErrorCode": 0, "MessageID": f"id-{to}", "Message": "OK"})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.django_db
def test_through_a_provider_s_api_a_refused_address_fails_and_an_outage_is_retried() -> None:
    """django-anymail's real Postmark backend against a local stand-in for Postmark's API: the same rules
    as over SMTP (docs/operations.md §9)."""
    PostmarkStandIn.accepted, PostmarkStandIn.busy = Counter(), Counter({"person0@example.org": 1})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PostmarkStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _schedule, _emails = open_round(2)
    bounce = PersonFactory(organisation=Schedule.objects.get().organisation, email="bounce@example.org")
    MembershipFactory(person=bounce, team=Schedule.objects.get().team, starts_on=dt.date(2025, 1, 1))
    provider = override_settings(
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL={
            "POSTMARK_SERVER_TOKEN": "test-token",
            "POSTMARK_API_URL": f"http://127.0.0.1:{server.server_port}/",
        },
    )
    try:
        with provider, time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False):
            rounds_open_due()
            assert emails_send_due() == 1  # person1 only
            failed = Invitation.objects.get(person=bounce)
            assert (failed.emails_handled, failed.email_outcomes, failed.email_due_at) == (1, "f", None)
            assert failed.email_error == "provider: AnymailRecipientsRefused"
            busy = Invitation.objects.get(person__email="person0@example.org")
            assert (busy.emails_handled, busy.email_attempts) == (0, 1)
            assert busy.email_error == "provider: AnymailRequestsAPIError HTTP 503"
            assert busy.email_due_at == OPENS + dt.timedelta(minutes=3)
        with provider, time_machine.travel(OPENS + dt.timedelta(minutes=3), tick=False):
            assert emails_send_due() == 1
    finally:
        server.shutdown()
        server.server_close()
    assert PostmarkStandIn.accepted == Counter({"person0@example.org": 1, "person1@example.org": 1})
    outcomes = dict(Invitation.objects.values_list("person__email", "email_outcomes"))
    assert outcomes == {"person0@example.org": "s", "person1@example.org": "s", "bounce@example.org": "f"}
