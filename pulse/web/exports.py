"""CSV exports of the team page and the roll-up: the page's own view models, written as rows.

Nothing here reads the database or computes a number: every value is a ``ShownCell`` (or a flag view)
that the page shows too, from the same selector call, so an export holds exactly what the page does,
withheld cells as their reason and never a number (``tests/pulse/test_exports.py`` checks it against the
page). Free text (comments, team names) that a spreadsheet would read as a formula is prefixed with an
apostrophe (OWASP, "CSV Injection"); values such as "+0.20" or "−0.1" stay as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.utils.text import slugify

from pulse.selectors.cells import ShownCell
from pulse.selectors.oncall import LoadWeekView, RollupLoad, TeamLoad
from pulse.selectors.reports import MetricReport, TeamReport
from pulse.selectors.rollup import Rollup, RollupCell

TEAM_HEADER = ("section", "measure", "detail", "round closing", "status", "result", "answers", "trend line")
ROLLUP_HEADER = (
    "team",
    "team path",
    "measure",
    "round closing",
    "status",
    "result",
    "cut-off band",
    "answers",
    "trend",
    "change per round",
    "open flags",
    "highest severity",
    "flags resolved over these rounds",
)

_NUMBER = re.compile(r"^[+\-−]?\d+(?:\.\d+)?%?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value: object) -> str:
    """A cell as text; text a spreadsheet would run as a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def _day(moment: datetime | None, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).date().isoformat() if moment else ""


def _cell_fields(cell: ShownCell) -> tuple[str, str, str]:
    """(status, result, answers): a published result with a decimal point whatever the reader's language, a
    withheld cell's result its reason in the reader's words, its answers empty."""
    status = {"published": "shown", "withheld": "withheld", "not_asked": "not asked"}[cell.status]
    result = cell.exported if cell.status != "not_asked" else ""
    return status, result, str(cell.n) if cell.published and cell.n else ""


def _series(section: str, report: MetricReport, zone: str) -> Iterator[tuple[str, ...]]:
    for point in report.points:
        status, result, answers = _cell_fields(point.cell)
        trend = "" if point.trend is None else str(point.trend)
        yield (
            section,
            report.label,
            point.cell.note,
            _day(point.round.closes_at, zone),
            status,
            result,
            answers,
            trend,
        )


def _load_measures(week: LoadWeekView) -> Iterator[tuple[str, str]]:
    """(measure, value) of one week of on-call load, as the page's tables show it: team figures only, and
    the busiest person's share and the time off only where they are stored (at least k people)."""
    yield "interruptions, business hours", str(week.business)
    yield "interruptions, off hours", str(week.off)
    yield "interruptions, sleep hours", str(week.sleep)
    yield "interruptions, all", str(week.interruptions)
    # Shares of the rotation's cycle (docs/oncall.md §2.3): its four weeks, fewer at the start of the data.
    span = "the week" if week.cycle_weeks == 1 else f"the last {week.cycle_weeks} weeks"
    if week.max_share is not None:
        yield f"most time on call, % of {span}", f"{week.max_share}%"
    if week.median_share is not None:
        yield f"median time on call, % of {span}", f"{week.median_share}%"
    yield "incidents", str(week.incidents)
    if week.incidents_per_shift is not None:
        yield "incidents per 12-hour shift", f"{week.incidents_per_shift:.1f}"
    yield "rotation size", str(week.rotation_size)
    if week.sites > 1:
        yield "rotation, smallest site", str(week.smallest_site)
    if week.concentration is not None:
        yield "busiest person's share of the interruptions", f"{week.concentration}%"
    if week.without_time_off is not None:
        yield "share of the team without a week off in 90 days", f"{week.without_time_off}%"


def load_rows(load: TeamLoad) -> Iterator[tuple[str, ...]]:
    """The on-call section's tables: one row per week and measure, the SRE thresholds a week breaches as
    its detail ("above the SRE limit")."""
    for week in load.weeks:
        breached = {
            "most time on call": "time_on_call",
            "incidents per 12-hour shift": "incidents_per_shift",
            "rotation size": "rotation_size",
        }
        for measure, value in _load_measures(week):
            code = breached.get(measure.split(",")[0])
            detail = "beyond the SRE book's limit" if code and code in week.breaches else ""
            yield ("on-call load", measure, detail, week.week_start.isoformat(), "shown", value, "", "")


