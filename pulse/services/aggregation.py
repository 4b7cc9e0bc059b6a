"""Team aggregates of a closed round: n, sum, sum of squares and histogram per team × metric, in SQL.

Where the roll-up happens, and why
----------------------------------
A parent team's result must count each respondent once, even one who belongs to two of its child teams,
and its mean must be the pooled mean Σx / n over everyone below it, never a mean of its children's means
(a mean of means weighs a team of 3 like a team of 30). Pooling needs to know, per person, which teams
they count in, and that link between one person's answers and their teams exists in exactly one place:
the sealed ballot, opened once by the close step (``surveys.services.counting.round_close``). So the
close step adds each ballot to the counters (``AnswerCount``, ``ScoreCount``, ``RespondentCount``) of
every team of the person's *counting closure* (their home team in the round's scope and every ancestor up
to the schedule's team, ``surveys.tree.counting_closure``: someone in two sibling teams counts in the
deeper, then older, one, so the tree stays additive), each team once per person. Afterwards no per-person
answer set exists (docs/anonymity.md §2), so no later step could pool correctly; and
none needs to: every counter row already *is* its team's exact roll-up. The close step stores counters only
for the teams ``surveys.tree.storable_teams`` allows (at least k respondents, and no group below k left
derivable by subtraction; docs/science.md §4.2), so nothing here is ever computed for the others, not even a
response rate: their people appear only inside their ancestors.

What this module adds
---------------------
It turns the counters into ``pulse.models.TeamAggregate`` rows, one per team × metric, each with
``n``, ``total`` (Σ value), ``total_squares`` (Σ value²) and a histogram, from which trends and reports
get means and variances without ever seeing a person (docs/science.md §2.2):

* ``question:<key>@<version>`` per choice question: the option values; histogram option value → count.
* ``scale:<instrument>.<scale>@<version>`` per instrument scale: exact scores, bucket / resolution
  (``surveys.scoring.bucket_score``); only scorable respondents count (the instrument's missing-data rule,
  e.g. CBI fewer than 4 of 7 items: no score); histogram keyed by the exact score written by
  ``surveys.definitions.format_number`` ("48", "62.5", or "150/7" for a CBI mean that has no decimal).
* ``share:<instrument>.<scale>.<band>@<version>`` per band of a scale: n = scored respondents, total =
  respondents whose score is in that band *or beyond*. "Beyond" is decided by the band's own cut-off from
  the instrument definition: a score counts when ``band.contains(score)`` holds (WHO-5 ``poor_wellbeing``
  is score ≤ 50, so it includes ``likely_depression``, score ≤ 28, the more severe band listed first; Topp
  et al. 2015). For the nested, same-direction bands of the default library this is exactly "this band or
  any listed before it"; unlike that positional rule it stays right for a custom scale whose bands point
  in two directions. The values are 0/1 indicators, so total_squares = total; no histogram.
* ``response_rate``: n = invited people of the team (invitations whose closure includes it, from
  ``Invitation.teams`` and the team paths), total = its respondents, total_squares = total (0/1 again).
  Only for teams that have a ``RespondentCount`` row, i.e. at least k respondents.

Nothing here is disclosure-controlled: ``pulse.disclosure`` decides what may be shown (docs/science.md §4).

Beside the aggregates, in the same transaction, it stores ``pulse.models.TeamRosterChange``: per team with
counters and per threshold (k, and the larger one of distributions), how many people joined and left the
team's roster since its baseline round, the latest earlier round of the schedule in which the team had
counters and was not withheld by the roster clause (``pulse.disclosure.roster_change_guard``). A roster
is the round's invitations whose counting chain includes the team, the same chain its ballots count along.
Computed here, once, so that every page, the API, exports and the trend run give a (round, team) the same
verdict whatever window of rounds they load; the reports apply it.

How it runs
-----------
Each metric kind is one ``INSERT … SELECT … GROUP BY … ON CONFLICT (round, team, metric) DO UPDATE``:
the database groups the counter rows and writes the aggregates without a row crossing into Python. The
only Python-side inputs are small tables built from the instrument definitions (metric names, scale
resolutions, which score buckets lie in which band), joined in as ``VALUES`` lists, and, for response
rates, the invitations grouped by their team list (one row per distinct team set, not per person).
PostgreSQL and SQLite (≥ 3.24) both speak this upsert. ``bulk_create(update_conflicts=True)`` would do
the same but first builds a model instance per row in Python: measured at 0.8 s per 10,000 rows, about
13 s for the 170,000 aggregates of ``pulse_bench aggregate``'s organisation, against under 1 s of SQL.

The update half only touches rows whose values differ, so a rerun rewrites nothing (counters never change
after close) and returns 0. Two workers serialise on the round's row lock: the second waits, recomputes
the same numbers and changes nothing, and no deadlock between two upserts is possible. Cost, measured by
``pulse_bench aggregate`` (100,000 people, 10,000 teams): about 1 s of grouping and about 4 s to store
170,000 rows, most of it PostgreSQL's own per-row work on this table (seven indexes, four foreign-key
checks at commit).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from pulse.analysis.metrics import Metric
from pulse.disclosure.rules import MetricKind, RosterChange, roster_changes_withhold, threshold_for
from pulse.models import TeamAggregate, TeamRosterChange
from surveys.definitions import CHOICE, InstrumentDef, ScaleDef, format_number
from surveys.models import Invitation, RespondentCount, Round, ScoreCount, Team
from surveys.scoring import bucket_score, scale_resolution
from surveys.tree import counting_closure

logger = logging.getLogger(__name__)

RESPONSE_RATE = "response_rate"
# Rounds the tick aggregates per run; each is a handful of set-wise statements, so 10 is seconds at most.
DUE_BATCH = 10
# Teams per VALUES list of invited counts: 2 parameters a row keeps a statement below SQLite's 32,766 and
# PostgreSQL's 65,535 bound parameters.
BATCH_ROWS = 5000


# --- metric names and the small tables built from instrument definitions (pure) -----------------------


def question_metric(definition: InstrumentDef, question_key: str) -> str:
    return Metric.question(question_key, definition.version).name


def scale_metric(definition: InstrumentDef, scale_key: str) -> str:
    return Metric.scale(definition.key, scale_key, definition.version).name


def share_metric(definition: InstrumentDef, scale_key: str, band: str) -> str:
    return Metric.share(definition.key, scale_key, band, definition.version).name


def score_key(scale: ScaleDef, bucket: int) -> str:
    """The histogram key of a score bucket: the exact score (bucket / resolution), "48", "62.5", "150/7"."""
    return format_number(bucket_score(scale, bucket))


def bands_reached(scale: ScaleDef, bucket: int) -> list[str]:
    """The bands whose cut-off the bucket's exact score reaches (the band or beyond; see the module
    docstring). WHO-5 score 24 → both ``likely_depression`` (≤ 28) and ``poor_wellbeing`` (≤ 50)."""
    exact = bucket_score(scale, bucket)
    return [band.name for band in scale.bands if band.contains(exact)]


@dataclass(frozen=True)
class ScalePlan:
    instrument_id: int
    definition: InstrumentDef
    scale: ScaleDef

    @property
    def metric(self) -> str:
        return scale_metric(self.definition, self.scale.key)

    @property
    def resolution(self) -> int:
        return scale_resolution(self.scale)


@dataclass(frozen=True)
class MetricPlan:
    """What to compute for a round: question id → (metric, instrument id), and the scales."""

    questions: dict[int, tuple[str, int]]
    scales: list[ScalePlan]


def metric_plan(
    instruments: Sequence[tuple[int, InstrumentDef]], question_ids: Mapping[tuple[int, str], int]
) -> MetricPlan:
    """The metrics of a round from its instruments' definitions. ``question_ids`` maps (instrument id,
    question key) to the stored question id. Two instruments with the same question key and version would
    name one metric twice; the first (by instrument id) keeps it and the clash is logged."""
    questions: dict[int, tuple[str, int]] = {}
    taken: set[str] = set()
    scales: list[ScalePlan] = []
    for instrument_id, definition in sorted(instruments, key=lambda item: item[0]):
        for question in definition.questions:
            question_id = question_ids.get((instrument_id, question.key))
            if question.kind != CHOICE or question_id is None:
                continue
            metric = question_metric(definition, question.key)
            if metric in taken:
                logger.error(
                    "metric %s named twice in one round; instrument %s skipped", metric, instrument_id
                )
                continue
            taken.add(metric)
            questions[question_id] = (metric, instrument_id)
        scales.extend(ScalePlan(instrument_id, definition, scale) for scale in definition.scales)
    return MetricPlan(questions=questions, scales=scales)


def invited_per_team(
    groups: Iterable[tuple[Sequence[int], int]], paths: Mapping[int, str], root_depth: int
) -> dict[int, int]:
    """Invited people per team from (team list, invitations with that list) groups: each invitation counts
    once in every team its ballot would count in (``surveys.tree.counting_closure``: its home team's
    chain)."""
    invited: dict[int, int] = {}
    for team_ids, count in groups:
        for team_id in counting_closure(team_ids, paths, root_depth):
            invited[team_id] = invited.get(team_id, 0) + count
    return invited


# --- SQL --------------------------------------------------------------------------------------------------

_COLUMNS = (
    "round_id, team_id, organisation_id, metric, kind, instrument_id, closes_at, respondents, n, total,"
    " total_squares, histogram"
)
_CHANGING = (
    "organisation_id",
    "kind",
    "instrument_id",
    "closes_at",
    "respondents",
    "n",
    "total",
    "total_squares",
)


def _upsert_clause(table: str) -> str:
    """ON CONFLICT … DO UPDATE, skipping rows whose values are unchanged: a rerun then rewrites nothing
    (no new row versions, no index entries), so a repeated or concurrent run costs little more than reads."""
    columns = [*_CHANGING, "histogram"]
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)
    if connection.vendor == "postgresql":
        mine = ", ".join(f"{table}.{column}" for column in columns)
        theirs = ", ".join(f"EXCLUDED.{column}" for column in columns)
        changed = f"({mine}) IS DISTINCT FROM ({theirs})"
    else:
        # SQLite's IS is a null-safe equality; a histogram whose keys came out in another order is
        # rewritten, which is harmless.
        changed = "NOT (" + " AND ".join(f"{table}.{column} IS EXCLUDED.{column}" for column in columns) + ")"
    return f" ON CONFLICT (round_id, team_id, metric) DO UPDATE SET {assignments} WHERE {changed}"


def _json_object_agg() -> str:
    return "JSONB_OBJECT_AGG" if connection.vendor == "postgresql" else "JSON_GROUP_OBJECT"


def _empty_json() -> str:
    return "CAST('{}' AS JSONB)" if connection.vendor == "postgresql" else "'{}'"


def _values(rows: Sequence[tuple[Any, ...]], types: Sequence[str]) -> tuple[str, list[Any]]:
    """A ``(VALUES …)`` table with typed columns column1, column2, … (the default names in PostgreSQL and
    SQLite alike) and its flat parameter list."""
    row = "(" + ", ".join(f"CAST(%s AS {kind})" for kind in types) + ")"
    params = [value for values in rows for value in values]
    return "(VALUES " + ", ".join([row] * len(rows)) + ")", params


def _upsert(round_: Round, kind: str, grouped: str, params: Sequence[Any]) -> int:
    """Write the rows of ``grouped`` (columns team_id, metric, instrument_id, n, total, total_squares,
    histogram) for the round. The round's respondent counts are joined *after* grouping: one hash of at
    most one row per team, instead of a probe per counter row. Returns the rows inserted or changed."""
    table = connection.ops.quote_name(TeamAggregate._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({_COLUMNS}) "
        f"SELECT %s, g.team_id, %s, g.metric, %s, g.instrument_id, %s, r.respondents, g.n, g.total,"
        f" g.total_squares, g.histogram "
        f"FROM ({grouped}) g "
        f"JOIN surveys_respondentcount r ON r.round_id = %s AND r.team_id = g.team_id "
        f"WHERE true" + _upsert_clause(table)  # WHERE: SQLite's parser needs it before ON CONFLICT
    )
    head: list[Any] = [round_.pk, round_.organisation_id, kind, round_.closes_at]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*head, *params, round_.pk])
        return max(int(cursor.rowcount), 0)


def _upsert_questions(round_: Round, plan: MetricPlan) -> int:
    """Cost: one ordered pass over the round's range of the unique (round, team, question, value) index of
    AnswerCount, grouped as it is read (no sort), then a hash join with the round's few questions."""
    if not plan.questions:
        return 0
    mapping, mapping_params = _values(
        [(qid, metric, iid) for qid, (metric, iid) in plan.questions.items()], ("BIGINT", "TEXT", "BIGINT")
    )
    grouped = (
        "SELECT q.team_id, m.column2 AS metric, m.column3 AS instrument_id, q.n, q.total, q.total_squares,"
        " q.histogram "
        "FROM (SELECT a.team_id, a.question_id, SUM(a.count) AS n,"
        " SUM(CAST(a.value AS BIGINT) * a.count) AS total,"
        " SUM(CAST(a.value AS BIGINT) * a.value * a.count) AS total_squares,"
        f" {_json_object_agg()}(CAST(a.value AS TEXT), a.count) AS histogram"
        " FROM surveys_answercount a WHERE a.round_id = %s GROUP BY a.team_id, a.question_id) q "
        f"JOIN {mapping} AS m ON m.column1 = q.question_id"
    )
    return _upsert(round_, TeamAggregate.Kind.QUESTION, grouped, [round_.pk, *mapping_params])


