"""The minute tick: every step of the cadence, in order, each one safe to run twice.

The steps are listed in settings (``PULSE_TICK_STEPS``, dotted paths) so that ``pulse`` can add its own
(aggregation, trends, notifications) without ``surveys`` importing it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def tick_run() -> dict[str, int]:
    """Run each step; a failing step is logged and the others still run. Returns rows handled per step."""
    handled: dict[str, int] = {}
    for path in settings.PULSE_TICK_STEPS:
        try:
            handled[path] = import_string(path)()
        except Exception:
            logger.exception("tick step %s failed", path)
            handled[path] = -1
    return handled
