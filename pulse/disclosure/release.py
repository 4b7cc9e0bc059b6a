"""Disclosure control, the release: what may be shown of stored aggregates, decided round by round.

Each number starts as a ``TeamAggregate`` and leaves through here. For every round and metric involved, the
release is decided **for the whole team tree of the round's scope** (the schedule's team and, when it
includes them, every team below), never for the viewer's part alone: a leader who sees two levels, two
leaders who compare notes, and an admin who sees everything get the same safe set
(``pulse.disclosure.rules`` has the model and the proof sketch). Readers then filter the release to the
caller's teams (``pulse.selectors``). A withheld cell is a ``Withheld``: its reason is shown, no number
ever is.

Order across metric kinds ("a published distribution implies the mean, and a distribution implies the
share above a cut-off"): for one round, every scale score first (``SCORE``, threshold k), then the shares
at or beyond a cut-off (``SHARE``, threshold 10) with ``also_withhold`` set to the teams whose score of that
scale was withheld, then the per-option distributions of the instrument's questions (``DISTRIBUTION``,
threshold 10) with ``also_withhold`` set to every team withheld in the instrument's score and share steps.
Response rates (``RESPONSE_RATE``, threshold k) and comments (``COMMENTS``, threshold 10, with
``also_withhold`` set to every team whose score in any scale was withheld to protect another group or for
overlapping teams: comments appear only beside team cells that may be published) are released on the
respondents of the round.

Across rounds, every step also withholds the teams whose roster changed by fewer than that kind's
threshold since their last published round (``pulse.disclosure.rules.roster_change_guard``, on the
``TeamRosterChange`` rows the aggregation step stored), passed as ``also_withhold`` so that complementary
suppression keeps them from being derived too. The verdict is a function of the (round, team) alone, so
every page, the API, exports and the trend run give the same one, whatever window of rounds they load.

Building the tree from aggregates
---------------------------------
A cell per team of the round's scope: teams with no aggregate (the close step writes no counters below k)
are cells with ``n = 0``, so the rules themselves say "fewer than k answers" for them, and their people
stay inside their parent's residual. ``direct_n`` (respondents of a team in none of its child teams) is not
stored; it is the team's ``n`` minus its child teams' ``n``, exact because the child subtrees are disjoint:
each respondent counts along one chain, their home team's (``surveys.tree.counting_closure``). For counts,
a team's ``n`` is how many values the number summarises (scored respondents for a scale, answers for a
question); for response rates and comments it is the round's respondents. If a round's tree is
inconsistent (a team moved since the round, say), nothing of that round and metric is shown.

Published means are coarsened (``pulse.analysis.coarsening``); a cut-off band compares the *unrounded*
mean with the instrument's cut-off (docs/science.md §4.7).
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db.models import OuterRef, Q, QuerySet, Subquery

from pulse.analysis.catalogue import gettext_noop
from pulse.analysis.coarsening import coarsen_mean, coarsen_percent
from pulse.analysis.formatting import band_label, shown_text
from pulse.analysis.metrics import RESPONSE_RATE, DisplayScale, Metric, MetricInfo, MetricInfos
from pulse.analysis.stats import variance_from_sums
from pulse.disclosure.rules import (
    Cell,
    DisclosureError,
    MetricKind,
    Phrase,
    Published,
    RosterChange,
    Withheld,
    WithheldCode,
    aggregate_withheld,
    roster_changes_withhold,
    suppress_tree,
)
from pulse.models import TeamAggregate, TeamRosterChange
from surveys.definitions import BandDef, InstrumentDef, to_fraction
from surveys.models import Instrument, Organisation, Round, Team

logger = logging.getLogger(__name__)

Verdict = Published[Any] | Withheld

Level = Literal["ok", "beyond", "severe", "withheld", "none"]

_UNCHECKED = Withheld(
    Phrase(gettext_noop("withheld because this round's numbers could not be checked for disclosure")),
    WithheldCode.PROTECTS_SMALLER_GROUP,
)


# ---------------------------------------------------------------------------------------------------------
# Values a published cell carries
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mean:
    """A published mean as shown. ``band``: the cut-off band the *unrounded* mean lies in (its label in
    English, its definition ``band_def`` for a page to word it in its reader's language, whether its
    threshold is a ``convention``, and ``level``: "severe" for the most severe of several bands, "beyond"
    otherwise). ``sd``: the within-round SD of individuals, used only for the minimum detectable change and
    never shown as such."""

    value: float
    text: str
    band: str | None = None
    band_label: str | None = None
    level: Level = "ok"
    sd: float | None = None
    band_def: BandDef | None = None
    convention: bool = False


@dataclass(frozen=True)
class Rate:
    """A published response rate, coarsened to 5 points; ``invited``: the round's frozen roster size."""

    percent: int
    invited: int

    @property
    def text(self) -> str:
        return f"{self.percent}%"


