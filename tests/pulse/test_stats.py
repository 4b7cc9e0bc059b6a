"""Trend statistics (pulse.stats) against published worked values and the reference implementations.

Sources of the expected numbers:
- docs/science.md §3.2: n = 10, S = −39 → exact p = 0.000115, normal p = 0.000677.
- Kendall (1975), *Rank Correlation Methods*, as reprinted in Gilbert (1987), *Statistical Methods for
  Environmental Pollution Monitoring*, Table A18: upper-tail probabilities P(S ≥ s) for n = 4 … 10.
- Benjamini & Hochberg (1995), J. R. Statist. Soc. B 57:289–300, §3.2: the fifteen p-values example.
- NIST/SEMATECH e-Handbook of Statistical Methods, §6.3.2.3 (tabular CUSUM example, target 325).
- Brook & Evans (1972), Biometrika 59:539–549 (Markov-chain ARL), and Montgomery, *Introduction to
  Statistical Quality Control*, Table 9.3 (two-sided k = 0.5, h = 5: ARL₀ = 465).
"""

from __future__ import annotations

import math

import numpy as np
import pymannkendall as pmk
import pytest
from scipy import stats as sps

from pulse.analysis import stats

# --------------------------------------------------------------------------------------- Mann–Kendall


def test_science_md_worked_case_exact_vs_normal() -> None:
    # Two adjacent swaps away from perfectly decreasing: S = −45 + 2·3 = −39.
    series = [10, 9, 8, 7, 6, 5, 4, 1, 2, 3]
    result = stats.mann_kendall(series)
    assert result.s == -39
    assert result.n == 10
    assert result.method == "exact"
    assert result.var_s == 125.0  # 10·9·25/18
    assert round(result.p, 6) == 0.000115
    assert result.z == pytest.approx(-38 / math.sqrt(125))
    assert round(2 * sps.norm.sf(abs(result.z)), 6) == 0.000677  # what the normal approximation says


def test_exact_p_counts_permutations() -> None:
    # S = −39 for n = 10 means 42 or more inversions: 155 + 44 + 9 + 1 = 209 of 10! orderings, each tail.
    assert stats.mahonian(10)[-4:] == (155, 44, 9, 1)
    assert stats.exact_p_two_sided(10, -39) == 2 * 209 / math.factorial(10)
    assert stats.mahonian(4) == (1, 3, 5, 6, 5, 3, 1)  # OEIS A008302, row 4
    for n in range(1, 11):
        row = stats.mahonian(n)
        assert sum(row) == math.factorial(n)
        assert row == row[::-1]


# Gilbert (1987) Table A18 (after Kendall 1975): P(S ≥ s) under H0, as printed (3 decimals, or 2 significant
# figures for the small ones).
KENDALL_TABLE = {
    4: {0: 0.625, 2: 0.375, 4: 0.167, 6: 0.042},
    5: {0: 0.592, 2: 0.408, 4: 0.242, 6: 0.117, 8: 0.042, 10: 0.0083},
    6: {1: 0.500, 3: 0.360, 5: 0.235, 7: 0.136, 9: 0.068, 11: 0.028, 13: 0.0083, 15: 0.0014},
    7: {1: 0.500, 3: 0.386, 5: 0.281, 7: 0.191, 9: 0.119, 11: 0.068, 13: 0.035, 15: 0.015, 17: 0.0054},
    8: {2: 0.452, 4: 0.360, 6: 0.274, 8: 0.199, 10: 0.138, 12: 0.089, 14: 0.054, 16: 0.031, 18: 0.016},
    10: {1: 0.500, 9: 0.242, 17: 0.078, 25: 0.014, 33: 0.0011, 39: 0.000058, 45: 0.00000028},
}


@pytest.mark.parametrize("n", sorted(KENDALL_TABLE))
def test_exact_distribution_reproduces_kendall_table(n: int) -> None:
    for s, printed in KENDALL_TABLE[n].items():
        upper_tail = stats.exact_p_two_sided(n, s) / 2 if s else _upper_tail_at_zero(n)
        assert upper_tail == pytest.approx(printed, rel=0.05, abs=5e-4 if printed >= 0.01 else 0), (n, s)


def _upper_tail_at_zero(n: int) -> float:
    pairs = n * (n - 1) // 2
    return sum(c for k, c in enumerate(stats.mahonian(n)) if pairs - 2 * k >= 0) / math.factorial(n)


