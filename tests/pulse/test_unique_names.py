"""Team names are unique under one parent and schedule names within an organisation: in the web forms,
the API and the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from surveys.models import Schedule, Team
from tests.pulse.config_world import World, build_world
from tests.pulse.test_web_admin import schedule_form, text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def admin(world: World) -> Client:
    client = Client()
    client.force_login(world.signed_in("admin"))
    return client


@pytest.fixture
def api(world: World) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.token('admin')}")
    return client


def test_a_second_team_with_the_same_name_under_one_parent_is_refused_at_the_field(
    admin: Client, world: World
) -> None:
    response = admin.post("/manage/teams/", {"name": "sre A", "parent": world.a.platform.pk, "time_zone": ""})
    assert response.status_code == 400
    page = text(response)
    assert "There is already a team called &#x27;sre A&#x27; under Platform a" in page
    assert 'id="id_name_error"' in page
    assert 'value="sre A"' in page
    # The same name under another parent is fine.
    elsewhere = admin.post("/manage/teams/", {"name": "SRE a", "parent": world.a.data.pk, "time_zone": ""})
    assert elsewhere.status_code == 302
    assert Team.objects.filter(organisation=world.a.organisation, name__iexact="sre a").count() == 2


def test_renaming_a_team_to_its_siblings_name_is_refused(admin: Client, world: World) -> None:
    data = Team.objects.create(
        organisation=world.a.organisation, name="Data b", parent=world.a.root, slug="db"
    )
    response = admin.post(
        f"/manage/teams/{data.pk}/",
        {"name": "Data a", "parent": world.a.root.pk, "slug": "db", "time_zone": ""},
    )
    assert response.status_code == 400
    assert "There is already a team called &#x27;Data a&#x27; under Engineering a" in text(response)


def test_the_api_refuses_a_duplicate_team_name(api: APIClient, world: World) -> None:
    response = api.post("/api/v1/teams/", {"name": "SRE a", "parent": world.a.platform.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["name"] == [
        "There is already a team called 'SRE a' under Platform a; choose another name."
    ]
    top = api.post("/api/v1/teams/", {"name": "engineering A"}, format="json")
    assert top.status_code == 400
    assert "at the top level" in top.json()["errors"]["name"][0]


def test_the_database_refuses_duplicate_team_names(world: World) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(
            organisation=world.a.organisation, name="SRE A", parent=world.a.platform, slug="x1"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(organisation=world.a.organisation, name="ENGINEERING A", parent=None, slug="x2")


def test_a_second_schedule_with_the_same_name_is_refused_at_the_field(admin: Client, world: World) -> None:
    name = world.a.schedule.name
    response = admin.post("/manage/schedules/new/", schedule_form(world, name=name.upper()))
    assert response.status_code == 400
    page = text(response)
    assert f"Another schedule is already called &#x27;{name.upper()}&#x27;" in page
    assert 'id="id_name_error"' in page
    assert Schedule.objects.filter(organisation=world.a.organisation, name__iexact=name).count() == 1


def test_the_api_refuses_a_duplicate_schedule_name(api: APIClient, world: World) -> None:
    from tests.pulse.test_api_schedules import payload

    response = api.post("/api/v1/schedules/", payload(world, name=world.a.schedule.name), format="json")
    assert response.status_code == 400
    assert "Another schedule is already called" in response.json()["errors"]["name"][0]


def test_the_database_refuses_duplicate_schedule_names_in_one_organisation(world: World) -> None:
    schedule = world.a.schedule
    with pytest.raises(IntegrityError), transaction.atomic():
        Schedule.objects.create(
            organisation=schedule.organisation,
            team=schedule.team,
            name=schedule.name.upper(),
            starts_on=dt.date(2026, 3, 1),
        )
    # Another organisation may use the name.
    other = world.b.schedule
    other.name = schedule.name
    other.save(update_fields=["name"])


def test_a_duplicate_that_slips_past_the_check_is_a_field_error_not_a_crash(world: World) -> None:
    """Two admins saving one name at once both pass the check; the database lets one in and the other is
    told at the field."""
    from surveys.services.schedules import schedule_save

    original = world.a.schedule
    # Another instrument on a team of its own, so nothing but the name clashes.
    twin = Schedule(
        organisation=original.organisation,
        team=world.a.data,
        name=original.name.upper(),
        starts_on=original.starts_on,
    )
    with pytest.raises(ValidationError) as refused:
        schedule_save(schedule=twin, instruments=[world.a.instrument])
    assert refused.value.message_dict == {
        "name": [f"Another schedule is already called {twin.name!r}; choose another name."]
    }
    assert (
        Schedule.objects.filter(organisation=original.organisation, name__iexact=original.name).count() == 1
    )


def test_the_form_names_a_duplicate_schedule_once(admin: Client, world: World) -> None:
    response = admin.post("/manage/schedules/new/", schedule_form(world, name=world.a.schedule.name))
    assert response.status_code == 400
    page = text(response)
    assert "Another schedule is already called" in page
    # The database constraint's own message (model validation runs it too) is not shown beside it.
    assert "already has this name" not in page
    assert "is violated" not in page
