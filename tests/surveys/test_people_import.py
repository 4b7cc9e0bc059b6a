"""Importing people from an HR export: dry run, per-row errors, atomic apply, idempotent re-import."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from surveys.models import Membership, Person, Team
from surveys.services.people_import import people_import
from tests.factories import OrganisationFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

GOOD = """Email,Full Name,Team,Role,Locale,Time Zone
ana@acme.example,Ana Alves,Engineering / Platform / SRE,leader,en,Europe/Lisbon
bo@acme.example,Bo Berg,Engineering / Platform / SRE,member,de,
bo@acme.example,Bo Berg,Engineering / Platform,member,de,
cy@acme.example,Cy Cole,Engineering / Data,,,
"""


def snapshot() -> tuple:
    return (
        sorted(Person.objects.values_list("email", "display_name", "is_active", "locale", "time_zone")),
        sorted(Team.objects.values_list("name", "parent__name", "path")),
        sorted(Membership.objects.values_list("person__email", "team__name", "role", "starts_on", "ends_on")),
    )


def test_dry_run_reports_and_changes_nothing() -> None:
    organisation = OrganisationFactory()
    before = snapshot()
    report = people_import(organisation=organisation, csv_text=GOOD)
    assert report.ok
    assert not report.applied
    assert report.teams_created == [
        "Engineering",
        "Engineering / Platform",
        "Engineering / Platform / SRE",
        "Engineering / Data",
    ]
    assert report.people_created == ["ana@acme.example", "bo@acme.example", "cy@acme.example"]
    assert len(report.memberships_started) == 4
    assert snapshot() == before


def test_apply_builds_the_tree_and_reimport_is_a_no_op() -> None:
    organisation = OrganisationFactory()
    report = people_import(organisation=organisation, csv_text=GOOD, apply=True)
    assert report.applied
    assert report.change_count == 11
    sre = Team.objects.get(name="SRE")
    assert sre.parent.name == "Platform"
    assert sre.parent.parent.name == "Engineering"
    ana = Person.objects.get(email="ana@acme.example")
    assert (ana.display_name, ana.time_zone) == ("Ana Alves", "Europe/Lisbon")
    assert Membership.objects.get(person=ana).role == "leader"
    after_first = snapshot()
    again = people_import(organisation=organisation, csv_text=GOOD, apply=True)
    assert again.change_count == 0
    assert "already up to date" in again.summary()
    assert snapshot() == after_first


def test_any_row_error_changes_nothing_and_every_error_is_reported_by_line() -> None:
    organisation = OrganisationFactory()
    people_import(organisation=organisation, csv_text=GOOD, apply=True)
    before = snapshot()
    bad = GOOD + "not-an-email,Dee,Engineering,member,,\nee@acme.example,,Engineering //,boss,fr,Mars/Base\n"
    report = people_import(organisation=organisation, csv_text=bad, apply=True)
    assert not report.applied
    messages = {(line, message) for line, message in report.errors}
    assert (6, "email 'not-an-email' is not a valid address") in messages
    lines7 = [message for line, message in report.errors if line == 7]
    assert any("name is empty" in m for m in lines7)
    assert any("team is empty" in m for m in lines7)
    assert any("role 'boss'" in m for m in lines7)
    assert any(m.startswith("locale:") for m in lines7)
    assert any(m.startswith("time_zone:") for m in lines7)
    assert snapshot() == before


def test_missing_columns_and_conflicting_rows_are_errors() -> None:
    organisation = OrganisationFactory()
    assert (
        "Missing column(s): team"
        in people_import(organisation=organisation, csv_text="email,name\na@b.c,A\n").errors[0][1]
    )
    conflicting = "email,name,team\na@x.org,Ann,T\na@x.org,Anne,U\na@x.org,Ann,T\n"
    errors = people_import(organisation=organisation, csv_text=conflicting).errors
    assert (3, "a@x.org has a different name, locale or time zone on line 2") in errors
    assert (4, "repeats line 2 (same person, team and role)") in errors


def test_people_missing_from_a_new_file_are_deactivated_not_deleted() -> None:
    organisation = OrganisationFactory()
    people_import(organisation=organisation, csv_text=GOOD, apply=True)
    admin = PersonFactory(organisation=organisation, is_admin=True)
    smaller = "\n".join(line for line in GOOD.splitlines() if not line.startswith("cy@")) + "\n"
    report = people_import(organisation=organisation, csv_text=smaller, apply=True)
    assert report.people_deactivated == ["cy@acme.example"]
    cy = Person.objects.get(email="cy@acme.example")
    assert not cy.is_active
    assert not Membership.objects.current().filter(person=cy).exists()
    assert Person.objects.get(pk=admin.pk).is_active
    # Coming back reactivates the same person.
    report = people_import(organisation=organisation, csv_text=GOOD, apply=True)
    assert report.people_reactivated == ["cy@acme.example"]


def test_the_command_is_a_dry_run_unless_told_to_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    organisation = OrganisationFactory(name="Acme Test")
    path = tmp_path / "people.csv"
    path.write_text(GOOD)
    call_command("pulse_import_people", str(path), organisation="Acme Test")
    assert "Dry run" in capsys.readouterr().out
    assert not Person.objects.filter(organisation=organisation).exists()
    call_command("pulse_import_people", str(path), organisation="Acme Test", apply=True)
    assert Person.objects.filter(organisation=organisation).count() == 3
    path.write_text(GOOD + "broken,,,\n")
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("pulse_import_people", str(path), organisation="Acme Test", apply=True)
    assert "line 6: email 'broken'" in capsys.readouterr().out


def test_the_admin_import_page_shows_a_dry_run_then_applies() -> None:
    organisation = OrganisationFactory()
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/surveys/organisation/{organisation.pk}/import-people/"
    upload = SimpleUploadedFile("people.csv", GOOD.encode(), content_type="text/csv")
    response = client.post(url, {"file": upload, "dry_run": "1"})
    assert response.status_code == 200
    assert "Would apply: 4 team(s) created, 3 person(s) created" in response.content.decode()
    assert not Person.objects.exists()
    upload = SimpleUploadedFile("people.csv", GOOD.encode(), content_type="text/csv")
    response = client.post(url, {"file": upload, "apply": "1", "confirmed": "on"})
    assert response.status_code == 302
    assert Person.objects.count() == 3
