"""What leaders and admins see: every number of the leader pages and the report API is made here.

The single gate
---------------
Each number starts as a ``TeamAggregate`` and leaves through ``pulse.disclosure``. For every round and
metric involved, the release is decided **for the whole team tree of the round's scope** (the schedule's
team and, when it includes them, every team below), never for the viewer's part alone: a leader who sees
two levels, two leaders who compare notes, and an admin who sees everything get the same safe set
(``pulse.disclosure``'s module docstring has the model and the proof sketch). Only then is the release
filtered to the caller's teams: a leader's teams and their subtrees (``pulse.selectors.teams_led_by``),
an admin's organisation. A withheld cell is a ``Withheld``: its reason is shown, no number ever is.

Order across metric kinds (``pulse.disclosure``: "a published distribution implies the mean, and a
distribution implies the share above a cut-off"): for one round, every scale score first (``SCORE``,
threshold k), then the shares at or beyond a cut-off (``SHARE``, threshold 10) with ``also_withhold`` set to
the teams whose score of that scale was withheld, then the per-option distributions of the instrument's
questions (``DISTRIBUTION``, threshold 10) with ``also_withhold`` set to every team withheld in the
instrument's score and share steps. Response rates (``RESPONSE_RATE``, threshold k) and comments
(``COMMENTS``, threshold 10, with ``also_withhold`` set to every team whose score in any scale was withheld
to protect another group or for overlapping teams: comments appear only beside team cells that may be
published) are released on the respondents of the round.

Across rounds, every step also withholds the teams whose roster changed by fewer than that kind's
threshold since their last published round (``pulse.disclosure.roster_change_guard``, on the
``TeamRosterChange`` rows the aggregation step stored), passed as ``also_withhold`` so that complementary
suppression keeps them from being derived too. The verdict is a function of the (round, team) alone, so
every page, the API, exports and the trend run give the same one, whatever window of rounds they load.

Building the tree from aggregates
---------------------------------
A cell per team of the round's scope: teams with no aggregate (the close step writes no counters below k)
are cells with ``n = 0``, so the disclosure module itself says "fewer than k answers" for them, and their
people stay inside their parent's residual. ``direct_n`` (respondents of a team in none of its child teams)
is not stored; it is the team's ``n`` minus its child teams' ``n``, exact because the child subtrees are
disjoint: each respondent counts along one chain, their home team's (``surveys.tree.counting_closure``).
For counts, a team's ``n`` is how many values the number summarises (scored respondents for a scale,
answers for a question); for response rates and comments it is the round's respondents. If a round's tree
is inconsistent (a team moved since the round, say), nothing of that round and metric is shown.

What is computed from published values only
-------------------------------------------
* Means are coarsened (0.1 on 1–5, 1 point on 0–100) and percentages to 5 points (SCIENCE.md §4). A colour
  band compares the *unrounded* mean with the instrument's cut-off, as ``pulse.disclosure`` decides
  (WHO-5 ≤ 50 poor wellbeing and ≤ 28 likely depression, Topp et al. 2015; CBI ≥ 50 "high", a convention,
  Kristensen et al. 2005; single-item burnout ≥ 3, Rohland et al. 2004).
* The trend line is Sen's (1968) slope over the *shown* values of the team's last
  ``PULSE_TREND_WINDOW`` rounds against real time in weeks, with the Gilbert (1987) interval
  (``pulse.stats.sen_slope``), drawn only from ``PULSE_TREND_MIN_ROUNDS`` published rounds on (SCIENCE.md
  §3: no trend before 6 usable rounds). Anyone can recompute it from the table beside the chart.
* The minimum detectable change between two rounds is z₀.₉₇₅ · σ_w · √(1/n₁ + 1/n₂), σ_w the within-round
  SD of individuals pooled over the published rounds (from their sums of squares). SCIENCE.md §3: "the
  minimum detectable change between two rounds of 8 is about 1 scale point" (σ = 1: 1.96·√(2/8) = 0.98).
  "What changed since the last round" says when a change is within that noise, and never reads one pair
  of rounds as a trend.

Flags explain themselves with numbers computed by the trend run (``pulse.trends``), which applies the
threshold but not the complementary suppression (``pulse.services.trends.aggregate_withheld``). A flag's
sentence is therefore shown only when every value the trend run could have used for it — the team's
results in the rounds up to the flag's last evaluation, among the last 2 × ``PULSE_TREND_WINDOW`` rounds
loaded — is also published here; otherwise it is replaced by a sentence without numbers.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from pulse import stats
from pulse.disclosure import (
    Cell,
    DisclosureError,
    MetricKind,
    Published,
    RosterChange,
    Withheld,
    WithheldCode,
    coarsen_mean,
    coarsen_percent,
    nearest_publishable_ancestor,
    roster_changes_withhold,
    suppress_tree,
)
from pulse.models import Action, Flag, FlagEvent, TeamAggregate, TeamRosterChange
from pulse.permissions import Caller
from pulse.selectors_flags import flag_list_for_leader
from pulse.services.trends import aggregate_withheld
from pulse.trends import METRICS, RESPONSE_RATE, DisplayScale, MetricInfo, metric_key
from surveys.definitions import BandDef, InstrumentDef, format_number, text_for, to_fraction
from surveys.models import Comment, Instrument, Organisation, Round, Team

logger = logging.getLogger(__name__)

#: z_{0.975}: two-sided 95% (the minimum detectable change; SCIENCE.md §3).
Z_95 = 1.959963984540054

Verdict = Published[Any] | Withheld
Level = Literal["ok", "beyond", "severe", "withheld", "none"]

_UNCHECKED = Withheld(
    "withheld because this round's numbers could not be checked for disclosure",
    WithheldCode.PROTECTS_SMALLER_GROUP,
)
_OPERATORS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}
_OPEN_STATES = (Flag.State.OPEN, Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED)
_STATE_ORDER = {Flag.State.OPEN: 0, Flag.State.ACKNOWLEDGED: 1, Flag.State.ACTION_PLANNED: 2}
_SEVERITY_ORDER = {Flag.Severity.ALERT: 0, Flag.Severity.WARNING: 1, Flag.Severity.WATCH: 2}


def window() -> int:
    return int(settings.PULSE_TREND_WINDOW)


def min_rounds() -> int:
    return int(settings.PULSE_TREND_MIN_ROUNDS)


def horizon() -> int:
    """Rounds loaded per team: the trend run's own horizon (two windows), so a flag can be checked."""
    return 2 * window()


