"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.conf import settings


def pytest_configure(config: pytest.Config) -> None:
    """Round keys go to a directory of this test process's own, never the checkout's var/ (xdist workers
    each import this, so each has its own). Translation catalogues are compiled if stale, as `make` does,
    so a test run straight after editing a .po sees the edit."""
    settings.PULSE_ROUND_KEY_DIR = tempfile.mkdtemp(prefix="pulse-round-keys-")
    # Every test client calls from 127.0.0.1, and the counters outlive a test: API throttles far above any
    # test's use (tests/pulse/test_api_throttling.py sets its own tight ones).
    settings.PULSE_RATE_LIMITS = {
        **settings.PULSE_RATE_LIMITS,
        "api_user": "1000000/60",
        "api_anon_ip": "1000000/60",
    }
    _compile_catalogues()


def _compile_catalogues() -> None:
    """Each .po under LOCALE_PATHS to its .mo when missing or older; written aside and moved into place, so
    a parallel worker never reads half a file."""
    for locale_dir in settings.LOCALE_PATHS:
        for po in Path(locale_dir).glob("*/LC_MESSAGES/*.po"):
            mo = po.with_suffix(".mo")
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            scratch = mo.with_name(f".{mo.name}.{os.getpid()}")
            subprocess.run(["msgfmt", "--check", "-o", str(scratch), str(po)], check=True)
            os.replace(scratch, mo)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL")
    for item in items:
        if "postgres" in item.keywords and not settings.IS_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _default_instrument_library(request: pytest.FixtureRequest) -> None:
    """The default instrument library is data loaded by a migration. A transactional test ends by flushing
    every table, which removes it for the tests after it; put it back (idempotently) for tests that use the
    database."""
    if not {"db", "transactional_db", "django_db_setup"} & set(request.fixturenames) and not (
        request.node.get_closest_marker("django_db")
    ):
        return
    request.getfixturevalue("transactional_db" if _wants_transaction(request) else "db")
    from tests.helpers_rounds import ensure_library

    ensure_library()


def _wants_transaction(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(
        "transactional_db" in request.fixturenames
        or (marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    )
