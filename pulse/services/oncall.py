"""On-call load: the one write path for shifts and pages, the weekly team metrics, and the CSV imports.

* :func:`oncall_rows_store` stores a team's shifts and pages (from the CSV import here and from the
  PagerDuty sync), skipping rows already stored, and recomputes the weeks they touch: the only writer of
  ``OncallShift`` and ``OncallPage``.
* :func:`oncall_weeks_compute` (re)computes a team's ``OncallWeek`` rows from what is stored, with
  ``pulse.analysis.oncall.weekly_load`` in the team's time zone and the organisation's k.
* :func:`oncall_csv_import` reads ``shifts.csv`` and ``pages.csv`` (docs/oncall.md §1, §7) for a whole
  organisation; :func:`oncall_time_off_import` reads a time-off CSV (§8). Both report field by field,
  store nothing on any error, and store nothing on a dry run.

Responders, incidents and people are hashed (``pulse.models.oncall.keyed_reference``) before anything is
stored or compared; the clear references live only in the request that brought them.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from celery import current_app
from django.contrib.auth.models import User
from django.db import connection, models, transaction
from django.db.models import TextField
from django.db.models.functions import Cast, Lower
from django.utils import timezone
from django.utils.translation import gettext_noop

from pulse.analysis.oncall import (
    RULES_VERSION,
    Page,
    PageRow,
    Shift,
    ShiftRow,
    micros,
    weekly_load_of_rows,
    zone,
)
from pulse.analysis.oncall_csv import (
    CellError,
    Parsed,
    Problem,
    cell_error,
    parse_absences,
    parse_pages,
    parse_shifts,
)
from pulse.analysis.time_off import Absence, share_without_break
from pulse.models.oncall import (
    OncallAbsence,
    OncallImport,
    OncallPage,
    OncallShift,
    OncallSource,
    OncallWeek,
    ReferenceKind,
    keyed_reference,
)
from surveys.models import Membership, Person, Team

logger = logging.getLogger(__name__)

WEEK_FIELDS = (
    "starts_at",
    "ends_at",
    "interruptions_business",
    "interruptions_off",
    "interruptions_sleep",
    "max_on_call_share",
    "median_on_call_share",
    "incidents",
    "incidents_per_shift",
    "rotation_size",
    "rotation_by_site",
    "concentration",
    "without_time_off_share",
    "reasons",
    "computed_at",
    "rules_version",
)
WEEK_COLUMNS = ("team_id", "week_start", *WEEK_FIELDS)  # the order of a week's plain row
BULK_BATCH = 2000

Row = TypeVar("Row", Shift, Page)
ShiftKey = tuple[str, datetime, datetime, int]
PageKey = tuple[str, datetime, str, str]


@dataclass(frozen=True)
class OncallStoreCounts:
    """What one store did: rows new to the database, and rows it already had (a re-import)."""

    shifts_new: int = 0
    shifts_existing: int = 0
    pages_new: int = 0
    pages_existing: int = 0

    def __add__(self, other: OncallStoreCounts) -> OncallStoreCounts:
        return OncallStoreCounts(
            self.shifts_new + other.shifts_new,
            self.shifts_existing + other.shifts_existing,
            self.pages_new + other.pages_new,
            self.pages_existing + other.pages_existing,
        )


# --- hashing and the natural keys ------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _hasher(organisation_id: int, kind: str) -> Callable[[str], str]:
    """``keyed_reference`` for one organisation and kind, each distinct value hashed once: a year of pages
    names the same few responders thousands of times, and an incident several times."""
    hashed: dict[str, str] = {}

    def reference(value: str) -> str:
        found = hashed.get(value)
        if found is None:
            found = hashed[value] = keyed_reference(organisation_id, kind, value)
        return found

    return reference


# The columns a stored row is written with, in the order of the plain rows below.
SHIFT_COLUMNS = ("team_id", "responder", "starts_at", "ends_at", "level", "site", "source")
PAGE_COLUMNS = (
    "team_id",
    "responder",
    "responder_time_zone",
    "occurred_at",
    "incident",
    "urgency",
    "channel",
    "source",
)
StoredRow = tuple[Any, ...]  # a row's values, in the order of its table's columns above


def _shift_rows(team: Team, shifts: Iterable[Shift], source: str) -> dict[ShiftKey, StoredRow]:
    """The shifts as plain rows (:data:`SHIFT_COLUMNS`) by natural key (a key given twice is one row)."""
    responder_of = _hasher(team.organisation_id, ReferenceKind.RESPONDER)
    rows: dict[ShiftKey, StoredRow] = {}
    for shift in shifts:
        key = (responder_of(shift.responder), _utc(shift.start), _utc(shift.end), shift.level)
        if key not in rows:
            rows[key] = (team.pk, key[0], key[1], key[2], shift.level, shift.site, source)
    return rows


def _page_rows(team: Team, pages: Iterable[Page], source: str) -> dict[PageKey, StoredRow]:
    """The pages as plain rows (:data:`PAGE_COLUMNS`) by natural key."""
    responder_of = _hasher(team.organisation_id, ReferenceKind.RESPONDER)
    incident_of = _hasher(team.organisation_id, ReferenceKind.INCIDENT)
    rows: dict[PageKey, StoredRow] = {}
    for page in pages:
        key = (responder_of(page.responder), _utc(page.occurred_at), incident_of(page.incident), page.channel)
        if key not in rows:
            rows[key] = (
                team.pk,
                key[0],
                page.responder_zone,
                key[1],
                key[2],
                page.urgency,
                page.channel,
                source,
            )
    return rows


def _rows_insert(model: type[models.Model], columns: Sequence[str], rows: Sequence[StoredRow]) -> None:
    """Insert rows known to be new (their keys were looked up, or their weeks deleted, under the team's
    lock): COPY on PostgreSQL, ``bulk_create`` elsewhere. A team's first sync or import brings a year,
    thousands of rows, and building a model instance per row and preparing each of its values took four
    times as long as COPY takes; for a year of weeks, Django's upsert escaped the reasons' JSON in Python
    for a fifth of the whole recomputation (``pulse_bench oncall``)."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        fields = [model._meta.get_field(column) for column in columns]
        names = ", ".join(quote(field.column) for field in fields)  # type: ignore[union-attr,arg-type]
        encoders = {
            index: field.encoder for index, field in enumerate(fields) if isinstance(field, models.JSONField)
        }
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                if encoders:
                    row = tuple(
                        json.dumps(value, cls=encoders[index]) if index in encoders else value
                        for index, value in enumerate(row)
                    )
                copy.write_row(row)
        return
    model._default_manager.bulk_create(
        [model(**dict(zip(columns, row, strict=True))) for row in rows],
        batch_size=BULK_BATCH,
        ignore_conflicts=True,
    )