# =========================================================================================================
# Pure helpers: noise, trend line, words
# =========================================================================================================


def minimum_detectable_change(sd: float, n1: int, n2: int, *, z: float = Z_95) -> float:
    """The smallest difference between two round means that chance alone exceeds only 5% of the time.

    z · σ_w · √(1/n₁ + 1/n₂), the two-sample z bound on a difference of means. SCIENCE.md §3 calibrates
    it: with an SD of 1 on a 1–5 item and two rounds of 8 people, 1.96 · √(2/8) = 0.98, "about 1 scale
    point".
    """
    if n1 < 1 or n2 < 1 or not math.isfinite(sd) or sd < 0:
        raise ValueError("The minimum detectable change needs two rounds with answers and an SD ≥ 0.")
    return z * sd * math.sqrt(1.0 / n1 + 1.0 / n2)


def rate_detectable_change(p: float, invited1: int, invited2: int, *, z: float = Z_95) -> float:
    """The same bound for a response rate (a proportion), in percentage points: binomial variance p(1−p)
    per invitee, p the pooled rate."""
    if invited1 < 1 or invited2 < 1 or not 0 <= p <= 1:
        raise ValueError("A rate's detectable change needs invitees in both rounds and 0 ≤ p ≤ 1.")
    return 100.0 * z * math.sqrt(p * (1 - p) * (1.0 / invited1 + 1.0 / invited2))


def pooled_sd(groups: Iterable[tuple[int, float]]) -> float | None:
    """Within-round SD of individuals pooled over rounds: √(Σ(nₜ−1)sₜ² / Σ(nₜ−1)) from (n, SD) pairs."""
    dof = 0
    total = 0.0
    for n, sd in groups:
        if n >= 2 and math.isfinite(sd):
            dof += n - 1
            total += (n - 1) * sd * sd
    return math.sqrt(total / dof) if dof else None


@dataclass(frozen=True)
class TrendLine:
    """Sen's slope through the shown values (per week, and per round at the median spacing) with the
    Gilbert (1987) interval; ``at(moment)`` is the line's value at a round's close."""

    origin: datetime
    slope_per_week: float
    intercept: float
    slope_per_round: float
    low_per_round: float
    high_per_round: float
    rounds: int

    def at(self, moment: datetime) -> float:
        return self.intercept + self.slope_per_week * _weeks(moment, self.origin)


def _weeks(moment: datetime, origin: datetime) -> float:
    return (moment - origin).total_seconds() / (7 * 86400)


def fit_trend(points: Sequence[tuple[datetime, float]], *, least: int) -> TrendLine | None:
    """Sen's slope over (round close, shown value) pairs against real time, or None with fewer than
    ``least`` points (SCIENCE.md §3: no trend before 6 usable rounds). The slope per week becomes a slope
    per round through the median spacing of the rounds, as the trend run does (``pulse.trends``)."""
    if len(points) < max(2, least):
        return None
    ordered = sorted(points)
    origin = ordered[0][0]
    times = [_weeks(moment, origin) for moment, _ in ordered]
    values = [value for _, value in ordered]
    sen = stats.sen_slope(values, times)
    if not math.isfinite(sen.slope):
        return None
    spacing = statistics.median(b - a for a, b in itertools.pairwise(times))
    low = sen.low * spacing if math.isfinite(sen.low) else math.nan
    high = sen.high * spacing if math.isfinite(sen.high) else math.nan
    return TrendLine(
        origin=origin,
        slope_per_week=sen.slope,
        intercept=sen.intercept,
        slope_per_round=sen.slope * spacing,
        low_per_round=low,
        high_per_round=high,
        rounds=len(ordered),
    )


def _decimals(scale: DisplayScale) -> int:
    return 1 if scale in ("1-5", "0-5") else 0


def shown_text(value: float, scale: DisplayScale) -> str:
    """A value already coarsened, as printed: "3.4" on 1–5, "52" on 0–100, "85%" for rates."""
    if scale == "percent":
        return f"{round(value)}%"
    return f"{value:.{_decimals(scale)}f}"


def signed(value: float, decimals: int) -> str:
    """ "+0.3", "−4", "0": a difference with its sign and a true minus."""
    rounded = round(value, decimals)
    if rounded == 0:
        return "0"
    return f"{rounded:+.{decimals}f}".replace("-", "−")


def _slope_text(value: float, scale: DisplayScale) -> str:
    decimals = 2 if scale in ("1-5", "0-5") else 1
    return signed(value, decimals)


def noise_shown(value: float, scale: DisplayScale) -> float:
    """A detectable change coarsened like the values it is compared with (never finer than they are)."""
    if scale == "percent":
        return float(max(5, coarsen_percent(min(100.0, value))))
    decimals = _decimals(scale)
    return max(10.0**-decimals, round(value, decimals))


def noise_text(value: float, scale: DisplayScale) -> str:
    shown = noise_shown(value, scale)
    if scale == "percent":
        return f"{shown:.0f} points"
    return f"{shown:.{_decimals(scale)}f}"


def day_text(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.day} {local:%b %Y}"


# =========================================================================================================
# Values a published cell carries
# =========================================================================================================


