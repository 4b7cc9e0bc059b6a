"""Health checks, each answering within a second even when Redis accepts connections and never replies.

- ``GET /health/``: is the database answering, is the broker answering? (for a load balancer)
- ``GET /health/live``: the process answers; it asks nothing else, so a liveness probe never restarts web
  processes because Redis or PostgreSQL is down.
- ``GET /health/ready``: is the whole system working: database, broker, cache, and has the minute tick run
  within ``TICK_STALE_AFTER``? A beat that died (or a cron that stopped, or no worker taking its task)
  turns it 503 within three minutes, where ``/health/`` would still say 200 while nothing is sent.

Each probe is bounded in time (``PROBE_TIMEOUT`` for Redis; the cache's own short timeout and circuit
breaker), so a hung Redis makes a check answer 503 instead of holding the request and the web worker.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import redis
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from surveys.selectors import tick_last_started_at

PROBE_TIMEOUT = 0.5  # seconds: a broker that does not answer a PING in half a second is not healthy
# The tick runs every minute: three minutes without one is two missed ticks and a slow one, not a blip.
TICK_STALE_AFTER = timedelta(minutes=3)


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "down"; the reason is reported, not raised
        return f"down: {type(error).__name__}"
    return "ok"


def broker_status() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return "ok" if folder.is_dir() else "down: broker folder missing"
    if not url.startswith(("redis://", "rediss://")):
        return _kombu_status(url)
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=PROBE_TIMEOUT,
        socket_connect_timeout=PROBE_TIMEOUT,
    )
    try:
        client.ping()
    except redis.RedisError as error:
        return f"down: {type(error).__name__}"
    finally:
        client.close()
    return "ok"


def _kombu_status(url: str) -> str:
    """Any other broker (RabbitMQ): open a connection, with one try and the probe's time-out."""
    try:
        with Connection(url, connect_timeout=PROBE_TIMEOUT) as broker:
            # kombu compares the time-out with elapsed float seconds; its stubs say int.
            broker.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT)  # type: ignore[arg-type]
    except Exception as error:  # refused, timed out, bad credentials: "down", with the reason's type
        return f"down: {type(error).__name__}"
    return "ok"


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    started = time.monotonic()
    checks = {"database": database_status(), "broker": broker_status()}
    healthy = all(value == "ok" for value in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        "seconds": round(time.monotonic() - started, 3),
    }
    return JsonResponse(body, status=200 if healthy else 503)


def cache_status() -> str:
    cache = caches["default"]
    try:
        cache.set("pulse:health", "1", timeout=10)
        if cache.get("pulse:health") != "1":
            return "down: the cache does not keep a value"
    except Exception as error:  # the breaker's CacheUnavailable, a time-out, a refused connection
        return f"down: {type(error).__name__}"
    return "ok"


def tick_status() -> tuple[str, float | None]:
    """Whether the minute tick ran lately, and how long ago it last started (None: never, or unknown)."""
    try:
        started = tick_last_started_at()
    except Exception as error:  # the database is down: its own check says so
        return f"unknown: {type(error).__name__}", None
    if started is None:
        return "late: no tick has run yet", None
    age = (timezone.now() - started).total_seconds()
    if age > TICK_STALE_AFTER.total_seconds():
        return f"late: the last tick started {age:.0f} s ago", age
    return "ok", age


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    started = time.monotonic()
    tick, tick_age = tick_status()
    checks = {
        "database": database_status(),
        "broker": broker_status(),
        "cache": cache_status(),
        "tick": tick,
    }
    healthy = all(value == "ok" for value in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        "last_tick_seconds_ago": None if tick_age is None else round(tick_age, 1),
        "seconds": round(time.monotonic() - started, 3),
    }
    return JsonResponse(body, status=200 if healthy else 503)
