"""``python manage.py pulse_bench NAME``: run one benchmark and end with its RESULT line."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

import pulse.devtools.benchmarks

PRODUCTION_REFUSAL = (
    "pulse_bench does not run when PULSE_ENV=production: benchmarks create and drop databases and fill "
    "them with generated organisations. Run them on a development or CI machine."
)


def available() -> list[str]:
    """Every module of pulse.devtools.benchmarks that defines ``run`` (helpers such as ``scratch`` do not)."""
    names = []
    for module in pkgutil.iter_modules(pulse.devtools.benchmarks.__path__):
        if hasattr(importlib.import_module(f"pulse.devtools.benchmarks.{module.name}"), "run"):
            names.append(module.name)
    return sorted(names)


class Command(BaseCommand):
    help = "Run a benchmark against its baseline in the same run; prints a RESULT line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help=f"one of: {', '.join(available())}")
        parser.add_argument("--scale", type=float, default=1.0, help="shrink (<1) or grow the workload")
        parser.add_argument(
            "--smoke",
            action="store_true",
            help="every step at the smallest workload that still runs it, in seconds (the test suite's "
            "check that each benchmark works; its figures measure nothing)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The app is not installed in production (config/settings.py); this holds if someone installs it.
        if settings.PRODUCTION:
            raise CommandError(PRODUCTION_REFUSAL)
        name = options["name"]
        if name not in available():
            raise CommandError(f"unknown benchmark {name!r}; choose one of: {', '.join(available())}")
        module = importlib.import_module(f"pulse.devtools.benchmarks.{name}")
        result = module.run(options, self.stdout)
        self.stdout.write(result.line())
