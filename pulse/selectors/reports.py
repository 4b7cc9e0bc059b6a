"""What leaders and admins see: the page view models of the leader home and a team's page.

Every number comes from a release of ``pulse.disclosure.release`` for the whole scope tree of its round,
and is then filtered to the caller's teams (``pulse.selectors.cells.visible_team_ids``): a leader's teams
and their subtrees, an admin's organisation. Flags come through ``pulse.selectors.flags``, with their gate.

What is computed from published values only
-------------------------------------------
* The trend line is Sen's (1968) slope over the *shown* values of the team's last ``PULSE_TREND_WINDOW``
  rounds against real time in weeks, with the Gilbert (1987) interval (``pulse.analysis.stats.fit_trend``),
  drawn only from ``PULSE_TREND_MIN_ROUNDS`` published rounds on (docs/science.md §3.10). Anyone can recompute
  it from the table beside the chart.
* The minimum detectable change between two rounds is z₀.₉₇₅ · σ_w · √(1/n₁ + 1/n₂), σ_w the within-round
  SD of individuals pooled over the published rounds (from their sums of squares; docs/science.md §3.10: two
  rounds of 8 with an SD of 1 give 1.96·√(2/8) = 0.98, about one scale point). "What changed since the
  last round" says when a change is within that noise, and never reads one pair of rounds as a trend.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from django.db.models import Q
from django.utils import translation
from django.utils.text import get_text_list
from django.utils.translation import gettext, ngettext, pgettext

from pulse import dates
from pulse.analysis.formatting import (
    decimals_of,
    noise_shown,
    noise_text,
)
from pulse.analysis.glossary import REASON_NAME
from pulse.analysis.metrics import (
    HIGHER_IS_BETTER,
    RESPONSE_RATE,
    DisplayScale,
    Metric,
    MetricInfo,
    MetricInfos,
)
from pulse.analysis.rules import FlagKind
from pulse.analysis.sentences import Words, signed_text
from pulse.analysis.stats import (
    TrendLine,
    fit_trend,
    minimum_detectable_change,
    pooled_sd,
    rate_detectable_change,
)
from pulse.disclosure.release import (
    Distribution,
    Mean,
    Rate,
    ReleaseMemo,
    RoundInfo,
    RoundRelease,
    TeamIndex,
    TeamInfo,
    Verdict,
    instrument_definitions,
    latest_rounds,
    release_all,
)
from pulse.disclosure.rules import Published, Withheld, nearest_publishable_ancestor
from pulse.models import Flag, TeamAggregate
from pulse.permissions import Caller
from pulse.selectors.cells import (
    Column,
    ShownCell,
    _plain,
    _trend_words,
    band_words,
    columns_of,
    horizon,
    metric_infos_for,
    min_rounds,
    phrase_words,
    shown_cell,
    visible_team_ids,
    window,
)
from pulse.selectors.flag_words import DATA_LANGUAGE, ReaderWords, metric_label
from pulse.selectors.flags import (
    _OPEN_STATES,
    EventView,
    FlagView,
    _flag_order,
    _flag_views,
    _flags_visible,
)
from pulse.selectors.team_rounds import TeamSetup, rounds_asking, team_setup_get
from surveys.definitions import DISPLAY_RANGES, BandDef, text_for
from surveys.models import Comment, Organisation


@dataclass(frozen=True)
class HeatRow:
    team: TeamInfo
    indent: int
    round: RoundInfo | None
    cells: tuple[ShownCell, ...]
    open_flags: int
    closing: str  # the round's closing day in the organisation's time zone ("" without a round)


@dataclass(frozen=True)
class FlagSummary:
    """A flag on the home page: no numbers (they are on the team page and in the inbox, behind the gate)."""

    flag: Flag
    team: TeamInfo
    label: str

    @property
    def reasons_text(self) -> str:
        """ "worsening trend, sudden shift": the flag's reasons in words, without their numbers."""
        kinds = [FlagKind(kind) for kind in self.flag.reasons or [self.flag.kind]]
        names = [gettext(REASON_NAME[kind]) for kind in kinds]
        # English lists them in lower case; German keeps its nouns' capitals.
        return ", ".join(name.lower() if translation.get_language() == "en" else name for name in names)


