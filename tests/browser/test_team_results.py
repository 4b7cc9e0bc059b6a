"""You said, we did in a real headless Chromium: a team member signs in and sees their team's results, the
leader's action on its flag and the leader's note, not another team's (its address is "not found"), and a
member of a team below k sees only why nothing is shown. Screenshots at desktop and phone width go to
test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from pulse.services.flags import flag_action_plan
from pulse.services.team_results import round_note_save
from tests.browser.test_engineer_checkin import _screenshot
from tests.browser.test_leader_journey import WAIT
from tests.browser.test_phone_width import _phone
from tests.helpers_rounds import ensure_library
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(driver: Any, base: str, email: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(base + "/login/")
    driver.find_element(By.ID, "id_username").send_keys(email)
    driver.find_element(By.ID, "id_password").send_keys("pw")
    driver.find_element(By.CSS_SELECTOR, "form[action='/login/'] button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: "/login/" not in d.current_url)


def _main_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "main").text)


def _styled(driver: Any) -> bool:
    """The page's own stylesheet was served and applied (the body's font is not the browser default)."""
    return bool(
        driver.execute_script(
            "return [...document.styleSheets]"
            ".some(s => s.href && s.href.includes('/static/') && s.cssRules.length)"
        )
    )


def test_a_member_sees_their_team_s_results_and_actions_not_another_s(
    browser: WebDriver, live_server: LiveServer, settings: Settings, artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    ensure_library()
    org = ReportOrg(k=5)
    for burnout in (3.4, 3.6):
        org.round(
            {
                "Root": {BURNOUT: Value(14, burnout - 0.7), RATE: (16, 14)},
                "A": {BURNOUT: Value(8, burnout), RATE: (9, 8)},
            }
        )
    alice = org.person("Alice", member_of="A")
    bob = org.person("Bob", member_of="B")
    lena = org.person("Lena", leads="A")
    flag = org.flag("A")
    flag_action_plan(
        flag_id=flag.pk,
        by=lena,
        what="Two fewer on-call shifts each for the next month",
        who="Lena",
        due_on=dt.date(2026, 12, 31),
    )
    round_note_save(
        round_id=org.rounds[-1].pk,
        team_id=org.team["A"].pk,
        by=lena,
        text="Thank you for answering.\n\nWe start with the on-call rota; tell me what else would help.",
    )

    browser.set_window_size(1280, 900)
    _sign_in(browser, live_server.url, alice.email)
    browser.find_element(By.LINK_TEXT, "Team results").click()
    section = browser.find_element(By.CSS_SELECTOR, f"section.team-results[data-team='{org.team['A'].pk}']")
    text = section.text
    assert "Burnout (single item)" in text
    assert "3.6" in text
    assert "90% of the team answered." in text
    assert "Planned: Two fewer on-call shifts each for the next month (Lena, by 31 Dec 2026)" in text
    assert "We start with the on-call rota" in text
    assert "No action recorded yet" not in text
    assert "2.9" not in _main_text(browser)  # Root's result: not her team
    assert _styled(browser)
    _screenshot(browser, artifacts / "team-results-member-1280.png")
    _phone(browser)
    browser.refresh()
    assert "3.6" in _main_text(browser)
    assert int(browser.execute_script("return document.documentElement.scrollWidth")) <= 390
    _screenshot(browser, artifacts / "team-results-member-390.png")

    # Another team's page, by changing the address: not found.
    browser.get(f"{live_server.url}/results/{org.team['B'].pk}/")
    assert "3.6" not in browser.page_source
    assert "Burnout" not in browser.page_source
    assert (
        "Not found" in browser.title
        or "404" in browser.page_source
        or "not found" in browser.page_source.lower()
    )

    # A member of B (3 answers, below k) sees only why.
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    _sign_in(browser, live_server.url, bob.email)
    browser.get(f"{live_server.url}/results/")
    text = _main_text(browser)
    assert "Fewer than 5 people of this team answered" in text
    assert "Burnout" not in text
    assert "%" not in text.split("Fewer than", 1)[1].split("Pulse shows", 1)[0]
    _screenshot(browser, artifacts / "team-results-below-k-1280.png")
    errors = [entry for entry in cast(Any, browser).get_log("browser") if entry["level"] == "SEVERE"]
    assert [e for e in errors if "/results/" not in e["message"] or "404" not in e["message"]] == []
