"""The team page's charts, as a leader sees them in a real headless Chromium through the real static files.

The demo organisation with its history; Lena has planned an action on SRE Americas' burnout flag. The page
is opened at a desktop's width and at a phone's, and what the chart script drew on its canvas is recorded
(each ``fillText`` of a 2D canvas, wrapped before the page loads): the y axis title with the direction,
in Lena's German, the instrument's cut-off label and the action's title beside its mark, and, under the
time axis, the days in the same format as the table beside the chart. The static key under it never reads
"withheld".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import translation
from pytest_django.live_server_helper import LiveServer

from pulse.dates import day_text
from pulse.models import Action, Flag
from surveys.models import Person, Team
from surveys.services.demo import DEMO_LEADER_EMAIL
from tests.browser.test_engineer_checkin import _screenshot
from tests.browser.test_leader_journey import WAIT, demo  # noqa: F401 (the demo fixture)
from tests.browser.test_phone_width import _phone, _sign_in
from tests.pulse.helpers_reports import BURNOUT

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "Move two on-call shifts to SRE Europe"

# Runs before any script of the page: every text drawn on a canvas is kept in window.pulseDrawn.
RECORD_CANVAS_TEXT = """
window.pulseDrawn = [];
const fill = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, x, y, max) {
  window.pulseDrawn.push(String(text));
  return fill.call(this, text, x, y, max);
};
"""


def _burnout_chart(driver: Any, url: str) -> tuple[list[str], Any]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f".chart[data-chart='{BURNOUT}'][data-drawn=true] canvas")
    )
    drawn: list[str] = driver.execute_script("return window.pulseDrawn")
    section = driver.find_element(By.CSS_SELECTOR, f".chart[data-chart='{BURNOUT}']").find_element(
        By.XPATH, "./ancestor::section[contains(@class, 'metric')]"
    )
    return drawn, section


def test_a_chart_draws_its_axis_title_cutoff_and_the_leaders_action(
    browser: WebDriver,
    demo: LiveServer,  # noqa: F811
    artifacts: Path,
) -> None:
    from selenium.webdriver.common.by import By

    sre = Team.objects.get(slug="sre-americas")
    flag = Flag.objects.filter(team=sre, metric=BURNOUT, state__in=Flag.VISIBLE_STATES).order_by("pk").first()
    assert flag is not None
    lena = Person.objects.get(email=DEMO_LEADER_EMAIL)
    planned = flag.opened_at or flag.created_at
    Action.objects.create(
        flag=flag,
        what=TITLE,
        who="Lena with Maya",
        due_on=dt.date(2026, 12, 8),
        created_by=lena,
        created_at=planned + dt.timedelta(days=1),
    )
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CANVAS_TEXT})
    browser.set_window_size(1280, 900)
    _sign_in(browser, demo.url, DEMO_LEADER_EMAIL)
    url = f"{demo.url}/teams/{sre.pk}/"

    assert lena.locale == "de"  # the demo's Lena reads Pulse in German: the chart's words are German
    drawn, section = _burnout_chart(browser, url)
    assert "Wert (1–5), höher ist schlechter" in drawn  # the y axis title, with the direction
    assert "ausgebrannt (≥ 3)" in drawn  # the single-item burnout cut-off, labelled on its line
    assert f"▼ {TITLE}" in drawn  # the action's mark, with its title
    days = [th.text for th in section.find_elements(By.CSS_SELECTOR, "table.series tbody th")]
    axis_days = [text for text in drawn if text in days]
    assert axis_days  # the time axis writes the table's days, in the table's format
    assert axis_days[-1] == days[-1]  # the latest round is always labelled
    key = section.find_element(By.CSS_SELECTOR, ".chart-key").text
    with translation.override(lena.locale or "en"):  # the page speaks Lena's language, its days too
        trend_line = translation.gettext("Trend line")
        withheld = translation.pgettext("a result", "withheld")
        due_day = day_text(dt.date(2026, 12, 8))
        due_words = translation.gettext("planned; due %(day)s") % {"day": due_day}
    assert trend_line in key
    assert "withheld" not in key.lower()
    assert withheld not in key.lower()
    assert "Grenzwert (single-item burnout): ausgebrannt (≥ 3)" in key
    assert not browser.find_elements(By.CSS_SELECTOR, ".u-legend")  # uPlot's live legend is off
    actions = section.find_element(By.CSS_SELECTOR, ".chart-actions").text
    assert TITLE in actions
    assert f"({due_words})" in actions
    _screenshot(browser, artifacts / "leader-team-charts-1280.png")

    # A phone: the same marks, and the chart fits the screen.
    _phone(browser)
    drawn, section = _burnout_chart(browser, url)
    assert "Wert (1–5), höher ist schlechter" in drawn
    assert "ausgebrannt (≥ 3)" in drawn
    assert any(text.startswith("▼ ") for text in drawn)  # the title may be shortened to fit, never dropped
    canvas = section.find_element(By.CSS_SELECTOR, ".chart canvas")
    assert canvas.rect["x"] >= 0
    assert canvas.rect["x"] + canvas.rect["width"] <= 390
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    _screenshot(browser, artifacts / "leader-team-charts-390.png")