def _stored_shift_keys(team: Team, keys: Iterable[ShiftKey]) -> set[ShiftKey]:
    keys = list(keys)
    if not keys:
        return set()
    stored = OncallShift.objects.filter(
        team=team,
        starts_at__gte=min(key[1] for key in keys),
        starts_at__lte=max(key[1] for key in keys),
    ).values_list("responder", "starts_at", "ends_at", "level")
    return {(responder, _utc(start), _utc(end), level) for responder, start, end, level in stored} & set(keys)


def _stored_page_keys(team: Team, keys: Iterable[PageKey]) -> set[PageKey]:
    keys = list(keys)
    if not keys:
        return set()
    stored = OncallPage.objects.filter(
        team=team,
        occurred_at__gte=min(key[1] for key in keys),
        occurred_at__lte=max(key[1] for key in keys),
    ).values_list("responder", "occurred_at", "incident", "channel")
    return {(responder, _utc(at), incident, channel) for responder, at, incident, channel in stored} & set(
        keys
    )


def _counts(
    team: Team, shifts: Sequence[Shift], pages: Sequence[Page], source: str
) -> tuple[OncallStoreCounts, list[StoredRow], list[StoredRow]]:
    shift_rows = _shift_rows(team, shifts, source)
    page_rows = _page_rows(team, pages, source)
    stored_shifts = _stored_shift_keys(team, shift_rows)
    stored_pages = _stored_page_keys(team, page_rows)
    new_shifts = [row for key, row in shift_rows.items() if key not in stored_shifts]
    new_pages = [row for key, row in page_rows.items() if key not in stored_pages]
    counts = OncallStoreCounts(
        shifts_new=len(new_shifts),
        shifts_existing=len(shifts) - len(new_shifts),
        pages_new=len(new_pages),
        pages_existing=len(pages) - len(new_pages),
    )
    return counts, new_shifts, new_pages


