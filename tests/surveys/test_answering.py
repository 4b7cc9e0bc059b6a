"""Answering a check-in: the page, the form, the JSON API and the close step, through the real stack.

Everything goes through Django's test client or the services themselves; the round is opened by the tick's
own step (tests/helpers_rounds.py). What each test attacks is in its name.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
from collections import Counter
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from surveys.models import (
    AnswerCount,
    Comment,
    Invitation,
    Participation,
    Question,
    RespondentCount,
    Round,
    ScoreCount,
    SealedBallot,
)
from surveys.services import answering, counting
from surveys.services.answering import COMMENT_MAX_CHARS, SubmitRefused, response_submit
from surveys.services.counting import round_close
from tests.helpers_rounds import OpenRound, answers_for, as_form, open_round, opened_ballots

API = "/api/v1/checkin/"


def url(token: str) -> str:
    return f"/checkin/{token}/"


def stored() -> tuple[int, int, int]:
    """(participations, sealed ballots, spent invitations): what a submission writes."""
    return (
        Participation.objects.count(),
        SealedBallot.objects.count(),
        Invitation.objects.filter(spent=True).count(),
    )


def counters(round_: Round) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "respondents": sorted(
            RespondentCount.objects.filter(round=round_).values_list("team_id", "respondents")
        ),
        "answers": sorted(
            AnswerCount.objects.filter(round=round_).values_list("team_id", "question_id", "value", "count")
        ),
        "scores": sorted(
            ScoreCount.objects.filter(round=round_).values_list(
                "team_id", "instrument_id", "scale", "scored", "bucket", "band", "count"
            )
        ),
        "comments": sorted(
            Comment.objects.filter(round=round_).values_list("team_id", "question_id", "text")
        ),
    }


@pytest.fixture
def checkin(db: None) -> OpenRound:
    return open_round(people_per_team=(6,))


# --- the page and the form ----------------------------------------------------------------------------


def test_get_changes_nothing_and_the_link_stays_answerable(client: Client, checkin: OpenRound) -> None:
    token = checkin.token_of(checkin.people[0])
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):  # a mail scanner prefetching the link, then the person
            response = client.get(url(token))
            assert response.status_code == 200
    writes = [
        q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert writes == []
    assert stored() == (0, 0, 0)
    page = response.content.decode()
    assert "I have felt cheerful and in good spirits." in page
    assert "What your leader will see" in page
    assert page.count('type="radio"') == 5 * 6 + 5  # WHO-5: 5 items × 6 options; workload: 5
    assert "no-cache" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert not response.cookies  # an anonymous page sets no cookie
    response = client.post(url(token), as_form(answers_for(checkin.round)))
    assert response.status_code == 200
    assert stored() == (1, 1, 1)


def test_post_spends_the_link_and_seals_the_answers(client: Client, checkin: OpenRound) -> None:
    person = checkin.people[2]
    answers = answers_for(checkin.round, rng=random.Random(7), comment="The pager was quiet this week.")
    response = client.post(url(checkin.token_of(person)), as_form(answers))
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    invitation = Invitation.objects.get(round=checkin.round, person=person)
    assert invitation.spent
    assert list(Participation.objects.values_list("round_id", "person_id")) == [(checkin.round.pk, person.pk)]
    (payload,) = opened_ballots(checkin.round)
    ids = dict(Question.objects.filter(key__in=answers).values_list("key", "pk"))
    assert payload == {
        "answers": {str(ids[key]): value for key, value in answers.items()},
        "teams": [checkin.teams[0].pk],
    }


def test_second_use_is_refused_with_a_friendly_page(client: Client, checkin: OpenRound) -> None:
    token = checkin.token_of(checkin.people[0])
    assert client.post(url(token), as_form(answers_for(checkin.round))).status_code == 200
    for response in (client.post(url(token), as_form(answers_for(checkin.round))), client.get(url(token))):
        assert response.status_code == 410
        page = response.content.decode()
        assert "already been answered" in page
        assert token not in page
        assert response["Referrer-Policy"] == "no-referrer"
    assert stored() == (1, 1, 1)


def test_the_privacy_page_says_what_is_kept(client: Client, db: None) -> None:
    page = client.get("/privacy/").content.decode()
    assert "an encrypted copy so that reminders can repeat the same link" in page
    assert "tell whose is whose" in page  # who could still link while a round is open
    assert "Once a check-in has closed, no one can link an answer to a person" in page
    assert "the check-in's key is destroyed" in page


def test_unknown_token_is_404(client: Client, checkin: OpenRound) -> None:
    for response in (client.get(url("x" * 43)), client.post(url("x" * 43), {"who5_1": "3"})):
        assert response.status_code == 404
        assert "not valid" in response.content.decode()
    assert client.get(url("y" * 500)).status_code == 404  # over-long: not even looked up
    assert stored() == (0, 0, 0)


def test_expired_link_is_410_before_the_close_step_ran(client: Client, checkin: OpenRound) -> None:
    token = checkin.token_of(checkin.people[0])
    with time_machine.travel(checkin.round.closes_at + dt.timedelta(minutes=1), tick=False):
        assert Round.objects.get(pk=checkin.round.pk).status == Round.Status.OPEN
        for response in (
            client.get(url(token)),
            client.post(url(token), as_form(answers_for(checkin.round))),
        ):
            assert response.status_code == 410
            assert "has closed" in response.content.decode()
    assert stored() == (0, 0, 0)


def test_closed_round_is_410(client: Client, checkin: OpenRound) -> None:
    token = checkin.token_of(checkin.people[0])
    assert round_close(round_id=checkin.round.pk, now=checkin.close_moment)
    response = client.post(url(token), as_form(answers_for(checkin.round)))
    assert response.status_code == 410
    api = client.post(
        API, {"token": token, "answers": answers_for(checkin.round)}, content_type="application/json"
    )
    assert api.status_code == 410
    assert stored() == (0, 0, 0)


def test_other_methods_are_refused(client: Client, checkin: OpenRound) -> None:
    response = client.put(url(checkin.token_of(checkin.people[0])))
    assert response.status_code == 405
    assert stored() == (0, 0, 0)


TOO_LONG = f"Please keep it to {COMMENT_MAX_CHARS:,} characters (this one has {COMMENT_MAX_CHARS + 1:,})."
INVALID_FORMS = {
    "missing required answer": ({"who5_3": None}, {"who5_3": "Please answer this question."}),
    "off-scale value": ({"who5_1": "6"}, {"who5_1": "That value is not one of this question's options."}),
    "negative value": (
        {"workload1_1": "-1"},
        {"workload1_1": "That value is not one of this question's options."},
    ),
    "not a number": ({"workload1_1": "3; DROP TABLE"}, {"workload1_1": "Choose one of the options."}),
    "unknown field": ({"who5_9": "3"}, {"who5_9": "Unknown question for this check-in."}),
    "too-long comment": (
        {"comment_1": "a" * (COMMENT_MAX_CHARS + 1)},
        {"comment_1": TOO_LONG},
    ),
    "NUL byte": (
        {"comment_1": "fine\x00then"},
        {"comment_1": "The text contains a control character; please remove it."},
    ),
    "control character": (
        {"comment_1": "ring\x07the bell"},
        {"comment_1": "The text contains a control character; please remove it."},
    ),
    "two problems": (
        {"who5_2": None, "workload1_1": "9"},
        {
            "who5_2": "Please answer this question.",
            "workload1_1": "That value is not one of this question's options.",
        },
    ),
}


def _broken(round_: Round, changes: dict[str, Any]) -> dict[str, Any]:
    answers: dict[str, Any] = answers_for(round_, comment="ok")
    for key, value in changes.items():
        if value is None:
            answers.pop(key, None)
        else:
            answers[key] = value
    return answers


@pytest.mark.parametrize(("changes", "errors"), INVALID_FORMS.values(), ids=INVALID_FORMS.keys())
def test_invalid_form_is_400_field_by_field_and_stores_nothing(
    client: Client, checkin: OpenRound, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    token = checkin.token_of(checkin.people[0])
    response = client.post(url(token), as_form(_broken(checkin.round, changes)))
    assert response.status_code == 400
    page = response.content.decode()
    assert f"Please check {len(errors)} answer" in page
    for key, message in errors.items():
        assert f'href="#q-{key}"' in page
        assert message.replace("'", "&#x27;") in page
    # Errors for real questions sit next to the question (and nowhere else).
    beside = set(re.findall(r'id="err-([a-z0-9_]+)"', page))
    assert beside == {key for key in errors if key != "who5_9"}
    assert stored() == (0, 0, 0)
    # What the person had chosen is kept, so they fix one answer instead of starting again.
    if "who5_1" not in changes:
        assert re.search(r'name="who5_1" value="5"\s+checked', page)
    # And the link still works afterwards.
    assert client.post(url(token), as_form(answers_for(checkin.round))).status_code == 200
    assert stored() == (1, 1, 1)


def test_optional_comment_may_be_left_out_or_blank(client: Client, checkin: OpenRound) -> None:
    answers = answers_for(checkin.round)
    assert client.post(url(checkin.token_of(checkin.people[0])), as_form(answers)).status_code == 200
    answers["comment_1"] = "   "
    assert client.post(url(checkin.token_of(checkin.people[1])), as_form(answers)).status_code == 200
    payloads = opened_ballots(checkin.round)
    comment_id = str(Question.objects.get(key="comment_1").pk)
    assert all(comment_id not in payload["answers"] for payload in payloads)


# --- the JSON API -------------------------------------------------------------------------------------


def post_api(client: Client, body: Any) -> Any:
    return client.post(API, json.dumps(body), content_type="application/json")


def test_api_accepts_a_submission_once(client: Client, checkin: OpenRound) -> None:
    token = checkin.token_of(checkin.people[0])
    answers = answers_for(checkin.round, comment="via Slack")
    response = post_api(client, {"token": token, "answers": answers})
    assert response.status_code == 201
    assert response.json() == {"status": "accepted"}
    again = post_api(client, {"token": token, "answers": answers})
    assert again.status_code == 410
    assert "already been answered" in again.json()["detail"]
    assert post_api(client, {"token": "z" * 43, "answers": answers}).status_code == 404
    assert stored() == (1, 1, 1)


INVALID_API = {
    "unknown top-level field": (
        lambda answers, token: {"token": token, "answers": answers, "person": 3},
        {"person": ["Unknown field."]},
    ),
    "token missing": (lambda answers, token: {"answers": answers}, {"token": ["This field is required."]}),
    "answers not an object": (
        lambda answers, token: {"token": token, "answers": [1, 2]},
        {"answers": ['Expected a dictionary of items but got type "list".']},
    ),
    "missing required answer": (
        lambda answers, token: {
            "token": token,
            "answers": {k: v for k, v in answers.items() if k != "who5_4"},
        },
        {"answers": {"who5_4": "Please answer this question."}},
    ),
    "off-scale value": (
        lambda answers, token: {"token": token, "answers": {**answers, "workload1_1": 6}},
        {"answers": {"workload1_1": "That value is not one of this question's options."}},
    ),
    "fractional value": (
        lambda answers, token: {"token": token, "answers": {**answers, "workload1_1": 2.5}},
        {"answers": {"workload1_1": "Choose one of the options."}},
    ),
    "boolean value": (
        lambda answers, token: {"token": token, "answers": {**answers, "who5_1": True}},
        {"answers": {"who5_1": "Choose one of the options."}},
    ),
    "unknown question": (
        lambda answers, token: {"token": token, "answers": {**answers, "mood": 3}},
        {"answers": {"mood": "Unknown question for this check-in."}},
    ),
    "text for a choice": (
        lambda answers, token: {"token": token, "answers": {**answers, "who5_2": "often"}},
        {"answers": {"who5_2": "Choose one of the options."}},
    ),
    "number for a comment": (
        lambda answers, token: {"token": token, "answers": {**answers, "comment_1": 5}},
        {"answers": {"comment_1": "Expected text."}},
    ),
    "too-long comment": (
        lambda answers, token: {
            "token": token,
            "answers": {**answers, "comment_1": "b" * (COMMENT_MAX_CHARS + 1)},
        },
        {"answers": {"comment_1": TOO_LONG}},
    ),
    "NUL byte": (
        lambda answers, token: {"token": token, "answers": {**answers, "comment_1": "a\u0000b"}},
        {"answers": {"comment_1": "The text contains a control character; please remove it."}},
    ),
    "lone surrogate": (
        lambda answers, token: {"token": token, "answers": {**answers, "comment_1": "a\ud800b"}},
        {"answers": {"comment_1": "The text contains an invalid character; please remove it."}},
    ),
}


@pytest.mark.parametrize(("build", "errors"), INVALID_API.values(), ids=INVALID_API.keys())
def test_api_invalid_is_400_field_by_field_and_stores_nothing(
    client: Client, checkin: OpenRound, build: Any, errors: dict[str, Any]
) -> None:
    token = checkin.token_of(checkin.people[0])
    response = post_api(client, build(answers_for(checkin.round, comment="ok"), token))
    assert response.status_code == 400
    assert response.json() == {"errors": errors}
    assert stored() == (0, 0, 0)
    assert post_api(client, {"token": token, "answers": answers_for(checkin.round)}).status_code == 201


def test_api_refuses_a_body_that_is_not_json(client: Client, checkin: OpenRound) -> None:
    response = client.post(API, "token=abc", content_type="text/plain")
    assert response.status_code == 415
    assert stored() == (0, 0, 0)


# --- what a submission costs the database -------------------------------------------------------------


def test_a_rounds_questions_are_read_once_per_process(checkin: OpenRound) -> None:
    answers = answers_for(checkin.round)
    with CaptureQueriesContext(connection) as first:
        response_submit(token=checkin.token_of(checkin.people[0]), answers=answers)
    with CaptureQueriesContext(connection) as second:
        response_submit(token=checkin.token_of(checkin.people[1]), answers=answers)
    assert any("surveys_question" in query["sql"] for query in first.captured_queries)
    assert not any("surveys_question" in query["sql"] for query in second.captured_queries)


@pytest.mark.postgres
def test_on_postgres_a_submission_is_one_read_and_one_write_statement(checkin: OpenRound) -> None:
    """The look-up of the link, then one statement that checks the round, spends the token and stores the
    participation and the ballot (so they are one transaction even without an enclosing one)."""
    answers = answers_for(checkin.round)
    response_submit(token=checkin.token_of(checkin.people[0]), answers=answers)
    with CaptureQueriesContext(connection) as queries:
        response_submit(token=checkin.token_of(checkin.people[1]), answers=answers)
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) == 2, statements
    assert statements[0].lstrip().startswith("SELECT")
    assert "FOR SHARE" in statements[1]
    assert stored() == (2, 2, 2)


def test_the_question_cache_follows_a_change_of_the_rounds_instruments(checkin: OpenRound) -> None:
    """Rounds never change their instruments in production, but a test database that rolls back reuses
    round ids: anything that creates a round or sets its instruments must empty the cache."""
    cache = answering.round_specs_cache
    keys = {spec.key for spec in cache.get(checkin.round.pk).specs}
    assert "comment_1" in keys
    checkin.round.instruments.set(checkin.round.instruments.exclude(key="comment"))
    assert "comment_1" not in {spec.key for spec in cache.get(checkin.round.pk).specs}
    token = checkin.token_of(checkin.people[0])
    response = post_api(
        Client(), {"token": token, "answers": answers_for(checkin.round) | {"comment_1": "hi"}}
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"answers": {"comment_1": "Unknown question for this check-in."}}}


def test_the_question_cache_is_bounded(db: None) -> None:
    rounds = [open_round(people_per_team=(5,)).round for _ in range(3)]
    cache = answering.RoundSpecsCache(size=2)
    for round_ in rounds:
        cache.get(round_.pk)
    with CaptureQueriesContext(connection) as queries:
        cache.get(rounds[2].pk)
        cache.get(rounds[1].pk)
    assert not queries.captured_queries
    with CaptureQueriesContext(connection) as queries:
        cache.get(rounds[0].pk)  # the least recently used was dropped
    assert len(queries.captured_queries) == 2  # the round's key and size, its questions


# --- concurrency (PostgreSQL: real row locks) ---------------------------------------------------------


def _in_threads(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; each thread has its own connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as error:  # collected and asserted on by the caller
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_of_one_token_give_one_success() -> None:
    setup = open_round(people_per_team=(6,))
    token = setup.token_of(setup.people[0])
    body = json.dumps({"token": token, "answers": answers_for(setup.round)})
    statuses = _in_threads(
        20, lambda _i: Client().post(API, body, content_type="application/json").status_code
    )
    assert Counter(statuses) == Counter({201: 1, 410: 19})
    assert Participation.objects.count() == 1
    assert SealedBallot.objects.count() == 1


def _wait_for_a_lock_wait(statement_fragment: str) -> None:
    """Until another connection's statement containing ``statement_fragment`` waits for a lock."""
    for _attempt in range(200):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s "
                "AND pid <> pg_backend_pid()",
                [f"%{statement_fragment}%"],
            )
            if cursor.fetchone()[0]:
                return
        threading.Event().wait(0.05)
    raise AssertionError(f"no statement with {statement_fragment!r} ever waited for a lock")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_submit_in_flight_when_the_round_closes_is_counted_not_lost() -> None:
    """The close step must wait for a submission that is mid-write, then count it; a close that read the
    ballots first and deleted "all ballots of the round" later would drop it or leave it behind.

    The submission's write is one statement; to hold it in the middle, another transaction holds the
    invitation's row lock, so the write has taken its shared lock on the round and waits to spend the token.
    Had the write spent the token before locking the round, the close would not wait for it, would count
    five ballots and then delete the sixth uncounted."""
    setup = open_round(people_per_team=(6,))
    for person in setup.people[1:]:
        response_submit(token=setup.token_of(person), answers=answers_for(setup.round))
    late_invitation = Invitation.objects.get(round=setup.round, person=setup.people[0])
    holding, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}
    before_close = setup.round.closes_at - dt.timedelta(seconds=1)

    def hold_the_invitation() -> None:
        try:
            with transaction.atomic():
                Invitation.objects.select_for_update().filter(pk=late_invitation.pk).exists()
                holding.set()
                assert release.wait(timeout=20)
        finally:
            connections.close_all()

    def late() -> None:
        try:
            outcome["late"] = response_submit(
                token=setup.token_of(setup.people[0]), answers=answers_for(setup.round), now=before_close
            )
        except Exception as error:
            outcome["late"] = error
        finally:
            connections.close_all()

    def close() -> None:
        try:
            outcome["close"] = round_close(round_id=setup.round.pk, now=setup.close_moment)
        except Exception as error:
            outcome["close"] = error
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_invitation)
    holder.start()
    assert holding.wait(timeout=20)
    late_thread = threading.Thread(target=late)
    late_thread.start()
    _wait_for_a_lock_wait("open_round")  # the write is under way, waiting at the spend
    close_thread = threading.Thread(target=close)
    close_thread.start()
    close_thread.join(timeout=0.5)  # the close must be waiting for the submission, not finishing
    assert close_thread.is_alive()
    release.set()
    for thread in (holder, late_thread, close_thread):
        thread.join(timeout=20)
    assert isinstance(outcome["late"], dict), outcome
    assert outcome["close"] is True, outcome
    assert SealedBallot.objects.count() == 0
    assert RespondentCount.objects.get(round=setup.round, team=setup.root).respondents == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_submit_after_the_close_started_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the close holds the round, a new submission waits; when the close commits, it is refused."""
    setup = open_round(people_per_team=(5,))
    for person in setup.people[1:]:
        response_submit(token=setup.token_of(person), answers=answers_for(setup.round))
    inside, go = threading.Event(), threading.Event()
    real_filter = SealedBallot.objects.filter

    def slow_filter(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "close" and not inside.is_set():
            inside.set()
            assert go.wait(timeout=20)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(SealedBallot.objects, "filter", slow_filter)
    outcome: dict[str, Any] = {}

    def close() -> None:
        try:
            outcome["close"] = round_close(round_id=setup.round.pk, now=setup.close_moment)
        finally:
            connections.close_all()

    def late() -> None:
        try:
            outcome["late"] = response_submit(
                token=setup.token_of(setup.people[0]),
                answers=answers_for(setup.round),
                now=setup.round.closes_at - dt.timedelta(seconds=1),
            )
        except SubmitRefused as refused:
            outcome["late"] = refused.status
        finally:
            connections.close_all()

    close_thread = threading.Thread(target=close, name="close")
    close_thread.start()
    assert inside.wait(timeout=20)
    late_thread = threading.Thread(target=late, name="late")
    late_thread.start()
    late_thread.join(timeout=0.5)
    assert late_thread.is_alive()  # waiting for the close
    go.set()
    close_thread.join(timeout=20)
    late_thread.join(timeout=20)
    assert outcome == {"close": True, "late": 410}
    assert SealedBallot.objects.count() == 0
    assert Participation.objects.count() == 4
    assert not Invitation.objects.get(round=setup.round, person=setup.people[0]).spent


# --- closing ------------------------------------------------------------------------------------------


def _answer_everyone(setup: OpenRound, seed: int = 1) -> None:
    rng = random.Random(seed)
    for index, person in enumerate(setup.people):
        response_submit(
            token=setup.token_of(person), answers=answers_for(setup.round, rng=rng, comment=f"note {index}")
        )


def test_round_close_twice_changes_nothing_the_second_time(db: None) -> None:
    setup = open_round(people_per_team=(5, 5))
    _answer_everyone(setup)
    assert round_close(round_id=setup.round.pk, now=setup.close_moment) is True
    first = counters(setup.round)
    assert first["respondents"] == sorted(
        [(setup.root.pk, 10), (setup.teams[0].pk, 5), (setup.teams[1].pk, 5)]
    )
    with CaptureQueriesContext(connection) as queries:
        assert round_close(round_id=setup.round.pk, now=setup.close_moment + dt.timedelta(hours=1)) is False
    assert not [
        q
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert counters(setup.round) == first


def test_round_close_before_the_window_ends_does_nothing(db: None) -> None:
    setup = open_round(people_per_team=(5,))
    _answer_everyone(setup)
    assert round_close(round_id=setup.round.pk, now=setup.round.closes_at - dt.timedelta(seconds=1)) is False
    assert SealedBallot.objects.count() == 5


def test_round_close_killed_halfway_leaves_the_round_as_it_was(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = open_round(people_per_team=(5, 5))
    _answer_everyone(setup)

    real_store = counting._rows_store

    def killed(model: type, *args: Any, **kwargs: Any) -> None:
        if model is Comment:
            raise RuntimeError("worker killed")
        real_store(model, *args, **kwargs)

    # Counters for respondents, answers and scores are written before the comments: fail after those.
    monkeypatch.setattr(counting, "_rows_store", killed)
    with pytest.raises(RuntimeError):
        round_close(round_id=setup.round.pk, now=setup.close_moment)
    monkeypatch.undo()
    round_ = Round.objects.get(pk=setup.round.pk)
    assert round_.status == Round.Status.OPEN
    assert round_.counted_at is None
    assert SealedBallot.objects.filter(round=round_).count() == 10
    assert not Invitation.objects.filter(round=round_, sealed_token__isnull=True).exists()
    assert all(not rows for rows in counters(round_).values())
    # The next tick finishes the job.
    assert round_close(round_id=round_.pk, now=setup.close_moment) is True
    assert RespondentCount.objects.get(round=round_, team=setup.root).respondents == 10


def test_a_round_that_cannot_be_closed_does_not_hold_up_the_others(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ballot that fails to open (tampered with, or its key removed from the ring too early) keeps its
    own round open for the operator to fix; the tick's close step still closes every other due round."""
    broken = open_round(people_per_team=(5,))
    healthy = open_round(people_per_team=(5,))
    _answer_everyone(broken)
    _answer_everyone(healthy)
    ballot = SealedBallot.objects.filter(round=broken.round).first()
    assert ballot is not None
    tampered = bytearray(bytes(ballot.ciphertext))
    tampered[-1] ^= 1
    SealedBallot.objects.filter(pk=ballot.pk).update(ciphertext=bytes(tampered))
    later = max(broken.close_moment, healthy.close_moment)
    assert counting.rounds_close_due(now=later) == 1
    assert Round.objects.get(pk=broken.round.pk).status == Round.Status.OPEN
    assert SealedBallot.objects.filter(round=broken.round).count() == 5
    assert Round.objects.get(pk=healthy.round.pk).status == Round.Status.CLOSED