def _scored_buckets(round_: Round) -> dict[tuple[int, str], list[int]]:
    # DISTINCT over the round's scored score counts: a few hundred buckets at most, whatever the team count.
    buckets: dict[tuple[int, str], list[int]] = {}
    rows = (
        ScoreCount.objects.filter(round=round_, scored=True)
        .values_list("instrument_id", "scale", "bucket")
        .distinct()
        .order_by()
    )
    for instrument_id, scale, bucket in rows:
        buckets.setdefault((instrument_id, scale), []).append(bucket)
    return buckets


def _upsert_scales(round_: Round, plan: MetricPlan, buckets: Mapping[tuple[int, str], list[int]]) -> int:
    """Cost: one pass over the round's scored ScoreCount rows, hash-joined to the small bucket table (which
    gives each bucket its metric, the scale's resolution and its histogram key), grouped per team × scale.
    Σ count × bucket and Σ count × bucket² are whole numbers below 2⁵³ for any real scale (CBI: bucket ≤
    42,000), so the double-precision sums are exact in any order and the one division by the resolution is
    correctly rounded: reruns agree to the bit."""
    rows = [
        (
            scale.instrument_id,
            scale.scale.key,
            bucket,
            scale.metric,
            scale.resolution,
            score_key(scale.scale, bucket),
        )
        for scale in plan.scales
        for bucket in buckets.get((scale.instrument_id, scale.scale.key), [])
    ]
    if not rows:
        return 0
    mapping, mapping_params = _values(rows, ("BIGINT", "TEXT", "BIGINT", "TEXT", "BIGINT", "TEXT"))
    grouped = (
        "SELECT s.team_id, m.column4 AS metric, s.instrument_id, SUM(s.count) AS n,"
        " SUM(CAST(s.bucket AS DOUBLE PRECISION) * s.count) / m.column5 AS total,"
        " SUM(CAST(s.bucket AS DOUBLE PRECISION) * s.bucket * s.count) / (m.column5 * m.column5)"
        " AS total_squares,"
        f" {_json_object_agg()}(m.column6, s.count) AS histogram "
        "FROM surveys_scorecount s "
        f"JOIN {mapping} AS m"
        " ON m.column1 = s.instrument_id AND m.column2 = s.scale AND m.column3 = s.bucket "
        "WHERE s.round_id = %s AND s.scored "
        "GROUP BY s.team_id, s.instrument_id, m.column4, m.column5"
    )
    return _upsert(round_, TeamAggregate.Kind.SCALE, grouped, [*mapping_params, round_.pk])


