"""The fault suite's own deployment: every server a scenario breaks is its own, on a free port.

A scenario starts what it needs through these fixtures: a Redis server (``own_redis``), an SMTP sink with
a configurable delay and failure (``smtp_sink``), real gunicorn with two workers, Celery workers and beats
(``deployment``), and, where PostgreSQL itself is stopped, a PostgreSQL instance made with ``initdb`` in
a temporary directory (``own_postgres``). The machine's PostgreSQL and Redis are never stopped: scenarios
that leave PostgreSQL running use the run's test database (``DATABASE_URL``), which the processes reach
by name. Every process is started in its own session and stopped at teardown, whatever the test's
outcome (SIGCONT first, for a server a scenario stopped; SIGKILL after a few seconds).

Each scenario records one row, ``scenario | expected | observed``, before it asserts, so the figures are
printed at the end of the run (``pytest_terminal_summary``), in CI's log too, even when a scenario fails.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


# --- The table printed at the end of the run ---------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    scenario: str
    expected: str
    observed: str


FAULT_TABLE: list[Row] = []


def record(scenario: str, expected: str, observed: str) -> None:
    """Add a scenario's figures to the table printed at the end of the run (call it before asserting)."""
    FAULT_TABLE.append(Row(scenario, expected, observed))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FAULT_TABLE:
        return
    headers = ("scenario", "expected", "observed")
    rows = [headers, *((row.scenario, row.expected, row.observed) for row in FAULT_TABLE)]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    terminalreporter.write_sep("=", "fault scenarios")
    for number, row in enumerate(rows):
        terminalreporter.write_line(
            " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        )
        if number == 0:
            terminalreporter.write_line("-+-".join("-" * width for width in widths))


# --- Ports and processes -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


_started: list[subprocess.Popen[bytes]] = []


def _stop(process: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
    """Stop a process we started and everything it forked (its own session): SIGCONT (it may be stopped),
    SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGCONT, signal.SIGTERM):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the group: prefork children outlive a killed parent
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@atexit.register
def _stop_leftovers() -> None:
    """Should pytest itself be interrupted past the fixtures' teardown, nothing is left running."""
    for process in _started:
        _stop(process, grace=1.0)


class Processes:
    """The processes one test started; each gets a log file, all are stopped at teardown."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.directory / f"{name}-{len(self.running)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        _started.append(process)
        self.running.append((name, process, log))
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        for _name, candidate, log in self.running:
            if candidate is process:
                return log.read_text(errors="replace")
        return ""

    def tails(self, lines: int = 15) -> str:
        """The end of every log, for an assertion message."""
        parts = []
        for name, process, log in self.running:
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {name} (pid {process.pid}, exit {process.poll()}) ---\n" + "\n".join(text))
        return "\n".join(parts)

    def wait_for_log(self, process: subprocess.Popen[bytes], pattern: str, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log_of(process)):
                return
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the log within {timeout} s\n{self.tails()}")

    def stop_all(self) -> None:
        for _name, process, _log in reversed(self.running):
            _stop(process)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


# --- Redis -------------------------------------------------------------------------------------------------
class RedisServer:
    """A redis-server of this test's own: it can be stopped (SIGSTOP: accepts connections, never answers),
    killed and started again on the same port."""

    def __init__(self, started: Processes) -> None:
        self.processes = started
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = self.processes.start("redis", argv, dict(os.environ))
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis(processes: Processes) -> RedisServer:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    return RedisServer(processes)


# --- The SMTP sink -----------------------------------------------------------------------------------------
class Sink:
    """An SMTP server's handler that counts what it accepts, per recipient and per Message-ID.

    ``delay`` (seconds, or a (low, high) range drawn per message) is how long each message takes to be
    accepted; ``failure`` (an SMTP reply such as ``"451 4.3.0 try later"``) refuses every message while set.
    """

    def __init__(self, *, delay: float | tuple[float, float] = 0.0, seed: int = 14) -> None:
        self.delay = delay
        self.failure: str | None = None
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()
        self.message_ids: Counter[str] = Counter()
        self.subjects: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.failure:
            return self.failure
        delay = self.delay if isinstance(self.delay, float | int) else self.random.uniform(*self.delay)
        if delay:
            await asyncio.sleep(delay)
        message = message_from_bytes(envelope.original_content or b"")
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received[address] += 1
            self.message_ids[str(message.get("Message-ID", ""))] += 1
            self.subjects.append(str(message.get("Subject", "")))
        return "250 Message accepted"

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.received.values())

    @property
    def duplicates(self) -> int:
        with self.lock:
            return sum(count - 1 for count in self.received.values())


class SmtpSink:
    def __init__(self, sink: Sink, port: int) -> None:
        self.sink = sink
        self.port = port
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running sink (adjust ``.sink.delay`` / ``.sink.failure``; ``.stop()`` takes the server down)."""
    server = SmtpSink(Sink(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL --------------------------------------------------------------------------------------------
def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PostgresServer:
    """A PostgreSQL instance of this test's own (``initdb`` in a temporary directory, a free port), which a
    scenario may stop and restart. As root it runs as the ``postgres`` user, as PostgreSQL insists."""

    def __init__(self, directory: Path, binaries: Path) -> None:
        self.directory = directory
        self.binaries = binaries
        self.port = free_port()
        self.data = directory / "data"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(directory, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.binaries / program), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{program} failed: {done.stderr}"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/pulse"

    def _options(self) -> str:
        return f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        log = str(self.directory / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options(), "-l", log, "-w", "start")

    def restart(self) -> None:
        log = str(self.directory / "postgres.log")
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", self._options(), "-l", log, "-m", "fast", "-w", "restart"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    binaries = _postgres_bin()
    if binaries is None:
        pytest.skip("needs PostgreSQL's server binaries under /usr/lib/postgresql/*/bin")
    # Not under pytest's temporary directory: as root that is private to root, and the server runs as
    # the postgres user.
    directory = Path(tempfile.mkdtemp(prefix="pulse-faults-postgres-"))
    server = PostgresServer(directory, binaries)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


# --- Pulse's own processes ---------------------------------------------------------------------------------
@dataclass
class Deployment:
    """Environment and starters for Pulse's processes against one database, one Redis and one mail server.

    Time is scaled down for the scenarios, the ratios kept: beat ticks every ``tick_seconds`` (production:
    60) and an email claim lasts ``claim_seconds``, extended every ``extend_seconds`` (production: 120 and
    20), so a crash's wait or a claim outlived by a slow batch happens within seconds.
    ``tests.faults.run_celery`` applies them in the worker and beat processes; everything else is Pulse's
    own configuration.
    """

    processes: Processes
    database_url: str
    redis_url: str
    smtp_port: int
    var_dir: Path
    tick_seconds: float = 1.0
    claim_seconds: float = 8.0
    extend_seconds: float = 1.0
    extra_env: dict[str, str] = field(default_factory=dict)
    web_port: int = 0

    def env(self) -> dict[str, str]:
        keys = ",".join(base64.urlsafe_b64encode(key).decode() for key in settings.PULSE_TOKEN_KEYS)
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PULSE_TESTING": "1",  # DEBUG off, as in production
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "PULSE_VAR_DIR": str(self.var_dir),
            "SECRET_KEY": settings.SECRET_KEY,
            "PULSE_TOKEN_KEYS": keys,
            "PULSE_ROUND_KEY_DIR": str(settings.PULSE_ROUND_KEY_DIR),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp_port),
            "EMAIL_TIMEOUT": "5",
            "FAULTS_TICK_SECONDS": str(self.tick_seconds),
            "FAULTS_EMAIL_CLAIM_SECONDS": str(self.claim_seconds),
            "FAULTS_EMAIL_EXTEND_SECONDS": str(self.extend_seconds),
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        environment.pop("PYTEST_CURRENT_TEST", None)
        return environment

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_web(self) -> subprocess.Popen[bytes]:
        """gunicorn with two sync workers, as production runs it; returns once it answers."""
        self.web_port = free_port()
        argv = [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "--timeout",
            "30",
            "--graceful-timeout",
            "3",
        ]
        server = self.processes.start("gunicorn", argv, self.env())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, self.processes.tails()
            try:
                if requests.get(self.base_url + "/privacy/", timeout=2).status_code == 200:
                    return server
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer within 60 s\n{self.processes.tails()}")

    def start_worker(self, *, concurrency: int = 1, name: str = "faults") -> subprocess.Popen[bytes]:
        argv = [
            sys.executable,
            "-m",
            "tests.faults.run_celery",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--hostname",
            f"{name}-{len(self.processes.running)}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        worker = self.processes.start("worker", argv, self.env())
        self.processes.wait_for_log(worker, r"ready\.")
        return worker

    def start_beat(self, *, schedule: str = "celerybeat-schedule") -> subprocess.Popen[bytes]:
        argv = [
            sys.executable,
            "-m",
            "tests.faults.run_celery",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(self.var_dir / schedule),
        ]
        beat = self.processes.start("beat", argv, self.env())
        self.processes.wait_for_log(beat, r"beat: Starting")
        return beat


def run_database_url() -> str:
    """The URL of the run's test database, for processes started by a transactional test."""
    from django.db import connection

    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


@pytest.fixture
def deployment(
    transactional_db: None, processes: Processes, own_redis: RedisServer, smtp_sink: SmtpSink, tmp_path: Path
) -> Deployment:
    """Pulse against the run's test database (PostgreSQL), this test's Redis and SMTP sink; start the
    processes a scenario needs with ``start_web``/``start_worker``/``start_beat``. They are stopped before
    the test database is flushed."""
    if not settings.IS_POSTGRES:
        pytest.skip("needs PostgreSQL: set DATABASE_URL")
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    return Deployment(
        processes=processes,
        database_url=run_database_url(),
        redis_url=own_redis.url,
        smtp_port=smtp_sink.port,
        var_dir=var_dir,
    )
