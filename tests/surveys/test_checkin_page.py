"""The check-in page a person meets: its error summary, its progress indication and its comment box.

Through Django's test client on a round opened by the tick's own step; the browser side (focus, the live
count) is in tests/browser/test_engineer_checkin.py.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from surveys.services.answering import COMMENT_MAX_CHARS, round_questions
from tests.helpers_rounds import OpenRound, answers_for, as_form, open_round


@pytest.fixture
def checkin(db: None) -> OpenRound:
    return open_round(people_per_team=(6,))


def _summary(page: str) -> str:
    found = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert found, page
    return found.group(0)


def test_the_error_summary_names_each_question_in_page_order_and_takes_focus(
    client: Client, checkin: OpenRound
) -> None:
    questions = round_questions(checkin.round)
    number = {question.key: position for position, question in enumerate(questions, start=1)}
    text = {question.key: question.text_in("en") for question in questions}
    answers = answers_for(checkin.round)
    answers["workload1_1"] = "9"  # off the scale
    del answers["who5_3"]  # forgotten
    response = client.post(f"/checkin/{checkin.token_of(checkin.people[0])}/", as_form(answers))
    assert response.status_code == 400
    summary = _summary(response.content.decode())
    # Focus moves to the summary when the page loads, without any script.
    assert re.match(
        r'<div class="error-summary" role="alert" tabindex="-1" id="error-summary" autofocus>', summary
    )
    links = [
        unescape(re.sub(r"<[^>]+>", "", link))
        for link in re.findall(r'<a href="#q-[^"]+">(.*?)</a>', summary, re.S)
    ]
    assert links == [
        f"Question {number['who5_3']}, {text['who5_3']}: Please answer this question.",
        f"Question {number['workload1_1']}, {text['workload1_1']}: "
        "That value is not one of this question's options.",
    ]
    assert re.findall(r'href="#q-([a-z0-9_]+)"', summary) == ["who5_3", "workload1_1"]
    # The question's text is marked with its language, inside the link.
    assert f'<q lang="en">{text["who5_3"]}</q>' in summary


def test_a_field_of_no_question_is_named_by_its_key(client: Client, checkin: OpenRound) -> None:
    answers = {**answers_for(checkin.round), "who5_9": "3"}
    response = client.post(f"/checkin/{checkin.token_of(checkin.people[0])}/", as_form(answers))
    summary = _summary(response.content.decode())
    assert '<a href="#q-who5_9">who5_9: Unknown question for this check-in.</a>' in summary


def test_each_question_says_where_it_stands_without_javascript(client: Client, checkin: OpenRound) -> None:
    page = client.get(f"/checkin/{checkin.token_of(checkin.people[0])}/").content.decode()
    total = len(round_questions(checkin.round))
    assert total == 7  # five WHO-5 items, the workload item, the comment
    # In each question's own legend (or label), so a screen reader says it with the question.
    found = re.findall(
        r'<(?:legend|label for="[^"]+")><span class="progress">Question (\d+) of (\d+)</span>', page
    )
    assert found == [(str(number), str(total)) for number in range(1, total + 1)]


def test_the_comment_box_states_its_limit_and_loads_the_counter_as_a_static_file(
    client: Client, checkin: OpenRound
) -> None:
    page = client.get(f"/checkin/{checkin.token_of(checkin.people[0])}/").content.decode()
    assert f"Up to {COMMENT_MAX_CHARS:,} characters." in page  # without JavaScript, the limit in words
    box = re.search(r"<textarea[^>]*>", page)
    assert box
    assert f'data-max-chars="{COMMENT_MAX_CHARS}"' in box.group(0)
    assert "maxlength" not in box.group(0)  # a browser would cut pasted text silently
    script = re.search(r'<script src="(/static/surveys/checkin[^"]*\.js)" defer></script>', page)
    assert script, "the counter script is not on the page"
    assert finders.find("surveys/checkin.js")
    served = client.get(script.group(1))
    assert served.status_code == 200
    assert "javascript" in served["Content-Type"]
    # A file response streams; the stubs type what the test client returns without streaming_content.
    assert b"data-max-chars" in b"".join(served.streaming_content)  # type: ignore[attr-defined]
