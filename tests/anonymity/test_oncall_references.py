"""On-call data names no one: responders, incidents and people on leave are stored only as keyed hashes.

The attacker is whoever reads the database or a backup (docs/anonymity.md): they see every column of every
on-call table and may hash guesses (every email of the organisation, a tool's user ids). The defence
(pulse.models.oncall.keyed_reference): HMAC-SHA256 under ``PULSE_REFERENCE_KEY``, which is not in the
database, over a message naming the organisation, so nothing stored equals a reference, its plain hash, or
the same reference's hash in another organisation; and ``OncallWeek`` holds team figures only. Each test
fails if the references were stored in clear, hashed without a key, or hashed without the organisation.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
from django.apps import apps
from django.db import connection, models
from django.test import Client, override_settings

from pulse.analysis.oncall import Shift
from pulse.models import OncallPage, OncallShift, OncallWeek
from pulse.models.oncall import keyed_reference
from pulse.services.oncall import oncall_csv_import, oncall_rows_store
from surveys.models import Organisation, Person, Team
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

RESPONDERS = ("alice.oncall@example.org", "Bob.Oncall@Example.org", "PXYZ123")
INCIDENTS = ("INC-alice-pager-storm", "db-down-for-bob")
SHIFTS = "team,responder,start,end,level,site\n" + "".join(
    f"sre,{responder},2026-01-1{day}T08:00:00+01:00,2026-01-1{day}T20:00:00+01:00,1,dublin\n"
    for day, responder in enumerate(RESPONDERS, start=2)
)
PAGES = "team,responder,responder_time_zone,occurred_at,incident,urgency,channel\n" + "".join(
    f"sre,{responder},Europe/Berlin,2026-01-1{day}T09:00:00+01:00,{INCIDENTS[day % 2]},high,push\n"
    for day, responder in enumerate(RESPONDERS, start=2)
)


def _oncall_models() -> list[type[models.Model]]:
    found = [
        model for model in apps.get_app_config("pulse").get_models() if model.__name__.startswith("Oncall")
    ]
    assert {model.__name__ for model in found} >= {
        "OncallShift",
        "OncallPage",
        "OncallAbsence",
        "OncallImport",
        "OncallWeek",
    }
    return found


def _every_stored_value() -> str:
    """Every column of every row of every on-call table, as the database returns it, in one text."""
    cells: list[str] = []
    with connection.cursor() as cursor:
        for model in _oncall_models():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            for row in cursor.fetchall():
                cells.extend(
                    bytes(cell).hex() if isinstance(cell, bytes | memoryview) else str(cell) for cell in row
                )
    return "\n".join(cells).lower()


def _guesses(value: str) -> set[str]:
    """What an attacker would look for: the value itself, its parts and its unkeyed hashes."""
    variants = {value, value.lower(), value.split("@")[0]}
    out = set(variants)
    for variant in variants:
        for algorithm in ("md5", "sha1", "sha256"):
            out.add(hashlib.new(algorithm, variant.encode()).hexdigest())
    return {guess.lower() for guess in out}


def _admin(organisation: Organisation) -> Client:
    person = PersonFactory(organisation=organisation, is_admin=True, user=UserFactory())
    client = Client()
    assert person.user is not None
    client.force_login(person.user)
    return client


def test_no_responder_incident_name_or_email_is_stored_in_clear_or_unkeyed() -> None:
    organisation = OrganisationFactory(min_group_size=3)
    team = TeamFactory(organisation=organisation, name="SRE", slug="sre")
    on_leave = [PersonFactory(organisation=organisation, display_name=f"Leave Taker {n}") for n in range(3)]
    for person in on_leave:
        MembershipFactory(person=person, team=team, starts_on=date(2025, 1, 1))
    admin = _admin(organisation)
    response = admin.post(
        "/manage/oncall/import/", {"action": "apply", "shifts_text": SHIFTS, "pages_text": PAGES}
    )
    assert response.status_code == 302
    time_off = "email,first_day,last_day\n" + "".join(f"{p.email},2026-01-05,2026-01-09\n" for p in on_leave)
    assert (
        admin.post("/manage/oncall/time-off/", {"action": "apply", "csv_text": time_off}).status_code == 302
    )

    stored = _every_stored_value()
    assert OncallShift.objects.count() == 3
    assert OncallWeek.objects.exists()
    secrets = [*RESPONDERS, *INCIDENTS]
    for person in on_leave:
        secrets += [person.email, person.display_name, str(person.pk)]
    leaked = sorted(guess for secret in secrets for guess in _guesses(secret) if guess in stored)
    # A person's id is a small number that appears in any table as some count; only the others must be absent.
    assert [guess for guess in leaked if not guess.isdigit()] == []
    # The stored references are exactly the keyed hashes, one per responder.
    assert set(OncallShift.objects.values_list("responder", flat=True)) == {
        keyed_reference(organisation.pk, "responder", responder) for responder in RESPONDERS
    }


def test_the_hash_is_keyed_with_the_reference_key_outside_the_database() -> None:
    organisation = OrganisationFactory()
    stored = keyed_reference(organisation.pk, "responder", RESPONDERS[0])
    with override_settings(PULSE_REFERENCE_KEY=[os.urandom(32)]):
        assert keyed_reference(organisation.pk, "responder", RESPONDERS[0]) != stored
    # Kinds are kept apart too: an incident called like a responder is another hash.
    assert keyed_reference(organisation.pk, "incident", RESPONDERS[0]) != stored


def test_the_same_reference_in_two_organisations_hashes_differently() -> None:
    first, second = OrganisationFactory(), OrganisationFactory()
    for organisation in (first, second):
        TeamFactory(organisation=organisation, name="SRE", slug="sre")
        report = oncall_csv_import(
            organisation_id=organisation.pk, shifts_text=SHIFTS, pages_text=PAGES, dry_run=False
        )
        assert report.applied

    def refs(
        organisation: Organisation, model: type[OncallShift] | type[OncallPage], column: str
    ) -> set[str]:
        return set(model.objects.filter(team__organisation=organisation).values_list(column, flat=True))

    assert len(refs(first, OncallShift, "responder")) == 3
    assert not refs(first, OncallShift, "responder") & refs(second, OncallShift, "responder")
    assert not refs(first, OncallPage, "incident") & refs(second, OncallPage, "incident")


# The contract of OncallWeek (docs/oncall.md, Storage): team figures only. A new column must be added here
# with a reason, which is where someone would notice it holds one person's figure.
WEEK_COLUMNS = {
    "id": "the row",
    "team": "whose week",
    "week_start": "which week",
    "starts_at": "the week's bounds",
    "ends_at": "the week's bounds",
    "interruptions_business": "the team's count",
    "interruptions_off": "the team's count",
    "interruptions_sleep": "the team's count",
    "max_on_call_share": "the team's maximum, held against the SRE limit without saying whose",
    "median_on_call_share": "the team's median",
    "incidents": "the team's count",
    "incidents_per_shift": "the team's rate",
    "rotation_size": "how many people, not who",
    "rotation_by_site": "how many people per site",
    "concentration": "the busiest share without a name, only at k",
    "without_time_off_share": "a share of the team, only at k",
    "reasons": "the thresholds breached",
    "computed_at": "when",
    "rules_version": "which version of the weekly rules computed it",
}


def test_no_per_person_figure_is_stored_in_a_week() -> None:
    assert {field.name for field in OncallWeek._meta.get_fields() if field.concrete} == set(WEEK_COLUMNS)
    organisation = OrganisationFactory(min_group_size=5)
    team = TeamFactory(organisation=organisation, time_zone="UTC")
    monday = datetime(2026, 1, 12, tzinfo=UTC)
    # Four people on call 10, 20, 30 and 40 hours of the week: the median (25 h) is nobody's share.
    hours = {"p1": 10, "p2": 20, "p3": 30, "p4": 40}
    shifts = []
    start = monday
    for responder, length in hours.items():
        shifts.append(Shift("t", responder, start, start + timedelta(hours=length)))
        start += timedelta(hours=length)
    oncall_rows_store(team_id=team.pk, shifts=shifts, pages=(), source="csv")
    week = OncallWeek.objects.get(team=team)
    assert week.median_on_call_share == pytest.approx(25 / 168)
    assert week.concentration is None  # a rotation of 4 is below k = 5
    row = {field: getattr(week, field) for field in WEEK_COLUMNS if field not in {"team"}}
    for person_hours in (10, 20, 30):  # everyone's share but the maximum, which is the team's figure
        share = person_hours / 168
        assert not [value for value in row.values() if isinstance(value, float) and abs(value - share) < 1e-9]
        assert f"{share:.0%}" not in str(row["reasons"])
    stored_refs = set(OncallShift.objects.values_list("responder", flat=True))
    assert not [ref for ref in stored_refs if ref in str(row)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dump_of_the_oncall_tables_holds_no_reference_on_postgresql() -> None:
    organisation = OrganisationFactory()
    TeamFactory(organisation=organisation, name="SRE", slug="sre")
    assert oncall_csv_import(
        organisation_id=organisation.pk, shifts_text=SHIFTS, pages_text=PAGES, dry_run=False
    ).applied
    database = connection.settings_dict
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "--table=pulse_oncall*",
            f"--host={database.get('HOST') or '127.0.0.1'}",
            f"--port={database.get('PORT') or 5432}",
            f"--username={database.get('USER') or 'postgres'}",
            database["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PGPASSWORD": database.get("PASSWORD") or ""},
        timeout=60,
    ).stdout.lower()
    assert keyed_reference(organisation.pk, "responder", RESPONDERS[0]) in dump  # the rows are there
    assert [
        guess for secret in (*RESPONDERS, *INCIDENTS) for guess in _guesses(secret) if guess in dump
    ] == []
    # The hash cannot be recomputed without the key: HMAC under any other key gives another value.
    message = f"pulse-oncall\x00responder\x00{organisation.pk}\x00{RESPONDERS[0]}".encode()
    assert hmac.new(b"\0" * 32, message, hashlib.sha256).hexdigest() not in dump
    assert Person.objects.count() == 0
    assert Team.objects.count() == 1
