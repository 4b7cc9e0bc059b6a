"""API throttles: past its rate a client gets 429 with Retry-After (the check-in endpoint, unauthenticated,
per address; everything else per user), and the schema documents it for every operation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db

TIGHT = {**settings.PULSE_RATE_LIMITS, "api_user": "3/60", "api_anon_ip": "2/60"}


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()  # the counters live in the cache
    yield
    cache.clear()


@override_settings(PULSE_RATE_LIMITS=TIGHT)
def test_the_unauthenticated_checkin_endpoint_answers_429_with_retry_after() -> None:
    client = APIClient(REMOTE_ADDR="10.1.1.1")
    body = {"token": "x" * 43, "answers": {}}
    assert [client.post("/api/v1/checkin/", body, format="json").status_code for _ in range(2)] == [404, 404]
    throttled = client.post("/api/v1/checkin/", body, format="json")
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert "throttled" in throttled.json()["detail"]
    # Counted per address: another client is not held up.
    assert APIClient(REMOTE_ADDR="10.1.1.2").post("/api/v1/checkin/", body, format="json").status_code == 404


@override_settings(PULSE_RATE_LIMITS=TIGHT)
def test_a_signed_in_client_is_throttled_per_user() -> None:
    world: World = build_world()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.token('admin')}")
    assert [client.get("/api/v1/teams/").status_code for _ in range(3)] == [200] * 3
    throttled = client.get("/api/v1/teams/")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    # Another user has a budget of their own, whatever address they call from.
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {world.token('leader')}")
    assert other.get("/api/v1/teams/").status_code == 200


def test_the_schema_documents_429_with_retry_after_on_every_operation() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if isinstance(operation, dict) and "responses" in operation
    ]
    assert any(path == "/api/v1/checkin/" for path, _, _ in operations)
    for path, method, operation in operations:
        answer = operation["responses"].get("429")
        assert answer is not None, (path, method)
        assert answer["headers"]["Retry-After"]["schema"]["type"] == "integer"