@dataclass(frozen=True)
class Home:
    organisation: Organisation
    k: int
    led: tuple[TeamInfo, ...]
    columns: tuple[Column, ...]
    rows: tuple[HeatRow, ...]
    flags: tuple[FlagSummary, ...]
    latest_close: datetime | None
    is_admin: bool


def leader_home_get(*, caller: Caller) -> Home:
    """The heatmap of the caller's teams × metrics, each team in the latest closed round that asked it,
    and the flags still open (unacknowledged first). A fixed number of queries, whatever the team count."""
    organisation = caller.organisation
    teams = TeamIndex.of(organisation.pk)
    visible = visible_team_ids(caller, teams)
    shown = [t for t in teams.ordered if t.pk in visible]
    rounds = latest_rounds(organisation.pk)
    chosen: dict[int, RoundInfo] = {}
    for team in shown:
        covering = [r for r in rounds if r.covers(team)]
        if covering:
            chosen[team.pk] = max(covering, key=lambda r: (r.closes_at, r.pk))
    used = {r.pk: r for r in chosen.values()}
    # The columns are the scales of the instruments these rounds asked, read from their own definitions.
    definitions = instrument_definitions(i for r in used.values() for i, _ in r.instruments.values())
    columns = columns_of(definitions.values())
    condition = Q(kind=TeamAggregate.Kind.RESPONSE_RATE) | Q(
        kind=TeamAggregate.Kind.SCALE,
        metric__in=[m for r in used.values() for m in _scale_metrics(r, columns)],
    )
    releases = release_all(
        list(used.values()),
        teams,
        organisation=organisation,
        condition=condition,
        extra_metrics=lambda r: [*_scale_metrics(r, columns), RESPONSE_RATE],
        definitions=definitions,
    )
    flags = sorted(_flags_visible(caller, states=_OPEN_STATES), key=_flag_order)
    flags = [f for f in flags if f.team_id in visible]
    infos = metric_infos_for((f.metric for f in flags), known=definitions.values())
    open_by_team: dict[int, int] = defaultdict(int)
    for flag in flags:
        open_by_team[flag.team_id] += 1
    top = min((t.depth for t in shown), default=0)
    zone = organisation.time_zone
    closing_days: dict[int, str] = {}
    rows = []
    for team in shown:
        info = chosen.get(team.pk)
        cells = []
        for column in columns:
            metric = info.metric_for(column.key) if info else None
            verdict = releases[info.pk].verdict(metric, team.pk) if info and metric else None
            cells.append(shown_cell(verdict))
        closing = closing_days.setdefault(info.pk, dates.day_text(info.closes_at, zone)) if info else ""
        rows.append(
            HeatRow(team, team.depth - top, info, tuple(cells), open_by_team.get(team.pk, 0), closing)
        )
    led = tuple(t for t in shown if t.parent_id not in visible)
    return Home(
        organisation=organisation,
        k=organisation.min_group_size,
        led=led,
        columns=columns,
        rows=tuple(rows),
        flags=tuple(FlagSummary(f, teams.by_id[f.team_id], metric_label(infos, f.metric)) for f in flags),
        latest_close=max((r.closes_at for r in used.values()), default=None),
        is_admin=caller.is_admin,
    )


def _scale_metrics(info: RoundInfo, columns: Sequence[Column]) -> list[str]:
    return [m for c in columns if c.key != RESPONSE_RATE and (m := info.metric_for(c.key))]


@dataclass(frozen=True)
class SeriesPoint:
    round: RoundInfo
    cell: ShownCell
    trend: float | None = None
    band_low: float | None = None
    band_high: float | None = None
    day: str = ""  # the round's closing day, as the table and the chart's time axis write it
    band_note: str = ""  # the cut-off band the result lies in, worded for the reader ("ausgebrannt (≥ 3)")


@dataclass(frozen=True)
class CutoffMark:
    """One band of the instrument's scale, drawn as a line at its threshold: ``label`` beside the line
    ("burned out (≥ 3)"), ``legend`` in the key ("Cut-off (single-item burnout): burned out (≥ 3)"), both
    plain text in the reader's language; ``legend_html`` the key's line for a page, where the instrument's
    own data (its short name, a custom band's name) carries its ``lang``."""

    value: float
    op: str
    label: str
    legend: str
    legend_html: str = ""


