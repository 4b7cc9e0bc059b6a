"""Scoring of instruments: one person's answers to each scale's score and band. Pure: no ORM, no Django.

Public entry points:

- ``score(instrument_key, answers, version=None)`` scores a default-library instrument from the frozen data
  in ``surveys.library``;
- ``score_with(definition, answers)`` scores any instrument version from its definition (a custom one comes
  from ``Instrument.definition()``), which is what the ballot-aggregation step calls;
- ``band_for(scale, value)`` bands any value on a scale, e.g. a team mean against a cut-off;
- ``scale_resolution`` / ``score_bucket`` / ``bucket_score`` turn scores into whole-numbered buckets and back.

``answers`` maps question keys to the option value chosen, on the instrument's own printed scale (0–5 for
WHO-5; 100/75/50/25/0 for CBI and COPSOQ items *before* any reversal; 1–5 for burnout1), or None when the
question was skipped. A key left out counts as skipped. Free-text questions take a string or None and are
never scored.

Score buckets. The aggregation step stores counts per (scale, bucket) instead of individual scores. A
bucket is the exact score times the scale's resolution (``definitions.scale_resolution``), a whole number:
scores take finitely many values (WHO-5 steps of 4; a CBI work mean is a multiple of 100/28 over 4–7 items,
so a multiple of 1/420 on 0–100), and the bucket keeps each of them apart. A team mean is then
Σ count × bucket / (resolution × Σ count), exactly, with no rounding anywhere. The bucket *is* the exact
score; it is not a coarsening (coarsening for disclosure happens later, in the reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from surveys import library
from surveys.definitions import (
    CHOICE,
    SUM,
    InstrumentDef,
    QuestionDef,
    ScaleDef,
    scale_resolution,
    to_fraction,
)

__all__ = [
    "ScaleScore",
    "ScoringError",
    "UnknownInstrumentError",
    "UnknownQuestionError",
    "ValueOffScaleError",
    "band_for",
    "bands",
    "bucket_score",
    "definition_for",
    "scale_resolution",
    "score",
    "score_bucket",
    "score_instrument",
    "score_with",
]


class ScoringError(ValueError):
    """Answers or an instrument that cannot be scored; the message names the offending key or value."""


class UnknownInstrumentError(ScoringError):
    pass


class UnknownQuestionError(ScoringError):
    pass


class ValueOffScaleError(ScoringError):
    pass


@dataclass(frozen=True)
class ScaleScore:
    """One scale's result. ``score`` and ``band`` are None when the missing-data rule gives no score."""

    scale: str
    score: float | None
    band: str | None
    exact: Fraction | None
    bucket: int | None
    answered: int

    @property
    def scorable(self) -> bool:
        return self.exact is not None


def definition_for(instrument_key: str, version: int | None = None) -> InstrumentDef:
    """The default-library definition, or UnknownInstrumentError naming the key (and version)."""
    definition = library.get(instrument_key, version)
    if definition is None:
        if library.get(instrument_key) is None:
            raise UnknownInstrumentError(
                f"Unknown instrument {instrument_key!r}; the default library has "
                f"{', '.join(library.DEFAULT_KEYS)}. Score a custom instrument with score_with()."
            )
        raise UnknownInstrumentError(f"Instrument {instrument_key!r} has no version {version!r}.")
    return definition


def score(
    instrument_key: str, answers: Mapping[str, int | str | None], version: int | None = None
) -> dict[str, ScaleScore]:
    """Score one person's answers to a default-library instrument (``version`` None: the newest).

    Returns one ``ScaleScore`` per scale, keyed by scale key; a single-scale instrument's scale key is the
    instrument key. The rules are those of each instrument's source, see ``score_with``.
    """
    return score_with(definition_for(instrument_key, version), answers)


