"""The same rules as an admin meets them in the Django admin."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys.models import Organisation, Team
from tests.factories import OrganisationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_refuses_k_below_three_field_by_field_and_stores_nothing(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/surveys/organisation/add/",
        {"name": "Small Co", "min_group_size": 2, "time_zone": "Mars/Base", "locale": "en"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "cannot be below 3" in errors["min_group_size"][0]
    assert "not a known time zone" in errors["time_zone"][0]
    assert not Organisation.objects.filter(name="Small Co").exists()


def test_admin_refuses_a_cycle(admin_client: Client) -> None:
    organisation = OrganisationFactory()
    root = TeamFactory(organisation=organisation)
    child = TeamFactory(organisation=organisation, parent=root)
    response = admin_client.post(
        f"/admin/surveys/team/{root.pk}/change/",
        {
            "organisation": organisation.pk,
            "name": root.name,
            "slug": root.slug,
            "parent": child.pk,
            "time_zone": "",
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "cannot be placed under itself" in str(response.context["adminform"].form.errors["parent"])
    root.refresh_from_db()
    assert root.parent_id is None


def test_admin_edits_are_recorded_with_who_made_them(admin_client: Client) -> None:
    organisation = OrganisationFactory()
    response = admin_client.post(
        f"/admin/surveys/organisation/{organisation.pk}/change/",
        {
            "name": "Renamed",
            "min_group_size": 7,
            "time_zone": "Europe/Berlin",
            "locale": "en",
            "password_sign_in": "on",
            "email_link_sign_in": "on",
            "team_summaries": "on",
            "no_action_reminder_days": 7,
        },
    )
    assert response.status_code == 302
    latest = organisation.history.first()
    assert latest.name == "Renamed"
    assert latest.history_user is not None
    history_page = admin_client.get(f"/admin/surveys/organisation/{organisation.pk}/history/")
    assert b"Renamed" in history_page.content or history_page.status_code == 200


def test_team_changelist_shows_the_tree(admin_client: Client) -> None:
    organisation = OrganisationFactory()
    root = TeamFactory(organisation=organisation, name="Root")
    TeamFactory(organisation=organisation, parent=root, name="Leaf")
    response = admin_client.get("/admin/surveys/team/")
    assert response.status_code == 200
    assert "— Leaf" in response.content.decode()
    assert Team.objects.count() == 2
