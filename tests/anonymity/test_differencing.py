"""A database reader subtracts stored counters: can a group below k be recovered?

The counters (``RespondentCount``, ``AnswerCount``, ``ScoreCount``, ``Comment``) are readable by anyone with
``SELECT``, whom docs/anonymity.md §1 puts inside the threat model. Storing them for every team with at least
k respondents is not enough: a parent of 7 minus its child of 6 is the seventh person's answers. The close
step therefore stores only the teams ``surveys.tree.storable_teams`` allows (every group that follows from the
stored rows by addition and subtraction has 0 or at least k respondents); these tests read the stored rows
back the way an attacker would.
"""

from __future__ import annotations

from collections import Counter

import pytest

from surveys.models import AnswerCount, Comment, RespondentCount, ScoreCount
from surveys.services.answering import response_submit
from surveys.services.counting import round_close
from tests.helpers_rounds import answers_for, open_round

pytestmark = pytest.mark.django_db

LONE = {"who5_1": 1, "who5_2": 2, "who5_3": 0, "who5_4": 3, "who5_5": 1, "workload1_1": 5}


def stored_respondents(round_id: int) -> dict[int, int]:
    return dict(RespondentCount.objects.filter(round_id=round_id).values_list("team_id", "respondents"))


def test_a_one_person_team_cannot_be_recovered_as_the_parent_minus_its_sibling() -> None:
    setup = open_round(people_per_team=(6, 1), min_group_size=5, instruments=("who5", "workload1"))
    big, small = setup.teams
    lone = setup.people[-1]  # the one member of the small team
    for person in setup.people:
        answers = LONE if person == lone else answers_for(setup.round)
        response_submit(token=setup.token_of(person), answers=answers)
    assert round_close(round_id=setup.round.pk, now=setup.close_moment)

    stored = stored_respondents(setup.round.pk)
    # The root (7) is stored; the big team (6) is not, though it reaches k: root − big would be the lone
    # person. Its people are still counted, inside the root.
    assert stored == {setup.root.pk: 7}
    for model in (AnswerCount, ScoreCount):
        assert not model.objects.filter(round=setup.round, team__in=[big, small]).exists()

    def counts(team_id: int) -> Counter[tuple[int, int]]:
        rows = AnswerCount.objects.filter(round=setup.round, team_id=team_id)
        return Counter({(row.question_id, row.value): row.count for row in rows})

    # The attack of the old layout: whatever stored team is subtracted from the root, each question keeps
    # the answers of all 7 respondents.
    difference = counts(setup.root.pk) - counts(big.pk)
    per_question = Counter[int]()
    for (question_id, _value), count in difference.items():
        per_question[question_id] += count
    assert set(per_question.values()) == {7}


def test_siblings_and_parent_are_stored_when_every_difference_reaches_k() -> None:
    setup = open_round(people_per_team=(6, 5), min_group_size=5, instruments=("who5", "workload1"))
    for person in setup.people:
        response_submit(token=setup.token_of(person), answers=answers_for(setup.round))
    assert round_close(round_id=setup.round.pk, now=setup.close_moment)
    first, second = setup.teams
    # 11 = 6 + 5: the root's region is empty, so nothing below k follows from the three.
    assert stored_respondents(setup.round.pk) == {setup.root.pk: 11, first.pk: 6, second.pk: 5}


def test_comments_of_a_small_team_do_not_stand_out_by_their_set_of_teams() -> None:
    # A comment is stored once per counted team; the teams a text appears under are its author's stored
    # chain, so they too must point at no group below k.
    setup = open_round(people_per_team=(6, 1), min_group_size=5, instruments=("who5", "workload1", "comment"))
    lone = setup.people[-1]
    for person in setup.people:
        answers = answers_for(setup.round)
        if person == lone:
            answers["comment_1"] = "Only I would write this."
        response_submit(token=setup.token_of(person), answers=answers)
    assert round_close(round_id=setup.round.pk, now=setup.close_moment)
    teams = set(
        Comment.objects.filter(round=setup.round, text="Only I would write this.").values_list(
            "team_id", flat=True
        )
    )
    assert teams == {setup.root.pk}  # the same set as the six others' comments
