"""A leader reads a flag, acts on it, resolves and reopens it, in a real headless Chromium.

The demo organisation with its twelve weeks of history (``pulse.devtools.demo_history``): Lena, who leads
Platform, signs in with the demo password, reads her teams' heatmap and open flags, opens the first flag of
the inbox (its headline, then the numbers behind it), acknowledges it, plans an action from a suggestion,
resolves it with a note and reopens it, and opens the team page, whose trend charts (the vendored
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
    # Lena reads Pulse in German (docs/languages.md); what the trend run writes stays English (lang="en").
    _wait_for(browser, "h1", "Ihre Teams")

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

    # The inbox: one row per flag, in a leader's words; the flag's own page has the rest.
    browser.find_element(By.CSS_SELECTOR, "header a[href='/flags/']").click()
    _wait_for(browser, "h1", "Hinweise")
    first = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=needs-you] li.flag-row")
    row_id = first.get_attribute("id")
    assert row_id is not None
    flag_id = int(row_id.removeprefix("flag-"))
    headline = first.find_element(By.CSS_SELECTOR, ".headline").text
    assert headline.endswith(".")
    for term in ("CUSUM", "q =", "Sen", "standard error"):
        assert term not in headline  # no statistics term in the headline
    assert not browser.find_elements(By.CSS_SELECTOR, "textarea")  # the forms open on demand
    assert browser.execute_script(CONTRAST_JS) == []
    _screenshot(browser, artifacts / "leader-flags-inbox.png")
    first.find_element(By.CSS_SELECTOR, "a.button-link").click()
    _wait_for(browser, "h1", "SRE Americas")
    assert browser.find_element(By.CSS_SELECTOR, "article.flag .headline").text == headline

    # The numbers are one click away, each term linked to the glossary.
    numbers = browser.find_element(By.CSS_SELECTOR, "details.numbers")
    assert not numbers.get_attribute("open")
    numbers.find_element(By.TAG_NAME, "summary").click()
    assert "q = " in numbers.text  # the technical sentence, in the leader's language
    assert browser.find_element(By.CSS_SELECTOR, "ul.reasons a[href^='/help/glossary/#']")

    note = browser.find_element(By.ID, f"id_ack{flag_id}-note")
    note.send_keys("Seen. Talking to the team at Thursday's retro.")
    note.find_element(By.XPATH, "./ancestor::form").find_element(By.CSS_SELECTOR, "button").click()
    _wait_for(browser, "ul.messages", "Zur Kenntnis genommen")

    # A suggestion starts the action; the leader edits it and says who and by when.
    browser.find_element(By.CSS_SELECTOR, "#suggestion-on_call button.use-suggestion").click()
    what = browser.find_element(By.ID, f"id_act{flag_id}-what")
    assert (what.get_attribute("value") or "").startswith("Die Bereitschaftsbelastung des Teams prüfen: ")
    what.send_keys(" Move two on-call shifts to SRE Europe.")
    browser.find_element(By.ID, f"id_act{flag_id}-who").send_keys("Lena with Maya")
    due = browser.find_element(By.ID, f"id_act{flag_id}-due_on")
    browser.execute_script("arguments[0].value = arguments[1]", due, "2026-12-08")
    due.find_element(By.XPATH, "./ancestor::form").find_element(By.CSS_SELECTOR, "button").click()
    _wait_for(browser, "ul.messages", "Maßnahme für SRE Americas geplant")
    article = browser.find_element(By.ID, f"flag-{flag_id}")
    assert "Move two on-call shifts to SRE Europe" in article.text
    assert "Das Datum der Maßnahme ist noch nicht erreicht." in article.text
    _screenshot(browser, artifacts / "leader-flag-action-planned.png")

    flag = Flag.objects.get(pk=flag_id)
    assert flag.state == Flag.State.ACTION_PLANNED
    lena = Person.objects.get(email=DEMO_LEADER_EMAIL)
    assert FlagEvent.objects.get(flag=flag, kind=FlagEvent.Kind.ACKNOWLEDGED).actor_id == lena.pk
    action = Action.objects.get(flag=flag)
    assert action.what.startswith("Die Bereitschaftsbelastung des Teams prüfen: ")
    assert (action.who, action.due_on) == ("Lena with Maya", dt.date(2026, 12, 8))

    # Resolve with a note, which stays on the flag, then reopen it with a reason.
    note = browser.find_element(By.ID, f"id_res{flag_id}-note")
    note.send_keys("Shifts moved; the team says nights are quieter.")
    note.find_element(By.XPATH, "./ancestor::form").find_element(By.CSS_SELECTOR, "button").click()
    _wait_for(browser, "ul.messages", "Erledigt")
    _wait_for(browser, ".resolution", "Shifts moved; the team says nights are quieter.")
    reason = browser.find_element(By.ID, f"id_reo{flag_id}-reason")
    reason.send_keys("Nights are loud again.")
    reason.find_element(By.XPATH, "./ancestor::form").find_element(By.CSS_SELECTOR, "button").click()
    _wait_for(browser, "ul.messages", "Wieder geöffnet")
    flag.refresh_from_db()
    assert (flag.state, flag.reopen_count) == (Flag.State.OPEN, 1)
    assert browser.execute_script(CONTRAST_JS) == []
    _screenshot(browser, artifacts / "leader-flag-reopened.png")

    # The team page: trend charts drawn beside their tables, and the words about the last round.
    sre = Team.objects.get(slug="sre-americas")
    browser.get(f"{demo.url}/teams/{sre.pk}/")
    _wait_for(browser, "h1", "SRE Americas")
    _wait_for(browser, "#changed", "Was sich seit der letzten Runde geändert hat")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".chart[data-drawn=true] canvas")
    )
    charts = browser.find_elements(By.CSS_SELECTOR, ".chart[data-drawn=true]")
    tables = browser.find_elements(By.CSS_SELECTOR, "table.series")
    assert len(charts) == len(tables) >= 3  # burnout, workload and the response rate
    changes = browser.find_element(By.CSS_SELECTOR, "ul.changes").text
    assert "Rauschen zwischen zwei Runden" in changes  # in Lena's German, like the rest of the page
    assert browser.execute_script(CONTRAST_JS) == []
    _screenshot(browser, artifacts / "leader-team-page.png")
    assert time.monotonic() - started < 60