@dataclass(frozen=True)
class ActionMark:
    """A leader's action on this team's flag for the metric, marked on the day it was planned."""

    at: datetime
    day: str
    title: str
    due: str


@dataclass(frozen=True)
class GapMark:
    """A round that asked the metric and shows no result for the team, with the release's reason."""

    at: datetime
    day: str
    reason: str


@dataclass(frozen=True)
class MetricReport:
    column: Column
    metric: str
    label: str
    points: tuple[SeriesPoint, ...]
    trend: TrendLine | None
    detectable: float | None  # the minimum detectable change between two typical rounds (unrounded)
    detectable_text: str | None
    trend_text: str  # plain text, in the reader's language (the API's)
    change_text: str  # "what changed since the last round", plain text in the reader's language
    latest: ShownCell
    rollup_note: str | None
    direction_text: str = ""  # "higher is worse" / "higher is better"
    axis_title: str = ""  # the y axis: "Score (1–5), higher is worse"
    value_range: tuple[int, int] = (0, 100)  # the whole scale, which the y axis always shows
    cutoffs: tuple[CutoffMark, ...] = ()
    actions: tuple[ActionMark, ...] = ()
    gaps: tuple[GapMark, ...] = ()
    trend_html: str = ""  # ``trend_text`` for a page: the metric's name marked with its language
    # The chart's title: a scale's label is its instrument's data, in its language ("en"); the response
    # rate is Pulse's own and is named in the reader's language ("" then).
    heading: str = ""
    heading_lang: str = DATA_LANGUAGE
    noise_words: str | None = None  # ``detectable_text`` in the reader's language ("0,7", "5 Punkte")
    change_html: str = ""  # ``change_text`` for a page: the metric's name and a withheld reason marked

    @property
    def gap_lines(self) -> tuple[str, ...]:
        """One line per reason a round shows no result ("No result shown for 12 Nov 2026 and 19 Nov 2026:
        fewer than 5 answers"), in the reader's language."""
        by_reason: dict[str, list[str]] = {}
        for gap in self.gaps:
            by_reason.setdefault(gap.reason, []).append(gap.day)
        return tuple(
            gettext("No result shown for %(rounds)s: %(reason)s")
            % {"rounds": get_text_list(days, gettext("and")), "reason": reason}
            for reason, days in by_reason.items()
        )

    @property
    def chart(self) -> dict[str, Any]:
        """The data of the chart. The table beside it shows the same values and days; the marks (cut-offs,
        actions, withheld rounds) are listed under it in words."""
        x = [int(p.round.closes_at.timestamp()) for p in self.points]
        action_x = [int(a.at.timestamp()) for a in self.actions]
        return {
            "label": self.label,
            "scale": self.column.scale,
            "axis": self.axis_title,
            "range": list(self.value_range),
            "x": x,
            "x_range": [min(x + action_x), max(x + action_x)] if x else [],
            "days": [p.day for p in self.points],
            "values": [_plain(p.cell) for p in self.points],
            "trend": [p.trend for p in self.points],
            "low": [p.band_low for p in self.points],
            "high": [p.band_high for p in self.points],
            "cutoffs": [{"value": c.value, "op": c.op, "label": c.label} for c in self.cutoffs],
            "actions": [
                {"x": int(a.at.timestamp()), "day": a.day, "title": _short(a.title)} for a in self.actions
            ],
            "gaps": [{"x": int(g.at.timestamp()), "day": g.day, "reason": g.reason} for g in self.gaps],
        }


_SHORT_TITLE = 40  # characters of an action's title drawn on a chart; the list under it has all of it


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SHORT_TITLE else line[: _SHORT_TITLE - 1].rstrip() + "…"


@dataclass(frozen=True)
class OptionShare:
    value: int
    label: str
    percent: int


@dataclass(frozen=True)
class DistributionView:
    metric: str
    question: str
    instrument: str
    cell: ShownCell
    options: tuple[OptionShare, ...]
    lang: str = "en"  # the language the question text is in (its translation, or the English fallback)


@dataclass(frozen=True)
class ShareView:
    metric: str
    label: str
    band: str  # in the reader's language, plain text, as the CSV export writes it
    cell: ShownCell
    band_html: str = ""  # the band for the page, in the reader's language


