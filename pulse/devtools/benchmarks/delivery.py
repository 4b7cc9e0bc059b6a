"""``pulse_bench delivery``: a round's 20,000 invitations through real beat and workers to a 20 ms sink.

Shape (in a scratch PostgreSQL database dropped afterwards): ``organisation_generate``'s 10 · 10 tree with
20,000 people, one round opened with ``surveys.services.rounds.round_open`` (no reminders; its emails parked
until the clock starts, so quiet hours at the time of the run do not decide the figure). The SMTP sink is
an aiosmtpd server in its own process that accepts each message 20 ms after it has arrived (a real
provider's round trip), over as many connections at once as it is offered (``cluster.LatencySink``).

Ours: real ``celery -A config beat`` and ``celery -A config worker --pool=threads --concurrency=4``
processes on the configured broker (Redis, or RabbitMQ with ``CELERY_BROKER_URL=amqp://…``) with a queue
prefix of the run's own. Beat ticks every 5 s instead of every minute (``cluster``; nothing else of Pulse's
configuration changes): the tick enqueues the drains, the drains run ``emails_send_due`` batch after batch.
The clock starts at the commit that makes every invitation due and stops when the sink accepts the last
one; then every row must be recorded as sent, and the sink must have had each recipient exactly once. Run
with 1 worker, then (the invitations made due again) with 2.
Baseline, in the same run against the same sink: the same messages, built before the clock starts, sent
with raw ``smtplib`` by as many threads, each on its own connection, as the workers run in total (4, 8).
Targets: ours / baseline ≤ 1.5 (the RESULT line: 2 workers against 8 connections; 1 worker is printed),
and 2 workers deliver at least 1.7 times as fast as 1 (the sink's latency is the limit, not Pulse).
"""

from __future__ import annotations

import datetime as dt
import queue
import smtplib
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from pulse.devtools.benchmarks import BenchResult
from pulse.devtools.benchmarks.cluster import Cluster, LatencySink, broker_url
from pulse.devtools.benchmarks.generate import organisation_generate
from pulse.devtools.benchmarks.scratch import scratch_database, timed
from surveys.models import Instrument, Invitation, Round, Schedule
from surveys.sealing import KeyRing, open_token
from surveys.services.emails import email_render
from surveys.services.rounds import round_open

PEOPLE = 20_000
LEVELS = (10, 10)
SINK_DELAY = 0.020
THREADS_PER_WORKER = 4
TICK_SECONDS = 5.0
RATIO_TARGET = 1.5
SPEEDUP_TARGET = 1.7


def _prebuilt(round_: Round) -> list[tuple[str, bytes]]:
    """The baseline's messages: what ours sends (text and HTML, the recipient's link), built up front."""
    ring = KeyRing.from_settings()
    messages = []
    for invitation in Invitation.objects.filter(round=round_).select_related("person__organisation", "round"):
        assert invitation.sealed_token is not None
        rendered = email_render(invitation, token=open_token(ring, bytes(invitation.sealed_token)))
        message = EmailMultiAlternatives(rendered.subject, rendered.text, "pulse@localhost", [rendered.to])
        message.attach_alternative(rendered.html, "text/html")
        raw = message.message().as_bytes(linesep="\r\n")  # type: ignore[call-arg]  # Django's MIME classes take it
        messages.append((rendered.to, raw))
    return messages


