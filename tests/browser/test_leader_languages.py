"""A German leader reads a flag and a team's charts in Chromium and meets no English sentence that has a
German translation (docs/languages.md §1, §8; issue #19).

The demo organisation with its history; Lena (``locale="de"``) signs in and opens the first flag of her
inbox, its numbers unfolded, then the team's page. Every visible text and accessible name on the pages is
read with the language it is marked with: text in a German context may contain no phrase of the English
source of the catalogue; what is marked ``lang="en"`` on the flag's page is the instruments' own data (a
metric's label, an instrument's short name) and the suggestions' sources, which are citations. The chart
script draws the axis title and the cut-off in German; what changed since the last round is German too.
Screenshots: test-artifacts/leader-flag-german.png and leader-team-german.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pytest_django.live_server_helper import LiveServer

from pulse.analysis.metrics import MetricInfos
from pulse.models import Flag
from surveys import library
from surveys.models import Person
from surveys.services.demo import DEMO_LEADER_EMAIL
from tests.browser.test_engineer_checkin import _screenshot
from tests.browser.test_languages import _catalogue, _phrases
from tests.browser.test_leader_journey import WAIT, _wait_for, demo  # noqa: F401 (the demo fixture)
from tests.browser.test_phone_width import _sign_in
from tests.browser.test_team_charts import RECORD_CANVAS_TEXT

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every visible text node and accessible name, with the language its nearest [lang] ancestor declares.
TEXTS_JS = """
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode, text = node.textContent.trim(), element = node.parentElement;
  if (!text || !element || !element.getClientRects().length) continue;
  out.push([element.closest('[lang]').getAttribute('lang'), text]);
}
for (const element of document.querySelectorAll('[aria-label]')) {
  out.push([element.closest('[lang]').getAttribute('lang'), element.getAttribute('aria-label')]);
}
return out;
"""


# The flag's forms whose boxes overlap one another, and any field or text that sticks out of its form.
FORMS_OVERLAP_JS = """
const forms = [...document.querySelectorAll('.flag-forms > .flag-form')]
  .map(f => [f, f.getBoundingClientRect()]);
const out = [];
forms.forEach(([a, ra], i) => forms.slice(i + 1).forEach(([b, rb]) => {
  if (ra.left < rb.right - 1 && rb.left < ra.right - 1 && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1)
    out.push('overlap: ' + a.querySelector('h3').textContent + ' / ' + b.querySelector('h3').textContent);
}));
const parts = 'h3, label, small, select, input, textarea, button';
for (const [form, box] of forms) for (const e of form.querySelectorAll(parts)) {
  const r = e.getBoundingClientRect();
  if (r.width && (r.left < box.left - 1 || r.right > box.right + 1))
    out.push('outside: ' + e.tagName + ' ' + e.textContent.trim().slice(0, 40));
}
return out;
"""


def _instrument_data() -> set[str]:
    """The instruments' own texts a leader's page shows in English: labels, short names, band names."""
    infos = MetricInfos(library.LIBRARY)
    texts: set[str] = set()
    for definition in library.LIBRARY:
        texts.add(definition.short_name)
        for scale in definition.scales:
            info = infos.info(f"scale:{definition.key}.{scale.key}@{definition.version}")
            if info is not None:
                texts.add(info.label)
    return {text for text in texts if text}


def _assert_german(browser: WebDriver) -> list[str]:
    """No English phrase of the catalogue in German text; returns what is marked English."""
    english = {phrase for source, _german in _catalogue() for phrase in _phrases(source)}
    # Phrases German writes as English does (names, loanwords, identifiers) are no leak.
    english -= {phrase for _source, german in _catalogue() for phrase in _phrases(german)}
    assert len(english) > 100  # the catalogue was read
    marked = []
    for lang, text in browser.execute_script(TEXTS_JS):
        if lang == "de":
            leaked = sorted(phrase for phrase in english if phrase in text)
            assert not leaked, f"English on the German page: {leaked} in {text!r}"
        else:
            assert lang == "en", (lang, text)
            marked.append(str(text))
    return marked


def test_a_german_leader_reads_a_flag_and_its_charts_in_german(
    browser: WebDriver,
    demo: LiveServer,  # noqa: F811
    artifacts: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    lena = Person.objects.get(email=DEMO_LEADER_EMAIL)
    assert lena.locale == "de"
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CANVAS_TEXT})
    browser.set_window_size(1280, 1000)
    _sign_in(browser, demo.url, DEMO_LEADER_EMAIL)

    browser.get(demo.url + "/flags/")
    _wait_for(browser, "h1", "Hinweise")
    first = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=needs-you] li.flag-row")
    flag = Flag.objects.get(pk=int((first.get_attribute("id") or "").removeprefix("flag-")))
    assert flag.details.get("said")  # the demo's flags are worded when read
    _assert_german(browser)

    browser.get(f"{demo.url}/flags/{flag.pk}/")
    _wait_for(browser, "h2#why", "Warum Pulse ihn gibt")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    numbers = browser.find_element(By.CSS_SELECTOR, "details.numbers")
    numbers.find_element(By.TAG_NAME, "summary").click()
    headline = browser.find_element(By.CSS_SELECTOR, "article.flag .headline")
    assert headline.get_attribute("lang") in (None, "")  # worded in German, not the stored English
    assert "Runde" in headline.text
    sentences = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "p.reason-sentence")]
    assert sentences
    assert all("Runde" in sentence for sentence in sentences), sentences
    marked = _assert_german(browser)
    data = _instrument_data()
    sources = {s.text for s in browser.find_elements(By.CSS_SELECTOR, ".suggestions .source [lang=en]")}
    for text in marked:
        # "English": the language switch names each language in that language.
        assert text in data or text in sources or text == "English", f"marked English: {text!r}"
    _screenshot(browser, artifacts / "leader-flag-german.png")
    # The forms side by side keep their German labels and fields inside their own column, at desktop and
    # phone width ("Eine Maßnahme planen" once ran into "Erledigen").
    for width in (1280, 390):
        browser.set_window_size(width, 1000)
        assert browser.execute_script(FORMS_OVERLAP_JS) == [], width
    browser.set_window_size(1280, 1000)

    # The team's page: the charts' words are German, drawn on the canvas as in the page's key.
    browser.get(f"{demo.url}/teams/{flag.team_id}/")
    WebDriverWait(browser, WAIT).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".chart[data-drawn=true] canvas")
    )
    drawn: list[str] = browser.execute_script("return window.pulseDrawn")
    assert "Wert (1–5), höher ist schlechter" in drawn
    assert "ausgebrannt (≥ 3)" in drawn
    chart = browser.find_element(By.CSS_SELECTOR, ".chart[data-chart='scale:burnout1.burnout1@1']")
    assert (chart.get_attribute("aria-label") or "").startswith("Diagramm: Burnout (single item) pro Runde")
    trend = browser.find_elements(By.CSS_SELECTOR, "p.trend-words")
    assert trend
    assert all(p.text.startswith(("In den letzten", "Ein Trend braucht")) for p in trend), [
        p.text for p in trend
    ]
    changes = browser.find_element(By.CSS_SELECTOR, "ul.changes").text
    assert "Rauschen zwischen zwei Runden" in changes
    _assert_german(browser)
    _screenshot(browser, artifacts / "leader-team-german.png")
