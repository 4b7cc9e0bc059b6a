"""Nothing about a ballot or a response depends on what was answered, except ciphertext.

Attack 1 (no key needed): a sealed ballot's length is its plaintext's length plus a constant, and the
plaintext's format is public. While a round is open ``xmin`` joins each ballot to its Participation; after
close the comments are readable rows. Had the length varied, a reader would match every person to their
comment (or to "no comment") and learn the digits of their answers (docs/anonymity.md, "One length").

Attack 2 (a log reader): the access log records each response's size beside the request, in the order of
the Participation ids. Had the thank-you page's size varied by WHO-5 band, or an error page by the comment
it echoes, the log would tell each named person's band (docs/anonymity.md, "One size").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from surveys.services.answering import COMMENT_MAX_CHARS, round_questions
from tests.helpers_rounds import OpenRound, as_form, open_round

# Every instrument with numbers of several digits or many items: who5 (0–5), CBI (0–100 in five steps),
# the single burnout item, workload, and a free-text comment.
INSTRUMENTS = ("who5", "cbi_work", "burnout1", "workload1", "comment")


def _extreme_answers(round_: Any, *, highest: bool, comment: str | None) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in round_questions(round_):
        if question.kind == "text":
            if comment is not None:
                answers[question.key] = comment
        else:
            values = sorted(int(option["value"]) for option in question.options)
            answers[question.key] = values[-1] if highest else values[0]
    return answers


COMMENTS = [
    None,
    "",
    "ok",
    "The pager went off every night; I have not slept.",
    '"\\' * (COMMENT_MAX_CHARS // 2),  # what JSON escapes, at the limit
    "🔥" * COMMENT_MAX_CHARS,  # four bytes each in UTF-8, at the limit
    "é\n" * (COMMENT_MAX_CHARS // 2),
]


@pytest.fixture
def answered(db: None) -> OpenRound:
    return open_round(people_per_team=(len(COMMENTS) * 2 + 1,), instruments=INSTRUMENTS)


def test_every_ballot_of_a_round_has_one_length(answered: OpenRound) -> None:
    client = Client()
    people = iter(answered.people)
    for comment in COMMENTS:
        for highest in (False, True):
            answers = _extreme_answers(answered.round, highest=highest, comment=comment)
            response = client.post(f"/checkin/{answered.token_of(next(people))}/", as_form(answers))
            assert response.status_code == 200
    # A middle answer through the JSON API, too.
    answers = _extreme_answers(answered.round, highest=True, comment="x")
    answers["cbi_work_1"] = 50
    body = {"token": answered.token_of(next(people)), "answers": answers}
    assert (
        client.post("/api/v1/checkin/", json.dumps(body), content_type="application/json").status_code == 201
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT length(ciphertext), count(*) FROM surveys_sealedballot WHERE round_id = %s GROUP BY 1",
            [answered.round.pk],
        )
        lengths = dict(cursor.fetchall())
    assert sum(lengths.values()) == len(COMMENTS) * 2 + 1
    assert len(lengths) == 1, f"ballot lengths differ: {lengths}"


def _who5(value: int) -> dict[str, int]:
    return {f"who5_{item}": value for item in range(1, 6)}


# WHO-5 raw sum × 4 (Topp et al. 2015): 0 → 0 (likely depression), 2 → 40 (poor wellbeing), 3 → 60,
# 5 → 100 (above 50), and 28 exactly at the depression cut-off.
BANDS = {
    "score 0, likely depression": _who5(0),
    "score 28, likely depression": {**_who5(1), "who5_1": 3, "who5_2": 2},
    "score 40, poor wellbeing": _who5(2),
    "score 60": _who5(3),
    "score 100": _who5(5),
}


@pytest.fixture
def who5_round(db: None) -> OpenRound:
    return open_round(people_per_team=(len(BANDS) * 3,), instruments=("who5", "workload1", "comment"))


def test_the_thank_you_page_has_one_size_in_every_who5_band(who5_round: OpenRound) -> None:
    client = Client()
    people = iter(who5_round.people)
    sizes: dict[str, int] = {}
    bands_seen = set()
    for name, who5 in BANDS.items():
        for comment in ("", "short", "c" * COMMENT_MAX_CHARS):
            answers = {**who5, "workload1_1": 3, "comment_1": comment}
            response = client.post(f"/checkin/{who5_round.token_of(next(people))}/", as_form(answers))
            assert response.status_code == 200
            page = response.content.decode()
            assert "Thank you" in page
            bands_seen.add(("28 or below" in page, "50 or below" in page, "usual range" in page))
            sizes[f"{name}, comment of {len(comment)}"] = len(response.content)
            assert int(response["Content-Length"]) == len(response.content)
            assert "no-transform" in response["Cache-Control"]
    assert len(bands_seen) == 3  # the pages did differ in what they said
    assert len(set(sizes.values())) == 1, f"thank-you sizes differ: {sizes}"


def test_the_json_answer_has_one_size_in_every_who5_band(who5_round: OpenRound) -> None:
    client = Client()
    people = iter(who5_round.people)
    sizes = set()
    for who5 in BANDS.values():
        body = {"token": who5_round.token_of(next(people)), "answers": {**who5, "workload1_1": 1}}
        response = client.post("/api/v1/checkin/", json.dumps(body), content_type="application/json")
        assert response.status_code == 201
        sizes.add(len(response.content))
    assert len(sizes) == 1


def test_a_form_sent_back_with_errors_has_one_size_whatever_comment_it_echoes(who5_round: OpenRound) -> None:
    """A person who forgot a question gets the form back with their comment in it; its length must not
    reach the log through the response's size."""
    client = Client()
    token = who5_round.token_of(who5_round.people[0])
    sizes = {}
    for comment in ("", "a", "<&>\"'" * 400, "🔥" * COMMENT_MAX_CHARS):
        answers = {**_who5(3), "comment_1": comment}  # workload1_1 missing
        response = client.post(f"/checkin/{token}/", as_form(answers))
        assert response.status_code == 400
        sizes[len(comment)] = len(response.content)
    assert len(set(sizes.values())) == 1, f"error page sizes differ: {sizes}"


