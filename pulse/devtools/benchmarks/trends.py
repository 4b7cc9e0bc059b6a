"""Benchmark: one full trend run (Mann–Kendall + Sen + Benjamini–Hochberg + CUSUM) over every team × metric.

Workload (scale 1): 10,000 teams × 10 metrics × 12 rounds = 100,000 series, generated with a fixed seed:
five metrics are 1–5 item means and five are 0–100 scale scores, each round's team mean coarsened to 0.1 as
reports show it (so ties are common), rounds with fewer than 5 respondents suppressed (NaN,
docs/science.md §4.1) and a few more excluded, weekly/fortnightly/four-weekly cadences with occasional
skipped rounds, and one team in ten declining.

Ours: ``pulse.analysis.stats`` batch functions over the whole (series × rounds) array. Baseline: what a
Python user would write — a loop calling ``pymannkendall.original_test`` and ``pymannkendall.sens_slope``
per series, a plain-Python CUSUM loop, and ``scipy.stats.false_discovery_control`` over the p-values. The
baseline loop is timed on a deterministic sample (every 10th series) and extrapolated linearly; the output
says so. No database is touched.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pymannkendall
from scipy.stats import false_discovery_control

from pulse.analysis import stats
from pulse.devtools.benchmarks import BenchResult

TEAMS = 10_000
ROUNDS = 12
SAMPLE_EVERY = 10
SEED = 20240611
DISCLOSURE_K = 5


class _Writer(Protocol):
    def write(self, msg: str, /) -> Any: ...


@dataclass(frozen=True)
class Panel:
    values: npt.NDArray[np.float64]  # series × rounds, NaN = missing round
    times: npt.NDArray[np.float64]  # weeks since the first round
    respondents: npt.NDArray[np.float64]  # n_t per round
    sigma_within: npt.NDArray[np.float64]  # σ_w per series (column vector)


def make_panel(teams: int, seed: int = SEED) -> Panel:
    """Synthetic team aggregates shaped like Pulse's (see the module docstring)."""
    rng = np.random.default_rng(seed)
    metrics = 10
    rows = teams * metrics
    is_score = np.tile(np.arange(metrics) >= 5, teams)  # metrics 5–9 are 0–100 scores
    centre = np.where(is_score, rng.uniform(45, 75, rows), rng.uniform(2.2, 3.8, rows))
    sigma_within = np.where(is_score, 20.0, 1.0)[:, None]
    team_size = np.repeat(rng.integers(6, 16, teams), metrics)[:, None]
    respondents = np.clip(team_size - rng.binomial(team_size, 0.2, (rows, ROUNDS)), 0, None).astype(float)
    declining = np.repeat(rng.random(teams) < 0.1, metrics)
    # Declines above the practical minimum (docs/science.md §3.5): −0.1/round on 1–5, −3/round on 0–100.
    slope = np.where(declining, np.where(is_score, -3.0, -0.1), 0.0)[:, None]
    noise = rng.standard_normal((rows, ROUNDS)) * sigma_within / np.sqrt(np.maximum(respondents, 1))
    values = np.round(centre[:, None] + slope * np.arange(ROUNDS) + noise, 1)
    values = np.where(is_score[:, None], np.clip(values, 0, 100), np.clip(values, 1, 5))
    excluded = rng.random((rows, ROUNDS)) < 0.03  # response rate below half the median
    values[(respondents < DISCLOSURE_K) | excluded] = np.nan
    cadence = np.repeat(np.array([1.0, 2.0, 4.0])[rng.integers(0, 3, teams)], metrics)[:, None]
    steps = np.where(rng.random((rows, ROUNDS)) < 0.05, 2.0, 1.0)  # a skipped round keeps its gap
    steps[:, 0] = 0.0
    times = np.cumsum(steps, axis=1) * cadence
    return Panel(values=values, times=times, respondents=respondents, sigma_within=sigma_within)


def _baseline_mu0(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The team's baseline μ₀: the mean of its first four rounds that were shown."""
    first = values[:, :4]
    count = np.count_nonzero(~np.isnan(first), axis=1)
    total = np.where(np.isnan(first), 0.0, first).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)[:, None]


def run_ours(panel: Panel) -> dict[str, Any]:
    mk = stats.mann_kendall_batch(panel.values)
    sen = stats.sen_slope_batch(panel.values, panel.times)
    q = stats.bh_adjust_array(np.where(mk.n >= 6, mk.p, np.nan))  # no trend test before 6 usable rounds
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (panel.values - _baseline_mu0(panel.values)) / (panel.sigma_within / np.sqrt(panel.respondents))
    cusum = stats.cusum_lower_batch(z)
    return {"mk": mk, "sen": sen, "q": q, "cusum": cusum}


