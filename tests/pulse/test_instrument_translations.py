"""The admin sees which instrument items lack a translation, per language offered (docs/languages.md §7).

A validated item is shown only in a published translation; the CBI and COPSOQ items have none that Pulse
could check, so a German check-in page shows them in English, marked ``lang="en"``. The instrument list
says how many items of each instrument a German page shows in English, and the instrument's page lists
them, item by item, with their English wording; the WHO-5, whose official German version is shipped, lists
none.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import time_machine
from django.test import Client

from surveys import library
from surveys.definitions import untranslated_items
from surveys.models import Instrument
from tests.helpers_rounds import open_round
from tests.pulse.config_world import World, build_world
from tests.pulse.test_web_admin import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _admin(world: World, locale: str) -> Client:
    admin = world.a.admin
    admin.locale = locale
    admin.save(update_fields=["locale"])
    client = Client()
    client.force_login(world.signed_in("admin"))
    return client


def test_the_untranslated_items_are_the_validated_ones_without_a_published_german_version() -> None:
    assert untranslated_items(library.WHO5, ["en", "de"]) == {}
    cbi = untranslated_items(library.CBI_WORK, ["en", "de"])
    assert list(cbi) == ["de"]
    assert [item.key for item in cbi["de"]] == [f"cbi_work_{n}" for n in range(1, 8)]
    first = cbi["de"][0]
    assert (first.number, first.text_missing, first.options_missing) == (1, True, True)
    assert first.text == library.CBI_WORK.questions[0].text["en"]
    assert [item.key for item in untranslated_items(library.COPSOQ_DEMANDS, ["en", "de"])["de"]] == [
        f"copsoq_demands_{n}" for n in range(1, 5)
    ]
    assert untranslated_items(library.CBI_WORK, ["en"]) == {}  # English only: nothing falls back


def test_a_german_admin_sees_which_items_a_german_page_shows_in_english() -> None:
    world = build_world()
    client = _admin(world, "de")
    listing = client.get("/manage/instruments/").content.decode()
    cbi = Instrument.objects.get(key="cbi_work", version=1)
    who5 = Instrument.objects.get(key="who5", version=1)
    row = re.search(rf'<tr>\s*<td><a href="/manage/instruments/{cbi.pk}/".*?</tr>', listing, re.S)
    assert row is not None
    assert (
        f'<a href="/manage/instruments/{cbi.pk}/#untranslated-de">Deutsch: 7 Fragen auf Englisch</a>'
        in row.group(0)
    )
    who5_row = re.search(rf'<tr>\s*<td><a href="/manage/instruments/{who5.pk}/".*?</tr>', listing, re.S)
    assert who5_row is not None
    assert "auf Englisch" not in who5_row.group(0)

    page = client.get(f"/manage/instruments/{cbi.pk}/").content.decode()
    assert '<h3 id="untranslated-de">Deutsch</h3>' in page
    assert "Für diese Fragen ließ sich keine veröffentlichte Fassung auf Deutsch prüfen" in page
    section = page.split('<h3 id="untranslated-de">', 1)[1].split("</section>", 1)[0]
    for question in library.CBI_WORK.questions:
        text = question.text["en"].replace('"', "&quot;").replace("'", "&#x27;")
        assert f'<span lang="en">{text}</span>' in section, question.key
    assert section.count("Frage und Antwortmöglichkeiten auf Englisch") == 7

    who5_page = client.get(f"/manage/instruments/{who5.pk}/").content.decode()
    assert "Keine: Jeder Text liegt in jeder Sprache vor." in who5_page
    assert "untranslated-de" not in who5_page


def test_an_english_admin_reads_the_same_list_in_english() -> None:
    world = build_world()
    client = _admin(world, "en")
    copsoq = Instrument.objects.get(key="copsoq_demands", version=1)
    listing = client.get("/manage/instruments/").content.decode()
    assert (
        f'<a href="/manage/instruments/{copsoq.pk}/#untranslated-de">German: 4 items in English</a>'
        in listing
    )
    page = client.get(f"/manage/instruments/{copsoq.pk}/").content.decode()
    assert '<h3 id="untranslated-de">German</h3>' in page
    assert "No published German translation of these items could be checked" in page


def test_a_german_check_in_page_marks_the_untranslated_items_as_english() -> None:
    """The check-in page's side of it: the CBI's items are in English with their lang, the WHO-5's in
    German (tests/browser/test_languages.py reads the same in Chromium)."""
    setup = open_round(people_per_team=(5,), instruments=("who5", "cbi_work"), locale="de")
    html = Client().get(f"/checkin/{setup.token_of(setup.people[0])}/").content.decode()
    assert '<html lang="de">' in html
    for question in library.CBI_WORK.questions:
        text = question.text["en"].replace('"', "&quot;").replace("'", "&#x27;")
        assert f'<span lang="en">{text}</span>' in html, question.key
    assert f'<span lang="de">{library.WHO5.questions[0].text["de"]}</span>' in html
