"""Pointing this process's Celery app at another broker for a test, and back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery, current_app

REFUSING_BROKER = "redis://127.0.0.1:1/0"  # a port nothing listens on: every enqueue is refused at once


def forget_connections(app: Celery) -> None:
    """The app keeps one connection pool, and one producer pool over it, for the first broker URL it saw."""
    from kombu import pools

    # The app's pool is kombu's own for that URL (kombu.pools.connections): closing it alone leaves the
    # closed pool registered, and the next use of the same URL gets "Acquire on closed pool". reset()
    # closes every pool kombu keeps and forgets them. Private state of Celery, which celery-types does not
    # declare.
    pools.reset()
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


def use_broker(url: str, app: Celery | None = None) -> None:
    """Point the app at ``url``: the next send connects there."""
    app = app or current_app
    app.conf["broker_url"] = url  # what `conf.broker_url = ...` does; the stubs call it read-only
    forget_connections(app)


@contextmanager
def broker_at(url: str, app: Celery | None = None) -> Iterator[None]:
    """The app sends to ``url`` inside the block, and to its own broker again after it."""
    app = app or current_app
    previous = app.conf.broker_url
    use_broker(url, app)
    try:
        yield
    finally:
        use_broker(previous, app)  # the next send, in any test, connects to the real broker again
