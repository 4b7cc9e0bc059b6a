"""A leader of leaders' view: every team below one team, side by side, each from the rounds that asked it.

For each team of the subtree (the team itself first, when a round asked it as a whole), per reported
metric: the latest result and the trend over the same rounds and with the same rule as the team's own page
(the latest ``PULSE_TREND_WINDOW`` rounds that asked the metric's newest version, Sen's slope with its
Gilbert interval from ``PULSE_TREND_MIN_ROUNDS`` shown results on, docs/science.md §3.10), the response
rate of its latest round, its open flags (count and the highest severity, no numbers: those are on the team
page, behind the flag gate) and how many of its flags were resolved over those rounds.

Every number comes from ``pulse.disclosure.release``, released for each round's whole scope tree and then
filtered to the caller's teams, exactly as on the team page: a team withheld there is withheld here, with
the same reason. The teams below a team are usually asked by schedules of their own, on different days, so
the teams' results are never added up into one for the team on top: that is a round's job
(``pulse.services.aggregation``), and it is published only when a round asked the team as a whole.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from django.db.models import Q
from django.utils.translation import gettext

from pulse import dates
from pulse.analysis.formatting import signed, slope_decimals
from pulse.analysis.metrics import HIGHER_IS_WORSE, RESPONSE_RATE, MetricInfos
from pulse.analysis.stats import TrendLine, fit_trend
from pulse.disclosure.release import (
    RoundInfo,
    RoundRelease,
    TeamIndex,
    TeamInfo,
    instrument_definitions,
    release_all,
)
from pulse.models import Flag, TeamAggregate
from pulse.permissions import Caller
from pulse.selectors.cells import (
    Column,
    ShownCell,
    _plain,
    _slope_text,
    columns_of,
    horizon,
    min_rounds,
    shown_cell,
    visible_team_ids,
    window,
)
from pulse.selectors.flag_words import ReaderWords
from pulse.selectors.flags import _OPEN_STATES, _SEVERITY_ORDER, _flags_visible
from pulse.selectors.team_rounds import rounds_asking
from surveys.models import Organisation

Heading = Literal["worse", "better", "steady", "none"]

#: A trend's words are plain text (the roll-up cell escapes them), in the reader's number format.
_WORDS = ReaderWords("UTC", html=False)


@dataclass(frozen=True)
class TrendSummary:
    """A trend in a few words: ``heading`` says which way it goes for the team (never by colour alone:
    ``text`` says it too); ``slope`` is the signed change per round as shown, "" without a line."""

    heading: Heading
    text: str
    slope: str


@dataclass(frozen=True)
class RollupCell:
    column: Column
    metric: str | None  # the versioned metric read (None: the team was never asked it)
    latest: ShownCell
    latest_round: RoundInfo | None
    trend: TrendLine | None
    summary: TrendSummary
    flagged: bool  # an open flag of this team is about this metric


@dataclass(frozen=True)
class RollupRow:
    team: TeamInfo
    indent: int
    latest_round: RoundInfo | None
    closing: str  # the latest round's closing day in the organisation's zone ("" without one)
    cells: tuple[RollupCell, ...]
    rate: RollupCell
    open_flags: int
    severity: str | None  # the highest severity among the open flags (a Flag.Severity value)
    severity_label: str
    resolved: int  # flags resolved since the first of the rounds its trends are read over


@dataclass(frozen=True)
class Rollup:
    organisation: Organisation
    k: int
    team: TeamInfo
    ancestors: tuple[TeamInfo, ...]
    columns: tuple[Column, ...]  # the scales; the response rate is each row's ``rate``
    rows: tuple[RollupRow, ...]
    asked_as_whole: bool  # a round asked the team on top itself (its own row is first)
    latest_close: datetime | None


def team_rollup_get(*, caller: Caller, team_id: int, today: date | None = None) -> Rollup | None:
    """The roll-up of a team with teams below it, or None when the caller may not see the team or it has
    no visible team below it (the view answers 404 either way). A fixed number of queries, whatever the
    number of teams."""
    organisation = caller.organisation
    teams = TeamIndex.of(organisation.pk)
    visible = visible_team_ids(caller, teams)
    if team_id not in visible or team_id not in teams.by_id:
        return None
    team = teams.by_id[team_id]
    below = [t for t in teams.subtree(team.path) if t.pk != team.pk and t.pk in visible]
    if not below:
        return None
    asked = rounds_asking(organisation.pk, [team, *below], limit=horizon())
    used = {r.pk: r for rounds in asked.values() for r in rounds}
    definitions = instrument_definitions(i for r in used.values() for i, _ in r.instruments.values())
    all_columns = columns_of(definitions.values())
    scales = tuple(c for c in all_columns if c.key != RESPONSE_RATE)
    rate_column = next(c for c in all_columns if c.key == RESPONSE_RATE)
    # The team page's release, the same condition and metrics: its verdicts are the page's verdicts.
    releases = release_all(
        list(used.values()),
        teams,
        organisation=organisation,
        condition=Q(kind__in=[TeamAggregate.Kind.SCALE, TeamAggregate.Kind.RESPONSE_RATE]),
        extra_metrics=lambda r: [m for c in all_columns if (m := r.metric_for(c.key))],
        definitions=definitions,
    )
    infos = MetricInfos(definitions.values())
    shown_ids = {team.pk, *(t.pk for t in below)}
    flags = [f for f in _flags_visible(caller, states=_OPEN_STATES) if f.team_id in shown_ids]
    by_team: dict[int, list[Flag]] = defaultdict(list)
    for flag in flags:
        by_team[flag.team_id].append(flag)
    resolved_at: dict[int, list[datetime]] = defaultdict(list)
    for team_of, at in (
        _flags_visible(caller, states=[Flag.State.RESOLVED])
        .filter(team_id__in=shown_ids, resolved_at__isnull=False)
        .values_list("team_id", "resolved_at")
    ):
        if at is not None:
            resolved_at[team_of].append(at)
    zone = organisation.time_zone
    rows = []
    for member in [team, *below]:
        chronological = sorted(asked.get(member.pk, []), key=lambda r: (r.closes_at, r.pk))
        if member.pk == team.pk and not chronological:
            continue  # never asked as a whole: the teams below carry the story
        flagged = {f.metric for f in by_team[member.pk]}
        cells = tuple(_cell(column, chronological, releases, member, infos, flagged) for column in scales)
        rate = _cell(rate_column, chronological, releases, member, infos, flagged)
        latest = chronological[-1] if chronological else None
        since = chronological[-window() :][0].closes_at if chronological else None
        resolved = sum(1 for at in resolved_at[member.pk] if since is not None and at >= since)
        open_flags = by_team[member.pk]
        strongest = min(
            open_flags, key=lambda f: _SEVERITY_ORDER.get(Flag.Severity(f.severity), 9), default=None
        )
        rows.append(
            RollupRow(
                team=member,
                indent=member.depth - team.depth,
                latest_round=latest,
                closing=dates.day_text(latest.closes_at, zone) if latest else "",
                cells=cells,
                rate=rate,
                open_flags=len(open_flags),
                severity=strongest.severity if strongest else None,
                severity_label=strongest.get_severity_display() if strongest else "",
                resolved=resolved,
            )
        )
    ancestors = tuple(teams.by_id[a] for a in team.ancestor_ids if a in visible and a in teams.by_id)
    return Rollup(
        organisation=organisation,
        k=organisation.min_group_size,
        team=team,
        ancestors=ancestors,
        columns=scales,
        rows=tuple(rows),
        asked_as_whole=bool(asked.get(team.pk)),
        latest_close=max((r.closes_at for r in used.values()), default=None),
    )


def _cell(
    column: Column,
    chronological: list[RoundInfo],
    releases: dict[int, RoundRelease],
    team: TeamInfo,
    infos: MetricInfos,
    flagged: set[str],
) -> RollupCell:
    """The latest result and the trend of one metric for one team: the newest version asked, over the last
    ``window()`` rounds that asked it (as the team page's chart of that version)."""
    metric = next((m for r in reversed(chronological) if (m := r.metric_for(column.key))), None)
    if metric is None:
        return RollupCell(
            column, None, shown_cell(None), None, None, TrendSummary("none", gettext("not asked"), ""), False
        )
    series = [r for r in chronological if r.metric_for(column.key) == metric][-window() :]
    cells = [shown_cell(releases[r.pk].verdict(metric, team.pk)) for r in series]
    values = [(r.closes_at, v) for r, c in zip(series, cells, strict=True) if (v := _plain(c)) is not None]
    trend = fit_trend(values, least=min_rounds()) if column.scale != "percent" else None
    info = infos.info(metric)
    worse_if_higher = info is not None and info.direction == HIGHER_IS_WORSE
    summary = _summary(trend, column, len(values), worse_if_higher)
    return RollupCell(column, metric, cells[-1], series[-1], trend, summary, metric in flagged)


def _summary(trend: TrendLine | None, column: Column, usable: int, worse_if_higher: bool) -> TrendSummary:
    """The trend in a few words, in the reader's language ("steigend, schlechter (+0,12 pro Runde)");
    ``slope`` stays in the machine format for the CSV ("+0.12")."""
    if column.scale == "percent":
        return TrendSummary("none", "", "")
    if trend is None:
        text = gettext("no trend yet (%(usable)s of %(least)s rounds with a result)") % {
            "usable": usable,
            "least": min_rounds(),
        }
        return TrendSummary("none", text, "")
    slope = signed(trend.slope_per_round, slope_decimals(column.scale), zero="0")
    shown = {"slope": _slope_text(_WORDS, trend.slope_per_round, column.scale)}
    low, high = trend.low_per_round, trend.high_per_round
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 <= high:
        text = (
            gettext("no clear trend")
            if slope == "0"
            else gettext("no clear trend (%(slope)s a round)") % shown
        )
        return TrendSummary("steady", text, slope)
    rising = low > 0
    heading: Heading = "worse" if rising == worse_if_higher else "better"
    if rising:
        template = (
            gettext("rising, worse (%(slope)s a round)")
            if heading == "worse"
            else gettext("rising, better (%(slope)s a round)")
        )
    else:
        template = (
            gettext("falling, worse (%(slope)s a round)")
            if heading == "worse"
            else gettext("falling, better (%(slope)s a round)")
        )
    return TrendSummary(heading, template % shown, slope)
