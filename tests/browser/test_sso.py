"""Single sign-on in a real headless Chromium against a real OpenID provider running locally.

The provider is panva's certified ``oidc-provider`` on Node.js (``tests/oidc/server.mjs``, installed by
``make test`` from its lock file), started on a free port for this module; Pulse finds its endpoints and
keys by discovery, exactly as in production. Each journey is one test: sign in, sign out, a token for
another audience, an expired token, an address the roster does not have, a replayed state. The two token
faults are the provider's own (``POST /_fault``): it signs the changed token with its published key, so
only the claim under test is wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from pulse.services.oidc import provider_config_forget
from surveys.models import Organisation, Person
from tests.browser.conftest import chromium
from tests.browser.test_engineer_checkin import _screenshot
from tests.factories import OrganisationFactory, PersonFactory

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OIDC_DIR = Path(django_settings.BASE_DIR) / "tests" / "oidc"
WAIT = 10.0
CLIENT_ID = "pulse"
CLIENT_SECRET = "pulse-test-secret-" + "x" * 20
ACCOUNTS = {
    "alice": {"email": "Alice@Acme.example", "email_verified": True},
    "mallory": {"email": "mallory@elsewhere.example", "email_verified": True},
}


@dataclass(frozen=True)
class RunningProvider:
    issuer: str

    def fault(self, mode: str) -> None:
        assert self.issuer.startswith("http://127.0.0.1:")
        request = urllib.request.Request(f"{self.issuer}/_fault", data=mode.encode(), method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert response.status == 204


@pytest.fixture(scope="module")
def provider(live_server: LiveServer) -> Iterator[RunningProvider]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (apt-get install -y nodejs npm)")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("the test provider is not installed: make oidc-provider (part of make test)")
    env = {
        **os.environ,
        "PULSE_CALLBACK": f"{live_server.url}/login/sso/callback/",
        "PULSE_AFTER_LOGOUT": f"{live_server.url}/login/",
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
    }
    process = subprocess.Popen(
        [node, str(OIDC_DIR / "server.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening "), f"the provider did not start: {line!r}"
        yield RunningProvider(issuer=f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def acme(provider: RunningProvider, settings: Settings) -> Person:
    settings.PULSE_OIDC_ISSUER = provider.issuer
    settings.PULSE_OIDC_ORGANISATION = "Acme"
    settings.PULSE_OIDC_PROVIDER_NAME = "Acme ID"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    provider_config_forget()
    organisation = OrganisationFactory(name="Acme", password_sign_in=False)
    OrganisationFactory(name="Elsewhere")
    return PersonFactory(organisation=organisation, email="alice@acme.example", display_name="Alice")


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    yield from chromium(network_log=True)


def _wait(driver: WebDriver, css: str, text: str = "") -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    locator = (By.CSS_SELECTOR, css)
    if text:
        WebDriverWait(driver, WAIT).until(expected_conditions.text_to_be_present_in_element(locator, text))
    return WebDriverWait(driver, WAIT).until(expected_conditions.presence_of_element_located(locator))


def _sign_in_at_provider(driver: WebDriver, base: str, login: str, shot: Path | None = None) -> None:
    """From Pulse's sign-in page through the provider's own login form (any password)."""
    from selenium.webdriver.common.by import By

    driver.get(base + "/login/")
    button = _wait(driver, "#sso-sign-in")
    assert button.text == "Sign in with Acme ID"
    if shot is not None:
        _screenshot(driver, shot)
    button.click()
    _wait(driver, "input[name=login]").send_keys(login)
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys("anything")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def _requested_urls(driver: WebDriver) -> list[str]:
    """Every URL the browser requested since the last call, redirects included (DevTools network log)."""
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]  # Chromium's, not WebDriver's
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _refusal(driver: WebDriver) -> str:
    return str(_wait(driver, "#sso-refusal").get_attribute("data-reason"))


def _signed_in_users() -> set[int]:
    return {int(session.get_decoded().get("_auth_user_id", 0)) for session in Session.objects.all()} - {0}


def test_sign_in_with_pkce_state_and_nonce_makes_the_rosters_person_a_user(
    browser: WebDriver, live_server: LiveServer, acme: Person, provider: RunningProvider, artifacts: Path
) -> None:
    started = time.monotonic()
    assert acme.user is None
    _sign_in_at_provider(browser, live_server.url, "alice", shot=artifacts / "sso-sign-in-page.png")
    _wait(browser, "h1", "Hello, Alice")
    assert urlsplit(browser.current_url).path == "/"
    acme.refresh_from_db()
    assert acme.user is not None
    assert acme.user.email == "alice@acme.example"
    assert _signed_in_users() == {acme.user.pk}

    urls = _requested_urls(browser)
    authorize = [url for url in urls if url.startswith(provider.issuer + "/auth?")]
    assert authorize, urls
    query = parse_qs(urlsplit(authorize[0]).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert len(query["state"][0]) >= 32
    assert len(query["nonce"][0]) >= 32
    assert query["scope"] == ["openid email"]
    callback = [url for url in urls if "/login/sso/callback/" in url]
    assert len(callback) == 1
    assert "code=" in callback[0]
    assert time.monotonic() - started < 20


def test_sign_out_ends_the_session_here_and_at_the_provider(
    browser: WebDriver, live_server: LiveServer, acme: Person
) -> None:
    from selenium.webdriver.common.by import By

    _sign_in_at_provider(browser, live_server.url, "alice")
    _wait(browser, "h1", "Hello, Alice")
    browser.find_element(By.CSS_SELECTOR, "form[action='/logout/'] button").click()
    # The provider asks before it ends its own session, then sends the browser back to Pulse's sign-in.
    _wait(browser, "#logout-yes").click()
    _wait(browser, "#sso-sign-in")
    assert urlsplit(browser.current_url).path == "/login/"
    assert _signed_in_users() == set()
    browser.get(live_server.url + "/me/checkins/")
    assert urlsplit(browser.current_url).path == "/login/"
    # Signing in again asks the provider for the login again: its session ended too.
    browser.find_element(By.ID, "sso-sign-in").click()
    _wait(browser, "input[name=login]")


def test_a_token_for_another_audience_signs_no_one_in(
    browser: WebDriver, live_server: LiveServer, acme: Person, provider: RunningProvider
) -> None:
    provider.fault("wrong_audience")
    _sign_in_at_provider(browser, live_server.url, "alice")
    assert _refusal(browser) == "wrong_audience"
    assert "meant for another application" in browser.find_element("css selector", "h1").text
    assert _signed_in_users() == set()
    acme.refresh_from_db()
    assert acme.user is None


def test_an_expired_token_signs_no_one_in(
    browser: WebDriver, live_server: LiveServer, acme: Person, provider: RunningProvider
) -> None:
    provider.fault("expired")
    _sign_in_at_provider(browser, live_server.url, "alice")
    assert _refusal(browser) == "expired"
    assert _signed_in_users() == set()


def test_an_address_not_on_the_roster_is_refused_and_gets_no_account(
    browser: WebDriver, live_server: LiveServer, acme: Person, artifacts: Path
) -> None:
    users_before = get_user_model().objects.count()
    _sign_in_at_provider(browser, live_server.url, "mallory")
    assert _refusal(browser) == "not_in_roster"
    _screenshot(browser, artifacts / "sso-not-on-roster.png")
    page = browser.find_element("css selector", "#sso-refusal").text
    assert "mallory@elsewhere.example" in page
    assert "Acme has no active person with that address" in page
    assert get_user_model().objects.count() == users_before
    assert not Person.objects.filter(email__iexact="mallory@elsewhere.example").exists()
    assert _signed_in_users() == set()


def test_a_replayed_state_is_refused(browser: WebDriver, live_server: LiveServer, acme: Person) -> None:
    _sign_in_at_provider(browser, live_server.url, "alice")
    _wait(browser, "h1", "Hello, Alice")
    callback = next(url for url in _requested_urls(browser) if "/login/sso/callback/" in url)
    # The same answer again, in the browser that spent it: its state is gone from the session.
    browser.get(callback)
    assert _refusal(browser) == "state"
    # And in a browser that never started a sign-in (an attacker who copied the URL).
    browser.delete_all_cookies()
    browser.get(callback)
    assert _refusal(browser) == "state"
    assert Organisation.objects.get(name="Acme").single_sign_on
