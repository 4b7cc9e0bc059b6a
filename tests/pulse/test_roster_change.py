"""The roster clause across rounds (docs/science.md §4.5): a team whose membership changed by fewer than
the threshold since its last published round is withheld, on every page, so that two rounds cannot be
differenced to isolate a newcomer (7·m₂ − 6·m₁ ≈ the newcomer's answer).

The pure rule, then rounds built through the real services: ``RoundBuilder`` opens the first round with
``rounds_open_due``; later rounds of the same schedule are opened with ``round_open`` (as the demo history
does), answered with ``response_submit``, closed with ``round_close`` and aggregated with
``round_aggregate``, which stores the ``TeamRosterChange`` rows the reports read.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.db.models import Q

from pulse.disclosure.release import RoundRelease, TeamIndex, release_all, round_infos
from pulse.disclosure.rules import (
    MetricKind,
    Published,
    RosterChange,
    Withheld,
    WithheldCode,
    roster_change_guard,
    roster_changes_withhold,
)
from pulse.models import TeamRosterChange
from pulse.permissions import Caller
from pulse.selectors import reports
from pulse.selectors.cells import ShownCell
from pulse.services.aggregation import round_aggregate
from surveys.models import Invitation, Membership, Round
from surveys.sealing import KeyRing, open_token
from surveys.services.answering import response_submit
from surveys.services.counting import round_close
from surveys.services.rounds import round_open
from tests.pulse.factories import RoundBuilder, who5

pytestmark = pytest.mark.django_db

WHO5 = "scale:who5.who5@1"
BURNOUT_ITEM = "question:burnout1_1@1"
CHANGED = "withheld because its membership changed by fewer than 5 people since its last published result"


# --- the pure rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("joined", "left", "withheld"),
    [(0, 0, False), (1, 0, True), (0, 1, True), (2, 2, True), (4, 0, True), (3, 2, False), (5, 0, False)],
)
def test_roster_clause_withholds_a_change_of_one_to_t_minus_one_people(
    joined: int, left: int, withheld: bool
) -> None:
    verdict = roster_change_guard(joined, left, k=5, kind=MetricKind.MEAN)
    assert (verdict is not None) is withheld
    if verdict is not None:
        assert verdict.code is WithheldCode.CHANGED_SINCE_LAST_RESULT
        assert verdict.reason == CHANGED


@pytest.mark.parametrize("kind", [MetricKind.DISTRIBUTION, MetricKind.SHARE, MetricKind.COMMENTS])
def test_roster_clause_uses_the_larger_threshold_of_distributions_shares_and_comments(
    kind: MetricKind,
) -> None:
    assert roster_change_guard(9, 0, k=5, kind=kind) is not None  # t − 1 with t = 10
    assert roster_change_guard(10, 0, k=5, kind=kind) is None  # t
    assert roster_change_guard(5, 0, k=5, kind=MetricKind.SCORE) is None  # k for scores
    assert roster_change_guard(11, 0, k=12, kind=kind) is not None  # k above 10 raises it too


def test_roster_clause_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        roster_change_guard(-1, 0, k=5)


def test_stored_changes_hold_each_kind_to_baselines_chosen_at_its_threshold() -> None:
    # Mean baseline unchanged (chosen at k = 5), distribution baseline 7 people away (chosen at 10).
    changes = [RosterChange(threshold=5, joined=0, left=0), RosterChange(threshold=10, joined=7, left=0)]
    assert roster_changes_withhold(changes, k=5, kind=MetricKind.SCORE) is None
    withheld = roster_changes_withhold(changes, k=5, kind=MetricKind.DISTRIBUTION)
    assert withheld is not None
    assert withheld.code is WithheldCode.CHANGED_SINCE_LAST_RESULT
    # A mean withheld (3 changed since its baseline) withholds the distribution too: it implies the mean.
    changes = [RosterChange(threshold=5, joined=3, left=0), RosterChange(threshold=10, joined=0, left=0)]
    assert roster_changes_withhold(changes, k=5, kind=MetricKind.MEAN) is not None
    assert roster_changes_withhold(changes, k=5, kind=MetricKind.DISTRIBUTION) is not None
    # k raised to 12 after the rows were stored: every change is held to the new threshold.
    assert roster_changes_withhold([RosterChange(threshold=10, joined=11, left=0)], k=12) is not None
    assert roster_changes_withhold([], k=5) is None


# --- through the real services ----------------------------------------------------------------------------


def _answers(value: int) -> dict[str, int]:
    return {**who5(value, value, value, value, value), "burnout1_1": 1 + value % 5}


def _first_round(builder: RoundBuilder, answering: list[str]) -> Round:
    builder.open()
    for number, name in enumerate(answering):
        builder.answer(name, _answers(number % 6))
    round_ = builder.close()
    round_aggregate(round_id=round_.pk)
    return round_


def _next_round(previous: Round, answering: list[str], people: dict[str, int]) -> Round:
    """The schedule's next round, opened with its roster frozen as of now, answered and aggregated."""
    opens_at = previous.closes_at + dt.timedelta(days=1)
    closes_at = opens_at + dt.timedelta(days=3)
    with transaction.atomic():
        round_ = round_open(schedule=previous.schedule, opens_at=opens_at, closes_at=closes_at)
    ring = KeyRing.from_settings()
    tokens = {
        invitation.person_id: open_token(ring, bytes(invitation.sealed_token))
        for invitation in Invitation.objects.filter(round=round_)
        if invitation.sealed_token is not None
    }
    for number, name in enumerate(answering):
        response_submit(
            token=tokens[people[name]], answers=_answers(number % 6), now=opens_at + dt.timedelta(hours=1)
        )
    assert round_close(round_id=round_.pk, now=closes_at + dt.timedelta(minutes=1))
    round_aggregate(round_id=round_.pk, now=closes_at + dt.timedelta(minutes=2))
    round_.refresh_from_db()
    return round_


