"""A real headless Chromium, driven by Selenium, for the browser journeys (marker ``browser``).

Uses the Debian packages' ``/usr/bin/chromium`` and ``/usr/bin/chromedriver``; the tests are skipped, with
the reason, when either is missing. Screenshots go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def _missing() -> str | None:
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists():
            return f"{binary} is not installed (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    yield from chromium()


def chromium(*, network_log: bool = False) -> Iterator[WebDriver]:
    """A headless Chromium for one test; with ``network_log`` its DevTools network events can be read with
    ``driver.get_log("performance")`` (the single sign-on tests read the URLs of a redirect chain)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="pulse-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=390,1200",  # a phone's width: the page is mobile-first
    ):
        options.add_argument(flag)
    # The console, for driver.get_log("browser"); with network_log also DevTools' network events
    # (get_log("performance")). One capability: setting it twice keeps only the second.
    logs = {"browser": "ALL", "performance": "ALL"} if network_log else {"browser": "ALL"}
    options.set_capability("goog:loggingPrefs", logs)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
