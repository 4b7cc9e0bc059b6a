"""The team page's On-call load section and the roll-up's load table, as a leader sees them in a real headless
Chromium through the real static files.

The demo organisation with its history and its on-call load (``pulse.devtools.demo_oncall``, through the
CSV import): SRE Americas has a rota of four (below Acme's k) and eight members; SRE Europe eight and
eight. Lena (who reads Pulse in German) opens SRE Americas: its burnout chart and the load charts are drawn
by the page's script on one time axis, each limit labelled on its chart with its source, the busiest
person's share withheld in words for every week, no responder named. SRE Europe's page shows the busiest
share. Erik opens Engineering's roll-up, whose load table lists both SRE teams with their limits. The page is
checked at a desktop's width and at a phone's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import translation
from pytest_django.live_server_helper import LiveServer

from pulse.dates import day_text
from pulse.devtools.demo_oncall import _rota
from pulse.models import OncallShift, OncallWeek
from surveys.models import Organisation, Person, Team
from surveys.services.demo import DEMO_HEAD_EMAIL, DEMO_LEADER_EMAIL, DEMO_ORGANISATION
from tests.browser.test_engineer_checkin import _screenshot
from tests.browser.test_leader_journey import NOW, WAIT, demo  # noqa: F401 (the demo fixture)
from tests.browser.test_phone_width import PHONE, _phone, _sign_in
from tests.browser.test_team_charts import RECORD_CANVAS_TEXT
from tests.pulse.helpers_reports import BURNOUT

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOAD_CHARTS = ("load-interruptions", "load-time-on-call", "load-incidents", "load-rotation")


@pytest.fixture
def with_load(demo: LiveServer) -> LiveServer:  # noqa: F811
    from pulse.devtools.demo_oncall import demo_oncall_create

    assert demo_oncall_create(organisation=Organisation.objects.get(name=DEMO_ORGANISATION), now=NOW)
    return demo


def _drawn(driver: Any, url: str, charts: tuple[str, ...]) -> list[str]:
    """Open ``url`` and wait until the page's script has drawn each of ``charts``; the texts drawn."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def all_drawn(d: Any) -> bool:
        return all(
            d.find_elements(By.CSS_SELECTOR, f".chart[data-chart='{key}'][data-drawn=true] canvas")
            for key in charts
        )

    driver.get(url)
    WebDriverWait(driver, WAIT).until(all_drawn)
    drawn: list[str] = driver.execute_script("return window.pulseDrawn")
    return drawn