@dataclass(frozen=True)
class Mean:
    """A published mean as shown. ``band``: the cut-off band the *unrounded* mean lies in (its label and
    ``level``: "severe" for the most severe of several bands, "beyond" otherwise). ``sd``: the within-round
    SD of individuals, used only for the minimum detectable change and never shown as such."""

    value: float
    text: str
    band: str | None = None
    band_label: str | None = None
    level: Level = "ok"
    sd: float | None = None


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


def band_label(band: BandDef, info: MetricInfo | None = None) -> str:
    """ "poor wellbeing (≤ 50)", "high (≥ 50, a convention)"."""
    convention = ", a convention" if info is not None and info.cutoff_word == "convention" else ""
    threshold = format_number(to_fraction(band.threshold))
    return f"{band.name.replace('_', ' ')} ({_OPERATORS.get(band.op, band.op)} {threshold}{convention})"


def mean_value(cell: Cell, *, scale: DisplayScale, bands: Sequence[BandDef], info: MetricInfo | None) -> Mean:
    """The value of a published mean cell: coarsened for display, band from the exact mean."""
    if scale == "percent":
        raise ValueError("A mean is not shown as a percentage.")
    exact = cell.total / cell.n
    shown = coarsen_mean(exact, scale=scale)
    band_index = next((i for i, band in enumerate(bands) if band.contains(to_fraction(exact))), None)
    sd = None
    if cell.sumsq is not None and cell.n >= 2:
        sd = math.sqrt(max(0.0, (cell.sumsq - cell.total * cell.total / cell.n) / (cell.n - 1)))
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
    )


# =========================================================================================================
# Loading: teams, rounds, aggregates (a fixed number of queries, whatever the number of teams)
# =========================================================================================================


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

    def metric_for(self, column: Column) -> str | None:
        """The versioned metric of a column in this round, or None when the round did not ask it."""
        if column.key == RESPONSE_RATE:
            return RESPONSE_RATE
        asked = self.instruments.get(column.instrument_key or "")
        return f"scale:{column.key}@{asked[1]}" if asked else None


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


def _instrument_definitions(ids: Iterable[int]) -> dict[int, InstrumentDef]:
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


# =========================================================================================================
# The release of one round: the whole scope tree, metric kind by metric kind
# =========================================================================================================


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


def _parse_versioned(metric: str) -> tuple[str, str, int] | None:
    """ "scale:who5.who5@1" -> ("scale", "who5.who5", 1)."""
    kind, _, rest = metric.partition(":")
    body, _, version = rest.rpartition("@")
    if not kind or not body or not version.isdigit():
        return None
    return kind, body, int(version)


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
    changes = roster_changes or {}
    covered_ids = {t.pk for t in covered}

    def changed(kind: MetricKind, also: Mapping[int, Withheld] | None = None) -> dict[int, Withheld]:
        """The teams the roster clause withholds for ``kind``, with ``also`` (whose reasons win) on top."""
        hidden: dict[int, Withheld] = {}
        for team_id, stored in changes.items():
            verdict = roster_changes_withhold(stored, k=k, kind=kind) if team_id in covered_ids else None
            if verdict is not None:
                hidden[team_id] = verdict
        hidden.update(also or {})
        return hidden

    release = RoundRelease(round=info, definitions=definitions)
    wanted = sorted(set(metrics))
    empty: dict[int, _Row] = {}
    instrument_ids = {key: ident for key, (ident, _version) in info.instruments.items()}

    def record(metric: str, cells: list[Cell], verdicts: dict[int, Verdict]) -> None:
        release.cells[metric] = cells
        release.verdicts[metric] = verdicts
        release.basic[metric] = {
            row.team_id
            for row in rows.get(metric, empty).values()
            if row.n > 0 and not aggregate_withheld(respondents=row.respondents, kind=row.kind, k=k)
        }

    withheld_by_instrument: dict[int, dict[int, Withheld]] = defaultdict(dict)
    withheld_score: dict[int, Withheld] = {}
    score_withheld_of: dict[str, dict[int, Withheld]] = {}

    # 1. Scale scores (threshold k).
    for metric in (m for m in wanted if m.startswith("scale:")):
        parsed = _parse_versioned(metric)
        key = metric_key(metric)
        if parsed is None or key is None:
            continue  # custom scales: no direction or display scale to report them with
        info_m = METRICS[key]
        instrument_key, _, scale_key = parsed[1].partition(".")
        instrument_id = instrument_ids.get(instrument_key)
        definition = definitions.get(instrument_id) if instrument_id is not None else None
        scale_def = definition.scale(scale_key) if definition else None
        bands = scale_def.bands if scale_def else ()
        metric_rows = rows.get(metric, empty)
        cells = _cells(covered, metric_rows, lambda r: r.n)
        scale = info_m.scale

        def value(
            c: Cell, scale: DisplayScale = scale, bands: Sequence[BandDef] = bands, i: MetricInfo = info_m
        ) -> Mean:
            return mean_value(c, scale=scale, bands=bands, info=i)

        verdicts = _suppress(
            cells,
            k=k,
            kind=MetricKind.SCORE,
            value=value,
            also=changed(MetricKind.SCORE),
            what=f"{metric} of round {info.pk}",
        )
        record(metric, cells, verdicts)
        hidden = _withheld(verdicts)
        score_withheld_of[metric] = hidden
        withheld_score.update(hidden)
        if instrument_id is not None:
            withheld_by_instrument[instrument_id].update(hidden)

    # 2. Shares at or beyond a cut-off (threshold 10), after their scale's score.
    for metric in (m for m in wanted if m.startswith("share:")):
        parsed = _parse_versioned(metric)
        if parsed is None:
            continue
        instrument_key, scale_key, _band = [*parsed[1].split("."), "", ""][:3]
        metric_rows = rows.get(metric, empty)
        cells = _cells(covered, metric_rows, lambda r: r.n)
        also = changed(
            MetricKind.SHARE, score_withheld_of.get(f"scale:{instrument_key}.{scale_key}@{parsed[2]}", {})
        )

        def share(c: Cell) -> Share:
            return Share(coarsen_percent(100.0 * c.total / c.n))

        verdicts = _suppress(
            cells, k=k, kind=MetricKind.SHARE, value=share, also=also, what=f"{metric} of round {info.pk}"
        )
        record(metric, cells, verdicts)
        instrument_id = instrument_ids.get(instrument_key)
        if instrument_id is not None:
            withheld_by_instrument[instrument_id].update(_withheld(verdicts))

    # 3. Per-option distributions of questions (threshold 10), after the instrument's scores and shares.
    for metric in (m for m in wanted if m.startswith("question:")):
        metric_rows = rows.get(metric, empty)
        instrument_id = next((r.instrument_id for r in metric_rows.values() if r.instrument_id), None)
        cells = _cells(covered, metric_rows, lambda r: r.n)
        also = changed(
            MetricKind.DISTRIBUTION,
            withheld_by_instrument.get(instrument_id, {}) if instrument_id is not None else {},
        )

        def distribution(c: Cell, rows_here: Mapping[int, _Row] = metric_rows) -> Distribution:
            histogram = rows_here[c.team_id].histogram
            options = sorted((int(v), coarsen_percent(100.0 * count / c.n)) for v, count in histogram.items())
            return Distribution(tuple(options))

        verdicts = _suppress(
            cells,
            k=k,
            kind=MetricKind.DISTRIBUTION,
            value=distribution,
            also=also,
            what=f"{metric} of round {info.pk}",
        )
        record(metric, cells, verdicts)

    # 4. Response rates (threshold k) on the respondents of the round.
    if RESPONSE_RATE in wanted:
        metric_rows = rows.get(RESPONSE_RATE, empty)
        cells = _cells(covered, metric_rows, lambda r: r.respondents)

        def rate(c: Cell, rows_here: Mapping[int, _Row] = metric_rows) -> Rate:
            invited = rows_here[c.team_id].n
            return Rate(coarsen_percent(min(100.0, 100.0 * c.n / invited)), invited)

        verdicts = _suppress(
            cells,
            k=k,
            kind=MetricKind.RESPONSE_RATE,
            value=rate,
            also=changed(MetricKind.RESPONSE_RATE),
            what=f"response rate of round {info.pk}",
        )
        record(RESPONSE_RATE, cells, verdicts)

    # 5. Comments (threshold 10) on the respondents, only where the team's scores are published.
    if comments:
        respondents: dict[int, _Row] = {}
        for metric_rows in rows.values():
            for team_id, row in metric_rows.items():
                if team_id not in respondents or row.respondents > respondents[team_id].respondents:
                    respondents[team_id] = row
        cells = _cells(covered, respondents, lambda r: r.respondents)
        release.comments = _suppress(
            cells,
            k=k,
            kind=MetricKind.COMMENTS,
            value=lambda c: True,
            # A score withheld to protect another group (or for overlapping teams) withholds the team's
            # comments too; one withheld only because few people completed that instrument does not.
            also=changed(
                MetricKind.COMMENTS,
                {
                    tid: w
                    for tid, w in withheld_score.items()
                    if tid in respondents and w.code is not WithheldCode.TOO_FEW_ANSWERS
                },
            ),
            what=f"comments of round {info.pk}",
        )
    return release