def _locked_team(team_id: int) -> Team:
    """The team, its row locked until the transaction ends: one writer of a team's on-call rows at a time,
    so the counts of new rows are exact and a recomputation never reads a half-stored batch."""
    return Team.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=team_id)


# --- the write path ---------------------------------------------------------------------------------------


def oncall_rows_store(
    *,
    team_id: int,
    shifts: Sequence[Shift],
    pages: Sequence[Page],
    source: str,
    imported_by: User | None = None,
) -> OncallStoreCounts:
    """Store a team's shifts and pages, skip those already stored, and recompute the weeks they touch.

    Atomic: all rows or none. The ``team`` field of the rows is not read (``team_id`` says whose they are).
    Idempotent: the natural keys (responder, start, end, level for a shift; responder, time, incident,
    channel for a page) are unique, so storing the same rows again adds nothing and says so in the counts.
    ``source`` is ``"csv"`` or ``"pagerduty"``; each call leaves an ``OncallImport`` record."""
    if source not in OncallSource.values:
        raise ValueError(f"unknown on-call source {source!r}")
    with transaction.atomic():
        team = _locked_team(team_id)
        counts, new_shifts, new_pages = _counts(team, shifts, pages, source)
        _rows_insert(OncallShift, SHIFT_COLUMNS, new_shifts)
        _rows_insert(OncallPage, PAGE_COLUMNS, new_pages)
        OncallImport.objects.create(
            organisation_id=team.organisation_id,
            team=team,
            kind=OncallImport.Kind.LOAD,
            source=source,
            imported_by=imported_by,
            shifts_new=counts.shifts_new,
            shifts_existing=counts.shifts_existing,
            pages_new=counts.pages_new,
            pages_existing=counts.pages_existing,
        )
        moments = [row[2] for row in new_shifts] + [row[3] for row in new_pages]
        if moments:
            since = min(moments).astimezone(zone(team.effective_time_zone)).date()
            # Weeks between the last one stored and the new rows had no row of their own, and now lie inside
            # the team's series: they are written too, or a quiet week would be missing, not zero.
            last_stored = (
                OncallWeek.objects.filter(team=team).order_by("-week_start").values_list("week_start").first()
            )
            if last_stored is not None:
                since = min(since, last_stored[0] + timedelta(days=7))
            oncall_weeks_compute(team_id=team.pk, since=since)
    return counts


# --- the weekly metrics -----------------------------------------------------------------------------------


def _as_text(field: str) -> Cast:
    """A stored instant as the database writes it in text (ISO 8601), for :func:`_stored_micros`."""
    return Cast(field, output_field=TextField())


