"""Start a Celery worker or beat for the fault suite: Pulse's own app (``config.celery``), with the suite's
time scale applied first.

The scenarios wait for a crashed sender's claim to expire and for beat's next tick, which take minutes in
production (a tick every 60 s, a claim of 120 s extended every 20 s). ``FAULTS_TICK_SECONDS``,
``FAULTS_EMAIL_CLAIM_SECONDS`` and ``FAULTS_EMAIL_EXTEND_SECONDS`` shrink them so a scenario takes seconds;
the code that claims, extends and ticks is unchanged. Usage: ``python -m tests.faults.run_celery worker …``.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any


def _scale() -> None:
    import django

    django.setup()
    from django.conf import settings

    from config.celery import app
    from surveys.services import emails

    if claim := os.environ.get("FAULTS_EMAIL_CLAIM_SECONDS"):
        emails.CLAIM_FOR = timedelta(seconds=float(claim))
    if extend := os.environ.get("FAULTS_EMAIL_EXTEND_SECONDS"):
        emails.EXTEND_EVERY = timedelta(seconds=float(extend))
    if tick := os.environ.get("FAULTS_TICK_SECONDS"):
        seconds = float(tick)
        # Pulse's own beat entries, each on the faster clock (expiring after a few of its ticks).
        entries: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
        app.conf.beat_schedule = {
            name: {
                **entry,
                "schedule": seconds,
                "options": {**entry.get("options", {}), "expires": seconds * 5},
            }
            for name, entry in entries.items()
        }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    _scale()
    from celery.bin.celery import main

    sys.argv = ["celery", "-A", "config", *sys.argv[1:]]
    sys.exit(main())
