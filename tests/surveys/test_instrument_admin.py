"""The instrument admin, through Django's test client as a staff superuser."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries

from surveys.models import Instrument, Question, Scale
from surveys.services.instruments import instrument_mark_used
from tests.surveys.factories_instruments import create_custom_instrument

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:surveys_instrument_add")
CHANGELIST_URL = reverse("admin:surveys_instrument_changelist")


def change_url(instrument: Instrument) -> str:
    return reverse("admin:surveys_instrument_change", args=[instrument.pk])


def counts() -> tuple[int, int, int]:
    return Instrument.objects.count(), Question.objects.count(), Scale.objects.count()


def management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def add_post(
    *, questions: list[dict[str, str]], scales: list[dict[str, str]], **instrument: str
) -> dict[str, str]:
    data = {
        "key": "team_mood",
        "name": "Team mood",
        "citation": "",
        "licence": "ours",
        "recall_period_days": "7",
        "organisation": "",
        "stem_en": "About this week.",
        "stem_de": "",
        "translation_sources_en": "",
        "translation_sources_de": "",
        "notes": "",
        **instrument,
        **management("questions", len(questions)),
        **management("scales", len(scales)),
    }
    for index, question in enumerate(questions):
        data.update({f"questions-{index}-{name}": value for name, value in question.items()})
    for index, scale in enumerate(scales):
        data.update({f"scales-{index}-{name}": value for name, value in scale.items()})
    return data


def question(key: str, order: int, options: str, **fields: str) -> dict[str, str]:
    return {
        "key": key,
        "order": str(order),
        "kind": "choice",
        "text_en": f"English text of {key}",
        "text_de": "",
        "options": options,
        **fields,
    }


def scale(items: str, **fields: str) -> dict[str, str]:
    return {
        "key": "team_mood",
        "name": "Mood",
        "items": items,
        "method": "mean",
        "factor": "1",
        "min_answered": "1",
        "bands": "",
        "note": "",
        **fields,
    }


GOOD_OPTIONS = "1 | Disagree | Stimme nicht zu\n2 | Neutral\n3 | Agree | Stimme zu"


def form_errors(response: Any) -> str:
    """Every error the admin rendered: the main form's and each inline form's."""
    forms = [response.context["adminform"].form]
    parts: list[str] = []
    for inline in response.context["inline_admin_formsets"]:
        parts.extend(inline.formset.non_form_errors())
        forms.extend(inline.formset.forms)
    for form in forms:
        for messages in form.errors.values():
            parts.extend(messages)
    return "\n".join(parts)


# --- browsing the library -------------------------------------------------------------------------


def test_changelist_shows_the_library_with_licences_and_translations(
    admin_client: Client, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_max_num_queries(12):
        response = admin_client.get(CHANGELIST_URL)
    assert response.status_code == 200
    page = response.content.decode()
    for key in ("who5", "burnout1", "cbi_work", "cbi_personal", "copsoq_demands", "workload1", "comment"):
        assert f">{key}<" in page
    assert "de: complete" in page  # who5, workload1, comment
    assert "de: 14 missing" in page  # cbi_work: 7 texts and 7 option sets
    assert "CC BY-NC-ND 4.0" in page


def test_library_change_page_shows_citation_licence_and_translations_read_only(admin_client: Client) -> None:
    who5 = Instrument.objects.get(key="who5")
    response = admin_client.get(change_url(who5))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Topp CW" in page
    assert "Free to use without permission" in page
    assert "… war ich froh und guter Laune" in page
    assert "Die ganze Zeit" in page
    assert "Psychiatric Research Unit" in page  # the translation source
    assert "All texts are translated." in page
    assert "Locked: validated default library" in page
    assert 'name="questions-0-key"' not in page
    assert 'name="name"' not in page


def test_library_change_page_shows_missing_translations(admin_client: Client) -> None:
    response = admin_client.get(change_url(Instrument.objects.get(key="cbi_work")))
    page = response.content.decode()
    assert "Kristensen TS" in page
    assert "missing: English is shown" in page
    assert "cbi_work_1 text, cbi_work_1 options" in page


def test_posting_to_a_library_instrument_changes_nothing(admin_client: Client) -> None:
    who5 = Instrument.objects.get(key="who5")
    response = admin_client.post(
        change_url(who5), {"name": "Altered", **management("questions", 0), **management("scales", 0)}
    )
    assert response.status_code == 200
    assert "locked" in form_errors(response)
    who5.refresh_from_db()
    assert who5.name == "WHO-5 Well-Being Index"


# --- adding custom instruments --------------------------------------------------------------------


def test_add_page_offers_one_box_per_language(admin_client: Client) -> None:
    page = admin_client.get(ADD_URL).content.decode()
    assert 'name="questions-0-text_en"' in page
    assert 'name="questions-0-text_de"' in page
    assert 'name="questions-0-options"' in page


def test_add_a_custom_instrument(admin_client: Client) -> None:
    data = add_post(
        questions=[
            question("mood_1", 1, GOOD_OPTIONS, text_de="Deutscher Text"),
            question("mood_2", 2, GOOD_OPTIONS, reversed="on"),
            {"key": "mood_note", "order": "3", "kind": "text", "text_en": "Anything else?", "optional": "on"},
        ],
        scales=[scale("mood_1, mood_2", bands="low < 1.5")],
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, form_errors(response)
    instrument = Instrument.objects.get(key="team_mood")
    assert (instrument.version, instrument.validated, instrument.is_default_library) == (1, False, False)
    mood_1 = instrument.questions.get(key="mood_1")
    assert mood_1.text == {"en": "English text of mood_1", "de": "Deutscher Text"}
    assert mood_1.options == [
        {"value": 1, "label": {"en": "Disagree", "de": "Stimme nicht zu"}},
        {"value": 2, "label": {"en": "Neutral"}},
        {"value": 3, "label": {"en": "Agree", "de": "Stimme zu"}},
    ]
    assert instrument.questions.get(key="mood_2").reversed is True
    stored_scale = instrument.scales.get()
    assert stored_scale.items == ["mood_1", "mood_2"]
    assert stored_scale.bands == [{"name": "low", "op": "<", "threshold": "1.5"}]
    assert instrument.stem == {"en": "About this week."}


def test_bad_options_show_field_errors_and_store_nothing(admin_client: Client) -> None:
    before = counts()
    data = add_post(
        questions=[
            question("mood_1", 1, "1 | Disagree\n1 | Also disagree\n2 | Agree"),
            question("mood_2", 2, ""),
            question("mood_3", 3, "one | Disagree\n2 | Agree"),
        ],
        scales=[scale("mood_1")],
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    errors = form_errors(response)
    assert "The value 1 appears twice" in errors
    assert "A single-choice question needs its options; none were given." in errors
    assert (
        "Line 1: &#x27;one&#x27; is not a whole number." in errors
        or "Line 1: 'one' is not a whole number." in errors
    )
    assert counts() == before


def test_unknown_locale_text_and_missing_english_are_refused(admin_client: Client) -> None:
    before = counts()
    data = add_post(questions=[question("mood_1", 1, GOOD_OPTIONS, text_en="")], scales=[])
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert "An English text is required" in form_errors(response)
    assert counts() == before


def test_scale_items_must_be_choice_questions_posted_with_it(admin_client: Client) -> None:
    before = counts()
    data = add_post(
        questions=[
            question("mood_1", 1, GOOD_OPTIONS),
            {"key": "mood_note", "order": "2", "kind": "text", "text_en": "Anything else?"},
        ],
        scales=[scale("mood_1 mood_9 mood_note")],
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    errors = form_errors(response)
    assert "is not a question of this instrument" in errors
    assert "is a free-text question and cannot be scored" in errors
    assert counts() == before


def test_a_scale_without_items_is_refused(admin_client: Client) -> None:
    before = counts()
    response = admin_client.post(
        ADD_URL, add_post(questions=[question("mood_1", 1, GOOD_OPTIONS)], scales=[scale("")])
    )
    assert response.status_code == 200
    assert "A scale needs at least one item." in form_errors(response)
    assert counts() == before


def test_an_instrument_without_questions_is_refused(admin_client: Client) -> None:
    before = counts()
    response = admin_client.post(ADD_URL, add_post(questions=[], scales=[]))
    assert response.status_code == 200
    assert "An instrument needs at least one question." in form_errors(response)
    assert counts() == before


def test_a_taken_key_is_refused(admin_client: Client) -> None:
    before = counts()
    response = admin_client.post(
        ADD_URL, add_post(key="who5", questions=[question("mood_1", 1, GOOD_OPTIONS)], scales=[])
    )
    assert response.status_code == 200
    assert "Version 1 of 'who5' exists already" in form_errors(response)
    assert counts() == before


# --- editing, locking, versions -------------------------------------------------------------------


def _existing_post(instrument: Instrument, **changes: str) -> dict[str, str]:
    questions = list(instrument.questions.all())
    data = {
        "key": instrument.key,
        "name": instrument.name,
        "citation": instrument.citation,
        "licence": instrument.licence,
        "recall_period_days": str(instrument.recall_period_days),
        "organisation": "",
        "stem_en": instrument.stem.get("en", ""),
        "stem_de": "",
        "translation_sources_en": "",
        "translation_sources_de": "",
        "notes": "",
        **management("questions", len(questions), len(questions)),
        **management("scales", 0),
    }
    for index, item in enumerate(questions):
        options = "\n".join(f"{o['value']} | {o['label']['en']}" for o in item.options)
        data.update(
            {
                f"questions-{index}-id": str(item.pk),
                f"questions-{index}-instrument": str(instrument.pk),
                f"questions-{index}-key": item.key,
                f"questions-{index}-order": str(item.order),
                f"questions-{index}-kind": item.kind,
                f"questions-{index}-text_en": item.text["en"],
                f"questions-{index}-text_de": "",
                f"questions-{index}-options": options,
            }
        )
    data.update(changes)
    return data


def test_an_unused_custom_instrument_is_edited_in_place(admin_client: Client) -> None:
    instrument = create_custom_instrument(key="team_mood", scales=())
    response = admin_client.post(
        change_url(instrument), _existing_post(instrument, **{"questions-0-text_en": "Changed?"})
    )
    assert response.status_code == 302, form_errors(response)
    assert instrument.questions.get(key="mood_1").text == {"en": "Changed?"}


def test_a_used_custom_instrument_is_read_only(admin_client: Client) -> None:
    instrument = create_custom_instrument(key="team_mood", scales=())
    instrument_mark_used(instrument=instrument)
    page = admin_client.get(change_url(instrument)).content.decode()
    assert "Locked: used since" in page
    assert 'name="questions-0-text_en"' not in page
    response = admin_client.post(
        change_url(instrument), _existing_post(instrument, **{"questions-0-text_en": "Changed?"})
    )
    assert response.status_code == 200
    assert "locked" in form_errors(response)
    assert instrument.questions.get(key="mood_1").text == {"en": "I like working in this team."}


def test_action_makes_a_new_version(admin_client: Client) -> None:
    instrument = create_custom_instrument(key="team_mood")
    instrument_mark_used(instrument=instrument)
    response = admin_client.post(
        CHANGELIST_URL, {"action": "make_new_version", "_selected_action": [str(instrument.pk)]}, follow=True
    )
    assert response.status_code == 200
    new = Instrument.objects.get(key="team_mood", version=2)
    assert not new.is_locked
    assert "Made" in response.content.decode()


def test_action_refuses_the_default_library(admin_client: Client) -> None:
    who5 = Instrument.objects.get(key="who5")
    response = admin_client.post(
        CHANGELIST_URL, {"action": "make_new_version", "_selected_action": [str(who5.pk)]}, follow=True
    )
    assert "belongs to the validated default library" in response.content.decode()
    assert Instrument.objects.filter(key="who5").count() == 1


def test_locked_instruments_cannot_be_deleted(admin_client: Client) -> None:
    who5 = Instrument.objects.get(key="who5")
    response = admin_client.get(reverse("admin:surveys_instrument_delete", args=[who5.pk]))
    assert response.status_code == 403
