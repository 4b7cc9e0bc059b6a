"""Admins configure schedules in the admin: bad input is refused field by field, good input shows openings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.test import Client

from surveys.models import Instrument, Schedule, Team
from tests.factories import OrganisationFactory, TeamFactory, UserFactory

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse  # what Client() returns


pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def form(team: Team, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "organisation": team.organisation_id,
        "team": team.pk,
        "name": "Weekly",
        "include_subtree": "on",
        "instruments": [Instrument.objects.get(key="burnout1").pk],
        "is_active": "on",
        "cadence": "weekly",
        "every_n_weeks": 1,
        "nth_weekday": 1,
        "weekday": 0,
        "local_time": "10:00",
        "time_zone": "",
        "starts_on": "2026-11-01",
        "ends_on": "",
        "open_for": "3 00:00:00",
        "reminder_1": "1 00:00:00",
        "reminder_2": "",
        "quiet_start": "20:00",
        "quiet_end": "08:00",
        "quiet_weekends": "on",
        "pauses-TOTAL_FORMS": 0,
        "pauses-INITIAL_FORMS": 0,
    }
    data.update(overrides)
    return data


def errors_of(response: TestResponse) -> dict[str, list[str]]:
    return {field: list(messages) for field, messages in response.context["adminform"].form.errors.items()}


def test_a_valid_schedule_is_saved_with_its_next_openings(admin_client: Client) -> None:
    team = TeamFactory(organisation=OrganisationFactory(time_zone="Europe/Berlin"))
    response = admin_client.post("/admin/surveys/schedule/add/", form(team))
    assert response.status_code == 302, errors_of(response)
    schedule = Schedule.objects.get()
    assert schedule.next_opening_at is not None
    page = admin_client.get(f"/admin/surveys/schedule/{schedule.pk}/change/").content.decode()
    assert page.count("10:00 CE") == 5  # five openings at 10:00 Berlin time (CET/CEST) …
    assert "09:00 UTC" in page or "08:00 UTC" in page  # … next to their UTC instants


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"time_zone": "Europe/Berlinn"}, "time_zone", "not a known time zone"),
        ({"open_for": "8 00:00:00"}, "open_for", ""),
        ({"reminder_1": "4 00:00:00"}, "reminder_1", ""),
        ({"instruments": "WHO5"}, "every_n_weeks", "WHO-5"),
    ],
)
def test_bad_input_is_refused_field_by_field_and_nothing_is_saved(
    admin_client: Client, overrides: dict[str, object], field: str, fragment: str
) -> None:
    team = TeamFactory(organisation=OrganisationFactory(time_zone="Europe/Berlin"))
    if overrides.get("instruments") == "WHO5":
        overrides = {"instruments": [Instrument.objects.get(key="who5").pk]}
    response = admin_client.post("/admin/surveys/schedule/add/", form(team, **overrides))
    assert response.status_code == 200
    errors = errors_of(response)
    assert field in errors, errors
    assert fragment in " ".join(errors[field])
    assert not Schedule.objects.exists()


def test_two_schedules_asking_the_same_people_too_often_are_refused(admin_client: Client) -> None:
    organisation = OrganisationFactory(time_zone="Europe/Berlin")
    parent = TeamFactory(organisation=organisation)
    child = TeamFactory(organisation=organisation, parent=parent)
    assert admin_client.post("/admin/surveys/schedule/add/", form(parent)).status_code == 302
    response = admin_client.post("/admin/surveys/schedule/add/", form(child, name="Child", weekday=3))
    assert response.status_code == 200
    assert "also asked by the schedule" in " ".join(errors_of(response)["instruments"])
    assert Schedule.objects.count() == 1
