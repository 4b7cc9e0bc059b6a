"""``manage.py pulse_demo_history``: twelve weeks of rounds, trends and flags for the demo, and the SRE teams'
on-call load and time off (``pulse.devtools.demo_oncall``), each once (idempotent)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pulse.devtools.demo_history import demo_history_create
from pulse.devtools.demo_oncall import demo_oncall_create
from surveys.models import Organisation
from surveys.services.demo import DEMO_ORGANISATION


class Command(BaseCommand):
    help = "Give the demo organisation Acme twelve weeks of history (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("The demo is not loaded when PULSE_ENV=production.")
        # The on-call load first: the history's trend runs then judge it week by week with the check-ins,
        # so the demo's burnout flag says what the pager did meanwhile (pulse.analysis.load).
        started = time.perf_counter()
        if demo_oncall_create(organisation=Organisation.objects.get(name=DEMO_ORGANISATION)):
            self.stdout.write(f"Demo on-call load created in {time.perf_counter() - started:.1f} s.")
        started = time.perf_counter()
        if demo_history_create():
            self.stdout.write(f"Demo history created in {time.perf_counter() - started:.1f} s.")
        else:
            self.stdout.write("Demo history already present.")
