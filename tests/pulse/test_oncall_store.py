"""Storing on-call load: the CSV import through the admin page (dry run, field-by-field errors with nothing
stored, apply, idempotent re-import), the weekly metrics stored from it (figures worked out by hand in the
comments), the time-off share and its k, DST week lengths, the command and the recompute task."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from pulse.models import OncallAbsence, OncallImport, OncallPage, OncallShift, OncallWeek
from pulse.services.oncall import oncall_rows_store, oncall_weeks_compute
from pulse.tasks import oncall_weeks_compute as oncall_weeks_compute_task
from surveys.models import Membership, Organisation, Person, Team
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory, UserFactory
from tests.helpers_broker import REFUSING_BROKER, broker_at

pytestmark = pytest.mark.django_db

SHIFTS_HEADER = "team,responder,start,end,level,site\n"
PAGES_HEADER = "team,responder,responder_time_zone,occurred_at,incident,urgency,channel\n"

# The week of Monday 12 January 2026 in Berlin (UTC+1, 168 hours), three responders known by their emails.
SHIFTS = SHIFTS_HEADER + (
    "sre,alice@example.org,2026-01-12T00:00:00+01:00,2026-01-14T00:00:00+01:00,1,dublin\n"  # 48 h
    "sre,bob@example.org,2026-01-14T00:00:00+01:00,2026-01-19T00:00:00+01:00,1,dublin\n"  # 120 h
    "sre,carol@example.org,2026-01-12T09:00:00+01:00,2026-01-12T21:00:00+01:00,2,dublin\n"  # 12 h
)
PAGES = PAGES_HEADER + (
    "sre,alice@example.org,Europe/Berlin,2026-01-12T03:00:00+01:00,INC-1,high,phone\n"  # sleep
    "sre,alice@example.org,Europe/Berlin,2026-01-12T03:00:30+01:00,INC-1,high,sms\n"  # 30 s on: the same
    "sre,bob@example.org,Europe/Berlin,2026-01-14T10:00:00+01:00,INC-2,high,push\n"  # business
    "sre,bob@example.org,Europe/Berlin,2026-01-17T12:00:00+01:00,INC-3,low,push\n"  # Saturday: off; low
    "sre,bob@example.org,Europe/Berlin,2026-01-15T23:30:00+01:00,INC-2,high,email\n"  # email: none
)


@pytest.fixture
def organisation() -> Organisation:
    return OrganisationFactory(min_group_size=3, time_zone="Europe/Berlin")


@pytest.fixture
def team(organisation: Organisation) -> Team:
    return TeamFactory(organisation=organisation, name="SRE", slug="sre")


@pytest.fixture
def admin(organisation: Organisation) -> Client:
    person = PersonFactory(organisation=organisation, is_admin=True, user=UserFactory())
    client = Client()
    assert person.user is not None
    client.force_login(person.user)
    return client


def _text(response: object) -> str:
    page = response.content.decode()  # type: ignore[attr-defined]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _post(client: Client, action: str, shifts: str, pages: str) -> object:
    if action == "apply":
        return client.post(
            "/manage/oncall/import/", {"action": "apply", "shifts_text": shifts, "pages_text": pages}
        )
    return client.post(
        "/manage/oncall/import/", {"action": "dry_run", "shifts_text": shifts, "pages_text": pages}
    )


def test_a_dry_run_reports_per_team_and_stores_nothing(admin: Client, team: Team) -> None:
    response = _post(admin, "dry_run", SHIFTS, PAGES)
    assert response.status_code == 200  # type: ignore[attr-defined]
    text = _text(response)
    assert "Shifts read: 3. Pages read: 5." in text
    assert re.search(r"SRE 3 3 0 5 5 0", text)  # read, new, already stored; per file
    assert "Store the new rows (shifts: 3, pages: 5)" in text
    assert not OncallShift.objects.exists()
    assert not OncallPage.objects.exists()
    assert not OncallWeek.objects.exists()
    assert not OncallImport.objects.exists()


def test_errors_are_reported_field_by_field_and_nothing_is_stored(admin: Client, team: Team) -> None:
    bad_shifts = SHIFTS + "platform,dave,2026-01-12T00:00:00+01:00,2026-01-13T00:00:00+01:00,1,\n"  # row 5
    bad_shifts += "platfrom,erin,2026-01-12T00:00:00,2026-01-13T00:00:00+01:00,3,\n"  # row 6: three problems
    bad_pages = PAGES + "sre,alice,Mars/Olympus,2026-01-12T04:00:00,INC-9,urgent,pigeon\n"  # row 7
    response = _post(admin, "dry_run", bad_shifts, bad_pages)
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.content.decode()  # type: ignore[attr-defined]
    shift_rows = re.findall(r"<tr><td>(\d+)</td><td><code>([^<]+)</code>", page.split('id="page-errors"')[0])
    assert shift_rows == [("5", "team"), ("6", "team"), ("6", "start"), ("6", "level")]  # all in one pass
    assert "there is no team &#x27;platform&#x27; in this organisation" in page
    page_rows = re.findall(r"<tr><td>(\d+)</td><td><code>([^<]+)</code>", page.split('id="page-errors"')[1])
    assert page_rows == [
        ("7", "responder_time_zone"),
        ("7", "occurred_at"),
        ("7", "urgency"),
        ("7", "channel"),
    ]
    assert "Store " not in _text(response)
    # Applying the same files (a forged confirmation) is refused the same way.
    response = _post(admin, "apply", bad_shifts, bad_pages)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert not OncallShift.objects.exists()
    assert not OncallPage.objects.exists()
    assert not OncallImport.objects.exists()


def test_apply_stores_the_rows_and_the_week_and_a_reimport_stores_nothing_twice(
    admin: Client, team: Team
) -> None:
    response = _post(admin, "apply", SHIFTS, PAGES)
    assert response.status_code == 302  # type: ignore[attr-defined]
    followed = admin.get("/manage/oncall/import/")
    assert "Stored. New shifts: 3. New pages: 5. Rows already stored: 0." in _text(followed)
    assert (OncallShift.objects.count(), OncallPage.objects.count()) == (3, 5)

    week = OncallWeek.objects.get(team=team)
    assert week.week_start == date(2026, 1, 12)
    assert week.starts_at == datetime(2026, 1, 11, 23, tzinfo=UTC)
    assert week.ends_at - week.starts_at == timedelta(hours=168)
    # Alice's phone call and SMS 30 s apart wake her once, at 03:00 (sleep); Bob's push at 10:00 on a
    # Wednesday is business hours and his Saturday noon push off hours; the email interrupts no one.
    assert (week.interruptions_business, week.interruptions_off, week.interruptions_sleep) == (1, 1, 1)
    # Shares of the 168-hour week: Alice 48/168, Bob 120/168, Carol 12/168; median is Alice's.
    assert week.max_on_call_share == pytest.approx(120 / 168)
    assert week.median_on_call_share == pytest.approx(48 / 168)
    # INC-1 and INC-2 page at high urgency (INC-3 only at low); primary coverage is the whole week, 14 shifts.
    assert week.incidents == 2
    assert week.incidents_per_shift == pytest.approx(2 / 14)
    assert (week.rotation_size, week.rotation_by_site) == (3, {"dublin": 3})
    # k = 3 and the rotation has 3: Bob carries 2 of the 3 interruptions.
    assert week.concentration == pytest.approx(2 / 3)
    assert [reason["code"] for reason in week.reasons] == ["time_on_call", "rotation_size"]
    assert week.reasons[0]["threshold"] == 0.25
    assert "Site Reliability Engineering" in week.reasons[0]["source"]
    first_computed = week.computed_at

    response = _post(admin, "dry_run", SHIFTS, PAGES)
    assert re.search(r"SRE 3 0 3 5 0 5", _text(response))
    assert "Everything in these files is already stored." in _text(response)
    response = _post(admin, "apply", SHIFTS, PAGES)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert (OncallShift.objects.count(), OncallPage.objects.count(), OncallWeek.objects.count()) == (3, 5, 1)
    assert OncallWeek.objects.get(team=team).computed_at == first_computed  # nothing new: not recomputed
    assert list(
        OncallImport.objects.order_by("pk").values_list("shifts_new", "shifts_existing", "pages_new")
    ) == [
        (3, 0, 5),
        (0, 3, 0),
    ]


def test_the_store_counts_rows_given_twice_and_already_stored(team: Team) -> None:
    from pulse.analysis.oncall_csv import parse_pages, parse_shifts

    shifts, pages = parse_shifts(SHIFTS).rows, parse_pages(PAGES).rows
    first = oncall_rows_store(team_id=team.pk, shifts=shifts[:2], pages=pages, source="pagerduty")
    assert (first.shifts_new, first.shifts_existing, first.pages_new, first.pages_existing) == (2, 0, 5, 0)
    again = oncall_rows_store(team_id=team.pk, shifts=[*shifts, shifts[0]], pages=pages[:1], source="csv")
    assert (again.shifts_new, again.shifts_existing, again.pages_new, again.pages_existing) == (1, 3, 0, 1)
    assert OncallShift.objects.count() == 3
    with pytest.raises(ValueError, match="source"):
        oncall_rows_store(team_id=team.pk, shifts=shifts, pages=(), source="opsgenie")


def test_a_store_recomputes_the_weeks_from_its_earliest_new_row_and_no_others(
    team: Team, organisation: Organisation
) -> None:
    """The weeks before the earliest new row, and every other team's weeks, stay as they are; the weeks from
    that row's on are written again."""
    from pulse.analysis.oncall import Page
    from pulse.analysis.oncall_csv import parse_pages, parse_shifts

    other = TeamFactory(organisation=organisation, name="DBA", slug="dba")
    shifts, pages = parse_shifts(SHIFTS).rows, parse_pages(PAGES).rows
    for each in (team, other):
        oncall_rows_store(team_id=each.pk, shifts=shifts, pages=pages, source="csv")
    OncallWeek.objects.update(interruptions_sleep=99)  # so a week written again shows it

    # Wednesday 21 January, 04:00 in Berlin: a sleep-hour page in the following week.
    night = datetime(2026, 1, 21, 3, 0, tzinfo=UTC)
    later = Page("sre", "alice@example.org", "Europe/Berlin", night, "INC-9", "high", "phone")
    oncall_rows_store(team_id=team.pk, shifts=(), pages=[later], source="csv")

    weeks = dict(OncallWeek.objects.filter(team=team).values_list("week_start", "interruptions_sleep"))
    assert weeks == {date(2026, 1, 12): 99, date(2026, 1, 19): 1}
    assert OncallWeek.objects.get(team=other).interruptions_sleep == 99


