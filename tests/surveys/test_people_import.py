"""Importing people from an HR export: dry run, per-row errors, atomic apply of exactly what the dry run
showed, idempotent re-import, add-and-update unless deactivation is chosen, delimiters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from surveys.models import Membership, Organisation, Person, Team
from surveys.services.people_import import ImportReport, people_import
from tests.factories import OrganisationFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

GOOD = """Email,Full Name,Team,Role,Locale,Time Zone
ana@acme.example,Ana Alves,Engineering / Platform / SRE,leader,en,Europe/Lisbon
bo@acme.example,Bo Berg,Engineering / Platform / SRE,member,de,
bo@acme.example,Bo Berg,Engineering / Platform,member,de,
cy@acme.example,Cy Cole,Engineering / Data,,,
"""


def apply(organisation: Organisation, csv_text: str, **options: bool) -> ImportReport:
    """A dry run, then apply with its fingerprint, as the pages and the command do."""
    dry = people_import(organisation=organisation, csv_text=csv_text, **options)
    return people_import(organisation=organisation, csv_text=csv_text, apply=dry.fingerprint, **options)


def snapshot() -> tuple[list[tuple[Any, ...]], ...]:
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
    report = apply(organisation, GOOD)
    assert report.applied
    assert report.change_count == 11
    sre = Team.objects.get(name="SRE")
    assert sre.parent is not None
    assert sre.parent.name == "Platform"
    assert sre.parent.parent is not None
    assert sre.parent.parent.name == "Engineering"
    ana = Person.objects.get(email="ana@acme.example")
    assert (ana.display_name, ana.time_zone) == ("Ana Alves", "Europe/Lisbon")
    assert Membership.objects.get(person=ana).role == "leader"
    after_first = snapshot()
    again = apply(organisation, GOOD)
    assert again.change_count == 0
    assert "already up to date" in again.summary()
    assert snapshot() == after_first


def test_any_row_error_changes_nothing_and_every_error_is_reported_by_line() -> None:
    organisation = OrganisationFactory()
    apply(organisation, GOOD)
    before = snapshot()
    bad = GOOD + "not-an-email,Dee,Engineering,member,,\nee@acme.example,,Engineering //,boss,fr,Mars/Base\n"
    report = apply(organisation, bad)
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
        "Missing column: team"
        in people_import(organisation=organisation, csv_text="email,name\na@b.c,A\n").errors[0][1]
    )
    conflicting = "email,name,team\na@x.org,Ann,T\na@x.org,Anne,U\na@x.org,Ann,T\n"
    errors = people_import(organisation=organisation, csv_text=conflicting).errors
    assert (3, "a@x.org has a different name, locale or time zone on line 2") in errors
    assert (4, "repeats line 2 (same person, team and role)") in errors


def test_people_missing_from_a_file_are_left_alone_by_default() -> None:
    organisation = OrganisationFactory()
    apply(organisation, GOOD)
    two_rows = (
        "email,name,team\ndee@acme.example,Dee Dunn,Engineering / Data\nana@acme.example,Ana A.,Engineering\n"
    )
    report = apply(organisation, two_rows)
    assert report.applied
    assert report.people_deactivated == []
    assert report.people_missing == ["Bo Berg <bo@acme.example>", "Cy Cole <cy@acme.example>"]
    assert "deactivated" not in report.summary()
    assert Person.objects.filter(organisation=organisation, is_active=True).count() == 4
    cy = Person.objects.get(email="cy@acme.example")
    assert Membership.objects.current().filter(person=cy).exists()
    # Ana is in the file: her name is updated and her teams are the file's (SRE ends, Engineering starts).
    ana = Person.objects.get(email="ana@acme.example")
    assert ana.display_name == "Ana A."
    assert [m.team.name for m in Membership.objects.current().filter(person=ana)] == ["Engineering"]


def test_people_missing_from_a_file_are_deactivated_only_when_chosen_not_deleted() -> None:
    organisation = OrganisationFactory()
    apply(organisation, GOOD)
    admin = PersonFactory(organisation=organisation, is_admin=True)
    smaller = "\n".join(line for line in GOOD.splitlines() if not line.startswith("cy@")) + "\n"
    assert apply(organisation, smaller).change_count == 0
    report = apply(organisation, smaller, deactivate_missing=True)
    assert report.people_deactivated == ["Cy Cole <cy@acme.example>"]
    assert report.memberships_ended_by_deactivation == ["cy@acme.example member of Data"]
    assert report.destructive_count == 2
    assert "1 person deactivated" in report.summary()
    cy = Person.objects.get(email="cy@acme.example")
    assert not cy.is_active
    assert not Membership.objects.current().filter(person=cy).exists()
    assert Person.objects.get(pk=admin.pk).is_active
    # Coming back reactivates the same person.
    report = apply(organisation, GOOD)
    assert report.people_reactivated == ["cy@acme.example"]


def test_apply_writes_only_the_outcome_of_the_dry_run_it_names() -> None:
    organisation = OrganisationFactory()
    dry = people_import(organisation=organisation, csv_text=GOOD)
    assert not people_import(organisation=organisation, csv_text=GOOD, apply="not-the-fingerprint").applied
    assert not Person.objects.exists()
    # Something changes between the dry run and apply: the apply is refused and reports the new outcome.
    PersonFactory(organisation=organisation, email="ana@acme.example", display_name="Ana Old")
    stale = people_import(organisation=organisation, csv_text=GOOD, apply=dry.fingerprint)
    assert stale.stale
    assert not stale.applied
    assert "person updated: ana@acme.example" in stale.lines()
    assert not Person.objects.filter(email="bo@acme.example").exists()
    # A dry run that deactivates has a different fingerprint from one that does not.
    assert (
        dry.fingerprint
        != people_import(organisation=organisation, csv_text=GOOD, deactivate_missing=True).fingerprint
    )


@pytest.mark.parametrize(("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
def test_the_delimiter_is_recognised_and_named(delimiter: str, name: str) -> None:
    organisation = OrganisationFactory()
    text = GOOD.replace(",", delimiter)
    report = apply(organisation, text)
    assert report.ok, report.errors
    assert report.delimiter_name == name
    assert f"{name}-separated" in report.summary()
    assert Person.objects.get(email="ana@acme.example").time_zone == "Europe/Lisbon"
    assert Membership.objects.filter(person__email="bo@acme.example").count() == 2


def test_a_semicolon_file_with_commas_in_quoted_names_is_read_as_semicolons() -> None:
    organisation = OrganisationFactory()
    text = 'email;name;team\nana@acme.example;"Alves, Ana";Engineering\n'
    report = apply(organisation, text)
    assert report.ok, report.errors
    assert Person.objects.get(email="ana@acme.example").display_name == "Alves, Ana"


def test_a_missing_column_error_names_the_delimiter_it_read() -> None:
    organisation = OrganisationFactory()
    report = people_import(organisation=organisation, csv_text="email|name|team\na@b.c|A|T\n")
    (line, message), *_ = report.errors
    assert line == 0
    assert "read as comma-separated" in message
    assert "'email|name|team'" in message
    assert "comma, semicolon or tab" in message
    report = people_import(organisation=organisation, csv_text="email;name\na@b.c;A\n")
    assert "Missing column: team. The file was read as semicolon-separated" in report.errors[0][1]


def test_the_command_is_a_dry_run_that_prints_how_to_apply_exactly_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    organisation = OrganisationFactory(name="Acme Test")
    path = tmp_path / "people.csv"
    path.write_text(GOOD)
    call_command("pulse_import_people", str(path), organisation="Acme Test")
    out = capsys.readouterr().out
    assert "Dry run: nothing was changed" in out
    assert not Person.objects.filter(organisation=organisation).exists()
    fingerprint = out.split("--apply ")[1].split()[0]
    with pytest.raises(CommandError, match="no longer those of the dry run"):
        call_command("pulse_import_people", str(path), organisation="Acme Test", apply="0" * 16)
    assert not Person.objects.filter(organisation=organisation).exists()
    call_command("pulse_import_people", str(path), organisation="Acme Test", apply=fingerprint)
    assert Person.objects.filter(organisation=organisation).count() == 3
    path.write_text(GOOD + "broken,,,\n")
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("pulse_import_people", str(path), organisation="Acme Test", apply=fingerprint)
    assert "line 6: email 'broken'" in capsys.readouterr().out


def test_the_command_deactivates_only_when_chosen_and_confirmed_by_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    organisation = OrganisationFactory(name="Acme Test")
    apply(organisation, GOOD)
    path = tmp_path / "one.csv"
    path.write_text("email,name,team\nana@acme.example,Ana Alves,Engineering / Platform / SRE\n")
    call_command("pulse_import_people", str(path), organisation="Acme Test")
    out = capsys.readouterr().out
    assert "2 active people are not in the file and are left as they are" in out
    call_command("pulse_import_people", str(path), organisation="Acme Test", deactivate_missing=True)
    out = capsys.readouterr().out
    assert "DESTRUCTIVE: 2 people not in the file would be deactivated" in out
    assert "  deactivate: Bo Berg <bo@acme.example>" in out
    assert "--confirm-deactivations 2" in out
    fingerprint = out.split("--apply ")[1].split()[0]
    options = {"organisation": "Acme Test", "deactivate_missing": True, "apply": fingerprint}
    with pytest.raises(CommandError, match="needs --confirm-deactivations 2"):
        call_command("pulse_import_people", str(path), **options, confirm_deactivations=1)
    assert Person.objects.filter(is_active=True).count() == 3
    call_command("pulse_import_people", str(path), **options, confirm_deactivations=2)
    assert sorted(Person.objects.filter(is_active=False).values_list("email", flat=True)) == [
        "bo@acme.example",
        "cy@acme.example",
    ]


def test_the_admin_import_page_shows_a_dry_run_then_applies_it() -> None:
    organisation = OrganisationFactory()
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/surveys/organisation/{organisation.pk}/import-people/"
    upload = SimpleUploadedFile("people.csv", GOOD.encode(), content_type="text/csv")
    response = client.post(url, {"file": upload, "dry_run": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Would apply: 4 teams created, 3 people created" in page
    assert not Person.objects.exists()
    fingerprint = page.split('name="fingerprint" value="')[1].split('"')[0]
    response = client.post(url, {"csv_text": GOOD, "fingerprint": fingerprint, "apply": "1"})
    assert response.status_code == 302
    assert Person.objects.count() == 3


def test_the_admin_import_page_lists_deactivations_apart_and_needs_their_tick() -> None:
    organisation = OrganisationFactory()
    apply(organisation, GOOD)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/surveys/organisation/{organisation.pk}/import-people/"
    one = "email,name,team\nana@acme.example,Ana Alves,Engineering / Platform / SRE\n"
    upload = SimpleUploadedFile("people.csv", one.encode(), content_type="text/csv")
    page = client.post(url, {"file": upload, "dry_run": "1"}).content.decode()
    assert "2 active people are not in this file; this import leaves them as they are." in page
    upload = SimpleUploadedFile("people.csv", one.encode(), content_type="text/csv")
    page = client.post(url, {"file": upload, "deactivate_missing": "on", "dry_run": "1"}).content.decode()
    destructive = page.split('id="import-deactivations"')[1].split("</div>")[0]
    assert "Will be deactivated: 2 people not in this file" in destructive
    assert "Bo Berg &lt;bo@acme.example&gt;" in destructive
    fingerprint = page.split('name="fingerprint" value="')[1].split('"')[0]
    form = {"csv_text": one, "fingerprint": fingerprint, "deactivate_missing": "on", "apply": "1"}
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "Tick this box to confirm that 2 people are deactivated." in refused.content.decode()
    assert Person.objects.filter(is_active=True).count() == 3
    assert client.post(url, {**form, "confirm_deactivation": "on"}).status_code == 302
    assert Person.objects.filter(is_active=True).count() == 1