@dataclass(frozen=True)
class TeamReport:
    organisation: Organisation
    k: int
    team: TeamInfo
    ancestors: tuple[TeamInfo, ...]  # the visible ones, top first
    children: tuple[TeamInfo, ...]
    latest_round: RoundInfo | None
    metrics: tuple[MetricReport, ...]
    response_rate: MetricReport | None
    distributions: tuple[DistributionView, ...]
    shares: tuple[ShareView, ...]
    comments: ShownCell | None
    comment_texts: tuple[str, ...]
    flags: tuple[FlagView, ...]
    events: tuple[EventView, ...]
    setup: TeamSetup | None = None  # what the team still needs before a round can ask it


def team_report_get(*, caller: Caller, team_id: int, today: date | None = None) -> TeamReport | None:
    """Everything the team page shows, or None when the caller may not see the team (a team of another
    organisation, or one they do not lead): the view answers 404 either way."""
    teams = TeamIndex.of(caller.organisation.pk)
    visible = visible_team_ids(caller, teams)
    if team_id not in visible or team_id not in teams.by_id:
        return None
    return team_report_of(caller=caller, teams=teams, visible=visible, team_id=team_id, today=today)


def team_report_of(
    *,
    caller: Caller,
    teams: TeamIndex,
    visible: set[int],
    team_id: int,
    today: date | None = None,
    memo: ReleaseMemo | None = None,
    rounds: Sequence[RoundInfo] | None = None,
    details: bool = True,
) -> TeamReport:
    """The team page of ``team_id`` with ``visible`` the teams the reader may see besides it (a leader's:
    their teams and below; a team member's: the team alone, ``pulse.selectors.team_results``). The
    release is the same whoever reads it: only what is filtered afterwards differs, so a ``memo`` shared by
    the reports of one unit of work (``release_all``) releases each round once for all of them.
    ``rounds``: the rounds that asked the team, when the caller listed them for many teams at once
    (``rounds_asking``). ``details=False`` leaves out what only a leader's page shows: the latest round's
    distributions, shares and comments (and their release), and the team's set-up steps."""
    organisation = caller.organisation
    team = teams.by_id[team_id]
    zone = organisation.time_zone
    # Only the rounds that asked the team: none from before it had members (pulse.selectors.team_rounds).
    if rounds is None:
        rounds = rounds_asking(organisation.pk, [team], limit=horizon())[team.pk]
    latest = rounds[0] if rounds else None
    versions = (i for r in rounds for i, _ in r.instruments.values())
    definitions = memo.definitions(versions) if memo else instrument_definitions(versions)
    columns = columns_of(definitions.values())
    infos = MetricInfos(definitions.values())
    condition = Q(kind__in=[TeamAggregate.Kind.SCALE, TeamAggregate.Kind.RESPONSE_RATE])
    releases = release_all(
        rounds,
        teams,
        organisation=organisation,
        condition=condition,
        histograms_for=latest.pk if latest and details else None,
        extra_metrics=lambda r: [*_scale_metrics(r, columns), RESPONSE_RATE],
        comments_for=latest.pk if latest and details and "comment" in latest.instruments else None,
        definitions=definitions,
        memo=memo,
    )
    chronological = sorted(rounds, key=lambda r: (r.closes_at, r.pk))
    names = {t.pk: t.name for t in teams.ordered}
    metrics: list[MetricReport] = []
    rate_report = None
    for column in columns:
        by_version: dict[str, list[RoundInfo]] = defaultdict(list)
        for info in chronological:
            metric = info.metric_for(column.key)
            if metric:
                by_version[metric].append(info)
        for metric, asked in by_version.items():
            report = _metric_report(
                column,
                metric,
                asked[-window() :],
                releases,
                team,
                zone,
                label=infos.label(metric),
                names=names,
                visible=visible,
            )
            if column.key == RESPONSE_RATE:
                rate_report = report
            else:
                metrics.append(report)
    distributions, shares, comment_cell, texts = (
        _latest_details(latest, releases, team, caller) if details else ((), (), None, ())
    )
    flags = _flag_views(
        caller,
        Flag.objects.filter(team_id=team.pk, organisation_id=organisation.pk, state__in=Flag.VISIBLE_STATES),
        releases,
        teams,
        rounds_by_team={team.pk: chronological},
        today=today,
    )
    events = tuple(sorted((e for v in flags for e in v.events), key=lambda e: e.at))
    metrics = [_marked(m, flags, zone) for m in metrics]
    rate_report = _marked(rate_report, flags, zone) if rate_report else None
    ancestors = tuple(teams.by_id[a] for a in team.ancestor_ids if a in visible and a in teams.by_id)
    children = tuple(t for t in teams.children(team.pk) if t.pk in visible)
    return TeamReport(
        organisation=organisation,
        k=organisation.min_group_size,
        team=team,
        ancestors=ancestors,
        children=children,
        latest_round=latest,
        metrics=tuple(metrics),
        response_rate=rate_report,
        distributions=distributions,
        shares=shares,
        comments=comment_cell,
        comment_texts=texts,
        flags=flags,
        events=events,
        setup=team_setup_get(organisation_id=organisation.pk, team=team, today=today) if details else None,
    )


