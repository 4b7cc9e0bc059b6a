"""Schedules through the API: validation field by field and the next openings in local time and UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from surveys.models import Instrument, Schedule
from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def admin(world: World) -> APIClient:
    client = APIClient()
    client.force_login(world.signed_in("admin"))
    return client


def instrument(key: str) -> int:
    return Instrument.objects.get(key=key, version=1).pk


def payload(world: World, **overrides: Any) -> dict[str, Any]:
    data = {
        "team": world.a.platform.pk,
        "name": "Weekly workload",
        "instruments": [instrument("workload1")],
        "cadence": "weekly",
        "every_n_weeks": 1,
        "weekday": 0,
        "local_time": "10:00",
        "starts_on": "2026-03-16",
        "open_for": "2 00:00:00",
        "reminder_1": "1 00:00:00",
    }
    data.update(overrides)
    return data


def test_a_weekly_schedule_shows_its_openings_across_the_spring_dst_change(
    world: World, admin: APIClient
) -> None:
    """Europe/Berlin moves to summer time on Sunday 29 March 2026: 10:00 local is 09:00 UTC before that,
    08:00 UTC after."""
    response = admin.post("/api/v1/schedules/", payload(world), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["effective_time_zone"] == "Europe/Berlin"
    assert [(item["local"], item["utc"]) for item in body["next_openings"]] == [
        ("2026-03-16T10:00:00+01:00", "2026-03-16T09:00:00Z"),
        ("2026-03-23T10:00:00+01:00", "2026-03-23T09:00:00Z"),
        ("2026-03-30T10:00:00+02:00", "2026-03-30T08:00:00Z"),
        ("2026-04-06T10:00:00+02:00", "2026-04-06T08:00:00Z"),
        ("2026-04-13T10:00:00+02:00", "2026-04-13T08:00:00Z"),
    ]
    assert body["next_opening_at"] == "2026-03-16T09:00:00Z"
    schedule = Schedule.objects.get(pk=body["id"])
    assert schedule.organisation_id == world.a.organisation.pk
    assert schedule.next_opening_at == dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)


def test_the_schedules_own_zone_wins_over_the_teams(world: World, admin: APIClient) -> None:
    response = admin.post("/api/v1/schedules/", payload(world, time_zone="America/New_York"), format="json")
    first = response.json()["next_openings"][0]
    assert (first["local"], first["utc"]) == ("2026-03-16T10:00:00-04:00", "2026-03-16T14:00:00Z")


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        # WHO-5 asks about the last two weeks (recall period 14 days): weekly is too often.
        ({"instruments": "who5"}, "every_n_weeks", "WHO-5"),
        ({"open_for": "1 00:00:00", "reminder_1": "2 00:00:00"}, "reminder_1", "before the round opens"),
        ({"open_for": "8 00:00:00"}, "open_for", "still be open when the next one opens"),
        ({"time_zone": "Europe/Atlantis"}, "time_zone", "not a known time zone"),
        ({"instruments": []}, "instruments", "at least one instrument"),
        ({"cadence": "monthly", "nth_weekday": 5}, "nth_weekday", "less than or equal to 4"),
        ({"open_for": "P99999999999D"}, "open_for", "number of days"),
        ({"reminder_1": "0 00:00:10"}, "reminder_1", "greater than or equal to"),
    ],
)
def test_bad_schedules_are_refused_field_by_field(
    world: World, admin: APIClient, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    if overrides.get("instruments") == "who5":
        overrides = {**overrides, "instruments": [instrument("who5")]}
    response = admin.post("/api/v1/schedules/", payload(world, **overrides), format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors
    assert not Schedule.objects.filter(name="Weekly workload").exists()


def test_ids_of_another_organisation_are_unknown_here(world: World, admin: APIClient) -> None:
    response = admin.post(
        "/api/v1/schedules/",
        payload(world, team=world.b.platform.pk, instruments=[world.b.instrument.pk]),
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"team", "instruments"}
    own_custom = admin.post(
        "/api/v1/schedules/", payload(world, instruments=[world.a.instrument.pk]), format="json"
    )
    assert own_custom.status_code == 201, own_custom.json()
    assert admin.get(f"/api/v1/schedules/{world.b.schedule.pk}/").status_code == 404
    patch = admin.patch(f"/api/v1/schedules/{world.b.schedule.pk}/", {"name": "Mine"}, format="json")
    assert patch.status_code == 404


def test_two_schedules_asking_one_team_the_same_instrument_too_often_conflict(
    world: World, admin: APIClient
) -> None:
    # The world's schedule asks all of Engineering a the WHO-5 every two weeks from Monday 5 January; a second
    # one for Platform on the Mondays in between would ask its people every week.
    response = admin.post(
        "/api/v1/schedules/",
        payload(world, instruments=[instrument("who5")], every_n_weeks=2, starts_on="2026-03-09"),
        format="json",
    )
    assert response.status_code == 400
    messages = response.json()["errors"]["instruments"]
    assert any("Fortnightly a" in message and "7 days apart" in message for message in messages), messages


def test_updating_a_schedule_recomputes_its_openings(world: World, admin: APIClient) -> None:
    created = admin.post("/api/v1/schedules/", payload(world), format="json").json()
    response = admin.patch(
        f"/api/v1/schedules/{created['id']}/", {"local_time": "09:30", "weekday": 2}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["next_openings"][0]["local"] == "2026-03-18T09:30:00+01:00"
    assert response.json()["instruments"] == [instrument("workload1")]
    refused = admin.patch(f"/api/v1/schedules/{created['id']}/", {"every_n_weeks": 0}, format="json")
    assert refused.status_code == 400
    assert Schedule.objects.get(pk=created["id"]).every_n_weeks == 1


def test_the_preview_validates_and_saves_nothing(world: World, admin: APIClient) -> None:
    response = admin.post("/api/v1/schedules/preview/", payload(world), format="json")
    assert response.status_code == 200
    assert response.json()["time_zone"] == "Europe/Berlin"
    assert len(response.json()["next_openings"]) == 5
    assert not Schedule.objects.filter(name="Weekly workload").exists()
    bad = admin.post(
        "/api/v1/schedules/preview/", payload(world, instruments=[instrument("who5")]), format="json"
    )
    assert bad.status_code == 400


def test_leaders_read_the_schedules_of_their_teams_and_cannot_write(world: World, admin: APIClient) -> None:
    created = admin.post("/api/v1/schedules/", payload(world), format="json").json()
    leader = APIClient()
    leader.force_login(world.signed_in("leader"))
    listed = leader.get("/api/v1/schedules/").json()["results"]
    assert [item["id"] for item in listed] == [created["id"]]  # not the one on Engineering a, above Platform
    assert leader.get(f"/api/v1/schedules/{world.a.schedule.pk}/").status_code == 404
    assert leader.post("/api/v1/schedules/", payload(world), format="json").status_code == 403
    engineer = APIClient()
    engineer.force_login(world.signed_in("engineer"))
    assert engineer.get("/api/v1/schedules/").json()["results"] == []


def test_a_schedule_ending_before_it_starts_is_an_error_on_ends_on(world: World, admin: APIClient) -> None:
    response = admin.post("/api/v1/schedules/", payload(world, ends_on="2026-03-01"), format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors == {"ends_on": ["The last day is before the first day: choose the first day or later."]}
