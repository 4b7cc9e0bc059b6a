"""A leader of leaders in a real headless Chromium: the demo's head of Engineering opens the roll-up from
the home page, downloads its CSV through the page's own link (the values match the table's), and opens the
printable version, whose print stylesheet and Print button come from the real static files. Screenshots
are saved under test-artifacts/."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import time_machine
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from pulse.devtools.demo_history import demo_history_create
from surveys.models import Team
from surveys.services.demo import DEMO_HEAD_EMAIL, DEMO_PASSWORD
from tests.browser.test_engineer_checkin import _screenshot
from tests.helpers_rounds import ensure_library

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 10.0
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday: the demo's history ends the week before

# The CSV as the browser gets it, with its session: fetch() through the page's own link.
FETCH_JS = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "same-origin"})
  .then((r) => r.text().then((body) => done([r.status, r.headers.get("Content-Disposition"), body])))
  .catch((e) => done([0, "", String(e)]));
"""


@pytest.fixture
def demo(settings: Settings, live_server: LiveServer) -> Iterator[LiveServer]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo's users, fast
    with time_machine.travel(NOW, tick=True):
        ensure_library()
        assert demo_history_create()
        yield live_server


def test_the_head_of_engineering_reads_the_rollup_downloads_it_and_prints_it(
    browser: WebDriver, demo: LiveServer, artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    engineering = Team.objects.get(slug="engineering")
    browser.set_window_size(1280, 1000)
    browser.get(demo.url + "/login/")
    browser.find_element(By.ID, "id_username").send_keys(DEMO_HEAD_EMAIL)
    browser.find_element(By.ID, "id_password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login/'] button[type=submit]").click()
    WebDriverWait(browser, WAIT).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "table.heatmap"))
    )

    # Home links the roll-up of the team he leads; it lists every team below, indented by level.
    browser.find_element(By.CSS_SELECTOR, f"a[href='/teams/{engineering.pk}/rollup/']").click()
    WebDriverWait(browser, WAIT).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "table.rollup-table"))
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "table.rollup-table tbody tr")
    names = [row.find_element(By.CSS_SELECTOR, "th a").text for row in rows]
    assert names == [
        "Platform",
        "SRE Europe",
        "SRE Americas",
        "Product Engineering",
        "Payments",
        "Mobile",
        "Data",
    ]
    # The roll-up's own stylesheet is served and applied: a worsening trend is set in bold.
    worse = browser.find_elements(By.CSS_SELECTOR, "td.cell .trend-worse")
    assert worse
    assert worse[0].value_of_css_property("font-weight") == "700"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1280
    _screenshot(browser, artifacts / "rollup-engineering.png")

    # The page's CSV link, fetched by the browser: one line per team and measure, the table's values.
    link = browser.find_element(By.CSS_SELECTOR, "a[href$='/rollup/export.csv']")
    assert link.get_attribute("download") is not None
    status, disposition, body = browser.execute_async_script(FETCH_JS, link.get_attribute("href"))
    assert status == 200
    assert disposition.startswith('attachment; filename="engineering-rollup-2026-11-24')
    exported = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    columns = len(rows[0].find_elements(By.CSS_SELECTOR, "td")) - 1  # the measures and the rate
    assert len(exported) == len(rows) * columns
    for row, start in zip(rows, range(0, len(exported), columns), strict=True):
        cells = row.find_elements(By.CSS_SELECTOR, "td")[:columns]
        for cell, line in zip(cells, exported[start : start + columns], strict=True):
            assert line["team"] == row.find_element(By.CSS_SELECTOR, "th a").text
            values = cell.find_elements(By.CSS_SELECTOR, ".value")
            if line["status"] == "shown":
                # The page writes the head's (German) numbers, the CSV a decimal point (docs/languages.md §3).
                assert values[0].text == german_number(line["result"])
            else:
                assert not values
                assert line["result"] in cell.text

    # The printable page: the print stylesheet for the screen too, no navigation, a Print button.
    browser.find_element(By.CSS_SELECTOR, f"a[href='/teams/{engineering.pk}/rollup/print/']").click()
    button = WebDriverWait(browser, WAIT).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "button[data-print]"))
    )
    assert button.is_displayed()  # print.js ran: without it the button stays hidden
    assert browser.find_element(By.CSS_SELECTOR, "header.top").value_of_css_property("display") == "none"
    assert not browser.find_elements(By.CSS_SELECTOR, "main form")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.rollup-table tbody tr")) == len(rows)
    _screenshot(browser, artifacts / "rollup-engineering-print.png")


def german_number(exported: str) -> str:
    """A CSV value ("2.5", "85%") as a German page writes it ("2,5", "85 %")."""
    return exported.replace(".", ",").replace("%", " %")
