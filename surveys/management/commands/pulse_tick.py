"""``manage.py pulse_tick``: run one minute tick now, in this process.

For deployments that schedule with cron (or a Kubernetes CronJob) instead of Celery beat, and for an
operator checking a deployment: every step claims its own due rows, so running it beside beat, or twice,
does no work twice. Prints what each step handled; exits non-zero when a step failed (the failure itself
is in the log, with ids only, as in the worker).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from surveys.services.tick import tick_run


class Command(BaseCommand):
    help = "Run one tick of the cadence now (open, send, close, count, trends, notifications)."

    def handle(self, *args: Any, **options: Any) -> None:
        handled = tick_run()
        width = max(len(step) for step in handled)
        for step, count in handled.items():
            self.stdout.write(f"{step:<{width}}  {'failed' if count < 0 else count}")
        failed = [step for step, count in handled.items() if count < 0]
        if failed:
            raise CommandError(f"{len(failed)} step(s) failed: {', '.join(failed)} (details in the log)")
