"""Flags on on-call load (pulse.analysis.load, docs/science.md §3.14): a rising sleep-hour series is one flag
with its reasons, a breach of the SRE book's 25 % is a reason with its source, and a burnout flag beside
rising load carries the joint reason with both numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from pulse.analysis.load import LoadWeek, evaluate_with_load
from pulse.analysis.metrics import HIGHER_IS_WORSE, MetricInfo
from pulse.analysis.oncall import SRE_SOURCE
from pulse.analysis.rules import FlagKind, Point, SeriesInput, SeriesVerdict, TrendSettings
from surveys.definitions import BandDef

MONDAY = date(2026, 6, 1)


def _weeks(sleep: list[int], share: float = 0.2, cycle: int | None = None) -> list[LoadWeek]:
    """``cycle``: the weeks the time on call is over, as ``sre_reasons`` stores it; None as stored before."""
    out = []
    for i, count in enumerate(sleep):
        day = MONDAY + timedelta(weeks=i)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        reason = {
            "code": "time_on_call",
            "measured": share,
            "threshold": 0.25,
            "text": "",
            "source": SRE_SOURCE,
        }
        if cycle is not None:
            reason["weeks"] = cycle
        breach = (reason,) if share > 0.25 else ()
        out.append(
            LoadWeek(
                week_start=day,
                starts_at=start,
                ends_at=start + timedelta(days=7),
                business=10,
                off=4,
                sleep=count,
                max_on_call_share=share,
                median_on_call_share=0.1,
                incidents=3,
                incidents_per_shift=0.5,
                rotation_size=9,
                rotation_by_site={"dublin": 9},
                reasons=breach,
            )
        )
    return out


def _by_metric(verdicts: list[SeriesVerdict]) -> dict[str, SeriesVerdict]:
    return {v.key[1]: v for v in verdicts}


def test_a_rising_sleep_hour_series_is_one_flag_with_its_reasons() -> None:
    weeks = _weeks([2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    verdict = _by_metric(evaluate_with_load([], {1: weeks}, settings=TrendSettings()))[
        "oncall:sleep_interruptions"
    ]
    assert verdict.hits[FlagKind.TREND] is True
    assert FlagKind.TREND in verdict.reasons
    assert "from 2 a week to 12 a week" in verdict.headline
    assert "Mann–Kendall" in verdict.explanations[FlagKind.TREND]


def test_a_steady_series_raises_nothing() -> None:
    weeks = _weeks([3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4])
    verdict = _by_metric(evaluate_with_load([], {1: weeks}))["oncall:sleep_interruptions"]
    assert not verdict.reasons


def test_a_breach_of_the_25_percent_rule_is_a_reason_with_its_source() -> None:
    verdict = _by_metric(evaluate_with_load([], {1: _weeks([3] * 8, share=0.4)}))["oncall:max_on_call_share"]
    assert verdict.reasons == (FlagKind.THRESHOLD,)
    sentence = verdict.explanations[FlagKind.THRESHOLD]
    assert "40%" in sentence
    assert "25%" in sentence
    assert "Site Reliability Engineering" in sentence
    assert verdict.said["reasons"]["threshold"]["breaches"][0]["measured"] == 0.4


def test_the_25_percent_is_worded_over_the_rotation_s_weeks_and_a_week_s_breach_stored_before_as_a_week() -> (
    None
):
    over_cycle = _by_metric(evaluate_with_load([], {1: _weeks([3] * 8, share=0.4, cycle=4)}))[
        "oncall:max_on_call_share"
    ]
    sentence = over_cycle.explanations[FlagKind.THRESHOLD]
    assert sentence.startswith(
        "Over the 4 weeks to the week of 20 Jul 2026 someone on the rota was on call 40%"
    )
    assert "someone on the rota was on call 40% of the last 4 weeks" in over_cycle.headline
    assert over_cycle.said["reasons"]["threshold"]["breaches"][0]["weeks"] == 4
    # A flag judged before the cycle rule stored no weeks: its breach was one week's, and says so.
    stored_before = _by_metric(evaluate_with_load([], {1: _weeks([3] * 8, share=0.4)}))[
        "oncall:max_on_call_share"
    ]
    assert "was on call 40% of the week" in stored_before.explanations[FlagKind.THRESHOLD]
    assert "weeks" not in stored_before.said["reasons"]["threshold"]["breaches"][0]


def test_the_burnout_flag_states_both_numbers_when_load_rose_with_it() -> None:
    weeks = _weeks([3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11])
    info = MetricInfo("Burnout (single item)", HIGHER_IS_WORSE, "1-5", 0.05, "single-item burnout")
    points = tuple(
        Point(closes_at=w.ends_at - timedelta(days=2), mean=2.1 + 0.12 * i, n=8, variance=0.5)
        for i, w in enumerate(weeks)
    )
    survey = SeriesInput(
        key=(1, "scale:burnout1.burnout1@1"),
        info=info,
        points=points,
        bands=(BandDef(name="burned_out", op=">=", threshold=Fraction(3)),),
    )
    verdict = _by_metric(evaluate_with_load([survey], {1: weeks}))["scale:burnout1.burnout1@1"]
    assert FlagKind.JOINT in verdict.reasons
    joint = verdict.explanations[FlagKind.JOINT]
    assert "from 3 a week to 11 a week" in joint
    assert "from 2.1 to 3.4" in joint
    assert "not proof" in joint
    # Without load the same burnout flag has no joint reason, and it never stands alone.
    alone = _by_metric(evaluate_with_load([survey], {}))["scale:burnout1.burnout1@1"]
    assert FlagKind.JOINT not in alone.reasons
