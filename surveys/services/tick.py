"""The minute tick: every step of the cadence, in order, each one safe to run twice.

The steps are listed in settings (``PULSE_TICK_STEPS``, dotted paths) so that ``pulse`` can add its own
(aggregation, trends, notifications) without ``surveys`` importing it. Each tick records when it started
and finished (``TickHeartbeat``), so readiness can tell when ticks stopped coming (beat, or cron running
``pulse_tick``, is gone, or no worker takes its task).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django.utils.module_loading import import_string

from surveys.models import TickHeartbeat

logger = logging.getLogger(__name__)

TICK_NAME = TickHeartbeat.MINUTE


def tick_heartbeat_start(*, now: datetime) -> None:
    """Record that a tick started now: one UPDATE of one row (made by the first tick). A tick that started
    earlier never moves the time back, so two ticks at once leave the later one."""
    try:
        moved = TickHeartbeat.objects.filter(name=TICK_NAME, started_at__lt=now).update(
            started_at=now, finished_at=None
        )
        if not moved:
            TickHeartbeat.objects.get_or_create(name=TICK_NAME, defaults={"started_at": now})
    except DatabaseError:
        # The steps would fail on the same database and say so; the heartbeat must not stop the tick.
        logger.warning("tick: cannot record the tick's start", exc_info=True)


def tick_heartbeat_finish(*, started_at: datetime, now: datetime) -> None:
    """Record that the tick that started at ``started_at`` finished, unless a later tick has started."""
    try:
        TickHeartbeat.objects.filter(name=TICK_NAME, started_at=started_at).update(finished_at=now)
    except DatabaseError:
        logger.warning("tick: cannot record the tick's end", exc_info=True)


def tick_run() -> dict[str, int]:
    """Run each step; a failing step is logged and the others still run. Returns rows handled per step."""
    started = timezone.now()
    tick_heartbeat_start(now=started)
    handled: dict[str, int] = {}
    for path in settings.PULSE_TICK_STEPS:
        try:
            handled[path] = import_string(path)()
        except Exception:
            logger.exception("tick step %s failed", path)
            handled[path] = -1
    tick_heartbeat_finish(started_at=started, now=timezone.now())
    return handled
