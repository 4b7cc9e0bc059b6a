"""Flags on on-call load: a team's weekly load series judged by the survey flags' statistics, with the Google
SRE thresholds and concentration as reasons, and the joint reason on a wellbeing or burnout flag.

Pure module: plain data in (:class:`LoadWeek`, one per team and ISO week, as ``OncallWeek`` stores it),
verdicts out (``pulse.analysis.rules.SeriesVerdict``), no ORM. ``pulse.services.trends`` loads the weeks
and calls :func:`evaluate_with_load` once per organisation with the survey series, so both share one
Benjamini–Hochberg family. The rules (docs/science.md §3.14, docs/oncall.md §3):

* **Series.** Per team, one series per :data:`pulse.analysis.metrics.LOAD_MEASURES` entry: sleep-hour and
  all interruptions a week, the most time anyone spent on call (percent of the rotation's last four weeks),
  incidents per 12-hour
  shift, the rotation's size and the busiest person's share of the interruptions (only weeks where it is
  stored: a rotation of at least k people). A week is a round on a weekly time axis; a week without a value
  (no primary coverage, a rotation below k) is a gap, never imputed.
* **Trend and shift.** Exactly as for surveys (``pulse.analysis.rules``): Mann–Kendall with Sen's slope and
  Benjamini–Hochberg over every test of the run (survey and load together), at least 6 usable weeks in the
  last 12; a practical slope per week of its own per measure (``LoadMeasure.practical``: half a sleep-hour
  interruption, one interruption, one point of time on call, 0.05 incidents per shift, a tenth of a person).
  The CUSUM runs on individual weeks: its standard error is the between-week standard deviation from the
  baseline's moving ranges (mean |x_t − x_{t−1}| / 1.128; NIST/SEMATECH e-Handbook §6.3.2), since a week's
  count is one value, not a mean of answers.
* **Threshold.** A breach in the latest week of the Google SRE book's on-call limits (Beyer, Jones, Petoff
  and Murphy (eds.), *Site Reliability Engineering*, O'Reilly 2016, ch. 11), as stored with the week by
  ``pulse.analysis.oncall.sre_reasons``: more than 25 % of the time on call over the rotation's four weeks
  (on the time-on-call series),
  more than 2 incidents per 12-hour shift (incidents), a rotation below 8 at one site or 6 per site (the
  rotation). The reason carries the measured value, the limit and the source.
* **Concentration.** The busiest person carried more than half of the latest week's interruptions ("most of
  the pages"): a reason on the concentration series, stated without a name, and only where the rotation has
  at least k people (the week stores no concentration otherwise).
* **Joint reason.** On a wellbeing or burnout flag that holds with a worsening trend or shift: the same team's
  load series has its own trend reason in this run, in the worsening direction, and its value rose between
  the weeks of the survey window's first and latest rounds. Both numbers are stated. It is a co-occurrence
  within one team, never a causal claim, and never a correlation with anyone's answers (there are none
  per person). It is context: it never makes a flag on its own.

Severity: **alert**, worsening and a threshold (or concentration) breached; **warning**, worsening;
**watch**, a breach alone.

The sentences are English functions of their numbers, like ``pulse.analysis.sentences``; each reason's
numbers also go into the verdict's details (``details["load"]``) so that they can be written in the reader's
language at read time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

from pulse.analysis import load_words, sentences
from pulse.analysis.metrics import LOAD_MEASURES, LoadMeasure, Metric
from pulse.analysis.oncall import SRE_SOURCE
from pulse.analysis.rules import (
    REASON_ORDER,
    FlagKind,
    Point,
    SeriesInput,
    SeriesVerdict,
    Severity,
    Statistics,
    TrendSettings,
    _verdict,
    batch_statistics,
)

#: "Most of the pages": more than half of the week's interruptions on one person.
CONCENTRATION_LIMIT = 0.5

#: Survey scales whose worsening the joint reason speaks to (wellbeing and burnout, docs/science.md §1).
WELLBEING_INSTRUMENTS = frozenset({"who5", "burnout1", "cbi_work", "cbi_personal"})

#: Load measures whose rise is "load rising" for the joint reason.
RISING_LOAD = ("sleep_interruptions", "interruptions", "max_on_call_share", "incidents_per_shift")

#: Which stored SRE breach (``OncallWeek.reasons[].code``) is a reason on which load series.
THRESHOLD_MEASURE = {
    "time_on_call": "max_on_call_share",
    "incidents_per_shift": "incidents_per_shift",
    "rotation_size": "rotation_size",
}


@dataclass(frozen=True)
class LoadWeek:
    """One team's stored ISO week (``pulse.models.OncallWeek``): team-level figures only. Shares are
    fractions of 1; ``concentration`` and ``without_time_off_share`` are None below k."""

    week_start: date
    starts_at: datetime
    ends_at: datetime
    business: int
    off: int
    sleep: int
    max_on_call_share: float | None
    median_on_call_share: float | None
    incidents: int
    incidents_per_shift: float | None
    rotation_size: int
    rotation_by_site: Mapping[str, int] = field(default_factory=dict)
    concentration: float | None = None
    without_time_off_share: float | None = None
    reasons: tuple[Mapping[str, Any], ...] = ()

    @property
    def interruptions(self) -> int:
        return self.business + self.off + self.sleep

    def value(self, measure: LoadMeasure) -> float | None:
        """The week's value in shown units (percent for shares)."""
        raw: float | None = {
            "sleep_interruptions": float(self.sleep),
            "interruptions": float(self.interruptions),
            "max_on_call_share": self.max_on_call_share,
            "incidents_per_shift": self.incidents_per_shift,
            "rotation_size": float(self.rotation_size),
            "concentration": self.concentration,
        }[measure.key]
        if raw is None or not math.isfinite(raw):
            return None
        return 100.0 * raw if measure.percent else raw