def _stored_micros(text: str) -> int:
    """A stored instant read as text, in microseconds since 1970 (``pulse.analysis.oncall.micros``).
    PostgreSQL writes ISO 8601 with the session's offset (psycopg itself reads only that DateStyle), SQLite
    the naive UTC text Django stored. ``fromisoformat`` parses it in C; the driver's loader for a timestamp,
    as Django installs it, parses in Python about ten times slower, and a team's year is some five thousand
    instants, half the time of its weekly recomputation (``pulse_bench oncall``)."""
    moment = datetime.fromisoformat(text)
    return micros(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def _team_people_by_day(team: Team) -> list[tuple[int, date, date | None]]:
    return list(
        Membership.objects.filter(team=team, role=Membership.Role.MEMBER).values_list(
            "person_id", "starts_on", "ends_on"
        )
    )


def _members_on(memberships: Sequence[tuple[int, date, date | None]], day: date) -> set[int]:
    return {person for person, starts, ends in memberships if starts <= day and (ends is None or ends > day)}


def oncall_weeks_compute(*, team_id: int, since: date | None = None) -> int:
    """(Re)compute the team's ``OncallWeek`` rows from its stored shifts, pages and time off; return how
    many were written. ``since``: only the weeks from the one containing that day (in the team's zone) are
    written; the computation still reads the whole history, which the rotation (four weeks back) and each
    incident's first page need. Idempotent: the same rows give the same weeks; the team's weeks from the
    first one written on are replaced, in one transaction under the team's lock.

    The per-person shares of time on call are used for the maximum and the median and then dropped: no
    per-person figure is stored."""
    with transaction.atomic():
        team = _locked_team(team_id)
        organisation = team.organisation
        k = organisation.min_group_size
        label = str(team.pk)
        shifts: list[ShiftRow] = [
            (responder, _stored_micros(start), _stored_micros(end), level, site)
            for responder, start, end, level, site in OncallShift.objects.filter(team=team)
            .annotate(start=_as_text("starts_at"), end=_as_text("ends_at"))
            .values_list("responder", "start", "end", "level", "site")
        ]
        pages: list[PageRow] = [
            (responder, zone_name, _stored_micros(at), incident, urgency, channel)
            for responder, zone_name, at, incident, urgency, channel in OncallPage.objects.filter(team=team)
            .annotate(at=_as_text("occurred_at"))
            .values_list("responder", "responder_time_zone", "at", "incident", "urgency", "channel")
        ]
        loads = weekly_load_of_rows(label, team.effective_time_zone, shifts, pages, k=k)
        first_week = since - timedelta(days=since.weekday()) if since is not None else None

        memberships = _team_people_by_day(team)
        person_refs = {
            person: keyed_reference(organisation.pk, ReferenceKind.PERSON, str(person))
            for person in {person for person, _, _ in memberships}
        }
        absences = [
            Absence(ref, first, last)
            for ref, first, last in OncallAbsence.objects.filter(
                organisation=organisation, person__in=person_refs.values()
            ).values_list("person", "first_day", "last_day")
        ]

        now = timezone.now()
        rows: list[StoredRow] = []
        for load in loads:
            monday = date.fromisocalendar(load.week.year, load.week.week, 1)
            if first_week is not None and monday < first_week:
                continue
            sunday = monday + timedelta(days=6)
            people = {person_refs[person] for person in _members_on(memberships, sunday)}
            rows.append(
                (
                    team.pk,
                    monday,
                    load.starts_at,
                    load.ends_at,
                    load.interruptions.business,
                    load.interruptions.off,
                    load.interruptions.sleep,
                    load.max_on_call_share,
                    load.median_on_call_share,
                    load.incidents,
                    load.incidents_per_shift,
                    load.rotation_size,
                    dict(load.rotation_by_site),
                    load.concentration,
                    share_without_break(people, absences, sunday, k=k),
                    [asdict(reason) for reason in load.reasons],
                    now,
                    RULES_VERSION,
                )
            )
        stale = OncallWeek.objects.filter(team=team)
        if first_week is not None:
            stale = stale.filter(week_start__gte=first_week)
        stale.delete()
        _rows_insert(OncallWeek, WEEK_COLUMNS, rows)
    return len(rows)


def oncall_weeks_refresh() -> list[int]:
    """Recompute, in workers, the weeks of every team that has a week stored under an earlier version of the
    weekly rules (``pulse.analysis.oncall.RULES_VERSION``); return those teams. Idempotent: a team already
    recomputed has no such week, and a team queued twice is recomputed to the same rows."""
    teams = sorted(
        set(OncallWeek.objects.filter(rules_version__lt=RULES_VERSION).values_list("team_id", flat=True))
    )
    oncall_weeks_compute_later(teams)
    return teams


def oncall_weeks_compute_later(team_ids: Iterable[int]) -> None:
    """Recompute these teams' weeks in a worker once the caller's transaction commits. When the broker
    cannot take the task, the weeks are computed right there instead, so nothing waits on a lost message."""
    ids = sorted(set(team_ids))

    def enqueue() -> None:
        for team_id in ids:
            try:
                # By name: a service enqueues a task without importing the task layer above it.
                current_app.send_task("pulse.tasks.oncall_weeks_compute", args=[team_id], retry=False)
            except Exception as error:  # the broker is down
                logger.warning("on-call weeks: cannot enqueue (%s); computing now", type(error).__name__)
                oncall_weeks_compute(team_id=team_id)

    if ids:
        transaction.on_commit(enqueue)


# --- the CSV import of shifts and pages ------------------------------------------------------------------


@dataclass(frozen=True)
class TeamImportLine:
    """One team's part of an import: rows read from each file, and how many of them are new."""

    team_id: int
    team_name: str
    shifts_read: int
    pages_read: int
    counts: OncallStoreCounts


@dataclass(frozen=True)
class OncallImportReport:
    dry_run: bool
    applied: bool
    teams: tuple[TeamImportLine, ...] = ()
    shift_errors: tuple[CellError, ...] = ()
    page_errors: tuple[CellError, ...] = ()
    shifts_read: int = 0
    pages_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.shift_errors and not self.page_errors

    @property
    def total(self) -> OncallStoreCounts:
        total = OncallStoreCounts()
        for line in self.teams:
            total += line.counts
        return total


class _TeamDirectory:
    """The organisation's teams by slug and by name (case-insensitive); a name two teams share is refused
    with their slugs, since a team's name is unique only under its parent."""

    def __init__(self, organisation_id: int) -> None:
        self.by_slug: dict[str, Team] = {}
        self.by_name: dict[str, list[Team]] = defaultdict(list)
        for team in Team.objects.filter(organisation_id=organisation_id).order_by("path"):
            self.by_slug[team.slug.lower()] = team
            self.by_name[team.name.lower()].append(team)

    def find(self, reference: str) -> tuple[Team | None, Problem | None]:
        """The team ``reference`` names, or None and the problem (a message for the catalogue, its values)."""
        key = reference.strip().lower()
        if key in self.by_slug:
            return self.by_slug[key], None
        named = self.by_name.get(key, [])
        if len(named) == 1:
            return named[0], None
        if named:
            slugs = ", ".join(team.slug for team in named)
            return None, (
                gettext_noop("%(team)s names %(count)s teams; write the team's slug instead (%(slugs)s)"),
                {"team": repr(reference), "count": len(named), "slugs": slugs},
            )
        return None, (
            gettext_noop("there is no team %(team)s in this organisation (write its name or slug)"),
            {"team": repr(reference)},
        )


def _by_team(rows: Sequence[Row], directory: _TeamDirectory) -> dict[int, list[Row]]:
    """The parsed rows by team (each row's team was checked while parsing)."""
    grouped: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        team, _problem = directory.find(row.team)
        if team is not None:
            grouped[team.pk].append(row)
    return grouped


def oncall_csv_import(
    *,
    organisation_id: int,
    shifts_text: str,
    pages_text: str,
    dry_run: bool,
    imported_by: User | None = None,
) -> OncallImportReport:
    """Read ``shifts.csv`` and ``pages.csv`` of an organisation and, unless ``dry_run``, store them.

    The report has every error of both files (row and column, the header being row 1) and per team the rows
    read, new and already stored. Nothing is stored when there is any error, in either file: a dry run and
    a refused import show the same report; an applied one stores all teams' rows in one transaction.
    Either text may be empty (only shifts, or only pages); both empty is an error."""
    directory = _TeamDirectory(organisation_id)

    def team_check(reference: str) -> Problem | None:
        return directory.find(reference)[1]

    parsed_shifts = parse_shifts(shifts_text, team_check) if shifts_text.strip() else Parsed[Shift]((), ())
    parsed_pages = parse_pages(pages_text, team_check) if pages_text.strip() else Parsed[Page]((), ())
    shifts_by_team = _by_team(parsed_shifts.rows, directory)
    pages_by_team = _by_team(parsed_pages.rows, directory)
    shift_errors = list(parsed_shifts.errors)
    page_errors = list(parsed_pages.errors)
    if not shifts_text.strip() and not pages_text.strip():
        shift_errors.append(cell_error(1, "(file)", gettext_noop("give shifts.csv, pages.csv or both")))
    ok = not shift_errors and not page_errors
    teams = {team.pk: team for team in directory.by_slug.values()}
    team_ids = sorted(set(shifts_by_team) | set(pages_by_team), key=lambda pk: teams[pk].path)

    def line(team_id: int, counts: OncallStoreCounts) -> TeamImportLine:
        return TeamImportLine(
            team_id=team_id,
            team_name=teams[team_id].name,
            shifts_read=len(shifts_by_team.get(team_id, [])),
            pages_read=len(pages_by_team.get(team_id, [])),
            counts=counts,
        )

    lines: list[TeamImportLine] = []
    if dry_run or not ok:
        for team_id in team_ids:
            counts, _, _ = _counts(
                teams[team_id],
                shifts_by_team.get(team_id, []),
                pages_by_team.get(team_id, []),
                OncallSource.CSV,
            )
            lines.append(line(team_id, counts))
    else:
        with transaction.atomic():
            for team_id in team_ids:
                counts = oncall_rows_store(
                    team_id=team_id,
                    shifts=shifts_by_team.get(team_id, []),
                    pages=pages_by_team.get(team_id, []),
                    source=OncallSource.CSV,
                    imported_by=imported_by,
                )
                lines.append(line(team_id, counts))
    return OncallImportReport(
        dry_run=dry_run,
        applied=ok and not dry_run,
        teams=tuple(lines),
        shift_errors=tuple(shift_errors),
        page_errors=tuple(page_errors),
        shifts_read=len(parsed_shifts.rows),
        pages_read=len(parsed_pages.rows),
    )


# --- the time-off import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeOffImportReport:
    dry_run: bool
    applied: bool
    errors: tuple[CellError, ...] = ()
    rows_read: int = 0
    people: int = 0
    absences_new: int = 0
    absences_existing: int = 0
    teams_recomputed: tuple[int, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors


def oncall_time_off_import(
    *,
    organisation_id: int,
    csv_text: str,
    dry_run: bool,
    imported_by: User | None = None,
) -> TimeOffImportReport:
    """Read a time-off CSV (``email``, ``first_day``, ``last_day``) and, unless ``dry_run``, store it.

    Each email must be a person of the organisation; the absence is stored under the keyed hash of that
    person's id, never the email nor a link to the person. Nothing is stored on any error; a re-import adds
    nothing. Once stored, the weeks of every team of the organisation that has on-call weeks are
    recomputed (their time-off share) by a worker after commit."""
    parsed = parse_absences(csv_text)
    emails = {absence.person for absence in parsed.rows}
    people = dict(
        Person.objects.annotate(address=Lower("email"))
        .filter(organisation_id=organisation_id, address__in=emails)
        .values_list("address", "pk")
    )
    errors = list(parsed.errors)
    rows: dict[tuple[str, date, date], OncallAbsence] = {}
    for absence, number in zip(parsed.rows, parsed.row_numbers, strict=True):
        person = people.get(absence.person)
        if person is None:
            errors.append(
                cell_error(number, "email", gettext_noop("no person in this organisation has this email"))
            )
            continue
        ref = keyed_reference(organisation_id, ReferenceKind.PERSON, str(person))
        rows.setdefault(
            (ref, absence.first_day, absence.last_day),
            OncallAbsence(
                organisation_id=organisation_id,
                person=ref,
                first_day=absence.first_day,
                last_day=absence.last_day,
            ),
        )
    errors.sort(key=lambda error: error.row)
    stored = set(
        OncallAbsence.objects.filter(
            organisation_id=organisation_id, person__in={key[0] for key in rows}
        ).values_list("person", "first_day", "last_day")
    )
    new = [row for key, row in rows.items() if key not in stored]
    report = TimeOffImportReport(
        dry_run=dry_run,
        applied=False,
        errors=tuple(errors),
        rows_read=len(parsed.rows),
        people=len({key[0] for key in rows}),
        absences_new=len(new),
        absences_existing=len(parsed.rows) - len(new) if not errors else 0,
    )
    if dry_run or errors:
        return report
    with transaction.atomic():
        OncallAbsence.objects.bulk_create(new, batch_size=BULK_BATCH, ignore_conflicts=True)
        OncallImport.objects.create(
            organisation_id=organisation_id,
            kind=OncallImport.Kind.TIME_OFF,
            source=OncallSource.CSV,
            imported_by=imported_by,
            absences_new=len(new),
            absences_existing=report.absences_existing,
        )
        teams = tuple(
            OncallWeek.objects.filter(team__organisation_id=organisation_id)
            .values_list("team_id", flat=True)
            .distinct()
            .order_by("team_id")
        )
        if new:
            oncall_weeks_compute_later(teams)
    return TimeOffImportReport(
        dry_run=False,
        applied=True,
        rows_read=report.rows_read,
        people=report.people,
        absences_new=report.absences_new,
        absences_existing=report.absences_existing,
        teams_recomputed=teams if new else (),
    )
