"""Every benchmark runs, as ``manage.py pulse_bench NAME --smoke`` in its own process, and ends with a
RESULT line of numbers; and none of it exists, or runs, in production.

On PostgreSQL each benchmark really runs (the ones that need wrk drive a real gunicorn with it); on SQLite
the ones that measure PostgreSQL must refuse, saying so, and only ``trends`` runs.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from pytest_django.fixtures import Settings

from pulse.devtools.management.commands.pulse_bench import PRODUCTION_REFUSAL, available
from tests.test_settings import GOOD, manage

ROOT = Path(__file__).resolve().parent.parent.parent
NUMBER = r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)"
RESULT = re.compile(
    rf"^RESULT name=(?P<name>\S+) ours=(?P<ours>{NUMBER}) baseline=(?P<baseline>{NUMBER}) "
    rf"unit=(?P<unit>\S+) ratio=(?P<ratio>{NUMBER}) target=(?P<target>\S.*)$"
)
# The benchmarks that touch no database; every other one measures PostgreSQL.
DATABASE_FREE = {"trends"}
# The benchmarks that run real beat and worker processes, on the broker the suite is given.
ON_A_BROKER = {"close_system", "delivery"}


def _database_url() -> str:
    """The suite's own test database: the benchmarks make their scratch databases beside it."""
    if connection.vendor != "postgresql":
        return ""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _bench(name: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "DEBUG"}}
    env.pop("PYTEST_CURRENT_TEST", None)
    env["PULSE_VAR_DIR"] = str(var_dir)  # secrets and round keys of its own, never the checkout's var/
    if url := _database_url():
        env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "manage.py", "pulse_bench", name, "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _scratch_databases() -> list[str]:
    """Databases named after this suite's test database by ``scratch_database``."""
    prefix = connection.settings_dict["NAME"][:35] + "_bench_"
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix])
        return [row[0] for row in cursor.fetchall()]


def test_the_benchmarks_on_offer() -> None:
    assert available() == [
        "aggregate",
        "close",
        "close_system",
        "dashboard",
        "delivery",
        "email",
        "flags",
        "invitations",
        "oncall",
        "submit",
        "trends",
    ]


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("name", available())
def test_each_benchmark_runs_at_smoke_size_and_ends_with_its_result_line(name: str, tmp_path: Path) -> None:
    if name not in DATABASE_FREE and connection.vendor != "postgresql":
        with pytest.raises(CommandError, match="PostgreSQL: set DATABASE_URL=postgres://"):
            call_command("pulse_bench", name, "--smoke")
        return
    if name in ON_A_BROKER and not settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://")):
        pytest.skip("runs real Celery workers: needs a broker (REDIS_URL or CELERY_BROKER_URL)")
    if name == "submit" and shutil.which("wrk") is None:
        pytest.fail("the submit benchmark needs wrk (apt-get install -y wrk; .ci/run installs it)")

    result = _bench(name, tmp_path)

    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    last = result.stdout.strip().splitlines()[-1]
    match = RESULT.match(last)
    assert match, f"the last line is not a RESULT line: {last!r}"
    assert match["name"] == name
    for figure in ("ours", "baseline", "ratio"):
        assert math.isfinite(float(match[figure])), last
        assert float(match[figure]) > 0, last
    assert math.isclose(float(match["ratio"]), float(match["ours"]) / float(match["baseline"]), rel_tol=1e-3)
    if connection.vendor == "postgresql":
        assert _scratch_databases() == [], "the benchmark's scratch database was not dropped"


def test_in_production_the_benchmark_and_demo_commands_do_not_exist() -> None:
    for command in ("pulse_bench", "pulse_demo_history"):
        result = manage(command, *(["trends"] if command == "pulse_bench" else []), env=GOOD)
        assert result.returncode != 0
        assert f"Unknown command: '{command}'" in result.stderr, result.stderr


def test_pulse_bench_refuses_in_production_before_touching_a_database(settings: Settings) -> None:
    """For an installation that adds the app by hand. No database fixture: had the command touched the
    database first, pytest-django would raise its own error instead of this one."""
    settings.PRODUCTION = True
    for name in available():
        with pytest.raises(CommandError) as refusal:
            call_command("pulse_bench", name, "--smoke")
        assert str(refusal.value) == PRODUCTION_REFUSAL


def test_pulse_demo_history_refuses_in_production(settings: Settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="PULSE_ENV=production"):
        call_command("pulse_demo_history")
