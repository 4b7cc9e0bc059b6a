"""A database reader subtracts stored counters: can a team below k be recovered?

The close step stores no counters for a team with fewer respondents than the organisation's k, but it does
store them for its parent and its siblings. Anyone with ``SELECT`` (inside the threat model of DESIGN.md)
can subtract. The published views go through ``pulse.disclosure``, which withholds such complements; the
stored rows themselves do not yet.
"""

from __future__ import annotations

from collections import Counter

import pytest

from surveys.models import AnswerCount, RespondentCount, ScoreCount
from surveys.services.answering import response_submit, round_close
from tests.helpers_rounds import answers_for, open_round


@pytest.mark.xfail(
    strict=True,
    reason=(
        "Known gap: counters are stored for the parent and for siblings at or above k, so the parent minus "
        "the siblings gives a small team's counters exactly; for a one-person team that is the person's "
        "whole set of answers. Fix at close: apply complementary suppression (pulse.disclosure's rule) "
        "before writing; tried, it also withholds every team under a parent with overlapping members."
    ),
)
@pytest.mark.django_db
def test_a_team_below_k_cannot_be_recovered_by_subtracting_stored_counters() -> None:
    setup = open_round(people_per_team=(6, 1), min_group_size=5, instruments=("who5", "workload1"))
    big, small = setup.teams
    lone = setup.people[-1]  # the one member of the small team
    for person in setup.people:
        answers = answers_for(setup.round)
        if person == lone:
            answers = {"who5_1": 1, "who5_2": 2, "who5_3": 0, "who5_4": 3, "who5_5": 1, "workload1_1": 5}
        response_submit(token=setup.token_of(person), answers=answers)
    assert round_close(round_id=setup.round.pk, now=setup.close_moment)
    assert not RespondentCount.objects.filter(team=small).exists()  # the rule that is meant to protect it

    def counts(team_id: int) -> Counter[tuple[int, int]]:
        rows = AnswerCount.objects.filter(round=setup.round, team_id=team_id)
        return Counter({(row.question_id, row.value): row.count for row in rows})

    difference = counts(setup.root.pk) - counts(big.pk)
    recovered = {question_id: value for (question_id, value), count in difference.items() if count}
    scores = Counter(
        ScoreCount.objects.filter(round=setup.round, team=setup.root).values_list("bucket", "count")
    ) - Counter(ScoreCount.objects.filter(round=setup.round, team=big).values_list("bucket", "count"))
    # What a reader must not be able to learn: the lone person's answers.
    assert len(recovered) < 6, f"the lone member's six answers are recoverable: {recovered}, scores {scores}"
