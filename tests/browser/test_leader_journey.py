"""A leader sees a flag, acknowledges it and plans an action, in a real headless Chromium.

The demo organisation with its twelve weeks of history (``pulse.devtools.demo_history``): Lena, who leads
Platform, signs in with the demo password, reads her teams' heatmap and open flags, acknowledges the first
flag in the inbox with a note, plans an action, and opens the team page, whose trend charts (the vendored
uPlot) are drawn beside their data tables. Screenshots are saved under test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from pulse.devtools.demo_history import demo_history_create
from pulse.models import Action, Flag, FlagEvent
from surveys.models import Person, Team
from surveys.services.demo import DEMO_LEADER_EMAIL, DEMO_PASSWORD
from tests.browser.test_engineer_checkin import CONTRAST_JS, _screenshot
from tests.helpers_rounds import ensure_library

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 10.0
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday: the demo's history ends the week before


@pytest.fixture
def demo(settings: Settings, live_server: LiveServer) -> Iterator[LiveServer]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo's users, fast
    with time_machine.travel(NOW, tick=True):
        ensure_library()
        assert demo_history_create()
        yield live_server


def _wait_for(driver: Any, css: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    )


def test_leader_sees_a_flag_acknowledges_it_and_plans_an_action(
    browser: WebDriver, demo: LiveServer, artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    browser.set_window_size(1280, 1000)
    browser.get(demo.url + "/login/")
    browser.find_element(By.ID, "id_username").send_keys(DEMO_LEADER_EMAIL)
    browser.find_element(By.ID, "id_password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login/'] button[type=submit]").click()
    _wait_for(browser, "h1", "Your teams")

    # Home: the heatmap of Platform and the teams below, with the open flags first.
    rows = browser.find_elements(By.CSS_SELECTOR, "table.heatmap tbody tr")
    assert [row.find_element(By.TAG_NAME, "th").find_element(By.TAG_NAME, "a").text for row in rows] == [
        "Platform",
        "SRE Europe",
        "SRE Americas",
    ]
    flags = browser.find_elements(By.CSS_SELECTOR, "ul.flag-list li")
    assert flags
    assert any("SRE Americas" in item.text for item in flags)
    assert browser.execute_script(CONTRAST_JS) == []
    _screenshot(browser, artifacts / "leader-home.png")

    # The inbox: acknowledge the first flag waiting for a response, then plan an action on it.
    browser.find_element(By.LINK_TEXT, "Flags").click()
    _wait_for(browser, "h1", "Flags")
    first = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=needs-you] article.flag")
    article_id = first.get_attribute("id")
    assert article_id is not None
    flag_id = int(article_id.removeprefix("flag-"))
    explanation = first.find_element(By.CSS_SELECTOR, ".explanation").text
    assert explanation.endswith(".")
    assert browser.execute_script(CONTRAST_JS) == []
    _screenshot(browser, artifacts / "leader-flags-inbox.png")
    note = browser.find_element(By.ID, f"id_ack{flag_id}-note")
    note.send_keys("Seen. Talking to the team at Thursday's retro.")
    note.find_element(By.XPATH, "./ancestor::form").find_element(By.CSS_SELECTOR, "button").click()
    _wait_for(browser, "ul.messages", "Acknowledged")
    browser.find_element(By.ID, f"id_act{flag_id}-what").send_keys("Move two on-call shifts to SRE Europe")
    browser.find_element(By.ID, f"id_act{flag_id}-who").send_keys("Lena with Maya")
    due = browser.find_element(By.ID, f"id_act{flag_id}-due_on")
    browser.execute_script("arguments[0].value = arguments[1]", due, "2026-12-08")
    due.find_element(By.XPATH, "./ancestor::form").find_element(By.CSS_SELECTOR, "button").click()
    _wait_for(browser, "ul.messages", "Action planned")
    article = browser.find_element(By.ID, f"flag-{flag_id}")
    assert "Move two on-call shifts to SRE Europe" in article.text
    assert "The action's date has not come yet." in article.text
    _screenshot(browser, artifacts / "leader-flag-action-planned.png")

    flag = Flag.objects.get(pk=flag_id)
    assert flag.state == Flag.State.ACTION_PLANNED
    lena = Person.objects.get(email=DEMO_LEADER_EMAIL)
    assert FlagEvent.objects.get(flag=flag, kind=FlagEvent.Kind.ACKNOWLEDGED).actor_id == lena.pk
    action = Action.objects.get(flag=flag)
    assert (action.who, action.due_on) == ("Lena with Maya", dt.date(2026, 12, 8))

    # The team page: trend charts drawn beside their tables, and the words about the last round.
    sre = Team.objects.get(slug="sre-americas")
    browser.get(f"{demo.url}/teams/{sre.pk}/")
    _wait_for(browser, "h1", "SRE Americas")
    _wait_for(browser, "#changed", "What changed since the last round")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".chart[data-drawn=true] canvas")
    )
    charts = browser.find_elements(By.CSS_SELECTOR, ".chart[data-drawn=true]")
    tables = browser.find_elements(By.CSS_SELECTOR, "table.series")
    assert len(charts) == len(tables) >= 3  # burnout, workload and the response rate
    changes = browser.find_element(By.CSS_SELECTOR, "ul.changes").text
    assert "the noise between two rounds" in changes
    assert browser.execute_script(CONTRAST_JS) == []
    _screenshot(browser, artifacts / "leader-team-page.png")
    assert time.monotonic() - started < 60
