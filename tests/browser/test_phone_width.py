"""Every main page fits a 390 px phone screen: no sideways scrolling of the page (wide tables scroll inside
their own box), and the home table's explanation is shown whole."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pytest_django.live_server_helper import LiveServer

from surveys.models import Team
from surveys.services.demo import DEMO_ADMIN_EMAIL, DEMO_LEADER_EMAIL, DEMO_PASSWORD
from tests.browser.test_leader_journey import _wait_for, demo  # noqa: F401 (the demo fixture)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = 390
LEADER_PAGES = ["/", "/flags/", "/me/checkins/", "/privacy/"]
ADMIN_PAGES = [
    "/manage/",
    "/manage/organisation/",
    "/manage/people/",
    "/manage/people/new/",
    "/manage/people/import/",
    "/manage/teams/",
    "/manage/schedules/",
    "/manage/schedules/new/",
    "/manage/instruments/",
    "/account/api-token/",
]


def _phone(driver: Any) -> None:
    # Headless Chromium keeps windows at least ~500 px wide; emulate the phone's viewport instead.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )


def _sign_in(driver: Any, base: str, email: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(base + "/login/")
    driver.find_element(By.ID, "id_username").send_keys(email)
    driver.find_element(By.ID, "id_password").send_keys(DEMO_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login/'] button[type=submit]").click()
    _wait_for(driver, "h1", "")


def _width(driver: Any, url: str) -> int:
    driver.get(url)
    return int(driver.execute_script("return document.documentElement.scrollWidth"))


def test_the_main_pages_fit_a_phone_screen(browser: WebDriver, demo: LiveServer) -> None:  # noqa: F811
    _phone(browser)
    widths = {"/login/": _width(browser, demo.url + "/login/")}
    _sign_in(browser, demo.url, DEMO_LEADER_EMAIL)
    team = Team.objects.get(slug="sre-americas")
    for path in [*LEADER_PAGES, f"/teams/{team.pk}/"]:
        widths[path] = _width(browser, demo.url + path)
    browser.get(demo.url + "/")
    left, right = browser.execute_script(
        "const r = document.getElementById('heatmap-caption').getBoundingClientRect(); "
        "return [r.left, r.right];"
    )
    assert left >= 0  # the explanation is shown whole, not cut by the scrolling table
    assert right <= PHONE
    _sign_in(browser, demo.url, DEMO_ADMIN_EMAIL)
    for path in ADMIN_PAGES:
        widths[path] = _width(browser, demo.url + path)
    assert {path: width for path, width in widths.items() if width > PHONE} == {}
