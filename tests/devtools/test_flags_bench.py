"""``pulse_bench flags``: what it simulates, how it counts, and that its trend step is the trend run.

The command's own smoke run is in ``test_benchmarks.py`` (with every other benchmark); these tests check
the parts its figures rest on: the counting of false flags and delays, the naive rule on published
values, the simulated rounds (non-response, k, the close step's complementary suppression, the decline),
and that ``trend_step`` opens exactly the flags that ``pulse.services.trends.trend_run`` opens.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from pulse.analysis.metrics import metric_info
from pulse.analysis.rules import Point, SeriesInput
from pulse.devtools.benchmarks import flags as bench
from pulse.models import TeamAggregate
from pulse.services.trends import trend_run
from surveys.library import BURNOUT1

UTC = dt.UTC


def _team(pk: int, *, declining: bool, size: int = 8) -> bench.SimTeam:
    return bench.SimTeam(
        pk=pk,
        size=size,
        declining=declining,
        rate=1.0,
        burnout=np.full(size, 2.0),
        workload=np.full(size, 3.0),
    )


def test_false_flags_are_counted_per_100_team_quarters_and_delays_from_the_first_worse_round() -> None:
    teams = [_team(1, declining=False), _team(2, declining=False), _team(3, declining=True)]
    teams += [_team(4, declining=True), _team(5, declining=True), _team(6, declining=True)]
    openings = {
        (1, bench.BURNOUT): [3, 20],  # two false flags on one stable team
        (2, bench.WORKLOAD): [5],  # another metric: not counted for burnout
        (3, bench.BURNOUT): [2, 9],  # a false flag before the decline, then round 10: a delay of 1
        (4, bench.BURNOUT): [16],  # round 17: 8 rounds of decline, still in time
        (5, bench.BURNOUT): [17],  # round 18: 9 rounds, too late
    }  # team 6 is never flagged
    found = bench.figures(teams, openings)
    assert found.stable_teams == 2
    assert found.false_flags == 2
    # 2 teams × 26 weekly rounds = 4 team-quarters; 2 flags in 4 quarters = 50 per 100.
    assert found.false_per_100 == pytest.approx(50.0)
    assert found.declining_teams == 4
    assert found.early_flags == 1
    assert found.delays == (1, 8, 9)
    assert found.timely == 2
    assert found.timely_share == pytest.approx(0.5)
    assert found.flagged == 3
    assert found.median_delay == 8.0
    assert math.isnan(bench.figures([], {}).false_per_100)


def _series(means: list[float | None], *, key: tuple[int, str] = (1, bench.BURNOUT)) -> SeriesInput:
    info = metric_info(BURNOUT1, BURNOUT1.scales[0])
    assert info is not None
    start = dt.datetime(2026, 1, 5, 10, tzinfo=UTC)
    points = tuple(
        Point(closes_at=start + dt.timedelta(weeks=i), mean=mean, n=8 if mean is not None else 0)
        for i, mean in enumerate(means)
    )
    return SeriesInput(key=key, info=info, points=points)


def test_the_naive_rule_fires_on_a_shown_rise_of_half_a_point_from_the_previous_shown_round() -> None:
    start = dt.datetime(2026, 1, 5, 10, tzinfo=UTC)
    sim = bench.SimOrganisation(
        organisation=None,  # type: ignore[arg-type]  # not read by the naive rule
        root=None,  # type: ignore[arg-type]
        schedule=None,  # type: ignore[arg-type]
        teams=[],
        closes=[start + dt.timedelta(weeks=i) for i in range(5)],
    )
    history: list[float | None] = [2.0, 2.44, None, 2.96, 2.5]
    # Each trend run loads the rounds up to its own; the naive rule reads the latest two shown values.
    sim.series = [[_series(history[: step + 1])] for step in range(5)]
    # 2.44 shows as 2.4 (+0.4: no); the withheld round is skipped; 2.96 shows as 3.0, 0.6 above the 2.4
    # shown before it (fires); 2.5 is better, not worse.
    assert bench.naive_firings([sim]) == {(1, bench.BURNOUT): [3]}


@pytest.mark.django_db
def test_a_simulated_round_stores_only_what_the_close_step_would() -> None:
    rng = np.random.default_rng(3)
    (sim,) = bench.organisations_create(rng, quiet=1, declining=0, teams=6, declining_per=0)
    for step in range(4):
        bench.rounds_write(rng, [sim], step)
    rows = TeamAggregate.objects.filter(organisation=sim.organisation)
    burnout = list(rows.filter(metric=bench.BURNOUT))
    assert burnout, "some team answered"
    assert all(row.respondents >= bench.K for row in burnout)  # no team below k has a row
    for row in rows.filter(metric="response_rate"):
        size = {t.pk: t.size for t in sim.teams}.get(row.team_id, sum(t.size for t in sim.teams))
        assert row.n == size
        assert row.total == row.respondents <= row.n
    for round_id in {row.round_id for row in burnout}:
        of_round = [row for row in burnout if row.round_id == round_id]
        root = [row for row in of_round if row.team_id == sim.root.pk]
        children = sum(row.respondents for row in of_round if row.team_id != sim.root.pk)
        if root:
            # The root counts everyone; the people in no stored team below it are 0 or at least k.
            missing = root[0].respondents - children
            assert missing == 0 or missing >= bench.K
        # Answers are options of the 1–5 item: the histogram adds up to n and to the total.
        for row in of_round:
            assert sum(row.histogram.values()) == row.n
            assert sum(int(v) * c for v, c in row.histogram.items()) == row.total


def test_a_declining_team_worsens_by_a_tenth_a_round_from_round_10() -> None:
    rng = np.random.default_rng(11)
    levels = np.full(20_000, 2.0)
    before = bench._answers(rng, levels, 0.0).mean()
    shift = bench.WORSENING * (26 - (bench.DECLINE_FROM - 1))  # round 26: 17 rounds of decline
    after = bench._answers(rng, levels, shift).mean()
    # 1.7 points on the latent scale; rounding to options keeps it, the ceiling of 5 takes a little.
    assert after - before == pytest.approx(1.7, abs=0.1)


@pytest.mark.django_db
def test_the_benchmark_trend_step_opens_exactly_the_flags_trend_run_opens() -> None:
    """Two identical simulated organisations, one through ``trend_run``, one through ``trend_step``."""
    twins = []
    for _ in range(2):
        rng = np.random.default_rng(5)
        (sim,) = bench.organisations_create(rng, quiet=0, declining=1, teams=6, declining_per=3)
        twins.append((rng, sim))
    for step in range(bench.ROUNDS):
        (rng_a, a), (rng_b, b) = twins
        bench.rounds_write(rng_a, [a], step)
        bench.rounds_write(rng_b, [b], step)
        trend_run(organisation_id=a.organisation.pk, now=a.now(step))
        bench.trend_step(b, step)

    def by_position(sim: bench.SimOrganisation) -> dict[tuple[int, str], list[int]]:
        position = {team.pk: i for i, team in enumerate(sim.teams)} | {sim.root.pk: -1}
        return {
            (position[team], metric): steps for (team, metric), steps in bench.openings_read([sim]).items()
        }

    (_, a), (_, b) = twins
    assert by_position(a) == by_position(b)
    assert any(metric == bench.BURNOUT for _, metric in by_position(a)), "the declining teams are flagged"
    assert len(b.series) == bench.ROUNDS
