"""Property-based tests of the API against its own OpenAPI schema (schemathesis, through the WSGI app).

Every operation is called with generated valid and invalid input as a signed-in admin using an API token,
under every check schemathesis has but one: no response may be a 5xx; every response matches the schema
(status code documented, content type, body, headers); invalid input is refused; a method the schema does
not list answers 405 with an Allow header that lists exactly the documented ones.

Left out: ``positive_data_acceptance`` ("a schema-valid request is accepted"). A schema cannot say which
ids exist, which email is taken, which names are time zones or how many people an organisation has;
such requests are rightly refused with field errors (400). Making and revoking tokens are left out
too: revoking would sign the test out half-way (they have their own tests in test_api_common.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application
from tests.pulse.config_world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_token(db: Any) -> str:
    return build_world().token("admin")


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Calling the WSGI app directly fires request_started/finished, whose close_old_connections would close
    the test's database connection mid-transaction (harmless on SQLite's in-memory database, fatal on
    PostgreSQL). Django's own test client disconnects it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# Loaded at collection through the WSGI app: the schema view touches no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).exclude(
    path_regex=r"/api/v1/me/tokens/"
)


@schema.parametrize()
@settings(
    max_examples=3,  # the whole run stays near a minute on PostgreSQL
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_conforms_to_its_schema(case: Any, admin_token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {admin_token}"}, excluded_checks=[positive_data_acceptance]
    )
