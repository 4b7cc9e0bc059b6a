"""The default library: its data, its migration, and that released versions never change."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings

from surveys import library
from surveys.definitions import InstrumentDef, ScaleDef, check_instrument, missing_translations
from surveys.models import Instrument, Question, Scale

LOCALES = [code for code, _name in settings.LANGUAGES]
default_library = importlib.import_module("surveys.migrations.0003_default_library")

EXPECTED_QUESTIONS = {
    "who5": [f"who5_{n}" for n in range(1, 6)],
    "burnout1": ["burnout1_1"],
    "cbi_work": [f"cbi_work_{n}" for n in range(1, 8)],
    "cbi_personal": [f"cbi_personal_{n}" for n in range(1, 7)],
    "copsoq_demands": [f"copsoq_demands_{n}" for n in range(1, 5)],
    "workload1": ["workload1_1"],
    "comment": ["comment_1"],
}
# The recall period the scheduler enforces (docs/science.md §1.8).
EXPECTED_RECALL_DAYS = {
    "who5": 14,
    "burnout1": 7,
    "cbi_work": 28,
    "cbi_personal": 28,
    "copsoq_demands": 7,
    "workload1": 7,
    "comment": 0,
}

# sha256 of each released version's canonical JSON. A released version is immutable: if this fails, you
# changed wording, options or scoring of a version that may already have been asked and counted. Revert,
# and add the change as a new version with its own migration instead. (who5 v1's admin note, which is none of
# these, now cites docs/science.md: migration 0013 rewrote it in stored databases.)
RELEASED_FINGERPRINTS = {
    ("who5", 1): "c05b8ff44160a6599e1f0a173fbe937422edfb8c5c6974dfd3571bba50744c6a",
    ("burnout1", 1): "25fd6d4954f085328d8dc0282c46963cd3064b9d613e56b51f4f06113d63b580",
    ("cbi_work", 1): "b3ac410ff074b23934f2944b36b1c718fea799198b1d14469065bfd0c7fb6b55",
    ("cbi_personal", 1): "0fc9fbc6b2d6118384f918fd7f13a2098332c19251330161d194eba7fddf0e42",
    ("copsoq_demands", 1): "53699ef6faa29e331c2d1877499e73403ee3b527fc06b5b21a3e115ed2f0396a",
    ("workload1", 1): "e461b8bb8f2c498b934339c5b544abaa29d47aa0e2160c5b8ef4c29a4f6760f5",
    ("comment", 1): "429f16d8509aeb6dc5ca93408338e9e12fa9d2aa34eb7e8180712485086b5140",
}


# How reports read a scale (and the instrument's short name for sentences) is pinned apart, by
# EXPECTED_READING: it changes no wording, options or scoring, so the fingerprints leave it out.
READING_FIELDS = {
    ScaleDef: {"direction", "label", "practical_change", "cutoff_word"},
    InstrumentDef: {"short_name"},
}

# The reading of each released scale: what the report code's hand-kept table said before the scales owned
# it (instrument short name, direction, label, practical change, threshold word). Migration 0014 sets these.
EXPECTED_READING = {
    ("who5", "who5"): ("WHO-5", "higher_is_better", "Well-being (WHO-5)", Fraction(2), "cut-off"),
    ("burnout1", "burnout1"): (
        "single-item burnout",
        "higher_is_worse",
        "Burnout (single item)",
        Fraction("0.05"),
        "cut-off",
    ),
    ("cbi_work", "cbi_work"): (
        "CBI",
        "higher_is_worse",
        "Work-related burnout (CBI)",
        Fraction(2),
        "convention",
    ),
    ("cbi_personal", "cbi_personal"): (
        "CBI",
        "higher_is_worse",
        "Personal burnout (CBI)",
        Fraction(2),
        "convention",
    ),
    ("copsoq_demands", "copsoq_demands"): (
        "COPSOQ",
        "higher_is_worse",
        "Quantitative demands (COPSOQ)",
        Fraction(2),
        "cut-off",
    ),
    ("workload1", "workload1"): ("", "higher_is_worse", "Workload", Fraction("0.05"), "cut-off"),
}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if field.name not in READING_FIELDS.get(type(value), set())
        }
    if isinstance(value, dict | MappingProxyType):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Fraction):
        return str(value)
    return value


def fingerprint(key: str, version: int) -> str:
    definition = library.get(key, version)
    assert definition is not None
    canonical = json.dumps(_plain(definition), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- the pure data --------------------------------------------------------------------------------


def test_every_library_definition_satisfies_the_rules() -> None:
    for definition in library.LIBRARY:
        assert check_instrument(definition, LOCALES) == {}, definition.key


def test_library_question_keys_follow_the_convention() -> None:
    assert {d.key: [q.key for q in d.questions] for d in library.LIBRARY} == EXPECTED_QUESTIONS


def test_the_migration_loads_every_library_version() -> None:
    assert set(default_library.RELEASED) == {(d.key, d.version) for d in library.LIBRARY}


def test_released_versions_are_unchanged() -> None:
    assert {
        released: fingerprint(*released) for released in default_library.RELEASED
    } == RELEASED_FINGERPRINTS


def test_released_scales_are_read_as_before() -> None:
    reading = {
        (definition.key, scale.key): (
            definition.short_name,
            scale.direction,
            scale.label,
            scale.practical_change,
            scale.cutoff_word,
        )
        for definition in library.LIBRARY
        for scale in definition.scales
    }
    assert reading == EXPECTED_READING


def test_verbatim_item_texts_from_science_md() -> None:
    """Spot checks of the wording, options and reversal the sources print (docs/science.md §1.3 to §1.5)."""
    who5 = library.get("who5")
    cbi = library.get("cbi_work")
    assert who5 is not None
    assert cbi is not None
    assert who5.questions[0].text["en"] == "I have felt cheerful and in good spirits."
    assert [o.label["en"] for o in who5.questions[4].options] == [
        "All of the time",
        "Most of the time",
        "More than half of the time",
        "Less than half of the time",
        "Some of the time",
        "At no time",
    ]
    assert [q.reversed for q in cbi.questions] == [False] * 6 + [True]
    assert (
        cbi.questions[6].text["en"] == "Do you have enough energy for family and friends during leisure time?"
    )


def test_german_only_where_an_official_or_our_own_translation_exists() -> None:
    """WHO-5 has the official German version; CBI, COPSOQ and the single item have none checked here, so
    their German is missing (English is shown, and the admin says so). workload1 and comment are ours."""
    missing = {d.key: missing_translations(d, LOCALES) for d in library.LIBRARY}
    assert missing["who5"] == {}
    assert missing["workload1"] == {}
    assert missing["comment"] == {}
    for key in ("burnout1", "cbi_work", "cbi_personal", "copsoq_demands"):
        assert len(missing[key]["de"]) == 2 * len(EXPECTED_QUESTIONS[key]), key
    who5 = library.get("who5")
    assert who5 is not None
    assert who5.questions[0].text["de"] == "… war ich froh und guter Laune"
    assert who5.questions[0].options[0].label["de"] == "Die ganze Zeit"
    assert "de" in who5.translation_sources


# --- the database, as the migration left it -------------------------------------------------------


@pytest.mark.django_db
def test_fresh_database_has_the_default_library() -> None:
    instruments = Instrument.objects.filter(is_default_library=True)
    assert {i.key for i in instruments} == set(EXPECTED_QUESTIONS)
    for instrument in instruments:
        assert instrument.version == 1
        assert list(instrument.questions.values_list("key", flat=True)) == EXPECTED_QUESTIONS[instrument.key]
        assert instrument.recall_period_days == EXPECTED_RECALL_DAYS[instrument.key]
        assert instrument.citation
        assert instrument.licence
        assert instrument.is_locked
        assert instrument.organisation_id is None
    validated = set(instruments.filter(validated=True).values_list("key", flat=True))
    assert validated == {"who5", "burnout1", "cbi_work", "cbi_personal", "copsoq_demands"}


@pytest.mark.django_db
def test_stored_library_scores_exactly_like_the_pure_library() -> None:
    for definition in library.LIBRARY:
        stored = Instrument.objects.get(key=definition.key, version=definition.version)
        assert stored.definition() == definition


@pytest.mark.django_db
def test_loading_twice_changes_nothing() -> None:
    before = (Instrument.objects.count(), Question.objects.count(), Scale.objects.count())
    ids = sorted(Question.objects.values_list("pk", flat=True))
    default_library.load(apps, None)
    default_library.load(apps, None)
    assert (Instrument.objects.count(), Question.objects.count(), Scale.objects.count()) == before
    assert sorted(Question.objects.values_list("pk", flat=True)) == ids


@pytest.mark.django_db
def test_a_stored_who5_note_that_cited_a_missing_document_cites_docs_science() -> None:
    """Databases made before the note cited docs/science.md get the new note; a rewritten one is kept."""
    rewrite = importlib.import_module("surveys.migrations.0013_who5_note_cites_docs")
    stored = Instrument.objects.filter(key="who5", version=1)
    stored.update(notes=rewrite.SHIPPED_START + "a note outside the repository).")
    rewrite.cite_docs(apps, None)
    assert stored.get().notes == library.WHO5.notes == rewrite.NOTE
    stored.update(notes="Our own note for admins.")
    rewrite.cite_docs(apps, None)
    assert stored.get().notes == "Our own note for admins."


@pytest.mark.django_db
def test_unload_then_load_restores_the_library() -> None:
    default_library.unload(apps, None)
    assert not Instrument.objects.filter(is_default_library=True).exists()
    assert not Question.objects.filter(key="who5_1").exists()
    default_library.load(apps, None)
    importlib.import_module("surveys.migrations.0014_scale_reading").set_library_reading(apps, None)
    for definition in library.LIBRARY:
        assert (
            Instrument.objects.get(key=definition.key, version=definition.version).definition() == definition
        )


@pytest.mark.django_db
def test_texts_fall_back_to_english() -> None:
    who5 = Instrument.objects.get(key="who5")
    cbi_item = Question.objects.get(key="cbi_work_1")
    assert who5.questions.get(key="who5_1").text_in("de") == "… war ich froh und guter Laune"
    assert who5.stem_in("de").startswith("Die folgenden Aussagen")
    assert cbi_item.text_in("de") == "Is your work emotionally exhausting?"
    assert cbi_item.options_in("de")[0] == {"value": 100, "label": "To a very high degree"}
    assert Instrument.objects.get(key="cbi_work").missing_translations()["de"][:2] == [
        "cbi_work_1 text",
        "cbi_work_1 options",
    ]