def release_all(
    rounds: Sequence[RoundInfo],
    teams: TeamIndex,
    *,
    organisation: Organisation,
    condition: Q,
    histograms_for: int | None = None,
    extra_metrics: Callable[[RoundInfo], Iterable[str]] = lambda r: (),
    comments_for: int | None = None,
) -> dict[int, RoundRelease]:
    """Load and release several rounds at once (a fixed number of queries)."""
    if not rounds:
        return {}
    ids = [r.pk for r in rounds]
    rows = _load_rows(ids, condition)
    if histograms_for is not None:
        detail = _load_rows(
            [histograms_for],
            Q(kind__in=[TeamAggregate.Kind.QUESTION, TeamAggregate.Kind.SHARE]),
            histograms=True,
        )
        for metric, by_team in detail.get(histograms_for, {}).items():
            rows[histograms_for][metric] = by_team
    definitions = _instrument_definitions(i for r in rounds for i, _ in r.instruments.values())
    roster_changes = _load_roster_changes(ids)
    k = organisation.min_group_size
    out = {}
    for info in rounds:
        metrics = set(rows.get(info.pk, {})) | set(extra_metrics(info))
        out[info.pk] = release_round(
            info,
            rows.get(info.pk, {}),
            teams,
            k=k,
            definitions=definitions,
            metrics=metrics,
            comments=comments_for == info.pk,
            roster_changes=roster_changes.get(info.pk, {}),
        )
    return out


# =========================================================================================================
# Columns and cells for pages and the API
# =========================================================================================================


@dataclass(frozen=True)
class Column:
    """A reported metric, whatever its version: a key of ``pulse.trends.METRICS``."""

    key: str
    label: str
    scale: DisplayScale
    info: MetricInfo

    @property
    def instrument_key(self) -> str | None:
        return None if self.key == RESPONSE_RATE else self.key.split(".", 1)[0]


COLUMNS: tuple[Column, ...] = tuple(
    Column(key, "Response rate" if key == RESPONSE_RATE else info.label, info.scale, info)
    for key, info in METRICS.items()
)


def _column(key: str) -> Column:
    return next(c for c in COLUMNS if c.key == key)