def _upsert_shares(round_: Round, plan: MetricPlan, buckets: Mapping[tuple[int, str], list[int]]) -> int:
    """Every scored bucket joined to each band of its scale with a 0/1 "reached" flag, so n (scored
    respondents) and total (at or beyond the cut-off) come from one pass over ScoreCount."""
    rows = []
    for scale in plan.scales:
        for bucket in buckets.get((scale.instrument_id, scale.scale.key), []):
            reached = set(bands_reached(scale.scale, bucket))
            for band in scale.scale.bands:
                metric = share_metric(scale.definition, scale.scale.key, band.name)
                rows.append((scale.instrument_id, scale.scale.key, bucket, metric, int(band.name in reached)))
    if not rows:
        return 0
    mapping, mapping_params = _values(rows, ("BIGINT", "TEXT", "BIGINT", "TEXT", "BIGINT"))
    grouped = (
        "SELECT s.team_id, m.column4 AS metric, s.instrument_id, SUM(s.count) AS n,"
        f" SUM(s.count * m.column5) AS total, SUM(s.count * m.column5) AS total_squares,"
        f" {_empty_json()} AS histogram "
        "FROM surveys_scorecount s "
        f"JOIN {mapping} AS m"
        " ON m.column1 = s.instrument_id AND m.column2 = s.scale AND m.column3 = s.bucket "
        "WHERE s.round_id = %s AND s.scored "
        "GROUP BY s.team_id, s.instrument_id, m.column4"
    )
    return _upsert(round_, TeamAggregate.Kind.SHARE, grouped, [*mapping_params, round_.pk])