def test_a_quiet_week_between_the_last_stored_week_and_new_rows_is_written_as_zero(team: Team) -> None:
    """New rows two weeks after the last stored week: the week between them is now inside the team's series
    and gets its row (no interruptions), not a hole that only a full recomputation would fill."""
    from pulse.analysis.oncall import Page
    from pulse.analysis.oncall_csv import parse_pages, parse_shifts

    oncall_rows_store(
        team_id=team.pk, shifts=parse_shifts(SHIFTS).rows, pages=parse_pages(PAGES).rows, source="csv"
    )
    # Wednesday 28 January, 04:00 in Berlin: the week of 26 January; the week of 19 January has nothing.
    night = datetime(2026, 1, 28, 3, 0, tzinfo=UTC)
    later = Page("sre", "alice@example.org", "Europe/Berlin", night, "INC-9", "high", "phone")
    oncall_rows_store(team_id=team.pk, shifts=(), pages=[later], source="csv")

    weeks = dict(OncallWeek.objects.filter(team=team).values_list("week_start", "interruptions_sleep"))
    assert weeks == {date(2026, 1, 12): 1, date(2026, 1, 19): 0, date(2026, 1, 26): 1}
    stored_once = list(OncallWeek.objects.filter(team=team).order_by("week_start").values())
    oncall_weeks_compute(team_id=team.pk)  # the full recomputation writes the same weeks
    recomputed = list(OncallWeek.objects.filter(team=team).order_by("week_start").values())
    ignored = {"id", "computed_at"}
    assert [{k: v for k, v in row.items() if k not in ignored} for row in recomputed] == [
        {k: v for k, v in row.items() if k not in ignored} for row in stored_once
    ]