def _cells(driver: Any, css: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [
        [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
        for row in driver.find_elements(By.CSS_SELECTOR, css)
    ]


def test_a_leader_reads_the_teams_on_call_load_beside_its_burnout(
    browser: WebDriver,
    with_load: LiveServer,
    artifacts: Path,
) -> None:
    from selenium.webdriver.common.by import By

    americas = Team.objects.get(slug="sre-americas")
    europe = Team.objects.get(slug="sre-europe")
    lena = Person.objects.get(email=DEMO_LEADER_EMAIL)
    k = americas.organisation.min_group_size
    assert OncallWeek.objects.filter(team=americas, ends_at__gt=NOW).exists()  # this week, under way
    with translation.override(lena.locale or "en"):
        source = translation.gettext("SRE book, ch. 11")
        limits = [
            translation.gettext("Limit: 25%% of the time on call (%(source)s)") % {"source": source},
            translation.gettext("Limit: 2 incidents per 12-hour shift (%(source)s)") % {"source": source},
            translation.gettext("Minimum: 8 people at one site (%(source)s)") % {"source": source},
        ]
        rotation_below = translation.gettext("not shown: rotation below %(k)s") % {"k": k}
        load_title = translation.gettext("On-call load")
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CANVAS_TEXT})
    browser.set_window_size(1280, 900)
    _sign_in(browser, with_load.url, DEMO_LEADER_EMAIL)

    url = f"{with_load.url}/teams/{americas.pk}/"
    drawn = _drawn(browser, url, (BURNOUT, *LOAD_CHARTS))
    # Beside burnout: the load section follows the trends, under its own heading, its charts drawn.
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "main h2")]
    assert load_title in headings
    section = browser.find_element(By.ID, "load")
    assert section.location["y"] > browser.find_element(By.ID, "trends").location["y"]
    for limit in limits:
        assert limit in drawn  # each limit labelled on its chart, with its source
        assert limit in section.text  # and in the chart's key
    # One time axis: every chart of the page spans the same dates.
    spans = browser.execute_script(
        "const c = JSON.parse(document.getElementById('pulse-charts').textContent);"
        "return Object.values(c).map(x => JSON.stringify(x.x_range));"
    )
    assert len(set(spans)) == 1
    # A rotation of four is below k: the busiest person's share is withheld, in words, every week; the
    # team of eight has its time-off share.
    people = _cells(browser, "#load-people ~ table tbody tr")
    assert len(people) >= 12
    assert {row[1] for row in people} == {rotation_below}
    assert all(row[2].endswith("%") for row in people)
    # Only ended weeks: the interruptions table ends with last week, not this one.
    weeks = _cells(browser, "section.load-chart:first-of-type table.load-table tbody tr")
    ended = OncallWeek.objects.filter(team=americas, ends_at__lte=NOW).order_by("week_start").last()
    assert ended is not None
    with translation.override(lena.locale or "en"):
        assert weeks[-1][0] == day_text(ended.week_start)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1280
    # No responder appears, by the tool's reference or its stored hash.
    page = browser.page_source
    refs = [
        *_rota("sre-americas"),
        *OncallShift.objects.filter(team=americas).values_list("responder", flat=True),
    ]
    assert [ref for ref in refs if ref in page] == []
    _screenshot(browser, artifacts / "leader-team-load-1280.png")

    # SRE Europe's rotation of eight: the busiest share is shown.
    _drawn(browser, f"{with_load.url}/teams/{europe.pk}/", LOAD_CHARTS)
    people = _cells(browser, "#load-people ~ table tbody tr")
    assert any(row[1].rstrip("%").split()[0].isdigit() for row in people)

    # A phone: the same charts drawn, the page does not scroll sideways (wide tables scroll in their box).
    _phone(browser)
    _drawn(browser, url, LOAD_CHARTS)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE
    _screenshot(browser, artifacts / "leader-team-load-390.png")


def test_the_head_of_engineering_reads_the_load_of_the_teams_below(
    browser: WebDriver,
    with_load: LiveServer,
    artifacts: Path,
) -> None:
    from selenium.webdriver.common.by import By

    engineering = Team.objects.get(slug="engineering")
    erik = Person.objects.get(email=DEMO_HEAD_EMAIL)
    k = engineering.organisation.min_group_size
    with translation.override(erik.locale or "en"):
        rotation_below = translation.gettext("not shown: rotation below %(k)s") % {"k": k}
        too_few = translation.gettext("too few")
    browser.set_window_size(1280, 900)
    _sign_in(browser, with_load.url, DEMO_HEAD_EMAIL)
    browser.get(f"{with_load.url}/teams/{engineering.pk}/rollup/")
    rows = _cells(browser, "table.load-rollup tbody tr")
    names = [row[0].splitlines()[0] for row in rows]
    assert names == ["SRE Europe", "SRE Americas"]  # the results table's order; only teams with load
    europe, americas = rows
    assert rotation_below in americas[5]
    assert too_few in americas[4]
    assert "%" in europe[5]
    header = browser.find_element(By.CSS_SELECTOR, "table.load-rollup thead").text
    assert header.count("SRE") >= 3  # time on call, incidents, rotation: each limit names its source
    # The beyond-limit cells are marked in words and colour, like the results table's cut-offs.
    marked = browser.find_elements(By.CSS_SELECTOR, "table.load-rollup td.level-beyond .band")
    assert marked
    assert all(cell.text.startswith("▲") for cell in marked)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1280
    _screenshot(browser, artifacts / "rollup-load-1280.png")
    _phone(browser)
    browser.get(f"{with_load.url}/teams/{engineering.pk}/rollup/")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE
    _screenshot(browser, artifacts / "rollup-load-390.png")