# --------------------------------------------------------------------------------------------- series


@dataclass(frozen=True)
class LoadSeries:
    """A load series as the rules see it, with its weeks (chronological) for the sentences."""

    input: SeriesInput
    measure: LoadMeasure
    weeks: tuple[LoadWeek, ...]


def load_series(team_id: int, weeks: Sequence[LoadWeek]) -> list[LoadSeries]:
    """One series per load measure with at least one value, each week a point at its end."""
    ordered = tuple(sorted(weeks, key=lambda w: w.week_start))
    out = []
    for measure in LOAD_MEASURES:
        values = [w.value(measure) for w in ordered]
        if all(v is None for v in values):
            continue
        points = tuple(
            Point(closes_at=w.ends_at, mean=v, n=1 if v is not None else 0)
            for w, v in zip(ordered, values, strict=True)
        )
        out.append(
            LoadSeries(
                input=SeriesInput(
                    key=(team_id, measure.metric), info=measure.info, points=points, individual=True
                ),
                measure=measure,
                weeks=ordered,
            )
        )
    return out


def _breaches(measure: LoadMeasure, week: LoadWeek) -> list[dict[str, Any]]:
    """The latest week's stored SRE breaches that belong to this measure, and concentration."""
    found: list[dict[str, Any]] = []
    for reason in week.reasons:
        if THRESHOLD_MEASURE.get(str(reason.get("code"))) == measure.key:
            breach: dict[str, Any] = {
                "code": str(reason["code"]),
                "measured": float(reason["measured"]),
                "threshold": float(reason["threshold"]),
                "source": str(reason.get("source") or SRE_SOURCE),
                "sites": len(week.rotation_by_site),
            }
            if reason.get("weeks"):
                # Time on call is judged over the rotation's cycle (docs/oncall.md §2.3): over how many weeks.
                breach["weeks"] = int(reason["weeks"])
            found.append(breach)
    if (
        measure.key == "concentration"
        and week.concentration is not None
        and week.concentration > CONCENTRATION_LIMIT
    ):
        found.append({"code": "busiest", "measured": week.concentration, "threshold": CONCENTRATION_LIMIT})
    return found


def _day_moment(day: date) -> str:
    """A week's Monday as the moment the sentences' ``day`` reads: noon UTC, the same day in every zone
    from UTC−11 to UTC+11, so "the week of 23 Nov" never prints as the Sunday before."""
    return datetime.combine(day, time(12), UTC).isoformat()


def _round(value: float, decimals: int) -> float:
    return round(value, decimals) if math.isfinite(value) else value


