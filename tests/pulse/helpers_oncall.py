"""A team's on-call weeks stored through the one write path (``pulse.services.oncall.oncall_rows_store``), for
the page, export and anonymity tests: each week the same rota, laid end to end from Monday 00:00 in the
team's zone, so every person's share of time on call is the test's choice (and differs from everyone
else's), and sleep-hour pages at 03:00 to whoever is on call then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from pulse.analysis.oncall import Page, Shift
from pulse.services.oncall import oncall_rows_store
from surveys.models import Team


@dataclass(frozen=True)
class Rota:
    """``hours``: responder reference → hours on call a week, in this order from Monday 00:00 (they must add
    up to at most the week's length); ``sleep_pages``: sleep-hour pages per week, one a night at 03:00."""

    hours: Mapping[str, int]
    sleep_pages: Sequence[int]
    site: str = "dublin"

    def share(self, responder: str, week_hours: int = 168) -> int:
        """The responder's share of the week in whole percent, as a page would write it."""
        return round(100 * self.hours[responder] / week_hours)


def rota_store(
    team: Team, rota: Rota, *, first_monday: date, until: datetime | None = None, incident_prefix: str = "INC"
) -> None:
    """Store ``len(rota.sleep_pages)`` weeks of ``rota`` from ``first_monday``; nothing after ``until`` (a
    week still under way is stored as far as it has gone, as an on-call tool would export it)."""
    zone = ZoneInfo(team.effective_time_zone)
    shifts: list[Shift] = []
    pages: list[Page] = []
    for week, nights in enumerate(rota.sleep_pages):
        monday = first_monday + timedelta(weeks=week)
        # In UTC: hours added on a local wall clock would be wrong across a clock change.
        start = datetime(monday.year, monday.month, monday.day, tzinfo=zone).astimezone(UTC)
        spans = []
        for responder, hours in rota.hours.items():
            end = start + timedelta(hours=hours)
            spans.append((responder, start, end))
            start = end
        for responder, begins, ends in spans:
            if until is not None and begins >= until:
                continue
            shifts.append(Shift("t", responder, begins, min(ends, until) if until else ends, 1, rota.site))
        for night in range(nights):
            day = monday + timedelta(days=night % 7)
            moment = datetime(day.year, day.month, day.day, 3, night // 7, tzinfo=zone)
            if until is not None and moment >= until:
                continue
            who = next(r for r, begins, ends in spans if begins <= moment < ends)
            incident = f"{incident_prefix}-{monday.isoformat()}-{night}"
            pages.append(Page("t", who, team.effective_time_zone, moment, incident, "high", "push"))
    oncall_rows_store(team_id=team.pk, shifts=shifts, pages=pages, source="csv")


class _Rows(HTMLParser):
    """Every row of the ``<table>`` elements with a class, each cell's text (heading rows too)."""

    def __init__(self, css_class: str) -> None:
        super().__init__()
        self.css_class = css_class
        self.rows: list[list[str]] = []
        self._depth = 0  # inside a wanted table
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._cell is not None:
            self._cell.append(" ")  # an element inside a cell is a word of its own
        if tag == "table" and (self._depth or self.css_class in (dict(attrs).get("class") or "").split()):
            self._depth += 1
        elif self._depth and tag == "tr":
            self.rows.append([])
        elif self._depth and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._depth:
            self._depth -= 1
        elif self._depth and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(page: str, css_class: str) -> list[list[str]]:
    """The rows of the page's tables of ``css_class``, each a list of its cells' text."""
    parser = _Rows(css_class)
    parser.feed(page)
    return parser.rows