def _upsert_response_rates(round_: Round) -> int:
    """Invited people per team from the invitations grouped by their team list (one row per distinct list,
    about one per team, not one per person) and the team paths, joined in as VALUES batches to the teams
    that have respondent counts (≥ k). A team whose tree changed between close and now so that it shows
    more respondents than invitees gets no rate rather than one above 1."""
    root = round_.team
    paths = dict(Team.objects.subtree_of(root).order_by().values_list("pk", "path"))
    groups = Invitation.objects.filter(round=round_).values_list("teams").annotate(Count("pk")).order_by()
    invited = invited_per_team(
        ((list(teams), count) for teams, count in groups), paths, root_depth=root.path.count("/") - 2
    )
    written = 0
    rows = sorted(invited.items())
    for start in range(0, len(rows), BATCH_ROWS):
        mapping, mapping_params = _values(rows[start : start + BATCH_ROWS], ("BIGINT", "BIGINT"))
        grouped = (
            "SELECT c.team_id, %s AS metric, CAST(NULL AS BIGINT) AS instrument_id, v.column2 AS n,"
            " CAST(c.respondents AS DOUBLE PRECISION) AS total,"
            " CAST(c.respondents AS DOUBLE PRECISION) AS total_squares,"
            f" {_empty_json()} AS histogram "
            f"FROM surveys_respondentcount c JOIN {mapping} AS v ON v.column1 = c.team_id "
            "WHERE c.round_id = %s AND v.column2 >= c.respondents"
        )
        written += _upsert(
            round_, TeamAggregate.Kind.RESPONSE_RATE, grouped, [RESPONSE_RATE, *mapping_params, round_.pk]
        )
    return written


