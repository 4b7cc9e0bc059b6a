"""``make run``'s last words (``pulse_welcome``): the URL, the log-ins and when the first emails appear."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command

from pulse.management.commands.pulse_welcome import emails_when
from surveys.models import Schedule
from surveys.services.demo import DEMO_ADMIN_EMAIL, DEMO_LEADER_EMAIL, DEMO_PASSWORD, demo_create

pytestmark = pytest.mark.django_db


def test_the_banner_names_the_url_the_log_ins_and_when_emails_appear(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo_create()
    call_command("pulse_welcome", "--exit", "--timeout", "0")
    out = capsys.readouterr().out
    assert "Pulse is running at http://127.0.0.1:8000/" in out
    assert f"{DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD}" in out
    assert f"{DEMO_LEADER_EMAIL} / {DEMO_PASSWORD}" in out
    # The demo's rounds of this week are due at the first tick.
    assert "The first check-in emails are due now: they appear here within about a minute" in out
    assert "still waiting for: web, worker, beat" in out  # nothing is running in this test


def test_without_due_work_the_banner_says_when_the_next_emails_are_due() -> None:
    demo_create()
    first = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
    Schedule.objects.update(next_opening_at=first)
    with time_machine.travel(first - dt.timedelta(minutes=30), tick=False):
        lines = emails_when(dt.datetime.now(tz=dt.UTC))
    assert lines[0] == "The next check-in emails are due at Mon 07 Jan 09:00 UTC (in about 30 minutes),"
    Schedule.objects.update(is_active=False)
    assert emails_when(first)[0].startswith("No check-in is scheduled")


def test_make_run_loads_the_demo_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("pulse_demo", "--once")
    out = capsys.readouterr().out
    assert out.strip() == "Demo organisation Acme created."
