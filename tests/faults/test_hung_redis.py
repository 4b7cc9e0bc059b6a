"""A hung Redis never starves the web tier (issue 14): with the cache's Redis stopped by SIGSTOP (it
accepts connections and never answers) and eight concurrent failed sign-ins, a check-in submit and
``/health/`` still answer within a second. The test starts a Redis server of its own on a free port, stops
it, and starts it again (the machine's Redis is never touched)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

from config import cache as breaker
from tests.helpers_rounds import answers_for, open_round

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: object) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield server, port
    finally:
        server.send_signal(signal.SIGCONT)
        server.terminate()
        server.wait(timeout=10)


def test_a_hung_cache_costs_each_request_well_under_a_second(
    own_redis: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = own_redis
    url = f"redis://127.0.0.1:{port}/0"
    setup = open_round(people_per_team=(10,), instruments=("workload1",))
    tokens = iter(setup.token_of(person) for person in setup.people)
    cache_settings = {
        "default": {
            "BACKEND": "config.cache.CircuitBreakerRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25},
        }
    }
    with override_settings(CACHES=cache_settings, CELERY_BROKER_URL=url):
        caches["default"].set("warm", 1)  # the cache works
        breaker._open_until.clear()
        server.send_signal(signal.SIGSTOP)
        stop = threading.Event()

        def failed_sign_ins() -> None:
            client = Client()
            while not stop.is_set():
                client.post("/login/", {"username": "nobody@example.org", "password": "wrong"})

        attackers = [threading.Thread(target=failed_sign_ins) for _ in range(8)]
        for thread in attackers:
            thread.start()
        latencies: dict[str, list[float]] = {"submit": [], "health": []}
        try:
            time.sleep(0.5)
            client = Client()
            for _ in range(5):
                started = time.monotonic()
                response = client.post(
                    "/api/v1/checkin/",
                    {"token": next(tokens), "answers": answers_for(setup.round)},
                    content_type="application/json",
                )
                latencies["submit"].append(time.monotonic() - started)
                assert response.status_code == 201
                started = time.monotonic()
                response = client.get("/health/")
                latencies["health"].append(time.monotonic() - started)
                assert response.status_code == 503  # the broker is the same hung Redis
        finally:
            stop.set()
            for thread in attackers:
                thread.join(timeout=30)
            server.send_signal(signal.SIGCONT)
    print(f"hung Redis, 8 failed sign-ins at once: {latencies}")
    assert max(latencies["submit"]) < 1.0, latencies
    assert max(latencies["health"]) < 1.0, latencies


def test_the_breaker_opens_after_one_failure_and_closes_after_its_time(
    own_redis: tuple[subprocess.Popen[bytes], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = own_redis
    monkeypatch.setattr(breaker, "OPEN_SECONDS", 1.0)
    cache = breaker.CircuitBreakerRedisCache(
        f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}}
    )
    breaker._open_until.clear()
    cache.set("k", 1)
    server.send_signal(signal.SIGSTOP)
    with pytest.raises(Exception, match=r"(?i)timeout|timed out"):
        cache.get("k")  # waits for the socket timeout once
    started = time.monotonic()
    with pytest.raises(breaker.CacheUnavailable):
        cache.get("k")  # then fails at once
    assert time.monotonic() - started < 0.05
    server.send_signal(signal.SIGCONT)
    time.sleep(1.1)
    assert cache.get("k") == 1  # closed again: the cache is asked once more
