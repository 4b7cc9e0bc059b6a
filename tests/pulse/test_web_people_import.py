"""The CSV import page under /manage/people/import/: a dry run first, then exactly that outcome applied;
add-and-update by default; deactivations chosen, listed by name apart from the rest and confirmed with
their own tick; delimiters recognised and named."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from surveys.models import Person, Team
from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
URL = "/manage/people/import/"
CSV = (
    "email,name,team,role\n"
    "admin@a.example,Admin,Engineering a,member\n"
    "leader@a.example,Leader,Engineering a / Platform a,leader\n"
    "new@a.example,New Person,Engineering a / Platform a / SRE a,member\n"
    "newer@a.example,Newer Person,Engineering a / Security,member\n"
)
TWO_NEW = (
    "email,name,team\nnew@a.example,New Person,Engineering a\nnewer@a.example,Newer Person,Engineering a\n"
)


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


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def fingerprint(response: Any) -> str:
    found = re.search(r'name="fingerprint" value="([0-9a-f]+)"', response.content.decode())
    assert found, "the dry run offers no apply form"
    return found.group(1)


def active(world: World) -> int:
    return Person.objects.filter(organisation=world.a.organisation, is_active=True).count()


def test_a_two_row_file_adds_two_people_and_deactivates_nobody(admin: Client, world: World) -> None:
    before = active(world)
    upload = SimpleUploadedFile("hr.csv", TWO_NEW.encode(), content_type="text/csv")
    dry = admin.post(URL, {"file": upload, "action": "dry_run"})
    assert dry.status_code == 200
    page = text(dry)
    assert "person created: new@a.example" in page
    assert "deactivated" not in page.split("Not in this file")[0]
    missing = Person.objects.filter(organisation=world.a.organisation, is_active=True, is_admin=False).count()
    assert f"Not in this file: {missing} people" in page  # admins are managed by hand, never listed
    assert "They stay as they are: this import does not deactivate anyone." in page
    assert "Apply these 4 changes" in page  # two people, two memberships
    applied = admin.post(URL, {"csv_text": TWO_NEW, "fingerprint": fingerprint(dry), "action": "apply"})
    assert applied.status_code == 302
    assert active(world) == before + 2
    assert Person.objects.get(pk=world.a.engineer.pk).is_active


def test_deactivating_the_missing_is_chosen_listed_by_name_and_confirmed_apart(
    admin: Client, world: World
) -> None:
    before = active(world)
    dry = admin.post(URL, {"csv_text": CSV, "deactivate_missing": "on", "action": "dry_run"})
    page = text(dry)
    destructive = page.split('class="destructive"')[1].split("</section>")[0]
    assert "Will be deactivated: 1 person not in this file" in destructive
    assert f"{world.a.engineer.display_name} &lt;engineer@a.example&gt;" in destructive
    neutral = page.split('class="destructive"')[0]
    assert "engineer@a.example" not in neutral  # not mixed with the harmless changes
    assert "Apply 8 changes, deactivating 1 person" in page
    form = {"csv_text": CSV, "deactivate_missing": "on", "fingerprint": fingerprint(dry), "action": "apply"}
    refused = admin.post(URL, form)
    assert refused.status_code == 400
    refused_page = text(refused)
    assert (
        'id="id_confirm_deactivation_error"><li>Tick this box to confirm that 1 person is deactivated.'
        in (refused_page)
    )
    assert 'aria-describedby="id_confirm_deactivation_error"' in refused_page
    assert active(world) == before
    assert not Person.objects.filter(email="new@a.example").exists()
    applied = admin.post(URL, {**form, "confirm_deactivation": "on"})
    assert applied.status_code == 302
    assert not Person.objects.get(pk=world.a.engineer.pk).is_active
    assert Person.objects.filter(email__in=["new@a.example", "newer@a.example"]).count() == 2
    assert Team.objects.filter(organisation=world.a.organisation, name="Security").exists()


def test_the_missing_can_be_shown_as_a_deactivating_dry_run_from_the_report(admin: Client) -> None:
    dry = admin.post(URL, {"csv_text": TWO_NEW, "action": "dry_run"})
    page = dry.content.decode()
    form = page.split('id="missing-title"')[1].split("</form>")[0]
    assert 'name="deactivate_missing" value="on"' in form
    assert "See what deactivating them would do (dry run)" in form


def test_apply_without_the_dry_run_it_names_changes_nothing(admin: Client, world: World) -> None:
    skipped = admin.post(URL, {"csv_text": TWO_NEW, "action": "apply"})
    assert skipped.status_code == 302
    assert not Person.objects.filter(email="new@a.example").exists()
    stale = admin.post(URL, {"csv_text": TWO_NEW, "fingerprint": "0" * 16, "action": "apply"})
    assert stale.status_code == 400
    assert "People changed since your dry run: nothing was changed" in text(stale)
    assert not Person.objects.filter(email="new@a.example").exists()
    assert "Apply these 4 changes" in text(stale)  # the fresh dry run, ready to apply


def test_a_semicolon_file_is_read_and_the_delimiter_named(admin: Client) -> None:
    semicolons = TWO_NEW.replace(",", ";")
    dry = admin.post(URL, {"csv_text": semicolons, "action": "dry_run"})
    assert dry.status_code == 200
    assert "semicolon-separated" in text(dry)
    assert "person created: new@a.example" in text(dry)
    broken = admin.post(URL, {"csv_text": "e-mail address|name\nx|y\n", "action": "dry_run"})
    assert broken.status_code == 400
    assert "The file was read as comma-separated" in text(broken)


def test_csv_import_errors_are_listed_per_line_and_change_nothing(admin: Client) -> None:
    response = admin.post(URL, {"csv_text": CSV + "bad,X,Engineering a,boss\n", "action": "dry_run"})
    assert response.status_code == 400
    page = text(response)
    assert "line 6: email &#x27;bad&#x27; is not a valid address" in page
    assert "line 6: role &#x27;boss&#x27; is not one of member, leader" in page
    assert "Apply these" not in page
    assert not Person.objects.filter(email="new@a.example").exists()
    empty = admin.post(URL, {"action": "dry_run"})
    assert empty.status_code == 400
    assert "Choose a file or paste the CSV." in text(empty)
