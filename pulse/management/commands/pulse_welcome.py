"""``manage.py pulse_welcome``: the last words of ``make run``, printed once everything is up.

Started by ``Procfile.dev`` beside web, worker and beat. It waits until the web server answers
``/health/`` and the worker and beat have said they are ready (``config.celery``), then prints the URL, the
demo log-ins and when the first check-in emails will appear, below all of their start-up output, and
then waits quietly (honcho stops everything when one process ends).
"""

from __future__ import annotations

import signal
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Min
from django.utils import timezone

from surveys.models import Invitation, Schedule
from surveys.services.demo import DEMO_ADMIN_EMAIL, DEMO_HEAD_EMAIL, DEMO_LEADER_EMAIL, DEMO_PASSWORD

TICK_SECONDS = 60  # CELERY_BEAT_SCHEDULE's minute tick


class Command(BaseCommand):
    help = "Wait for web, worker and beat, then print the URL, the demo log-ins and when emails appear."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the processes")
        parser.add_argument("--exit", action="store_true", help="exit after printing (default: wait)")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("pulse_welcome belongs to make run (development); production has no demo.")
        started = time.time()
        deadline = time.monotonic() + options["timeout"]
        waiting = ["web", "worker", "beat"]
        while waiting and time.monotonic() < deadline:
            waiting = [name for name in waiting if not self._up(name, started)]
            if waiting:
                time.sleep(0.5)
        self.stdout.write(self.banner(waiting=waiting))
        self.stdout.flush()
        if not options["exit"]:
            signal.pause()  # until honcho's SIGTERM (Ctrl-C) stops everything

    @staticmethod
    def _up(name: str, started: float) -> bool:
        if name == "web":
            url = f"http://127.0.0.1:{settings.PULSE_PORT}/health/"
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False
        ready = Path(settings.VAR_DIR) / "run" / f"{name}.ready"
        try:
            return ready.stat().st_mtime >= started - 5  # written by this run, not a previous one
        except OSError:
            return False

    def banner(self, *, waiting: list[str], now: datetime | None = None) -> str:
        base = settings.PULSE_BASE_URL
        rule = "=" * 78
        lines = [
            "",
            rule,
            f"  Pulse is running at {base}/"
            + (f"   (still waiting for: {', '.join(waiting)})" if waiting else ""),
            "",
            f"  Admin  : {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD}   ({base}/manage/ and {base}/admin/)",
            f"  Leader : {DEMO_LEADER_EMAIL} / {DEMO_PASSWORD}   ({base}/)",
            f"  Head   : {DEMO_HEAD_EMAIL} / {DEMO_PASSWORD}   ({base}/, every team side by side)",
            "",
            *("  " + line for line in emails_when(now or timezone.now())),
            "",
            "  Ctrl-C stops web, worker and beat.",
            rule,
            "",
        ]
        return "\n".join(lines)


def emails_when(now: datetime) -> list[str]:
    """When the first check-in emails will appear in this console, from the database's due times."""
    due = Invitation.objects.filter(email_due_at__isnull=False).aggregate(first=Min("email_due_at"))["first"]
    opening = Schedule.objects.filter(is_active=True, next_opening_at__isnull=False).aggregate(
        first=Min("next_opening_at")
    )["first"]
    where = "Emails are printed here by the worker (lines starting worker.1), each with its check-in link."
    if (due is not None and due <= now) or (opening is not None and opening <= now):
        return [
            "The first check-in emails are due now: they appear here within about a minute, at the",
            "worker's first minute tick. Someone whose local time is at night or a weekend (quiet hours)",
            "gets theirs when their morning comes.",
            where,
        ]
    upcoming = [moment for moment in (due, opening) if moment is not None]
    if not upcoming:
        return ["No check-in is scheduled, so no emails will appear; add a schedule under /manage/.", where]
    first = min(upcoming)
    minutes = max(1, round((first - now).total_seconds() / 60))
    return [
        f"The next check-in emails are due at {first:%a %d %b %H:%M} UTC (in about {_minutes(minutes)}),",
        "and appear here at the first minute tick after that.",
        where,
    ]


def _minutes(minutes: int) -> str:
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"{hours} hours" if hours < 48 else f"{round(hours / 24)} days"
