"""PostgreSQL restarts under check-in submits through real gunicorn: errors while it is down, none after,
and nothing half-stored (every participation has its ballot; a refused submit left its link unspent).

PostgreSQL is this test's own instance (``own_postgres``: ``initdb`` in a temporary directory on a free
port), migrated and filled by ``manage.py`` as a deployment would be; the machine's server is never
stopped."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests

from tests.faults.conftest import Deployment, PostgresServer, Processes, RedisServer, SmtpSink, record

pytestmark = [pytest.mark.slow]

SEED = """
import json
from tests.helpers_rounds import answers_for, open_round
setup = open_round(people_per_team=({people},), instruments=("workload1",))
print(json.dumps({{"round": setup.round.pk, "answers": answers_for(setup.round),
                   "tokens": [setup.token_of(person) for person in setup.people]}}))
"""


def _manage(deployment: Deployment, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(__file__).resolve().parents[2],
        env=deployment.env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _counts(url: str, round_id: int) -> tuple[int, int]:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        participations = connection.execute(
            "SELECT count(*) FROM surveys_participation WHERE round_id = %s", [round_id]
        ).fetchone()
        ballots = connection.execute(
            "SELECT count(*) FROM surveys_sealedballot WHERE round_id = %s", [round_id]
        ).fetchone()
    assert participations is not None
    assert ballots is not None
    return int(participations[0]), int(ballots[0])


def test_a_postgres_restart_gives_errors_for_a_while_then_none_and_stores_nothing_by_halves(
    own_postgres: PostgresServer,
    own_redis: RedisServer,
    smtp_sink: SmtpSink,
    processes: Processes,
    tmp_path: Path,
) -> None:
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{own_postgres.port}/postgres", autocommit=True
    ) as connection:
        connection.execute("CREATE DATABASE pulse")
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    deployment = Deployment(
        processes=processes,
        database_url=own_postgres.url,
        redis_url=own_redis.url,
        smtp_port=smtp_sink.port,
        var_dir=var_dir,
    )
    _manage(deployment, "migrate", "--noinput", "-v", "0")
    people = 200
    seeded = json.loads(
        _manage(deployment, "shell", "-c", SEED.format(people=people)).strip().splitlines()[-1]
    )
    deployment.start_web()
    url = deployment.base_url + "/api/v1/checkin/"
    tokens: list[str] = seeded["tokens"]
    results: list[tuple[float, int, str]] = []  # (seconds since start, status, token)
    lock = threading.Lock()
    started = time.monotonic()
    restarted: dict[str, float] = {}
    stop = threading.Event()

    def submitter() -> None:
        while not stop.is_set():
            with lock:
                if not tokens:
                    return
                token = tokens.pop()
            try:
                status = requests.post(
                    url, json={"token": token, "answers": seeded["answers"]}, timeout=30
                ).status_code
            except requests.RequestException:
                status = 0  # no answer at all
            with lock:
                results.append((time.monotonic() - started, status, token))
            time.sleep(0.02)

    threads = [threading.Thread(target=submitter) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    restarted["from"] = time.monotonic() - started
    own_postgres.restart()
    restarted["to"] = time.monotonic() - started
    time.sleep(3.0)  # submits go on after the restart
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    first_pass = sorted(results)
    accepted = [token for _, status, token in first_pass if status == 201]
    failed = [(moment, status, token) for moment, status, token in first_pass if status != 201]
    participations, ballots = _counts(own_postgres.url, seeded["round"])
    # Whatever was refused left nothing behind: the same link is accepted now.
    retried = [
        requests.post(url, json={"token": token, "answers": seeded["answers"]}, timeout=30).status_code
        for _, _, token in failed
    ]
    after_retry = _counts(own_postgres.url, seeded["round"])
    error_window = (failed[0][0], failed[-1][0]) if failed else (0.0, 0.0)
    after_last_error = [status for moment, status, _ in first_pass if moment > error_window[1]]
    record(
        f"PostgreSQL restarted (own instance, {restarted['to'] - restarted['from']:.1f} s) during submits",
        "errors for a while, then none; participations = ballots = accepted; refused links still usable",
        f"{len(first_pass)} submits: {len(accepted)}x 201, {len(failed)} errors "
        f"({', '.join(sorted({str(status) for _, status, _ in failed})) or '-'}) from "
        f"{error_window[0]:.1f} to {error_window[1]:.1f} s (restart {restarted['from']:.1f}-"
        f"{restarted['to']:.1f} s), {len(after_last_error)} after it all 201; "
        f"stored {participations}/{ballots}; "
        f"refused retried: {retried.count(201)}x 201",
    )
    assert failed, "the restart was not felt: no submit failed"
    assert error_window[1] < restarted["to"] + 2.0  # errors stop soon after PostgreSQL is back
    assert after_last_error
    assert set(after_last_error) == {201}
    assert participations == ballots == len(accepted)
    assert retried == [201] * len(failed)
    assert after_retry == (len(first_pass), len(first_pass))
