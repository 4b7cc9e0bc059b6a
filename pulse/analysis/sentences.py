"""The sentences a flag and a series status say, from numbers already coarsened for showing.

Each sentence names the metric, the published values it rests on and the statistics that decided
(``pulse.analysis.rules``); nothing here computes. Pure, no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pulse.analysis.formatting import days_text
from pulse.analysis.metrics import MetricInfo


@dataclass(frozen=True)
class Evidence:
    """What the sentences about one series may say. ``slope``: "+0.20 per round" and ``interval``:
    "95% CI +0.10 to +0.30; q < 0.01", both empty when no trend was tested; ``cutoff``: the cut-off clause
    when the latest mean is beyond one; ``notes``: rounds left out or withheld."""

    info: MetricInfo
    first: str
    last: str
    latest_date: str
    span: str
    slope: str
    interval: str
    cutoff: str | None
    notes: tuple[str, ...]

    @property
    def trend_numbers(self) -> str:
        return f"{self.slope}, {self.interval}" if self.slope else ""

    @property
    def changed(self) -> str:
        return f"it changed by {self.slope} ({self.interval})" if self.slope else ""


def span_text(window_rounds: int, usable: int) -> str:
    if window_rounds == usable:
        return f"the last {usable} rounds"
    return f"the last {window_rounds} rounds ({usable} usable)"


def notes_text(excluded: Sequence[datetime], withheld: int, zone: str) -> tuple[str, ...]:
    notes = []
    if excluded:
        if len(excluded) == 1:
            notes.append(
                f"the round closing {days_text(excluded, zone)} was left out because its response rate fell "
                "below half the team's usual rate"
            )
        else:
            notes.append(
                f"the rounds closing {days_text(excluded, zone)} were left out because their response rates "
                "fell below half the team's usual rate"
            )
    if withheld:
        notes.append(
            "1 round had too few answers to show"
            if withheld == 1
            else f"{withheld} rounds had too few answers to show"
        )
    return tuple(notes)


def _sentence(parts: Sequence[str], notes: Sequence[str] = ()) -> str:
    return "; ".join([*parts, *notes]) + "."


def trend_sentence(e: Evidence, *, rising: bool) -> str:
    verb = "rose" if rising else "fell"
    lead = f"{e.info.label} {verb} from {e.first} to {e.last} over {e.span} ({e.trend_numbers})"
    return _sentence([lead, *([e.cutoff] if e.cutoff else [])], e.notes)


def shift_sentence(
    e: Evidence, *, up: bool, baseline: str, baseline_rounds: int, cusum: float, limit: float
) -> str:
    lead = (
        f"{e.info.label} shifted {'up' if up else 'down'} from a baseline of {baseline} (its first "
        f"{baseline_rounds} usable rounds here) to {e.last} in the round closing {e.latest_date}; the "
        f"CUSUM stands at {cusum:.1f} standard errors, past its limit of {limit:g}"
    )
    return _sentence([lead, *([e.cutoff] if e.cutoff else [])], e.notes)


def cutoff_sentence(e: Evidence) -> str:
    parts = [f"{e.info.label} was {e.last} in the round closing {e.latest_date}: {e.cutoff}"]
    if e.trend_numbers:
        parts.append(f"over {e.span} {e.changed}")
    return _sentence(parts, e.notes)


def status_sentence(e: Evidence) -> str:
    """Where the series stands, flagged or not (no notes: they belong to flags)."""
    parts = [f"{e.info.label} was {e.last} in the round closing {e.latest_date}"]
    if e.trend_numbers:
        parts.append(f"over {e.span} {e.changed}")
    return _sentence(parts)
