"""Instrument definitions as plain, frozen data, and the rules a definition must satisfy.

Pure module (no Django, no ORM): the default library (``surveys.library``), the scoring module
(``surveys.scoring``), the services that store custom instruments and the admin all speak these types, so
one set of rules decides what a valid instrument is, wherever it comes from.

Texts are mappings ``{locale: text}``. English is the fallback language and is required for every text a
respondent sees; any other locale may be missing, in which case the English text is shown and the admin
lists the gap (``missing_translations``).

Scores are exact: option values are whole numbers, reversal keeps them whole, and a scale's score is a sum
times a factor or a mean of whole numbers, so it is a rational number computed with ``fractions.Fraction``
and compared with its cut-offs without rounding (WHO-5 raw 12 is 48, poor wellbeing; raw 13 is 52, not:
Topp et al. 2015). ``scale_resolution`` gives the integer each scale's scores are multiplied by to become
whole-numbered *buckets*, so counts per bucket recompute every mean exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from types import MappingProxyType
from typing import Any

FALLBACK_LOCALE = "en"

CHOICE = "choice"
TEXT = "text"
KINDS = (CHOICE, TEXT)

SUM = "sum"
MEAN = "mean"
METHODS = (SUM, MEAN)

# Band operators, written as an admin would type them.
OPERATORS = ("<=", "<", ">=", ">")

# Which way a scale's score is read. Empty: the scale is scored and counted, but no report shows it,
# because a report must know which way is worse to colour a cell or flag a trend (docs/science.md §3).
HIGHER_IS_BETTER = "higher_is_better"
HIGHER_IS_WORSE = "higher_is_worse"
DIRECTIONS = (HIGHER_IS_BETTER, HIGHER_IS_WORSE)

# How a report names a score's threshold: a published cut-off, or a convention of the instrument's studies
# that is not a cut-off (the CBI's 50: Kristensen et al. 2005 define none; docs/science.md §1).
CUTOFF = "cut-off"
CONVENTION = "convention"
CUTOFF_WORDS = (CUTOFF, CONVENTION)

# The ranges a reported score may take, each shown with its own precision (pulse.analysis.coarsening):
# a score range is shown on the first of these that contains it (docs/science.md §4.7).
DISPLAY_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"1-5": (1, 5), "0-5": (0, 5), "0-100": (0, 100)}
)
LABEL_MAX_LENGTH = 80
SHORT_NAME_MAX_LENGTH = 40

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
KEY_MAX_LENGTH = 50
OPTION_VALUE_LIMIT = 1000
MAX_SCALE_ITEMS = 40
# Factors are stored as decimals with this many places (and below FACTOR_LIMIT); anything else would be
# rounded on the way to the database and the stored instrument would no longer score as defined.
FACTOR_DECIMAL_PLACES = 4
FACTOR_LIMIT = 100_000
# A bucket must stay an exact integer in a 64-bit column *and* in a JSON/JavaScript number.
MAX_BUCKET = 2**53

Texts = Mapping[str, str]


def _frozen_texts(texts: Mapping[str, str] | None) -> Texts:
    return MappingProxyType(dict(texts or {}))


@dataclass(frozen=True)
class OptionDef:
    """One answer option: the value stored and scored, and its label per locale."""

    value: int
    label: Texts

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", _frozen_texts(self.label))


@dataclass(frozen=True)
class QuestionDef:
    """One item. ``kind`` is ``choice`` (one option of ``options``) or ``text`` (free text, never scored).

    ``reversed`` items are scored as (lowest value + highest value − chosen value), e.g. 100 − x on the
    CBI's 0–100 item scale (Kristensen et al. 2005).
    """

    key: str
    order: int
    text: Texts
    kind: str = CHOICE
    options: tuple[OptionDef, ...] = ()
    reversed: bool = False
    optional: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", _frozen_texts(self.text))
        object.__setattr__(self, "options", tuple(self.options))

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(option.value for option in self.options)


@dataclass(frozen=True)
class BandDef:
    """A named band: the score is in it when ``score <op> threshold`` (exact comparison)."""

    name: str
    op: str
    threshold: Fraction

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", to_fraction(self.threshold))

    def contains(self, value: Fraction) -> bool:
        if self.op == "<=":
            return value <= self.threshold
        if self.op == "<":
            return value < self.threshold
        if self.op == ">=":
            return value >= self.threshold
        if self.op == ">":
            return value > self.threshold
        raise ValueError(f"unknown band operator {self.op!r}")

    def describe(self) -> str:
        return f"{self.name} {self.op} {format_number(self.threshold)}"


@dataclass(frozen=True)
class ScaleDef:
    """A scored construct of an instrument.

    ``method`` ``sum``: score = (sum of item values) × ``factor``, every item required (``min_answered``
    None): summing a subset would bias the score, and the WHO-5 forbids prorating (raw 0–25 × 4, all five
    items required: Topp et al. 2015).
    ``method`` ``mean``: score = (mean of the answered item values) × ``factor``, no score when fewer than
    ``min_answered`` items were answered (None: all of them); the CBI's rule (Kristensen et al. 2005).
    Bands are tried in order and the first one that contains the score wins, so the most severe band is
    listed first (WHO-5: ≤ 28 likely depression before ≤ 50 poor wellbeing, Topp et al. 2015).
    """

    key: str
    name: str
    items: tuple[str, ...]
    method: str
    factor: Fraction = Fraction(1)
    min_answered: int | None = None
    bands: tuple[BandDef, ...] = ()
    note: str = ""
    # How reports read the score (none of it changes how a score is computed):
    direction: str = ""  # HIGHER_IS_BETTER or HIGHER_IS_WORSE; empty: counted, never reported
    label: str = ""  # its name in reports and sentences ("Well-being (WHO-5)"); empty: ``name``
    practical_change: Fraction | None = None  # smallest change per round that matters; None: by display
    cutoff_word: str = CUTOFF  # what its bands' thresholds are called in sentences

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "bands", tuple(self.bands))
        object.__setattr__(self, "factor", to_fraction(self.factor))
        if self.practical_change is not None:
            object.__setattr__(self, "practical_change", to_fraction(self.practical_change))

    @property
    def required_answers(self) -> int:
        return len(self.items) if self.min_answered is None else self.min_answered


@dataclass(frozen=True)
class InstrumentDef:
    """An instrument at one version: what is asked, how it is scored, where it comes from."""

    key: str
    version: int
    name: str
    citation: str
    licence: str
    recall_period_days: int
    validated: bool
    questions: tuple[QuestionDef, ...]
    scales: tuple[ScaleDef, ...] = ()
    stem: Texts = field(default_factory=dict)
    translation_sources: Texts = field(default_factory=dict)
    notes: str = ""
    short_name: str = ""  # how sentences name it beside a cut-off ("WHO-5", "CBI"); empty: not named

    def __post_init__(self) -> None:
        object.__setattr__(self, "questions", tuple(self.questions))
        object.__setattr__(self, "scales", tuple(self.scales))
        object.__setattr__(self, "stem", _frozen_texts(self.stem))
        object.__setattr__(self, "translation_sources", _frozen_texts(self.translation_sources))

    def question(self, key: str) -> QuestionDef | None:
        return next((question for question in self.questions if question.key == key), None)

    def scale(self, key: str) -> ScaleDef | None:
        return next((scale for scale in self.scales if scale.key == key), None)


# --- small helpers ------------------------------------------------------------------------------------


def to_fraction(value: object) -> Fraction:
    """An exact Fraction from an int, Fraction, Decimal or decimal string ("28", "33.5"); floats go through
    their shortest repr so 0.1 means one tenth, not the binary approximation."""
    if isinstance(value, bool):
        raise ValueError("a number is required, not a boolean")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | Decimal):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return Fraction(repr(value))
    if isinstance(value, str):
        try:
            decimal = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not decimal.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return Fraction(decimal)
    raise ValueError(f"{value!r} is not a number")


def format_number(value: Fraction) -> str:
    """A Fraction written as a plain decimal when it has one ("28", "62.5"), else as "p/q"."""
    if value.denominator == 1:
        return str(value.numerator)
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(decimal) == value:
        return format(decimal.normalize(), "f")
    return f"{value.numerator}/{value.denominator}"


def text_for(texts: Texts, locale: str) -> str:
    """The text in ``locale``, or the English fallback."""
    return texts.get(locale) or texts.get(FALLBACK_LOCALE, "")


# --- JSON shapes (how definitions are stored in the database) ------------------------------------------


def options_to_json(options: Iterable[OptionDef]) -> list[dict[str, Any]]:
    return [{"value": option.value, "label": dict(option.label)} for option in options]


def options_from_json(raw: object) -> tuple[OptionDef, ...]:
    """Options from their stored shape ``[{"value": 5, "label": {"en": ...}}, ...]``.

    Raises ValueError when the shape is malformed."""
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        raise ValueError("options must be a list")
    options = []
    for position, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or set(item) - {"value", "label"}:
            raise ValueError(f"option {position} must have a value and a label")
        value = item.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"option {position}: the value must be a whole number")
        label = item.get("label") or {}
        if not isinstance(label, dict) or not all(isinstance(v, str) for v in label.values()):
            raise ValueError(f"option {position}: the label must map languages to texts")
        options.append(OptionDef(value=value, label=label))
    return tuple(options)


def bands_to_json(bands: Iterable[BandDef]) -> list[dict[str, str]]:
    # Thresholds as decimal strings: exact, whatever the database's JSON number handling.
    return [{"name": band.name, "op": band.op, "threshold": format_number(band.threshold)} for band in bands]


def bands_from_json(raw: object) -> tuple[BandDef, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        raise ValueError("bands must be a list")
    bands = []
    for position, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not {"name", "op", "threshold"} <= set(item):
            raise ValueError(f"band {position} needs a name, an operator and a threshold")
        try:
            threshold = to_fraction(item["threshold"])
        except ValueError as error:
            raise ValueError(f"band {position}: {error}") from None
        bands.append(BandDef(name=str(item["name"]), op=str(item["op"]), threshold=threshold))
    return tuple(bands)


# --- rules ----------------------------------------------------------------------------------------------

Errors = dict[str, list[str]]


def _add(errors: Errors, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def check_key(key: str, *, what: str = "key") -> list[str]:
    if not key:
        return [f"The {what} is required."]
    if len(key) > KEY_MAX_LENGTH:
        return [f"The {what} is longer than {KEY_MAX_LENGTH} characters."]
    if not KEY_PATTERN.match(key):
        return [
            f"The {what} {key!r} must use lower-case letters, digits and underscores, starting with a letter."
        ]
    return []


def check_texts(texts: object, locales: Collection[str], *, required: bool = True) -> list[str]:
    """A translatable text: known locales only, no blank entries, English present when ``required``."""
    if not isinstance(texts, Mapping):
        return ["Texts must map a language to a text."]
    messages = []
    unknown = sorted(str(locale) for locale in texts if locale not in locales)
    if unknown:
        messages.append(f"Unknown language {', '.join(unknown)}; choose from {', '.join(sorted(locales))}.")
    blank = sorted(
        str(locale) for locale, text in texts.items() if not isinstance(text, str) or not text.strip()
    )
    if blank:
        messages.append(f"The {', '.join(blank)} text is empty; leave the language out instead.")
    if required and not texts.get(FALLBACK_LOCALE, "").strip():
        messages.append("An English text is required: it is shown wherever a translation is missing.")
    return messages


def check_question(question: QuestionDef, locales: Collection[str]) -> Errors:
    """Field-by-field rules of one question (keys: key, order, kind, text, options, reversed)."""
    errors: Errors = {}
    for message in check_key(question.key, what="question key"):
        _add(errors, "key", message)
    if question.order < 0:
        _add(errors, "order", "The order cannot be negative.")
    if question.kind not in KINDS:
        _add(errors, "kind", f"Unknown kind {question.kind!r}; choose choice or text.")
    for message in check_texts(question.text, locales):
        _add(errors, "text", message)
    if question.kind == TEXT:
        if question.options:
            _add(errors, "options", "A free-text question has no options.")
        if question.reversed:
            _add(errors, "reversed", "Only a single-choice question can be reversed.")
        return errors
    if not question.options:
        _add(errors, "options", "A single-choice question needs its options; none were given.")
        return errors
    if len(question.options) < 2:
        _add(errors, "options", "A single-choice question needs at least two options.")
    seen: set[int] = set()
    for position, option in enumerate(question.options, start=1):
        if isinstance(option.value, bool) or not isinstance(option.value, int):
            _add(errors, "options", f"Option {position}: the value must be a whole number.")
            continue
        if abs(option.value) > OPTION_VALUE_LIMIT:
            _add(
                errors,
                "options",
                f"Option {position}: values lie between -{OPTION_VALUE_LIMIT} and {OPTION_VALUE_LIMIT}.",
            )
        if option.value in seen:
            _add(
                errors, "options", f"The value {option.value} appears twice; each option needs its own value."
            )
        seen.add(option.value)
        for message in check_texts(option.label, locales):
            _add(errors, "options", f"Option {option.value}: {message}")
    return errors


def check_scale(scale: ScaleDef, questions: Mapping[str, QuestionDef] | None = None) -> Errors:
    """Field-by-field rules of one scale (keys: key, name, items, method, factor, min_answered, bands).

    With ``questions`` (the instrument's questions by key) the items are also checked against them: each
    must exist and be a single-choice question. A sum may not set a lower minimum of answered items: that
    would prorate, which the WHO-5 forbids (Topp et al. 2015).
    """
    errors: Errors = {}
    for message in check_key(scale.key, what="scale key"):
        _add(errors, "key", message)
    if not scale.name.strip():
        _add(errors, "name", "The scale needs a name.")
    if not scale.items:
        _add(errors, "items", "A scale needs at least one item.")
    if len(set(scale.items)) != len(scale.items):
        _add(errors, "items", "An item is listed twice.")
    if len(scale.items) > MAX_SCALE_ITEMS:
        _add(errors, "items", f"A scale has at most {MAX_SCALE_ITEMS} items.")
    if questions is not None:
        for item in scale.items:
            question = questions.get(item)
            if question is None:
                _add(errors, "items", f"{item!r} is not a question of this instrument.")
            elif question.kind != CHOICE:
                _add(errors, "items", f"{item!r} is a free-text question and cannot be scored.")
    if scale.method not in METHODS:
        _add(errors, "method", f"Unknown method {scale.method!r}; choose sum or mean.")
    if scale.factor <= 0:
        _add(errors, "factor", "The factor must be positive.")
    elif (scale.factor * 10**FACTOR_DECIMAL_PLACES).denominator != 1 or scale.factor >= FACTOR_LIMIT:
        _add(
            errors,
            "factor",
            f"The factor must be a decimal below {FACTOR_LIMIT} with at most {FACTOR_DECIMAL_PLACES} places.",
        )
    if scale.min_answered is not None:
        if scale.method == SUM and scale.min_answered != len(scale.items):
            _add(
                errors,
                "min_answered",
                "A sum needs every item answered (no prorating); leave the minimum empty or use a mean.",
            )
        elif not 1 <= scale.min_answered <= max(len(scale.items), 1):
            _add(errors, "min_answered", f"The minimum must be between 1 and the {len(scale.items)} items.")
    names: set[str] = set()
    for band in scale.bands:
        for message in check_key(band.name, what="band name"):
            _add(errors, "bands", message)
        if band.op not in OPERATORS:
            _add(errors, "bands", f"Band {band.name!r}: unknown operator {band.op!r}; use <=, <, >= or >.")
        if band.name in names:
            _add(errors, "bands", f"The band {band.name!r} appears twice.")
        names.add(band.name)
    for name, messages in check_reading(scale).items():
        errors.setdefault(name, []).extend(messages)
    if questions is not None and not errors:
        if scale.direction:
            low, high = score_range(scale, questions)
            shown = display_scale(scale, questions)
            if shown is None:
                _add(
                    errors,
                    "direction",
                    f"Scores of this scale run from {format_number(low)} to {format_number(high)}; a report "
                    "shows scores within 1–5, 0–5 or 0–100 only. Use a mean or a factor that brings them "
                    "into one of these (a sum of five 0–5 items × 4 is 0–100), or leave the direction "
                    "empty to count the scale without reporting it.",
                )
            elif scale.practical_change is not None and scale.practical_change >= high - low:
                _add(
                    errors,
                    "practical_change",
                    f"The practical change must be smaller than the whole range of the scale "
                    f"({format_number(low)} to {format_number(high)}).",
                )
        resolution = scale_resolution(scale)
        highest = max((abs(v) for item in scale.items for v in questions[item].values), default=0)
        largest_score = highest * scale.factor * (len(scale.items) if scale.method == SUM else 1)
        if largest_score * resolution > MAX_BUCKET:
            _add(
                errors,
                "items",
                "Scores of this scale cannot be counted exactly: use fewer items, a higher minimum of "
                "answered items, or a simpler factor.",
            )
    return errors


def _check_one_line(text: str, *, what: str, limit: int) -> list[str]:
    if text != text.strip() or not text.isprintable():
        return [f"The {what} is one line of text without leading or trailing spaces."]
    if len(text) > limit:
        return [f"The {what} is longer than {limit} characters."]
    return []


def check_reading(scale: ScaleDef) -> Errors:
    """The rules of how reports read a scale (keys: direction, label, practical_change, cutoff_word).

    Whether the score's range can be shown needs the items' options; ``check_scale`` with questions says.
    """
    errors: Errors = {}
    if scale.direction and scale.direction not in DIRECTIONS:
        _add(
            errors,
            "direction",
            f"Unknown direction {scale.direction!r}; choose {HIGHER_IS_BETTER} or {HIGHER_IS_WORSE}, or "
            "leave it empty to count the scale without reporting it.",
        )
    for message in _check_one_line(scale.label, what="report label", limit=LABEL_MAX_LENGTH):
        _add(errors, "label", message)
    if scale.practical_change is not None:
        if scale.practical_change <= 0:
            _add(errors, "practical_change", "The practical change must be positive (or empty).")
        elif (scale.practical_change * 10**FACTOR_DECIMAL_PLACES).denominator != 1:
            _add(
                errors,
                "practical_change",
                f"The practical change is a decimal with at most {FACTOR_DECIMAL_PLACES} places.",
            )
    if scale.cutoff_word not in CUTOFF_WORDS:
        _add(
            errors,
            "cutoff_word",
            f"Unknown word {scale.cutoff_word!r} for the bands' thresholds; choose {CUTOFF} or {CONVENTION}.",
        )
    return errors


def check_instrument(instrument: InstrumentDef, locales: Collection[str]) -> Errors:
    """Every rule, field by field. Keys are field names, ``questions[i].field`` or ``scales[i].field``."""
    errors: Errors = {}
    for message in check_key(instrument.key):
        _add(errors, "key", message)
    if instrument.version < 1:
        _add(errors, "version", "Versions start at 1.")
    if not instrument.name.strip():
        _add(errors, "name", "The instrument needs a name.")
    if not instrument.licence.strip():
        _add(errors, "licence", "Say under which licence the instrument is used (for your own: 'ours').")
    if instrument.recall_period_days < 0:
        _add(errors, "recall_period_days", "The recall period cannot be negative.")
    for message in check_short_name(instrument.short_name):
        _add(errors, "short_name", message)
    for message in check_texts(instrument.stem, locales, required=bool(instrument.stem)):
        _add(errors, "stem", message)
    if instrument.translation_sources:
        for message in check_texts(instrument.translation_sources, locales, required=False):
            _add(errors, "translation_sources", message)
    if not instrument.questions:
        _add(errors, "questions", "An instrument needs at least one question.")
    keys: dict[str, int] = {}
    orders: set[int] = set()
    for index, question in enumerate(instrument.questions):
        for name, messages in check_question(question, locales).items():
            errors.setdefault(f"questions[{index}].{name}", []).extend(messages)
        if question.key in keys:
            _add(errors, f"questions[{index}].key", f"The question key {question.key!r} is used twice.")
        keys.setdefault(question.key, index)
        if question.order in orders:
            _add(errors, f"questions[{index}].order", f"The order {question.order} is used twice.")
        orders.add(question.order)
    by_key = {question.key: question for question in instrument.questions}
    scale_keys: set[str] = set()
    for index, scale in enumerate(instrument.scales):
        for name, messages in check_scale(scale, by_key).items():
            errors.setdefault(f"scales[{index}].{name}", []).extend(messages)
        if scale.key in scale_keys:
            _add(errors, f"scales[{index}].key", f"The scale key {scale.key!r} is used twice.")
        scale_keys.add(scale.key)
    return errors


def check_short_name(short_name: str) -> list[str]:
    return _check_one_line(short_name, what="short name", limit=SHORT_NAME_MAX_LENGTH)


def missing_translations(instrument: InstrumentDef, locales: Collection[str]) -> dict[str, list[str]]:
    """Per locale other than English, the texts that fall back to English (shown to admins)."""
    missing: dict[str, list[str]] = {}
    for locale in sorted(locales):
        if locale == FALLBACK_LOCALE:
            continue
        gaps = []
        if instrument.stem.get(FALLBACK_LOCALE) and not instrument.stem.get(locale):
            gaps.append("stem")
        for question in instrument.questions:
            if not question.text.get(locale):
                gaps.append(f"{question.key} text")
            if any(not option.label.get(locale) for option in question.options):
                gaps.append(f"{question.key} options")
        if gaps:
            missing[locale] = gaps
    return missing


@dataclass(frozen=True)
class UntranslatedItem:
    """A question shown in English on a page in another language: its place in the instrument (1-based),
    key and English text, and what lacks the language (its text, its answer options, or both)."""

    number: int
    key: str
    text: str
    text_missing: bool
    options_missing: bool


def untranslated_items(
    instrument: InstrumentDef, locales: Collection[str]
) -> dict[str, list[UntranslatedItem]]:
    """Per locale other than English, the questions that fall back to English, in the instrument's order:
    what the admin's instrument page lists, item by item (``missing_translations`` names the same gaps by
    key, for the API)."""
    found: dict[str, list[UntranslatedItem]] = {}
    questions = sorted(instrument.questions, key=lambda q: q.order)
    for locale in sorted(locales):
        if locale == FALLBACK_LOCALE:
            continue
        items = []
        for number, question in enumerate(questions, start=1):
            text_missing = not question.text.get(locale)
            options_missing = any(not option.label.get(locale) for option in question.options)
            if text_missing or options_missing:
                items.append(
                    UntranslatedItem(
                        number,
                        question.key,
                        question.text.get(FALLBACK_LOCALE, ""),
                        text_missing,
                        options_missing,
                    )
                )
        if items:
            found[locale] = items
    return found


# --- score resolution -------------------------------------------------------------------------------------


def scale_resolution(scale: ScaleDef) -> int:
    """The smallest integer R such that every possible score of the scale times R is a whole number.

    Item values are whole numbers. A sum times factor p/q is a multiple of 1/q. A mean of n whole numbers is
    a multiple of 1/n, and n runs from the minimum of answered items to all items, so every mean is a
    multiple of 1/lcm(n_min..n_max); times p/q it is a multiple of 1/(lcm × q). Examples: WHO-5 (sum × 4)
    R = 1; CBI work-related (mean of 4–7 items) R = lcm(4, 5, 6, 7) = 420; COPSOQ (mean of 2–4) R = 12.
    """
    if scale.method == SUM:
        return scale.factor.denominator
    lowest = max(scale.required_answers, 1)
    return math.lcm(*range(lowest, max(len(scale.items), lowest) + 1)) * scale.factor.denominator


# --- score range ------------------------------------------------------------------------------------------


def score_range(scale: ScaleDef, questions: Mapping[str, QuestionDef]) -> tuple[Fraction, Fraction]:
    """The lowest and highest score the scale can give, from its items' option values.

    Reversal keeps an item within its own lowest and highest value. A sum adds every item's extreme; a mean
    of s answered items is lowest when they are the s lowest-scoring ones, for any s from the minimum of
    answered items to all of them. Items that are not choice questions count as nothing (``check_scale``
    refuses them).
    """
    extremes = [
        (min(question.values), max(question.values))
        for item in scale.items
        if (question := questions.get(item)) is not None and question.values
    ]
    lows = sorted(low for low, _high in extremes)
    highs = sorted((high for _low, high in extremes), reverse=True)
    if not lows:
        return Fraction(0), Fraction(0)
    if scale.method == SUM:
        return sum(lows, Fraction(0)) * scale.factor, sum(highs, Fraction(0)) * scale.factor
    sizes = range(max(min(scale.required_answers, len(lows)), 1), len(lows) + 1)
    low = min(Fraction(sum(lows[:size]), size) for size in sizes)
    high = max(Fraction(sum(highs[:size]), size) for size in sizes)
    return low * scale.factor, high * scale.factor


def display_scale(scale: ScaleDef, questions: Mapping[str, QuestionDef]) -> str | None:
    """The key of ``DISPLAY_RANGES`` the scale's scores are shown on (the first that contains its whole
    range), or None when none does: such a scale cannot be reported."""
    low, high = score_range(scale, questions)
    return next((name for name, (a, b) in DISPLAY_RANGES.items() if a <= low and high <= b), None)
