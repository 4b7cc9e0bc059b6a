"""The instrument library through the API, custom instruments, and the engineer's own check-ins."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from surveys.models import Instrument, Person
from tests.helpers_rounds import open_round
from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def client_for(world: World, role: str) -> APIClient:
    client = APIClient()
    client.force_login(world.signed_in(role))
    return client


def test_the_library_and_own_custom_instruments_never_another_organisations(world: World) -> None:
    keys = [
        item["key"]
        for item in client_for(world, "engineer").get("/api/v1/instruments/?page_size=200").json()["results"]
    ]
    assert {"who5", "burnout1", "cbi_work", "cbi_personal", "copsoq_demands", "workload1", "comment"} <= set(
        keys
    )
    assert "mood_a" in keys
    assert "mood_b" not in keys
    custom = client_for(world, "admin").get("/api/v1/instruments/", {"custom": "true"}).json()["results"]
    assert [item["key"] for item in custom] == ["mood_a"]
    assert client_for(world, "admin").get(f"/api/v1/instruments/{world.b.instrument.pk}/").status_code == 404


def test_an_instrument_shows_its_citation_licence_scoring_and_missing_translations(world: World) -> None:
    who5 = Instrument.objects.get(key="who5", version=1)
    body = client_for(world, "leader").get(f"/api/v1/instruments/{who5.pk}/").json()
    assert (body["validated"], body["default_library"], body["custom"]) == (True, True, False)
    assert body["locked"] is True
    assert "Topp CW" in body["citation"]
    assert body["licence"].startswith("Free to use without permission")
    assert body["recall_period_days"] == 14
    assert body["missing_translations"] == {}
    assert len(body["questions"]) == 5
    scale = body["scales"][0]
    assert (scale["method"], scale["factor"]) == ("sum", "4")  # raw 0–25 × 4 (Topp et al. 2015)
    assert [band["threshold"] for band in scale["bands"]][:2] == ["28", "50"]
    cbi = Instrument.objects.get(key="cbi_work", version=1)
    listed = client_for(world, "admin").get("/api/v1/instruments/", {"key": "cbi_work"}).json()["results"][0]
    assert listed["id"] == cbi.pk
    assert "cbi_work_1 text" in listed["missing_translations"]["de"]


def definition(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "focus_time",
        "name": "Focus time",
        "licence": "ours",
        "recall_period_days": 7,
        "stem": {"en": "Think of the last week."},
        "questions": [
            {
                "key": "focus_1",
                "order": 1,
                "text": {
                    "en": "I had enough time to focus.",
                    "de": "Ich hatte genug Zeit, mich zu konzentrieren.",
                },
                "options": [
                    {"value": 1, "label": {"en": "No"}},
                    {"value": 2, "label": {"en": "Partly"}},
                    {"value": 3, "label": {"en": "Yes"}},
                ],
            }
        ],
        "scales": [
            {
                "key": "focus",
                "name": "Focus",
                "items": ["focus_1"],
                "method": "mean",
                "factor": "1",
                "bands": [{"name": "low", "op": "<=", "threshold": "1.5"}],
            }
        ],
    }
    data.update(overrides)
    return data


def test_an_admin_creates_a_custom_instrument_that_is_never_marked_validated(world: World) -> None:
    response = client_for(world, "admin").post("/api/v1/instruments/", definition(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["version"], body["validated"], body["custom"], body["locked"]) == (1, False, True, False)
    assert body["missing_translations"] == {"de": ["stem", "focus_1 options"]}
    assert body["scales"][0]["bands"] == [{"name": "low", "op": "<=", "threshold": "1.5"}]
    instrument = Instrument.objects.get(key="focus_time")
    assert instrument.organisation_id == world.a.organisation.pk
    assert client_for(world, "other_admin").get(f"/api/v1/instruments/{instrument.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"key": "Focus Time"}, "key"),
        ({"key": "who5"}, "key"),  # the default library's key is taken
        ({"licence": " "}, "licence"),
        ({"questions": []}, "questions"),
        (
            {"scales": [{"key": "focus", "name": "F", "items": ["nope"], "method": "mean"}]},
            "scales[0].items",
        ),
        (
            {
                "scales": [
                    {"key": "focus", "name": "F", "items": ["focus_1"], "method": "mean", "factor": "1e999"}
                ]
            },
            "scales[0].factor",
        ),
    ],
)
def test_a_bad_definition_is_refused_with_errors_by_path(
    world: World, overrides: dict[str, Any], path: str
) -> None:
    response = client_for(world, "admin").post("/api/v1/instruments/", definition(**overrides), format="json")
    assert response.status_code == 400
    assert path in response.json()["errors"], response.json()
    assert not Instrument.objects.filter(key="focus_time").exists()


def test_only_admins_create_instruments(world: World) -> None:
    response = client_for(world, "leader").post("/api/v1/instruments/", definition(), format="json")
    assert response.status_code == 403


def test_my_checkins_lists_only_my_own_open_rounds_and_never_answers(world: World) -> None:
    opened = open_round(people_per_team=(3,), instruments=("workload1",))
    me, colleague = opened.people[0], opened.people[1]
    me.user = world.nobody
    me.save(update_fields=["user"])
    client = APIClient()
    client.force_login(world.nobody)
    body = client.get("/api/v1/me/checkins/").json()
    assert body["results"] == [
        {
            "round": opened.round.pk,
            "name": opened.round.schedule.name,
            "opens_at": opened.round.opens_at.isoformat().replace("+00:00", "Z"),
            "closes_at": opened.round.closes_at.isoformat().replace("+00:00", "Z"),
            "answered": False,
        }
    ]
    assert Person.objects.get(pk=colleague.pk).user is None
    # An engineer of organisation A with no invitation sees an empty list.
    assert client_for(world, "engineer").get("/api/v1/me/checkins/").json()["results"] == []