@dataclass(frozen=True)
class Share:
    """A published share of respondents at or beyond a cut-off, coarsened to 5 points."""

    percent: int


@dataclass(frozen=True)
class Distribution:
    """A published per-option distribution: (option value, percent coarsened to 5 points)."""

    options: tuple[tuple[int, int], ...]


def mean_value(cell: Cell, *, scale: DisplayScale, bands: Sequence[BandDef], info: MetricInfo | None) -> Mean:
    """The value of a published mean cell: coarsened for display, band from the exact mean."""
    if scale == "percent":
        raise ValueError("A mean is not shown as a percentage.")
    exact = cell.total / cell.n
    shown = coarsen_mean(exact, scale=scale)
    band_index = next((i for i, band in enumerate(bands) if band.contains(to_fraction(exact))), None)
    variance = variance_from_sums(cell.n, cell.total, cell.sumsq) if cell.sumsq is not None else None
    sd = math.sqrt(variance) if variance is not None else None
    if band_index is None:
        return Mean(value=shown, text=shown_text(shown, scale), sd=sd)
    band = bands[band_index]
    level: Level = "severe" if band_index == 0 and len(bands) > 1 else "beyond"
    return Mean(
        value=shown,
        text=shown_text(shown, scale),
        band=band.name,
        band_label=band_label(band, info),
        level=level,
        sd=sd,
        band_def=band,
        convention=info is not None and info.cutoff_word == "convention",
    )


# ---------------------------------------------------------------------------------------------------------
# Loading: teams, rounds, aggregates (a fixed number of queries, whatever the number of teams)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamInfo:
    pk: int
    name: str
    parent_id: int | None
    path: str

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/")[:-1] if part]


class TeamIndex:
    """The organisation's teams, sorted by path so a subtree is one contiguous slice (bisect)."""

    def __init__(self, teams: Iterable[TeamInfo]) -> None:
        self.ordered = sorted(teams, key=lambda t: t.path)
        self.by_id = {t.pk: t for t in self.ordered}
        self._paths = [t.path for t in self.ordered]

    @classmethod
    def of(cls, organisation_id: int) -> TeamIndex:
        rows = Team.objects.filter(organisation_id=organisation_id).values_list(
            "pk", "name", "parent_id", "path"
        )
        return cls(TeamInfo(pk, name, parent_id, path) for pk, name, parent_id, path in rows)

    def subtree(self, path: str) -> list[TeamInfo]:
        start = bisect.bisect_left(self._paths, path)
        end = start
        while end < len(self._paths) and self._paths[end].startswith(path):
            end += 1
        return self.ordered[start:end]

    def children(self, team_id: int) -> list[TeamInfo]:
        team = self.by_id[team_id]
        return [t for t in self.subtree(team.path) if t.parent_id == team_id]


