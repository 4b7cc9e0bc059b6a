"""The sentences a flag and a series status say, from numbers already coarsened for showing.

Two registers (docs/science.md §3.11). A flag's **headline** says what happened in a leader's words, with
the published values and no statistical term ("Work-related burnout has risen over the last 8 rounds, from
38 to 55, and is now at or above 50, the CBI convention for 'high'"). Its **reasons** are the technical
sentences, one per rule that holds, naming the statistics that decided (``pulse.analysis.rules``); the
glossary (``pulse.analysis.glossary``) says what each term means. Nothing here computes. Pure, no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pulse.analysis.formatting import OPERATOR_WORDS, days_text
from pulse.analysis.metrics import MetricInfo
from surveys.definitions import BandDef, format_number


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
    band: BandDef | None = None
    rounds: int = 0  # usable rounds the trend was read over

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


def band_words(e: Evidence) -> str:
    """ "at or above 50, the CBI convention for 'high'": a cut-off in a leader's words."""
    assert e.band is not None
    name = e.band.name.replace("_", " ")
    instrument = f"the {e.info.instrument}" if e.info.instrument else "the instrument's"
    threshold = format_number(e.band.threshold)
    return f"{OPERATOR_WORDS[e.band.op]} {threshold}, {instrument} {e.info.cutoff_word} for '{name}'"


def headline_sentence(e: Evidence, *, trend: bool, shift: bool, rising: bool, up: bool, baseline: str) -> str:
    """What happened, in a leader's words, for the reasons that hold (``trend``, ``shift``, a cut-off when
    ``e.band`` is set). ``rising``: the trend's direction; ``up``: the shift's; ``baseline``: the team's
    usual level before the shift."""
    label = e.info.label
    lead = ""
    if trend:
        lead = f"{label} has {'risen' if rising else 'fallen'} over {e.span}, from {e.first} to {e.last}"
        if shift:
            lead += f", with a sudden {'jump' if up else 'drop'} in the round closing {e.latest_date}"
    elif shift:
        lead = (
            f"{label} {'jumped' if up else 'dropped'} to {e.last} in the round closing {e.latest_date}, "
            f"away from the team's usual level of {baseline}"
        )
    if e.band is not None:
        if lead:
            return f"{lead}, and is now {band_words(e)}."
        return f"{label} is {e.last}, {band_words(e)}, in the round closing {e.latest_date}."
    return f"{lead}." if lead else ""
