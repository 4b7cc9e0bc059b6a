"""``pulse_bench email``: send 10,000 invitation emails to a local SMTP sink.

Ours: ``surveys.services.emails.emails_send_due`` in its normal batches until nothing is due (claiming
invitation rows, opening each sealed link, rendering text and HTML in the recipient's language, sending over
one SMTP connection per batch, recording the result and moving each row on to its next message).
Baseline: the same messages, already built, sent with raw ``smtplib`` over one connection: the floor any
sender has to pay. Both talk to the same sink, an aiosmtpd server in its own process (so it does not share
this process's interpreter lock). Target: ratio ≤ 2.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
import subprocess
import sys
import time
from typing import Any, TextIO

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.test.utils import override_settings

from pulse.devtools.benchmarks import BenchResult
from pulse.devtools.benchmarks.generate import organisation_generate
from pulse.devtools.benchmarks.scratch import scratch_database, timed
from surveys.models import Instrument, Invitation, Schedule
from surveys.sealing import KeyRing, open_token
from surveys.services.emails import email_render, emails_send_due
from surveys.services.rounds import round_open


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_sink(port: int) -> subprocess.Popen[bytes]:
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sink
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise RuntimeError("the SMTP sink did not start")


def run(options: dict[str, Any], stdout: TextIO) -> BenchResult:
    people, levels = int(10_000 * options.get("scale", 1.0)), (10, 10)
    if options.get("smoke"):
        people, levels = 20, (2, 2)
    port = _free_port()
    sink = _start_sink(port)
    try:
        with (
            scratch_database("email"),
            override_settings(
                EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                EMAIL_HOST="127.0.0.1",
                EMAIL_PORT=port,
            ),
        ):
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
            opens = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
            with transaction.atomic():
                round_open(schedule=schedule, opens_at=opens, closes_at=opens + dt.timedelta(days=3))
            # No quiet hours in a benchmark: every invitation is due now.
            Invitation.objects.update(email_due_at=opens)

            # The baseline's messages: exactly what ours sends, built before the clock starts.
            ring = KeyRing.from_settings()
            messages = []
            for invitation in Invitation.objects.select_related("person__organisation", "round"):
                assert invitation.sealed_token is not None
                rendered = email_render(invitation, token=open_token(ring, bytes(invitation.sealed_token)))
                message = EmailMultiAlternatives(
                    rendered.subject, rendered.text, "pulse@localhost", [rendered.to]
                )
                message.attach_alternative(rendered.html, "text/html")
                raw = message.message().as_bytes(linesep="\r\n")  # type: ignore[call-arg]  # Django's MIME classes take it
                messages.append((rendered.to, raw))

            def baseline() -> None:
                with smtplib.SMTP("127.0.0.1", port) as client:
                    for to, body in messages:
                        client.sendmail("pulse@localhost", [to], body)

            baseline_seconds, _ = timed(baseline)
            stdout.write(
                f"baseline: raw smtplib sent {len(messages)} prepared messages in {baseline_seconds:.2f} s\n"
            )

            def ours() -> int:
                sent = 0
                while batch := emails_send_due():
                    sent += batch
                return sent

            ours_seconds, sent = timed(ours)
            stdout.write(f"ours: emails_send_due sent {sent} emails in {ours_seconds:.2f} s\n")
            assert sent == people
            assert Invitation.objects.filter(email_outcomes="s", email_due_at=None).count() == people
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    stdout.write(f"rates: ours {people / ours_seconds:.0f}/s, baseline {people / baseline_seconds:.0f}/s\n")
    return BenchResult("email", ours_seconds, baseline_seconds, "s", "ratio<=2")