def load_verdict(
    series: LoadSeries, window: Sequence[Point], cfg: TrendSettings, st: Statistics
) -> SeriesVerdict:
    """The verdict on one load series: the rules' trend and shift, then its breaches in the latest week."""
    measure = series.measure
    by_end = {w.ends_at: w for w in series.weeks}
    latest_point = window[-1] if window else None
    common: dict[str, Any] = {
        "key": series.input.key,
        "latest_closes_at": latest_point.closes_at if latest_point else None,
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
        "withheld": sum(1 for pt in window if pt.mean is None),
    }
    if latest_point is None or latest_point.mean is None or latest_point.closes_at not in by_end:
        return SeriesVerdict(
            evaluable=False, hits={}, severity=None, explanations={}, status="", details={}, **common
        )
    latest = by_end[latest_point.closes_at]
    first = next(pt.mean for pt in window if pt.usable and pt.mean is not None)
    last = latest_point.mean
    slope_decimals = measure.decimals + 1
    has_trend = st.tested and math.isfinite(st.per_round)
    said: dict[str, Any] = {
        "v": sentences.SAID_VERSION,
        "series": "load",
        "measure": measure.key,
        # The survey wording's display scale of the same precision, for any reader that knows only it.
        "scale": "percent" if measure.percent else ("1-5" if measure.decimals else "0-100"),
        "first": _round(first, measure.decimals),
        "last": _round(last, measure.decimals),
        "latest": _day_moment(latest.week_start),
        "window": len(window),
        "usable": st.usable_rounds,
        "trend": (
            {
                "slope": _round(st.per_round, slope_decimals),
                "low": _round(st.low, slope_decimals),
                "high": _round(st.high, slope_decimals),
                "q": round(st.q, 2) if st.q >= 0.01 else 0.0,
                "confidence": round(100 * cfg.confidence),
            }
            if has_trend
            else None
        ),
        "withheld": common["withheld"],
        "excluded": [],
    }
    hits: dict[FlagKind, bool] = {}
    reasons: dict[str, dict[str, Any]] = {}
    if st.tested:
        hits[FlagKind.TREND] = st.trend_hit
    if st.shift_tested:
        hits[FlagKind.SHIFT] = st.shift_hit
    if st.trend_hit:
        reasons[FlagKind.TREND.value] = {"code": "load_trend", "rising": st.per_round > 0}
    if st.shift_hit:
        reasons[FlagKind.SHIFT.value] = {
            "code": "load_shift",
            "up": last > st.mu0,
            "baseline": _round(st.mu0, measure.decimals),
            "baseline_weeks": st.baseline_rounds,
            "cusum": round(st.cusum, 1),
            "limit": cfg.cusum_h,
        }
    breaches = _breaches(measure, latest)
    if measure.key in THRESHOLD_MEASURE.values():
        threshold = [b for b in breaches if b["code"] != "busiest"]
        hits[FlagKind.THRESHOLD] = bool(threshold)
        if threshold:
            reasons[FlagKind.THRESHOLD.value] = {"code": "threshold", "breaches": threshold}
    if measure.key == "concentration":
        busiest = [b for b in breaches if b["code"] == "busiest"]
        hits[FlagKind.CONCENTRATION] = bool(busiest)
        if busiest:
            reasons[FlagKind.CONCENTRATION.value] = {"code": "busiest", "share": busiest[0]["measured"]}
    said["reasons"] = reasons
    said["headline"] = {
        "code": "load",
        "trend": st.trend_hit,
        "shift": st.shift_hit,
        "rising": st.per_round > 0,
        "up": last > st.mu0,
        "baseline": _round(st.mu0, measure.decimals),
        "breach": breaches[0] if breaches else None,
    }
    worsening = st.trend_hit or st.shift_hit
    severity = None
    if worsening and breaches:
        severity = Severity.ALERT
    elif worsening:
        severity = Severity.WARNING
    elif breaches:
        severity = Severity.WATCH
    english = sentences.PlainEnglish(cfg.time_zone)
    explanations: dict[FlagKind, str] = {}
    for kind in REASON_ORDER:
        if kind.value in reasons:
            text = sentences.reason_text(kind.value, said, english, measure.label)
            assert text is not None
            explanations[kind] = text
    headline = (sentences.headline_text(said, english, measure.label) or "") if reasons else ""
    details = {
        "first": load_words.quantity(english, measure.key, first),
        "last": load_words.quantity(english, measure.key, last),
        "latest_week": latest.week_start.isoformat(),
        "rounds": len(window),
        "usable_rounds": st.usable_rounds,
    }
    return SeriesVerdict(
        evaluable=True,
        hits=hits,
        severity=severity,
        explanations=explanations,
        status=sentences.status_text(said, english, measure.label),
        details=details,
        headline=headline,
        said=said,
        **common,
    )


# ------------------------------------------------------------------------------------------- together


def _wellbeing(metric: str) -> bool:
    parsed = Metric.parse(metric)
    return parsed is not None and parsed.kind == "scale" and parsed.instrument_key in WELLBEING_INSTRUMENTS


