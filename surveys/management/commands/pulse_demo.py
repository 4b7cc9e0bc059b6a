"""``manage.py pulse_demo``: the demo organisation Acme (idempotent), and its log-ins."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.services.demo import (
    DEMO_ADMIN_EMAIL,
    DEMO_HEAD_EMAIL,
    DEMO_LEADER_EMAIL,
    DEMO_PASSWORD,
    demo_create,
)


class Command(BaseCommand):
    help = "Create the demo organisation (once) and print its log-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="quietly do nothing if the demo exists")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("The demo has known passwords; it is not loaded when PULSE_ENV=production.")
        created = demo_create()
        if created or not options["once"]:
            self.stdout.write("Demo organisation Acme " + ("created." if created else "already present."))
        if options["once"]:
            return  # make run: pulse_welcome prints the URL and the log-ins once everything is up
        base = settings.PULSE_BASE_URL
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Pulse: {base}/",
                    f"  Admin  : {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD}   ({base}/admin/)",
                    f"  Leader : {DEMO_LEADER_EMAIL} / {DEMO_PASSWORD}   ({base}/)",
                    f"  Head   : {DEMO_HEAD_EMAIL} / {DEMO_PASSWORD}   ({base}/, every team side by side)",
                    "",
                ]
            )
        )