EVERY_INSTRUMENT = ("who5", "cbi_work", "cbi_personal", "copsoq_demands", "burnout1", "workload1", "comment")


def test_an_error_page_naming_every_question_has_the_size_of_one_naming_one(db: None) -> None:
    """The error summary names each question it links to, and each question says "Question n of N": the
    page with every question wrong (and the longest comment it can echo) must still fit the padding block
    of the page with one answer missing, in the largest round the library makes."""
    checkin = open_round(people_per_team=(5,), instruments=EVERY_INSTRUMENT)
    questions = round_questions(checkin.round)
    choices = [question.key for question in questions if question.kind != "text"]
    complete = _extreme_answers(checkin.round, highest=True, comment="")
    variants = {
        "one missing": {key: value for key, value in complete.items() if key != choices[0]},
        "all missing": {},
        "all off the scale, the widest comment at the limit": {
            **dict.fromkeys(choices, "99"),
            "comment_1": "<" * COMMENT_MAX_CHARS,  # escaped to four bytes each
        },
        "all missing, four-byte characters at the limit": {"comment_1": "🔥" * COMMENT_MAX_CHARS},
    }
    client = Client()
    token = checkin.token_of(checkin.people[0])
    sizes = {}
    for name, answers in variants.items():
        response = client.post(f"/checkin/{token}/", as_form(answers))
        assert response.status_code == 400, name
        page = response.content.decode()
        assert page.count('<li><a href="#q-') == (1 if name == "one missing" else len(choices)), name
        sizes[name] = len(response.content)
    assert len(set(sizes.values())) == 1, f"error page sizes differ: {sizes}"


def test_a_comment_far_over_the_limit_does_not_grow_the_error_page(who5_round: OpenRound) -> None:
    """A pasted essay is refused and given back to shorten, but only as much of it as the page's one size
    holds: otherwise the error page's size would tell a log reader that this person wrote a long comment,
    and the one long comment the team's leader later reads would be theirs."""
    client = Client()
    token = who5_round.token_of(who5_round.people[0])
    sizes = {}
    for comment in ("", "<" * (5 * COMMENT_MAX_CHARS), "🔥" * (50 * COMMENT_MAX_CHARS)):
        answers = {**_who5(3), "comment_1": comment}
        response = client.post(f"/checkin/{token}/", as_form(answers))
        assert response.status_code == 400
        sizes[len(comment)] = len(response.content)
        if comment:
            page = response.content.decode()
            assert "Only its first" in page  # the person is told the text they get back is cut
    assert len(set(sizes.values())) == 1, f"error page sizes differ: {sizes}"
