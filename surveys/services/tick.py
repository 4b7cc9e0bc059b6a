"""The minute tick: every step of the cadence, each one safe to run twice, shared out to the workers.

The steps are listed in settings (``PULSE_TICK_STEPS``, dotted paths, in order) so that ``pulse`` can add
its own (aggregation, trends, notifications) without ``surveys`` importing it. Each step claims its own due
rows by conditional UPDATE and handles one bounded batch, so any number of callers may run it at once.

Beat's tick only *dispatches* (:func:`tick_dispatch`): for each queue (``PULSE_STEP_QUEUES``: sending,
closing, trends) it enqueues ``PULSE_QUEUE_FANOUT[queue]`` drain tasks, and each drain runs its queue's
steps in order, batch after batch, while there is work and its time budget lasts (:func:`queue_drain`).
So a backlog of emails is sent by as many drains as there are workers to run them, and a slow mail server
never delays a round's close (another queue). The drains carry a queue name only, never personal data.
:func:`tick_run` runs every step once, inline: the ``pulse_tick`` command (cron without a broker), and the
fallback when the broker refuses the drains (nothing due is lost: the rows stay due).

Each tick records when it started and finished (``TickHeartbeat``), so readiness can tell when ticks
stopped coming (beat, or cron running ``pulse_tick``, is gone, or no worker takes its task).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django.utils.module_loading import import_string

from surveys.models import TickHeartbeat
from surveys.services.operations import StepTotals, step_timings_add

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
    timings: dict[str, StepTotals] = {}
    for path in settings.PULSE_TICK_STEPS:
        total = timings[path] = StepTotals()
        began = time.perf_counter()
        try:
            handled[path] = import_string(path)()
        except Exception:
            logger.exception("tick step %s failed", path)
            handled[path] = -1
            total.failures += 1
        total.runs, total.rows = 1, max(handled[path], 0)
        total.seconds = time.perf_counter() - began
    step_timings_add(timings)
    tick_heartbeat_finish(started_at=started, now=timezone.now())
    return handled


#: The queue of a step that ``PULSE_STEP_QUEUES`` does not name.
DEFAULT_QUEUE = "closing"


def step_queue(path: str) -> str:
    """The queue whose drains run the step ``path``."""
    for queue, steps in settings.PULSE_STEP_QUEUES.items():
        if path in steps:
            return str(queue)
    return DEFAULT_QUEUE


def queue_steps(queue: str) -> list[str]:
    """The steps a drain of ``queue`` runs, in the tick's order."""
    return [path for path in settings.PULSE_TICK_STEPS if step_queue(path) == queue]


def queues() -> list[str]:
    """Every queue a tick dispatches to, in the order of their first step."""
    return list(dict.fromkeys(step_queue(path) for path in settings.PULSE_TICK_STEPS))


def queue_drain(*, queue: str, budget: float | None = None) -> dict[str, int]:
    """Run the steps of ``queue`` in order, round after round, while one of them still found work and the
    time budget (``PULSE_DRAIN_SECONDS``) lasts. A failing step is logged and left for the next round or
    tick. Returns rows handled per step over all rounds."""
    seconds = settings.PULSE_DRAIN_SECONDS if budget is None else budget
    deadline = time.monotonic() + seconds
    handled: dict[str, int] = {}
    steps = queue_steps(queue)
    # Summed here and written once when the drain ends (one UPDATE): /metrics' step durations.
    timings = {path: StepTotals() for path in steps}
    while True:
        busy = False
        for path in steps:
            total = timings[path]
            began = time.perf_counter()
            try:
                done = int(import_string(path)())
            except Exception:
                logger.exception("tick step %s failed", path)
                done = 0
                total.failures += 1
            total.runs += 1
            total.rows += done
            total.seconds += time.perf_counter() - began
            handled[path] = handled.get(path, 0) + done
            busy = busy or done > 0
        if not busy or time.monotonic() >= deadline:
            step_timings_add(timings)
            return handled


def tick_dispatch() -> dict[str, int]:
    """Beat's tick: record the heartbeat and enqueue each queue's drains (see the module docstring).
    Returns drains enqueued per queue; a queue whose drains the broker refused is drained here, inline."""
    started = timezone.now()
    tick_heartbeat_start(now=started)
    enqueued: dict[str, int] = {}
    for queue in queues():
        fanout = int(settings.PULSE_QUEUE_FANOUT.get(queue, 1))
        try:
            with current_app.connection_for_write() as connection:
                # One try: a broker that refuses now is not waited for (kombu would retry for minutes).
                connection.ensure_connection(max_retries=1)
                for _ in range(fanout):
                    # Expires before the next tick's drains: a worker that was away does not run a pile.
                    current_app.send_task(
                        "surveys.tasks.drain",
                        args=[queue],
                        queue=f"{settings.PULSE_QUEUE_PREFIX}{queue}",
                        expires=settings.PULSE_DRAIN_SECONDS,
                        retry=False,
                        connection=connection,
                    )
            enqueued[queue] = fanout
        except Exception as error:  # the broker refused: this tick's worker does the queue's work itself
            logger.warning("tick: cannot enqueue %s drains (%s); drains inline", queue, type(error).__name__)
            queue_drain(queue=queue)
            enqueued[queue] = 0
    tick_heartbeat_finish(started_at=started, now=timezone.now())
    return enqueued