def _metric_report(
    column: Column,
    metric: str,
    asked: Sequence[RoundInfo],
    releases: Mapping[int, RoundRelease],
    team: TeamInfo,
    zone: str,
    *,
    label: str,
    names: Mapping[int, str],
    visible: set[int],
) -> MetricReport:
    scale = column.scale
    cells = [shown_cell(releases[r.pk].verdict(metric, team.pk)) for r in asked]
    published = [
        (r, c.verdict)
        for r, c in zip(asked, cells, strict=True)
        if c.published and isinstance(c.verdict, Published)
    ]
    values = [(r.closes_at, v) for r, c in zip(asked, cells, strict=True) if (v := _plain(c)) is not None]
    trend = fit_trend(values, least=min_rounds()) if scale != "percent" else None
    detectable: float | None = None
    typical_n = statistics.median_low([v.n for _, v in published]) if published else None
    if scale == "percent":
        rates = [v.value for _, v in published if isinstance(v.value, Rate)]
        if rates:
            p = statistics.fmean(r.percent for r in rates) / 100.0
            invited = statistics.median_low(r.invited for r in rates)
            detectable = rate_detectable_change(p, invited, invited)
    else:
        sd = pooled_sd(
            (v.n, v.value.sd) for _, v in published if isinstance(v.value, Mean) and v.value.sd is not None
        )
        if sd is not None and typical_n:
            detectable = minimum_detectable_change(sd, typical_n, typical_n)
    # The chart's words in the reader's language: plain text for the chart and the API, and for the page.
    plain, page = ReaderWords(zone, html=False), ReaderWords(zone, html=True)
    bands = _scale_bands(metric, asked, releases)
    convention = column.info.cutoff_word == "convention"
    band_notes = {band.name: band_words(page, band, convention=convention) for band in bands}
    points = []
    places = decimals_of(scale) + 1  # the line is drawn, not read: one place finer than the values is enough
    for r, c in zip(asked, cells, strict=True):
        line = trend.at(r.closes_at) if trend else None
        half = detectable / 2 if detectable is not None and line is not None else None
        points.append(
            SeriesPoint(
                r,
                c,
                trend=round(line, places) if line is not None else None,
                band_low=round(line - half, places) if line is not None and half is not None else None,
                band_high=round(line + half, places) if line is not None and half is not None else None,
                day=dates.day_text(r.closes_at, zone),
                band_note=band_notes.get(_band_of(c) or "", ""),
            )
        )
    latest_cell = cells[-1] if cells else shown_cell(None)
    rollup = None
    if asked and isinstance(latest_cell.verdict, Withheld):
        release = releases[asked[-1].pk]
        results = release.verdicts.get(metric, {})
        if team.pk in results:
            roll = nearest_publishable_ancestor(
                team.pk, cells=release.cells[metric], results=results, names=names
            )
            if roll.team_id is not None and roll.team_id in visible:
                rollup = phrase_words(roll.note or "")
            else:
                rollup = gettext(
                    "%(team)s's result is %(reason)s this round, and no team you can see above it can be "
                    "shown instead."
                ) % {"team": team.name, "reason": latest_cell.text}
    detectable_text = noise_text(detectable, scale) if detectable is not None else None
    noise = noise_shown(detectable, scale) if detectable is not None else None
    return MetricReport(
        column=column,
        metric=metric,
        label=label,
        points=tuple(points),
        trend=trend,
        detectable=detectable,
        detectable_text=detectable_text,
        trend_text=_trend_words(plain, plain.term(label), trend, scale, len(values)),
        trend_html=_trend_words(page, page.term(label), trend, scale, len(values)),
        noise_words=_noise_words(plain, noise, scale) if noise is not None else None,
        heading=_metric_name(page, column, label) if column.key == RESPONSE_RATE else label,
        heading_lang="" if column.key == RESPONSE_RATE else DATA_LANGUAGE,
        change_text=_change_words(
            plain, _metric_name(plain, column, label), asked, cells, zone, scale, noise, published
        ),
        change_html=_change_words(
            page, _metric_name(page, column, label), asked, cells, zone, scale, noise, published
        ),
        latest=latest_cell,
        rollup_note=rollup,
        direction_text=_direction_words(column.info),
        axis_title=_axis_title(column, plain),
        value_range=(0, 100) if scale == "percent" else DISPLAY_RANGES[scale],
        cutoffs=_cutoffs(column, bands, plain=plain, page=page),
        gaps=tuple(
            GapMark(p.round.closes_at, p.day, p.cell.text if p.cell.status == "withheld" else p.cell.note)
            for p in points
            if not p.cell.published
        ),
    )


