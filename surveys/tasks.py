"""Celery tasks of the surveys app: thin, idempotent, ids in."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="surveys.tasks.tick")
def tick() -> None:
    """The one periodic entry (every minute). Each step claims its own due rows, so a repeated or
    concurrent tick does no work twice."""
    from surveys.services.tick import tick_run

    tick_run()
