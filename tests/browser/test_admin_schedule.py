"""An admin creates a schedule in the web app and sees its next openings, in a real headless Chromium."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from pytest_django.live_server_helper import LiveServer

from surveys.models import Schedule
from surveys.services.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD
from tests.helpers_rounds import ensure_library

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WAIT = 20


def _wait_for(driver: Any, css: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    )


def test_admin_creates_a_schedule_and_sees_its_next_openings(
    browser: WebDriver, live_server: LiveServer, artifacts: Path, settings: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    ensure_library()
    call_command("pulse_demo")
    browser.set_window_size(1280, 1400)
    browser.get(live_server.url + "/login/")
    browser.find_element(By.ID, "id_username").send_keys(DEMO_ADMIN_EMAIL)
    browser.find_element(By.ID, "id_password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login/'] button[type=submit]").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT).until(lambda driver: "/login/" not in driver.current_url)
    browser.get(live_server.url + "/manage/schedules/new/")
    _wait_for(browser, "h1", "schedule")

    # The engineering department's own members (not its sub-teams, which have their schedules already).
    browser.find_element(By.ID, "id_name").send_keys("Engineering weekly check-in")
    team = Select(browser.find_element(By.ID, "id_team"))
    team.select_by_index(
        next(i for i, option in enumerate(team.options) if option.text.strip() == "Engineering")
    )
    browser.find_element(By.ID, "id_include_subtree").click()
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name=instruments]"):
        label = box.find_element(By.XPATH, "./ancestor::label").text
        if "workload" in label.lower():
            box.click()
    starts = browser.find_element(By.ID, "id_starts_on")
    starts.clear()
    # A start ahead of the real clock, so the first opening listed is the first Monday from it.
    start = dt.datetime.now(ZoneInfo("Europe/Berlin")).date() + dt.timedelta(days=10)
    browser.execute_script(f"arguments[0].value = '{start.isoformat()}'", starts)
    browser.find_element(By.CSS_SELECTOR, "button[name=action][value=save]").click()

    _wait_for(browser, "body", "UTC")
    browser.save_screenshot(str(artifacts / "admin-schedule-next-openings.png"))
    schedule = Schedule.objects.get(name="Engineering weekly check-in")
    assert schedule.effective_time_zone == "Europe/Berlin"
    assert not schedule.include_subtree
    page = browser.find_element(By.TAG_NAME, "body").text
    # The first Monday from the start, 10:00 in Berlin (CET or CEST), in UTC.
    monday = start + dt.timedelta(days=-start.weekday() % 7)
    first = dt.datetime.combine(monday, dt.time(10, 0), tzinfo=ZoneInfo("Europe/Berlin")).astimezone(dt.UTC)
    assert f"{first:%Y-%m-%d %H:%M} UTC" in page
    assert page.count(" UTC") >= 5
    browser.save_screenshot(str(artifacts / "admin-schedule-next-openings.png"))