def _noise_words(words: Words, shown: float, scale: DisplayScale) -> str:
    """The smallest change two rounds tell apart from chance, as the page's key and caption write it: "0.7"
    on item scales, "5 points" for rates, in the reader's number format (``noise_shown`` coarsened it)."""
    if scale == "percent":
        points = round(shown)
        return words.fill(
            words.ngettext("%(points)s point", "%(points)s points", points),
            {"points": words.number(points, 0)},
        )
    return words.number(shown, decimals_of(scale))


def _direction_words(info: MetricInfo) -> str:
    return gettext("higher is better") if info.direction == HIGHER_IS_BETTER else gettext("higher is worse")


def _axis_title(column: Column, words: Words) -> str:
    """The y axis of a chart, with the way to read it: "Score (1–5), higher is worse"."""
    direction = _direction_words(column.info)
    if column.scale == "percent":
        return words.fill(
            pgettext("a chart's y axis", "%% answered, %(direction)s"), {"direction": direction}
        )
    low, high = DISPLAY_RANGES[column.scale]
    return words.fill(
        pgettext("a chart's y axis", "Score (%(low)s–%(high)s), %(direction)s"),
        {"low": words.number(low, 0), "high": words.number(high, 0), "direction": direction},
    )


def _legend_words(words: Words, info: MetricInfo, band: BandDef) -> str:
    """ "Cut-off (single-item burnout): burned out (≥ 3)", "Convention (CBI): high (≥ 50)"."""
    convention = info.cutoff_word == "convention"
    values = {"instrument": words.term(info.instrument), "band": band_words(words, band)}
    if info.instrument:
        template = (
            pgettext("a chart's key", "Convention (%(instrument)s): %(band)s")
            if convention
            else pgettext("a chart's key", "Cut-off (%(instrument)s): %(band)s")
        )
    else:
        template = (
            pgettext("a chart's key", "Convention: %(band)s")
            if convention
            else pgettext("a chart's key", "Cut-off: %(band)s")
        )
    return words.fill(template, values)


def _scale_bands(
    metric: str, asked: Sequence[RoundInfo], releases: Mapping[int, RoundRelease]
) -> tuple[BandDef, ...]:
    """The bands of the scale's own definition (``surveys.definitions.ScaleDef.bands``: the CBI's "high" at
    50, the WHO-5's 28 and 50; docs/science.md §1), as the latest round's release loaded it."""
    parsed = Metric.parse(metric)
    if not asked or parsed is None or parsed.kind != "scale" or parsed.instrument_key is None:
        return ()
    infos = MetricInfos(releases[asked[-1].pk].definitions.values())
    definition = infos.definition(parsed.instrument_key, parsed.version)
    scale_def = definition.scale(parsed.scale_key or "") if definition else None
    return scale_def.bands if scale_def is not None else ()


def _cutoffs(
    column: Column, bands: Sequence[BandDef], *, plain: Words, page: Words
) -> tuple[CutoffMark, ...]:
    """Each band a line at its threshold, worded for the reader: ``plain`` for the chart and its accessible
    name, ``page`` for the key under it."""
    return tuple(
        CutoffMark(
            float(band.threshold),
            band.op,
            band_words(plain, band),
            _legend_words(plain, column.info, band),
            _legend_words(page, column.info, band),
        )
        for band in bands
    )