@dataclass(frozen=True)
class ShownCell:
    """One value as a page shows it: its text, a note (cut-off band or why withheld), a level for colour
    (never the only signal: the text says it too), and the verdict behind it."""

    status: Literal["published", "withheld", "not_asked"]
    text: str
    note: str
    level: Level
    n: int | None
    verdict: Verdict | None

    @property
    def published(self) -> bool:
        return self.status == "published"


def shown_cell(verdict: Verdict | None) -> ShownCell:
    if verdict is None:
        return ShownCell("not_asked", "—", "not asked in this round", "none", None, None)
    if isinstance(verdict, Withheld):
        return ShownCell("withheld", verdict.reason, "", "withheld", None, verdict)
    value = verdict.value
    if isinstance(value, Mean):
        return ShownCell("published", value.text, value.band_label or "", value.level, verdict.n, verdict)
    if isinstance(value, Rate):
        return ShownCell("published", value.text, "", "ok", verdict.n, verdict)
    if isinstance(value, Share):
        return ShownCell("published", f"{value.percent}%", "", "ok", verdict.n, verdict)
    return ShownCell("published", "", "", "ok", verdict.n, verdict)


# =========================================================================================================
# Who sees which teams
# =========================================================================================================


def visible_team_ids(caller: Caller, teams: TeamIndex) -> set[int]:
    """An admin: the organisation. A leader: the teams they lead today and everything below."""
    if caller.is_admin:
        return set(teams.by_id)
    return {t.pk for t in caller.led_teams if t.organisation_id == caller.organisation_id}


def sees_results(caller: Caller | None) -> bool:
    return caller is not None and (caller.is_admin or caller.is_leader)


def _flags_visible(caller: Caller, *, states: Sequence[str]) -> QuerySet[Flag]:
    """Flags through the flags selector for leaders; an admin's are the organisation's."""
    if caller.is_admin:
        flags = Flag.objects.filter(organisation_id=caller.organisation_id).select_related("team")
    else:
        flags = flag_list_for_leader(person=caller.person, include_resolved=True).prefetch_related(None)
    return flags.filter(state__in=list(states), organisation_id=caller.organisation_id)


def metric_label(metric: str) -> str:
    key = metric_key(metric)
    if key is None:
        return metric
    parsed = _parse_versioned(metric)
    label = METRICS[key].label
    return f"{label} (version {parsed[2]})" if parsed and parsed[2] != 1 else label


def _flag_order(flag: Flag) -> tuple[int, int, float]:
    opened = flag.opened_at or flag.created_at
    return (
        _STATE_ORDER.get(Flag.State(flag.state), 3),
        _SEVERITY_ORDER.get(Flag.Severity(flag.severity), 3),
        -opened.timestamp(),
    )


# =========================================================================================================
# Leader home: teams × metrics for the latest closed round
# =========================================================================================================


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
    columns = tuple(
        c
        for c in COLUMNS
        if c.key == RESPONSE_RATE or any(c.instrument_key in r.instruments for r in used.values())
    )
    condition = Q(kind=TeamAggregate.Kind.RESPONSE_RATE) | Q(
        kind=TeamAggregate.Kind.SCALE, metric__in=[m for r in used.values() for m in _scale_metrics(r)]
    )
    releases = release_all(
        list(used.values()),
        teams,
        organisation=organisation,
        condition=condition,
        extra_metrics=lambda r: [*_scale_metrics(r), RESPONSE_RATE],
    )
    flags = sorted(_flags_visible(caller, states=_OPEN_STATES), key=_flag_order)
    flags = [f for f in flags if f.team_id in visible]
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
            metric = info.metric_for(column) if info else None
            verdict = releases[info.pk].verdict(metric, team.pk) if info and metric else None
            cells.append(shown_cell(verdict))
        closing = closing_days.setdefault(info.pk, day_text(info.closes_at, zone)) if info else ""
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
        flags=tuple(FlagSummary(f, teams.by_id[f.team_id], metric_label(f.metric)) for f in flags),
        latest_close=max((r.closes_at for r in used.values()), default=None),
        is_admin=caller.is_admin,
    )


def _scale_metrics(info: RoundInfo) -> list[str]:
    return [m for c in COLUMNS if c.key != RESPONSE_RATE and (m := info.metric_for(c))]


# =========================================================================================================
# Team page
# =========================================================================================================


@dataclass(frozen=True)
class SeriesPoint:
    round: RoundInfo
    cell: ShownCell
    trend: float | None = None
    band_low: float | None = None
    band_high: float | None = None


@dataclass(frozen=True)
class MetricReport:
    column: Column
    metric: str
    label: str
    points: tuple[SeriesPoint, ...]
    trend: TrendLine | None
    detectable: float | None  # the minimum detectable change between two typical rounds (unrounded)
    detectable_text: str | None
    trend_text: str
    change_text: str
    latest: ShownCell
    rollup_note: str | None

    @property
    def chart(self) -> dict[str, Any]:
        """The data of the chart (the table beside it shows the same numbers)."""
        return {
            "label": self.label,
            "scale": self.column.scale,
            "x": [int(p.round.closes_at.timestamp()) for p in self.points],
            "values": [_plain(p.cell) for p in self.points],
            "trend": [p.trend for p in self.points],
            "low": [p.band_low for p in self.points],
            "high": [p.band_high for p in self.points],
        }


def _plain(cell: ShownCell) -> float | None:
    verdict = cell.verdict
    if not isinstance(verdict, Published):
        return None
    value = verdict.value
    if isinstance(value, Mean):
        return value.value
    if isinstance(value, Rate):
        return float(value.percent)
    return None


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
    band: str
    cell: ShownCell


@dataclass(frozen=True)
class OutcomeView:
    action: Action
    due: bool
    sentence: str


@dataclass(frozen=True)
class EventView:
    """One entry of a flag's history. The trend run's own notes (detected, opened, updated, recovered …)
    repeat sentences with numbers from past evaluations, which the gate cannot re-check, so only what
    people wrote (notes, actions) and escalations are shown with their text."""

    at: datetime
    kind: str
    actor: str
    why: str
    flag_label: str


