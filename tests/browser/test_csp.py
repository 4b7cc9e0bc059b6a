"""No page breaks the Content Security Policy, in a real headless Chromium through the real static files.

Every main page is opened (the check-in page from a real invitation email; sign-in; a leader's home, team,
flag list and flag; the admin pages under /manage/; the Django admin, its people import included; the API
docs page) with a ``securitypolicyviolation`` listener installed before any of the page's own code runs
(DevTools' ``Page.addScriptToEvaluateOnNewDocument``, which the page's policy does not govern), and
Chromium's console log is read as well. Any violation fails the test, naming the page and what was
blocked. A deliberate inline style first shows that a violation is caught.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from pytest_django.live_server_helper import LiveServer

from pulse.models import Flag
from surveys.models import Organisation, Person, Team
from surveys.services.demo import DEMO_ADMIN_EMAIL, DEMO_LEADER_EMAIL
from tests.browser.test_engineer_checkin import DemoInvite, demo_invites  # noqa: F401 (fixture)
from tests.browser.test_leader_journey import demo  # noqa: F401 (the demo fixture)
from tests.browser.test_phone_width import ADMIN_PAGES, _sign_in

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || '?') + ' (' + (e.sourceFile || '')
    + ':' + e.lineNumber + ') ' + (e.sample || ''));
});
"""


def _watch(driver: Any) -> None:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTENER})
    driver.get_log("browser")  # start from an empty console log


def _violations(driver: Any, url: str) -> list[str]:
    """Open ``url``; what its policy refused (listener and console), once the page and its deferred scripts
    have run."""
    driver.get(url)
    deadline = time.monotonic() + 5
    while driver.execute_script("return document.readyState") != "complete" and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # deferred scripts, charts drawn after load
    found = list(driver.execute_script("return window.__csp || []"))
    found += [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Content-Security-Policy" in entry["message"]
    ]
    return found


def _assert_policy_sent(driver: Any, url: str) -> None:
    policy = driver.execute_script(
        "const r = new XMLHttpRequest(); r.open('GET', arguments[0], false); r.send();"
        "return r.getResponseHeader('Content-Security-Policy');",
        url,
    )
    assert policy is not None
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


def _visit_all(driver: Any, base: str, paths: list[str]) -> dict[str, list[str]]:
    return {path: found for path in paths if (found := _violations(driver, base + path))}


def test_a_violation_is_caught(browser: WebDriver, live_server: LiveServer) -> None:
    _watch(browser)
    assert _violations(browser, live_server.url + "/login/") == []
    browser.execute_script(
        "const s = document.createElement('style'); s.textContent = 'body { color: red }';"
        "document.head.appendChild(s);"
        "const d = document.createElement('div'); d.setAttribute('onclick', 'x()'); d.click();"
    )
    time.sleep(0.3)
    caught = browser.execute_script("return window.__csp")
    assert any(line.startswith("style-src") for line in caught), caught


def test_the_check_in_and_sign_in_pages_raise_no_csp_violation(
    browser: WebDriver,
    demo_invites: dict[str, DemoInvite],  # noqa: F811
    live_server: LiveServer,
) -> None:
    _watch(browser)
    base = live_server.url
    invite = next(iter(demo_invites.values()))
    browser.get(base + "/login/")
    _assert_policy_sent(browser, base + "/login/")
    found = {
        "check-in": _violations(browser, invite.link),
        **_visit_all(browser, base, ["/login/", "/login/email/", "/login/checkin-link/", "/privacy/"]),
    }
    assert {page: lines for page, lines in found.items() if lines} == {}


def test_the_leader_admin_and_api_pages_raise_no_csp_violation(
    browser: WebDriver,
    demo: LiveServer,  # noqa: F811
) -> None:
    _watch(browser)
    browser.set_window_size(1280, 1000)
    base = demo.url
    _sign_in(browser, base, DEMO_LEADER_EMAIL)
    team = Team.objects.get(slug="sre-americas")
    flag = Flag.objects.filter(team=team).first()
    assert flag is not None
    leader = _visit_all(
        browser,
        base,
        ["/", "/flags/", f"/flags/{flag.pk}/", f"/teams/{team.pk}/", "/me/checkins/", "/account/api-token/"],
    )
    _sign_in(browser, base, DEMO_ADMIN_EMAIL)
    organisation = Organisation.objects.get()
    person = Person.objects.filter(organisation=organisation).first()
    assert person is not None
    admin = _visit_all(
        browser,
        base,
        [
            *ADMIN_PAGES,
            f"/manage/teams/{team.pk}/",
            "/admin/",
            "/admin/surveys/person/",
            f"/admin/surveys/person/{person.pk}/change/",
            f"/admin/surveys/organisation/{organisation.pk}/import-people/",
            "/admin/pulse/flag/",
            "/admin/pulse/apitoken/",
            "/api/docs/",
        ],
    )
    # The API docs page really drew Swagger UI (its script is a file of its own, not inline).
    browser.get(base + "/api/docs/")
    deadline = time.monotonic() + 10
    while not browser.execute_script("return !!document.querySelector('.swagger-ui .info')"):
        assert time.monotonic() < deadline, "Swagger UI did not start"
        time.sleep(0.1)
    assert {**leader, **admin} == {}