def _band_of(cell: ShownCell) -> str | None:
    """The name of the cut-off band a published mean lies in, if any."""
    verdict = cell.verdict
    if isinstance(verdict, Published) and isinstance(verdict.value, Mean):
        return verdict.value.band
    return None


def _marked(report: MetricReport, flags: Sequence[FlagView], zone: str) -> MetricReport:
    """The report with the actions leaders planned on the team's flags for its metric (the flags the page
    shows, through their gate), in the order they were planned."""
    planned = sorted(
        (o.action for view in flags if view.flag.metric == report.metric for o in view.outcomes),
        key=lambda a: (a.created_at, a.pk),
    )
    if not planned:
        return report
    marks = tuple(
        ActionMark(a.created_at, dates.day_text(a.created_at, zone), a.what, dates.day_text(a.due_on))
        for a in planned
    )
    return replace(report, actions=marks)


def _metric_name(words: Words, column: Column, label: str) -> str:
    """The metric as a sentence names it: a scale by its label, its instrument's data in its own language
    (marked by ``words.term``); the response rate, Pulse's own, in the reader's language."""
    if column.key == RESPONSE_RATE:
        return pgettext("a metric, starting a sentence", "The response rate")
    return words.term(label)


def _value_words(words: Words, value: float, scale: DisplayScale) -> str:
    """A published (coarsened) value in the reader's number format: "3,4", "52", "85 %"."""
    if scale == "percent":
        return words.fill(pgettext("a percentage", "%(number)s%%"), {"number": words.number(value, 0)})
    return words.number(value, decimals_of(scale))


def _change_words(
    words: Words,
    metric: str,
    asked: Sequence[RoundInfo],
    cells: Sequence[ShownCell],
    zone: str,
    scale: DisplayScale,
    noise: float | None,
    published: Sequence[tuple[RoundInfo, Verdict]],
) -> str:
    """ "What changed since the last round", in words: never a single pair read as a trend. ``metric`` is
    the metric's name as ``words.term`` marked it; a withheld round's reason is the cell's, in the reader's
    language."""
    if not asked:
        return words.fill(gettext("%(metric)s has not been asked of this team yet."), {"metric": metric})
    if not published:
        return words.fill(
            gettext("No round has a result for %(metric)s that can be shown for this team yet."),
            {"metric": metric},
        )
    last_round, last = published[-1]
    assert isinstance(last, Published)
    last_value = _plain(shown_cell(last))
    assert last_value is not None
    latest = {
        "metric": metric,
        "last": _value_words(words, last_value, scale),
        "day": dates.day_text(last_round.closes_at, zone),
    }
    if cells[-1].status == "withheld":
        return words.fill(
            gettext(
                "The latest round's %(metric)s is %(reason)s; the last result shown is %(last)s, from the "
                "round closing %(day)s."
            ),
            {**latest, "reason": cells[-1].text},
        )
    if len(published) < 2:
        return words.fill(
            gettext(
                "%(metric)s was %(last)s in the round closing %(day)s; there is no earlier result to compare "
                "it with."
            ),
            latest,
        )
    prev_round, prev = published[-2]
    assert isinstance(prev, Published)
    a, b = _plain(shown_cell(prev)), last_value
    assert a is not None
    delta = b - a
    decimals = decimals_of(scale)
    values = {
        "metric": metric,
        "previous": _value_words(words, a, scale),
        "previous_day": dates.day_text(prev_round.closes_at, zone),
        "last": latest["last"],
        "last_day": latest["day"],
        "change": signed_text(words, delta, decimals),
    }
    if round(delta, decimals) == 0:
        template = gettext(
            "%(metric)s did not change, from %(previous)s (%(previous_day)s) to %(last)s (%(last_day)s)."
        )
    elif scale == "percent":
        template = gettext(
            "%(metric)s moved %(change)s points, from %(previous)s (%(previous_day)s) to %(last)s "
            "(%(last_day)s)."
        )
    else:
        template = gettext(
            "%(metric)s moved %(change)s, from %(previous)s (%(previous_day)s) to %(last)s (%(last_day)s)."
        )
    parts = [words.fill(template, values)]
    if prev_round is not asked[-2]:
        parts.append(gettext("(the rounds between had no result that can be shown)"))
    if noise is None:
        parts.append(gettext("There is not enough data yet to tell how much two rounds differ by chance."))
    elif abs(delta) < noise:
        parts.append(
            words.fill(
                gettext(
                    "That is within the noise between two rounds of this size: only a change of about "
                    "%(noise)s or more can be told apart from chance."
                ),
                {"noise": _noise_words(words, noise, scale)},
            )
        )
    else:
        parts.append(
            words.fill(
                gettext(
                    "That is at least the noise between two rounds (about %(noise)s), but one pair of rounds "
                    "is not a trend: read it with the rounds before it."
                ),
                {"noise": _noise_words(words, noise, scale)},
            )
        )
    return words.join(" ", parts)