@dataclass(frozen=True)
class FlagView:
    flag: Flag
    team: TeamInfo
    label: str
    explanation: str
    redacted: bool
    can_act: bool
    outcomes: tuple[OutcomeView, ...]
    events: tuple[EventView, ...]


def _event_view(event: FlagEvent, label: str) -> EventView:
    says = event.actor_id is not None or event.kind == FlagEvent.Kind.ESCALATED
    return EventView(event.at, event.get_kind_display(), event.actor_label, event.why if says else "", label)


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


def team_report_get(*, caller: Caller, team_id: int, today: date | None = None) -> TeamReport | None:
    """Everything the team page shows, or None when the caller may not see the team (a team of another
    organisation, or one they do not lead): the view answers 404 either way."""
    organisation = caller.organisation
    teams = TeamIndex.of(organisation.pk)
    visible = visible_team_ids(caller, teams)
    if team_id not in visible or team_id not in teams.by_id:
        return None
    team = teams.by_id[team_id]
    zone = organisation.time_zone
    rounds = rounds_covering(organisation.pk, [team], limit=horizon())
    latest = rounds[0] if rounds else None
    condition = Q(kind__in=[TeamAggregate.Kind.SCALE, TeamAggregate.Kind.RESPONSE_RATE])
    releases = release_all(
        rounds,
        teams,
        organisation=organisation,
        condition=condition,
        histograms_for=latest.pk if latest else None,
        extra_metrics=lambda r: [*_scale_metrics(r), RESPONSE_RATE],
        comments_for=latest.pk if latest and "comment" in latest.instruments else None,
    )
    chronological = sorted(rounds, key=lambda r: (r.closes_at, r.pk))
    names = {t.pk: t.name for t in teams.ordered}
    metrics: list[MetricReport] = []
    rate_report = None
    for column in COLUMNS:
        by_version: dict[str, list[RoundInfo]] = defaultdict(list)
        for info in chronological:
            metric = info.metric_for(column)
            if metric:
                by_version[metric].append(info)
        for metric, asked in by_version.items():
            report = _metric_report(
                column, metric, asked[-window() :], releases, team, zone, names=names, visible=visible
            )
            if column.key == RESPONSE_RATE:
                rate_report = report
            else:
                metrics.append(report)
    distributions, shares, comment_cell, texts = _latest_details(latest, releases, team, caller)
    flags = _flag_views(
        caller,
        Flag.objects.filter(team_id=team.pk, organisation_id=organisation.pk, state__in=Flag.VISIBLE_STATES),
        releases,
        teams,
        rounds_by_team={team.pk: chronological},
        today=today,
    )
    events = tuple(sorted((e for v in flags for e in v.events), key=lambda e: e.at))
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
    )


def _metric_report(
    column: Column,
    metric: str,
    asked: Sequence[RoundInfo],
    releases: Mapping[int, RoundRelease],
    team: TeamInfo,
    zone: str,
    *,
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
    points = []
    places = _decimals(scale) + 1  # the line is drawn, not read: one place finer than the values is enough
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
                rollup = roll.note
            else:
                rollup = (
                    f"{team.name}'s result is {latest_cell.text} this round, and no team you can see above "
                    "it can be shown instead."
                )
    label = metric_label(metric)
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
        trend_text=_trend_words(label, trend, scale, len(values)),
        change_text=_change_words(label, asked, cells, zone, scale, noise, detectable_text, published),
        latest=latest_cell,
        rollup_note=rollup,
    )


def _trend_words(label: str, trend: TrendLine | None, scale: DisplayScale, usable: int) -> str:
    if scale == "percent":
        return ""
    if trend is None:
        return (
            f"A trend needs at least {min_rounds()} rounds with a result; this team has {usable} so far, so "
            "single rounds are shown without a trend line."
        )
    slope = _slope_text(trend.slope_per_round, scale)
    if math.isfinite(trend.low_per_round) and math.isfinite(trend.high_per_round):
        low, high = _slope_text(trend.low_per_round, scale), _slope_text(trend.high_per_round, scale)
        interval = f" (95% CI {low} to {high})"
        if trend.low_per_round > 0 or trend.high_per_round < 0:
            verdict = "the rounds show a trend"
        else:
            verdict = "the interval includes no change, so this is not a clear trend"
    else:
        interval, verdict = "", "too many ties to give an interval"
    return (
        f"Over the last {trend.rounds} rounds with a result, {label} moved {slope} per round{interval}: "
        f"{verdict}."
    )


def _change_words(
    label: str,
    asked: Sequence[RoundInfo],
    cells: Sequence[ShownCell],
    zone: str,
    scale: DisplayScale,
    noise: float | None,
    detectable_text: str | None,
    published: Sequence[tuple[RoundInfo, Verdict]],
) -> str:
    """ "What changed since the last round", in words: never a single pair read as a trend."""
    if not asked:
        return f"{label} has not been asked of this team yet."
    if not published:
        return f"No round has a result for {label} that can be shown for this team yet."
    last_round, last = published[-1]
    assert isinstance(last, Published)
    last_text = shown_cell(last).text
    if cells[-1].status == "withheld":
        return (
            f"The latest round's {label} is {cells[-1].text}; the last result shown is {last_text}, from the "
            f"round closing {day_text(last_round.closes_at, zone)}."
        )
    if len(published) < 2:
        return (
            f"{label} was {last_text} in the round closing {day_text(last_round.closes_at, zone)}; there is "
            "no earlier result to compare it with."
        )
    prev_round, prev = published[-2]
    assert isinstance(prev, Published)
    a, b = _plain(shown_cell(prev)), _plain(shown_cell(last))
    assert a is not None
    assert b is not None
    unit = " points" if scale == "percent" else ""
    delta = b - a
    decimals = 0 if scale == "percent" else _decimals(scale)
    between = (
        f"from {shown_cell(prev).text} ({day_text(prev_round.closes_at, zone)}) to {last_text} "
        f"({day_text(last_round.closes_at, zone)})"
    )
    moved = "did not change" if round(delta, decimals) == 0 else f"moved {signed(delta, decimals)}{unit}"
    sentence = f"{label} {moved}, {between}."
    gap = "" if prev_round is asked[-2] else " (the rounds between had no result that can be shown)"
    if noise is None or detectable_text is None:
        return f"{sentence}{gap} There is not enough data yet to tell how much two rounds differ by chance."
    if abs(delta) < noise:
        return (
            f"{sentence}{gap} That is within the noise between two rounds of this size: only a change of "
            f"about {detectable_text} or more can be told apart from chance."
        )
    return (
        f"{sentence}{gap} That is at least the noise between two rounds (about {detectable_text}), but one "
        "pair of rounds is not a trend: read it with the rounds before it."
    )