def score_with(definition: InstrumentDef, answers: Mapping[str, int | str | None]) -> dict[str, ScaleScore]:
    """Score one person's answers with an instrument definition.

    Per scale: each answered item's value, reversed items as (lowest + highest option value − value)
    (CBI item 7 → 100 − x: Kristensen et al. 2005); then
    - ``sum``: every item required, score = sum × factor (WHO-5: raw 0–25 × 4 = 0–100, no prorating:
      Topp et al. 2015; burnout1 and workload1: the value itself);
    - ``mean``: score = mean of the answered items × factor, no score below the minimum of answered items
      (CBI work-related < 4 of 7, CBI personal < 3 of 6: Kristensen et al. 2005; COPSOQ < half the items);
    and the first band whose exact comparison holds (WHO-5 ≤ 28 likely depression before ≤ 50 poor
    wellbeing: Topp et al. 2015; CBI ≥ 50 high, a convention; burnout1 ≥ 3 burned out: Rohland et al. 2004,
    Dolan et al. 2015).

    Raises UnknownQuestionError for a key that is not a question of the instrument and ValueOffScaleError
    for a value that is not one of the question's options (or is not a whole number).
    """
    values = _checked_values(definition, answers)
    results: dict[str, ScaleScore] = {}
    for scale in definition.scales:
        item_values = [value for item in scale.items if (value := values.get(item)) is not None]
        exact = _scale_value(scale, item_values)
        results[scale.key] = ScaleScore(
            scale=scale.key,
            score=None if exact is None else float(exact),
            band=None if exact is None else band_for(scale, exact),
            exact=exact,
            bucket=None if exact is None else score_bucket(scale, exact),
            answered=len(item_values),
        )
    return results


class HasDefinition(Protocol):
    def definition(self) -> InstrumentDef: ...


def score_instrument(
    instrument: HasDefinition, answers: Mapping[str, int | str | None]
) -> dict[str, ScaleScore]:
    """Score with any object that gives its definition, e.g. a stored ``surveys.models.Instrument`` (this
    module stays free of the ORM: it only calls ``instrument.definition()``). See ``score_with``."""
    return score_with(instrument.definition(), answers)


def band_for(scale: ScaleDef, value: Fraction | int | float | str) -> str | None:
    """The first band of ``scale`` that contains ``value`` (exactly), or None.

    Works for any value on the scale's range, not only an individual's score: e.g. a team mean of 50.0 on
    the WHO-5 is in ``poor_wellbeing`` (≤ 50, Topp et al. 2015), a mean of 50.4 is in none.
    """
    exact = to_fraction(value)
    for band in scale.bands:
        if band.contains(exact):
            return band.name
    return None


def bands(definition: InstrumentDef, scale_key: str) -> list[tuple[str, str, Fraction]]:
    """A scale's bands and cut-offs in evaluation order: (name, operator, threshold)."""
    scale = definition.scale(scale_key)
    if scale is None:
        raise ScoringError(f"Instrument {definition.key!r} has no scale {scale_key!r}.")
    return [(band.name, band.op, band.threshold) for band in scale.bands]


def score_bucket(scale: ScaleDef, exact: Fraction) -> int:
    """The whole-numbered bucket of an exact score: score × ``scale_resolution(scale)``."""
    bucket = exact * scale_resolution(scale)
    if bucket.denominator != 1:
        raise ScoringError(f"Score {exact} is not a possible score of scale {scale.key!r}.")
    return bucket.numerator


def bucket_score(scale: ScaleDef, bucket: int) -> Fraction:
    """The exact score a bucket stands for."""
    return Fraction(bucket, scale_resolution(scale))


def _checked_values(
    definition: InstrumentDef, answers: Mapping[str, int | str | None]
) -> dict[str, int | None]:
    questions: dict[str, QuestionDef] = {question.key: question for question in definition.questions}
    values: dict[str, int | None] = {}
    for key, value in answers.items():
        question = questions.get(key)
        if question is None:
            raise UnknownQuestionError(
                f"{key!r} is not a question of {definition.key!r} version {definition.version}."
            )
        if value is None:
            values[key] = None
            continue
        if question.kind != CHOICE:
            if not isinstance(value, str):
                raise ValueOffScaleError(f"{key!r} is a free-text question; got {value!r}, not a text.")
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueOffScaleError(f"{key!r}: {value!r} is not a whole-number option value.")
        if value not in question.values:
            raise ValueOffScaleError(
                f"{key!r}: {value!r} is not on the scale; the options are "
                f"{', '.join(str(v) for v in question.values)}."
            )
        values[key] = _reversed(question, value) if question.reversed else value
    return values


def _reversed(question: QuestionDef, value: int) -> int:
    """Reverse-scored item: lowest + highest − value (CBI item 7: 0 + 100 − x; Kristensen et al. 2005)."""
    return min(question.values) + max(question.values) - value


def _scale_value(scale: ScaleDef, values: list[int]) -> Fraction | None:
    if len(values) < scale.required_answers or not values:
        return None
    if scale.method == SUM:
        return Fraction(sum(values)) * scale.factor
    return Fraction(sum(values), len(values)) * scale.factor
