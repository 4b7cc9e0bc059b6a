"""Which team × metric series are worsening: the flag rules of docs/science.md §3 over a whole organisation.

Pure module: plain data in, verdicts out, no ORM; what their sentences say is data (``SeriesVerdict.said``),
worded by ``pulse.analysis.sentences`` when read.
``pulse.services.trends`` loads the team
aggregates, calls :func:`evaluate` once per organisation and hands the verdicts to the flag lifecycle
(``pulse.services.flags``).

The rules (docs/science.md §3), and the choices made where the sources leave room:

* **Window.** For each series the last ``window`` usable rounds (default 12), plus the unusable rounds that
  fall among them. A round is *unusable* when its aggregate was withheld by disclosure control (too few
  respondents: NaN, never imputed) or when the team's response rate in that round fell below half of its
  median response rate over the team's recent rounds (excluded, and named in the explanation). The time
  axis is real time in weeks from ``closes_at``, so a gap keeps its spacing.
* **Trend flag.** Mann–Kendall (Mann 1945; Kendall 1975) with the exact null distribution for n ≤ 10, Sen's
  (1968) slope with the Gilbert (1987) interval, Benjamini–Hochberg (1995) across every series tested in
  the run at q = 0.10. A trend flag needs q ≤ 0.10, a Mann–Kendall S in the worsening direction and a
  *practical* Sen slope of at least 0.05 points per round on a 1–5 item or 2 points per round on a 0–100
  score (and 2 percentage points per round for response rates). The slope per week is turned into a slope
  per round by multiplying with the series' median spacing between rounds. No series with fewer than 6
  usable rounds is tested, so none of them counts in the Benjamini–Hochberg family either.
* **Sudden shift (CUSUM).** Page's (1954) lower CUSUM, k = 0.5, h = 5 (NIST/SEMATECH e-Handbook §6.3.2.3),
  on z_t = (ȳ_t − μ₀)/(σ_w/√n_t), where μ₀ is the mean of the first half of the window's usable rounds,
  at least four (the team's own recent baseline: its estimation error offsets every z, so it uses as many
  rounds as the window can spare; a window that slides forward eventually absorbs a lasting shift, which
  is what a *sudden*-change detector should do) and σ_w is the within-round standard deviation of individual
  values pooled over the usable rounds of the window, Σ(n_t − 1)s_t² / Σ(n_t − 1), from each aggregate's
  sums. For a metric where higher is worse the chart runs on −z. The signal counts while the statistic at
  the latest round is above h *and* the latest round itself is at least k standard errors worse than the
  baseline (the statistic decays slowly, and a team already back at its baseline is not shifting). Like
  trend flags, it needs 6 usable rounds; it is not applied to response rates (no within-round variance).
* **Cut-off.** The latest team mean lies in one of the instrument's bands (``ScaleDef.bands``: WHO-5 ≤ 50,
  CBI ≥ 50, single-item burnout ≥ 3; Topp et al. 2015, Kristensen et al. 2005, Rohland et al. 2004). The
  comparison uses the exact, unrounded mean (a WHO-5 mean of 50.4 is not ≤ 50 even though it shows as 50).
* **Evaluable.** A series is evaluated only when its latest round is usable: a flag never rests on a round
  a leader cannot see, and an explanation never needs a withheld number.

Severity (documented here because it is a choice): **alert** — the latest mean is beyond the instrument's
cut-off *and* the series is worsening (trend or CUSUM); **warning** — worsening without a cut-off crossed;
**watch** — a cut-off crossed with no evidence of worsening, or a falling response rate.

Direction ("is higher better or worse?") belongs to the scale's own definition (``ScaleDef.direction``, read
through ``pulse.analysis.metrics.metric_info``), for a custom instrument's scale as for a shipped one. A scale
without a direction, single questions and band shares are not evaluated: a flag needs to know which way is
bad, and testing each item of a scale would only dilute the Benjamini–Hochberg family with the scale's own
parts.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from pulse.analysis import sentences, stats
from pulse.analysis.formatting import format_change, format_value, shown_value, slope_decimals
from pulse.analysis.metrics import MetricInfo
from surveys.definitions import BandDef, format_number, to_fraction

K = TypeVar("K", bound=Hashable)


#: A series is one team × metric: (team id, ``TeamAggregate.metric``).
SeriesKey = tuple[int, str]


class FlagKind(StrEnum):
    """A reason a flag holds. One flag per team × metric carries every reason that holds (docs/science.md
    §3.11), strongest first in :data:`REASON_ORDER`."""

    TREND = "trend"
    SHIFT = "shift"
    CUTOFF = "cutoff"
    # On-call load only (``pulse.analysis.load``, docs/science.md §3.14): a Google SRE threshold breached in
    # the latest week, one person carrying most of the pages, and, on a survey flag, load rising with it.
    THRESHOLD = "threshold"
    CONCENTRATION = (
        "busiest"  # "the busiest person carries most of the pages" (Flag.kind holds 10 characters)
    )
    JOINT = "joint"


#: Strongest first: a sustained trend, then a sudden shift (both mean worsening), then a cut-off alone; a
#: load series' threshold and concentration like a cut-off; the joint reason is context, never alone.
REASON_ORDER = (
    FlagKind.TREND,
    FlagKind.SHIFT,
    FlagKind.CUTOFF,
    FlagKind.THRESHOLD,
    FlagKind.CONCENTRATION,
    FlagKind.JOINT,
)


class Severity(StrEnum):
    WATCH = "watch"
    WARNING = "warning"
    ALERT = "alert"


SEVERITY_RANK = {Severity.WATCH: 1, Severity.WARNING: 2, Severity.ALERT: 3}


@dataclass(frozen=True)
class Point:
    """One round in which the team was asked about the metric.

    ``mean`` is None when the aggregate is withheld (or was never written: fewer respondents than k).
    ``n`` is how many values the mean is over, ``variance`` the within-round sample variance of the
    individual values (None for response rates). ``excluded``: the team's response rate collapsed.
    For a response rate, ``mean`` is in percent (0–100).
    """

    closes_at: datetime
    mean: float | None
    n: int = 0
    variance: float | None = None
    excluded: bool = False

    @property
    def usable(self) -> bool:
        return self.mean is not None and not self.excluded and math.isfinite(self.mean)


@dataclass(frozen=True)
class SeriesInput:
    key: SeriesKey
    info: MetricInfo
    points: tuple[Point, ...]  # chronological
    bands: tuple[BandDef, ...] = ()
    # One value per period (a week's on-call load), not a mean of answers: the CUSUM's standard error is
    # the spread between periods, estimated from the baseline's moving ranges (docs/science.md §3.14).
    individual: bool = False


@dataclass(frozen=True)
class TrendSettings:
    window: int = 12
    min_rounds: int = 6
    q: float = 0.10
    cusum_k: float = 0.5
    cusum_h: float = 5.0
    baseline_rounds: int = 4
    confidence: float = 0.95
    time_zone: str = "UTC"  # dates in sentences


@dataclass(frozen=True)
class SeriesVerdict:
    """What one evaluation found for one series.

    ``hits`` holds the kinds that could be judged this time (True: the condition holds; False: back within
    bounds); a kind missing from it was not judged (too few usable rounds, no cut-off, latest round
    unusable) and must leave any flag of that kind as it is.
    """

    key: SeriesKey
    evaluable: bool
    latest_closes_at: datetime | None
    hits: Mapping[FlagKind, bool]
    severity: Severity | None
    explanations: Mapping[FlagKind, str]
    status: str
    details: Mapping[str, Any]
    headline: str = ""  # in a leader's words, for the reasons that hold (empty when none does)
    # What the headline, reasons and status say, as data, worded when read (pulse.analysis.sentences.Said).
    said: Mapping[str, Any] = field(default_factory=dict)
    # Unrounded statistics, for tests and the admin (never shown to leaders as such).
    usable_rounds: int = 0
    window_rounds: int = 0
    p: float = math.nan
    q: float = math.nan
    slope_per_round: float = math.nan
    low_per_round: float = math.nan
    high_per_round: float = math.nan
    baseline: float = math.nan
    sigma_within: float = math.nan
    cusum: float = math.nan
    band: str | None = None
    excluded: tuple[datetime, ...] = field(default_factory=tuple)
    withheld: int = 0

    @property
    def flagged(self) -> bool:
        return any(self.hits.values())

    @property
    def reasons(self) -> tuple[FlagKind, ...]:
        """The reasons that hold now, strongest first."""
        return tuple(kind for kind in REASON_ORDER if self.hits.get(kind))


# ---------------------------------------------------------------------------------------------- windows


def collapsed_rounds(rates: Mapping[K, float], *, fraction: float = 0.5) -> set[K]:
    """Rounds whose response rate fell below ``fraction`` of the team's median rate (docs/science.md §3.1).

    ``rates`` maps a round to the team's published response rate in it (any unit). Rounds without a
    published rate cannot be judged here; they are withheld anyway.
    """
    if not rates:
        return set()
    median = float(np.median(np.fromiter(rates.values(), dtype=np.float64)))
    return {round_key for round_key, rate in rates.items() if rate < fraction * median}


def _window(points: Sequence[Point], size: int) -> Sequence[Point]:
    """The last ``size`` usable points and the unusable ones among them (up to 2·size points when fewer
    than ``size`` are usable)."""
    usable = [i for i, p in enumerate(points) if p.usable]
    if len(usable) >= size:
        return points[usable[-size] :]
    return points[max(0, len(points) - 2 * size) :]


def _band_for(bands: Sequence[BandDef], value: float) -> BandDef | None:
    """The first band that contains the exact mean (most severe first, as ``surveys.scoring.band_for``)."""
    exact = to_fraction(value)
    return next((band for band in bands if band.contains(exact)), None)


# ----------------------------------------------------------------------------------------------- evaluate


@dataclass(frozen=True)
class Statistics:
    """One series' row of :func:`batch_statistics` (unrounded; NaN where not computed)."""

    usable_rounds: int
    tested: bool  # enough usable rounds for a trend (and the Benjamini–Hochberg family)
    shift_tested: bool
    trend_hit: bool
    shift_hit: bool
    p: float
    q: float
    per_round: float  # Sen's slope per round, with its interval
    low: float
    high: float
    mu0: float  # the CUSUM baseline
    sigma_w: float
    cusum: float
    baseline_rounds: int