def test_below_k_a_team_gets_no_counters_but_its_parent_does(db: None) -> None:
    setup = open_round(people_per_team=(4, 6), min_group_size=5)
    _answer_everyone(setup)
    round_close(round_id=setup.round.pk, now=setup.close_moment)
    # The team of 6 reaches k but gets no counters either: root (10) − 6 would be the other team's 4
    # (surveys.tree.storable_teams; tests/anonymity/test_differencing.py attacks it).
    assert counters(setup.round)["respondents"] == [(setup.root.pk, 10)]
    for team in setup.teams:
        assert not AnswerCount.objects.filter(team=team).exists()
        assert not Comment.objects.filter(team=team).exists()
    assert Comment.objects.filter(team=setup.root).count() == 10


def test_after_close_no_per_person_answer_set_exists(db: None) -> None:
    """Two rounds whose people answered differently, with the same answers per question: after close the
    databases cannot tell them apart, so nobody's combination of answers is kept anywhere."""
    worlds = []
    for swap in (False, True):
        setup = open_round(people_per_team=(6,), instruments=("who5", "workload1"))
        for index, person in enumerate(setup.people):
            who5 = [5, 4, 3, 2, 1, 0][index]
            workload = [1, 2, 3, 4, 5, 3][index]
            if swap and index in (0, 1):
                workload = [2, 1][index]  # persons 0 and 1 swap their workload answers
            answers = {f"who5_{item}": who5 for item in range(1, 6)} | {"workload1_1": workload}
            response_submit(token=setup.token_of(person), answers=answers)
        assert round_close(round_id=setup.round.pk, now=setup.close_moment)
        worlds.append(setup)

    def anonymous_view(setup: OpenRound) -> dict[str, list[tuple[Any, ...]]]:
        team_index = {setup.root.pk: "root", setup.teams[0].pk: "team"}
        keys = dict(Question.objects.values_list("pk", "key"))
        view = counters(setup.round)
        return {
            "respondents": sorted((team_index[t], n) for t, n in view["respondents"]),
            "answers": sorted((team_index[t], keys[q], v, c) for t, q, v, c in view["answers"]),
            "scores": sorted(
                (team_index[t], s, sc, b, band, c) for t, _i, s, sc, b, band, c in view["scores"]
            ),
        }

    assert anonymous_view(worlds[0]) == anonymous_view(worlds[1])
    assert SealedBallot.objects.count() == 0
    assert not Invitation.objects.filter(sealed_token__isnull=False).exists()


