"""Real Pulse processes for the system benchmarks: Celery workers and beat, and a slow SMTP sink.

(Not a benchmark itself: ``pulse_bench`` lists only modules with a ``run`` function.)

``Cluster`` starts ``celery -A config worker`` and ``celery -A config beat`` as subprocesses against the
benchmark's scratch database and the configured broker (``CELERY_BROKER_URL``: Redis or RabbitMQ), with a
``PULSE_QUEUE_PREFIX`` of the run's own, so no other worker on that broker takes its tasks. Beat ticks every
``tick_seconds`` instead of every minute (the only change to Pulse's configuration; the tick and the drains
are Pulse's own code): ``python -m pulse.devtools.benchmarks.cluster worker|beat …`` reads
``PULSE_BENCH_TICK_SECONDS`` before it hands over to Celery's own command line.

``LatencySink`` is an aiosmtpd server in its own process that accepts each message after a fixed delay (a
real provider's round trip), serves any number of connections at once, and tells the benchmark, on its
standard output, when it has accepted a given number of messages (``python -m … sink PORT DELAY``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[Any], *, grace: float = 10.0) -> None:
    """SIGTERM to the process's own session (a prefork worker's children too), SIGKILL after ``grace``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


# --- The SMTP sink --------------------------------------------------------------------------------------
class LatencySink:
    """The sink process, seen from the benchmark: ``expect(n)`` waits until n messages more were accepted
    and returns the monotonic time of the last one (``time.monotonic`` is one clock for every process)."""

    def __init__(self, *, delay: float) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pulse.devtools.benchmarks.cluster", "sink", str(self.port), str(delay)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        if not ready.startswith("ready"):
            _stop(self.process)
            raise RuntimeError("the SMTP sink did not start")

    def _ask(self, line: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def reset(self) -> None:
        self._ask("reset")

    def expect(self, count: int, *, timeout: float) -> float:
        """Wait until ``count`` messages were accepted since the last reset; the time of the last one."""
        answer = self._ask(f"expect {count} {timeout}")
        if not answer.startswith("reached "):
            raise RuntimeError(f"the sink did not accept {count} messages within {timeout:.0f} s: {answer}")
        return float(answer.split()[1])

    def report(self) -> tuple[int, int]:
        """Messages accepted since the last reset, and how many distinct recipients they went to."""
        accepted, distinct = self._ask("report").split()
        return int(accepted), int(distinct)

    def stop(self) -> None:
        _stop(self.process, grace=5)


def _sink_main(port: int, delay: float) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope, Session

    lock = threading.Lock()
    changed = threading.Condition(lock)
    state: dict[str, Any] = {"accepted": 0, "last": 0.0, "recipients": Counter()}

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            await asyncio.sleep(delay)
            with changed:
                state["accepted"] += 1
                state["last"] = time.monotonic()
                state["recipients"].update(envelope.rcpt_tos)
                changed.notify_all()
            return "250 Message accepted"

    # Many connections at once: each is a task in one event loop, and the delay is a sleep, not a lock.
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        with changed:
            if command == "reset":
                state.update(accepted=0, last=0.0, recipients=Counter())
                print("ok", flush=True)
            elif command == "expect":
                count, timeout = int(args[0]), float(args[1])
                reached = changed.wait_for(lambda: state["accepted"] >= count, timeout=timeout)  # noqa: B023
                print(f"reached {state['last']!r}" if reached else f"only {state['accepted']}", flush=True)
            elif command == "report":
                print(state["accepted"], len(state["recipients"]), flush=True)
    controller.stop()


# --- Pulse's processes ----------------------------------------------------------------------------------
def database_url() -> str:
    """The URL of the database this process uses now (a benchmark's scratch database)."""
    from django.db import connection

    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def broker_url() -> str:
    """The broker the benchmark's processes use: the configured one, which must be a real server."""
    from django.conf import settings
    from django.core.management.base import CommandError

    url = str(settings.CELERY_BROKER_URL)
    if not url.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
        raise CommandError(
            "This benchmark runs real Celery workers on a real broker: set REDIS_URL=redis://… (or "
            "CELERY_BROKER_URL=redis://… or amqp://…)"
        )
    return url


class Cluster:
    """Beat and workers of one benchmark run, each in its own session, logging to files under ``logs``."""

    def __init__(self, *, logs: Path, tick_seconds: float, extra_env: dict[str, str] | None = None) -> None:
        from django.conf import settings

        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.prefix = f"bench-{secrets.token_hex(4)}-"
        keys = ",".join(base64.urlsafe_b64encode(key).decode() for key in settings.PULSE_TOKEN_KEYS)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",  # no query log growing in a long-lived worker
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url(),
            "PULSE_QUEUE_PREFIX": self.prefix,
            "PULSE_VAR_DIR": str(settings.VAR_DIR),
            "SECRET_KEY": settings.SECRET_KEY,
            "PULSE_TOKEN_KEYS": keys,
            "PULSE_ROUND_KEY_DIR": str(settings.PULSE_ROUND_KEY_DIR),
            "PULSE_BENCH_TICK_SECONDS": str(tick_seconds),
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        self.env.pop("PYTEST_CURRENT_TEST", None)
        self.running: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "pulse.devtools.benchmarks.cluster", *argv],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append((name, process, log))
        return process

    def _wait_for(self, process: subprocess.Popen[bytes], log: Path, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in log.read_text(errors="replace"):
                return
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{log.name}: no {text!r} within {timeout:.0f} s\n{self.tail(log)}")

    @staticmethod
    def tail(log: Path, lines: int = 30) -> str:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def tails(self) -> str:
        """The end of every process's log, for an error message."""
        return "\n".join(
            f"--- {name} (exit {process.poll()}) ---\n{self.tail(log)}" for name, process, log in self.running
        )

    def start_worker(self, *, pool: str = "threads", concurrency: int = 4) -> subprocess.Popen[bytes]:
        name = f"worker{sum(1 for kind, _p, _l in self.running if kind.startswith('worker')) + 1}"
        process = self._start(
            name,
            [
                "worker",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                "--hostname",
                f"{name}.{self.prefix}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",  # celery's own "ready." line; Pulse's loggers stay at LOG_LEVEL
            ],
        )
        self._wait_for(process, self.logs / f"{name}.log", "ready.")
        return process

    def start_beat(self) -> subprocess.Popen[bytes]:
        process = self._start(
            "beat", ["beat", "--loglevel=INFO", "--schedule", str(self.logs / "celerybeat-schedule")]
        )
        self._wait_for(process, self.logs / "beat.log", "beat: Starting")
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        _stop(process)

    def stop_all(self) -> None:
        for _name, process, _log in reversed(self.running):
            _stop(process)

    def check_running(self) -> None:
        for name, process, log in self.running:
            if process.poll() is not None and name != "stopped":
                raise RuntimeError(f"{name} exited ({process.returncode})\n{self.tail(log)}")


def peak_rss_mb(pid: int) -> float:
    """The peak resident set size of a running process (Linux's VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _celery_main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from config.celery import app

    if tick := os.environ.get("PULSE_BENCH_TICK_SECONDS"):
        seconds = float(tick)
        app.conf.beat_schedule = {
            "pulse-tick": {"task": "surveys.tasks.tick", "schedule": seconds, "options": {"expires": seconds}}
        }
    from celery.bin.celery import main

    sys.argv = ["celery", "-A", "config", *argv]
    sys.exit(main())


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        _sink_main(int(sys.argv[2]), float(sys.argv[3]))
    else:
        _celery_main(sys.argv[1:])
