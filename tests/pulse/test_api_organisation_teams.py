"""Organisation settings and the team tree through the API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from rest_framework.test import APIClient

from surveys.models import Organisation, Team
from tests.pulse.config_world import World, build_world

if TYPE_CHECKING:
    from rest_framework.response import _MonkeyPatchedResponse as ApiResponse  # what APIClient() returns


pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def client_for(world: World, role: str) -> APIClient:
    client = APIClient()
    client.force_login(world.signed_in(role))
    return client


# --- organisation ---------------------------------------------------------------------------------------


def test_every_person_reads_their_own_organisations_settings(world: World) -> None:
    for role in ("admin", "leader", "engineer"):
        body = client_for(world, role).get("/api/v1/organisation/").json()
        assert body == {
            "id": world.a.organisation.pk,
            "name": "Org A",
            "min_group_size": 5,
            "time_zone": "Europe/Berlin",
            "locale": "en",
            "password_sign_in": True,
            "email_link_sign_in": True,
            "single_sign_on": False,
        }
    assert client_for(world, "other_admin").get("/api/v1/organisation/").json()["name"] == "Org B"


def test_an_admin_changes_k_time_zone_and_locale(world: World) -> None:
    response = client_for(world, "admin").patch(
        "/api/v1/organisation/",
        {"min_group_size": 7, "time_zone": "America/New_York", "locale": "de"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["min_group_size"] == 7
    organisation = Organisation.objects.get(pk=world.a.organisation.pk)
    assert (organisation.min_group_size, organisation.time_zone, organisation.locale) == (
        7,
        "America/New_York",
        "de",
    )
    assert Organisation.objects.get(pk=world.b.organisation.pk).min_group_size == 5


def test_an_admin_switches_sign_in_methods_but_keeps_one(world: World) -> None:
    admin = client_for(world, "admin")
    response = admin.patch("/api/v1/organisation/", {"password_sign_in": False}, format="json")
    assert response.status_code == 200
    assert (response.json()["password_sign_in"], response.json()["email_link_sign_in"]) == (False, True)
    refused = admin.patch("/api/v1/organisation/", {"email_link_sign_in": False}, format="json")
    assert refused.status_code == 400
    assert "Keep at least one way to sign in" in refused.json()["errors"]["email_link_sign_in"][0]
    assert Organisation.objects.get(pk=world.a.organisation.pk).email_link_sign_in is True
    engineer = client_for(world, "engineer").patch("/api/v1/organisation/", {"password_sign_in": True})
    assert engineer.status_code == 403


def test_a_minimum_group_size_above_the_organisations_headcount_is_refused(world: World) -> None:
    """k = 310 where a handful of people answer would hide every result for good: refused with
    the figure, on the field, and nothing changes; the headcount itself is allowed."""
    from surveys.models import Membership
    from tests.factories import PersonFactory

    for index in range(4):
        person = PersonFactory(organisation=world.a.organisation, email=f"more{index}@a.example")
        Membership.objects.create(person=person, team=world.a.sre, starts_on=world.a.membership.starts_on)
    people = (
        Membership.objects.current()
        .filter(team__organisation=world.a.organisation, person__is_active=True, role=Membership.Role.MEMBER)
        .values("person_id")
        .distinct()
        .count()
    )
    assert people == 5
    client = client_for(world, "admin")
    response = client.patch("/api/v1/organisation/", {"min_group_size": 310}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            "min_group_size": [
                f"Only {people} people answer check-ins in this organisation, so a minimum group size of 310 "
                f"would hide every result. Choose {people} or fewer."
            ]
        }
    }
    assert Organisation.objects.get(pk=world.a.organisation.pk).min_group_size == 5
    if people >= 3:
        assert (
            client.patch("/api/v1/organisation/", {"min_group_size": people}, format="json").status_code
            == 200
        )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"min_group_size": 2}, "min_group_size"),  # k below the floor of 3 would identify people
        ({"time_zone": "Europe/Berlinn"}, "time_zone"),
        ({"locale": "fr"}, "locale"),
        ({"name": "Org B"}, "name"),  # names are unique
    ],
)
def test_bad_settings_are_refused_field_by_field(
    world: World, payload: dict[str, object], field: str
) -> None:
    response = client_for(world, "admin").patch("/api/v1/organisation/", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert Organisation.objects.get(pk=world.a.organisation.pk).min_group_size == 5


# --- teams ----------------------------------------------------------------------------------------------


def names(response: ApiResponse) -> list[str]:
    return [team["name"] for team in response.json()["results"]]


def test_admins_see_the_whole_tree_in_order_and_leaders_their_subtree(world: World) -> None:
    admin = client_for(world, "admin").get("/api/v1/teams/")
    assert names(admin) == ["Engineering a", "Platform a", "SRE a", "Data a"]
    sre = next(team for team in admin.json()["results"] if team["name"] == "SRE a")
    assert sre["parent"] == world.a.platform.pk
    assert sre["path"] == [world.a.root.pk, world.a.platform.pk, world.a.sre.pk]
    assert sre["depth"] == 2
    assert sre["effective_time_zone"] == "Europe/Berlin"
    assert names(client_for(world, "leader").get("/api/v1/teams/")) == ["Platform a", "SRE a"]
    assert names(client_for(world, "engineer").get("/api/v1/teams/")) == []
    assert client_for(world, "leader").get(f"/api/v1/teams/{world.a.data.pk}/").status_code == 404
    assert client_for(world, "leader").get(f"/api/v1/teams/{world.a.sre.pk}/").status_code == 200


def test_team_filters(world: World) -> None:
    client = client_for(world, "admin")
    assert names(client.get("/api/v1/teams/", {"under": world.a.platform.pk})) == ["Platform a", "SRE a"]
    assert names(client.get("/api/v1/teams/", {"parent": world.a.root.pk})) == ["Platform a", "Data a"]
    assert names(client.get("/api/v1/teams/", {"top": "true"})) == ["Engineering a"]
    assert names(client.get("/api/v1/teams/", {"under": world.b.root.pk})) == []


def test_an_admin_creates_a_team_under_a_parent_with_a_free_slug(world: World) -> None:
    client = client_for(world, "admin")
    # "SRE a" under Data: the name is free there (unique per parent), the slug "sre-a" is taken.
    response = client.post("/api/v1/teams/", {"name": "SRE a", "parent": world.a.data.pk}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "sre-a-2"  # "sre-a" is taken
    assert body["path"][:2] == [world.a.root.pk, world.a.data.pk]
    assert Team.objects.get(pk=body["id"]).organisation_id == world.a.organisation.pk


def test_a_parent_from_another_organisation_does_not_exist(world: World) -> None:
    client = client_for(world, "admin")
    foreign = client.post("/api/v1/teams/", {"name": "X", "parent": world.b.root.pk}, format="json")
    missing = client.post("/api/v1/teams/", {"name": "X", "parent": 987654}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["errors"]["parent"] == [f'Invalid pk "{world.b.root.pk}" - object does not exist.']
    assert missing.json()["errors"]["parent"] == ['Invalid pk "987654" - object does not exist.']


def test_moving_a_team_moves_its_subtree_and_cycles_are_refused(world: World) -> None:
    client = client_for(world, "admin")
    moved = client.patch(f"/api/v1/teams/{world.a.platform.pk}/", {"parent": world.a.data.pk}, format="json")
    assert moved.status_code == 200
    sre = Team.objects.get(pk=world.a.sre.pk)
    assert sre.path == f"/{world.a.root.pk}/{world.a.data.pk}/{world.a.platform.pk}/{world.a.sre.pk}/"

    cycle = client.patch(f"/api/v1/teams/{world.a.root.pk}/", {"parent": world.a.sre.pk}, format="json")
    assert cycle.status_code == 400
    assert cycle.json()["errors"] == {
        "parent": ["A team cannot be placed under itself or one of its own teams."]
    }
    itself = client.patch(f"/api/v1/teams/{world.a.sre.pk}/", {"parent": world.a.sre.pk}, format="json")
    assert itself.status_code == 400
    assert Team.objects.get(pk=world.a.root.pk).parent_id is None


def test_slug_clash_and_bad_time_zone_are_field_errors(world: World) -> None:
    client = client_for(world, "admin")
    clash = client.patch(
        f"/api/v1/teams/{world.a.data.pk}/", {"slug": "sre-a", "name": "Data"}, format="json"
    )
    assert clash.status_code == 400
    assert clash.json()["errors"] == {"slug": ["Another team already uses the slug 'sre-a'."]}
    zone = client.patch(f"/api/v1/teams/{world.a.data.pk}/", {"time_zone": "Nowhere/City"}, format="json")
    assert zone.status_code == 400
    assert list(zone.json()["errors"]) == ["time_zone"]
    assert Team.objects.get(pk=world.a.data.pk).name == "Data a"
    # A slug another organisation uses is free here.
    assert (
        client.patch(f"/api/v1/teams/{world.a.data.pk}/", {"slug": "sre-b"}, format="json").status_code == 200
    )
    assert (
        client.patch(f"/api/v1/teams/{world.b.data.pk}/", {"name": "Mine"}, format="json").status_code == 404
    )
    assert Team.objects.get(pk=world.b.data.pk).name == "Data b"
