"""Trend statistics for a team's round aggregates (docs/science.md §3): pure functions, no ORM.

The unit of analysis is one round's team aggregate (a mean or a proportion), because answers are not linked
across rounds. Missing rounds (suppressed below the disclosure threshold, or excluded for a low response
rate) arrive as NaN and are dropped, never imputed.

What is here, and whose numbers it reproduces:

* :func:`mann_kendall` — the Mann–Kendall test (Mann 1945; Kendall 1975, *Rank Correlation Methods*, 4th
  ed.; formulas as in Gilbert 1987, *Statistical Methods for Environmental Pollution Monitoring*, §16.4):
  S = Σ_{i<j} sgn(x_j − x_i), Var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)]/18 over tie groups,
  Z = (S − sgn S)/√Var(S), two-sided p = 2(1 − Φ(|Z|)). For 3 ≤ n ≤ 10 without ties the p-value comes
  from the exact null distribution of S, counted from the Mahonian numbers (permutations of n by number of
  inversions), which reproduces Kendall's table (Gilbert 1987, Table A18): n = 10, S = −39 gives
  p = 0.000115 exactly where the normal approximation says 0.000677.
* :func:`sen_slope` — Sen's (1968) slope, the median of pairwise slopes over real time (weeks, so gaps keep
  their spacing), the Theil–Sen intercept median(y) − slope·median(t), and the Gilbert (1987, §16.5)
  confidence interval; the interval is computed exactly as ``scipy.stats.theilslopes(y, t, confidence)``
  does (Sen 1968, eq. 2.6, ranks rounded half to even).
* :func:`bh_adjust` — Benjamini & Hochberg (1995) step-up adjusted p-values, NaN passed through.
* :func:`cusum_lower` — Page's (1954) one-sided lower CUSUM on standardised round means, in the tabular
  form of the NIST/SEMATECH e-Handbook of Statistical Methods, §6.3.2.3.

Every scalar function has a ``*_batch`` twin that evaluates a 2-D array (series × rounds, NaN for missing)
in one go and gives bit-for-bit the same numbers; a trend run over 100,000 series of 12 rounds takes well
under a second.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import special
from scipy.stats import norm

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MKMethod = Literal["exact", "normal", "insufficient"]
#: One series in time order: a list, or a row of a numpy array (NaN = missing round).
Series = Sequence[float] | npt.NDArray[Any]

#: Below this many usable rounds there is no test: the result says p = 1 and method "insufficient".
MIN_N = 3
#: Up to this many rounds (and no ties) the exact null distribution of S is used (Gilbert 1987, Table A18
#: stops at n = 10; beyond it the normal approximation is adequate).
EXACT_MAX_N = 10
_S_OFFSET = EXACT_MAX_N * (EXACT_MAX_N - 1) // 2
_SQRT2 = math.sqrt(2.0)
# Rows per chunk in the batch functions: bounds the pairwise arrays (rows × T(T−1)/2 float64) to tens of MB
# and keeps them cache-friendly.
_CHUNK_ROWS = 8192


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class MKResult:
    """One Mann–Kendall test. ``method`` is "exact", "normal", or "insufficient" (n < 3: p = 1, z = 0)."""

    s: int
    var_s: float
    z: float
    p: float
    tau: float
    method: MKMethod
    n: int


@dataclass(frozen=True)
class MKBatch:
    """Mann–Kendall over many series; every array has one entry per series (row)."""

    s: IntArray
    var_s: FloatArray
    z: FloatArray
    p: FloatArray
    tau: FloatArray
    n: IntArray
    exact: BoolArray

    @property
    def method(self) -> npt.NDArray[np.str_]:
        """The scalar ``MKResult.method`` for each row."""
        return np.where(self.exact, "exact", np.where(self.n < MIN_N, "insufficient", "normal"))


@dataclass(frozen=True)
class SenResult:
    """Sen's slope (per unit of ``times``, i.e. per week), Theil–Sen intercept and the Gilbert interval.

    All four are NaN when fewer than two usable points (with distinct times) remain.
    """

    slope: float
    intercept: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class SenBatch:
    slope: FloatArray
    intercept: FloatArray
    low: FloatArray
    high: FloatArray
    n: IntArray


@dataclass(frozen=True)
class CusumResult:
    """``statistic[t]`` is the lower CUSUM after step t (NaN where z_t is missing; the sum carries over);
    ``signal_at`` is the first step where it exceeds h, or None."""

    statistic: list[float]
    signal_at: int | None


@dataclass(frozen=True)
class CusumBatch:
    """Lower CUSUM for many series; ``signal_at`` is −1 for a series that never signals."""

    statistic: FloatArray
    signal_at: IntArray


# ------------------------------------------------------------------------ exact null distribution of S


@cache
def mahonian(n: int) -> tuple[int, ...]:
    """Number of permutations of n items with k inversions, k = 0 … n(n−1)/2 (OEIS A008302).

    Under H0 every ordering of n distinct values is equally likely, and a permutation with k inversions has
    S = n(n−1)/2 − 2k, so these counts *are* the null distribution of S. They are the coefficients of
    ∏_{m=1..n} (1 + q + … + q^{m−1}), computed with exact integers.
    """
    counts = [1]
    for m in range(2, n + 1):
        grown = [0] * (len(counts) + m - 1)
        for i, c in enumerate(counts):
            for j in range(m):
                grown[i + j] += c
        counts = grown
    return tuple(counts)


def exact_p_two_sided(n: int, s: int) -> float:
    """Exact two-sided P(|S| ≥ |s|) under H0 for n distinct values (Kendall 1975; Gilbert 1987, Table A18
    tabulates the one-sided half of it)."""
    if n < 2:
        return 1.0
    pairs = n * (n - 1) // 2
    tail = sum(c for k, c in enumerate(mahonian(n)) if abs(pairs - 2 * k) >= abs(s))
    return min(1.0, tail / math.factorial(n))


@lru_cache(maxsize=1)
def _exact_p_table() -> FloatArray:
    """``table[n, s + 45]`` = exact two-sided p for 3 ≤ n ≤ 10; NaN for impossible (n, s)."""
    table = np.full((EXACT_MAX_N + 1, 2 * _S_OFFSET + 1), np.nan)
    for n in range(MIN_N, EXACT_MAX_N + 1):
        pairs = n * (n - 1) // 2
        for s in range(-pairs, pairs + 1, 2):
            table[n, s + _S_OFFSET] = exact_p_two_sided(n, s)
    table.setflags(write=False)
    return table


# --------------------------------------------------------------------------------------- Mann–Kendall


def _tie_term(counts: Sequence[int] | npt.NDArray[np.int64]) -> int:
    return int(sum(int(t) * (int(t) - 1) * (2 * int(t) + 5) for t in counts))


def _z_from_s(s: int, var_s: float) -> float:
    if s == 0 or var_s <= 0:
        return 0.0
    return (s - 1) / math.sqrt(var_s) if s > 0 else (s + 1) / math.sqrt(var_s)


def mann_kendall(values: Series) -> MKResult:
    """Mann–Kendall trend test on values in time order (see the module docstring for the formulas).

    NaN (a suppressed or excluded round) is dropped first, and so is ±inf, which no aggregate can produce.
    A constant series gives S = 0, Var(S) = 0, Z = 0 and p = 1 (not NaN). With n < 3 no test is made:
    S, Var(S) and tau are still reported, Z = 0, p = 1 and method = "insufficient". τ is Kendall's τ_a,
    S / (n(n−1)/2). This is the readable reference; :func:`mann_kendall_batch` gives identical numbers.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    upper = np.triu_indices(n, 1)
    diffs = (x[None, :] - x[:, None])[upper]  # x_j − x_i for i < j
    s = int(np.count_nonzero(diffs > 0)) - int(np.count_nonzero(diffs < 0))
    _, tie_counts = np.unique(x, return_counts=True)
    has_ties = bool(np.any(tie_counts > 1))
    var_s = (n * (n - 1) * (2 * n + 5) - _tie_term(tie_counts)) / 18
    pairs = n * (n - 1) // 2
    tau = s / pairs if pairs else 0.0
    if n < MIN_N:
        return MKResult(s=s, var_s=var_s, z=0.0, p=1.0, tau=tau, method="insufficient", n=n)
    z = _z_from_s(s, var_s)
    if n <= EXACT_MAX_N and not has_ties:
        p = float(_exact_p_table()[n, s + _S_OFFSET])
        return MKResult(s=s, var_s=var_s, z=z, p=p, tau=tau, method="exact", n=n)
    p = min(1.0, float(special.erfc(np.float64(abs(z)) / _SQRT2)))
    return MKResult(s=s, var_s=var_s, z=z, p=p, tau=tau, method="normal", n=n)


