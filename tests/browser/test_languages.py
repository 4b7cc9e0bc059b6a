"""A German engineer answers a check-in in Chromium and meets no English sentence that has a German
translation; an English engineer meets no German (docs/languages.md §2, §7).

The demo's invitations, sent by the tick's own steps, opened from the link in each email, with the real
static files (the comment counter speaks the page's language). Every visible text on the page is read with
the language it is marked with: text in a German context may contain no phrase of the English source of
the catalogue, and text marked ``lang="en"`` must be an instrument item published only in English.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings

from surveys.services.answering import round_questions
from tests.browser import test_engineer_checkin as engineer
from tests.browser.test_engineer_checkin import DemoInvite, _invite, _screenshot, _wait_for_heading

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_invites = engineer.demo_invites  # the demo's invitations, sent by the tick's own steps (a fixture)

# Every visible text node, with the language its nearest [lang] ancestor declares.
TEXTS_JS = """
const out = [[document.documentElement.lang, document.title]];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode, text = node.textContent.trim(), element = node.parentElement;
  if (!text || !element || !element.getClientRects().length) continue;
  out.push([element.closest('[lang]').getAttribute('lang'), text]);
}
return out;
"""
PLACEHOLDER = re.compile(r"%\(\w+\)s|<[^>]+>")


def _catalogue() -> list[tuple[str, str]]:
    """(English source, German translation) of every entry of the German catalogue, one line each."""
    text = (Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.po").read_text(
        encoding="utf-8"
    )
    entries = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            match = re.match(r'^(msgid|msgstr(?:\[0\])?|msgid_plural|msgctxt) "(.*)"$', line)
            if match:
                key = match.group(1)
                fields[key] = match.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        if fields.get("msgid"):
            entries.append((fields["msgid"], fields.get("msgstr", fields.get("msgstr[0]", ""))))
    return [(source.replace('\\"', '"'), german.replace('\\"', '"')) for source, german in entries]


def _phrases(text: str) -> list[str]:
    """The runs of two words or more between placeholders and tags: what a reader would see of a string."""
    return [part.strip() for part in PLACEHOLDER.split(text) if len(part.strip().split()) >= 2]


def _page_texts(browser: WebDriver) -> list[tuple[str, str]]:
    return [(str(lang), str(text)) for lang, text in browser.execute_script(TEXTS_JS)]


def _assert_only_german(browser: WebDriver, published_in_english: set[str]) -> None:
    english = {phrase for source, _german in _catalogue() for phrase in _phrases(source)}
    assert len(english) > 100  # the catalogue was read
    for lang, text in _page_texts(browser):
        if lang == "de":
            leaked = sorted(phrase for phrase in english if phrase in text)
            assert not leaked, f"English on the German page: {leaked} in {text!r}"
        else:
            assert lang == "en", (lang, text)
            assert text in published_in_english, f"marked English but not an English-only item: {text!r}"


def _english_only_items(invite: DemoInvite) -> set[str]:
    """The texts of this round published only in English (validated items without a German version)."""
    texts = set()
    for question in round_questions(invite.round):
        if not question.text.get("de"):
            texts.add(question.text_in("en"))
        for option in question.options:
            if not option["label"].get("de"):
                texts.add(option["label"]["en"])
    return texts


def test_a_german_engineer_meets_only_german(
    browser: WebDriver, demo_invites: dict[str, DemoInvite], artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By

    invite = _invite(demo_invites, team="sre-europe", instrument="workload1")  # German, Berlin
    assert invite.person.locale == "de" or invite.person.organisation.locale == "de"
    browser.get(invite.link)
    _wait_for_heading(browser, "Ihr Team-Check-in")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    assert browser.title == "Ihr Check-in · Pulse"
    lead = browser.find_element(By.CSS_SELECTOR, "p.lead").text
    # "Offen bis Donnerstag, 15. Januar, 10:00 (CET)": weekday, day with its full stop, month, in Berlin.
    assert re.search(r"Offen bis \w+tag, \d{1,2}\. \w+, \d\d:\d\d \(CES?T\)\.", lead), lead
    english_only = _english_only_items(invite)
    _assert_only_german(browser, english_only)
    # Items published only in English are marked so (a screen reader switches voice), and only those.
    marked = {element.text.strip() for element in browser.find_elements(By.CSS_SELECTOR, "main [lang='en']")}
    assert marked <= english_only
    # The counter (a static file) speaks German, with German digit grouping.
    comments = browser.find_elements(By.ID, "id_comment_1-count")
    if comments:
        assert comments[0].text == "Verbleibende Zeichen: 2.000"
    _screenshot(browser, artifacts / "checkin-german.png")
    for fieldset in browser.find_elements(By.CSS_SELECTOR, "fieldset.question"):
        fieldset.find_elements(By.CSS_SELECTOR, "label.option")[0].click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_for_heading(browser, "Vielen Dank")
    _assert_only_german(browser, english_only)
    _screenshot(browser, artifacts / "checkin-german-thanks.png")
    browser.get(invite.link)  # spent: the refusal is German too
    _wait_for_heading(browser, "Dieser Link kann nicht verwendet werden")
    _assert_only_german(browser, set())


def test_an_english_engineer_meets_no_german(browser: WebDriver, demo_invites: dict[str, DemoInvite]) -> None:
    from selenium.webdriver.common.by import By

    invite = _invite(demo_invites, team="data", instrument="who5")  # English, Kolkata
    browser.get(invite.link)
    _wait_for_heading(browser, "Your team check-in")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    german = {phrase for _source, translation in _catalogue() for phrase in _phrases(translation)}
    german -= {phrase for source, _translation in _catalogue() for phrase in _phrases(source)}
    for lang, text in _page_texts(browser):
        assert lang == "en", (lang, text)
        leaked = sorted(phrase for phrase in german if phrase in text)
        assert not leaked, f"German on the English page: {leaked} in {text!r}"
    assert browser.find_element(By.ID, "id_comment_1-count").text == "Characters left: 2,000"
