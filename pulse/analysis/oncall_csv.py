"""The two on-call CSV formats, ``shifts.csv`` and ``pages.csv`` (docs/oncall.md §1), parsed field by field.

Pure module: text in, :class:`~pulse.analysis.oncall.Shift` and :class:`~pulse.analysis.oncall.Page` rows
and :class:`CellError` s out, no Django and no database. Every error names its row (the header is row 1, as
a spreadsheet numbers it) and its column, and all of a file's errors are reported at once, so a file is
fixed in one pass. A caller that stores rows stores none of them unless ``errors`` is empty.

``shifts.csv`` columns: ``team``, ``responder``, ``start``, ``end``, ``level``, ``site``.
``pages.csv`` columns: ``team``, ``responder``, ``responder_time_zone``, ``occurred_at``, ``incident``,
``urgency``, ``channel``. The header row is required; the columns may come in any order; a column the format
does not have is refused (a typo would otherwise drop data silently). Times are ISO 8601 with a date, a time
and a UTC offset (``2026-03-29T01:30:00+01:00`` or ``…Z``); a time without an offset is refused, since the
hour type of a page depends on it. ``level`` is 1 (primary) or 2 (secondary); ``site`` may be empty;
``urgency`` is ``high`` or ``low``; ``channel`` is ``push``, ``phone``, ``sms`` or ``email`` (both read
case-insensitively). A row that repeats an earlier row exactly is refused, naming the earlier row.

The error messages are English with named placeholders, marked for the translation catalogue with
``gettext_noop`` (``pulse.analysis.catalogue``; this module imports no Django): :attr:`CellError.message`
is the English sentence (the command line's, the tests'), and a page shows ``gettext(error.text) %
error.values`` in its reader's language (``pulse.templatetags.oncall_words``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar, cast

from pulse.analysis.catalogue import gettext_noop
from pulse.analysis.oncall import CHANNELS, URGENCIES, Channel, Page, Shift, Urgency, zone
from pulse.analysis.time_off import Absence

SHIFT_COLUMNS: tuple[str, ...] = ("team", "responder", "start", "end", "level", "site")
PAGE_COLUMNS: tuple[str, ...] = (
    "team",
    "responder",
    "responder_time_zone",
    "occurred_at",
    "incident",
    "urgency",
    "channel",
)
ABSENCE_COLUMNS: tuple[str, ...] = ("email", "first_day", "last_day")
OPTIONAL_COLUMNS: frozenset[str] = frozenset({"site"})
MAX_TEXT = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HAS_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_EMAIL = 254

T = TypeVar("T")


@dataclass(frozen=True)
class CellError:
    """What is wrong with one cell: ``text`` is the English message with ``%(name)s`` placeholders (a
    catalogue entry), ``values`` the words that fill them (a cell's value, a list of columns), as given."""

    row: int
    column: str
    text: str
    values: tuple[tuple[str, str], ...] = ()

    @property
    def message(self) -> str:
        """The message in English."""
        return self.text % dict(self.values) if self.values else self.text

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


def cell_error(row: int, column: str, text: str, /, **values: object) -> CellError:
    """A :class:`CellError` whose placeholders are filled by ``values`` (each written as ``str`` of it)."""
    return CellError(row, column, text, tuple((name, str(value)) for name, value in values.items()))


Problem = tuple[str, Mapping[str, object]]
"""A message with placeholders and the values that fill them, as a caller's check gives it."""


@dataclass(frozen=True)
class Parsed(Generic[T]):
    rows: tuple[T, ...]
    errors: tuple[CellError, ...]
    # The spreadsheet row of each of ``rows``, so a caller's own checks (an unknown team) name it too.
    row_numbers: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


class _Row:
    """One record's cells by column, collecting the errors of the fields read from it."""

    def __init__(self, number: int, cells: dict[str, str], errors: list[CellError]) -> None:
        self.number = number
        self.cells = cells
        self.errors = errors
        self.failed = False

    def fail(self, column: str, text: str, /, **values: object) -> None:
        self.failed = True
        self.errors.append(cell_error(self.number, column, text, **values))

    def text(self, column: str, *, required: bool = True) -> str:
        value = self.cells.get(column, "").strip()
        if not value and required:
            # Translators: an on-call CSV error, shown beside its row and its column's name, so it begins
            # with the verb ("is empty", "contains a control character"); %(value)s is the cell as written.
            self.fail(column, gettext_noop("is empty"))
        elif len(value) > MAX_TEXT:
            self.fail(
                column,
                gettext_noop("is %(length)s characters long; at most %(limit)s"),
                length=len(value),
                limit=MAX_TEXT,
            )
        elif CONTROL.search(value):
            self.fail(column, gettext_noop("contains a control character"))
        return value

    def moment(self, column: str) -> datetime | None:
        value = self.cells.get(column, "").strip()
        not_a_moment = gettext_noop("%(value)s is not a date and time like 2026-03-29T01:30:00+01:00")
        if not value:
            self.fail(column, gettext_noop("is empty"))
            return None
        if not HAS_TIME.match(value):
            self.fail(column, not_a_moment, value=repr(value))
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(column, not_a_moment, value=repr(value))
            return None
        if parsed.tzinfo is None:
            self.fail(
                column,
                gettext_noop("%(value)s has no UTC offset (add one, such as +01:00 or Z)"),
                value=repr(value),
            )
            return None
        return parsed

    def day(self, column: str) -> date | None:
        value = self.cells.get(column, "").strip()
        if not value:
            self.fail(column, gettext_noop("is empty"))
            return None
        try:
            if not DAY.match(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            self.fail(column, gettext_noop("%(value)s is not a date like 2026-07-31"), value=repr(value))
            return None

    def choice(self, column: str, allowed: Sequence[str]) -> str | None:
        value = self.cells.get(column, "").strip().lower()
        if value not in allowed:
            shown = self.cells.get(column, "").strip()
            self.fail(
                column,
                gettext_noop("%(value)s is not one of %(allowed)s"),
                value=repr(shown),
                allowed=", ".join(allowed),
            )
            return None
        return value


def _parse(
    text: str, columns: Sequence[str], build: Callable[[_Row], T | None], key: Callable[[T], object]
) -> Parsed[T]:
    errors: list[CellError] = []
    records = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [name.strip().lower() for name in next(records)]
    except StopIteration:
        empty = gettext_noop("the file is empty; its first row names %(columns)s")
        return Parsed((), (cell_error(1, "(header)", empty, columns=", ".join(columns)),))
    except csv.Error as error:
        unreadable = gettext_noop("cannot be read as CSV (%(error)s)")
        return Parsed((), (cell_error(1, "(header)", unreadable, error=error),))
    for name in columns:
        if name not in header and name not in OPTIONAL_COLUMNS:
            errors.append(cell_error(1, name, gettext_noop("is missing from the header")))
    for name in header:
        if name not in columns:
            errors.append(
                cell_error(
                    1,
                    name or "(blank)",
                    gettext_noop("is not a column of this file (%(columns)s)"),
                    columns=", ".join(columns),
                )
            )
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        errors.append(
            cell_error(1, ", ".join(repeated), gettext_noop("appears more than once in the header"))
        )
    if errors:
        return Parsed((), tuple(errors))

    rows: list[T] = []
    numbers: list[int] = []
    seen: dict[object, int] = {}
    number = 1
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as error:
            errors.append(
                cell_error(
                    number + 1, "(row)", gettext_noop("cannot be read as CSV (%(error)s)"), error=error
                )
            )
            break
        number += 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            errors.append(
                cell_error(
                    number,
                    "(row)",
                    gettext_noop("has %(fields)s fields; the header has %(columns)s"),
                    fields=len(record),
                    columns=len(header),
                )
            )
            continue
        row = _Row(number, dict(zip(header, record, strict=True)), errors)
        try:
            built = build(row)
        except ValueError as error:  # a rule of the value objects the fields did not already catch
            # The value objects' own reason is English (pulse.analysis.oncall); the fields above catch
            # every rule a file can break, so this is a guard rather than a message people read.
            row.fail("(row)", gettext_noop("cannot be stored: %(reason)s"), reason=error)
            built = None
        if built is None or row.failed:
            continue
        identity = key(built)
        if identity in seen:
            row.fail("(row)", gettext_noop("repeats row %(row)s"), row=seen[identity])
            continue
        seen[identity] = number
        rows.append(built)
        numbers.append(number)
    return Parsed(tuple(rows), tuple(errors), tuple(numbers))


TeamCheck = Callable[[str], Problem | None]
"""Given a ``team`` cell, the problem with it (None when the team is known): the caller's own check, run on
every row, so a row refused for another field still has its unknown team named in the same pass."""


def _team(row: _Row, check: TeamCheck | None) -> str:
    team = row.text("team")
    if team and check is not None and (problem := check(team)) is not None:
        text, values = problem
        row.fail("team", text, **values)
    return team


def _shift(row: _Row, check: TeamCheck | None = None) -> Shift | None:
    team = _team(row, check)
    responder = row.text("responder")
    start = row.moment("start")
    end = row.moment("end")
    level = row.choice("level", ("1", "2"))
    site = row.text("site", required=False)
    if start is not None and end is not None and end <= start:
        row.fail("end", gettext_noop("is not after start"))
    if row.failed or start is None or end is None or level is None:
        return None
    return Shift(team, responder, start, end, int(level), site)


def _page(row: _Row, check: TeamCheck | None = None) -> Page | None:
    team = _team(row, check)
    responder = row.text("responder")
    zone_name = row.text("responder_time_zone")
    if zone_name:
        try:
            zone(zone_name)
        except ValueError:
            row.fail(
                "responder_time_zone",
                gettext_noop("%(value)s is not an IANA time zone such as Europe/Berlin"),
                value=repr(zone_name),
            )
    occurred_at = row.moment("occurred_at")
    incident = row.text("incident")
    urgency = row.choice("urgency", URGENCIES)
    channel = row.choice("channel", CHANNELS)
    if row.failed or occurred_at is None or urgency is None or channel is None:
        return None
    return Page(
        team, responder, zone_name, occurred_at, incident, cast(Urgency, urgency), cast(Channel, channel)
    )


def parse_shifts(text: str, team_check: TeamCheck | None = None) -> Parsed[Shift]:
    """The shifts of a ``shifts.csv`` text, and every error in it (module docstring); ``team_check``, when
    given, names the problem with a row's team (an unknown one) as an error of that row's ``team``."""
    return _parse(
        text,
        SHIFT_COLUMNS,
        lambda row: _shift(row, team_check),
        lambda s: (s.team, s.responder, s.start, s.end, s.level, s.site),
    )


def parse_pages(text: str, team_check: TeamCheck | None = None) -> Parsed[Page]:
    """The pages of a ``pages.csv`` text, and every error in it (module docstring); ``team_check`` as for
    :func:`parse_shifts`."""
    return _parse(
        text,
        PAGE_COLUMNS,
        lambda row: _page(row, team_check),
        lambda p: (p.team, p.responder, p.responder_zone, p.occurred_at, p.incident, p.urgency, p.channel),
    )


def _absence(row: _Row) -> Absence | None:
    email = row.cells.get("email", "").strip().lower()
    if not email:
        row.fail("email", gettext_noop("is empty"))
    elif len(email) > MAX_EMAIL or CONTROL.search(email) or "@" not in email.strip("@"):
        row.fail("email", gettext_noop("is not an email address"))
    first_day = row.day("first_day")
    last_day = row.day("last_day")
    if first_day is not None and last_day is not None and last_day < first_day:
        row.fail("last_day", gettext_noop("is before first_day"))
    if row.failed or first_day is None or last_day is None:
        return None
    return Absence(email, first_day, last_day)


def parse_absences(text: str) -> Parsed[Absence]:
    """The absences of a time-off CSV (``email``, ``first_day``, ``last_day``, days as ``2026-07-31``, both
    inclusive), and every error in it. The email is read in lower case; the caller turns it into a person
    of the organisation (an unknown email is the caller's error to report) and stores no email."""
    return _parse(text, ABSENCE_COLUMNS, _absence, lambda a: (a.person, a.first_day, a.last_day))
