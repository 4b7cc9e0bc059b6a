"""The API speaks one format: ISO 8601 durations, as its schema says, and JSON errors for every path
under /api/, including an unknown path (404) and a method a route does not take (405), with DEBUG on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from pulse.api.fields import iso_duration
from tests.pulse.config_world import World, build_world
from tests.pulse.test_api_schedules import payload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def api(world: World) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.token('admin')}")
    return client


def test_schedules_answer_durations_in_iso_8601(api: APIClient, world: World) -> None:
    created = api.post(
        "/api/v1/schedules/", payload(world, open_for="P2D", reminder_1="PT36H"), format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["open_for"], body["reminder_1"], body["reminder_2"]) == ("P2D", "P1DT12H", None)
    listed = api.get("/api/v1/schedules/").json()["results"]
    assert all(item["open_for"].startswith("P") for item in listed)
    schema = api.get("/api/schema/?format=json").json()
    fields = schema["components"]["schemas"]["Schedule"]["properties"]
    assert fields["open_for"]["format"] == "duration"


def test_iso_durations_are_the_shortest_form() -> None:
    assert iso_duration(dt.timedelta(days=3)) == "P3D"
    assert iso_duration(dt.timedelta(hours=36)) == "P1DT12H"
    assert iso_duration(dt.timedelta(minutes=90)) == "PT1H30M"
    assert iso_duration(dt.timedelta(0)) == "PT0S"
    assert iso_duration(dt.timedelta(seconds=1.5)) == "PT1.5S"


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_json_404(
    api: APIClient, settings: Settings, debug: bool, method: str
) -> None:
    settings.DEBUG = debug
    for path in ("/api/v1/nothing-here/", "/api/v1/teams/999/nope/", "/api/v2/", "/api/"):
        response = getattr(api, method)(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}


def test_a_method_a_route_does_not_take_is_a_json_405(api: APIClient, world: World) -> None:
    for path, method in (
        ("/api/v1/teams/", "delete"),
        ("/api/v1/flags/", "post"),
        ("/api/v1/me/tokens/", "put"),
    ):
        response = getattr(api, method)(path)
        assert response.status_code == 405, path
        assert response["Content-Type"] == "application/json"
        assert "not allowed" in response.json()["detail"]