def _week_at(weeks: Sequence[LoadWeek], moment: datetime) -> LoadWeek | None:
    """The week that holds ``moment``, else the latest week that ended before it."""
    before = None
    for week in weeks:
        if week.starts_at <= moment < week.ends_at:
            return week
        if week.ends_at <= moment:
            before = week
    return before


def _with_joint(
    verdict: SeriesVerdict,
    label: str,
    window: Sequence[Point],
    load: Sequence[tuple[LoadSeries, SeriesVerdict]],
    cfg: TrendSettings,
) -> SeriesVerdict:
    """A survey verdict with the joint reason judged: it holds only beside a worsening trend or shift."""
    hits = dict(verdict.hits)
    hits[FlagKind.JOINT] = False
    worsening = verdict.hits.get(FlagKind.TREND) or verdict.hits.get(FlagKind.SHIFT)
    usable = [pt for pt in window if pt.usable]
    if not worsening or not usable or verdict.latest_closes_at is None or not verdict.said:
        return replace(verdict, hits=hits)
    since, until = usable[0].closes_at, verdict.latest_closes_at
    for series, judged in load:
        if series.measure.key not in RISING_LOAD or not judged.hits.get(FlagKind.TREND):
            continue
        if not judged.slope_per_round > 0:
            continue
        start, end = _week_at(series.weeks, since), _week_at(series.weeks, until)
        if start is None or end is None or start is end:
            continue
        load_first, load_last = start.value(series.measure), end.value(series.measure)
        if load_first is None or load_last is None or not load_last > load_first:
            continue
        decimals = series.measure.decimals
        joint = {
            "code": "joint",
            "measure": series.measure.key,
            "load_first": round(load_first, decimals),
            "load_last": round(load_last, decimals),
            "since": _day_moment(start.week_start),
            "until": _day_moment(end.week_start),
            "survey_rising": not math.isfinite(verdict.slope_per_round) or verdict.slope_per_round > 0,
        }
        said = dict(verdict.said)
        said["reasons"] = {**said.get("reasons", {}), FlagKind.JOINT.value: joint}
        said["headline"] = {**said.get("headline", {}), "code": "survey_joint", "joint": joint}
        english = sentences.PlainEnglish(cfg.time_zone)
        sentence = sentences.reason_text(FlagKind.JOINT.value, said, english, label)
        assert sentence is not None
        hits[FlagKind.JOINT] = True
        return replace(
            verdict,
            hits=hits,
            explanations={**verdict.explanations, FlagKind.JOINT: sentence},
            headline=sentences.headline_text(said, english, label) or verdict.headline,
            said=said,
        )
    return replace(verdict, hits=hits)


def evaluate_with_load(
    series: Sequence[SeriesInput],
    weeks_by_team: Mapping[int, Sequence[LoadWeek]],
    labels: Mapping[str, str] | None = None,
    settings: TrendSettings | None = None,
) -> list[SeriesVerdict]:
    """Every survey series and every team's load series, evaluated together (one Benjamini–Hochberg family):
    the survey verdicts first, in input order (a wellbeing or burnout one with its joint reason judged),
    then the load verdicts. ``labels``: survey metric → its name, for the joint sentence."""
    cfg = settings or TrendSettings()
    loads = [ls for team_id in sorted(weeks_by_team) for ls in load_series(team_id, weeks_by_team[team_id])]
    computed = batch_statistics([*series, *(ls.input for ls in loads)], cfg)
    load_verdicts: list[SeriesVerdict] = []
    by_team: dict[int, list[tuple[LoadSeries, SeriesVerdict]]] = {}
    for ls, (window, st) in zip(loads, computed[len(series) :], strict=True):
        verdict = load_verdict(ls, window, cfg, st) if st is not None else _empty_verdict(ls.input)
        load_verdicts.append(verdict)
        by_team.setdefault(ls.input.key[0], []).append((ls, verdict))
    out = []
    for s, (window, st) in zip(series, computed[: len(series)], strict=True):
        verdict = _verdict(s, window, cfg, st) if st is not None else _empty_verdict(s)
        if verdict.evaluable and _wellbeing(s.key[1]):
            label = (labels or {}).get(s.key[1]) or s.info.label
            verdict = _with_joint(verdict, label, window, by_team.get(s.key[0], ()), cfg)
        out.append(verdict)
    return [*out, *load_verdicts]


def _empty_verdict(s: SeriesInput) -> SeriesVerdict:
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
