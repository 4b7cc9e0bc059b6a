"""The pure trend rules (pulse.trends): numbers checked against scipy, sentences, severities, windows."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as sps

from pulse.analysis.formatting import format_change, format_value
from pulse.analysis.metrics import RESPONSE_RATE, RESPONSE_RATE_INFO, MetricInfo, MetricInfos, metric_key
from pulse.analysis.rules import (
    FlagKind,
    Point,
    SeriesInput,
    Severity,
    TrendSettings,
    collapsed_rounds,
    evaluate,
)
from surveys.definitions import BandDef
from surveys.library import BURNOUT1, CBI_WORK, WHO5

UTC = dt.UTC
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def info(key: str) -> MetricInfo:
    """How a shipped scale ("who5.who5", version 1) or the response rate is read."""
    if key == RESPONSE_RATE:
        return RESPONSE_RATE_INFO
    found = MetricInfos().info(f"scale:{key}@1")
    assert found is not None
    return found


def weekly(
    values: Sequence[float | None], *, n: int = 8, sd: float = 15.0, every: int = 1
) -> tuple[Point, ...]:
    return tuple(
        Point(
            closes_at=START + dt.timedelta(weeks=every * i),
            mean=v,
            n=n if v is not None else 0,
            variance=sd * sd if v is not None else None,
        )
        for i, v in enumerate(values)
    )


def cbi(values: Sequence[float | None], *, every: int = 1) -> SeriesInput:
    return SeriesInput(
        key=(1, "scale:cbi_work.cbi_work@1"),
        info=info("cbi_work.cbi_work"),
        points=weekly(values, every=every),
        bands=CBI_WORK.scales[0].bands,
    )


def test_the_issue_example_sentence_with_numbers_from_scipy() -> None:
    """A steadily worsening CBI series, with the slope, interval and p computed independently by scipy."""
    values = [38.0, 42.0, 41.0, 45.0, 47.0, 49.0, 48.0, 54.0]
    (verdict,) = evaluate([cbi(values)])
    slope, _intercept, low, high = sps.theilslopes(values, np.arange(8.0), 0.95)
    # 8 rounds, no ties: the exact Mann–Kendall p is Kendall's exact test of values against time (S = 24).
    assert verdict.p == pytest.approx(sps.kendalltau(np.arange(8), values, method="exact").pvalue)
    assert verdict.q == verdict.p  # one test in the run
    assert verdict.slope_per_round == pytest.approx(slope)
    assert (verdict.low_per_round, verdict.high_per_round) == pytest.approx((low, high))
    expected = (
        f"Work-related burnout (CBI) rose from 38 to 54 over the last 8 rounds "
        f"({format_change(slope, '0-100')} per round, 95% CI {format_change(low, '0-100')} to "
        f"{format_change(high, '0-100')}; q < 0.01); 54 is at or above 50, the CBI convention for 'high'."
    )
    assert verdict.explanations[FlagKind.TREND] == expected
    assert verdict.hits[FlagKind.TREND] is True
    assert verdict.hits[FlagKind.CUTOFF] is True
    assert verdict.severity is Severity.ALERT  # cut-off crossed and worsening


def test_slope_per_week_becomes_slope_per_round_with_the_median_spacing() -> None:
    values = [38.0, 41.0, 40.0, 44.0, 45.0, 47.0, 46.0, 49.0]
    weekly_verdict, fortnightly = evaluate([cbi(values), cbi(values, every=2)])
    assert fortnightly.slope_per_round == pytest.approx(weekly_verdict.slope_per_round)
    assert fortnightly.q == pytest.approx(weekly_verdict.q)


def test_no_trend_test_before_six_usable_rounds() -> None:
    five = cbi([30.0, 36.0, 42.0, 48.0, 54.0])
    six = cbi([30.0, 36.0, 42.0, 48.0, 54.0, 60.0])
    five_verdict, six_verdict = evaluate([five, six])
    assert FlagKind.TREND not in five_verdict.hits
    assert math.isnan(five_verdict.q)
    assert FlagKind.CUTOFF in five_verdict.hits  # a cut-off needs no history
    assert six_verdict.hits[FlagKind.TREND] is True
    # Only the tested series is in the Benjamini–Hochberg family: its q is its own p.
    assert six_verdict.q == six_verdict.p


def test_a_withheld_round_is_missing_never_imputed_and_is_mentioned() -> None:
    values: list[float | None] = [38.0, 42.0, None, 47.0, 48.0, 51.0, 50.0, 56.0]
    (verdict,) = evaluate([cbi(values)])
    kept = [38.0, 42.0, 47.0, 48.0, 51.0, 50.0, 56.0]
    weeks = [0.0, 1.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # the gap keeps its spacing
    slope, *_ = sps.theilslopes(kept, weeks, 0.95)
    assert verdict.usable_rounds == 7
    assert verdict.withheld == 1
    assert verdict.slope_per_round == pytest.approx(slope)
    assert "over the last 8 rounds (7 usable" in verdict.explanations[FlagKind.TREND]
    assert "1 round had too few answers to show" in verdict.explanations[FlagKind.TREND]


def test_a_latest_round_that_is_withheld_leaves_every_flag_as_it_is() -> None:
    (verdict,) = evaluate([cbi([38.0, 41.0, 40.0, 44.0, 45.0, 47.0, 46.0, 52.0, None])])
    assert not verdict.evaluable
    assert verdict.hits == {}


def test_collapsed_response_rate_rounds() -> None:
    rates = {1: 0.9, 2: 0.85, 3: 0.3, 4: 0.95, 5: 0.45}
    # Median 0.85: below 0.425 is collapsed; 0.45 is low but not below half.
    assert collapsed_rounds(rates) == {3}
    assert collapsed_rounds({}) == set()


def test_an_excluded_round_is_left_out_and_named() -> None:
    points = list(weekly([38.0, 42.0, 41.0, 46.0, 48.0, 51.0, 50.0, 56.0]))
    points[3] = Point(closes_at=points[3].closes_at, mean=99.0, n=3, variance=225.0, excluded=True)
    series = SeriesInput(key=(1, "m"), info=info("cbi_work.cbi_work"), points=tuple(points), bands=())
    (verdict,) = evaluate([series])
    assert verdict.usable_rounds == 7
    assert verdict.excluded == (points[3].closes_at,)
    # Rendered in the organisation's zone (UTC here): 23 March 2026.
    assert (
        "the round closing 23 Mar 2026 was left out because its response rate fell below half"
        in (verdict.explanations[FlagKind.TREND])
    )
    assert "99" not in verdict.explanations[FlagKind.TREND]


def test_direction_who5_down_is_bad_burnout_up_is_bad() -> None:
    falling = [70.0, 68.0, 66.0, 67.0, 62.0, 60.0, 58.0, 56.0]
    who5 = SeriesInput((1, "scale:who5.who5@1"), info("who5.who5"), weekly(falling), WHO5.scales[0].bands)
    rising_who5 = SeriesInput(
        (2, "scale:who5.who5@1"), info("who5.who5"), weekly(falling[::-1]), WHO5.scales[0].bands
    )
    burnout_falling = SeriesInput(
        (3, "scale:burnout1.burnout1@1"),
        info("burnout1.burnout1"),
        weekly([3.0, 2.9, 2.8, 2.8, 2.6, 2.5, 2.4, 2.3], sd=0.9),
        BURNOUT1.scales[0].bands,
    )
    down, up, better = evaluate([who5, rising_who5, burnout_falling])
    assert down.hits[FlagKind.TREND] is True
    assert "Well-being (WHO-5) fell from 70 to 56" in down.explanations[FlagKind.TREND]
    assert down.severity is Severity.WARNING  # 56 is above the WHO-5 cut-off of 50
    assert up.hits[FlagKind.TREND] is False
    assert better.hits[FlagKind.TREND] is False
    # All three are significant; only the first is worsening.
    assert max(down.q, up.q, better.q) <= 0.10


def test_a_significant_but_tiny_slope_is_not_a_flag() -> None:
    """0.03 points per round on a 1–5 item: below the practical minimum of 0.05 (docs/science.md §3.5)."""
    values = [2.0 + 0.03 * i for i in range(12)]
    series = SeriesInput((1, "b"), info("burnout1.burnout1"), weekly(values, sd=0.9), ())
    (verdict,) = evaluate([series])
    assert verdict.q < 0.01
    assert verdict.slope_per_round == pytest.approx(0.03)
    assert verdict.hits[FlagKind.TREND] is False


def test_cusum_signals_a_sudden_shift_with_pooled_within_sd() -> None:
    """Baseline 2.0 (first four rounds), σ_w = 0.8 pooled, n = 8: SE = 0.283. A jump to 3.0 is z ≈ 3.5 a
    round, so the upper (for burnout: worsening) CUSUM passes 5 in the second round after the jump."""
    values = [2.0, 2.1, 1.9, 2.0, 2.05, 1.95, 2.0, 3.0, 3.0]
    series = SeriesInput(
        (1, "b"), info("burnout1.burnout1"), weekly(values, sd=0.8), BURNOUT1.scales[0].bands
    )
    (verdict,) = evaluate([series])
    se = 0.8 / math.sqrt(8)
    z = [(v - 2.0) / se for v in values]
    level = 0.0
    for value in z:
        level = max(0.0, level + value - 0.5)  # the lower CUSUM on −z
    assert verdict.baseline == pytest.approx(2.0)
    assert verdict.sigma_within == pytest.approx(0.8)
    assert verdict.cusum == pytest.approx(level)
    assert verdict.hits[FlagKind.SHIFT] is True
    assert verdict.hits[FlagKind.CUTOFF] is True  # 3.0 ≥ 3: burned out (Rohland et al. 2004)
    assert verdict.severity is Severity.ALERT
    assert "shifted up from a baseline of 2.0" in verdict.explanations[FlagKind.SHIFT]


def test_cutoffs_use_the_exact_mean_and_the_instrument_bands() -> None:
    """WHO-5 poor wellbeing is ≤ 50 on the exact mean: 50.4 shows as 50 but is not in the band."""
    bands = WHO5.scales[0].bands
    at = SeriesInput((1, "w"), info("who5.who5"), weekly([50.0]), bands)
    above = SeriesInput((2, "w"), info("who5.who5"), weekly([50.4]), bands)
    low = SeriesInput((3, "w"), info("who5.who5"), weekly([26.0]), bands)
    v_at, v_above, v_low = evaluate([at, above, low])
    assert v_at.hits == {FlagKind.CUTOFF: True}
    assert v_at.severity is Severity.WATCH
    assert v_at.explanations[FlagKind.CUTOFF] == (
        "Well-being (WHO-5) was 50 in the round closing 2 Mar 2026: 50 is at or below 50, the WHO-5 cut-off "
        "for 'poor wellbeing'."
    )
    assert v_above.hits == {FlagKind.CUTOFF: False}
    assert "at or below 28, the WHO-5 cut-off for 'likely depression'" in v_low.explanations[FlagKind.CUTOFF]
    assert bands[0] == BandDef("likely_depression", "<=", Fraction(28))


def test_response_rate_falling_is_a_watch() -> None:
    rates = [95.0, 90.0, 92.0, 85.0, 80.0, 78.0, 70.0, 65.0]
    series = SeriesInput((1, "response_rate"), info("response_rate"), weekly(rates), ())
    (verdict,) = evaluate([series])
    assert verdict.hits[FlagKind.TREND] is True
    assert FlagKind.SHIFT not in verdict.hits  # no within-round variance for a rate
    assert verdict.severity is Severity.WATCH
    assert verdict.explanations[FlagKind.TREND].startswith("The response rate fell from 95% to 65%")
    assert "points per round" in verdict.explanations[FlagKind.TREND]


def test_window_keeps_the_last_twelve_usable_rounds() -> None:
    values = [float(v) for v in range(30, 50)]  # 20 rounds
    (verdict,) = evaluate([cbi(values)], TrendSettings(window=12))
    assert verdict.usable_rounds == 12
    assert verdict.details["first"] == "38"


def test_coarsening_of_values() -> None:
    assert format_value(3.449999999, "1-5") == "3.4"
    assert format_value(3.45, "1-5") == "3.5"
    assert format_value(49.5, "0-100") == "50"
    assert format_value(57.4, "percent") == "55%"
    assert format_change(-0.0349, "1-5") == "−0.03"
    assert metric_key("scale:cbi_work.cbi_work@1") == "cbi_work.cbi_work"
    assert metric_key("question:who5_1@1") is None
    assert metric_key("share:who5.who5.poor_wellbeing@1") is None


def test_shipped_scales_are_read_from_their_definitions_as_the_former_table_read_them() -> None:
    """label, direction, display scale, practical change, instrument short name, threshold word."""
    expected = {
        "who5.who5": MetricInfo("Well-being (WHO-5)", 1, "0-100", 2.0, "WHO-5"),
        "burnout1.burnout1": MetricInfo("Burnout (single item)", -1, "1-5", 0.05, "single-item burnout"),
        "cbi_work.cbi_work": MetricInfo("Work-related burnout (CBI)", -1, "0-100", 2.0, "CBI", "convention"),
        "cbi_personal.cbi_personal": MetricInfo(
            "Personal burnout (CBI)", -1, "0-100", 2.0, "CBI", "convention"
        ),
        "copsoq_demands.copsoq_demands": MetricInfo(
            "Quantitative demands (COPSOQ)", -1, "0-100", 2.0, "COPSOQ"
        ),
        "workload1.workload1": MetricInfo("Workload", -1, "1-5", 0.05),
    }
    assert {key: info(key) for key in expected} == expected
    assert MetricInfos().info("scale:comment.comment@1") is None
    assert MetricInfos().label("scale:who5.who5@1") == "Well-being (WHO-5)"
    assert MetricInfos().label(RESPONSE_RATE) == "The response rate"