def _baseline(messages: list[tuple[str, bytes]], *, port: int, connections: int) -> float:
    """Seconds for ``connections`` threads, each on its own smtplib connection, to send every message."""
    work: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
    for message in messages:
        work.put(message)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port) as client:
                while True:
                    try:
                        to, body = work.get_nowait()
                    except queue.Empty:
                        return
                    client.sendmail("pulse@localhost", [to], body)
        except BaseException as error:  # reported below: a failed baseline must not print a figure
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def _park(round_: Round) -> None:
    """Every invitation back to its first message, not yet due (the clock starts when they are)."""
    Invitation.objects.filter(round=round_).update(
        emails_handled=0, email_outcomes="", email_attempts=0, email_claim=None, email_claimed_until=None,
        email_due_at=None,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE surveys_invitation")


def _deliver(round_: Round, people: int, sink: LatencySink, cluster: Cluster, workers: int) -> float:
    """Make every invitation due now; seconds until the sink accepted the last one. Checks exactly once."""
    sink.reset()
    expected = people * SINK_DELAY / (workers * THREADS_PER_WORKER)
    started = time.monotonic()
    # One autocommit UPDATE: the workers see every invitation due from its commit on.
    Invitation.objects.filter(round=round_).update(email_due_at=timezone.now())
    try:
        last = sink.expect(people, timeout=max(60.0, expected * 5))
    except RuntimeError as error:
        cluster.check_running()
        raise RuntimeError(f"{error}\n{cluster.tails()}") from None
    # Every message was also recorded as sent (within RECORD_EVERY_SECONDS of its acceptance).
    deadline = time.monotonic() + 30
    while Invitation.objects.filter(round=round_, email_outcomes="s", email_due_at=None).count() < people:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sink accepted every email, but not all were recorded\n{cluster.tails()}")
        time.sleep(0.2)
    accepted, distinct = sink.report()
    assert accepted == distinct == people, f"{accepted} messages to {distinct} recipients, {people} expected"
    return last - started


def run(options: dict[str, Any], stdout: TextIO) -> BenchResult:
    people, levels, tick = int(PEOPLE * float(options.get("scale") or 1.0)), LEVELS, TICK_SECONDS
    if options.get("smoke"):
        people, levels, tick = 40, (2, 2), 1.0
    sink = LatencySink(delay=SINK_DELAY)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="pulse-bench-delivery-") as logs,
            override_settings(
                EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=sink.port,
                # The scratch round's key beside the scratch database, gone with it: round ids repeat.
                PULSE_ROUND_KEY_DIR=str(Path(logs) / "round_keys"),
            ),
            scratch_database("delivery"),
        ):
            broker = broker_url()  # refuses, before the organisation is made, when there is no real broker
            generated = organisation_generate(people=people, levels=levels)
            schedule = Schedule.objects.create(
                organisation=generated.organisation,
                team=generated.root,
                name="Weekly",
                starts_on=dt.date(2026, 1, 1),
                reminder_1=None,
                # No quiet hours: the figure must not depend on the hour at which the benchmark runs.
                quiet_start=dt.time(0, 0),
                quiet_end=dt.time(0, 0),
                quiet_weekends=False,
            )
            schedule.instruments.set(Instrument.objects.filter(key="workload1"))
            opens = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=1)

            def open_round() -> Round:
                with transaction.atomic():
                    return round_open(
                        schedule=schedule, opens_at=opens, closes_at=opens + dt.timedelta(days=3)
                    )

            open_seconds, round_ = timed(open_round)
            _park(round_)
            messages = _prebuilt(round_)
            stdout.write(
                f"{people:,} people; round_open made their invitations in {open_seconds:.1f} s (not timed); "
                f"the sink accepts each message after {SINK_DELAY * 1000:.0f} ms; broker "
                f"{broker.split('://')[0]}\n"
            )
            baseline = {
                workers: _baseline(messages, port=sink.port, connections=workers * THREADS_PER_WORKER)
                for workers in (1, 2)
            }
            for workers, seconds in baseline.items():
                stdout.write(
                    f"baseline: raw smtplib, {workers * THREADS_PER_WORKER} connections: {seconds:.2f} s "
                    f"({people / seconds:,.0f}/s)\n"
                )
            mail = {
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(sink.port),
            }
            cluster = Cluster(logs=Path(logs), tick_seconds=tick, extra_env=mail)
            ours: dict[int, float] = {}
            try:
                cluster.start_beat()
                for workers in (1, 2):
                    cluster.start_worker(pool="threads", concurrency=THREADS_PER_WORKER)
                    ours[workers] = _deliver(round_, people, sink, cluster, workers)
                    stdout.write(
                        f"ours: {workers} worker{'s' if workers > 1 else ''} (threads pool, concurrency "
                        f"{THREADS_PER_WORKER}), beat every {tick:g} s: {ours[workers]:.2f} s "
                        f"({people / ours[workers]:,.0f}/s), ratio {ours[workers] / baseline[workers]:.2f}\n"
                    )
                    if workers == 1:
                        _park(round_)
            finally:
                cluster.stop_all()
    finally:
        sink.stop()
    speedup = ours[1] / ours[2]
    stdout.write(
        f"speed-up, 2 workers over 1: {speedup:.2f}x (target >= {SPEEDUP_TARGET}); baseline 8 over 4 "
        f"connections: {baseline[1] / baseline[2]:.2f}x\n"
    )
    return BenchResult("delivery", ours[2], baseline[2], "s", f"{RATIO_TARGET:g}")