# --- roster changes since the baseline round (the roster clause of disclosure control) -------------------

#: One kind per threshold the roster clause is applied at: k (means, scores, response rates) and the larger
#: threshold of distributions, shares and comments (``pulse.disclosure.threshold_for``).
_ROSTER_KINDS = (MetricKind.MEAN, MetricKind.DISTRIBUTION)


def rosters_per_team(
    invitations: Iterable[tuple[int, Sequence[int]]],
    paths: Mapping[int, str],
    root_depth: int,
    *,
    teams: Collection[int],
) -> dict[int, set[int]]:
    """team → the people whose counting chain includes it, from (person id, invitation teams) pairs: the
    same chain their ballot would count along (``surveys.tree.counting_closure``). Only for ``teams``."""
    rosters: dict[int, set[int]] = {}
    for person_id, team_ids in invitations:
        for team_id in counting_closure(team_ids, paths, root_depth):
            if team_id in teams:
                rosters.setdefault(team_id, set()).add(person_id)
    return rosters


def baseline_round(
    history: Sequence[int],
    stored: Mapping[int, Sequence[RosterChange]],
    *,
    k: int,
    kind: MetricKind,
) -> int | None:
    """The latest round of ``history`` (a team's earlier rounds with counters, newest first) that the roster
    clause did not withhold for ``kind``, given the changes ``stored`` for the team per round. A withheld
    round does not become the baseline: round 1 shown, round 2 with one newcomer withheld, round 3 with
    round 2's roster is compared with round 1 (and withheld), never with round 2."""
    for round_id in history:
        if roster_changes_withhold(stored.get(round_id, ()), k=k, kind=kind) is None:
            return round_id
    return None


