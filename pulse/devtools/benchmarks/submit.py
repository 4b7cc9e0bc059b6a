"""Benchmark: check-in submissions per second through the real HTTP stack, against a one-INSERT baseline.

Stack: gunicorn with 2 (sync) workers on 127.0.0.1, Pulse's settings, PostgreSQL (a scratch database,
migrated, dropped afterwards). Ours: ``POST /api/v1/checkin/`` with a distinct, valid token per request, so
every request is a real submission (validate, spend the token by conditional UPDATE, insert the
Participation, seal and insert the ballot, commit). Baseline: a minimal Django view in the same process
that parses the same JSON body and runs one INSERT in a transaction
(``pulse.devtools.benchmarks.submit_urls``, served only by the benchmark's settings module). The same load
tool drives both.

1. Maximum rate (saturation): ``wrk -t 2 -c 16`` for 12 s per side (scale 1) after a 2 s warm-up, baseline
   and ours alternating in three segments so that drift in the machine's other load falls on both. A Lua
   script hands each request its own token from a file and counts response codes; only 2xx answers count
   towards the rate.
2. Latency at 70 % of our maximum: wrk2 is not packaged, so a paced driver (asyncio callbacks on
   non-blocking sockets, its garbage collector off while it runs) sends requests on a fixed schedule at
   that rate. Latency is measured from each request's *intended* start, so a stall delays and counts
   every request behind it (no coordinated omission; Tene, "How NOT to measure latency"); the service time
   (send to answer) is printed beside it.

Target: our rate ≥ half the baseline's, and p99 < 50 ms at 70 % of our maximum.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from pulse.devtools.benchmarks import BenchResult
from pulse.devtools.benchmarks.scratch import scratch_database
from pulse.devtools.benchmarks.submit_urls import BASELINE_DDL

WORKERS = 2
WRK_THREADS = 2
WRK_CONNECTIONS = 16
DURATION_S = 12.0
SEGMENTS = 3
WARMUP_S = 2.0
PACED_FRACTION = 0.7
INSTRUMENTS = ("who5", "workload1", "comment")
API_PATH = "/api/v1/checkin/"
BASELINE_PATH = "/bench/baseline/"

WRK_SCRIPT = r"""
-- One distinct token per request, read from a file and split between wrk's threads; counts status codes.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  tokens = {}
  local stride = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % stride == id then table.insert(tokens, line) end
    i = i + 1
  end
  answers = args[3]
  next_token = 1
  statuses = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local token = tokens[next_token] or "exhausted"
  next_token = next_token + 1
  return wrk.format(nil, nil, nil, '{"token":"' .. token .. '","answers":' .. answers .. '}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("DURATION_US %d\n", summary.duration))
  io.write(string.format("ERRORS %d\n", summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %d %d\n", status, count))
    end
  end
end
"""


class _Writer(Protocol):
    def write(self, msg: str, /) -> Any: ...


@dataclass(frozen=True)
class Saturation:
    rate: float  # successful (2xx) answers per second
    ok: int
    refused: int  # non-2xx answers (a token pool that ran dry shows up here)
    errors: int  # socket errors and time-outs
    seconds: float
    wrk_latency: str  # wrk's own latency line (closed-loop, for reference only)


@dataclass(frozen=True)
class Paced:
    rate: float
    sent: int
    ok: int
    p50_ms: float
    p99_ms: float
    service_p50_ms: float
    service_p99_ms: float
    behind: int  # requests the driver itself started more than 5 ms late


def run(options: dict[str, Any], stdout: _Writer) -> BenchResult:
    if not settings.IS_POSTGRES:
        raise CommandError(
            "pulse_bench submit measures the production stack on PostgreSQL: set DATABASE_URL=postgres://…"
        )
    wrk = shutil.which("wrk")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        raise CommandError(f"gunicorn is not installed next to {sys.executable}")
    scale = float(options.get("scale", 1.0))
    # wrk takes whole seconds only: the shortest run (and --smoke's) is 1 s per segment and warm-up.
    segment = 1 if options.get("smoke") else max(1, round(DURATION_S * scale / SEGMENTS))
    duration = float(segment * SEGMENTS)
    warmup = 1.0 if options.get("smoke") else float(max(1, round(WARMUP_S * min(scale, 1.0))))
    with (
        scratch_database("submit") as database,
        tempfile.TemporaryDirectory(prefix="pulse-bench-submit-") as tmp,
    ):
        workdir = Path(tmp)
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_DDL)
        answers = _answers()
        port = _free_port()
        server = _start_gunicorn(gunicorn, database, port, workdir)
        try:
            _wait_until_up(port, server, workdir / "gunicorn.log")
            stdout.write(
                f"submit: gunicorn {WORKERS} sync workers on 127.0.0.1:{port}, PostgreSQL "
                f"{getattr(connection, 'pg_version', '?')}, {os.cpu_count()} CPUs shared with the load "
                f"tool; wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {duration:g}s each for baseline and ours "
                f"in {SEGMENTS} alternating segments after a {warmup:g}s warm-up; load average before "
                f"{os.getloadavg()[0]:.2f} (other work on the machine skews both figures)\n"
            )
            fake = [f"baseline-{index:08d}-{'x' * 30}" for index in range(200_000)]
            script = _write_script(wrk, workdir)
            _wrk(script, port, BASELINE_PATH, fake, answers, warmup, workdir)
            baseline_runs = [_wrk(script, port, BASELINE_PATH, fake, answers, segment, workdir)]
            # Distinct tokens for each phase, sized for up to 1.5× the baseline's rate.
            ceiling = 1.5 * baseline_runs[0].rate
            sizes = [math.ceil(ceiling * warmup) + 500] + [math.ceil(ceiling * segment) + 500] * SEGMENTS
            sizes.append(math.ceil(PACED_FRACTION * ceiling * duration) + 500)
            started = time.perf_counter()
            tokens = _open_round_with(sum(sizes))
            stdout.write(
                f"  prepared one round with {len(tokens)} invitations "
                f"in {time.perf_counter() - started:.1f}s\n"
            )
            _probe(port, tokens.pop(), answers)
            pools, offset = [], 0
            for size in sizes:
                pools.append(tokens[offset : offset + size])
                offset += size
            warm = _wrk(script, port, API_PATH, pools[0], answers, warmup, workdir)
            # Baseline and ours alternate in short segments, so drift in the machine's other load
            # (it is shared with the load tool and PostgreSQL) falls on both alike.
            ours_runs = []
            for index in range(SEGMENTS):
                if index:
                    baseline_runs.append(_wrk(script, port, BASELINE_PATH, fake, answers, segment, workdir))
                ours_runs.append(_wrk(script, port, API_PATH, pools[1 + index], answers, segment, workdir))
            baseline, ours = _combine(baseline_runs), _combine(ours_runs)
            stdout.write(f"  baseline, one INSERT:  {_describe(baseline)}\n")
            stdout.write(f"  ours, /api/v1/checkin/: {_describe(ours)}\n")
            if ours.refused:
                stdout.write(f"  WARNING: {ours.refused} submissions were refused (token pool too small?)\n")
            paced = _paced(port, pools[-1], answers, ours.rate * PACED_FRACTION, duration)
            stdout.write(
                f"  ours at {PACED_FRACTION:.0%} of max ({paced.rate:.0f} req/s, {paced.sent} requests, "
                f"{paced.ok} accepted): p50 {paced.p50_ms:.1f} ms, p99 {paced.p99_ms:.1f} ms from intended "
                f"start; service time p50 {paced.service_p50_ms:.1f} ms, p99 {paced.service_p99_ms:.1f} ms"
                f"{f'; driver late on {paced.behind}' if paced.behind else ''}\n"
            )
            _check_stored(1 + warm.ok + ours.ok + paced.ok, SEGMENTS + 1, stdout)
        finally:
            _stop(server)
            connection.close()
        ratio = ours.rate / baseline.rate if baseline.rate else float("inf")
        verdict = "met" if ratio >= 0.5 and paced.p99_ms < 50 else "NOT met"
        stdout.write(
            f"  ratio {ratio:.2f}, p99 {paced.p99_ms:.1f} ms: target {verdict} "
            f"(load average after {os.getloadavg()[0]:.2f})\n"
        )
    return BenchResult(
        name="submit", ours=ours.rate, baseline=baseline.rate, unit="req/s", target="ratio>=0.5 and p99<50ms"
    )


def _answers() -> str:
    """A complete submission of the default weekly-style set, as the JSON object the API takes."""
    from surveys.models import Question

    answers: dict[str, Any] = {}
    for question in Question.objects.filter(
        instrument__key__in=INSTRUMENTS, instrument__is_default_library=True
    ):
        if question.kind == "text":
            answers[question.key] = "Quieter on-call this week; the runbook clean-up helped."
        else:
            answers[question.key] = sorted(int(option["value"]) for option in question.options)[1]
    return json.dumps(answers, separators=(",", ":"))


def _open_round_with(people: int) -> list[str]:
    """An organisation of ``people`` engineers in one team and its round, opened by the tick's own step;
    returns every invitation's token (read back from its sealed copy, as the email step does)."""
    import datetime as dt

    from surveys.models import (
        Instrument,
        Invitation,
        Membership,
        Organisation,
        Person,
        Schedule,
        Team,
    )
    from surveys.sealing import KeyRing, open_token
    from surveys.services.rounds import rounds_open_due
    from surveys.services.schedules import schedule_save

    now = timezone.now()
    organisation = Organisation.objects.create(name="Submit benchmark", time_zone="UTC")
    team = Team.objects.create(organisation=organisation, name="Load", slug="load")
    persons = Person.objects.bulk_create(
        Person(
            organisation=organisation,
            email=f"engineer{index}@bench.invalid",
            display_name=f"Engineer {index}",
        )
        for index in range(people)
    )
    Membership.objects.bulk_create(
        Membership(person=person, team=team, starts_on=now.date() - dt.timedelta(days=7))
        for person in persons
    )
    schedule = Schedule(
        organisation=organisation,
        team=team,
        name="Benchmark check-in",
        every_n_weeks=2,
        local_time=dt.time(10, 0),
        starts_on=now.date() - dt.timedelta(days=30),
    )
    schedule_save(schedule=schedule, instruments=list(Instrument.objects.filter(key__in=INSTRUMENTS)))
    Schedule.objects.filter(pk=schedule.pk).update(next_opening_at=now - timedelta(minutes=1))
    if rounds_open_due(now=now) != 1:
        raise CommandError("the benchmark round did not open")
    ring = KeyRing.from_settings()
    return [
        open_token(ring, bytes(sealed))
        for sealed in Invitation.objects.values_list("sealed_token", flat=True).order_by("pk")
        if sealed is not None
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_gunicorn(gunicorn: Path, database: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    url = f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{database}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "pulse.devtools.benchmarks.submit_settings",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PULSE_TESTING", None)
    log = (workdir / "gunicorn.log").open("wb")
    return subprocess.Popen(
        [
            str(gunicorn),
            "config.wsgi:application",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--timeout",
            "60",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as one, never by name
    )


def _wait_until_up(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    """Until gunicorn answers /health/ at all (its status depends on the broker, not the point here)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError(f"gunicorn exited with {server.returncode}:\n{_tail(log)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise CommandError(f"gunicorn did not answer within 30 s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _probe(port: int, token: str, answers: str) -> None:
    """One submission before the load: it must be accepted, or the figures would measure an error page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = f'{{"token":"{token}","answers":{answers}}}'
    conn.request("POST", API_PATH, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    text = response.read().decode(errors="replace")
    conn.close()
    if response.status != 201:
        raise CommandError(f"a test submission got {response.status}, not 201: {text[:500]}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


def _write_script(wrk: str | None, workdir: Path) -> tuple[str, Path]:
    if wrk is None:
        raise CommandError("wrk is not installed (apt-get install -y wrk)")
    script = workdir / "submit.lua"
    script.write_text(WRK_SCRIPT)
    return wrk, script


def _combine(runs: list[Saturation]) -> Saturation:
    """Several segments of one side as one run: accepted answers over the summed time."""
    seconds = sum(run.seconds for run in runs)
    ok = sum(run.ok for run in runs)
    return Saturation(
        rate=ok / seconds,
        ok=ok,
        refused=sum(run.refused for run in runs),
        errors=sum(run.errors for run in runs),
        seconds=seconds,
        wrk_latency=runs[-1].wrk_latency,
    )


def _wrk(
    tool: tuple[str, Path],
    port: int,
    path: str,
    tokens: list[str],
    answers: str,
    duration: float,
    workdir: Path,
) -> Saturation:
    wrk, script = tool
    token_file = workdir / "tokens.txt"
    token_file.write_text("\n".join(tokens) + "\n")
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{round(duration)}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
        "--",
        str(token_file),
        str(WRK_THREADS),
        answers,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    if result.returncode != 0:
        raise CommandError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    output = result.stdout
    micros = int(re.search(r"DURATION_US (\d+)", output).group(1))  # type: ignore[union-attr]
    errors = int(re.search(r"ERRORS (\d+)", output).group(1))  # type: ignore[union-attr]
    statuses: dict[int, int] = {}
    for status, count in re.findall(r"STATUS (\d+) (\d+)", output):
        statuses[int(status)] = statuses.get(int(status), 0) + int(count)
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    latency = re.search(r"^\s*Latency\s+(.*)$", output, re.MULTILINE)
    return Saturation(
        rate=ok / (micros / 1e6),
        ok=ok,
        refused=sum(statuses.values()) - ok,
        errors=errors,
        seconds=micros / 1e6,
        wrk_latency=" ".join(latency.group(1).split()) if latency else "",
    )


def _describe(result: Saturation) -> str:
    return (
        f"max {result.rate:.0f} req/s ({result.ok} accepted, {result.refused} refused, "
        f"{result.errors} socket errors; wrk latency avg/stdev/max {result.wrk_latency})"
    )


def _paced(port: int, tokens: list[str], answers: str, rate: float, duration: float) -> Paced:
    """Send ``rate`` requests per second on a fixed schedule; each request is timed from when it was due.

    One asyncio loop driving non-blocking sockets through callbacks (no HTTP library to install, no thread
    per connection whose scheduling would itself add latency on a small machine, and no task or stream
    objects per request: the driver shares the 2 CPUs with the server, and at a few hundred requests a
    second asyncio's streams cost it a seventh of a CPU); each request is due at ``start + i / rate``
    whatever happened to the ones before it.
    """
    count = min(len(tokens), int(rate * duration))
    if count < 100:
        raise CommandError(f"too few tokens left for the paced run ({len(tokens)})")
    # The driver's own garbage collector must not pause it: a full collection of this process (Django, the
    # token lists) took 0.1 s, during which answers wait unread and count as the server's latency.
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        return asyncio.run(_paced_run(port, tokens[:count], answers, rate))
    finally:
        if collecting:
            gc.enable()


PACED_TIMEOUT_S = 10.0


class _Exchange:
    """One request on its own connection (the server closes it after answering): connect, send, read to
    the end. Every step is a callback of the event loop."""

    __slots__ = ("answer", "chunks", "due", "finished", "loop", "on_done", "port", "request", "sent", "sock")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, port: int, due: float, request: bytes, on_done: Any
    ) -> None:
        self.loop, self.port, self.due, self.request, self.on_done = loop, port, due, request, on_done
        self.sent = self.finished = math.nan
        self.chunks: list[bytes] = []
        self.answer = b""
        self.sock: socket.socket | None = None

    def start(self) -> None:
        self.sent = self.loop.time()
        sock = self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        self.loop.call_at(self.sent + PACED_TIMEOUT_S, self.finish, False)
        if sock.connect_ex(("127.0.0.1", self.port)) not in (0, errno.EINPROGRESS):
            self.finish(False)
            return
        self.loop.add_writer(sock.fileno(), self.connected)

    def connected(self) -> None:
        assert self.sock is not None
        self.loop.remove_writer(self.sock.fileno())
        try:
            if self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                raise ConnectionRefusedError
            self.sock.sendall(self.request)  # a few hundred bytes: the socket buffer takes them at once
        except OSError:
            self.finish(False)
            return
        self.loop.add_reader(self.sock.fileno(), self.readable)

    def readable(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.finish(False)
            return
        if data:
            self.chunks.append(data)
        else:
            self.finish(True)

    def finish(self, complete: bool) -> None:
        if not math.isnan(self.finished):
            return  # already finished; this is the time-out firing afterwards
        self.finished = self.loop.time()
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.loop.remove_writer(self.sock.fileno())
            self.sock.close()
        if complete:
            self.answer = b"".join(self.chunks)
        self.on_done()

    @property
    def status(self) -> int:
        try:
            return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/") else -1
        except (ValueError, IndexError):
            return -1


async def _paced_run(port: int, tokens: list[str], answers: str, rate: float) -> Paced:
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()
    remaining = len(tokens)

    def one_done() -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0:
            all_done.set_result(None)

    requests = []
    for token in tokens:
        body = f'{{"token":"{token}","answers":{answers}}}'.encode()
        head = (
            f"POST {API_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        requests.append(head + body)
    start = loop.time() + 0.2  # after the requests are built, so the first ones are not late
    exchanges = [
        _Exchange(loop, port, start + index / rate, request, one_done)
        for index, request in enumerate(requests)
    ]
    for exchange in exchanges:
        loop.call_at(exchange.due, exchange.start)
    await all_done
    latencies = [exchange.finished - exchange.due for exchange in exchanges]
    services = [exchange.finished - exchange.sent for exchange in exchanges]
    return Paced(
        rate=rate,
        sent=len(exchanges),
        ok=sum(1 for exchange in exchanges if 200 <= exchange.status < 300),
        p50_ms=_percentile(latencies, 50) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
        service_p50_ms=_percentile(services, 50) * 1000,
        service_p99_ms=_percentile(services, 99) * 1000,
        behind=sum(1 for exchange in exchanges if exchange.sent - exchange.due > 0.005),
    )


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 1000 samples is the 990th smallest)."""
    ordered = sorted(value for value in values if not math.isnan(value))
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _check_stored(accepted: int, runs: int, stdout: _Writer) -> None:
    """Every accepted submission really is in the database: one participation and one ballot each. wrk
    stops reading when its time is up, so up to one request per connection and run was stored unseen."""
    from surveys.models import Participation, SealedBallot

    participations, ballots = Participation.objects.count(), SealedBallot.objects.count()
    stdout.write(
        f"  stored: {participations} participations, {ballots} sealed ballots (accepted {accepted})\n"
    )
    unseen = participations - accepted
    if participations != ballots or not 0 <= unseen <= runs * WRK_CONNECTIONS:
        raise CommandError("the accepted count and what is stored disagree")