def _latest_details(
    latest: RoundInfo | None, releases: Mapping[int, RoundRelease], team: TeamInfo, caller: Caller
) -> tuple[tuple[DistributionView, ...], tuple[ShareView, ...], ShownCell | None, tuple[str, ...]]:
    if latest is None:
        return (), (), None, ()
    release = releases[latest.pk]
    page = ReaderWords(caller.organisation.time_zone, html=True)
    plain = ReaderWords(caller.organisation.time_zone, html=False)
    locale = caller.person.locale or caller.organisation.locale or "en"
    loaded = release.definitions
    infos = MetricInfos(loaded.values())
    questions: dict[str, tuple[str, str, dict[int, str], int, int, str]] = {}
    for order, (_key, (instrument_id, version)) in enumerate(sorted(latest.instruments.items())):
        definition = loaded.get(instrument_id)
        if definition is None:
            continue
        for question in definition.questions:
            labels = {option.value: text_for(option.label, locale) for option in question.options}
            questions[Metric.question(question.key, version).name] = (
                text_for(question.text, locale),
                definition.name,
                labels,
                order,
                question.order,
                locale if question.text.get(locale) else "en",
            )
    distributions = []
    for metric, verdicts in release.verdicts.items():
        if not metric.startswith("question:") or metric not in questions or team.pk not in verdicts:
            continue
        text, instrument, labels, order, q_order, lang = questions[metric]
        verdict = verdicts[team.pk]
        options: tuple[OptionShare, ...] = ()
        if isinstance(verdict, Published) and isinstance(verdict.value, Distribution):
            published = dict(verdict.value.options)
            options = tuple(
                OptionShare(value, label, published.get(value, 0)) for value, label in sorted(labels.items())
            )
        distributions.append(
            (order, q_order, DistributionView(metric, text, instrument, shown_cell(verdict), options, lang))
        )
    shares = []
    for metric, verdicts in release.verdicts.items():
        parsed = Metric.parse(metric)
        if parsed is None or parsed.kind != "share" or team.pk not in verdicts:
            continue
        band = parsed.band
        info = infos.info(parsed.scale_metric) if parsed.scale_metric else None
        if info is None:
            continue
        definition = loaded.get(latest.instruments.get(parsed.instrument_key or "", (0, 0))[0])
        scale_def = definition.scale(parsed.scale_key or "") if definition else None
        band_def = next((b for b in scale_def.bands if b.name == band), None) if scale_def else None
        convention = info.cutoff_word == "convention"
        band_text = band_words(plain, band_def, convention=convention) if band_def else band.replace("_", " ")
        band_html = band_words(page, band_def, convention=convention) if band_def else page.term(band_text)
        shares.append(ShareView(metric, info.label, band_text, shown_cell(verdicts[team.pk]), band_html))
    comment_cell = None
    texts: tuple[str, ...] = ()
    if team.pk in release.comments:
        comment_cell = shown_cell(release.comments[team.pk])
        if comment_cell.published:
            texts = tuple(
                Comment.objects.filter(round_id=latest.pk, team_id=team.pk)
                .order_by("id")
                .values_list("text", flat=True)
            )
            count = ngettext("%(count)s comment", "%(count)s comments", len(texts)) % {"count": len(texts)}
            comment_cell = ShownCell("published", count, "", "ok", comment_cell.n, comment_cell.verdict)
    return (
        tuple(view for _, _, view in sorted(distributions, key=lambda item: (item[0], item[1]))),
        tuple(sorted(shares, key=lambda s: (s.label, s.metric))),
        comment_cell,
        texts,
    )