@dataclass
class _Matrix:
    values: npt.NDArray[np.float64]
    times: npt.NDArray[np.float64]
    n: npt.NDArray[np.float64]
    variance: npt.NDArray[np.float64]


def _matrix(windows: Sequence[Sequence[Point]], origin: datetime) -> _Matrix:
    rows = len(windows)
    # At least two columns: the batch statistics need one pair of rounds to form (an all-NaN one is fine).
    width = max(2, max((len(w) for w in windows), default=0))
    values = np.full((rows, width), np.nan)
    times = np.full((rows, width), np.nan)
    n = np.full((rows, width), np.nan)
    variance = np.full((rows, width), np.nan)
    for i, window in enumerate(windows):
        offset = width - len(window)  # right-aligned: the latest round is always the last column
        for j, point in enumerate(window):
            col = offset + j
            times[i, col] = (point.closes_at - origin).total_seconds() / (7 * 86400)
            if point.usable:
                assert point.mean is not None
                values[i, col] = point.mean
                n[i, col] = point.n
                if point.variance is not None:
                    variance[i, col] = point.variance
    return _Matrix(values=values, times=times, n=n, variance=variance)


def _last_finite(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    finite = ~np.isnan(rows)
    last = rows.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
    out = rows[np.arange(rows.shape[0]), last]
    return np.where(finite.any(axis=1), out, np.nan)


def evaluate(series: Sequence[SeriesInput], settings: TrendSettings | None = None) -> list[SeriesVerdict]:
    """Evaluate every series of one organisation at once; one verdict per series, in input order.

    The statistics run once over a (series × rounds) matrix: ``pulse.stats.mann_kendall_batch``,
    ``sen_slope_batch``, ``bh_adjust_array`` (across all series tested in this run) and
    ``cusum_lower_batch``. See the module docstring for the rules.
    """
    cfg = settings or TrendSettings()
    computed = batch_statistics(series, cfg)
    return [
        _verdict(s, window, cfg, st) if st is not None else _empty(s)
        for s, (window, st) in zip(series, computed, strict=True)
    ]


#: d₂ for moving ranges of two: σ ≈ mean |x_t − x_{t−1}| / 1.128 (NIST/SEMATECH e-Handbook §6.3.2.2).
MOVING_RANGE_D2 = 1.128


def batch_statistics(
    series: Sequence[SeriesInput], cfg: TrendSettings
) -> list[tuple[Sequence[Point], Statistics | None]]:
    """Each series' window and its statistics, computed for all series at once (one Benjamini–Hochberg
    family: every series tested here); None when no series has a round at all."""
    if not series:
        return []
    windows = [_window(s.points, cfg.window) for s in series]
    all_times = [p.closes_at for w in windows for p in w]
    if not all_times:
        return [(w, None) for w in windows]
    m = _matrix(windows, min(all_times))
    rows = len(series)

    mk = stats.mann_kendall_batch(m.values)
    sen = stats.sen_slope_batch(m.values, m.times, confidence=cfg.confidence)
    with np.errstate(invalid="ignore"):
        gaps = np.diff(m.times, axis=1)
    has_gap = ~np.isnan(gaps).all(axis=1)
    spacing = np.full(rows, np.nan)
    if has_gap.any():
        spacing[has_gap] = np.nanmedian(gaps[has_gap], axis=1)
    per_round = sen.slope * spacing
    low = sen.low * spacing
    high = sen.high * spacing

    direction = np.array([s.info.direction for s in series], dtype=np.float64)
    practical = np.array([s.info.practical for s in series])
    tested = mk.n >= cfg.min_rounds
    q = stats.bh_adjust_array(np.where(tested, mk.p, np.nan))
    worsening_slope = -direction * per_round
    with np.errstate(invalid="ignore"):
        trend_hit = (
            tested
            & (q <= cfg.q)
            & (-direction * mk.s > 0)
            # A hair of float tolerance: a slope of exactly 0.05 computed from sums may come out 0.04999…
            & (worsening_slope >= practical - 1e-9)
        )

    usable = ~np.isnan(m.values)
    rank = np.cumsum(usable, axis=1)
    # The baseline is the first half of the window's usable rounds (at least ``baseline_rounds``): its own
    # error shifts every z of the chart, so it should rest on as many rounds as the window can spare.
    base_size = np.maximum(cfg.baseline_rounds, mk.n // 2)
    base = usable & (rank <= base_size[:, None])
    base_count = base.sum(axis=1)
    mu0 = np.where(
        base_count > 0, np.where(base, m.values, 0.0).sum(axis=1) / np.maximum(base_count, 1), np.nan
    )
    dof = np.where(usable & (m.n >= 2) & ~np.isnan(m.variance), m.n - 1, 0.0)
    pooled = np.where(dof > 0, dof * np.nan_to_num(m.variance), 0.0).sum(axis=1)
    dof_total = dof.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma_w = np.where(dof_total > 0, np.sqrt(pooled / np.maximum(dof_total, 1)), np.nan)
    individual = np.array([s.individual for s in series])
    if individual.any():
        # One value per period: σ from the baseline's moving ranges, each value its own "mean of one".
        sigma_w[individual] = _moving_range_sigma(np.where(base, m.values, np.nan))[individual]
        m.n[individual] = np.where(usable[individual], 1.0, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (m.values - mu0[:, None]) / (sigma_w[:, None] / np.sqrt(m.n)) * direction[:, None]
    z[~np.isfinite(z)] = np.nan
    cusum = stats.cusum_lower_batch(z, k=cfg.cusum_k, h=cfg.cusum_h)
    cusum_last = _last_finite(cusum.statistic)
    is_rate = np.array([s.info.scale == "percent" for s in series])
    shift_tested = tested & ~is_rate & (sigma_w > 0) & (base_count >= cfg.baseline_rounds)
    # The shift must still show in the latest round (at least k standard errors worse than the baseline):
    # the CUSUM decays slowly, and a team already back to its baseline is not "shifting".
    with np.errstate(invalid="ignore"):
        shift_hit = shift_tested & (cusum_last > cfg.cusum_h) & (_last_finite(z) <= -cfg.cusum_k)

    computed: list[tuple[Sequence[Point], Statistics | None]] = []
    for i in range(rows):
        computed.append(
            (
                windows[i],
                Statistics(
                    usable_rounds=int(mk.n[i]),
                    tested=bool(tested[i]),
                    shift_tested=bool(shift_tested[i]),
                    trend_hit=bool(trend_hit[i]),
                    shift_hit=bool(shift_hit[i]),
                    p=float(mk.p[i]),
                    q=float(q[i]),
                    per_round=float(per_round[i]),
                    low=float(low[i]),
                    high=float(high[i]),
                    mu0=float(mu0[i]),
                    sigma_w=float(sigma_w[i]),
                    cusum=float(cusum_last[i]),
                    baseline_rounds=int(base_count[i]),
                ),
            )
        )
    return computed


def _moving_range_sigma(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per row, the mean absolute difference of consecutive finite values over d₂ (NaN below two)."""
    out = np.full(rows.shape[0], np.nan)
    for i, row in enumerate(rows):
        values = row[~np.isnan(row)]
        if len(values) >= 2:
            out[i] = float(np.mean(np.abs(np.diff(values)))) / MOVING_RANGE_D2
    return out


def _empty(s: SeriesInput) -> SeriesVerdict:
    return SeriesVerdict(
        key=s.key,
        evaluable=False,
        latest_closes_at=None,
        hits={},
        severity=None,
        explanations={},
        status="",
        details={},
    )


def _severity(info: MetricInfo, *, worsening: bool, beyond_cutoff: bool) -> Severity | None:
    """Alert: beyond the cut-off and worsening; warning: worsening; watch: beyond the cut-off, or a falling
    response rate (the module docstring says why)."""
    if info.scale == "percent":
        return Severity.WATCH if worsening else None
    if worsening and beyond_cutoff:
        return Severity.ALERT
    if worsening:
        return Severity.WARNING
    if beyond_cutoff:
        return Severity.WATCH
    return None


def _verdict(s: SeriesInput, window: Sequence[Point], cfg: TrendSettings, st: Statistics) -> SeriesVerdict:
    info = s.info
    zone = cfg.time_zone
    latest = window[-1] if window else None
    usable_points = [pt for pt in window if pt.usable]
    excluded = tuple(pt.closes_at for pt in window if pt.excluded)
    withheld = sum(1 for pt in window if pt.mean is None and not pt.excluded)
    common: dict[str, Any] = {
        "key": s.key,
        "latest_closes_at": latest.closes_at if latest else None,
        "usable_rounds": st.usable_rounds,
        "window_rounds": len(window),
        "p": st.p,
        "q": st.q,
        "slope_per_round": st.per_round,
        "low_per_round": st.low,
        "high_per_round": st.high,
        "baseline": st.mu0,
        "sigma_within": st.sigma_w,
        "cusum": st.cusum,
        "excluded": excluded,
        "withheld": withheld,
    }
    if latest is None or not latest.usable or latest.mean is None:
        return SeriesVerdict(
            evaluable=False, hits={}, severity=None, explanations={}, status="", details={}, **common
        )

    first_value = usable_points[0].mean
    assert first_value is not None
    last_value = latest.mean
    first, last = format_value(first_value, info.scale), format_value(last_value, info.scale)
    band = _band_for(s.bands, last_value) if s.bands else None
    has_trend = st.tested and math.isfinite(st.per_round)
    baseline = shown_value(st.mu0, info.scale) if math.isfinite(st.mu0) else None
    # What the sentences may say, as data (pulse.analysis.sentences): published, coarsened values only.
    said: dict[str, Any] = {
        "v": sentences.SAID_VERSION,
        "scale": info.scale,
        "first": shown_value(first_value, info.scale),
        "last": shown_value(last_value, info.scale),
        "latest": latest.closes_at.isoformat(),
        "window": len(window),
        "usable": st.usable_rounds,
        "trend": (
            {
                "slope": round(st.per_round, slope_decimals(info.scale)),
                "low": round(st.low, slope_decimals(info.scale)),
                "high": round(st.high, slope_decimals(info.scale)),
                # q as it prints: below 0.01 it says only that (0.0 here), else two decimals.
                "q": round(st.q, 2) if st.q >= 0.01 else 0.0,
                "confidence": round(100 * cfg.confidence),
            }
            if has_trend
            else None
        ),
        "band": (
            {
                "name": band.name,
                "op": band.op,
                "threshold": format_number(Fraction(band.threshold)),
                "instrument": info.instrument,
                "word": info.cutoff_word,
            }
            if band is not None
            else None
        ),
        "excluded": [moment.isoformat() for moment in excluded],
        "withheld": withheld,
    }

    hits: dict[FlagKind, bool] = {}
    if st.tested:
        hits[FlagKind.TREND] = st.trend_hit
    if st.shift_tested:
        hits[FlagKind.SHIFT] = st.shift_hit
    if s.bands:
        hits[FlagKind.CUTOFF] = band is not None

    reasons: dict[str, dict[str, Any]] = {}
    if st.trend_hit:
        reasons[FlagKind.TREND.value] = {"code": FlagKind.TREND.value, "rising": st.per_round > 0}
    if st.shift_hit:
        reasons[FlagKind.SHIFT.value] = {
            "code": FlagKind.SHIFT.value,
            "up": last_value > st.mu0,
            "baseline": baseline,
            "baseline_rounds": st.baseline_rounds,
            "cusum": round(st.cusum, 1),
            "limit": cfg.cusum_h,
        }
    if band is not None:
        reasons[FlagKind.CUTOFF.value] = {"code": FlagKind.CUTOFF.value}
    said["reasons"] = reasons
    said["headline"] = {
        "code": "survey",
        "trend": st.trend_hit,
        "shift": st.shift_hit,
        "rising": st.per_round > 0,
        "up": last_value > st.mu0,
        "baseline": baseline,
    }
    # The English fallback the flag keeps (pages word ``said`` in their reader's language).
    english = sentences.PlainEnglish(zone)
    explanations: dict[FlagKind, str] = {}
    for kind in REASON_ORDER:
        if kind.value in reasons:
            text = sentences.reason_text(kind.value, said, english, info.label)
            assert text is not None
            explanations[kind] = text
    headline = sentences.headline_text(said, english, info.label) or ""

    details: dict[str, Any] = {
        "first": first,
        "last": last,
        "latest_round_closes_at": latest.closes_at.isoformat(),
        "rounds": len(window),
        "usable_rounds": st.usable_rounds,
        "withheld_rounds": withheld,
        "excluded_rounds": [moment.isoformat() for moment in excluded],
    }
    if has_trend:
        details.update(
            slope_per_round=format_change(st.per_round, info.scale),
            ci=[format_change(st.low, info.scale), format_change(st.high, info.scale)],
            q=round(st.q, 3),
        )
    if st.shift_tested:
        details.update(baseline=format_value(st.mu0, info.scale), cusum=round(st.cusum, 1))
    if band is not None:
        details.update(band=band.name, cutoff=format_number(Fraction(band.threshold)), cutoff_op=band.op)
    return SeriesVerdict(
        evaluable=True,
        hits=hits,
        severity=_severity(info, worsening=st.trend_hit or st.shift_hit, beyond_cutoff=band is not None),
        explanations=explanations,
        status=sentences.status_text(said, english, info.label),
        details=details,
        headline=headline,
        said=said,
        band=band.name if band else None,
        **common,
    )
