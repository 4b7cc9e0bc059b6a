"""Factories for custom instruments: a pure definition and the stored rows built by the service."""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

from surveys.definitions import MEAN, TEXT, BandDef, InstrumentDef, OptionDef, QuestionDef, ScaleDef
from surveys.models import Instrument, Organisation
from surveys.services.instruments import instrument_create

_numbers = itertools.count(1)

AGREEMENT = (
    OptionDef(1, {"en": "Strongly disagree", "de": "Stimme gar nicht zu"}),
    OptionDef(2, {"en": "Disagree"}),
    OptionDef(3, {"en": "Neutral"}),
    OptionDef(4, {"en": "Agree"}),
    OptionDef(5, {"en": "Strongly agree", "de": "Stimme voll zu"}),
)


def custom_definition(**overrides: Any) -> InstrumentDef:
    """A valid custom instrument: two agreement items (the second reversed), a comment and a mean scale."""
    key = overrides.pop("key", f"team_mood_{next(_numbers)}")
    fields: dict[str, Any] = {
        "key": key,
        "version": 1,
        "name": "Team mood",
        "citation": "",
        "licence": "ours",
        "recall_period_days": 7,
        "validated": False,
        "questions": (
            QuestionDef(
                key="mood_1", order=1, text={"en": "I like working in this team."}, options=AGREEMENT
            ),
            QuestionDef(
                key="mood_2",
                order=2,
                text={"en": "I dread Mondays.", "de": "Ich fürchte Montage."},
                options=AGREEMENT,
                reversed=True,
            ),
            QuestionDef(key="mood_note", order=3, kind=TEXT, optional=True, text={"en": "Anything else?"}),
        ),
        "scales": (
            ScaleDef(
                key=key,
                name="Mood (1–5)",
                items=("mood_1", "mood_2"),
                method=MEAN,
                min_answered=1,
                bands=(BandDef("low", "<", Fraction(2)),),
            ),
        ),
        "stem": {"en": "About this week."},
    }
    fields.update(overrides)
    return InstrumentDef(**fields)


def create_custom_instrument(*, organisation: Organisation | None = None, **overrides: Any) -> Instrument:
    return instrument_create(definition=custom_definition(**overrides), organisation=organisation)
