"""``make run`` as a newcomer runs it: the real processes, a real headless Chromium.

The other browser tests use pytest-django's live server, which serves static files by itself; this one
starts ``make run`` (migrate, the demo, then web, worker and beat from ``Procfile.dev``) in a scratch var
directory on a free port, so a page that is unstyled, a chart that is never drawn or a blank ``/api/docs/``
under ``make run`` fails here. Everything it started is stopped at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings

from surveys.services.demo import DEMO_LEADER_EMAIL, DEMO_PASSWORD
from tests.browser.test_engineer_checkin import _screenshot

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.slow]

START_TIMEOUT = 240.0  # a fresh var/: migrate, the demo and its twelve weeks of history, then the processes
WAIT = 15.0
ACCENT = "rgba(11, 92, 173, 1)"  # --accent in pulse/static/pulse/pulse.css; an unstyled link: 0, 0, 238

# Every resource the page loaded, with its HTTP status (Chromium's Resource Timing responseStatus).
RESOURCES_JS = """
return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus]);
"""


@dataclass
class Running:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc (honcho starts each Procfile process in its own session,
    so signalling make's process group alone does not reach them)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own http://127.0.0.1 URL)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Running]:
    port = _free_port()
    # The embedded defaults a fresh clone gets: SQLite and the filesystem broker under the var directory.
    unset = {
        "DATABASE_URL",
        "REDIS_URL",
        "PULSE_ENV",
        "PULSE_BASE_URL",
        "PULSE_TESTING",
        "DEBUG",
        "MAKEFLAGS",
    }
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env.update({"PULSE_VAR_DIR": str(tmp_path / "var"), "PULSE_PORT": str(port), "PYTHONUNBUFFERED": "1"})
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"make run exited with {process.returncode}:\n{running.output()[-4000:]}")
            try:
                if _get(running.url + "/health/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no 200 from /health/ in {START_TIMEOUT:.0f}s:\n{running.output()[-4000:]}")
            time.sleep(1)
        yield running
    finally:
        started = _descendants(process.pid)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # make and honcho; honcho stops web, worker and beat
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = sorted(pid for pid in started if _alive(pid))
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"processes still running after make run was stopped: {left}"


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(condition)


def _assert_resources_loaded(driver: Any) -> None:
    failed = [(name, status) for name, status in driver.execute_script(RESOURCES_JS) if status >= 400]
    assert failed == []


def test_make_run_serves_styled_pages_charts_and_api_docs(
    browser: WebDriver, make_run: Running, artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By

    base = make_run.url
    # The URL and the log-ins come last, after every process has started, with when emails appear.
    deadline = time.monotonic() + 60
    while "Pulse is running at" not in make_run.output() and time.monotonic() < deadline:
        time.sleep(0.5)
    output = make_run.output()
    banner = output.find(f"Pulse is running at {base}/")
    assert banner > 0, output[-3000:]
    assert "still waiting for" not in output[banner:].splitlines()[0]
    assert 0 < output.find("celery@") < output.find(" ready.") < banner  # the worker's start-up, above
    assert 0 < output.find("beat: Starting...") < banner
    assert f"{DEMO_LEADER_EMAIL} / {DEMO_PASSWORD}" in output[banner:]
    assert "check-in emails" in output[banner:]

    status, body = _get(base + "/static/pulse/pulse.css")
    assert status == 200
    assert b"--accent" in body
    status, body = _get(base + "/favicon.ico")
    assert status == 200
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file

    # The sign-in page is styled by pulse.css: the brand in the accent colour, the header ruled off.
    browser.set_window_size(1280, 1000)
    browser.get(base + "/login/")
    brand = browser.find_element(By.CSS_SELECTOR, "a.brand")
    assert brand.value_of_css_property("color") == ACCENT
    assert browser.find_element(By.CSS_SELECTOR, "header.top").value_of_css_property(
        "border-bottom-style"
    ) == ("solid")
    _assert_resources_loaded(browser)
    _screenshot(browser, artifacts / "make-run-login.png")

    # The demo leader signs in; her team's page draws its trend charts with uPlot.
    browser.find_element(By.ID, "id_username").send_keys(DEMO_LEADER_EMAIL)
    browser.find_element(By.ID, "id_password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login/'] button[type=submit]").click()
    _wait(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, "table.heatmap"))
    browser.find_element(By.CSS_SELECTOR, "table.heatmap tbody th a").click()
    drawn = ".chart[data-drawn=true] canvas"
    charts = _wait(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, drawn))
    assert charts[0].size["width"] > 100
    _assert_resources_loaded(browser)
    _screenshot(browser, artifacts / "make-run-team.png")

    # The API docs: Swagger UI from the sidecar's static files renders the schema's title.
    browser.get(base + "/api/docs/")
    title = _wait(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title"))
    assert "Pulse API" in title[0].text
    _wait(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
    _assert_resources_loaded(browser)
    _screenshot(browser, artifacts / "make-run-api-docs.png")