def test_weeks_stored_under_older_rules_are_recomputed_and_no_others(
    team: Team, organisation: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    """After an upgrade that changes a rule (``RULES_VERSION``), the hourly refresh recomputes the teams with
    a week stored under the older rules; here the broker is unreachable, so the weeks are computed at once
    (``oncall_weeks_compute_later``)."""
    from pulse.analysis.oncall import RULES_VERSION
    from pulse.analysis.oncall_csv import parse_pages, parse_shifts
    from pulse.services.oncall import oncall_weeks_refresh

    other = TeamFactory(organisation=organisation, name="DBA", slug="dba")
    for each in (team, other):
        oncall_rows_store(
            team_id=each.pk, shifts=parse_shifts(SHIFTS).rows, pages=parse_pages(PAGES).rows, source="csv"
        )
    assert set(OncallWeek.objects.values_list("rules_version", flat=True)) == {RULES_VERSION}
    assert oncall_weeks_refresh() == []  # nothing stale

    # The team's week as an older version stored it (a different figure); the other team's is current.
    OncallWeek.objects.filter(team=team).update(rules_version=RULES_VERSION - 1, interruptions_sleep=7)
    OncallWeek.objects.filter(team=other).update(interruptions_sleep=99)
    with broker_at(REFUSING_BROKER), django_capture_on_commit_callbacks(execute=True):
        assert oncall_weeks_refresh() == [team.pk]

    week = OncallWeek.objects.get(team=team)
    assert (week.rules_version, week.interruptions_sleep) == (RULES_VERSION, 1)
    assert OncallWeek.objects.get(team=other).interruptions_sleep == 99  # current: left alone
    assert oncall_weeks_refresh() == []


def _whole_week_shift(monday: str, next_monday: str) -> str:
    return SHIFTS_HEADER + f"sre,alice,{monday},{next_monday},1,\n"


@pytest.mark.parametrize(
    ("monday", "next_monday", "hours"),
    [
        ("2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 167),  # Berlin springs forward on the 29th
        ("2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 169),  # and falls back on the 25th
    ],
)
def test_a_week_with_a_clock_change_has_its_real_length(
    admin: Client, team: Team, monday: str, next_monday: str, hours: int
) -> None:
    assert _post(admin, "apply", _whole_week_shift(monday, next_monday), "").status_code == 302  # type: ignore[attr-defined]
    week = OncallWeek.objects.get(team=team)
    assert week.ends_at - week.starts_at == timedelta(hours=hours)
    assert week.max_on_call_share == pytest.approx(1.0)  # on call all of it: 100 %, not 167/168
    assert week.incidents_per_shift == 0.0


def test_weeks_are_computed_in_the_teams_own_zone(admin: Client, organisation: Organisation) -> None:
    team = TeamFactory(organisation=organisation, name="NY", slug="ny", time_zone="America/New_York")
    # Sunday 11 January 23:30 in New York is Monday 05:30 in Berlin: the week of 5 January for this team.
    pages = PAGES_HEADER + "ny,ref,America/New_York,2026-01-11T23:30:00-05:00,I,high,push\n"
    assert _post(admin, "apply", "", pages).status_code == 302  # type: ignore[attr-defined]
    week = OncallWeek.objects.get(team=team)
    assert week.week_start == date(2026, 1, 5)
    assert week.starts_at == datetime(2026, 1, 5, 5, tzinfo=UTC)
    assert (week.interruptions_sleep, week.incidents, week.incidents_per_shift) == (1, 1, None)


# --- time off ---------------------------------------------------------------------------------------------


def _members(team: Team, count: int) -> list[Person]:
    people = [PersonFactory(organisation=team.organisation) for _ in range(count)]
    for person in people:
        MembershipFactory(person=person, team=team, starts_on=dt.date(2025, 1, 1))
    return people


def _time_off(client: Client, action: str, text: str) -> object:
    return client.post("/manage/oncall/time-off/", {"action": action, "csv_text": text})


def test_time_off_is_imported_with_field_errors_first_and_counted_per_team_at_k(
    admin: Client, team: Team, organisation: Organisation
) -> None:
    first, second, third = _members(team, 3)
    _post(admin, "apply", SHIFTS, PAGES)
    bad = (
        "email,first_day,last_day\n"
        f"{first.email},2026-01-05,2026-01-09\n"
        "nobody@example.org,2026-01-05,2026-01-09\n"  # row 3: not a person of the organisation
        f"{second.email},2026-01-32,2026-01-09\n"  # row 4: no such day
        f"{third.email},2026-01-09,2026-01-05\n"  # row 5: ends before it starts
    )
    response = _time_off(admin, "dry_run", bad)
    assert response.status_code == 400  # type: ignore[attr-defined]
    rows = re.findall(r"<tr><td>(\d+)</td><td><code>([^<]+)</code>", response.content.decode())  # type: ignore[attr-defined]
    assert rows == [("3", "email"), ("4", "first_day"), ("5", "last_day")]
    assert _time_off(admin, "apply", bad).status_code == 400  # type: ignore[attr-defined]
    assert not OncallAbsence.objects.exists()

    good = (
        "email,first_day,last_day\n"
        f"{first.email.upper()},2026-01-05,2026-01-09\n"  # Monday to Friday: five working days
        f"{second.email},2025-12-18,2025-12-23\n"  # Thursday to Tuesday: four
    )
    response = _time_off(admin, "dry_run", good)
    assert "Absences read: 2, of 2 people. New: 2. Already stored: 0." in _text(response)
    assert not OncallAbsence.objects.exists()
    assert _time_off(admin, "apply", good).status_code == 302  # type: ignore[attr-defined]
    assert OncallAbsence.objects.count() == 2
    # Until a worker runs the queued recomputation (below), the stored week has no absences in it.
    oncall_weeks_compute(team_id=team.pk)
    # Of three members, only the first had a five-day break in the 90 days to Sunday 18 January.
    assert OncallWeek.objects.get(team=team).without_time_off_share == pytest.approx(2 / 3)
    response = _time_off(admin, "dry_run", good)
    assert "Absences read: 2, of 2 people. New: 0. Already stored: 2." in _text(response)
    assert _time_off(admin, "apply", good).status_code == 302  # type: ignore[attr-defined]
    assert OncallAbsence.objects.count() == 2

    # Below k the share is not computed at all.
    Organisation.objects.filter(pk=organisation.pk).update(min_group_size=4)
    oncall_weeks_compute(team_id=team.pk)
    assert OncallWeek.objects.get(team=team).without_time_off_share is None


def test_the_time_off_share_counts_the_members_of_the_week(team: Team, organisation: Organisation) -> None:
    people = _members(team, 3)
    from pulse.analysis.oncall_csv import parse_shifts

    oncall_rows_store(team_id=team.pk, shifts=parse_shifts(SHIFTS).rows, pages=(), source="csv")
    assert OncallWeek.objects.get(team=team).without_time_off_share == 1.0  # nobody had a break
    Membership.objects.filter(person=people[0]).update(starts_on=dt.date(2026, 2, 1))  # joined later
    oncall_weeks_compute(team_id=team.pk)
    assert OncallWeek.objects.get(team=team).without_time_off_share is None  # 2 members < k = 3


# --- the command and the task -----------------------------------------------------------------------------


def test_the_command_imports_the_same_way(team: Team, tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "shifts.csv").write_text(SHIFTS)
    (folder / "pages.csv").write_text(PAGES)
    out = io.StringIO()
    call_command(
        "pulse_oncall_import",
        "--shifts",
        str(folder / "shifts.csv"),
        "--pages",
        str(folder / "pages.csv"),
        "--dry-run",
        stdout=out,
    )
    assert "SRE: shifts 3 read, 3 new, 0 already stored; pages 5 read, 5 new" in out.getvalue()
    assert not OncallShift.objects.exists()
    call_command("pulse_oncall_import", "--shifts", str(folder / "shifts.csv"), stdout=io.StringIO())
    assert OncallShift.objects.count() == 3
    (folder / "bad.csv").write_text(SHIFTS_HEADER + "sre,x,2026-01-12,2026-01-13T00:00Z,1,\n")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "pulse_oncall_import", "--shifts", str(folder / "bad.csv"), stdout=io.StringIO(), stderr=err
        )
    assert "shifts.csv: row 2, column start" in err.getvalue()


def test_the_task_recomputes_a_teams_weeks_and_is_safe_to_run_twice(team: Team) -> None:
    from pulse.analysis.oncall_csv import parse_pages, parse_shifts

    oncall_rows_store(
        team_id=team.pk, shifts=parse_shifts(SHIFTS).rows, pages=parse_pages(PAGES).rows, source="csv"
    )
    OncallWeek.objects.update(interruptions_sleep=99, reasons=[])
    assert oncall_weeks_compute_task.apply(args=(team.pk,)).get() == 1
    assert oncall_weeks_compute_task.apply(args=(team.pk,)).get() == 1
    week = OncallWeek.objects.get(team=team)
    assert week.interruptions_sleep == 1
    assert len(week.reasons) == 2
    assert OncallWeek.objects.count() == 1


# --- in German -------------------------------------------------------------------------------------------

COLUMN_LISTS = re.compile(
    r"team, responder, start, end, level, site|"
    r"team, responder, responder_time_zone, occurred_at, incident, urgency, channel|"
    r"email, first_day, last_day"
)

FILES = re.compile(r"<textarea[^>]*>.*?</textarea>", re.S)


def test_a_german_admin_reads_both_import_pages_and_their_reports_in_german(
    admin: Client, team: Team, organisation: Organisation
) -> None:
    from tests.pulse.test_web_admin_languages import _english_words

    Person.objects.filter(organisation=organisation, is_admin=True).update(locale="de")
    bad_shifts = SHIFTS + "platform,dave,2026-01-12T00:00:00+01:00,2026-01-13T00:00:00+01:00,1,\n"
    pages = [
        admin.get("/manage/oncall/import/"),
        _post(admin, "dry_run", SHIFTS, PAGES),
        _post(admin, "dry_run", bad_shifts, PAGES),
        admin.get("/manage/oncall/time-off/"),
        _time_off(admin, "dry_run", "email,first_day,last_day\nnobody@example.org,2026-01-05,2026-01-09\n"),
    ]
    _post(admin, "apply", SHIFTS, PAGES)
    pages.append(admin.get("/manage/oncall/import/"))  # the message and the recent imports
    for response in pages:
        page = COLUMN_LISTS.sub(" ", response.content.decode())  # type: ignore[attr-defined]
        page = FILES.sub(" ", page)  # the files themselves (pasted, or sent back on apply) are data
        assert '<html lang="de">' in page
        assert not _english_words(page), (pages.index(response), _english_words(page))
    assert "Gespeichert. Neue Schichten: 3. Neue Alarmierungen: 5." in _text(pages[-1])
    assert "Die Dateien haben Fehler: Nichts wurde gespeichert" in _text(pages[2])
