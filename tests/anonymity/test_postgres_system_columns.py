"""PostgreSQL's hidden columns must not tie an answer to a person after the round closes.

Every row carries ``xmin`` (the id of the transaction that wrote it) and ``ctid`` (its physical place). Anyone
with ``SELECT`` can read both. Rows written in the submit transaction share its ``xmin``, and rows appended
one per submission sit in submission order. docs/anonymity.md §2: while a round is open only a sealed ballot
is written beside the participation; at close the ballots become counters and comments in one transaction, in
an order unrelated to submission. These tests answer 30 check-ins through HTTP and then read the hidden
columns the way an analyst with database access would.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from surveys.models import (
    ANSWER_BEARING_MODELS,
    AnswerCount,
    Comment,
    Invitation,
    Participation,
    Question,
    SealedBallot,
)
from surveys.services.counting import rounds_close_due
from tests.helpers_rounds import OpenRound, answers_for, as_form, open_round

on_postgres = pytest.mark.postgres
committed = pytest.mark.django_db(transaction=True)  # real transactions, so xmin means what it says

PEOPLE = 30
# Workload answers in an order whose first appearances (5, 4, 3, 2, 1) are the reverse of sorted order:
# counters written as answers arrive would sit in that order; counters written at close do not.
WORKLOAD_PATTERN = (5, 4, 3, 2, 1)
# A uniformly random order of n = 30 has Kendall's tau with mean 0 and standard deviation
# sqrt(2(2n+5) / (9n(n-1))) ≈ 0.129 (Kendall 1938); |tau| ≥ 0.6 is 4.6 standard deviations, chance < 1e-5.
TAU_LIMIT = 0.6


def _column(sql: str, params: list[Any]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _kendall_tau(order: Sequence[int]) -> float:
    n = len(order)
    concordant = sum(1 for i in range(n) for j in range(i + 1, n) if order[i] < order[j])
    pairs = n * (n - 1) // 2
    return (2 * concordant - pairs) / pairs


@pytest.fixture
def answered_round(transactional_db: None) -> tuple[OpenRound, list[str]]:
    """30 people in two teams answer through the check-in form, in a known order, each with their own
    comment; the round stays open."""
    setup = open_round(people_per_team=(15, 15))
    order = list(setup.people)
    random.Random(30).shuffle(order)
    comments = []
    client = Client()
    rng = random.Random(5)
    for index, person in enumerate(order):
        comment = f"Comment number {index:02d} in submission order"
        answers = answers_for(setup.round, rng=rng, comment=comment)
        answers["workload1_1"] = WORKLOAD_PATTERN[index % len(WORKLOAD_PATTERN)]
        response = client.post(f"/checkin/{setup.token_of(person)}/", as_form(answers))
        assert response.status_code == 200
        comments.append(comment)
    return setup, comments


@on_postgres
@committed
def test_xmin_links_ballots_while_open_and_nothing_after_close(
    answered_round: tuple[OpenRound, list[str]],
) -> None:
    setup, _comments = answered_round
    round_id = setup.round.pk
    participation_xmins = _column(
        "SELECT xmin::text FROM surveys_participation WHERE round_id = %s", [round_id]
    )
    assert len(participation_xmins) == PEOPLE
    assert len(set(participation_xmins)) == PEOPLE  # one transaction per submission
    # While open the ballot *is* linkable through xmin: one per participation. This is the attack the
    # sealing defends against (the ballot is ciphertext), and it shows the query can find a link.
    ballot_xmins = _column("SELECT xmin::text FROM surveys_sealedballot WHERE round_id = %s", [round_id])
    assert sorted(ballot_xmins) == sorted(participation_xmins)

    closed = rounds_close_due(now=setup.close_moment)  # the tick's own close step
    assert closed == 1

    answer_xmins: set[str] = set()
    for model in ANSWER_BEARING_MODELS:
        table = model._meta.db_table
        xmins = _column(f"SELECT xmin::text FROM {table} WHERE round_id = %s", [round_id])
        answer_xmins.update(xmins)
    assert answer_xmins, "the close wrote no answer rows at all"
    assert not answer_xmins & set(participation_xmins)
    # Written by the one close transaction: every counter and comment row shares one xmin.
    assert len(answer_xmins) == 1
    assert SealedBallot.objects.count() == 0
    assert Invitation.objects.filter(round_id=round_id).count() == PEOPLE
    assert not Invitation.objects.filter(round_id=round_id, sealed_token__isnull=False).exists()


@on_postgres
@committed
def test_physical_order_does_not_follow_submission(answered_round: tuple[OpenRound, list[str]]) -> None:
    setup, comments = answered_round
    assert rounds_close_due(now=setup.close_moment) == 1
    comment_question = Question.objects.get(key="comment_1")

    # Comments of the whole group (the root team counts everyone), in physical order.
    texts = _column(
        "SELECT text FROM surveys_comment WHERE round_id = %s AND team_id = %s AND question_id = %s "
        "ORDER BY ctid",
        [setup.round.pk, setup.root.pk, comment_question.pk],
    )
    assert sorted(texts) == sorted(comments)
    positions = [comments.index(text) for text in texts]
    assert positions != sorted(positions)
    assert positions != sorted(positions, reverse=True)
    tau = _kendall_tau(positions)
    assert abs(tau) < TAU_LIMIT, f"comment order follows submission order (Kendall tau {tau:.2f})"
    # Ids are random UUIDs: ordering by id is no better.
    by_id = [
        comments.index(text)
        for text in Comment.objects.filter(round=setup.round, team=setup.root, question=comment_question)
        .order_by("id")
        .values_list("text", flat=True)
    ]
    assert abs(_kendall_tau(by_id)) < TAU_LIMIT

    # Counters: one row per (team, question, value); in physical order the workload values are sorted,
    # not in the order in which they first arrived.
    workload = Question.objects.get(key="workload1_1")
    for team in (setup.root, *setup.teams):
        values = [
            int(value)
            for value in _column(
                "SELECT value FROM surveys_answercount "
                "WHERE round_id = %s AND team_id = %s AND question_id = %s ORDER BY ctid",
                [setup.round.pk, team.pk, workload.pk],
            )
        ]
        assert values == sorted(set(values))
        assert values != list(WORKLOAD_PATTERN)
    root_counts = dict(
        AnswerCount.objects.filter(round=setup.round, team=setup.root, question=workload).values_list(
            "value", "count"
        )
    )
    assert root_counts == {5: 6, 4: 6, 3: 6, 2: 6, 1: 6}
    assert Participation.objects.filter(round=setup.round).count() == PEOPLE


def test_kendall_tau_detects_an_ordered_list() -> None:
    """The statistic used above recognises submission order and its reverse."""
    assert _kendall_tau(list(range(30))) == 1.0
    assert _kendall_tau(list(range(30))[::-1]) == -1.0
    almost = list(range(30))
    almost[3], almost[20] = almost[20], almost[3]
    assert _kendall_tau(almost) > TAU_LIMIT
