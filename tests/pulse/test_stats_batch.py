"""The batch functions of pulse.stats give bit-for-bit the scalar results; properties of the statistics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulse.analysis import stats


def _messy_panel(seed: int, rows: int, rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows like real team aggregates: 1–5 means and 0–100 scores rounded to 0.1 (ties), missing rounds,
    constant rows, rows with too few rounds, and weekly, fortnightly or irregular times."""
    rng = np.random.default_rng(seed)
    scale = np.where(rng.random(rows) < 0.5, 1.0, 25.0)[:, None]
    base = np.where(scale == 1.0, 3.0, 60.0)
    trend = rng.normal(0, 0.05, (rows, 1)) * scale
    values = np.round(base + trend * np.arange(rounds) + rng.normal(0, 0.3, (rows, rounds)) * scale, 1)
    values[rng.random((rows, rounds)) < rng.uniform(0, 0.5, (rows, 1))] = np.nan
    values[0] = 3.5
    values[1] = np.nan
    values[2, 2:] = np.nan
    values[3] = np.round(values[3], 0)  # heavy ties
    values[4, rounds // 2] = np.inf  # treated as missing, like NaN
    cadence = rng.choice([1.0, 2.0, 4.0], size=(rows, 1))
    times = np.cumsum(np.where(rng.random((rows, rounds)) < 0.1, 2.0, 1.0), axis=1) * cadence
    return values, times


@pytest.mark.parametrize("rounds", [4, 10, 12, 15])
def test_mann_kendall_batch_equals_scalar(rounds: int) -> None:
    values, _ = _messy_panel(seed=rounds, rows=600, rounds=rounds)
    batch = stats.mann_kendall_batch(values)
    scalar = [stats.mann_kendall(row) for row in values]
    for field in ("s", "var_s", "z", "p", "tau", "n"):
        np.testing.assert_array_equal(
            getattr(batch, field), [getattr(r, field) for r in scalar], err_msg=field
        )
    assert list(batch.method) == [r.method for r in scalar]
    assert {"exact", "normal", "insufficient"} <= set(batch.method) or rounds > 10


@pytest.mark.parametrize("rounds", [4, 12, 15])
@pytest.mark.parametrize("shared_times", [True, False])
def test_sen_slope_batch_equals_scalar(rounds: int, shared_times: bool) -> None:
    values, times = _messy_panel(seed=100 + rounds, rows=500, rounds=rounds)
    if shared_times:
        times = times[7]
    batch = stats.sen_slope_batch(values, times)
    scalar = [stats.sen_slope(row, times if shared_times else times[i]) for i, row in enumerate(values)]
    for field in ("slope", "intercept", "low", "high", "n"):
        np.testing.assert_array_equal(
            getattr(batch, field), [getattr(r, field) for r in scalar], err_msg=field
        )


def test_sen_slope_batch_default_times_and_confidence() -> None:
    values, _ = _messy_panel(seed=9, rows=200, rounds=12)
    batch = stats.sen_slope_batch(values, confidence=0.9)
    for i, row in enumerate(values):
        one = stats.sen_slope(row, confidence=0.9)
        np.testing.assert_array_equal(
            [batch.slope[i], batch.intercept[i], batch.low[i], batch.high[i]],
            [one.slope, one.intercept, one.low, one.high],
        )


def test_sen_slope_batch_tied_times_like_scalar() -> None:
    values = np.array([[3.0, 3.4, 3.1, 2.9, 2.7, 2.8], [1.0, 1.0, 1.0, 1.0, 1.0, 2.0]])
    times = np.array([[0.0, 0.0, 1.0, 2.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    batch = stats.sen_slope_batch(values, times)
    for i in range(2):
        one = stats.sen_slope(values[i], times[i])
        np.testing.assert_array_equal(
            [batch.slope[i], batch.intercept[i], batch.low[i], batch.high[i]],
            [one.slope, one.intercept, one.low, one.high],
        )
    assert np.isnan(batch.low[1])  # Sen's variance goes negative with ties in both: no interval


def test_cusum_batch_equals_scalar() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(-0.8, 1.0, (300, 12))
    z[rng.random(z.shape) < 0.15] = np.nan
    batch = stats.cusum_lower_batch(z, k=0.5, h=3.0)
    for i, row in enumerate(z):
        one = stats.cusum_lower(row, k=0.5, h=3.0)
        np.testing.assert_array_equal(batch.statistic[i], one.statistic)
        assert batch.signal_at[i] == (-1 if one.signal_at is None else one.signal_at)
    assert 0 < np.count_nonzero(batch.signal_at >= 0) < len(z)


def test_batch_functions_accept_one_series_and_refuse_3d() -> None:
    one = stats.mann_kendall_batch([1.0, 2.0, 3.0, 5.0])
    assert one.s.tolist() == [6]
    with pytest.raises(ValueError, match="2-D"):
        stats.mann_kendall_batch(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        stats.cusum_lower_batch(np.zeros((2, 2, 2)))


def test_batch_does_not_modify_the_callers_array() -> None:
    values = np.array([[1.0, np.inf, 3.0, 2.0]])
    stats.mann_kendall_batch(values)
    stats.sen_slope_batch(values)
    assert values[0, 1] == np.inf


# ------------------------------------------------------------------------------------------ properties

# Values on a 0.1 grid, as the aggregates are shown: ties happen, and shifting by a whole number keeps order.
grid_value = st.integers(min_value=0, max_value=1000).map(lambda v: v / 10)
series = st.lists(st.one_of(grid_value, grid_value, grid_value, st.just(math.nan)), min_size=0, max_size=16)


@settings(max_examples=150, deadline=None)
@given(series)
def test_reversing_negates_s_and_slope(values: list[float]) -> None:
    forward, backward = stats.mann_kendall(values), stats.mann_kendall(values[::-1])
    assert backward.s == -forward.s
    assert backward.var_s == forward.var_s
    assert backward.p == forward.p
    slope_forward, slope_backward = stats.sen_slope(values).slope, stats.sen_slope(values[::-1]).slope
    assert slope_backward == -slope_forward or (math.isnan(slope_forward) and math.isnan(slope_backward))


@settings(max_examples=150, deadline=None)
@given(series, st.integers(min_value=-50, max_value=50))
def test_adding_a_constant_changes_nothing(values: list[float], shift: int) -> None:
    before, after = stats.mann_kendall(values), stats.mann_kendall([v + shift for v in values])
    assert after == before
    slope_before, slope_after = (
        stats.sen_slope(values).slope,
        stats.sen_slope([v + shift for v in values]).slope,
    )
    assert slope_after == pytest.approx(slope_before, abs=1e-9, nan_ok=True)


@settings(max_examples=150, deadline=None)
@given(series, st.sampled_from([2.0, 0.5, 3.0, 25.0]))
def test_scaling_values_scales_the_slope(values: list[float], factor: float) -> None:
    base = stats.sen_slope(values)
    scaled = stats.sen_slope([v * factor for v in values])
    for a, b in ((base.slope, scaled.slope), (base.low, scaled.low), (base.high, scaled.high)):
        assert b == pytest.approx(a * factor, rel=1e-9, abs=1e-9, nan_ok=True)
    assert stats.mann_kendall([v * factor for v in values]).s == stats.mann_kendall(values).s


@settings(max_examples=200, deadline=None)
@given(series)
def test_results_are_well_formed(values: list[float]) -> None:
    mk = stats.mann_kendall(values)
    assert 0.0 <= mk.p <= 1.0
    assert -1.0 <= mk.tau <= 1.0
    assert abs(mk.s) <= mk.n * (mk.n - 1) // 2
    sen = stats.sen_slope(values)
    if not math.isnan(sen.low):
        assert sen.low <= sen.slope <= sen.high
    if mk.n >= 2 and len({v for v in values if not math.isnan(v)}) > 1:
        assert not math.isnan(sen.slope)


@settings(max_examples=60, deadline=None)
@given(st.lists(series.map(lambda s: (s + [math.nan] * 16)[:16]), min_size=1, max_size=20))
def test_batch_equals_scalar_on_generated_panels(rows: list[list[float]]) -> None:
    panel = np.array(rows)
    mk, sen = stats.mann_kendall_batch(panel), stats.sen_slope_batch(panel)
    for i, row in enumerate(rows):
        one, line = stats.mann_kendall(row), stats.sen_slope(row)
        assert (mk.s[i], mk.var_s[i], mk.z[i], mk.p[i], mk.tau[i], mk.method[i]) == (
            one.s, one.var_s, one.z, one.p, one.tau, one.method,
        )  # fmt: skip
        np.testing.assert_array_equal(
            [sen.slope[i], sen.intercept[i], sen.low[i], sen.high[i]],
            [line.slope, line.intercept, line.low, line.high],
        )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), max_size=40))
def test_bh_is_monotone_in_p_and_never_below_p(pvalues: list[float]) -> None:
    adjusted = stats.bh_adjust(pvalues)
    pairs = sorted((p, a) for p, a in zip(pvalues, adjusted, strict=True) if not math.isnan(p))
    assert all(a >= p for p, a in pairs)
    assert all(a1 <= a2 for (_, a1), (_, a2) in itertools.pairwise(pairs))
    assert all(a <= 1.0 for _, a in pairs)