# --- the thank-you page and "My check-ins" -----------------------------------------------------------


def test_thank_you_shows_the_own_who5_band_once_and_stores_nothing_of_it(
    client: Client, checkin: OpenRound
) -> None:
    answers = answers_for(checkin.round) | {f"who5_{item}": 1 for item in range(1, 6)}  # raw 5 → 20/100
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url(checkin.token_of(checkin.people[0])), as_form(answers))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong>20 out of 100</strong>" in page
    assert "28 or below can be a sign of depression" in page
    assert "findahelpline.com" in page
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies
    # Every table written, wherever the write sits in a statement (on PostgreSQL the writes are the
    # sub-statements of one WITH); "FOR UPDATE" locks a row and writes no table.
    written = re.compile(r'(?:INSERT\s+INTO|(?<!FOR )UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
    writes = [q["sql"] for q in queries.captured_queries if written.search(q["sql"])]
    tables = sorted({match.group(1) for sql in writes for match in written.finditer(sql)})
    assert tables == ["surveys_invitation", "surveys_participation", "surveys_sealedballot"]
    assert not [sql for sql in writes if "likely_depression" in sql or "poor_wellbeing" in sql]


def test_thank_you_without_who5_shows_no_score(client: Client, db: None) -> None:
    setup = open_round(people_per_team=(5,), instruments=("workload1",))
    response = client.post(url(setup.token_of(setup.people[0])), {"workload1_1": "3"})
    assert response.status_code == 200
    assert "wellbeing score" not in response.content.decode()


def test_my_checkins_shows_only_the_signed_in_persons_rounds(client: Client, db: None) -> None:
    first = open_round(people_per_team=(5,))
    second = open_round(people_per_team=(5,))
    users = get_user_model().objects
    me, other = first.people[0], first.people[1]
    me.user = users.create_user(username="me@example.org")
    me.save()
    other.user = users.create_user(username="other@example.org")
    other.save()
    assert client.get("/me/checkins/").status_code == 302  # signed out: to the sign-in page
    client.force_login(me.user)
    page = client.get("/me/checkins/").content.decode()
    assert first.round.schedule.name in page
    assert second.round.schedule.name not in page
    assert f'href="{url(first.token_of(me))}"' in page
    for token in (first.token_of(other), *second.tokens.values()):
        assert token not in page
    response_submit(token=first.token_of(me), answers=answers_for(first.round))
    page = client.get("/me/checkins/").content.decode()
    assert "Answered — thank you" in page
    assert first.token_of(me) not in page
    client.force_login(users.create_user(username="nobody@example.org"))
    assert "No check-in is open for you" in client.get("/me/checkins/").content.decode()


def test_a_deactivated_person_still_signed_in_sees_no_checkins(client: Client, db: None) -> None:
    """The same rule as the API (``pulse.permissions.caller_for``): a deactivated person acts nowhere,
    whatever session their user still holds."""
    setup = open_round(people_per_team=(5,))
    person = setup.people[0]
    person.user = get_user_model().objects.create_user(username="leaver@example.org")
    person.save()
    client.force_login(person.user)
    assert f'href="{url(setup.token_of(person))}"' in client.get("/me/checkins/").content.decode()
    person.is_active = False
    person.save()
    page = client.get("/me/checkins/").content.decode()
    assert "No check-in is open for you" in page
    assert setup.token_of(person) not in page
    assert client.get("/api/v1/me/checkins/").status_code in (401, 403)


def test_the_form_is_in_the_persons_language_and_ends_with_the_comment(client: Client, db: None) -> None:
    setup = open_round(people_per_team=(5,), locale="de")
    page = client.get(url(setup.token_of(setup.people[0]))).content.decode()
    assert '<html lang="de">' in page  # the whole page in the person's language
    assert "Antworten absenden" in page
    assert '<span lang="de">… war ich froh und guter Laune</span>' in page
    assert '<span lang="de">Zu keinem Zeitpunkt</span>' in page
    assert page.index('name="who5_1"') < page.index('name="workload1_1"') < page.index('name="comment_1"')


def test_a_pasted_comment_past_the_limit_is_refused_and_kept_not_cut(
    client: Client, checkin: OpenRound
) -> None:
    """The browser used to cut a pasted comment at 2,000 characters without a word (maxlength).
    Now the whole text reaches the server, which refuses it at the field and gives it back to shorten."""
    token = checkin.token_of(checkin.people[0])
    page = client.get(url(token)).content.decode()
    assert "maxlength" not in page
    assert "Up to 2,000 characters" in page
    answers = answers_for(checkin.round)
    answers["comment_1"] = "x" * (COMMENT_MAX_CHARS + 500)
    response = client.post(url(token), as_form(answers))
    assert response.status_code == 400
    body = response.content.decode()
    assert f"(this one has {COMMENT_MAX_CHARS + 500:,})" in body
    assert "x" * (COMMENT_MAX_CHARS + 500) in body
    assert stored() == (0, 0, 0)
