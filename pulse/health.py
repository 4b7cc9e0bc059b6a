"""GET /health/: is the database answering, is the broker answering?

Each probe is bounded in time (``PROBE_TIMEOUT`` for Redis), so a hung Redis makes the check answer 503
within a second instead of holding the request (and the web worker serving it).
"""

from __future__ import annotations

import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

PROBE_TIMEOUT = 0.5  # seconds: a broker that does not answer a PING in half a second is not healthy


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "down"; the reason is reported, not raised
        return f"down: {type(error).__name__}"
    return "ok"


def broker_status() -> str:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return "ok" if folder.is_dir() else "down: broker folder missing"
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
