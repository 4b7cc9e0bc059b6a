"""Custom instruments: field-by-field validation, atomic writes, locking and versions."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from surveys import scoring
from surveys.definitions import MEAN, SUM, TEXT, BandDef, OptionDef, QuestionDef, ScaleDef
from surveys.models import Instrument, Organisation, Question, Scale
from surveys.services.instruments import instrument_create, instrument_mark_used, instrument_new_version
from tests.surveys.factories_instruments import AGREEMENT, create_custom_instrument, custom_definition

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, int, int]:
    return Instrument.objects.count(), Question.objects.count(), Scale.objects.count()


def _refused(definition: object) -> dict[str, list[str]]:
    before = _counts()
    with pytest.raises(ValidationError) as raised:
        instrument_create(definition=definition)  # type: ignore[arg-type]
    assert _counts() == before, "a refused instrument must leave nothing behind"
    return raised.value.message_dict


def _replace_question(index: int, **changes: object) -> tuple[QuestionDef, ...]:
    questions = list(custom_definition().questions)
    questions[index] = dataclasses.replace(questions[index], **changes)  # type: ignore[arg-type]
    return tuple(questions)


def test_create_a_custom_instrument() -> None:
    organisation = Organisation.objects.create(name="Acme")
    instrument = create_custom_instrument(organisation=organisation, key="team_mood")
    assert (instrument.key, instrument.version) == ("team_mood", 1)
    assert instrument.validated is False
    assert instrument.is_default_library is False
    assert instrument.is_locked is False
    assert instrument.organisation == organisation
    assert list(instrument.questions.values_list("key", flat=True)) == ["mood_1", "mood_2", "mood_note"]
    assert instrument.questions.get(key="mood_1").options[0] == {
        "value": 1,
        "label": {"en": "Strongly disagree", "de": "Stimme gar nicht zu"},
    }
    assert instrument.definition() == custom_definition(key="team_mood")


def test_create_never_marks_a_custom_instrument_validated() -> None:
    instrument = instrument_create(definition=custom_definition(validated=True))
    assert instrument.validated is False


def test_stored_custom_instrument_scores_through_its_definition() -> None:
    instrument = create_custom_instrument(key="team_mood")
    # mood_1 = 4, mood_2 reversed: 1 + 5 − 1 = 5; mean 4.5.
    result = scoring.score_instrument(instrument, {"mood_1": 4, "mood_2": 1, "mood_note": "fine"})[
        "team_mood"
    ]
    assert result.exact == Fraction(9, 2)
    assert result.band is None
    assert scoring.score_instrument(instrument, {"mood_1": 1, "mood_2": 5})["team_mood"].band == "low"


def test_refuses_empty_options_field_by_field() -> None:
    errors = _refused(custom_definition(questions=_replace_question(0, options=())))
    assert errors == {
        "questions[0].options": ["A single-choice question needs its options; none were given."]
    }


def test_refuses_duplicate_option_values() -> None:
    duplicated = (*AGREEMENT, OptionDef(3, {"en": "Also neutral"}))
    errors = _refused(custom_definition(questions=_replace_question(1, options=duplicated)))
    assert errors["questions[1].options"] == ["The value 3 appears twice; each option needs its own value."]


def test_refuses_a_scale_without_items() -> None:
    scale = ScaleDef(key="empty", name="Empty", items=(), method=MEAN)
    errors = _refused(custom_definition(scales=(scale,)))
    assert errors == {"scales[0].items": ["A scale needs at least one item."]}


def test_refuses_an_unknown_locale_and_a_missing_english_text() -> None:
    errors = _refused(custom_definition(questions=_replace_question(0, text={"fr": "J'aime cette équipe."})))
    assert errors["questions[0].text"] == [
        "Unknown language fr; choose from de, en.",
        "An English text is required: it is shown wherever a translation is missing.",
    ]


def test_refuses_items_that_are_unknown_or_free_text() -> None:
    scale = ScaleDef(key="mood", name="Mood", items=("mood_1", "mood_9", "mood_note"), method=MEAN)
    errors = _refused(custom_definition(scales=(scale,)))
    assert errors["scales[0].items"] == [
        "'mood_9' is not a question of this instrument.",
        "'mood_note' is a free-text question and cannot be scored.",
    ]


def test_refuses_prorating_a_sum() -> None:
    scale = ScaleDef(key="mood", name="Mood", items=("mood_1", "mood_2"), method=SUM, min_answered=1)
    errors = _refused(custom_definition(scales=(scale,)))
    assert list(errors) == ["scales[0].min_answered"]


def test_reports_every_problem_at_once() -> None:
    questions = (
        QuestionDef(key="Mood 1", order=1, text={"en": "Fine?"}, options=AGREEMENT),
        QuestionDef(key="mood_2", order=1, text={"en": "Note"}, kind=TEXT, options=AGREEMENT, reversed=True),
    )
    scale = ScaleDef(
        key="mood", name="", items=("mood_2",), method="median", bands=(BandDef("Low!", "=<", Fraction(2)),)
    )
    errors = _refused(custom_definition(key="9lives", licence=" ", questions=questions, scales=(scale,)))
    assert set(errors) == {
        "key",
        "licence",
        "questions[0].key",
        "questions[1].order",
        "questions[1].options",
        "questions[1].reversed",
        "scales[0].name",
        "scales[0].items",
        "scales[0].method",
        "scales[0].bands",
    }


def test_refuses_a_factor_the_database_would_round() -> None:
    scale = ScaleDef(key="mood", name="Mood", items=("mood_1",), method=SUM, factor=Fraction(1, 3))
    errors = _refused(custom_definition(scales=(scale,)))
    assert list(errors) == ["scales[0].factor"]


def test_refuses_a_key_already_taken() -> None:
    errors = _refused(custom_definition(key="who5"))
    assert errors["key"][0].startswith("The key 'who5' is taken")


def test_a_failed_write_leaves_nothing_behind() -> None:
    before = _counts()
    with (
        mock.patch(
            "surveys.services.instruments.bulk_create_with_history", side_effect=IntegrityError("boom")
        ),
        pytest.raises(ValidationError),
    ):
        create_custom_instrument()
    assert _counts() == before


def test_mark_used_locks_once() -> None:
    instrument = create_custom_instrument()
    assert instrument_mark_used(instrument=instrument) is True
    first = instrument.first_used_at
    assert first is not None
    assert instrument.is_locked
    assert instrument_mark_used(instrument=instrument) is False
    instrument.refresh_from_db()
    assert instrument.first_used_at == first


def test_a_locked_instrument_refuses_edits_in_place() -> None:
    instrument = create_custom_instrument()
    instrument_mark_used(instrument=instrument)
    question = instrument.questions.get(key="mood_1")
    question.text = {"en": "I love working in this team."}
    with pytest.raises(ValidationError, match="locked"):
        question.full_clean()
    instrument.name = "Renamed"
    with pytest.raises(ValidationError, match="locked"):
        instrument.full_clean()


def test_the_default_library_refuses_edits_in_place() -> None:
    question = Question.objects.get(key="who5_1")
    question.text = {**question.text, "en": "I have felt cheerful."}
    with pytest.raises(ValidationError, match="locked"):
        question.full_clean()
    scale = Scale.objects.get(key="who5")
    scale.factor = 5
    with pytest.raises(ValidationError, match="locked"):
        scale.full_clean()


def test_new_version_copies_a_used_instrument_into_an_editable_one() -> None:
    old = create_custom_instrument(key="team_mood")
    instrument_mark_used(instrument=old)
    new = instrument_new_version(instrument=old)
    assert (new.key, new.version) == ("team_mood", 2)
    assert not new.is_locked
    assert new.definition() == dataclasses.replace(old.definition(), version=2)
    question = new.questions.get(key="mood_1")
    question.text = {"en": "I enjoy working in this team."}
    question.full_clean()
    question.save()
    assert old.questions.get(key="mood_1").text == {"en": "I like working in this team."}


def test_new_version_with_changed_wording() -> None:
    old = create_custom_instrument(key="team_mood")
    changed = dataclasses.replace(
        custom_definition(key="team_mood"), questions=_replace_question(0, text={"en": "New?"})
    )
    new = instrument_new_version(instrument=old, definition=changed)
    assert new.version == 2
    assert new.questions.get(key="mood_1").text == {"en": "New?"}
    third = instrument_new_version(instrument=new)
    assert third.version == 3


def test_new_version_validates_and_keeps_the_key() -> None:
    old = create_custom_instrument(key="team_mood")
    before = _counts()
    with pytest.raises(ValidationError) as raised:
        instrument_new_version(instrument=old, definition=custom_definition(key="other"))
    assert "key" in raised.value.message_dict
    broken = custom_definition(key="team_mood", questions=_replace_question(0, options=()))
    with pytest.raises(ValidationError) as raised:
        instrument_new_version(instrument=old, definition=broken)
    assert "questions[0].options" in raised.value.message_dict
    assert _counts() == before


def test_new_version_of_the_default_library_is_refused() -> None:
    who5 = Instrument.objects.get(key="who5", version=1)
    with pytest.raises(ValidationError, match="default library"):
        instrument_new_version(instrument=who5)
    assert Instrument.objects.filter(key="who5").count() == 1


def test_definition_of_a_locked_instrument_is_built_once() -> None:
    who5 = Instrument.objects.get(key="who5")
    first = who5.definition()
    with mock.patch.object(Instrument, "_build_definition", side_effect=AssertionError("rebuilt")):
        assert who5.definition() is first
