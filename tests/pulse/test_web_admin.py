"""The admin pages of the web app: role checks, forms with field errors, CSV import, schedules with their
next openings, the instrument library and the API token page."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from pulse.models import ApiToken
from surveys.models import Instrument, Membership, Organisation, Person, Schedule, Team
from tests.pulse.config_world import World, build_world

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse  # what Client() returns


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
def admin(world: World) -> Client:
    client = Client()
    client.force_login(world.signed_in("admin"))
    return client


def text(response: TestResponse) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_only_admins_open_the_admin_pages(world: World) -> None:
    anonymous = Client().get("/manage/people/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/login/?next=/manage/people/"
    for role in ("engineer", "leader", "no_person"):
        client = Client()
        client.force_login(world.signed_in(role))
        assert client.get("/manage/people/").status_code == 403
    other = Client()
    other.force_login(world.signed_in("other_admin"))
    assert other.get(f"/manage/people/{world.a.engineer.pk}/").status_code == 404
    assert other.get(f"/manage/teams/{world.a.sre.pk}/").status_code == 404


def test_navigation_follows_the_role(world: World) -> None:
    pages = {}
    for role in ("admin", "leader", "engineer"):
        client = Client()
        client.force_login(world.signed_in(role))
        pages[role] = text(client.get("/"))
    assert 'href="/manage/"' in pages["admin"]
    assert 'href="/manage/"' not in pages["leader"]
    assert 'href="/manage/"' not in pages["engineer"]
    for page in pages.values():
        assert 'href="/me/checkins/"' in page
        assert "How Pulse protects your answers" in page
        assert "Sign out" in page
    anonymous = text(Client().get("/privacy/"))
    assert "Sign in" in anonymous
    assert 'href="/me/checkins/"' not in anonymous  # the privacy text may name the page; no link to it


SIGN_IN_ON = {"password_sign_in": "on", "email_link_sign_in": "on"}


def test_organisation_settings_refuse_k_below_three_on_the_field(admin: Client, world: World) -> None:
    response = admin.post(
        "/manage/organisation/",
        {"name": "Org A", "min_group_size": "2", "time_zone": "Europe/Berlin", "locale": "en", **SIGN_IN_ON},
    )
    assert response.status_code == 400
    page = text(response)
    assert '<label for="id_min_group_size">' in page
    assert 'aria-invalid="true"' in page
    assert 'id="id_min_group_size_error"' in page
    assert "Ensure this value is greater than or equal to 3." in page
    assert Organisation.objects.get(pk=world.a.organisation.pk).min_group_size == 5
    saved = admin.post(
        "/manage/organisation/",
        {"name": "Org A", "min_group_size": "8", "time_zone": "Asia/Kolkata", "locale": "de", **SIGN_IN_ON},
    )
    assert saved.status_code == 302
    organisation = Organisation.objects.get(pk=world.a.organisation.pk)
    assert (organisation.min_group_size, organisation.time_zone) == (8, "Asia/Kolkata")


def test_people_list_filters_and_person_pages(admin: Client, world: World) -> None:
    page = text(admin.get("/manage/people/", {"team": world.a.sre.pk}))
    assert "engineer@a.example" in page
    assert "leader@a.example" not in page
    assert "admin@b.example" not in text(admin.get("/manage/people/", {"active": "all"}))
    created = admin.post(
        "/manage/people/new/", {"email": "new@a.example", "display_name": "New", "can_sign_in": "on"}
    )
    assert created.status_code == 302
    person = Person.objects.get(email="new@a.example")
    assert person.user is not None
    duplicate = admin.post(
        f"/manage/people/{person.pk}/", {"email": "ENGINEER@a.example", "display_name": "New"}
    )
    assert duplicate.status_code == 400
    assert "Someone in this organisation already has this email address." in text(duplicate)


def test_deactivating_a_person_from_their_page(admin: Client, world: World) -> None:
    response = admin.post(f"/manage/people/{world.a.engineer.pk}/deactivate/")
    assert response.status_code == 302
    assert not Person.objects.get(pk=world.a.engineer.pk).is_active
    assert Membership.objects.get(pk=world.a.membership.pk).ends_on == NOW.date()
    assert admin.get(f"/manage/people/{world.a.engineer.pk}/deactivate/").status_code == 405


def test_team_tree_create_move_and_no_cycles(admin: Client, world: World) -> None:
    page = text(admin.get("/manage/teams/"))
    assert page.index("Engineering a") < page.index("Platform a") < page.index("SRE a") < page.index("Data a")
    assert "Leader" in page  # Platform's leader is listed
    created = admin.post("/manage/teams/", {"name": "Security", "parent": world.a.root.pk, "time_zone": ""})
    assert created.status_code == 302
    assert Team.objects.get(name="Security").parent_id == world.a.root.pk
    edit = text(admin.get(f"/manage/teams/{world.a.platform.pk}/"))
    # The parent choices leave out the team itself and its own subtree.
    options = re.findall(r'<option value="(\d+)"', edit.split('name="parent"')[1].split("</select>")[0])
    assert str(world.a.sre.pk) not in options
    assert str(world.a.data.pk) in options
    cycle = admin.post(
        f"/manage/teams/{world.a.platform.pk}/",
        {"name": "Platform a", "slug": "platform-a", "parent": world.a.sre.pk},
    )
    assert cycle.status_code == 400
    assert "Select a valid choice" in text(cycle)
    moved = admin.post(
        f"/manage/teams/{world.a.platform.pk}/",
        {"name": "Platform a", "slug": "platform-a", "parent": world.a.data.pk},
    )
    assert moved.status_code == 302
    assert Team.objects.get(pk=world.a.sre.pk).path.startswith(Team.objects.get(pk=world.a.data.pk).path)


def test_memberships_are_added_and_ended_from_the_team_page(admin: Client, world: World) -> None:
    added = admin.post(
        "/manage/memberships/new/",
        {"person": world.a.engineer.pk, "team": world.a.data.pk, "role": "member", "next": "/manage/teams/"},
    )
    assert added.status_code == 302
    assert added["Location"] == "/manage/teams/"
    membership = Membership.objects.get(person=world.a.engineer, team=world.a.data)
    assert "Engineer" in text(admin.get(f"/manage/teams/{world.a.data.pk}/"))
    foreign = admin.post("/manage/memberships/new/", {"person": world.b.engineer.pk, "team": world.a.data.pk})
    assert foreign.status_code == 400
    ended = admin.post(f"/manage/memberships/{membership.pk}/end/", {"next": "https://evil.example/"})
    assert ended.status_code == 302
    assert ended["Location"] == f"/manage/teams/{world.a.data.pk}/"  # never an off-site redirect
    assert not Membership.objects.filter(pk=membership.pk).exists()  # started today: removed
    assert admin.post(f"/manage/memberships/{world.b.membership.pk}/end/").status_code == 404


def schedule_form(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Weekly workload",
        "team": world.a.platform.pk,
        "include_subtree": "on",
        "instruments": [Instrument.objects.get(key="workload1").pk],
        "is_active": "on",
        "cadence": "weekly",
        "every_n_weeks": "1",
        "nth_weekday": "1",
        "weekday": "0",
        "local_time": "10:00",
        "time_zone": "",
        "starts_on": "2026-03-16",
        "ends_on": "",
        "open_for_hours": "48",
        "reminder_1_hours": "24",
        "reminder_2_hours": "",
        "quiet_start": "20:00",
        "quiet_end": "08:00",
        "quiet_weekends": "on",
        "action": "save",
    }
    data.update(overrides)
    return data


def test_schedule_errors_are_shown_on_their_fields(admin: Client, world: World) -> None:
    reminder = admin.post("/manage/schedules/new/", schedule_form(world, reminder_1_hours="72"))
    assert reminder.status_code == 400
    page = text(reminder)
    assert (
        '<ul class="error field-errors" id="id_reminder_1_hours_error"><li>A reminder 3 days before close'
        in page
    )
    assert 'aria-describedby="id_reminder_1_hours_error"' in page
    assert 'href="#id_reminder_1_hours"' in page  # the error summary links to the field
    # WHO-5 asks about the last two weeks: a weekly schedule asks it more often than its recall period.
    who5 = admin.post(
        "/manage/schedules/new/", schedule_form(world, instruments=[Instrument.objects.get(key="who5").pk])
    )
    assert who5.status_code == 400
    assert re.search(r'id="id_every_n_weeks_error"><li>WHO-5[^<]*', text(who5)) is not None
    assert not Schedule.objects.filter(name="Weekly workload").exists()


def test_schedule_preview_shows_five_openings_local_and_utc_and_saves_nothing(
    admin: Client, world: World
) -> None:
    response = admin.post("/manage/schedules/new/", schedule_form(world, action="preview"))
    assert response.status_code == 200
    page = text(response)
    assert "Next 5 openings (preview, not saved)" in page
    assert "Mon 16 Mar 2026, 10:00</td><td>2026-03-16 09:00 UTC" in page
    assert "Mon 30 Mar 2026, 10:00</td><td>2026-03-30 08:00 UTC" in page  # summer time from 29 March
    assert not Schedule.objects.filter(name="Weekly workload").exists()


def test_a_saved_schedule_shows_its_next_openings(admin: Client, world: World) -> None:
    saved = admin.post("/manage/schedules/new/", schedule_form(world, time_zone="America/New_York"))
    assert saved.status_code == 302
    schedule = Schedule.objects.get(name="Weekly workload")
    assert saved["Location"] == f"/manage/schedules/{schedule.pk}/"
    page = text(admin.get(saved["Location"]))
    assert "Local time (America/New_York)" in page
    # New York is on summer time from 8 March 2026: 10:00 EDT is 14:00 UTC.
    assert "Mon 16 Mar 2026, 10:00</td><td>2026-03-16 14:00 UTC" in page
    assert page.count("UTC</td>") == 5
    listing = text(admin.get("/manage/schedules/"))
    assert "Weekly workload" in listing
    assert "2026-03-16 14:00 UTC" in listing
    edited = admin.post(f"/manage/schedules/{schedule.pk}/", schedule_form(world, weekday="2"))
    assert edited.status_code == 302
    assert Schedule.objects.get(pk=schedule.pk).weekday == 2


def test_instrument_library_pages(admin: Client, world: World) -> None:
    listing = text(admin.get("/manage/instruments/"))
    assert "WHO-5 Well-Being Index" in listing
    assert "Team mood mood_a" in listing
    assert "Team mood mood_b" not in listing
    assert "German: 7 items in English" in listing  # the CBI work scale has no German items yet
    who5 = Instrument.objects.get(key="who5", version=1)
    detail = text(admin.get(f"/manage/instruments/{who5.pk}/"))
    assert "Topp CW" in detail
    assert "Free to use without permission" in detail
    assert "likely depression &lt;= 28" in detail or "&lt;= 28" in detail
    assert admin.get(f"/manage/instruments/{world.b.instrument.pk}/").status_code == 404


def test_the_api_token_page_shows_a_new_token_once(world: World) -> None:
    client = Client()
    client.force_login(world.signed_in("engineer"))
    first = client.post(
        "/account/api-token/", {"action": "create", "name": "backup script", "expires_in_days": 30}
    )
    token = re.search(r'<code id="new-token">(pulse_[A-Za-z0-9_-]{43})</code>', first.content.decode())
    assert token is not None
    assert first["Cache-Control"] == "no-store"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.group(1)}")
    assert api.get("/api/v1/me/checkins/").status_code == 200
    again = client.get("/account/api-token/").content.decode()
    assert token.group(1) not in again
    assert "backup script" in again
    assert token.group(1)[:14] + "…" in again  # the prefix tells it apart
    row = ApiToken.objects.get(user=world.signed_in("engineer"))
    client.post("/account/api-token/", {"action": "revoke", "token": row.pk})
    assert api.get("/api/v1/me/checkins/").status_code == 401
    assert "backup script" not in client.get("/account/api-token/").content.decode()
    refused = client.post("/account/api-token/", {"action": "create", "name": "", "expires_in_days": 9999})
    assert refused.status_code == 400
    assert "id_name_error" in refused.content.decode()
    assert "id_expires_in_days_error" in refused.content.decode()


def test_a_schedule_ending_before_it_starts_is_an_error_at_the_last_day(admin: Client, world: World) -> None:
    response = admin.post("/manage/schedules/new/", schedule_form(world, ends_on="2026-03-01"))
    assert response.status_code == 400
    page = text(response)
    assert "schedule_ends_after_start" not in page
    assert (
        '<ul class="error field-errors" id="id_ends_on_error"><li>The last day is before the first day'
        in page
    )
    assert '<a href="#id_ends_on">Last day: The last day is before the first day' in page
    assert 'value="2026-03-01"' in page  # what was typed stays
    assert not Schedule.objects.filter(name="Weekly workload").exists()


def test_schedule_errors_give_durations_in_words(admin: Client, world: World) -> None:
    response = admin.post("/manage/schedules/new/", schedule_form(world, open_for_hours="500"))
    assert response.status_code == 400
    page = text(response)
    assert "A round open for 20 days and 20 hours would still be open when the next one opens" in page
    assert "20:00:00" not in page
