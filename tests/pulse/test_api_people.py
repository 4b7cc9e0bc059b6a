"""People, memberships and the HR CSV import through the API (admins only)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from surveys.models import Membership, Person, Team
from tests.pulse.config_world import World, build_world

if TYPE_CHECKING:
    from rest_framework.response import _MonkeyPatchedResponse as ApiResponse  # what APIClient() returns


pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def world() -> World:
    with time_machine.travel(TODAY, tick=False):
        return build_world()


@pytest.fixture
def admin(world: World) -> APIClient:
    client = APIClient()
    client.force_login(world.signed_in("admin"))
    return client


def emails(response: ApiResponse) -> list[str]:
    return sorted(person["email"] for person in response.json()["results"])


# --- people ---------------------------------------------------------------------------------------------


def test_only_admins_list_people_and_only_their_own(world: World, admin: APIClient) -> None:
    assert emails(admin.get("/api/v1/people/")) == [
        "admin@a.example",
        "engineer@a.example",
        "leader@a.example",
    ]
    for role in ("leader", "engineer"):
        client = APIClient()
        client.force_login(world.signed_in(role))
        assert client.get("/api/v1/people/").status_code == 403
    assert admin.get(f"/api/v1/people/{world.b.engineer.pk}/").status_code == 404


def test_people_filters_and_details(world: World, admin: APIClient) -> None:
    assert emails(admin.get("/api/v1/people/", {"team": world.a.sre.pk})) == ["engineer@a.example"]
    assert emails(admin.get("/api/v1/people/", {"q": "LEAD"})) == ["leader@a.example"]
    assert emails(admin.get("/api/v1/people/", {"admin": "true"})) == ["admin@a.example"]
    assert emails(admin.get("/api/v1/people/", {"active": "false"})) == []
    leader = admin.get(f"/api/v1/people/{world.a.leader.pk}/").json()
    assert leader["memberships"] == [
        {
            "id": leader["memberships"][0]["id"],
            "team": world.a.platform.pk,
            "team_name": "Platform a",
            "role": "leader",
        }
    ]
    assert leader["can_sign_in"] is True


def test_an_admin_adds_a_person_who_can_then_sign_in(world: World, admin: APIClient) -> None:
    response = admin.post(
        "/api/v1/people/",
        {"email": "New@A.example", "display_name": "New Person", "locale": "de", "time_zone": "Asia/Kolkata"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    person = Person.objects.get(pk=response.json()["id"])
    assert person.organisation_id == world.a.organisation.pk
    assert person.user is not None
    assert person.user.is_active
    assert not person.user.has_usable_password()
    assert response.json()["can_sign_in"] is True
    duplicate = admin.post(
        "/api/v1/people/", {"email": "new@a.example", "display_name": "Again"}, format="json"
    )
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"] == {
        "email": ["Someone in this organisation already has this email address."]
    }


def test_the_same_address_may_exist_in_another_organisation(world: World, admin: APIClient) -> None:
    response = admin.post(
        "/api/v1/people/", {"email": "engineer@b.example", "display_name": "Twin"}, format="json"
    )
    assert response.status_code == 201
    twin = Person.objects.get(pk=response.json()["id"])
    assert twin.user is not None
    assert twin.user != world.b.engineer.user


def test_updating_a_person_and_switching_sign_in_off(world: World, admin: APIClient) -> None:
    response = admin.patch(
        f"/api/v1/people/{world.a.engineer.pk}/",
        {"display_name": "Renamed", "email": "renamed@a.example", "can_sign_in": False},
        format="json",
    )
    assert response.status_code == 200
    engineer = Person.objects.select_related("user").get(pk=world.a.engineer.pk)
    # The new address waits for its owner to confirm it (tests/pulse/test_email_change.py).
    assert (engineer.display_name, engineer.email) == ("Renamed", "engineer@a.example")
    assert response.json()["pending_email"] == "renamed@a.example"
    assert engineer.user is not None
    assert engineer.user.email == "engineer@a.example"
    assert engineer.user.is_active is False
    assert response.json()["can_sign_in"] is False
    bad = admin.patch(f"/api/v1/people/{world.a.engineer.pk}/", {"is_active": False}, format="json")
    assert bad.status_code == 200  # unknown fields are ignored by the input serializer...
    assert Person.objects.get(pk=world.a.engineer.pk).is_active  # ...and change nothing


def test_the_only_admin_keeps_the_admin_flag_and_stays_active(world: World, admin: APIClient) -> None:
    response = admin.patch(f"/api/v1/people/{world.a.admin.pk}/", {"is_admin": False}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["is_admin"]
    deactivate = admin.post(f"/api/v1/people/{world.a.admin.pk}/deactivate/")
    assert deactivate.status_code == 400
    assert list(deactivate.json()["errors"]) == ["non_field_errors"]
    # With a second admin, the first may step down.
    admin.patch(f"/api/v1/people/{world.a.leader.pk}/", {"is_admin": True}, format="json")
    assert (
        admin.patch(f"/api/v1/people/{world.a.admin.pk}/", {"is_admin": False}, format="json").status_code
        == 200
    )


def test_deactivating_ends_memberships_today_and_keeps_the_person(world: World, admin: APIClient) -> None:
    with time_machine.travel(TODAY, tick=False):
        response = admin.post(f"/api/v1/people/{world.a.engineer.pk}/deactivate/")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["memberships"] == []
    membership = Membership.objects.get(pk=world.a.membership.pk)
    assert membership.ends_on == TODAY.date()
    assert admin.post(f"/api/v1/people/{world.b.engineer.pk}/deactivate/").status_code == 404
    assert Person.objects.get(pk=world.b.engineer.pk).is_active


# --- memberships ----------------------------------------------------------------------------------------


def test_memberships_are_listed_filtered_and_created(world: World, admin: APIClient) -> None:
    listed = admin.get("/api/v1/memberships/", {"team": world.a.platform.pk}).json()["results"]
    assert [(item["person_name"], item["role"]) for item in listed] == [("Leader", "leader")]
    created = admin.post(
        "/api/v1/memberships/",
        {"person": world.a.engineer.pk, "team": world.a.data.pk, "role": "leader", "starts_on": "2026-03-01"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["team_name"] == "Data a"
    again = admin.post(
        "/api/v1/memberships/",
        {"person": world.a.engineer.pk, "team": world.a.data.pk, "role": "leader"},
        format="json",
    )
    assert again.status_code == 400
    assert again.json()["errors"] == {"team": ["Engineer is already leader of Data a."]}


def test_a_membership_across_organisations_is_impossible(world: World, admin: APIClient) -> None:
    response = admin.post(
        "/api/v1/memberships/", {"person": world.b.engineer.pk, "team": world.a.sre.pk}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["person"]
    assert not Membership.objects.filter(person=world.b.engineer, team=world.a.sre).exists()


def test_ending_a_membership(world: World, admin: APIClient) -> None:
    with time_machine.travel(TODAY, tick=False):
        ended = admin.post(f"/api/v1/memberships/{world.a.membership.pk}/end/", {}, format="json")
        assert ended.status_code == 200
        assert ended.json()["ends_on"] == "2026-03-02"
        again = admin.post(f"/api/v1/memberships/{world.a.membership.pk}/end/", {}, format="json")
        assert again.status_code == 400
        assert list(again.json()["errors"]) == ["ends_on"]
        fresh = Membership.objects.create(person=world.a.leader, team=world.a.data, starts_on=TODAY.date())
        removed = admin.post(f"/api/v1/memberships/{fresh.pk}/end/", {}, format="json")
        assert removed.status_code == 204  # it never lasted a day
        assert not Membership.objects.filter(pk=fresh.pk).exists()
        leads = Membership.objects.get(person=world.a.leader, team=world.a.platform)
        before_start = admin.post(
            f"/api/v1/memberships/{leads.pk}/end/", {"ends_on": "2025-12-01"}, format="json"
        )
    assert before_start.status_code == 400  # the leader's membership started on 2026-01-05
    assert (
        admin.post(f"/api/v1/memberships/{world.b.membership.pk}/end/", {}, format="json").status_code == 404
    )


# --- CSV import -----------------------------------------------------------------------------------------

CSV = (
    "email,name,team,role\n"
    "admin@a.example,Admin,Engineering a,member\n"
    "leader@a.example,Leader,Engineering a / Platform a,leader\n"
    "new@a.example,New Person,Engineering a / Platform a / SRE a,member\n"
)


def test_the_import_is_a_dry_run_by_default(world: World, admin: APIClient) -> None:
    response = admin.post("/api/v1/people/import/", {"csv": CSV}, format="json")
    assert response.status_code == 200, response.json()
    report = response.json()
    assert report["applied"] is False
    assert report["people_created"] == ["new@a.example"]
    assert report["people_deactivated"] == []  # the import adds and updates; the engineer is left alone
    assert report["summary"].startswith("Would apply")
    assert not Person.objects.filter(email="new@a.example").exists()
    assert Person.objects.get(pk=world.a.engineer.pk).is_active


def test_applying_a_file_sent_as_multipart(world: World, admin: APIClient) -> None:
    upload = SimpleUploadedFile("hr.csv", CSV.encode("utf-8-sig"), content_type="text/csv")
    response = admin.post("/api/v1/people/import/", {"file": upload, "dry_run": "false"}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json()["applied"] is True
    assert Person.objects.get(email="new@a.example").organisation_id == world.a.organisation.pk
    assert Person.objects.get(pk=world.a.engineer.pk).is_active  # not in the file: left as they are
    assert Team.objects.filter(organisation=world.b.organisation).count() == 4  # B untouched


def test_a_file_with_errors_is_refused_with_errors_per_line(world: World, admin: APIClient) -> None:
    bad = CSV + "not-an-email,Someone,Engineering a,member\nx@a.example,,Engineering a,boss\n"
    for dry_run in (True, False):
        response = admin.post("/api/v1/people/import/", {"csv": bad, "dry_run": dry_run}, format="json")
        assert response.status_code == 400
        errors = response.json()["errors"]
        assert set(errors) == {"line 5", "line 6"}
        assert errors["line 5"] == ["email 'not-an-email' is not a valid address"]
        assert len(errors["line 6"]) == 2  # empty name, unknown role
    assert not Person.objects.filter(email="new@a.example").exists()
    missing_column = admin.post(
        "/api/v1/people/import/", {"csv": "email,name\na@a.example,A\n"}, format="json"
    )
    assert list(missing_column.json()["errors"]) == ["csv"]


def test_the_import_needs_exactly_one_source_and_an_admin(world: World, admin: APIClient) -> None:
    assert admin.post("/api/v1/people/import/", {}, format="json").status_code == 400
    upload = SimpleUploadedFile("hr.csv", b"\xff\xfe\x00bad", content_type="text/csv")
    response = admin.post("/api/v1/people/import/", {"file": upload}, format="multipart")
    assert response.json()["errors"] == {"file": ["The file is not UTF-8 text; export it as CSV UTF-8."]}
    leader = APIClient()
    leader.force_login(world.signed_in("leader"))
    assert leader.post("/api/v1/people/import/", {"csv": CSV}, format="json").status_code == 403


def test_deactivating_the_people_missing_from_the_file_is_an_explicit_confirmed_choice(
    world: World, admin: APIClient
) -> None:
    """The import adds and updates unless asked to deactivate; deactivating is applied only with the number
    of people it deactivates, as its dry run listed them."""
    engineer = world.a.engineer
    dry = admin.post("/api/v1/people/import/", {"csv": CSV, "deactivate_missing": True}, format="json")
    assert dry.status_code == 200, dry.json()
    listed = dry.json()["people_deactivated"]
    assert listed == [f"Engineer <{engineer.email}>"]  # named, as the page and the command name them
    assert dry.json()["applied"] is False
    for confirm in ({}, {"confirm_deactivations": len(listed) + 1}):
        refused = admin.post(
            "/api/v1/people/import/",
            {"csv": CSV, "deactivate_missing": True, "dry_run": False, **confirm},
            format="json",
        )
        assert refused.status_code == 400
        assert refused.json()["errors"] == {
            "confirm_deactivations": [
                f"This file deactivates {len(listed)} {'person' if len(listed) == 1 else 'people'} "
                f"(people_deactivated in a dry run); send confirm_deactivations={len(listed)} to apply it. "
                "Nothing was changed."
            ]
        }
        assert not Person.objects.filter(email="new@a.example").exists()
        assert Person.objects.get(pk=engineer.pk).is_active
    applied = admin.post(
        "/api/v1/people/import/",
        {"csv": CSV, "deactivate_missing": True, "dry_run": False, "confirm_deactivations": len(listed)},
        format="json",
    )
    assert applied.status_code == 200, applied.json()
    assert applied.json()["applied"] is True
    assert applied.json()["people_deactivated"] == listed
    assert not Person.objects.get(pk=engineer.pk).is_active
    assert Person.objects.filter(email="new@a.example", is_active=True).exists()


def test_the_schema_documents_the_import_modes(world: World, admin: APIClient) -> None:
    schema = admin.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    fields = schema["components"]["schemas"]["PeopleImportRequest"]["properties"]
    assert fields["deactivate_missing"]["default"] is False
    assert "add and update" in fields["deactivate_missing"]["description"]
    assert "confirm_deactivations" in fields
