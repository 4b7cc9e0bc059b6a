"""The minute tick: every step of the cadence, in order, each one safe to run twice."""

from __future__ import annotations

TICK_STEPS: list[str] = []


def tick_run() -> dict[str, int]:
    """Run each registered step; returns how many rows each one handled (for logs and tests)."""
    from django.utils.module_loading import import_string

    return {step: import_string(step)() for step in TICK_STEPS}
