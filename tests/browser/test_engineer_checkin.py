"""An engineer answers a check-in from the demo invitation email, in a real headless Chromium.

The demo organisation (Acme) with its own schedules; the tick's steps open its rounds and send the
invitations (locmem email backend), and the browser follows the link in the email's text, exactly as a
person would. One pass clicks the answer labels with a phone-sized window; one uses the
keyboard only (Tab and Space). Screenshots are saved under test-artifacts/.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.core import mail
from django.utils.text import Truncator
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from surveys.models import Invitation, Membership, Participation, Person, Round, SealedBallot
from surveys.sealing import token_hash
from surveys.services.answering import round_questions
from surveys.services.demo import demo_create
from surveys.services.emails import emails_send_due
from surveys.services.rounds import rounds_open_due
from tests.helpers_rounds import ensure_library

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 10.0

# WCAG 2.2 AA contrast (1.4.3): the contrast ratio of each text element against the background it is drawn
# on, from the computed colours (relative luminance per WCAG 2.x's definition).
CONTRAST_JS = """
function channel(c) { c = c / 255; return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }
function parse(color) { const m = color.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
  const p = m[1].split(',').map(x => parseFloat(x));
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; }
function luminance(c) { return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b); }
function background(el) { for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0) return c; }
  return {r: 255, g: 255, b: 255, a: 1}; }
const low = [];
const texts = 'h1, h2, p, legend, label, span, a, button, small, summary, li, strong';
for (const el of document.querySelectorAll(texts)) {
  if (!el.offsetParent || !el.textContent.trim()) continue;
  const fg = parse(getComputedStyle(el).color), bg = background(el);
  const l1 = luminance(fg), l2 = luminance(bg);
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  if (ratio < 4.5) low.push(el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" ' + ratio.toFixed(2));
}
return low;
"""


def _screenshot(driver: Any, path: Path) -> None:
    """The whole page, not only the viewport (Chromium's DevTools capture)."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))


def _wait_for_heading(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), text)
    )