def team_rows(report: TeamReport, *, load: TeamLoad | None = None) -> Iterator[tuple[str, ...]]:
    """Everything of the team page that holds a result: the table beside each chart, the response rate,
    the on-call load's weeks (``load``), the shares and answer spreads of the latest round, its comments and
    the flags with their sentences. The week of a load row is in the "round closing" column (its Monday)."""
    zone = report.organisation.time_zone
    latest = _day(report.latest_round.closes_at, zone) if report.latest_round else ""
    for metric in report.metrics:
        yield from _series("trend", metric, zone)
    if report.response_rate is not None:
        yield from _series("response rate", report.response_rate, zone)
    if load is not None:
        yield from load_rows(load)
    for share in report.shares:
        status, result, answers = _cell_fields(share.cell)
        yield ("share at or beyond a cut-off", share.label, share.band, latest, status, result, answers, "")
    for spread in report.distributions:
        status, result, answers = _cell_fields(spread.cell)
        if not spread.cell.published:
            yield ("answers", spread.question, "", latest, status, result, "", "")
            continue
        for option in spread.options:
            yield (
                "answers",
                spread.question,
                option.label,
                latest,
                status,
                f"{option.percent}%",
                answers,
                "",
            )
    if report.comments is not None:
        if report.comments.published:
            for text in report.comment_texts:
                yield ("comment", "", "", latest, "shown", text, "", "")
        else:
            yield ("comment", "", "", latest, "withheld", report.comments.text, "", "")
    for view in report.flags:
        yield (
            "flag",
            view.label,
            f"{view.flag.get_severity_display()}, {view.flag.get_state_display().lower()}",
            _day(view.flag.opened_at, zone),
            "shown",
            view.explanation,
            "",
            "",
        )


def _rollup_cell(
    row_fields: Sequence[str], cell: RollupCell, zone: str, flags: Sequence[str]
) -> tuple[str, ...]:
    status, result, answers = _cell_fields(cell.latest)
    closing = _day(cell.latest_round.closes_at, zone) if cell.latest_round else ""
    return (
        *row_fields,
        cell.column.label,
        closing,
        status,
        result,
        cell.latest.note if cell.latest.published else "",
        answers,
        cell.summary.text,
        cell.summary.slope,
        *flags,
    )


def _rollup_load(
    row_fields: Sequence[str], load: RollupLoad, flags: Sequence[str]
) -> Iterator[tuple[str, ...]]:
    week = load.latest.week_start.isoformat()
    sums = f"over the last {load.weeks} weeks"
    yield (
        *row_fields,
        "on-call: interruptions",
        week,
        "shown",
        str(load.interruptions),
        sums,
        "",
        "",
        "",
        *flags,
    )
    yield (
        *row_fields,
        "on-call: sleep-hour interruptions",
        week,
        "shown",
        str(load.sleep),
        sums,
        "",
        "",
        "",
        *flags,
    )
    # The means a week the roll-up page shows, to its 0.1.
    for measure, mean in (
        ("on-call: interruptions per week", load.interruptions_per_week),
        ("on-call: sleep-hour interruptions per week", load.sleep_per_week),
    ):
        yield (*row_fields, measure, week, "shown", f"{mean:.1f}", sums, "", "", "", *flags)
    for measure, value in _load_measures(load.latest):
        if measure.startswith("interruptions"):
            continue
        yield (*row_fields, f"on-call: {measure}", week, "shown", value, "latest week", "", "", "", *flags)


def rollup_rows(
    rollup: Rollup, *, loads: Mapping[int, RollupLoad] | None = None
) -> Iterator[tuple[str, ...]]:
    """One row per team and measure, as the roll-up table shows them; the team's path from the highest
    team the caller sees ("Engineering / Platform / SRE Americas"). A team with on-call data (``loads``)
    also has its load rows: the last weeks' interruptions, and its latest week's other figures."""
    zone = rollup.organisation.time_zone
    names = {t.pk: t.name for t in (*rollup.ancestors, rollup.team)}
    names.update((row.team.pk, row.team.name) for row in rollup.rows)
    for row in rollup.rows:
        path = " / ".join(names[a] for a in (*row.team.ancestor_ids, row.team.pk) if a in names)
        flags = (str(row.open_flags), row.severity_label, str(row.resolved))
        for cell in (*row.cells, row.rate):
            yield _rollup_cell((row.team.name, path), cell, zone, flags)
        if loads and row.team.pk in loads:
            yield from _rollup_load((row.team.name, path), loads[row.team.pk], flags)


def filename(team_name: str, what: str, day: date) -> str:
    """ "sre-americas-team-2026-12-02.csv": the team, what it is, the day it was made."""
    stem = slugify(team_name) or "team"
    return f"{stem}-{what}-{day.isoformat()}.csv"


def csv_response(header: Sequence[str], rows: Iterable[Sequence[str]], name: str) -> HttpResponse:
    """A UTF-8 CSV (with a BOM, so spreadsheets read "−" and "⊘" right) as an attachment; never cached."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe(value) for value in row])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