def test_exact_p_used_only_without_ties_and_up_to_ten() -> None:
    assert stats.mann_kendall([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).method == "exact"
    assert stats.mann_kendall([1, 2, 3, 4, 5, 6, 7, 8, 9, 9]).method == "normal"
    assert stats.mann_kendall(list(range(11))).method == "normal"
    # Perfect increase, n = 4: one ordering in 24 each way.
    assert stats.mann_kendall([1.0, 2.0, 3.0, 4.0]).p == pytest.approx(2 / 24)


@pytest.mark.parametrize(
    ("series", "tie_groups"),
    [
        ([1, 1, 2, 2, 2, 3], [2, 3]),
        ([3.5, 3.5, 3.5, 3.5, 3.2, 3.9, 4.1, 3.2, 3.9, 3.0, 2.8, 3.5], [5, 2, 2]),
    ],
)
def test_variance_with_ties(series: list[float], tie_groups: list[int]) -> None:
    n = len(series)
    expected = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in tie_groups)) / 18
    result = stats.mann_kendall(series)
    assert result.var_s == pytest.approx(expected)
    assert result.method == "normal"


def test_agrees_with_pymannkendall_on_ties_and_long_series() -> None:
    rng = np.random.default_rng(20240601)
    checked = 0
    for length in (6, 8, 10, 12, 15, 24):
        for _ in range(25):
            series = np.round(rng.normal(3.0, 0.4, length), 1)  # rounding to 0.1 makes ties
            series[rng.random(length) < 0.15] = np.nan
            ours = stats.mann_kendall(series)
            if ours.method != "normal":
                continue  # pymannkendall always uses the normal approximation
            theirs = pmk.original_test(series)
            assert ours.s == theirs.s
            assert ours.var_s == pytest.approx(theirs.var_s, rel=1e-12)
            assert ours.z == pytest.approx(theirs.z, rel=1e-12, abs=1e-15)
            assert ours.tau == pytest.approx(theirs.Tau, rel=1e-12)
            assert ours.p == pytest.approx(theirs.p, rel=1e-9, abs=1e-12)
            checked += 1
    assert checked > 100


def test_tau_is_kendall_tau_without_ties() -> None:
    rng = np.random.default_rng(7)
    series = rng.normal(size=9)
    assert stats.mann_kendall(series).tau == pytest.approx(sps.kendalltau(np.arange(9), series).statistic)


def test_nan_rounds_are_dropped() -> None:
    with_gaps = stats.mann_kendall([3.1, math.nan, 3.0, 2.8, math.nan, 2.9, 2.5])
    assert with_gaps == stats.mann_kendall([3.1, 3.0, 2.8, 2.9, 2.5])
    assert with_gaps.n == 5


def test_constant_series_is_no_trend_not_nan() -> None:
    result = stats.mann_kendall([3.4] * 8)
    assert (result.s, result.var_s, result.z, result.p, result.tau) == (0, 0.0, 0.0, 1.0, 0.0)


@pytest.mark.parametrize("series", [[], [2.0], [2.0, 1.0], [math.nan, 1.0, math.nan, 2.0], [math.nan] * 5])
def test_fewer_than_three_rounds_is_no_test(series: list[float]) -> None:
    result = stats.mann_kendall(series)
    assert result.method == "insufficient"
    assert result.p == 1.0
    assert result.z == 0.0
    assert result.n < 3


def test_two_points_still_report_s() -> None:
    result = stats.mann_kendall([3.0, 2.0])
    assert (result.s, result.tau, result.var_s) == (-1, -1.0, 1.0)


# ----------------------------------------------------------------------------------------- Sen's slope


@pytest.mark.parametrize("confidence", [0.80, 0.90, 0.95, 0.99])
def test_sen_matches_scipy_theilslopes_exactly(confidence: float) -> None:
    rng = np.random.default_rng(11)
    for _ in range(60):
        length = int(rng.integers(2, 16))
        times = np.cumsum(rng.integers(1, 4, length)).astype(float)  # weeks, with gaps
        values = np.round(rng.normal(60.0, 8.0, length) - 0.7 * times, 0)  # whole points: many ties
        ours = stats.sen_slope(values, times, confidence)
        theirs = sps.theilslopes(values, times, confidence)
        assert (ours.slope, ours.intercept, ours.low, ours.high) == (
            theirs.slope,
            theirs.intercept,
            theirs.low_slope,
            theirs.high_slope,
        )


def test_sen_with_tied_times_matches_scipy() -> None:
    values = [3.0, 3.4, 3.1, 2.9, 2.7, 2.8]
    times = [0.0, 0.0, 1.0, 2.0, 2.0, 3.0]
    ours = stats.sen_slope(values, times)
    theirs = sps.theilslopes(values, times, 0.95)
    assert (ours.slope, ours.intercept, ours.low, ours.high) == tuple(theirs)