@dataclass(frozen=True)
class RoundInfo:
    pk: int
    closes_at: datetime
    scope_path: str
    include_subtree: bool
    #: instrument key -> (instrument id, version) asked in the round
    instruments: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def covers(self, team: TeamInfo) -> bool:
        if self.include_subtree:
            return team.path.startswith(self.scope_path)
        return team.path == self.scope_path

    def metric_for(self, key: str) -> str | None:
        """The versioned metric of a series key ("who5.who5") in this round, or None when the round did not
        ask it."""
        if key == RESPONSE_RATE:
            return RESPONSE_RATE
        instrument_key, _, scale_key = key.partition(".")
        asked = self.instruments.get(instrument_key)
        return Metric.scale(instrument_key, scale_key, asked[1]).name if asked else None


@dataclass(frozen=True, slots=True)
class _Row:
    team_id: int
    kind: str
    instrument_id: int | None
    respondents: int
    n: int
    total: float
    squares: float
    histogram: Mapping[str, int]


def round_infos(rows: Iterable[tuple[int, datetime, str, bool]]) -> list[RoundInfo]:
    infos = [RoundInfo(pk, closes_at, path, subtree) for pk, closes_at, path, subtree in rows]
    if not infos:
        return []
    asked: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    through = Round.instruments.through.objects.filter(round_id__in=[r.pk for r in infos]).values_list(
        "round_id", "instrument_id", "instrument__key", "instrument__version"
    )
    for round_id, instrument_id, key, version in through:
        asked[round_id][key] = (instrument_id, version)
    return [RoundInfo(r.pk, r.closes_at, r.scope_path, r.include_subtree, asked.get(r.pk, {})) for r in infos]


_ROUND_FIELDS = ("pk", "closes_at", "team__path", "schedule__include_subtree")


def _closed_rounds(organisation_id: int) -> QuerySet[Round]:
    return Round.objects.filter(
        organisation_id=organisation_id, status=Round.Status.CLOSED, aggregated_at__isnull=False
    )


def latest_rounds(organisation_id: int) -> list[RoundInfo]:
    """The latest closed, aggregated round of each schedule (one query, plus one for their instruments)."""
    latest = (
        Round.objects.filter(
            schedule=OuterRef("schedule"), status=Round.Status.CLOSED, aggregated_at__isnull=False
        )
        .order_by("-closes_at", "-pk")
        .values("pk")[:1]
    )
    rows = (
        _closed_rounds(organisation_id)
        .filter(pk=Subquery(latest))
        .order_by("-closes_at", "-pk")
        .values_list(*_ROUND_FIELDS)
    )
    return round_infos(rows)


def rounds_covering(organisation_id: int, teams: Sequence[TeamInfo], *, limit: int | None) -> list[RoundInfo]:
    """Closed, aggregated rounds whose scope covered any of the teams, newest first (at most ``limit`` per
    team)."""
    if not teams:
        return []
    own = {t.pk for t in teams}
    above = {a for t in teams for a in t.ancestor_ids} - own
    rows = list(
        _closed_rounds(organisation_id)
        .filter(Q(team_id__in=own) | Q(team_id__in=above, schedule__include_subtree=True))
        .order_by("-closes_at", "-pk")
        .values_list(*_ROUND_FIELDS)
    )
    infos = [RoundInfo(pk, closes_at, path, subtree) for pk, closes_at, path, subtree in rows]
    keep: set[int] = set()
    for team in teams:
        covering = [r.pk for r in infos if r.covers(team)]
        keep.update(covering if limit is None else covering[:limit])
    return round_infos(row for row in rows if row[0] in keep)


def instrument_definitions(ids: Iterable[int]) -> dict[int, InstrumentDef]:
    """Each instrument version's own definition (three queries): cut-off bands and question texts."""
    wanted = set(ids)
    if not wanted:
        return {}
    instruments = Instrument.objects.filter(pk__in=wanted).prefetch_related("questions", "scales")
    return {instrument.pk: instrument.definition() for instrument in instruments}