def _latest_details(
    latest: RoundInfo | None, releases: Mapping[int, RoundRelease], team: TeamInfo, caller: Caller
) -> tuple[tuple[DistributionView, ...], tuple[ShareView, ...], ShownCell | None, tuple[str, ...]]:
    if latest is None:
        return (), (), None, ()
    release = releases[latest.pk]
    locale = caller.person.locale or caller.organisation.locale or "en"
    loaded = release.definitions
    questions: dict[str, tuple[str, str, dict[int, str], int, int, str]] = {}
    for order, (_key, (instrument_id, version)) in enumerate(sorted(latest.instruments.items())):
        definition = loaded.get(instrument_id)
        if definition is None:
            continue
        for question in definition.questions:
            labels = {option.value: text_for(option.label, locale) for option in question.options}
            questions[f"question:{question.key}@{version}"] = (
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
        parsed = _parse_versioned(metric)
        if not metric.startswith("share:") or parsed is None or team.pk not in verdicts:
            continue
        instrument_key, scale_key, band = [*parsed[1].split("."), "", ""][:3]
        key = f"{instrument_key}.{scale_key}"
        if key not in METRICS:
            continue
        definition = loaded.get(latest.instruments.get(instrument_key, (0, 0))[0])
        scale_def = definition.scale(scale_key) if definition else None
        band_def = next((b for b in scale_def.bands if b.name == band), None) if scale_def else None
        band_text = band_label(band_def, METRICS[key]) if band_def else band.replace("_", " ")
        shares.append(ShareView(metric, METRICS[key].label, band_text, shown_cell(verdicts[team.pk])))
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
            comment_cell = ShownCell(
                "published", f"{len(texts)} comments", "", "ok", comment_cell.n, comment_cell.verdict
            )
    return (
        tuple(view for _, _, view in sorted(distributions, key=lambda item: (item[0], item[1]))),
        tuple(sorted(shares, key=lambda s: (s.label, s.metric))),
        comment_cell,
        texts,
    )


# =========================================================================================================
# Flags: the gate on their sentences, how a metric moved after an action, the inbox
# =========================================================================================================


def _redacted_explanation(
    flag: Flag,
    label: str,
    asked: Sequence[RoundInfo],
    releases: Mapping[int, RoundRelease],
    scale: DisplayScale | None,
    zone: str,
) -> str:
    """A flag's explanation rebuilt from published values only, for a flag whose own sentence may rest on
    a result this report withholds."""
    parts = [
        f"{label} ({flag.get_kind_display().lower()}): the trend run's sentence for this flag used a result "
        "that is withheld here to protect a smaller group, so it is not shown."
    ]
    shown = [(r, shown_cell(releases[r.pk].verdict(flag.metric, flag.team_id))) for r in asked]
    published = [(r, c) for r, c in shown if c.published]
    if published:
        last_round, last = published[-1]
        band = f", {last.note}" if last.note else ""
        parts.append(
            f"From the results shown here: the latest is {last.text}{band}, in the round closing "
            f"{day_text(last_round.closes_at, zone)}."
        )
    if scale is not None and scale != "percent":
        values = [(r.closes_at, v) for r, c in published[-window() :] if (v := _plain(c)) is not None]
        parts.append(_trend_words(label, fit_trend(values, least=min_rounds()), scale, len(values)))
    return " ".join(parts)


def _flag_views(
    caller: Caller,
    flags: QuerySet[Flag],
    releases: Mapping[int, RoundRelease],
    teams: TeamIndex,
    *,
    rounds_by_team: Mapping[int, Sequence[RoundInfo]],
    today: date | None = None,
) -> tuple[FlagView, ...]:
    """Flags with their sentences behind the gate (see the module docstring) and their actions' outcomes."""
    zone = caller.organisation.time_zone
    day = today or timezone.localdate(timezone=ZoneInfo(zone))
    leads = {t.pk for t in caller.led_teams}
    rows = list(
        flags.select_related("team").prefetch_related(
            Prefetch("actions", queryset=Action.objects.select_related("created_by")),
            Prefetch("events", queryset=FlagEvent.objects.select_related("actor")),
        )
    )
    views = []
    for flag in sorted(rows, key=_flag_order):
        asked = [
            r for r in rounds_by_team.get(flag.team_id, ()) if r.pk in releases and _asks(r, flag.metric)
        ]
        evidence = [r for r in asked if r.closes_at <= flag.evaluated_through]
        # Every value the trend run could have used for this flag must be published here too.
        redacted = any(
            flag.team_id in releases[r.pk].basic.get(flag.metric, set())
            and not isinstance(releases[r.pk].verdict(flag.metric, flag.team_id), Published)
            for r in evidence
        )
        label = metric_label(flag.metric)
        scale = METRICS[key].scale if (key := metric_key(flag.metric)) else None
        explanation = (
            _redacted_explanation(flag, label, asked, releases, scale, zone) if redacted else flag.explanation
        )
        series = [
            (r.closes_at, v)
            for r in asked
            if (v := _plain(shown_cell(releases[r.pk].verdict(flag.metric, flag.team_id)))) is not None
        ]
        outcomes = tuple(
            _outcome(action, series, scale, label, zone=zone, day=day) for action in flag.actions.all()
        )
        views.append(
            FlagView(
                flag=flag,
                team=teams.by_id[flag.team_id],
                label=label,
                explanation=explanation,
                redacted=redacted,
                can_act=flag.team_id in leads and flag.state in _OPEN_STATES,
                outcomes=outcomes,
                events=tuple(_event_view(event, label) for event in flag.events.all()),
            )
        )
    return tuple(views)


def _asks(info: RoundInfo, metric: str) -> bool:
    if metric == RESPONSE_RATE:
        return True
    parsed = _parse_versioned(metric)
    if parsed is None:
        return False
    asked = info.instruments.get(parsed[1].split(".", 1)[0])
    return asked is not None and asked[1] == parsed[2]


def _outcome(
    action: Action,
    series: Sequence[tuple[datetime, float]],
    scale: DisplayScale | None,
    label: str,
    *,
    zone: str,
    day: date,
) -> OutcomeView:
    """How the metric moved since the action was planned, from published values only: the last one
    before it was planned, and those of the rounds that closed after its date."""
    due = day >= action.due_on
    if not due or scale is None:
        return OutcomeView(action, due, "The action's date has not come yet." if not due else "")
    before = [value for moment, value in series if moment <= action.created_at]
    after = [
        value
        for moment, value in series
        if moment >= datetime.combine(action.due_on, time.min, ZoneInfo(zone))
    ]
    if not before or not after:
        return OutcomeView(action, due, "No round with a result to compare yet since the action's date.")
    unit = " points" if scale == "percent" else ""
    decimals = 0 if scale == "percent" else _decimals(scale)
    rounds = "1 round" if len(after) == 1 else f"{len(after)} rounds"
    return OutcomeView(
        action,
        due,
        f"Since the action was planned, {label[0].lower() + label[1:]} moved from "
        f"{shown_text(before[-1], scale)} to {shown_text(after[-1], scale)} "
        f"({signed(after[-1] - before[-1], decimals)}{unit}) over {rounds} after its date.",
    )


@dataclass(frozen=True)
class Inbox:
    needs_you: tuple[FlagView, ...]  # open: acknowledge or plan an action
    in_hand: tuple[FlagView, ...]  # acknowledged or with an action planned
    resolved: tuple[FlagView, ...]


RESOLVED_SHOWN = 20


def flag_inbox_get(*, caller: Caller, today: date | None = None) -> Inbox:
    """The caller's flags (a leader's teams and below; an admin's organisation), with the gate applied."""
    organisation = caller.organisation
    teams = TeamIndex.of(organisation.pk)
    visible = visible_team_ids(caller, teams)
    active = [
        pk
        for pk, team_id in _flags_visible(caller, states=_OPEN_STATES).values_list("pk", "team_id")
        if team_id in visible
    ]
    resolved_ids = list(
        _flags_visible(caller, states=[Flag.State.RESOLVED])
        .filter(team_id__in=visible)
        .order_by("-resolved_at", "-pk")
        .values_list("pk", flat=True)[:RESOLVED_SHOWN]
    )
    views = flag_views_for(caller, active + resolved_ids, teams=teams, today=today)
    return Inbox(
        needs_you=tuple(v for v in views if v.flag.state == Flag.State.OPEN),
        in_hand=tuple(
            v for v in views if v.flag.state in (Flag.State.ACKNOWLEDGED, Flag.State.ACTION_PLANNED)
        ),
        resolved=tuple(v for v in views if v.flag.state == Flag.State.RESOLVED),
    )


def flag_views_for(
    caller: Caller, flag_ids: Sequence[int], *, teams: TeamIndex | None = None, today: date | None = None
) -> tuple[FlagView, ...]:
    """These flags, if the caller may see them, as views behind the gate (a fixed number of queries)."""
    organisation = caller.organisation
    teams = teams or TeamIndex.of(organisation.pk)
    visible = visible_team_ids(caller, teams)
    flags = Flag.objects.filter(pk__in=list(flag_ids), organisation_id=organisation.pk, team_id__in=visible)
    pairs = list(flags.values_list("team_id", "metric"))
    if not pairs:
        return ()
    flagged = [teams.by_id[t] for t in {t for t, _ in pairs} if t in teams.by_id]
    rounds = rounds_covering(organisation.pk, flagged, limit=horizon())
    metrics = {m for _, m in pairs}
    releases = release_all(
        rounds,
        teams,
        organisation=organisation,
        condition=Q(metric__in=metrics),
        extra_metrics=lambda r: [m for m in metrics if _asks(r, m)],
    )
    by_team = {
        t.pk: sorted((r for r in rounds if r.covers(t)), key=lambda r: (r.closes_at, r.pk))[-horizon() :]
        for t in flagged
    }
    return _flag_views(caller, flags, releases, teams, rounds_by_team=by_team, today=today)


def flag_visible_get(*, caller: Caller, flag_id: int) -> Flag | None:
    """A flag the caller may see (its team among theirs, same organisation), else None (the view: 404)."""
    flag = (
        Flag.objects.filter(pk=flag_id, organisation_id=caller.organisation_id, state__in=Flag.VISIBLE_STATES)
        .select_related("team")
        .first()
    )
    if flag is None:
        return None
    if caller.is_admin or flag.team_id in {t.pk for t in caller.led_teams}:
        return flag
    return None