def _team_a(size: int) -> tuple[RoundBuilder, Caller]:
    """An organisation (k = 5) whose root holds one team A of ``size`` members, and A's leader."""
    builder = RoundBuilder(min_group_size=5, instruments=("who5", "burnout1"))
    builder.team("A")
    for number in range(size):
        builder.person(f"a{number}", "A")
    leader = builder.person("lead")
    Membership.objects.create(
        person=leader,
        team=builder.teams["A"],
        role=Membership.Role.LEADER,
        starts_on=builder.now.date() - dt.timedelta(days=60),
    )
    return builder, Caller(leader)


def _ids(builder: RoundBuilder) -> dict[str, int]:
    return {name: person.pk for name, person in builder.people.items()}


def _latest_score(caller: Caller, team_id: int) -> ShownCell:
    report = reports.team_report_get(caller=caller, team_id=team_id)
    assert report is not None
    (who5_report,) = [m for m in report.metrics if m.metric == WHO5]
    return who5_report.latest


def _release(builder: RoundBuilder, round_: Round) -> RoundRelease:
    index = TeamIndex.of(builder.organisation.pk)
    (info,) = round_infos([(round_.pk, round_.closes_at, builder.root.path, True)])
    return release_all([info], index, organisation=builder.organisation, condition=Q())[round_.pk]