def _as_2d(values: npt.ArrayLike) -> FloatArray:
    x = np.array(values, dtype=np.float64)  # a copy: the caller's array is never modified
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array (series × rounds), got shape {x.shape}")
    x[~np.isfinite(x)] = np.nan
    return x


def _pair_index(rounds: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    i, j = np.triu_indices(rounds, 1)
    return i, j


def _tie_terms_rows(x: FloatArray) -> tuple[IntArray, BoolArray]:
    """Σ t(t−1)(2t+5) over the tie groups of each row (NaN excluded), and whether the row has a tie.

    Each value's group size c is the count of equal values in its row; summing (c−1)(2c+5) over the values
    of a group of size t gives t·(t−1)(2t+5), so no sorting or grouping is needed.
    """
    valid = ~np.isnan(x)
    c = np.count_nonzero(x[:, :, None] == x[:, None, :], axis=2).astype(np.int64)
    per_value = np.where(valid, (c - 1) * (2 * c + 5), 0)
    return per_value.sum(axis=1), np.any(c > 1, axis=1)


def mann_kendall_batch(values: npt.ArrayLike) -> MKBatch:
    """:func:`mann_kendall` on every row of a (series × rounds) array, NaN for missing rounds.

    Pairwise comparisons are broadcast over the T(T−1)/2 pairs of every row (a NaN compares false, so it
    drops out of S by itself); the exact p-values for n ≤ 10 come from a table built once per process.
    """
    x = _as_2d(values)
    rows, rounds = x.shape
    i, j = _pair_index(rounds)
    s = np.empty(rows, dtype=np.int64)
    tie_term = np.empty(rows, dtype=np.int64)
    has_ties = np.empty(rows, dtype=np.bool_)
    for start in range(0, rows, _CHUNK_ROWS):
        block = x[start : start + _CHUNK_ROWS]
        xi, xj = block[:, i], block[:, j]
        s[start : start + len(block)] = np.count_nonzero(xj > xi, axis=1) - np.count_nonzero(xj < xi, axis=1)
        tie_term[start : start + len(block)], has_ties[start : start + len(block)] = _tie_terms_rows(block)
    n = np.count_nonzero(~np.isnan(x), axis=1).astype(np.int64)
    var_s = (n * (n - 1) * (2 * n + 5) - tie_term) / 18
    pairs = n * (n - 1) // 2
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(pairs > 0, s / np.maximum(pairs, 1), 0.0)
        root = np.sqrt(var_s)
        z = np.where(s > 0, (s - 1) / root, np.where(s < 0, (s + 1) / root, 0.0))
    z = np.where((s == 0) | (var_s <= 0), 0.0, z)
    tested = n >= MIN_N
    z = np.where(tested, z, 0.0)
    p = np.minimum(1.0, special.erfc(np.abs(z) / _SQRT2))
    exact = tested & (n <= EXACT_MAX_N) & ~has_ties
    if exact.any():
        p[exact] = _exact_p_table()[n[exact], s[exact] + _S_OFFSET]
    p[~tested] = 1.0
    return MKBatch(s=s, var_s=var_s, z=z, p=p, tau=tau, n=n, exact=exact)


# ----------------------------------------------------------------------------------------- Sen's slope


def _alpha_from_confidence(confidence: float) -> float:
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0.5 and 1 (e.g. 0.95), got {confidence!r}")
    # Written as scipy.stats.theilslopes writes it (alpha = 1 − alpha), so the z quantile is the same float.
    return 1.0 - confidence


def _z_quantile(confidence: float) -> float:
    return float(norm.ppf(_alpha_from_confidence(confidence) / 2.0))


def sen_slope(values: Series, times: Series | None = None, confidence: float = 0.95) -> SenResult:
    """Sen's (1968) slope with the Theil–Sen intercept and the Gilbert (1987, §16.5) confidence interval.

    ``times`` are in weeks (default 0, 1, …, n−1): a skipped round keeps its spacing, so the slope is per
    week. A point whose value or time is NaN is dropped (with all its pairs); pairs with equal times carry
    no slope. The slope is the median of (y_j − y_i)/(t_j − t_i); the intercept is
    median(y) − slope·median(t) (``theilslopes(method="separate")``). With N slopes and
    C = z_{1−α/2}·√Var(S), where Var(S) discounts ties in both y and t (Sen 1968, eq. 2.6), the interval
    is the M1-th and (M2+1)-th smallest slopes, M1 = (N − C)/2 and M2 = (N + C)/2 rounded half to even as
    scipy does; it matches ``scipy.stats.theilslopes(y, t, confidence)`` to the bit.
    """
    y = np.asarray(values, dtype=np.float64).ravel()
    t = np.arange(y.size, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64).ravel()
    if t.shape != y.shape:
        raise ValueError(f"values and times differ in length: {y.size} vs {t.size}")
    z_q = _z_quantile(confidence)
    keep = np.isfinite(y) & np.isfinite(t)
    y, t = y[keep], t[keep]
    n = int(y.size)
    i, j = _pair_index(n)
    dx = t[j] - t[i]
    usable = dx != 0
    slopes = np.sort((y[j] - y[i])[usable] / dx[usable])
    nt = int(slopes.size)
    if nt == 0:
        return SenResult(slope=math.nan, intercept=math.nan, low=math.nan, high=math.nan, n=n)
    slope = float(np.median(slopes))
    intercept = float(np.median(y) - slope * np.median(t))
    _, t_ties = np.unique(t, return_counts=True)
    _, y_ties = np.unique(y, return_counts=True)
    sigsq = 1 / 18.0 * (n * (n - 1) * (2 * n + 5) - _tie_term(t_ties) - _tie_term(y_ties))
    if sigsq < 0:  # only with heavy ties in both t and y; scipy gives NaN here too
        return SenResult(slope=slope, intercept=intercept, low=math.nan, high=math.nan, n=n)
    sigma = math.sqrt(sigsq)
    upper = min(int(np.round((nt - z_q * sigma) / 2.0)), nt - 1)
    lower = max(int(np.round((nt + z_q * sigma) / 2.0)) - 1, 0)
    return SenResult(
        slope=slope, intercept=intercept, low=float(slopes[lower]), high=float(slopes[upper]), n=n
    )


def _take(sorted_rows: FloatArray, index: IntArray) -> FloatArray:
    return np.take_along_axis(sorted_rows, np.clip(index, 0, sorted_rows.shape[1] - 1)[:, None], axis=1)[:, 0]


def _median_sorted(sorted_rows: FloatArray, count: IntArray) -> FloatArray:
    """Median of the first ``count`` entries of each sorted row, computed as ``np.median`` does."""
    lo = _take(sorted_rows, (count - 1) // 2)
    hi = _take(sorted_rows, count // 2)
    med = np.where(count % 2 == 1, lo, (lo + hi) / 2)
    return np.where(count > 0, med, np.nan)


def sen_slope_batch(
    values: npt.ArrayLike, times: npt.ArrayLike | None = None, confidence: float = 0.95
) -> SenBatch:
    """:func:`sen_slope` on every row of a (series × rounds) array, bit-for-bit the same numbers.

    ``times`` is None (0 … T−1), one row shared by all series, or an array of the same shape as ``values``.
    """
    y = _as_2d(values)
    rows, rounds = y.shape
    if times is None:
        t = np.broadcast_to(np.arange(rounds, dtype=np.float64), y.shape).copy()
    else:
        t = np.array(np.broadcast_to(np.asarray(times, dtype=np.float64), y.shape))
    missing = np.isnan(y) | ~np.isfinite(t)
    y[missing] = np.nan
    t[missing] = np.nan
    z_q = _z_quantile(confidence)
    i, j = _pair_index(rounds)
    out = {name: np.full(rows, np.nan) for name in ("slope", "intercept", "low", "high")}
    n = np.count_nonzero(~missing, axis=1).astype(np.int64)
    for start in range(0, rows, _CHUNK_ROWS):
        stop = start + _CHUNK_ROWS
        yb, tb, nb = y[start:stop], t[start:stop], n[start:stop]
        dx = tb[:, j] - tb[:, i]
        dy = yb[:, j] - yb[:, i]
        usable = ~np.isnan(dx) & (dx != 0)
        slopes = np.full(dx.shape, np.nan)
        np.divide(dy, dx, out=slopes, where=usable)
        slopes.sort(axis=1)  # NaN sorts last, so the usable slopes come first in each row
        nt = np.count_nonzero(usable, axis=1).astype(np.int64)
        slope = _median_sorted(slopes, nt)
        med_y = _median_sorted(np.sort(yb, axis=1), nb)
        med_t = _median_sorted(np.sort(tb, axis=1), nb)
        intercept = med_y - slope * med_t
        t_ties, _ = _tie_terms_rows(tb)
        y_ties, _ = _tie_terms_rows(yb)
        sigsq = 1 / 18.0 * (nb * (nb - 1) * (2 * nb + 5) - t_ties - y_ties)
        with np.errstate(invalid="ignore"):
            sigma = np.sqrt(sigsq)
            upper = np.minimum(np.rint((nt - z_q * sigma) / 2.0), nt - 1)
            lower = np.maximum(np.rint((nt + z_q * sigma) / 2.0) - 1, 0)
        ok = (nt > 0) & (sigsq >= 0)
        low = np.where(ok, _take(slopes, np.where(ok, lower, 0).astype(np.int64)), np.nan)
        high = np.where(ok, _take(slopes, np.where(ok, upper, 0).astype(np.int64)), np.nan)
        has_slope = nt > 0
        out["slope"][start:stop] = np.where(has_slope, slope, np.nan)
        out["intercept"][start:stop] = np.where(has_slope, intercept, np.nan)
        out["low"][start:stop] = low
        out["high"][start:stop] = high
    return SenBatch(n=n, **out)


# ----------------------------------------------------------------------------------- Benjamini–Hochberg


def bh_adjust_array(pvalues: npt.ArrayLike) -> FloatArray:
    """Benjamini–Hochberg (1995) adjusted p-values of a 1-D array, in input order, NaN passed through.

    Only the m finite p-values are adjusted (m counts them, not the NaN): sorted ascending,
    p̃_(i) = min_{j ≥ i} min(1, p_(j)·m/j). Rejecting p̃ ≤ q is the BH step-up procedure at FDR q; this
    equals ``scipy.stats.false_discovery_control(p[finite], method="bh")``.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    pf = p[finite]
    m = pf.size
    if m == 0:
        return adjusted
    order = np.argsort(pf, kind="stable")
    ranked = pf[order] * (m / np.arange(1, m + 1, dtype=np.float64))
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.clip(ranked, 0.0, 1.0)
    adjusted[finite] = result
    return adjusted


def bh_adjust(pvalues: Series) -> list[float]:
    """Benjamini & Hochberg (1995) adjusted p-values, in input order; NaN in, NaN out (see
    :func:`bh_adjust_array`)."""
    return [float(v) for v in bh_adjust_array(np.asarray(pvalues, dtype=np.float64))]


# ----------------------------------------------------------------------------------------------- CUSUM


def cusum_lower(z: Series, k: float = 0.5, h: float = 5.0) -> CusumResult:
    """One-sided lower CUSUM (Page 1954): S_0 = 0, S_t = max(0, S_{t−1} − z_t − k), signal when S_t > h.

    ``z_t`` is the standardised round mean (ȳ_t − μ₀)/(σ_w/√n_t), so k and h are in standard-error units;
    this is the "decrease in mean" column of the tabular CUSUM in the NIST/SEMATECH e-Handbook of
    Statistical Methods, §6.3.2.3 (with z = x − target, k and h in the data's units, it reproduces that
    table). The upper CUSUM is ``cusum_lower(-z)``. A missing round (NaN) leaves the sum unchanged and
    reports NaN for that step. The sum is not reset after a signal; ``signal_at`` is the first crossing.

    In-control average run length for k = 0.5, h = 5: about 930 rounds for this one-sided chart (Siegmund's
    approximation 938); the often-quoted 465 (Montgomery, *Introduction to Statistical Quality Control*,
    Table 9.3) is the two-sided chart, upper and lower together.
    """
    level = 0.0
    statistic: list[float] = []
    signal_at: int | None = None
    for step, value in enumerate(z):
        zt = float(value)
        if math.isnan(zt):
            statistic.append(math.nan)
            continue
        level = max(0.0, level - zt - k)
        statistic.append(level)
        if signal_at is None and level > h:
            signal_at = step
    return CusumResult(statistic=statistic, signal_at=signal_at)


def cusum_lower_batch(z: npt.ArrayLike, k: float = 0.5, h: float = 5.0) -> CusumBatch:
    """:func:`cusum_lower` on every row of a (series × rounds) array of z values, NaN for missing."""
    zz = np.asarray(z, dtype=np.float64)
    if zz.ndim == 1:
        zz = zz[None, :]
    if zz.ndim != 2:
        raise ValueError(f"expected a 2-D array (series × rounds), got shape {zz.shape}")
    rows, rounds = zz.shape
    statistic = np.full((rows, rounds), np.nan)
    signal_at = np.full(rows, -1, dtype=np.int64)
    level = np.zeros(rows)
    for step in range(rounds):
        column = zz[:, step]
        present = ~np.isnan(column)
        with np.errstate(invalid="ignore"):
            level = np.where(present, np.maximum(0.0, level - column - k), level)
        statistic[:, step] = np.where(present, level, np.nan)
        newly = (signal_at < 0) & present & (level > h)
        signal_at[newly] = step
    return CusumBatch(statistic=statistic, signal_at=signal_at)


# ---------------------------------------------------------------------------------------------------------
# Round-to-round noise and the trend line a team page draws
# ---------------------------------------------------------------------------------------------------------

#: z_{0.975}: two-sided 95% (the minimum detectable change; docs/science.md §3.10).
Z_95 = 1.959963984540054


def variance_from_sums(n: int, total: float, total_squares: float) -> float | None:
    """Sample variance of individual values (n − 1 denominator) from an aggregate's sums, or None below two
    values. Clamped at 0: Σx² − (Σx)²/n of equal values can come out a hair negative in floating point."""
    if n < 2:
        return None
    return max(0.0, (total_squares - total * total / n) / (n - 1))


def minimum_detectable_change(sd: float, n1: int, n2: int, *, z: float = Z_95) -> float:
    """The smallest difference between two round means that chance alone exceeds only 5% of the time.

    z · σ_w · √(1/n₁ + 1/n₂), the two-sample z bound on a difference of means (docs/science.md
    §3.10). With an SD of 1 on a 1–5 item and two rounds of 8 people, 1.96 · √(2/8) = 0.98, "about 1 scale
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
    ``least`` points (docs/science.md §3.10: no line before 6 shown rounds). The slope per week becomes a
    slope per round through the median spacing of the rounds, as the trend run does (``pulse.trends``)."""
    if len(points) < max(2, least):
        return None
    ordered = sorted(points)
    origin = ordered[0][0]
    times = [_weeks(moment, origin) for moment, _ in ordered]
    values = [value for _, value in ordered]
    sen = sen_slope(values, times)
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
