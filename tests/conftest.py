"""Fixtures shared by the whole suite."""

from __future__ import annotations

import tempfile

import pytest
from django.conf import settings


def pytest_configure(config: pytest.Config) -> None:
    """Round keys go to a directory of this test process's own, never the checkout's var/ (xdist workers
    each import this, so each has its own)."""
    settings.PULSE_ROUND_KEY_DIR = tempfile.mkdtemp(prefix="pulse-round-keys-")


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
