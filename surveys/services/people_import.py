"""Import people, teams and memberships from the CSV an HR tool exports.

One row per person and team; a person in two teams has two rows. Columns (header names are matched
case-insensitively, with the aliases HR tools use):

    email        required   (work email, e-mail)
    name         required   (full name, display name)
    team         required   the team's place in the tree from the top, levels separated by " / ",
                            e.g. "Engineering / Platform / SRE"; missing teams are created
    role         optional   member (default) or leader
    locale       optional   en, de
    time_zone    optional   IANA name, e.g. Europe/Berlin (the person's own, for reminders)

The file is the truth for the organisation: a dry run reports, row by row, every error and every change;
apply does the same in one transaction and refuses to start when any row has an error, so a bad file
changes nothing. Importing the same file twice changes nothing the second time. People missing from a file
are deactivated (never deleted) and their open memberships end; organisation admins are managed by hand and
left alone.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from surveys.models import Membership, Organisation, Person, Team
from surveys.validators import validate_locale, validate_time_zone

TEAM_SEPARATOR = "/"
COLUMN_ALIASES = {
    "email": {"email", "work email", "e-mail", "email address"},
    "name": {"name", "full name", "display name", "display_name"},
    "team": {"team", "team path", "department"},
    "role": {"role"},
    "locale": {"locale", "language"},
    "time_zone": {"time_zone", "time zone", "timezone", "tz"},
}
REQUIRED_COLUMNS = ("email", "name", "team")
MAX_ROWS = 50_000


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str
    name: str
    team_path: tuple[str, ...]
    role: str
    locale: str
    time_zone: str


@dataclass
class ImportReport:
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message); line 0: the whole file
    teams_created: list[str] = field(default_factory=list)
    people_created: list[str] = field(default_factory=list)
    people_updated: list[str] = field(default_factory=list)
    people_reactivated: list[str] = field(default_factory=list)
    people_deactivated: list[str] = field(default_factory=list)
    memberships_started: list[str] = field(default_factory=list)
    memberships_ended: list[str] = field(default_factory=list)
    rows: int = 0
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def change_count(self) -> int:
        return sum(
            len(changes)
            for changes in (
                self.teams_created,
                self.people_created,
                self.people_updated,
                self.people_reactivated,
                self.people_deactivated,
                self.memberships_started,
                self.memberships_ended,
            )
        )

    def summary(self) -> str:
        if self.errors:
            return f"{len(self.errors)} error(s) in {self.rows} row(s); nothing was changed."
        verb = "Applied" if self.applied else "Would apply"
        if not self.change_count:
            return f"{self.rows} row(s) read; everything is already up to date."
        return (
            f"{verb}: {len(self.teams_created)} team(s) created, {len(self.people_created)} person(s) "
            f"created, {len(self.people_updated)} updated, {len(self.people_reactivated)} reactivated, "
            f"{len(self.people_deactivated)} deactivated, {len(self.memberships_started)} membership(s) "
            f"started, {len(self.memberships_ended)} ended ({self.rows} row(s) read)."
        )

    def lines(self) -> list[str]:
        out = [f"line {line}: {message}" if line else message for line, message in self.errors]
        for label, items in (
            ("team created", self.teams_created),
            ("person created", self.people_created),
            ("person updated", self.people_updated),
            ("person reactivated", self.people_reactivated),
            ("person deactivated", self.people_deactivated),
            ("membership started", self.memberships_started),
            ("membership ended", self.memberships_ended),
        ):
            out.extend(f"{label}: {item}" for item in items)
        out.append(self.summary())
        return out


def _parse(csv_text: str, report: ImportReport) -> list[ImportRow]:
    """Read and validate every row; collect every error rather than stopping at the first."""
    if "\x00" in csv_text:
        report.errors.append((0, "The file contains NUL bytes; is it really a CSV export?"))
        return []
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    header = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    columns: dict[str, str] = {}
    for column, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in header:
                columns[column] = header[alias]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        report.errors.append(
            (0, f"Missing column(s): {', '.join(missing)}. Found: {', '.join(header) or 'none'}.")
        )
        return []

    rows: list[ImportRow] = []
    seen: dict[tuple[str, tuple[str, ...], str], int] = {}
    person_fields: dict[str, tuple[int, str, str, str]] = {}
    for line, record in enumerate(reader, start=2):
        if len(rows) >= MAX_ROWS:
            report.errors.append((line, f"More than {MAX_ROWS} rows; split the file."))
            break

        def value(column: str, record: dict[str, str | None] = record) -> str:
            return (record.get(columns[column]) or "").strip() if column in columns else ""

        if not any((cell or "").strip() for cell in record.values() if isinstance(cell, str)):
            continue  # blank lines at the end of spreadsheet exports
        report.rows += 1
        problems: list[str] = []
        email = value("email").lower()
        name = value("name")
        path = tuple(part.strip() for part in value("team").split(TEAM_SEPARATOR))
        role = value("role").lower() or Membership.Role.MEMBER
        locale = value("locale").lower()
        time_zone = value("time_zone")
        try:
            validate_email(email)
        except ValidationError:
            problems.append(f"email {email!r} is not a valid address")
        if not name:
            problems.append("name is empty")
        elif len(name) > 200:
            problems.append("name is longer than 200 characters")
        if not value("team") or any(not part for part in path):
            problems.append("team is empty, or has an empty level between separators")
        if role not in Membership.Role.values:
            problems.append(f"role {role!r} is not one of {', '.join(Membership.Role.values)}")
        for check, raw, label in (
            (validate_locale, locale, "locale"),
            (validate_time_zone, time_zone, "time_zone"),
        ):
            if raw:
                try:
                    check(raw)
                except ValidationError as error:
                    problems.append(f"{label}: {' '.join(error.messages)}")
        if not problems:
            key = (email, tuple(part.lower() for part in path), role)
            if key in seen:
                problems.append(f"repeats line {seen[key]} (same person, team and role)")
            seen[key] = line
            previous = person_fields.get(email)
            if previous and previous[1:] != (name, locale, time_zone):
                problems.append(f"{email} has a different name, locale or time zone on line {previous[0]}")
            person_fields.setdefault(email, (line, name, locale, time_zone))
        if problems:
            report.errors.extend((line, problem) for problem in problems)
        else:
            rows.append(ImportRow(line, email, name, path, role, locale, time_zone))
    if not report.rows and not report.errors:
        report.errors.append((0, "The file has a header but no rows."))
    return rows


def _unique_slug(organisation: Organisation, name: str, taken: set[str]) -> str:
    base = slugify(name)[:90] or "team"
    slug, counter = base, 2
    while slug in taken:
        slug = f"{base}-{counter}"
        counter += 1
    taken.add(slug)
    return slug


def people_import(*, organisation: Organisation, csv_text: str, apply: bool = False) -> ImportReport:
    """Compare the file with the organisation and report (dry run) or make (apply) the changes.

    Apply is all or nothing: any row error means nothing is written; a database error rolls back.
    """
    report = ImportReport()
    rows = _parse(csv_text, report)
    if report.errors:
        return report
    with transaction.atomic():
        _reconcile(organisation, rows, report, write=apply)
        report.applied = apply
        if not apply:
            transaction.set_rollback(True)
    return report


def _reconcile(
    organisation: Organisation, rows: list[ImportRow], report: ImportReport, *, write: bool
) -> None:
    today = timezone.now().date()
    teams = list(Team.objects.filter(organisation=organisation))
    by_parent_name = {(team.parent_id, team.name.lower()): team for team in teams}
    slugs = {team.slug for team in teams}

    def team_for(path: tuple[str, ...]) -> Team:
        parent: Team | None = None
        for depth, name in enumerate(path, start=1):
            key = (parent.pk if parent else None, name.lower())
            team = by_parent_name.get(key)
            if team is None:
                team = Team(
                    organisation=organisation,
                    name=name,
                    slug=_unique_slug(organisation, name, slugs),
                    parent=parent,
                )
                team.full_clean()
                team.save()
                by_parent_name[key] = team
                report.teams_created.append(" / ".join(path[:depth]))
            parent = team
        assert parent is not None
        return parent

    people = {person.email.lower(): person for person in Person.objects.filter(organisation=organisation)}
    wanted: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for row in rows:
        person = people.get(row.email)
        if person is None:
            person = Person(
                organisation=organisation,
                email=row.email,
                display_name=row.name,
                locale=row.locale,
                time_zone=row.time_zone,
            )
            person.full_clean()
            person.save()
            people[row.email] = person
            report.people_created.append(row.email)
        else:
            new_values = {"display_name": row.name, "locale": row.locale, "time_zone": row.time_zone}
            changed = [
                attribute for attribute, new in new_values.items() if getattr(person, attribute) != new
            ]
            if changed:
                for attribute in changed:
                    setattr(person, attribute, new_values[attribute])
                person.save(update_fields=changed)
                if row.email not in report.people_created and row.email not in report.people_updated:
                    report.people_updated.append(row.email)
            if not person.is_active:
                person.is_active = True
                person.save(update_fields=["is_active"])
                report.people_reactivated.append(row.email)
        wanted[row.email].add((team_for(row.team_path).pk, row.role))

    team_names = {team.pk: team.name for team in Team.objects.filter(organisation=organisation)}
    open_memberships = (
        Membership.objects.current(today).filter(person__organisation=organisation).select_related("person")
    )
    have: dict[tuple[int, int, str], Membership] = {
        (membership.person_id, membership.team_id, membership.role): membership
        for membership in open_memberships
    }
    for email, pairs in wanted.items():
        person = people[email]
        for team_id, role in sorted(pairs):
            if (person.pk, team_id, role) not in have:
                Membership.objects.create(person=person, team_id=team_id, role=role, starts_on=today)
                report.memberships_started.append(f"{email} {role} of {team_names[team_id]}")

    for (_person_id, team_id, role), membership in have.items():
        email = membership.person.email.lower()
        if (team_id, role) in wanted.get(email, set()):
            continue
        if membership.person.is_admin and email not in wanted:
            continue
        _end_membership(membership, today)
        report.memberships_ended.append(f"{email} {role} of {team_names[team_id]}")

    for email, person in people.items():
        if email not in wanted and person.is_active and not person.is_admin:
            person.is_active = False
            person.save(update_fields=["is_active"])
            report.people_deactivated.append(email)


def _end_membership(membership: Membership, today: date) -> None:
    """End a membership today. One that started today never lasted a day, so it is removed instead
    (the change history still records it)."""
    if membership.starts_on >= today:
        membership.delete()
    else:
        membership.ends_on = today
        membership.save(update_fields=["ends_on"])