def _store_roster_changes(round_: Round) -> int:
    """Write the round's ``TeamRosterChange`` rows (see the model); returns the rows written or changed.

    Cost: one read of the teams' earlier counters in the schedule and one of their stored changes (rows
    per team × earlier round: they are scanned in Python, so a long history of a large organisation costs
    a second or two here); the invitations (person and team list) of this round and of its baseline rounds,
    only when some team has a baseline (usually one or two earlier rounds); then the few rows that differ.
    A rerun finds every row as it would write it and writes nothing.
    """
    k = round_.organisation.min_group_size
    kinds = {threshold_for(kind, k): kind for kind in _ROSTER_KINDS}  # one row when the thresholds coincide
    counted_here = RespondentCount.objects.filter(round=round_).values("team_id")
    earlier = Q(round__closes_at__lt=round_.closes_at) | Q(
        round__closes_at=round_.closes_at, round__pk__lt=round_.pk
    )
    history: dict[int, list[int]] = {}
    rows = (
        RespondentCount.objects.filter(
            earlier, round__schedule_id=round_.schedule_id, team_id__in=counted_here
        )
        .order_by("-round__closes_at", "-round__pk")
        .values_list("team_id", "round_id")
    )
    for team_id, round_id in rows:
        history.setdefault(team_id, []).append(round_id)
    teams = list(RespondentCount.objects.filter(round=round_).values_list("team_id", flat=True))
    stored: dict[int, dict[int, list[RosterChange]]] = {}
    if history:
        earlier_changes = TeamRosterChange.objects.filter(
            round_id__in={r for rounds in history.values() for r in rounds}, team_id__in=counted_here
        ).values_list("team_id", "round_id", "threshold", "joined", "left")
        for team_id, round_id, threshold, joined, left in earlier_changes:
            change = RosterChange(threshold=threshold, joined=joined, left=left)
            stored.setdefault(team_id, {}).setdefault(round_id, []).append(change)
    baselines = {
        (team_id, threshold): baseline_round(
            history.get(team_id, ()), stored.get(team_id, {}), k=k, kind=kind
        )
        for team_id in teams
        for threshold, kind in kinds.items()
    }
    wanted_rounds = {round_id for round_id in baselines.values() if round_id is not None}
    rosters: dict[int, dict[int, set[int]]] = {}
    if wanted_rounds:
        root = round_.team
        paths = dict(Team.objects.subtree_of(root).order_by().values_list("pk", "path"))
        invitations: dict[int, list[tuple[int, Sequence[int]]]] = {}
        for round_id, person_id, team_ids in (
            Invitation.objects.filter(round_id__in=[round_.pk, *wanted_rounds])
            .order_by()
            .values_list("round_id", "person_id", "teams")
        ):
            invitations.setdefault(round_id, []).append((person_id, team_ids))
        root_depth = root.path.count("/") - 2
        needed = {team_id for (team_id, _threshold), since in baselines.items() if since is not None}
        rosters = {
            round_id: rosters_per_team(pairs, paths, root_depth, teams=needed)
            for round_id, pairs in invitations.items()
        }
    nobody: set[int] = set()
    wanted: dict[tuple[int, int], tuple[int | None, int, int]] = {}
    for (team_id, threshold), since in baselines.items():
        if since is None:
            # Never published before: nothing to difference, and no row says the same as a row of 0 and 0
            # (a round of a team without a row is not withheld by the roster clause). Not storing them
            # keeps a schedule's first round, and a large organisation's first aggregation, free of writes.
            continue
        now = rosters.get(round_.pk, {}).get(team_id, nobody)
        before = rosters.get(since, {}).get(team_id, nobody)
        wanted[team_id, threshold] = (since, len(now - before), len(before - now))
    existing = {(row.team_id, row.threshold): row for row in TeamRosterChange.objects.filter(round=round_)}
    stale = [row.pk for key, row in existing.items() if key not in wanted]
    if stale:
        TeamRosterChange.objects.filter(pk__in=stale).delete()
    changed: list[TeamRosterChange] = []
    new: list[tuple[int, int, int | None, int, int]] = []
    for (team_id, threshold), (since, joined, left) in sorted(wanted.items()):
        row = existing.get((team_id, threshold))
        if row is None:
            new.append((team_id, threshold, since, joined, left))
        elif (row.since_round_id, row.joined, row.left) != (since, joined, left):
            row.since_round_id, row.joined, row.left = since, joined, left
            changed.append(row)
    if changed:
        TeamRosterChange.objects.bulk_update(
            changed, ["since_round", "joined", "left"], batch_size=BATCH_ROWS
        )
    if new:
        _insert_roster_changes(round_, new)
    return len(stale) + len(changed) + len(new)