# A Wednesday in the demo's second week: its Platform (Monday, Berlin) and Data (fortnightly Wednesday,
# Kolkata) rounds are open, and every invitation is past its recipient's quiet hours.
DEMO_MOMENT = dt.datetime(2026, 1, 14, 10, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class DemoInvite:
    person: Person
    round: Round
    link: str


@pytest.fixture
def demo_invites(settings: Settings, live_server: LiveServer) -> Iterator[dict[str, DemoInvite]]:
    """The demo organisation, its rounds opened and its invitations sent by the tick's own steps, at a fixed
    moment (time-machine moves the whole process's clock, the live server's thread included). Returns the
    link from each email's text, by recipient."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo's users, fast
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PULSE_BASE_URL = live_server.url
    with time_machine.travel(DEMO_MOMENT, tick=True):
        ensure_library()
        assert demo_create()
        assert rounds_open_due() >= 2
        assert emails_send_due() > 0
        invites = {}
        for message in mail.outbox:
            match = re.search(r"(http://\S+/checkin/([A-Za-z0-9_\-]+)/)", str(message.body))
            assert match, message.body
            invitation = Invitation.objects.select_related("person", "round").get(
                token_hash=token_hash(match.group(2))
            )
            assert invitation.person.email == message.to[0]
            invites[message.to[0]] = DemoInvite(invitation.person, invitation.round, match.group(1))
        yield invites


def _invite(invites: dict[str, DemoInvite], *, team: str, instrument: str) -> DemoInvite:
    """The first member of ``team`` (by email) whose open round asks ``instrument``."""
    for email in sorted(invites):
        invite = invites[email]
        if (
            Membership.objects.filter(
                person=invite.person, team__slug=team, role=Membership.Role.MEMBER
            ).exists()
            and invite.round.instruments.filter(key=instrument).exists()
        ):
            return invite
    raise AssertionError(f"the demo sent no {instrument} check-in to anyone in {team}")


def test_engineer_answers_from_the_email_by_clicking(
    browser: WebDriver, demo_invites: dict[str, DemoInvite], artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    invite = _invite(demo_invites, team="data", instrument="who5")  # English, Kolkata
    person, link = invite.person, invite.link
    browser.get(link)
    assert browser.title == "Your check-in · Pulse"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert "What your leader will see" in browser.page_source
    assert browser.execute_script(CONTRAST_JS) == []
    groups = browser.find_elements(By.CSS_SELECTOR, "fieldset.question")
    choices = [question for question in round_questions(invite.round) if question.kind == "choice"]
    assert len(groups) == len(choices) == 6  # five WHO-5 items and the workload item
    for group in groups:
        labels = group.find_elements(By.CSS_SELECTOR, "label.option")
        # WHO-5: "Less than half of the time" (2) → raw 10, score 40; workload: "About right".
        wanted = "Less than half of the time" if len(labels) == 6 else "About right"
        label = next(label for label in labels if label.text.strip() == wanted)
        label.click()
        assert label.find_element(By.TAG_NAME, "input").is_selected()
    comment = browser.find_element(By.ID, "id_comment_1")
    comment.send_keys("On-call was calmer after the runbook clean-up.")
    _screenshot(browser, artifacts / "checkin-form-mobile.png")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_for_heading(browser, "Thank you")
    page = browser.page_source
    assert "40 out of 100" in page
    assert "50 or below suggests your wellbeing has been low" in page
    assert browser.execute_script(CONTRAST_JS) == []
    _screenshot(browser, artifacts / "checkin-thanks-mobile.png")
    assert browser.get_cookies() == []  # answering anonymously leaves no cookie behind
    assert Participation.objects.filter(person=person).count() == 1
    assert SealedBallot.objects.filter(round=invite.round).count() == 1
    # The same link again: a friendly page, nothing changes.
    browser.get(link)
    _wait_for_heading(browser, "This link cannot be used")
    assert "already been answered" in browser.page_source
    assert SealedBallot.objects.filter(round=invite.round).count() == 1
    assert time.monotonic() - started < 30


def test_engineer_answers_with_the_keyboard_only(
    browser: WebDriver, demo_invites: dict[str, DemoInvite], artifacts: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    invite = _invite(demo_invites, team="sre-europe", instrument="workload1")  # German, Berlin
    person = invite.person
    browser.get(invite.link)
    # The page is German, the person's language; each question is marked with the language it is shown in
    # (WCAG 3.1.2): German where a German text exists, English for a validated item that has none.
    assert browser.find_element("tag name", "html").get_attribute("lang") == "de"
    spans = browser.find_elements("css selector", "legend span[lang], label span[lang]")
    languages = {span.text.strip(): span.get_attribute("lang") for span in spans}
    assert languages["Diese Woche war meine Arbeitsmenge"] == "de"
    assert languages["Viel zu hoch"] == "de"
    if invite.round.instruments.filter(key="burnout1").exists():
        assert languages["Using your own definition of burnout, select an answer."] == "en"
    answered: set[str] = set()
    typed = submitted = False
    for _ in range(80):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused = browser.switch_to.active_element
        kind, tag = focused.get_attribute("type"), focused.tag_name
        if kind == "radio" or tag == "textarea" or kind == "submit":
            outline = browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", focused)
            assert outline != "none", f"no visible focus on {tag} {kind}"
        if kind == "radio":
            ActionChains(browser).send_keys(Keys.SPACE).perform()
            assert focused.is_selected()
            name = focused.get_attribute("name")
            assert name is not None
            answered.add(name)
        elif tag == "textarea":
            ActionChains(browser).send_keys("Nur mit der Tastatur beantwortet.").perform()
            typed = True
        elif kind == "submit":
            _screenshot(browser, artifacts / "checkin-keyboard-before-submit.png")
            ActionChains(browser).send_keys(Keys.ENTER).perform()
            submitted = True
            break
    choices = {question.key for question in round_questions(invite.round) if question.kind == "choice"}
    assert submitted
    assert typed == any(question.kind == "text" for question in round_questions(invite.round))
    assert answered == choices
    _wait_for_heading(browser, "Vielen Dank")
    _screenshot(browser, artifacts / "checkin-keyboard-thanks.png")
    assert Participation.objects.filter(person=person).count() == 1


def test_a_form_sent_with_gaps_moves_focus_to_a_summary_naming_each_question(
    browser: WebDriver, demo_invites: dict[str, DemoInvite], artifacts: Path
) -> None:
    """Before: the summary named no question and focus stayed put; no progress on a long phone form; a
    pasted comment was cut at the limit without a word. Now: "Question n of N" on every question, a live
    count under the comment box, and a failed submit lands on a summary whose links name the questions."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    invite = _invite(demo_invites, team="data", instrument="who5")
    questions = round_questions(invite.round)
    browser.get(invite.link)
    progress = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".question .progress")]
    assert progress == [f"Question {number} of {len(questions)}" for number in range(1, len(questions) + 1)]
    # The counter (surveys/checkin.js), counting as the server counts.
    comment = browser.find_element(By.ID, "id_comment_1")
    counter = browser.find_element(By.ID, "id_comment_1-count")
    assert counter.text == "Characters left: 2,000"
    comment.send_keys("Calmer week.")
    WebDriverWait(browser, WAIT).until(lambda _: counter.text == "Characters left: 1,988")
    # A paste past the limit: nothing is cut, the counter says by how much.
    browser.execute_script(
        "arguments[0].value = 'x'.repeat(2005); arguments[0].dispatchEvent(new Event('input'))", comment
    )
    assert counter.text == "Characters too many: 5"
    assert "error" in (counter.get_attribute("class") or "")
    # Answer only the first question and send.
    first = browser.find_elements(By.CSS_SELECTOR, "fieldset.question")[0]
    first.find_elements(By.CSS_SELECTOR, "label.option")[0].click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, WAIT).until(lambda driver: driver.find_elements(By.ID, "error-summary"))
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "error-summary"  # autofocus: no script needed for this
    # (The quotation marks around each question are the <q> element's own, drawn by CSS.)
    links = [
        link.text.replace("“", "").replace("”", "")
        for link in browser.find_elements(By.CSS_SELECTOR, "#error-summary a")
    ]
    second, last = questions[1], questions[-1]
    assert (
        links[0] == f"Question 2, {Truncator(second.text_in('en')).chars(70)}: Please answer this question."
    )
    assert links[-1] == (
        f"Question {len(questions)}, {Truncator(last.text_in('en')).chars(70)}: "
        "Please keep it to 2,000 characters (this one has 2,005)."
    )
    assert len(links) == len(questions) - 1  # every unanswered choice, and the comment
    # The comment came back whole, and the count with it.
    comment = browser.find_element(By.ID, "id_comment_1")
    assert comment.get_attribute("value") == "x" * 2005
    assert browser.find_element(By.ID, "id_comment_1-count").text == "Characters too many: 5"
    assert browser.execute_script(CONTRAST_JS) == []
    _screenshot(browser, artifacts / "checkin-errors-mobile.png")
    # A summary link takes the keyboard to its question.
    browser.find_elements(By.CSS_SELECTOR, "#error-summary a")[0].click()
    assert browser.execute_script("return location.hash") == f"#q-{second.key}"
    assert SealedBallot.objects.filter(round=invite.round).count() == 0