def test_sen_drops_nan_points_like_scipy_on_the_rest() -> None:
    values = np.array([3.2, np.nan, 3.0, 3.1, 2.7, np.nan, 2.6, 2.5])
    times = np.array([0.0, 1, 2, 3, 4, 5, 6, 8])
    keep = ~np.isnan(values)
    ours = stats.sen_slope(values, times)
    theirs = sps.theilslopes(values[keep], times[keep], 0.95)
    assert (ours.slope, ours.intercept, ours.low, ours.high) == tuple(theirs)
    assert ours.n == 6


def test_sen_matches_pymannkendall_with_default_times() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        values = np.round(rng.normal(3.0, 0.5, 12), 1)
        values[rng.random(12) < 0.2] = np.nan
        ours = stats.sen_slope(values)
        theirs = pmk.sens_slope(values)
        assert ours.slope == theirs.slope
        assert ours.intercept == pytest.approx(theirs.intercept, rel=1e-12, abs=1e-12)


def test_sen_keeps_the_spacing_of_gaps() -> None:
    # A steady loss of 0.1 points a week, measured in weeks 0, 1, 2, 5, 6 and 9 (rounds skipped).
    times = [0.0, 1.0, 2.0, 5.0, 6.0, 9.0]
    values = [4.0 - 0.1 * t for t in times]
    result = stats.sen_slope(values, times)
    assert result.slope == pytest.approx(-0.1)
    assert result.intercept == pytest.approx(4.0)
    assert result.low == pytest.approx(-0.1)
    assert result.high == pytest.approx(-0.1)
    assert stats.sen_slope(values).slope != pytest.approx(-0.1)  # index spacing would overstate it


def test_sen_interval_brackets_the_slope() -> None:
    rng = np.random.default_rng(5)
    values = 70 - 1.5 * np.arange(12) + rng.normal(0, 4, 12)
    result = stats.sen_slope(values, confidence=0.95)
    narrower = stats.sen_slope(values, confidence=0.80)
    assert result.low <= narrower.low <= result.slope <= narrower.high <= result.high
    assert result.high < 0  # a clear decline excludes zero


@pytest.mark.parametrize(
    ("values", "times"),
    [([], None), ([3.0], None), ([math.nan, 2.0, math.nan], None), ([1.0, 2.0, 3.0], [4.0, 4.0, 4.0])],
)
def test_sen_without_two_distinct_points_is_nan(values: list[float], times: list[float] | None) -> None:
    result = stats.sen_slope(values, times)
    assert all(math.isnan(v) for v in (result.slope, result.intercept, result.low, result.high))


@pytest.mark.parametrize("confidence", [0.0, 0.5, 1.0, 95.0, -0.95])
def test_sen_refuses_a_meaningless_confidence(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        stats.sen_slope([1.0, 2.0, 3.0], confidence=confidence)


def test_sen_refuses_mismatched_times() -> None:
    with pytest.raises(ValueError, match="length"):
        stats.sen_slope([1.0, 2.0, 3.0], [0.0, 1.0])


# ----------------------------------------------------------------------------------- Benjamini–Hochberg

# Benjamini & Hochberg (1995), §3.2: fifteen p-values from a study of myocardial infarction treatment.
BH_1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
           0.6528, 0.7590, 1.000]  # fmt: skip


def test_bh_reproduces_the_1995_example() -> None:
    adjusted = stats.bh_adjust(BH_1995)
    rejected = [i for i, p in enumerate(adjusted) if p <= 0.05]
    assert rejected == [0, 1, 2, 3]  # "the first four hypotheses are rejected" at q = 0.05
    assert adjusted[3] == pytest.approx(0.0095 * 15 / 4)
    assert adjusted[4] == pytest.approx(0.0201 * 15 / 5)  # 0.0603: just misses
    # Bonferroni at 0.05/15 would reject only the first three.
    assert sum(p <= 0.05 / 15 for p in BH_1995) == 3


def test_bh_matches_scipy_in_input_order_and_passes_nan_through() -> None:
    rng = np.random.default_rng(8)
    p = rng.uniform(size=300) ** 3
    p[rng.random(300) < 0.1] = np.nan
    p[:5] = [0.2, 0.2, 0.2, 0.0, 1.0]  # ties and the ends
    adjusted = np.array(stats.bh_adjust(list(p)))
    finite = ~np.isnan(p)
    np.testing.assert_array_equal(np.isnan(adjusted), ~finite)
    np.testing.assert_allclose(
        adjusted[finite], sps.false_discovery_control(p[finite], method="bh"), rtol=1e-15
    )
    assert np.all(adjusted[finite] >= p[finite])


def test_bh_counts_only_finite_p_values() -> None:
    assert stats.bh_adjust([0.01, math.nan, 0.04]) == pytest.approx([0.02, math.nan, 0.04], nan_ok=True)
    assert stats.bh_adjust([]) == []
    assert all(math.isnan(v) for v in stats.bh_adjust([math.nan, math.nan]))


