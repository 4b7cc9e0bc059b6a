"""Celery tasks of the surveys app: thin, idempotent, ids in."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="surveys.tasks.tick")
def tick() -> None:
    """The one periodic entry (every minute): enqueue the drains of each queue (``tick_dispatch``). Each
    step claims its own due rows, so a repeated or concurrent tick does no work twice."""
    from surveys.services.tick import tick_dispatch

    tick_dispatch()


@shared_task(name="surveys.tasks.drain")
def drain(queue: str) -> None:
    """Run one queue's steps while they find work, within the drain budget (``queue_drain``). Safe to run
    twice, at once on many workers, or to die halfway: every step claims its rows, and a claim expires."""
    from surveys.services.tick import queue_drain

    queue_drain(queue=queue)