def _insert_roster_changes(round_: Round, rows: Sequence[tuple[int, int, int | None, int, int]]) -> None:
    """INSERT … SELECT from VALUES batches of (team, threshold, since round, joined, left): one statement
    per 5,000 rows. ``bulk_create`` would build a model instance per row first, about 1 s for the 20,000
    rows of ``pulse_bench aggregate``'s first round, against about a tenth of that here."""
    quote = connection.ops.quote_name
    table = quote(TeamRosterChange._meta.db_table)
    columns = ", ".join(
        quote(c) for c in ("round_id", "team_id", "threshold", "since_round_id", "joined", "left")
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH_ROWS):
            values, params = _values(
                rows[start : start + BATCH_ROWS], ("BIGINT", "INTEGER", "BIGINT", "INTEGER", "INTEGER")
            )
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"SELECT %s, v.column1, v.column2, v.column3, v.column4, v.column5 FROM {values} AS v",
                [round_.pk, *params],
            )


# --- services ----------------------------------------------------------------------------------------------


def round_aggregate(*, round_id: int, now: datetime | None = None) -> int:
    """Compute (or recompute) every TeamAggregate of a closed, counted round.

    Returns how many aggregate rows were inserted or changed: all of them the first time, 0 on a rerun
    (the counters never change after close, so a rerun finds every row as it would write it). Does
    nothing for a round that is open or not counted yet. Runs in one transaction that first locks the
    round row: a second worker waits for the first, then finds nothing to change, so concurrent runs and
    reruns leave identical rows. ``aggregated_at`` is set by conditional UPDATE and keeps the first time.
    """
    return _aggregate(round_id, now=now, redo=True) or 0


def _aggregate(round_id: int, *, now: datetime | None, redo: bool) -> int | None:
    """The work of ``round_aggregate``; None when the round was not aggregated (not closed, or already
    aggregated and ``redo`` is False)."""
    moment = now or timezone.now()
    with transaction.atomic():
        round_ = (
            Round.objects.select_for_update(of=("self",))
            .select_related("team", "organisation")
            .filter(pk=round_id, status=Round.Status.CLOSED, counted_at__isnull=False)
            .first()
        )
        if round_ is None or (not redo and round_.aggregated_at is not None):
            return None
        instruments = list(round_.instruments.prefetch_related("questions", "scales"))
        question_ids = {
            (instrument.pk, question.key): question.pk
            for instrument in instruments
            for question in instrument.questions.all()
        }
        plan = metric_plan(
            [(instrument.pk, instrument.definition()) for instrument in instruments], question_ids
        )
        buckets = _scored_buckets(round_)
        written = (
            _upsert_questions(round_, plan)
            + _upsert_scales(round_, plan, buckets)
            + _upsert_shares(round_, plan, buckets)
            + _upsert_response_rates(round_)
        )
        roster_rows = _store_roster_changes(round_)
        Round.objects.filter(pk=round_.pk, aggregated_at__isnull=True).update(aggregated_at=moment)
    logger.info(
        "round %s aggregated: %s team aggregates and %s roster changes written or changed",
        round_id,
        written,
        roster_rows,
    )
    return written


def rounds_aggregate_due(*, now: datetime | None = None, batch: int = DUE_BATCH) -> int:
    """Tick step: aggregate closed rounds not aggregated yet, oldest close first, at most ``batch`` per run.
    Returns how many rounds were aggregated. The partial index ``round_awaiting_aggregation`` keeps the
    look-up cheap when there is nothing to do; a round another tick finished meanwhile is skipped."""
    due = (
        Round.objects.filter(status=Round.Status.CLOSED, aggregated_at__isnull=True, counted_at__isnull=False)
        .order_by("counted_at")
        .values_list("pk", flat=True)[:batch]
    )
    return sum(1 for round_id in list(due) if _aggregate(round_id, now=now, redo=False) is not None)