def test_bh_refuses_values_outside_the_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.bh_adjust([0.2, 1.5])


# ----------------------------------------------------------------------------------------------- CUSUM

# NIST/SEMATECH e-Handbook §6.3.2.3: twenty subgroup means, target 325, k = 0.3175, h = 4.1959, in the
# data's own units; the handbook's table prints each cumulative sum to two decimals.
NIST_MEANS = [324.925, 324.675, 324.725, 324.350, 325.350, 325.225, 324.125, 324.525, 325.225, 324.600,
              324.625, 325.150, 328.325, 327.250, 327.825, 328.500, 326.675, 327.775, 326.875,
              328.350]  # fmt: skip
NIST_UPPER = [0.00, 0.00, 0.00, 0.00, 0.03, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 3.01, 4.94, 7.45, 10.63,
              11.99, 14.44, 16.00, 19.04]  # fmt: skip
NIST_LOWER = [0.00, 0.01, 0.00, 0.33, 0.00, 0.00, 0.56, 0.72, 0.18, 0.26, 0.32] + [0.00] * 9


def test_cusum_reproduces_the_nist_handbook_table() -> None:
    deviation = [x - 325.0 for x in NIST_MEANS]
    lower = stats.cusum_lower(deviation, k=0.3175, h=4.1959)
    upper = stats.cusum_lower([-d for d in deviation], k=0.3175, h=4.1959)
    # 0.011: the handbook sums values already rounded to two decimals.
    np.testing.assert_allclose(lower.statistic, NIST_LOWER, atol=0.011)
    np.testing.assert_allclose(upper.statistic, NIST_UPPER, atol=0.011)
    assert lower.signal_at is None  # no decrease
    assert upper.signal_at == 13  # subgroup 14, the first cumulative sum above h (4.94)


def test_cusum_signals_a_sudden_drop_and_carries_over_missing_rounds() -> None:
    z = [0.3, -0.2, 0.1, -2.5, math.nan, -2.0, -1.8, 0.0]
    result = stats.cusum_lower(z)
    expected = [0.0, 0.0, 0.0, 2.0, math.nan, 3.5, 4.8, 4.3]
    np.testing.assert_allclose(result.statistic, expected)
    assert result.signal_at is None
    assert stats.cusum_lower([*z[:-1], -1.0]).signal_at == 7  # 4.8 + 1.0 − 0.5 = 5.3 > 5


def test_cusum_on_no_data() -> None:
    assert stats.cusum_lower([]) == stats.CusumResult(statistic=[], signal_at=None)


def _brook_evans_arl(k: float, h: float, states: int = 400) -> float:
    """In-control ARL of a one-sided CUSUM on N(0, 1) by the Markov chain of Brook & Evans (1972)."""
    width = 2 * h / (2 * states - 1)
    centre = np.arange(states) * width
    edges = (np.arange(1, states)[None, :] - 0.5) * width - centre[:, None] + k
    cdf = sps.norm.cdf(np.concatenate([edges, edges[:, -1:] + width], axis=1))
    transition = np.concatenate([cdf[:, :1], np.diff(cdf, axis=1)], axis=1)
    return float(np.linalg.solve(np.eye(states) - transition, np.ones(states))[0])


def test_in_control_run_length_one_and_two_sided() -> None:
    """k = 0.5, h = 5: one-sided ARL₀ ≈ 931 (Brook–Evans; Siegmund's approximation gives 938); the 465
    often quoted (docs/science.md §3.6) is the two-sided chart (Montgomery, Table 9.3): both sides at once."""
    one_sided = _brook_evans_arl(0.5, 5.0)
    assert one_sided == pytest.approx(930.9, abs=0.5)
    assert one_sided / 2 == pytest.approx(465, abs=1)
    siegmund = (math.exp(2 * 0.5 * 6.166) - 2 * 0.5 * 6.166 - 1) / (2 * 0.5**2)
    assert siegmund == pytest.approx(938, abs=1)

    rng = np.random.default_rng(465)
    chains, steps = 1000, 12_000  # P(no signal in 12,000 rounds) ≈ e^−13: censoring is negligible
    z = rng.standard_normal((chains, steps))
    lower = stats.cusum_lower_batch(z).signal_at
    upper = stats.cusum_lower_batch(-z).signal_at
    assert np.all(lower >= 0)
    run_lower = lower + 1.0
    run_two = np.minimum(lower, np.where(upper >= 0, upper, steps)) + 1.0
    for runs, target in ((run_lower, one_sided), (run_two, one_sided / 2)):
        standard_error = runs.std() / math.sqrt(chains)
        assert abs(runs.mean() - target) < 3.5 * standard_error, (runs.mean(), target)