def _load_rows(
    round_ids: Sequence[int], condition: Q, *, histograms: bool = False
) -> dict[int, dict[str, dict[int, _Row]]]:
    """round -> metric -> team -> numbers. One query; histograms only when asked (they are the bulk)."""
    out: dict[int, dict[str, dict[int, _Row]]] = defaultdict(lambda: defaultdict(dict))
    if not round_ids:
        return out
    fields = ["round_id", "team_id", "metric", "kind", "instrument_id", "respondents", "n", "total"]
    fields += ["total_squares", "histogram"] if histograms else ["total_squares"]
    rows = TeamAggregate.objects.filter(condition, round_id__in=list(round_ids)).values_list(*fields)
    for row in rows:
        round_id, team_id, metric, kind, instrument_id, respondents, n, total, squares = row[:9]
        histogram = row[9] if histograms else {}
        out[round_id][metric][team_id] = _Row(
            team_id, kind, instrument_id, respondents, n, total, squares, histogram or {}
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# The release of one round: the whole scope tree, metric kind by metric kind
# ---------------------------------------------------------------------------------------------------------


@dataclass
class RoundRelease:
    """What may be shown of one round, for every team of its scope. ``basic`` says, per metric and team,
    whether the trend run's minimum rule (``aggregate_withheld``) would use the value (for the flag gate)."""

    round: RoundInfo
    definitions: Mapping[int, InstrumentDef] = field(default_factory=dict)
    verdicts: dict[str, dict[int, Verdict]] = field(default_factory=dict)
    cells: dict[str, list[Cell]] = field(default_factory=dict)
    comments: dict[int, Verdict] = field(default_factory=dict)
    basic: dict[str, set[int]] = field(default_factory=dict)

    def verdict(self, metric: str, team_id: int) -> Verdict | None:
        return self.verdicts.get(metric, {}).get(team_id)


def _cells(
    covered: Sequence[TeamInfo],
    rows: Mapping[int, _Row],
    n_of: Callable[[_Row], int],
) -> list[Cell]:
    inside = {t.pk for t in covered}
    parent = {t.pk: (t.parent_id if t.parent_id in inside else None) for t in covered}
    n = {t.pk: (n_of(rows[t.pk]) if t.pk in rows else 0) for t in covered}
    below: dict[int, int] = defaultdict(int)
    for t in covered:
        p = parent[t.pk]
        if p is not None:
            below[p] += n[t.pk]
    cells = []
    for t in covered:
        direct = n[t.pk] - below[t.pk]
        row = rows.get(t.pk)
        cells.append(
            Cell(
                team_id=t.pk,
                parent_id=parent[t.pk],
                n=n[t.pk],
                direct_n=max(0, min(direct, n[t.pk])),
                total=row.total if row else 0.0,
                sumsq=row.squares if row else 0.0,
            )
        )
    return cells


def _suppress(
    cells: Sequence[Cell],
    *,
    k: int,
    kind: MetricKind,
    value: Callable[[Cell], Any],
    also: Mapping[int, Withheld] | None = None,
    what: str,
) -> dict[int, Verdict]:
    """``suppress_tree``, failing closed: an inconsistent tree or an impossible value withholds the lot."""
    try:
        return dict(suppress_tree(cells, k=k, kind=kind, value=value, also_withhold=also or None))
    except (ValueError, DisclosureError):
        logger.exception("release of %s failed; every team of it is withheld", what)
        return {c.team_id: _UNCHECKED for c in cells}


def _load_roster_changes(round_ids: Sequence[int]) -> dict[int, dict[int, list[RosterChange]]]:
    """round -> team -> the roster changes stored by the aggregation step. One query."""
    out: dict[int, dict[int, list[RosterChange]]] = defaultdict(lambda: defaultdict(list))
    if not round_ids:
        return out
    rows = TeamRosterChange.objects.filter(round_id__in=list(round_ids)).values_list(
        "round_id", "team_id", "threshold", "joined", "left"
    )
    for round_id, team_id, threshold, joined, left in rows:
        out[round_id][team_id].append(RosterChange(threshold=threshold, joined=joined, left=left))
    return out


def _withheld(verdicts: Mapping[int, Verdict]) -> dict[int, Withheld]:
    return {tid: v for tid, v in verdicts.items() if isinstance(v, Withheld)}


@dataclass
class _RoundReleaser:
    """The release of one round in progress: each ``release_*`` step releases one metric kind and leaves
    what it withheld for the steps after it (the order of the module docstring)."""

    info: RoundInfo
    rows: Mapping[str, Mapping[int, _Row]]
    covered: Sequence[TeamInfo]
    k: int
    roster_changes: Mapping[int, Sequence[RosterChange]]
    release: RoundRelease
    infos: MetricInfos
    withheld_by_instrument: dict[int, dict[int, Withheld]] = field(default_factory=lambda: defaultdict(dict))
    withheld_score: dict[int, Withheld] = field(default_factory=dict)
    score_withheld_of: dict[str, dict[int, Withheld]] = field(default_factory=dict)

    def _rows(self, metric: str) -> Mapping[int, _Row]:
        return self.rows.get(metric, {})

    def _instrument_id(self, instrument_key: str | None) -> int | None:
        asked = self.info.instruments.get(instrument_key or "")
        return asked[0] if asked else None

    def changed(self, kind: MetricKind, also: Mapping[int, Withheld] | None = None) -> dict[int, Withheld]:
        """The teams the roster clause withholds for ``kind``, with ``also`` (whose reasons win) on top."""
        covered_ids = {t.pk for t in self.covered}
        hidden: dict[int, Withheld] = {}
        for team_id, stored in self.roster_changes.items():
            verdict = roster_changes_withhold(stored, k=self.k, kind=kind) if team_id in covered_ids else None
            if verdict is not None:
                hidden[team_id] = verdict
        hidden.update(also or {})
        return hidden

    def record(self, metric: str, cells: list[Cell], verdicts: dict[int, Verdict]) -> None:
        self.release.cells[metric] = cells
        self.release.verdicts[metric] = verdicts
        self.release.basic[metric] = {
            row.team_id
            for row in self._rows(metric).values()
            if row.n > 0 and not aggregate_withheld(respondents=row.respondents, kind=row.kind, k=self.k)
        }

    def release_score(self, metric: Metric) -> None:
        """A scale score (threshold k), with its cut-off band from the instrument version's definition."""
        info = self.infos.info(metric)
        if info is None:
            return  # a scale without a direction: counted, never reported (surveys.definitions.ScaleDef)
        instrument_id = self._instrument_id(metric.instrument_key)
        definition = self.release.definitions.get(instrument_id) if instrument_id is not None else None
        scale_def = definition.scale(metric.scale_key or "") if definition else None
        bands = scale_def.bands if scale_def else ()
        cells = _cells(self.covered, self._rows(metric.name), lambda r: r.n)

        def value(c: Cell) -> Mean:
            return mean_value(c, scale=info.scale, bands=bands, info=info)

        verdicts = _suppress(
            cells,
            k=self.k,
            kind=MetricKind.SCORE,
            value=value,
            also=self.changed(MetricKind.SCORE),
            what=f"{metric.name} of round {self.info.pk}",
        )
        self.record(metric.name, cells, verdicts)
        hidden = _withheld(verdicts)
        self.score_withheld_of[metric.name] = hidden
        self.withheld_score.update(hidden)
        if instrument_id is not None:
            self.withheld_by_instrument[instrument_id].update(hidden)

    def release_share(self, metric: Metric) -> None:
        """A share at or beyond a cut-off (threshold 10), after its scale's score."""
        cells = _cells(self.covered, self._rows(metric.name), lambda r: r.n)
        scale = metric.scale_metric
        also = self.changed(MetricKind.SHARE, self.score_withheld_of.get(scale.name, {}) if scale else {})

        def share(c: Cell) -> Share:
            return Share(coarsen_percent(100.0 * c.total / c.n))

        verdicts = _suppress(
            cells,
            k=self.k,
            kind=MetricKind.SHARE,
            value=share,
            also=also,
            what=f"{metric.name} of round {self.info.pk}",
        )
        self.record(metric.name, cells, verdicts)
        instrument_id = self._instrument_id(metric.instrument_key)
        if instrument_id is not None:
            self.withheld_by_instrument[instrument_id].update(_withheld(verdicts))

    def release_distribution(self, metric: Metric) -> None:
        """A question's per-option distribution (threshold 10), after the instrument's scores and shares."""
        metric_rows = self._rows(metric.name)
        instrument_id = next((r.instrument_id for r in metric_rows.values() if r.instrument_id), None)
        cells = _cells(self.covered, metric_rows, lambda r: r.n)
        also = self.changed(
            MetricKind.DISTRIBUTION,
            self.withheld_by_instrument.get(instrument_id, {}) if instrument_id is not None else {},
        )

        def distribution(c: Cell) -> Distribution:
            histogram = metric_rows[c.team_id].histogram
            options = sorted((int(v), coarsen_percent(100.0 * count / c.n)) for v, count in histogram.items())
            return Distribution(tuple(options))

        verdicts = _suppress(
            cells,
            k=self.k,
            kind=MetricKind.DISTRIBUTION,
            value=distribution,
            also=also,
            what=f"{metric.name} of round {self.info.pk}",
        )
        self.record(metric.name, cells, verdicts)

    def release_response_rate(self) -> None:
        """The response rate (threshold k), on the respondents of the round."""
        metric_rows = self._rows(RESPONSE_RATE)
        cells = _cells(self.covered, metric_rows, lambda r: r.respondents)

        def rate(c: Cell) -> Rate:
            invited = metric_rows[c.team_id].n
            return Rate(coarsen_percent(min(100.0, 100.0 * c.n / invited)), invited)

        verdicts = _suppress(
            cells,
            k=self.k,
            kind=MetricKind.RESPONSE_RATE,
            value=rate,
            also=self.changed(MetricKind.RESPONSE_RATE),
            what=f"response rate of round {self.info.pk}",
        )
        self.record(RESPONSE_RATE, cells, verdicts)

    def release_comments(self) -> None:
        """Comments (threshold 10) on the respondents, only where the team's scores are published."""
        respondents: dict[int, _Row] = {}
        for metric_rows in self.rows.values():
            for team_id, row in metric_rows.items():
                if team_id not in respondents or row.respondents > respondents[team_id].respondents:
                    respondents[team_id] = row
        cells = _cells(self.covered, respondents, lambda r: r.respondents)
        # A score withheld to protect another group (or for overlapping teams) withholds the team's
        # comments too; one withheld only because few people completed that instrument does not.
        protecting = {
            tid: w
            for tid, w in self.withheld_score.items()
            if tid in respondents and w.code is not WithheldCode.TOO_FEW_ANSWERS
        }
        self.release.comments = _suppress(
            cells,
            k=self.k,
            kind=MetricKind.COMMENTS,
            value=lambda c: True,
            also=self.changed(MetricKind.COMMENTS, protecting),
            what=f"comments of round {self.info.pk}",
        )


def release_round(
    info: RoundInfo,
    rows: Mapping[str, Mapping[int, _Row]],
    teams: TeamIndex,
    *,
    k: int,
    definitions: Mapping[int, InstrumentDef],
    metrics: Iterable[str],
    comments: bool = False,
    roster_changes: Mapping[int, Sequence[RosterChange]] | None = None,
) -> RoundRelease:
    """Release the given metrics of one round for every team of its scope (see the module docstring for
    the order across metric kinds). Metrics without any aggregate still get a verdict per team ("fewer
    than k answers"). ``roster_changes`` (team -> the round's ``TeamRosterChange`` rows) withholds, for
    every kind, the teams whose roster changed by fewer than its threshold since their last published
    round."""
    covered = teams.subtree(info.scope_path)
    if not info.include_subtree:
        covered = [t for t in covered[:1] if t.path == info.scope_path]
    release = RoundRelease(round=info, definitions=definitions)
    infos = MetricInfos(definitions.values())
    releaser = _RoundReleaser(info, rows, covered, k, roster_changes or {}, release, infos)
    parsed = [m for m in (Metric.parse(name) for name in sorted(set(metrics))) if m is not None]
    for kind, step in (
        ("scale", releaser.release_score),
        ("share", releaser.release_share),
        ("question", releaser.release_distribution),
    ):
        for metric in parsed:
            if metric.kind == kind:
                step(metric)
    if any(m.kind == "response_rate" for m in parsed):
        releaser.release_response_rate()
    if comments:
        releaser.release_comments()
    return release


class ReleaseMemo:
    """The releases made in one unit of work (one queueing of a round's team summaries, one member's page
    of several teams), handed again to the next team that asks: a round's release is made for the round's
    whole scope tree before anything is filtered, so it is the same whoever reads it, and a release asked
    for again with the same inputs is the one already made. For one ``TeamIndex`` and one reading of the
    database: make one per unit of work and drop it afterwards, never keep it."""

    def __init__(self, teams: TeamIndex) -> None:
        self.teams = teams
        self.releases: dict[tuple[object, ...], RoundRelease] = {}
        self._definitions: dict[int, InstrumentDef] = {}

    def definitions(self, ids: Iterable[int]) -> dict[int, InstrumentDef]:
        """:func:`instrument_definitions`, each version loaded once per memo."""
        wanted = set(ids)
        if missing := wanted - set(self._definitions):
            self._definitions.update(instrument_definitions(missing))
        return {pk: self._definitions[pk] for pk in wanted if pk in self._definitions}


def release_all(
    rounds: Sequence[RoundInfo],
    teams: TeamIndex,
    *,
    organisation: Organisation,
    condition: Q,
    histograms_for: int | None = None,
    extra_metrics: Callable[[RoundInfo], Iterable[str]] = lambda r: (),
    comments_for: int | None = None,
    definitions: Mapping[int, InstrumentDef] | None = None,
    memo: ReleaseMemo | None = None,
) -> dict[int, RoundRelease]:
    """Load and release several rounds at once (a fixed number of queries). ``definitions``: the rounds'
    instrument versions by id, when the caller loaded them already (``instrument_definitions``) to decide
    its columns. ``memo``: releases already made in this unit of work, reused when every input is the
    same (the round, the rows asked for, histograms and comments, the extra metrics, the instrument
    versions and k), and added to."""
    if not rounds:
        return {}
    if memo is not None and memo.teams is not teams:
        raise ValueError("a release memo serves the team index it was made for")
    if definitions is None:
        asked = [i for r in rounds for i, _ in r.instruments.values()]
        definitions = memo.definitions(asked) if memo else instrument_definitions(asked)
    k = organisation.min_group_size
    extra = {info.pk: frozenset(extra_metrics(info)) for info in rounds}
    versions = frozenset(definitions)
    keys = {
        info.pk: (
            info.pk,
            condition,
            histograms_for == info.pk,
            comments_for == info.pk,
            extra[info.pk],
            versions,
            k,
        )
        for info in rounds
    }
    made = memo.releases if memo is not None else {}
    todo = [info for info in rounds if keys[info.pk] not in made]
    if todo:
        ids = [r.pk for r in todo]
        rows = _load_rows(ids, condition)
        if histograms_for is not None and histograms_for in ids:
            detail = _load_rows(
                [histograms_for],
                Q(kind__in=[TeamAggregate.Kind.QUESTION, TeamAggregate.Kind.SHARE]),
                histograms=True,
            )
            for metric, by_team in detail.get(histograms_for, {}).items():
                rows[histograms_for][metric] = by_team
        roster_changes = _load_roster_changes(ids)
        for info in todo:
            made[keys[info.pk]] = release_round(
                info,
                rows.get(info.pk, {}),
                teams,
                k=k,
                definitions=definitions,
                metrics=set(rows.get(info.pk, {})) | extra[info.pk],
                comments=comments_for == info.pk,
                roster_changes=roster_changes.get(info.pk, {}),
            )
    return {info.pk: made[keys[info.pk]] for info in rounds}
