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

The delimiter is recognised from the header line: comma, semicolon (spreadsheets in many European
locales) or tab; errors name the one that was used.

By default an import adds and updates: new people and teams are created, the people in the file get the
file's name, locale, time zone and teams (a team they are no longer in ends), and everyone not in the file
is left exactly as they are. Deactivating the people missing from the file is a separate, explicit choice
(``deactivate_missing``): they are deactivated, never deleted, and their open memberships end;
organisation admins are managed by hand and left alone.

A dry run always comes first: it reports, row by row, every error and every change, and a fingerprint of
exactly that outcome. Apply takes the fingerprint, repeats the work in one transaction and writes only if
the outcome is still the same (otherwise nothing is written and the fresh dry run is returned). It
refuses to start when any row has an error, so a bad file changes nothing. Importing the same file twice
changes nothing the second time.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext, ngettext, pgettext_lazy

from surveys.models import Membership, Organisation, Person, Team
from surveys.services.organisation import membership_stop
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
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
# How the report names them, in the reader's language (the report is worded when it is made: the admin's
# page in the admin's language, the command line in settings.LANGUAGE_CODE).
DELIMITER_WORDS = {
    ",": pgettext_lazy("a CSV file's separator", "comma"),
    ";": pgettext_lazy("a CSV file's separator", "semicolon"),
    "\t": pgettext_lazy("a CSV file's separator", "tab"),
}


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
    delimiter: str = ","
    deactivate_missing: bool = False
    teams_created: list[str] = field(default_factory=list)
    people_created: list[str] = field(default_factory=list)
    people_updated: list[str] = field(default_factory=list)
    people_reactivated: list[str] = field(default_factory=list)
    people_deactivated: list[str] = field(default_factory=list)  # "Name <email>"
    memberships_started: list[str] = field(default_factory=list)
    memberships_ended: list[str] = field(default_factory=list)  # of people in the file (a team change)
    memberships_ended_by_deactivation: list[str] = field(default_factory=list)
    # Active people not in the file, "Name <email>": left alone unless deactivate_missing is chosen.
    people_missing: list[str] = field(default_factory=list)
    rows: int = 0
    applied: bool = False
    # The outcome of the dry run changed before apply (someone edited people meanwhile): nothing written.
    stale: bool = False

    @property
    def delimiter_name(self) -> str:
        known = DELIMITER_WORDS.get(self.delimiter)
        return str(known) if known is not None else repr(self.delimiter)

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
                self.memberships_ended_by_deactivation,
            )
        )

    @property
    def destructive_count(self) -> int:
        """Changes that take someone out of Pulse: deactivations and the memberships they end."""
        return len(self.people_deactivated) + len(self.memberships_ended_by_deactivation)

    @property
    def fingerprint(self) -> str:
        """Names this exact outcome: apply writes only when its own outcome has the same fingerprint (worded
        in English whatever the reader's language, so a dry run and its apply agree across a switch)."""
        with translation.override("en"):
            digest = hashlib.sha256("\n".join(self.lines()).encode())
        digest.update(b"deactivate" if self.deactivate_missing else b"keep")
        return digest.hexdigest()[:16]

    def summary(self) -> str:
        """What the import did or would do, in the active language."""
        rows = ngettext("%(count)d row", "%(count)d rows", self.rows) % {"count": self.rows}
        if self.errors:
            count = len(self.errors)
            errors = ngettext("%(count)d error", "%(count)d errors", count) % {"count": count}
            return gettext("%(errors)s in %(rows)s (%(separator)s-separated); nothing was changed.") % {
                "errors": errors,
                "rows": rows,
                "separator": self.delimiter_name,
            }
        read = gettext("%(rows)s read, %(separator)s-separated") % {
            "rows": rows,
            "separator": self.delimiter_name,
        }
        if not self.change_count:
            return gettext("%(read)s; everything is already up to date.") % {"read": read}

        def counted(template: str, items: list[str]) -> str:
            return template % {"count": len(items)}

        parts = [
            counted(
                ngettext("%(count)d team created", "%(count)d teams created", len(self.teams_created)),
                self.teams_created,
            ),
            counted(
                ngettext("%(count)d person created", "%(count)d people created", len(self.people_created)),
                self.people_created,
            ),
            counted(
                ngettext("%(count)d person updated", "%(count)d people updated", len(self.people_updated)),
                self.people_updated,
            ),
            counted(
                ngettext(
                    "%(count)d person reactivated",
                    "%(count)d people reactivated",
                    len(self.people_reactivated),
                ),
                self.people_reactivated,
            ),
            counted(
                ngettext(
                    "%(count)d membership started",
                    "%(count)d memberships started",
                    len(self.memberships_started),
                ),
                self.memberships_started,
            ),
            counted(
                ngettext(
                    "%(count)d membership ended", "%(count)d memberships ended", len(self.memberships_ended)
                ),
                self.memberships_ended,
            ),
        ]
        if self.deactivate_missing:
            ended = self.memberships_ended_by_deactivation
            parts += [
                counted(
                    ngettext(
                        "%(count)d person deactivated",
                        "%(count)d people deactivated",
                        len(self.people_deactivated),
                    ),
                    self.people_deactivated,
                ),
                counted(
                    ngettext(
                        "%(count)d of their memberships ended",
                        "%(count)d of their memberships ended",
                        len(ended),
                    ),
                    ended,
                ),
            ]
        changes = ", ".join(parts)
        template = (
            gettext("Applied: %(changes)s (%(read)s).")
            if self.applied
            else gettext("Would apply: %(changes)s (%(read)s).")
        )
        return template % {"changes": changes, "read": read}

    def lines(self) -> list[str]:
        """Every error and change, then the summary: what the dry run prints."""
        return self._lines(destructive=True)

    def neutral_lines(self) -> list[str]:
        """The same without the deactivations, which a page shows apart, as a destructive change."""
        return self._lines(destructive=False)

    def _lines(self, *, destructive: bool) -> list[str]:
        out = [
            gettext("line %(line)d: %(message)s") % {"line": line, "message": message} if line else message
            for line, message in self.errors
        ]
        sections = [
            (gettext("team created: %(item)s"), self.teams_created),
            (gettext("person created: %(item)s"), self.people_created),
            (gettext("person updated: %(item)s"), self.people_updated),
            (gettext("person reactivated: %(item)s"), self.people_reactivated),
            (gettext("membership started: %(item)s"), self.memberships_started),
            (gettext("membership ended: %(item)s"), self.memberships_ended),
        ]
        if destructive:
            sections += [
                (gettext("person deactivated: %(item)s"), self.people_deactivated),
                (gettext("membership ended (deactivated): %(item)s"), self.memberships_ended_by_deactivation),
            ]
        for template, items in sections:
            out.extend(template % {"item": item} for item in items)
        out.append(self.summary())
        return out