def test_a_newcomer_withholds_the_team_and_a_withheld_round_does_not_move_the_baseline() -> None:
    builder, leader = _team_a(6)
    team_a = builder.teams["A"]
    everyone = [f"a{number}" for number in range(6)]
    round1 = _first_round(builder, everyone)
    shown = _latest_score(leader, team_a.pk)
    assert shown.published
    assert shown.n == 6

    builder.person("newcomer", "A")
    round2 = _next_round(round1, [*everyone, "newcomer"], _ids(builder))
    shown = _latest_score(leader, team_a.pk)
    assert not shown.published
    assert shown.text == CHANGED
    assert isinstance(shown.verdict, Withheld)
    assert shown.verdict.code is WithheldCode.CHANGED_SINCE_LAST_RESULT
    release = _release(builder, round2)
    # The root holds the same people, so its roster changed by the same newcomer: withheld too, or A
    # would be the root's published value. Every kind of number is withheld, response rate included.
    for metric in (WHO5, BURNOUT_ITEM, "response_rate"):
        for team in (team_a, builder.root):
            assert isinstance(release.verdict(metric, team.pk), Withheld), (metric, team.name)

    # Round 3 has round 2's roster: compared with round 1 (the last published), still one newcomer.
    round3 = _next_round(round2, [*everyone, "newcomer"], _ids(builder))
    assert _latest_score(leader, team_a.pk).text == CHANGED
    change = TeamRosterChange.objects.get(round=round3, team=team_a, threshold=5)
    assert (change.since_round_id, change.joined, change.left) == (round1.pk, 1, 0)
    # Whatever window a page loads, round 2 keeps its verdict.
    assert isinstance(_release(builder, round2).verdict(WHO5, team_a.pk), Withheld)


def test_fewer_respondents_on_an_unchanged_roster_is_published() -> None:
    builder, leader = _team_a(8)
    team_a = builder.teams["A"]
    round1 = _first_round(builder, [f"a{number}" for number in range(8)])
    _next_round(round1, [f"a{number}" for number in range(6)], _ids(builder))  # two fewer answered
    shown = _latest_score(leader, team_a.pk)
    assert shown.published
    assert shown.n == 6


def test_five_newcomers_publish_the_score_and_the_distribution_waits_for_ten() -> None:
    builder, leader = _team_a(6)
    team_a = builder.teams["A"]
    everyone = [f"a{number}" for number in range(6)]
    round1 = _first_round(builder, everyone)
    newcomers = [f"n{number}" for number in range(5)]
    for name in newcomers:
        builder.person(name, "A")
    round2 = _next_round(round1, [*everyone, *newcomers], _ids(builder))
    shown = _latest_score(leader, team_a.pk)
    assert shown.published
    assert shown.n == 11
    release = _release(builder, round2)
    assert isinstance(release.verdict(WHO5, team_a.pk), Published)
    item = release.verdict(BURNOUT_ITEM, team_a.pk)  # 11 answers, but a distribution needs 10 changed
    assert isinstance(item, Withheld)
    assert item.reason.startswith("withheld because its membership changed")

    # Round 3, same roster: the score's baseline is round 2 (published), the distribution's is round 1.
    round3 = _next_round(round2, [*everyone, *newcomers], _ids(builder))
    rows = {
        row.threshold: (row.since_round_id, row.joined, row.left)
        for row in TeamRosterChange.objects.filter(round=round3, team=team_a)
    }
    assert rows == {5: (round2.pk, 0, 0), 10: (round1.pk, 5, 0)}
    release = _release(builder, round3)
    assert isinstance(release.verdict(WHO5, team_a.pk), Published)
    assert isinstance(release.verdict(BURNOUT_ITEM, team_a.pk), Withheld)


def test_rerunning_the_aggregation_writes_identical_roster_rows() -> None:
    builder, _leader = _team_a(6)
    everyone = [f"a{number}" for number in range(6)]
    round1 = _first_round(builder, everyone)
    builder.person("newcomer", "A")
    round2 = _next_round(round1, [*everyone, "newcomer"], _ids(builder))

    def snapshot() -> list[tuple[object, ...]]:
        return list(
            TeamRosterChange.objects.filter(round__in=[round1, round2])
            .order_by("pk")
            .values_list("pk", "round_id", "team_id", "threshold", "since_round_id", "joined", "left")
        )

    before = snapshot()
    # Round 1 has no baseline: no rows. Round 2 has one per threshold (5 and 10) for A and the root.
    assert len(before) == 4
    assert {row[1:3] for row in before} == {(round2.pk, builder.teams["A"].pk), (round2.pk, builder.root.pk)}
    assert {row[4:] for row in before} == {(round1.pk, 1, 0)}
    round_aggregate(round_id=round2.pk)
    round_aggregate(round_id=round1.pk)
    assert snapshot() == before
