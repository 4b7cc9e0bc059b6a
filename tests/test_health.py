"""GET /health/ answers within a second, even when Redis accepts connections and never replies; /health/live
always answers; /health/ready says whether the minute tick runs."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client, override_settings
from django.utils import timezone

from surveys.models import TickHeartbeat
from surveys.selectors import tick_last_started_at
from surveys.services.tick import tick_heartbeat_finish, tick_heartbeat_start, tick_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on loopback that accepts connections and never sends a byte (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_health_is_ok_when_database_and_broker_answer() -> None:
    response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_health_is_503_within_a_second_when_redis_hangs(silent_server: int) -> None:
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{silent_server}/0"):
        started = time.monotonic()
        response = Client().get("/health/")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("down")
    assert elapsed < 1


def test_health_is_503_when_redis_refuses_connections() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port}/0"):
        response = Client().get("/health/")
    assert response.status_code == 503


# --- /health/live and /health/ready ----------------------------------------------------------------------
def test_live_answers_200_whatever_the_broker_and_database_say() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port}/0"):
        for path in ("/health/live", "/health/live/"):
            response = Client().get(path)
            assert response.status_code == 200, path
            assert response.json() == {"status": "ok"}


def test_ready_is_200_after_a_tick_and_reports_its_age() -> None:
    tick_run()  # the real tick, on an empty database: it records its start and end
    heartbeat = TickHeartbeat.objects.get(name=TickHeartbeat.MINUTE)
    assert heartbeat.finished_at is not None
    assert heartbeat.finished_at >= heartbeat.started_at
    for path in ("/health/ready", "/health/ready/"):
        response = Client().get(path)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["checks"] == {"database": "ok", "broker": "ok", "cache": "ok", "tick": "ok"}
        assert 0 <= body["last_tick_seconds_ago"] < 60


def test_ready_is_503_before_any_tick_has_run() -> None:
    response = Client().get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["tick"] == "late: no tick has run yet"
    assert response.json()["last_tick_seconds_ago"] is None


def test_ready_turns_503_once_the_last_tick_is_more_than_three_minutes_old() -> None:
    ticked = timezone.now()
    tick_heartbeat_start(now=ticked)
    with time_machine.travel(ticked + dt.timedelta(minutes=2, seconds=59), tick=False):
        assert Client().get("/health/ready").status_code == 200
    with time_machine.travel(ticked + dt.timedelta(minutes=3, seconds=5), tick=False):
        response = Client().get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["tick"] == "late: the last tick started 185 s ago"
    assert response.json()["checks"]["database"] == "ok"
    assert Client().get("/health/").status_code == 200  # the load balancer's check is about this server only


def test_an_earlier_tick_never_moves_the_heartbeat_back() -> None:
    later = timezone.now()
    earlier = later - dt.timedelta(seconds=70)
    tick_heartbeat_start(now=later)
    tick_heartbeat_start(now=earlier)  # a slow tick's worker, late: not the newest
    tick_heartbeat_finish(started_at=earlier, now=later + dt.timedelta(seconds=1))
    heartbeat = TickHeartbeat.objects.get(name=TickHeartbeat.MINUTE)
    assert heartbeat.started_at == later
    assert heartbeat.finished_at is None  # the later tick is still running
    assert tick_last_started_at() == later


def test_ready_is_503_within_a_second_and_a_half_when_redis_hangs(silent_server: int) -> None:
    tick_heartbeat_start(now=timezone.now())
    url = f"redis://127.0.0.1:{silent_server}/0"
    hung_cache = {
        "default": {
            "BACKEND": "config.cache.CircuitBreakerRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25},
        }
    }
    with override_settings(CELERY_BROKER_URL=url, CACHES=hung_cache):
        caches.close_all()
        started = time.monotonic()
        response = Client().get("/health/ready")
        elapsed = time.monotonic() - started
        live = Client().get("/health/live")
    caches.close_all()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"].startswith("down")
    assert checks["cache"].startswith("down")
    assert checks["tick"] == "ok"
    assert elapsed < 1.5
    assert live.status_code == 200


RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def test_health_checks_rabbitmq_when_it_is_the_broker() -> None:
    with override_settings(CELERY_BROKER_URL=RABBITMQ, CELERY_BROKER_TRANSPORT_OPTIONS={}):
        response = Client().get("/health/")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["broker"] == "ok"


def test_a_stopped_rabbitmq_is_reported_down_at_once_and_liveness_stays_up() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on the port now: a broker that is stopped
    with override_settings(CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{port}//"):
        started = time.monotonic()
        response = Client().get("/health/")
        elapsed = time.monotonic() - started
        live = Client().get("/health/live")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("down")
    assert elapsed < 5
    assert live.status_code == 200
