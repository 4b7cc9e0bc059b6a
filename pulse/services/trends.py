"""The trend run: load an organisation's team aggregates, evaluate every team × metric, update the flags.

After the aggregation step has turned a closed round into ``TeamAggregate`` rows, the tick's
:func:`trends_run_due` runs :func:`trend_run` for every organisation with rounds aggregated since its last
run. One run reads the recent rounds of the organisation and their aggregates (a few queries, whatever the
number of teams), builds one series per team × metric, and calls ``pulse.trends.evaluate`` once: the
statistics are computed for all series together, so the Benjamini–Hochberg family is every test of the run
(docs/science.md §3.4). The verdicts go to ``pulse.services.flags.flags_apply_verdicts`` in the same
transaction, which writes flags, their events and the notification outbox.

Which rounds belong to a team's series: every closed, aggregated round whose scope covered the team (the
schedule's team, and its subtree when the schedule includes it) and asked the metric's instrument
version. A round with no published aggregate for the team is a missing value (NaN), never imputed:
either the close step wrote no counters because fewer than k people answered, or the reports' release of
that round and metric (``pulse.reports``, with complementary suppression) withholds it, if only to protect
a smaller group: a flag never rests on, or states, a value the team's page does not show.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from pulse.analysis.load import evaluate_with_load
from pulse.analysis.metrics import RESPONSE_RATE, MetricInfos, metric_key
from pulse.analysis.rules import Point, SeriesInput, SeriesVerdict, TrendSettings, collapsed_rounds
from pulse.analysis.stats import variance_from_sums
from pulse.disclosure.release import TeamIndex, instrument_definitions, release_all, round_infos
from pulse.disclosure.rules import Published, aggregate_withheld
from pulse.models import OncallWeek, TeamAggregate, TrendRun
from pulse.selectors.oncall import load_weeks_for_trends
from pulse.services.flags import ApplySummary, flags_apply_verdicts
from surveys.models import Organisation, Round

logger = logging.getLogger(__name__)

DUE_BATCH = 20


def trend_settings(*, time_zone: str = "UTC") -> TrendSettings:
    return TrendSettings(
        window=settings.PULSE_TREND_WINDOW,
        min_rounds=settings.PULSE_TREND_MIN_ROUNDS,
        q=settings.PULSE_TREND_FDR,
        time_zone=time_zone,
    )


@dataclass(frozen=True)
class AskedRound:
    """A round as a series sees it: when it closed and which instrument versions (ids) it asked."""

    pk: int
    closes_at: datetime
    instruments: frozenset[int]


def trend_series_load(*, organisation: Organisation, window: int) -> list[SeriesInput]:
    """Every evaluable series of an organisation (scale scores and response rates), oldest round first.

    A value enters a series only if the reports publish it: each loaded round is released for its whole
    scope tree by the reports' own gate (``pulse.disclosure.release.release_all``, i.e.
    ``pulse.disclosure.rules.suppress_tree`` with complementary suppression, docs/science.md §4.9), and a team
    value that release withholds, even only to protect a smaller group, is a missing value. So a flag's
    sentence never states a number that the team's page withholds. A fixed number of queries.
    """
    k = organisation.min_group_size
    index = TeamIndex.of(organisation.pk)
    teams: dict[int, str] = {t.pk: t.path for t in index.ordered}
    horizon = 2 * window  # rounds per schedule: enough for a window with unusable rounds among it
    round_rows = list(
        Round.objects.filter(
            organisation=organisation, status=Round.Status.CLOSED, aggregated_at__isnull=False
        )
        .order_by("schedule_id", "-closes_at")
        .values_list("pk", "schedule_id", "closes_at", "team__path", "schedule__include_subtree")
    )
    kept: list[tuple[int, datetime, str, bool]] = []
    per_schedule: dict[int, int] = defaultdict(int)
    for pk, schedule_id, closes_at, path, subtree in round_rows:
        per_schedule[schedule_id] += 1
        if per_schedule[schedule_id] <= horizon:
            kept.append((pk, closes_at, path, subtree))
    if not kept:
        return []
    infos = round_infos(kept)

    # The rounds that asked each team, oldest first.
    covering: dict[int, list[AskedRound]] = defaultdict(list)
    for report_round in sorted(infos, key=lambda r: (r.closes_at, r.pk)):
        info = AskedRound(
            report_round.pk,
            report_round.closes_at,
            frozenset(ident for ident, _version in report_round.instruments.values()),
        )
        for team in index.ordered:
            if report_round.covers(team):
                covering[team.pk].append(info)

    evaluated = Q(kind__in=[TeamAggregate.Kind.SCALE, TeamAggregate.Kind.RESPONSE_RATE])
    releases = release_all(infos, index, organisation=organisation, condition=evaluated)
    aggregates = TeamAggregate.objects.filter(evaluated, round_id__in=[r.pk for r in infos]).values_list(
        "round_id", "team_id", "metric", "kind", "instrument_id", "respondents", "n", "total", "total_squares"
    )
    # (round, team, metric) -> (mean, n, within-round variance) of the aggregates a leader may see.
    published: dict[tuple[int, int, str], tuple[float, int, float | None]] = {}
    metrics_of_team: dict[int, dict[str, int | None]] = defaultdict(dict)
    rates: dict[int, dict[int, float]] = defaultdict(dict)
    for round_id, team_id, metric, kind, instrument_id, respondents, n, total, squares in aggregates:
        if metric_key(metric) is None or team_id not in teams:
            continue
        metrics_of_team[team_id][metric] = instrument_id
        if n <= 0 or aggregate_withheld(respondents=respondents, kind=kind, k=k):
            continue
        release = releases.get(round_id)
        # No verdict (a scope that no longer holds the team, a metric the release skips) fails closed.
        if release is None or not isinstance(release.verdict(metric, team_id), Published):
            continue
        mean = total / n
        if kind == TeamAggregate.Kind.RESPONSE_RATE:
            rates[team_id][round_id] = mean
            published[(round_id, team_id, metric)] = (100.0 * mean, n, None)
            continue
        variance = variance_from_sums(n, total, squares)
        published[(round_id, team_id, metric)] = (mean, n, variance)

    wanted = {iid for metrics in metrics_of_team.values() for iid in metrics.values() if iid}
    definitions = dict(next(iter(releases.values())).definitions) if releases else {}
    if wanted - set(definitions):  # an aggregate of an instrument its round did not list: read it apart
        definitions.update(instrument_definitions(wanted - set(definitions)))
    # Cut-offs from each instrument version's own definition (docs/science.md §3.7); direction, label and
    # display scale from its scales too, so a custom scale with a direction is evaluated like a shipped one.
    bands = {
        (iid, scale.key): scale.bands
        for iid, definition in definitions.items()
        if iid in wanted
        for scale in definition.scales
    }
    readings = MetricInfos(definitions.values())
    series: list[SeriesInput] = []
    for team_id in sorted(metrics_of_team):
        asked = covering.get(team_id, [])
        recent_rates = {r.pk: rates[team_id][r.pk] for r in asked[-window:] if r.pk in rates[team_id]}
        collapsed = collapsed_rounds(recent_rates)
        for metric, asked_with in sorted(metrics_of_team[team_id].items()):
            key = metric_key(metric)
            assert key is not None
            rounds = asked if asked_with is None else [r for r in asked if asked_with in r.instruments]
            points = []
            for r in rounds:
                found = published.get((r.pk, team_id, metric))
                points.append(
                    Point(
                        closes_at=r.closes_at,
                        mean=found[0] if found else None,
                        n=found[1] if found else 0,
                        variance=found[2] if found else None,
                        # A collapsed round is a signal of the response rate itself, not a gap in it.
                        excluded=metric != RESPONSE_RATE and r.pk in collapsed,
                    )
                )
            reading = readings.info(metric)
            if reading is None or not any(point.mean is not None for point in points):
                continue  # a scale without a direction is counted, never evaluated
            scale_key = key.split(".", 1)[1] if "." in key else ""
            series.append(
                SeriesInput(
                    key=(team_id, metric),
                    info=reading,
                    points=tuple(points),
                    bands=bands.get((asked_with, scale_key), ()) if asked_with else (),
                )
            )
    return series


@dataclass(frozen=True)
class TrendRunResult:
    run: TrendRun
    verdicts: list[SeriesVerdict]
    applied: ApplySummary


def trend_run(*, organisation_id: int, now: datetime | None = None) -> TrendRunResult:
    """Evaluate every team × metric of one organisation and update its flags, in one transaction.

    The organisation row is locked first, so two runs of one organisation never interleave; a run with no
    round newer than a flag's last evaluation leaves that flag as it is (``Flag.evaluated_through``), so
    running twice on the same data confirms nothing.
    """
    moment = now or timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation_id)
        watermark = Round.objects.filter(organisation=organisation).aggregate(latest=Max("aggregated_at"))[
            "latest"
        ]
        cfg = trend_settings(time_zone=organisation.time_zone)
        series = trend_series_load(organisation=organisation, window=cfg.window)
        # On-call load per team (docs/science.md §3.14): judged in the same run, so one Benjamini–Hochberg
        # family covers the survey and the load tests, and a wellbeing flag can say what load did meanwhile.
        load = load_weeks_for_trends(TeamIndex.of(organisation.pk).by_id, weeks=cfg.window, until=moment)
        verdicts = evaluate_with_load(series, load, settings=cfg)
        applied = flags_apply_verdicts(organisation=organisation, verdicts=verdicts, now=moment)
        run = TrendRun.objects.create(
            organisation=organisation,
            watermark=watermark,
            started_at=moment,
            series=len(verdicts),
            tested=sum(1 for v in verdicts if not math.isnan(v.q)),
            hits=sum(1 for v in verdicts if v.flagged),
            seconds=time.perf_counter() - started,
        )
    logger.info(
        "trend run %s for organisation %s: %s series, %s with a signal; %s",
        run.pk,
        organisation_id,
        run.series,
        run.hits,
        applied,
    )
    return TrendRunResult(run=run, verdicts=verdicts, applied=applied)


def trends_run_due(*, now: datetime | None = None, batch: int = DUE_BATCH) -> int:
    """Tick step: a trend run for each organisation with a round aggregated since its last run, or with
    on-call weeks computed since it (a week's load is judged when it lands, not at the next round)."""
    last_run = (
        TrendRun.objects.filter(organisation=OuterRef("pk")).order_by("-watermark").values("watermark")[:1]
    )
    last_started = (
        TrendRun.objects.filter(organisation=OuterRef("pk")).order_by("-started_at").values("started_at")[:1]
    )
    load_computed = (
        OncallWeek.objects.filter(team__organisation=OuterRef("pk"))
        .order_by("-computed_at")
        .values("computed_at")[:1]
    )
    rounds_due = Q(latest__isnull=False) & (Q(last__isnull=True) | Q(latest__gt=F("last")))
    load_due = Q(load__isnull=False) & (Q(started__isnull=True) | Q(load__gt=F("started")))
    due = (
        Organisation.objects.annotate(
            latest=Max("rounds__aggregated_at"),
            last=Subquery(last_run),
            started=Subquery(last_started),
            load=Subquery(load_computed),
        )
        .filter(rounds_due | load_due)
        .order_by(F("latest").asc(nulls_last=True), "pk")
        .values_list("pk", flat=True)[:batch]
    )
    done = 0
    for organisation_id in list(due):
        trend_run(organisation_id=organisation_id, now=now)
        done += 1
    return done
