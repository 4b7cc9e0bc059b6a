"""Aggregation of a closed round into TeamAggregate rows, checked against numbers worked out by hand.

The round is built through the real services (schedule → rounds_open_due → response_submit → round_close)
with k = 3 and this tree under the root "Engineering":

    A: p1 p2 p3 p4        B: p4 p5 p6 p9        C: p7 p8        root's own members: p10 p11

p4 is in both A and B and counts along one chain, their home team's (the deeper, then older team: A;
``surveys.tree.counting_closure``): in A and the root, not in B. p8 does not answer. Answers (WHO-5
items → raw sum × 4 = score; burnout1 1–5):

    p1  5 5 5 5 5 → 100   burnout 1        p5  1 1 1 1 1 → 20    burnout 5
    p2  2 2 2 2 2 → 40    burnout 3        p6  4 4 4 4 4 → 80    burnout 1
    p3  1 1 1 1 2 → 24    burnout 4        p7  0 0 0 0 0 → 0     burnout 3
    p4  3 3 3 3 3 → 60    burnout 2, and a comment
    p9  3 3 3 3 3 → 60    burnout 2        p10 0 0 0 0 0 → 0     burnout 3
                                           p11 5 5 5 5 5 → 100   burnout 1

Respondents: A 4 (p1–p4), B 3 (p5, p6, p9), C 1 (below k: no counters, no aggregates), root 10 (p4
once). The root's region (its respondents in neither A nor B: p7, p10, p11) is 3 = k, so the close step
may store all three (``surveys.tree.storable_teams``). Invited: A 4, B 3, C 2, root 11.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from pytest_django import DjangoAssertNumQueries

from pulse.models import TeamAggregate, TeamRosterChange
from pulse.services.aggregation import (
    RESPONSE_RATE,
    bands_reached,
    invited_per_team,
    round_aggregate,
    rounds_aggregate_due,
    score_key,
)
from pulse.tasks import aggregate_round
from surveys.models import Round, ScoreCount
from surveys.scoring import definition_for
from surveys.services.tick import tick_run
from surveys.tree import counting_closure
from surveys.tree import team_closure as closure
from tests.pulse.factories import RoundBuilder, who5

pytestmark = pytest.mark.django_db

WHO5 = "scale:who5.who5@1"
LIKELY_DEPRESSION = "share:who5.who5.likely_depression@1"
POOR_WELLBEING = "share:who5.who5.poor_wellbeing@1"
BURNOUT = "scale:burnout1.burnout1@1"
BURNED_OUT = "share:burnout1.burnout1.burned_out@1"


def build_closed_round() -> RoundBuilder:
    builder = RoundBuilder(min_group_size=3)
    for name in ("A", "B", "C"):
        builder.team(name)
    builder.person("p1", "A")
    builder.person("p2", "A")
    builder.person("p3", "A")
    builder.person("p4", "A", "B")
    builder.person("p5", "B")
    builder.person("p6", "B")
    builder.person("p9", "B")
    builder.person("p7", "C")
    builder.person("p8", "C")
    builder.person("p10", "root")
    builder.person("p11", "root")
    builder.open()
    builder.answer("p1", {**who5(5, 5, 5, 5, 5), "burnout1_1": 1})
    builder.answer("p2", {**who5(2, 2, 2, 2, 2), "burnout1_1": 3})
    builder.answer("p3", {**who5(1, 1, 1, 1, 2), "burnout1_1": 4})
    builder.answer("p4", {**who5(3, 3, 3, 3, 3), "burnout1_1": 2, "comment_1": "Too many night pages."})
    builder.answer("p5", {**who5(1, 1, 1, 1, 1), "burnout1_1": 5})
    builder.answer("p6", {**who5(4, 4, 4, 4, 4), "burnout1_1": 1})
    builder.answer("p7", {**who5(0, 0, 0, 0, 0), "burnout1_1": 3})
    builder.answer("p9", {**who5(3, 3, 3, 3, 3), "burnout1_1": 2})
    builder.answer("p10", {**who5(0, 0, 0, 0, 0), "burnout1_1": 3})
    builder.answer("p11", {**who5(5, 5, 5, 5, 5), "burnout1_1": 1})
    builder.close()
    return builder


def rows_by(builder: RoundBuilder) -> dict[tuple[str, str], TeamAggregate]:
    names = {team.pk: name for name, team in builder.teams.items()}
    assert builder.round is not None
    return {
        (names[row.team_id], row.metric): row for row in TeamAggregate.objects.filter(round=builder.round)
    }


def snapshot(round_: Round) -> list[tuple[Any, ...]]:
    return list(
        TeamAggregate.objects.filter(round=round_)
        .order_by("team_id", "metric")
        .values_list(
            "pk",
            "team_id",
            "organisation_id",
            "metric",
            "kind",
            "instrument_id",
            "closes_at",
            "respondents",
            "n",
            "total",
            "total_squares",
            "histogram",
        )
    )


def figures(row: TeamAggregate) -> tuple[int, int, float, float]:
    return (row.respondents, row.n, row.total, row.total_squares)


@pytest.fixture
def closed() -> RoundBuilder:
    return build_closed_round()


def test_every_team_at_or_above_k_gets_each_metric_and_small_teams_nothing(closed: RoundBuilder) -> None:
    assert closed.round is not None
    written = round_aggregate(round_id=closed.round.pk)
    rows = rows_by(closed)
    # Per team: 6 choice questions (5 WHO-5 items, burnout1), 2 scales, 3 shares, 1 response rate;
    # the comment question is free text and has no metric.
    assert written == len(rows) == 3 * 12
    assert {team for team, _metric in rows} == {"root", "A", "B"}  # C had 1 respondent < k = 3
    closed.round.refresh_from_db()
    assert closed.round.aggregated_at is not None


def test_question_sums_and_histograms(closed: RoundBuilder) -> None:
    assert closed.round is not None
    round_aggregate(round_id=closed.round.pk)
    rows = rows_by(closed)
    # who5_1 in A: 5, 2, 1, 3 → Σ 11, Σ² 25 + 4 + 1 + 9 = 39.
    item = rows[("A", "question:who5_1@1")]
    assert item.kind == TeamAggregate.Kind.QUESTION
    assert figures(item) == (4, 4, 11, 39)
    assert item.histogram == {"5": 1, "2": 1, "1": 1, "3": 1}
    # who5_5 in A: 5, 2, 2, 3 → Σ 12, Σ² 25 + 4 + 4 + 9 = 42.
    assert figures(rows[("A", "question:who5_5@1")]) == (4, 4, 12, 42)
    # who5_1 in B: 3, 1, 4 → Σ 8, Σ² 26.
    assert figures(rows[("B", "question:who5_1@1")]) == (3, 3, 8, 26)
    # who5_1 at the root: 5, 2, 1, 3, 1, 4, 3, 0, 0, 5 (p4 once; p7 of the small team C, p10, p11
    # included) → Σ 24, Σ² 25 + 4 + 1 + 9 + 1 + 16 + 9 + 0 + 0 + 25 = 90.
    root = rows[("root", "question:who5_1@1")]
    assert figures(root) == (10, 10, 24, 90)
    assert root.histogram == {"0": 2, "1": 2, "2": 1, "3": 2, "4": 1, "5": 2}
    assert root.instrument_id is not None
    assert root.closes_at == closed.round.closes_at


def test_scale_scores_are_exact_scores_with_histograms_keyed_by_score(closed: RoundBuilder) -> None:
    assert closed.round is not None
    round_aggregate(round_id=closed.round.pk)
    rows = rows_by(closed)
    # WHO-5 scores in A: 100, 40, 24, 60 → Σ 224, Σ² 10000 + 1600 + 576 + 3600 = 15776.
    a = rows[("A", WHO5)]
    assert a.kind == TeamAggregate.Kind.SCALE
    assert figures(a) == (4, 4, 224, 15776)
    assert a.histogram == {"100": 1, "40": 1, "24": 1, "60": 1}
    # B: 60, 20, 80 → Σ 160, Σ² 3600 + 400 + 6400 = 10400.
    assert figures(rows[("B", WHO5)]) == (3, 3, 160, 10400)
    # burnout1 in A: 1, 3, 4, 2 → Σ 10, Σ² 30; at the root: 1, 3, 4, 2, 5, 1, 2, 3, 3, 1 → Σ 25, Σ² 79.
    assert figures(rows[("A", BURNOUT)]) == (4, 4, 10, 30)
    assert figures(rows[("root", BURNOUT)]) == (10, 10, 25, 79)
    assert rows[("root", BURNOUT)].histogram == {"1": 3, "2": 2, "3": 3, "4": 1, "5": 1}


def test_parent_is_the_pooled_roll_up_with_a_shared_member_counted_once(closed: RoundBuilder) -> None:
    assert closed.round is not None
    round_aggregate(round_id=closed.round.pk)
    rows = rows_by(closed)
    root, a, b = rows[("root", WHO5)], rows[("A", WHO5)], rows[("B", WHO5)]
    # p4 is in A and B, counted in their home team A and once at the root: 10 respondents, and the tree
    # stays additive (root = A + B + its region of 3).
    assert (a.n, b.n, root.n) == (4, 3, 10)
    # WHO-5 at the root: 100, 40, 24, 60, 20, 80, 60, 0, 0, 100 → Σ 484, Σ² 36176, pooled mean 48.4.
    assert figures(root) == (10, 10, 484, 36176)
    assert root.mean == pytest.approx(48.4)
    assert root.mean != pytest.approx(((a.mean or 0) + (b.mean or 0)) / 2)  # never a mean of means
    assert root.histogram == {"0": 2, "20": 1, "24": 1, "40": 1, "60": 2, "80": 1, "100": 2}
    # Sample variance from the sums: (36176 − 484² / 10) / 9.
    assert root.variance == pytest.approx((36176 - 484**2 / 10) / 9)


def test_shares_at_or_beyond_each_cut_off(closed: RoundBuilder) -> None:
    assert closed.round is not None
    round_aggregate(round_id=closed.round.pk)
    rows = rows_by(closed)
    # likely_depression is score ≤ 28; poor_wellbeing (≤ 50) includes it (Topp et al. 2015).
    # A: 100, 40, 24, 60 → 1 (24) and 2 (40, 24) of 4.
    assert figures(rows[("A", LIKELY_DEPRESSION)]) == (4, 4, 1, 1)
    assert figures(rows[("A", POOR_WELLBEING)]) == (4, 4, 2, 2)
    # B: 60, 20, 80 → 1 and 1 of 3.
    assert figures(rows[("B", LIKELY_DEPRESSION)]) == (3, 3, 1, 1)
    assert figures(rows[("B", POOR_WELLBEING)]) == (3, 3, 1, 1)
    # Root: 24, 20, 0, 0 are ≤ 28 (4 of 10); with 40 also ≤ 50 (5 of 10).
    assert figures(rows[("root", LIKELY_DEPRESSION)]) == (10, 10, 4, 4)
    assert figures(rows[("root", POOR_WELLBEING)]) == (10, 10, 5, 5)
    assert rows[("root", POOR_WELLBEING)].mean == pytest.approx(5 / 10)
    # burned_out is burnout1 ≥ 3: A 3, 4 (2 of 4); B 5 (1 of 3); root 3, 4, 5, 3, 3 (5 of 10).
    assert figures(rows[("A", BURNED_OUT)]) == (4, 4, 2, 2)
    assert figures(rows[("B", BURNED_OUT)]) == (3, 3, 1, 1)
    assert figures(rows[("root", BURNED_OUT)]) == (10, 10, 5, 5)
    assert rows[("root", BURNED_OUT)].kind == TeamAggregate.Kind.SHARE


def test_response_rates_count_invitations_in_each_teams_closure(closed: RoundBuilder) -> None:
    assert closed.round is not None
    round_aggregate(round_id=closed.round.pk)
    rows = rows_by(closed)
    # Invited as the ballots count: A 4 (p1–p4), B 3 (p5, p6, p9; p4 counts in A), root 11 (p4 once);
    # respondents 4, 3, 10.
    assert figures(rows[("A", RESPONSE_RATE)]) == (4, 4, 4, 4)
    assert figures(rows[("B", RESPONSE_RATE)]) == (3, 3, 3, 3)
    assert figures(rows[("root", RESPONSE_RATE)]) == (10, 11, 10, 10)
    assert rows[("root", RESPONSE_RATE)].mean == pytest.approx(10 / 11)
    assert ("C", RESPONSE_RATE) not in rows  # 1 respondent < k: no rate at all


def test_rerun_writes_identical_rows(closed: RoundBuilder) -> None:
    assert closed.round is not None
    assert round_aggregate(round_id=closed.round.pk) == 36
    before = snapshot(closed.round)
    aggregated_at = Round.objects.get(pk=closed.round.pk).aggregated_at
    assert round_aggregate(round_id=closed.round.pk) == 0  # every row found as it would be written
    assert snapshot(closed.round) == before
    assert Round.objects.get(pk=closed.round.pk).aggregated_at == aggregated_at  # the first time is kept


def test_a_stale_row_is_corrected_by_a_rerun(closed: RoundBuilder) -> None:
    assert closed.round is not None
    round_aggregate(round_id=closed.round.pk)
    before = snapshot(closed.round)
    TeamAggregate.objects.filter(round=closed.round, metric=WHO5).update(total=0, histogram={})
    assert round_aggregate(round_id=closed.round.pk) == 3  # root, A and B
    assert snapshot(closed.round) == before


def test_unscorable_respondents_are_not_in_a_scales_n(closed: RoundBuilder) -> None:
    assert closed.round is not None
    team_a = closed.teams["A"]
    who5_instrument = ScoreCount.objects.filter(round=closed.round, scale="who5").values_list(
        "instrument_id", flat=True
    )[0]
    # As the close step writes it for respondents the missing-data rule gives no score.
    ScoreCount.objects.create(
        round=closed.round, team=team_a, instrument_id=who5_instrument, scale="who5", scored=False, count=2
    )
    round_aggregate(round_id=closed.round.pk)
    rows = rows_by(closed)
    assert figures(rows[("A", WHO5)]) == (4, 4, 224, 15776)
    assert figures(rows[("A", POOR_WELLBEING)]) == (4, 4, 2, 2)


def test_open_rounds_are_left_alone() -> None:
    builder = RoundBuilder()
    builder.team("A")
    for name in ("p1", "p2", "p3"):
        builder.person(name, "A")
    round_ = builder.open()
    assert round_aggregate(round_id=round_.pk) == 0
    assert rounds_aggregate_due() == 0
    assert not TeamAggregate.objects.filter(round=round_).exists()


def test_tick_step_aggregates_each_closed_round_once(closed: RoundBuilder) -> None:
    assert closed.round is not None
    assert rounds_aggregate_due() == 1
    assert TeamAggregate.objects.filter(round=closed.round).count() == 36
    assert rounds_aggregate_due() == 0  # aggregated_at is set: nothing due


def test_the_minute_tick_runs_the_aggregation_and_retention_steps(closed: RoundBuilder) -> None:
    handled = tick_run()
    assert handled["pulse.services.aggregation.rounds_aggregate_due"] == 1
    assert handled["pulse.services.retention.comments_delete_expired"] == 0  # closed today: kept
    assert TeamAggregate.objects.filter(round=closed.round).count() == 36


def test_task_takes_an_id_and_is_idempotent(closed: RoundBuilder) -> None:
    assert closed.round is not None
    assert aggregate_round(closed.round.pk) == 36
    before = snapshot(closed.round)
    assert aggregate_round(closed.round.pk) == 0
    assert snapshot(closed.round) == before


def test_query_count_does_not_grow_with_the_data(
    closed: RoundBuilder, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    # Set-wise: a fixed handful of statements (savepoint, lock, 3 for the instruments, buckets, 3 upserts,
    # 2 reads and 1 upsert for the rates, mark, release), never one per team or answer. Roster changes add 3
    # (the round's counted teams, their earlier counters, the round's stored rows); with no earlier round
    # there is no baseline, so no invitations are read and no row is written.
    assert closed.round is not None
    with django_assert_max_num_queries(17):
        round_aggregate(round_id=closed.round.pk)


def test_cbi_means_are_exact_with_scores_as_fraction_keys() -> None:
    # CBI work-related: mean of 7 items (100/75/50/25/0), item 7 reversed (Kristensen et al. 2005).
    builder = RoundBuilder(instruments=("cbi_work",), every_n_weeks=4)
    builder.team("A")
    for name in ("x", "y", "z"):
        builder.person(name, "A")
    builder.open()
    items = [f"cbi_work_{number}" for number in range(1, 8)]
    builder.answer("x", dict.fromkeys(items, 100))  # 6 × 100 + (100 − 100) → 600/7
    builder.answer("y", dict.fromkeys(items, 50))  # 7 × 50 → 50
    builder.answer("z", dict.fromkeys(items, 0))  # 6 × 0 + (100 − 0) → 100/7
    builder.close()
    assert builder.round is not None
    round_aggregate(round_id=builder.round.pk)
    rows = rows_by(builder)
    scale = rows[("A", "scale:cbi_work.cbi_work@1")]
    assert scale.n == 3
    assert scale.total == pytest.approx(600 / 7 + 50 + 100 / 7, rel=1e-15)  # = 150
    assert scale.total_squares == pytest.approx((600 / 7) ** 2 + 50**2 + (100 / 7) ** 2, rel=1e-15)
    assert scale.histogram == {"600/7": 1, "50": 1, "100/7": 1}
    # "high" is mean ≥ 50: 600/7 and 50 (2 of 3).
    assert figures(rows[("A", "share:cbi_work.cbi_work.high@1")]) == (3, 3, 2, 2)
    assert rows[("root", "scale:cbi_work.cbi_work@1")].total == scale.total


# --- pure helpers --------------------------------------------------------------------------------------


def test_bands_reached_uses_each_bands_own_cut_off() -> None:
    scale = definition_for("who5").scale("who5")
    assert scale is not None
    assert bands_reached(scale, 28) == ["likely_depression", "poor_wellbeing"]  # score 28 ≤ 28 and ≤ 50
    assert bands_reached(scale, 48) == ["poor_wellbeing"]
    assert bands_reached(scale, 52) == []  # raw 13 is not poor wellbeing (Topp et al. 2015)
    cbi = definition_for("cbi_work").scale("cbi_work")
    assert cbi is not None
    assert score_key(cbi, 36000) == "600/7"
    assert score_key(cbi, 21000) == "50"
    assert score_key(cbi, 210) == "0.5"


def test_invited_per_team_counts_a_person_in_two_teams_once_along_their_home_chain() -> None:
    paths = {1: "/1/", 2: "/1/2/", 3: "/1/3/", 4: "/1/3/4/"}
    assert closure([2, 3], paths, 0) == {1, 2, 3}
    assert counting_closure([2, 3], paths, 0) == {1, 2}  # equally deep: the older team, 2
    assert counting_closure([3, 4], paths, 0) == {1, 3, 4}  # the deeper team's chain passes through 3
    assert closure([4], paths, 1) == {3, 4}  # scope root 3: the organisation root is out of scope
    groups = [([2, 3], 1), ([2], 2), ([4], 5), ([99], 1)]  # team 99 left the scope: not counted
    assert invited_per_team(groups, paths, 0) == {1: 8, 2: 3, 3: 5, 4: 5}


# --- PostgreSQL: two workers at once -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_write_the_same_rows() -> None:
    builder = build_closed_round()
    assert builder.round is not None
    round_id = builder.round.pk
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(round_aggregate(round_id=round_id))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sorted(results) == [0, 36]  # the second waited for the first's lock, then had nothing to change
    concurrent = snapshot(builder.round)
    assert len(concurrent) == 36
    assert round_aggregate(round_id=round_id) == 0
    assert snapshot(builder.round) == concurrent
    # The schedule's first round: no baseline, so no roster rows from either worker.
    assert not TeamRosterChange.objects.filter(round_id=round_id).exists()
    rows = rows_by(builder)
    # The same figures as test_parent_is_the_pooled_roll_up_with_a_shared_member_counted_once.
    assert figures(rows[("root", WHO5)]) == (10, 10, 484, 36176)