def _parse(csv_text: str, report: ImportReport) -> list[ImportRow]:
    """Read and validate every row; collect every error rather than stopping at the first."""
    if "\x00" in csv_text:
        report.errors.append((0, gettext("The file contains NUL bytes; is it really a CSV export?")))
        return []
    text = csv_text.lstrip("\ufeff")
    report.delimiter = _delimiter(text)
    reader = csv.DictReader(io.StringIO(text), delimiter=report.delimiter)
    header = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    columns: dict[str, str] = {}
    for column, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in header:
                columns[column] = header[alias]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        others = ", ".join(str(name) for mark, name in DELIMITER_WORDS.items() if mark != report.delimiter)
        message = ngettext(
            "Missing column: %(missing)s. The file was read as %(separator)s-separated and its header has: "
            "%(header)s. Columns must be separated by a comma, semicolon or tab (%(others)s also work) and "
            "named email, name, team.",
            "Missing columns: %(missing)s. The file was read as %(separator)s-separated and its header has: "
            "%(header)s. Columns must be separated by a comma, semicolon or tab (%(others)s also work) and "
            "named email, name, team.",
            len(missing),
        )
        values = {
            "missing": ", ".join(missing),
            "separator": report.delimiter_name,
            "header": ", ".join(repr(name) for name in header) or gettext("nothing"),
            "others": others,
        }
        report.errors.append((0, message % values))
        return []

    rows: list[ImportRow] = []
    seen: dict[tuple[str, tuple[str, ...], str], int] = {}
    person_fields: dict[str, tuple[int, str, str, str]] = {}
    for line, record in enumerate(reader, start=2):
        if len(rows) >= MAX_ROWS:
            report.errors.append(
                (line, gettext("More than %(max)d rows; split the file.") % {"max": MAX_ROWS})
            )
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
            problems.append(gettext("email %(email)s is not a valid address") % {"email": repr(email)})
        if not name:
            problems.append(gettext("name is empty"))
        elif len(name) > 200:
            problems.append(gettext("name is longer than 200 characters"))
        if not value("team") or any(not part for part in path):
            problems.append(gettext("team is empty, or has an empty level between separators"))
        if role not in Membership.Role.values:
            problems.append(
                gettext("role %(role)s is not one of %(roles)s")
                % {"role": repr(role), "roles": ", ".join(Membership.Role.values)}
            )
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
                problems.append(
                    gettext("repeats line %(line)d (same person, team and role)") % {"line": seen[key]}
                )
            seen[key] = line
            previous = person_fields.get(email)
            if previous and previous[1:] != (name, locale, time_zone):
                problems.append(
                    gettext("%(email)s has a different name, locale or time zone on line %(line)d")
                    % {"email": email, "line": previous[0]}
                )
            person_fields.setdefault(email, (line, name, locale, time_zone))
        if problems:
            report.errors.extend((line, problem) for problem in problems)
        else:
            rows.append(ImportRow(line, email, name, path, role, locale, time_zone))
    if not report.rows and not report.errors:
        report.errors.append((0, "The file has a header but no rows."))
    return rows


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab, whichever separates the header line (the most frequent one outside quotes;
    comma when the line has none of them, e.g. a one-column file)."""
    header = text.split("\n", 1)[0]
    try:
        found = csv.Sniffer().sniff(header, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        found = ""
    if found in DELIMITERS:
        return found
    unquoted = "".join(part for index, part in enumerate(header.split('"')) if index % 2 == 0)
    counts = {mark: unquoted.count(mark) for mark in DELIMITERS}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] else ","


def _unique_slug(organisation: Organisation, name: str, taken: set[str]) -> str:
    base = slugify(name)[:90] or "team"
    slug, counter = base, 2
    while slug in taken:
        slug = f"{base}-{counter}"
        counter += 1
    taken.add(slug)
    return slug


def people_import(
    *,
    organisation: Organisation,
    csv_text: str,
    deactivate_missing: bool = False,
    apply: str | bool | None = None,
) -> ImportReport:
    """Compare the file with the organisation and report the changes (a dry run, ``apply=None``), or make
    them: ``apply`` is the fingerprint of the dry run the caller showed, and the changes are written only
    when they are still exactly that (else ``stale`` is set and the fresh dry run returned). ``apply=True``
    writes whatever the outcome is: only for callers that ask for that in one request (the API's
    ``dry_run=false``), never for a page with an "Apply" button.

    Apply is all or nothing: any row error means nothing is written; a database error rolls back.
    """
    report = ImportReport(deactivate_missing=deactivate_missing)
    rows = _parse(csv_text, report)
    if report.errors:
        return report
    with transaction.atomic():
        _reconcile(organisation, rows, report, deactivate_missing=deactivate_missing)
        if apply is True or (isinstance(apply, str) and report.fingerprint == apply):
            report.applied = True
        else:
            report.stale = isinstance(apply, str)
            transaction.set_rollback(True)
    return report


def _reconcile(
    organisation: Organisation, rows: list[ImportRow], report: ImportReport, *, deactivate_missing: bool
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

    missing = {
        email: person
        for email, person in people.items()
        if email not in wanted and person.is_active and not person.is_admin
    }
    report.people_missing = [f"{person.display_name} <{email}>" for email, person in missing.items()]
    for (_person_id, team_id, role), membership in have.items():
        email = membership.person.email.lower()
        label = f"{email} {role} of {team_names[team_id]}"
        if email in wanted:
            if (team_id, role) not in wanted[email]:
                membership_stop(membership, today)
                report.memberships_ended.append(label)
        elif deactivate_missing and email in missing:
            membership_stop(membership, today)
            report.memberships_ended_by_deactivation.append(label)

    if deactivate_missing:
        for email, person in missing.items():
            person.is_active = False
            person.save(update_fields=["is_active"])
            report.people_deactivated.append(f"{person.display_name} <{email}>")


def people_import_apply(
    *,
    organisation: Organisation,
    csv_text: str,
    deactivate_missing: bool,
    fingerprint: str,
    deactivation_confirmed: bool,
) -> tuple[ImportReport, str]:
    """Apply the dry run named by ``fingerprint``, as a page's "Apply" button asks.

    Returns the report and, when deactivations were not confirmed with their own tick, the message for that
    tick (nothing is written then). A stale fingerprint writes nothing and returns the fresh dry run.
    """
    report = people_import(
        organisation=organisation,
        csv_text=csv_text,
        deactivate_missing=deactivate_missing,
        # Deactivating without the tick: the dry run again, unless nobody would be deactivated.
        apply=fingerprint if deactivation_confirmed or not deactivate_missing else None,
    )
    if report.applied or report.fingerprint != fingerprint:
        report.stale = not report.applied
        return report, ""
    if report.destructive_count:
        count = len(report.people_deactivated)
        refusal = ngettext(
            "Tick this box to confirm that %(count)d person is deactivated.",
            "Tick this box to confirm that %(count)d people are deactivated.",
            count,
        )
        return report, refusal % {"count": count}
    return (
        people_import(
            organisation=organisation,
            csv_text=csv_text,
            deactivate_missing=deactivate_missing,
            apply=fingerprint,
        ),
        "",
    )