def _python_cusum(z: npt.NDArray[np.float64], k: float = 0.5, h: float = 5.0) -> int | None:
    level = 0.0
    for step, value in enumerate(z):
        if math.isnan(value):
            continue
        level = max(0.0, level - value - k)
        if level > h:
            return step
    return None


def run_baseline(panel: Panel, sample: npt.NDArray[np.intp]) -> tuple[float, dict[str, Any]]:
    """Time the per-series loop on ``sample`` rows; return seconds and what it computed."""
    mu0 = _baseline_mu0(panel.values)
    p_values = np.full(sample.size, np.nan)  # stays NaN where the loop skipped the series
    s_values = np.full(sample.size, np.nan)
    started = time.perf_counter()
    for out, row in enumerate(sample):
        series = panel.values[row]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (series - mu0[row, 0]) / (panel.sigma_within[row, 0] / np.sqrt(panel.respondents[row]))
        _python_cusum(z)
        if np.count_nonzero(~np.isnan(series)) < stats.MIN_N:  # pymannkendall divides by zero below 2
            continue
        result = pymannkendall.original_test(series)
        pymannkendall.sens_slope(series)
        s_values[out] = result.s
        p_values[out] = result.p
    usable = np.count_nonzero(~np.isnan(panel.values[sample]), axis=1) >= 6
    finite = usable & np.isfinite(p_values)
    false_discovery_control(p_values[finite], method="bh")
    return time.perf_counter() - started, {"s": s_values, "p": p_values}


def run(options: dict[str, Any], stdout: _Writer) -> BenchResult:
    scale = float(options.get("scale") or 1.0)
    teams = 10 if options.get("smoke") else max(10, round(TEAMS * scale))
    panel = make_panel(teams)
    rows = panel.values.shape[0]
    missing = np.isnan(panel.values).mean()
    stdout.write(
        f"trends: {teams:,} teams × 10 metrics × {ROUNDS} rounds = {rows:,} series "
        f"({missing:.1%} of rounds missing), 2-D times in weeks"
    )

    stats.mann_kendall_batch(panel.values[:1])  # build the exact-p table outside the timed run (~ms)
    started = time.perf_counter()
    ours = run_ours(panel)
    ours_seconds = time.perf_counter() - started
    mk = ours["mk"]
    flagged = np.count_nonzero((ours["q"] <= 0.10) & (mk.s < 0))
    signals = np.count_nonzero(ours["cusum"].signal_at >= 0)
    stdout.write(
        f"ours (pulse.analysis.stats batch: MK + Sen + BH + CUSUM over all {rows:,} series): "
        f"{ours_seconds:.3f} s; "
        f"{np.count_nonzero(mk.exact):,} exact-p tests, {flagged:,} declining at BH q ≤ 0.10, "
        f"{signals:,} CUSUM signals"
    )

    sample = np.arange(0, rows, SAMPLE_EVERY)
    sample_seconds, theirs = run_baseline(panel, sample)
    baseline_seconds = sample_seconds * rows / sample.size
    stdout.write(
        f"baseline (per-series loop: pymannkendall.original_test + sens_slope + Python CUSUM, then scipy "
        f"false_discovery_control): timed on every {SAMPLE_EVERY}th series ({sample.size:,} series, "
        f"{sample_seconds:.2f} s, {1e6 * sample_seconds / sample.size:.0f} µs/series) and extrapolated "
        f"linearly to {rows:,} series: {baseline_seconds:.2f} s"
    )

    # The two must agree where they compute the same thing: S always; p where we also use the normal
    # approximation (pymannkendall has no exact test, so for n ≤ 10 without ties the p-values differ).
    tested = mk.n[sample] >= stats.MIN_N
    same_s = np.array_equal(mk.s[sample][tested], theirs["s"][tested])
    normal = tested & ~mk.exact[sample]
    p_gap = float(np.max(np.abs(mk.p[sample][normal] - theirs["p"][normal]), initial=0.0))
    stdout.write(
        f"check: S identical on all {tested.sum():,} tested sampled series: {same_s}; "
        f"normal-approximation p (n = {normal.sum():,}) max |ours − pymannkendall| = {p_gap:.1e}"
    )
    stdout.write(f"ratio ours/baseline = {ours_seconds / baseline_seconds:.4f}")
    return BenchResult(
        name="trends",
        ours=ours_seconds,
        baseline=baseline_seconds,
        unit="s",
        target="ratio<=0.05 and ours<5s",
    )
