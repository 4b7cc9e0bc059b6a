"""Queueing a round's team summaries at scale: each team's summary is built once per language, whatever the
number of its members; the round's rounds are listed and released once for all its teams; the queries do
not grow with the members.

The size is small by default (the suite runs it); ``PULSE_SUMMARY_BENCH_TEAMS=200`` measures 200 teams of
10 members (with a German member in each, so two languages per team) and prints the figures. Nothing here
asserts a time: the figures are printed (``pytest -s``) for the record in docs/operations.md §17.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pulse.models import TeamResultsEmail
from pulse.services.team_results import team_summaries_queue_due
from surveys.models import Membership, Person
from tests.pulse.helpers_reports import BURNOUT, RATE, WORKLOAD, ReportOrg, Value

pytestmark = pytest.mark.django_db

MEMBERS = 10


def _world(teams: int, rounds: int = 4) -> ReportOrg:
    tree = (("Root", None), *((f"Team {index}", "Root") for index in range(teams)))
    org = ReportOrg(tree=tree, k=5)
    for number in range(rounds):
        values: dict[str, dict[str, Value | tuple[int, int]]] = {
            "Root": {
                BURNOUT: Value(teams * 8, 2.8),
                WORKLOAD: Value(teams * 8, 3.0),
                RATE: (teams * 10, teams * 8),
            }
        }
        for index in range(teams):
            values[f"Team {index}"] = {
                BURNOUT: Value(8, 2.5 + (index % 7) / 10 + number / 20),
                WORKLOAD: Value(8, 2.0 + (index % 11) / 10),
                RATE: (10, 8),
            }
        org.round(values)
    people = Person.objects.bulk_create(
        Person(
            organisation=org.organisation,
            email=f"member{index}.{org.organisation.pk}@example.org",
            display_name=f"Member {index}",
            locale="de" if index % MEMBERS == 0 else "",
        )
        for index in range(teams * MEMBERS)
    )
    Membership.objects.bulk_create(
        Membership(person=person, team=org.team[f"Team {index // MEMBERS}"], starts_on=dt.date(2026, 1, 1))
        for index, person in enumerate(people)
    )
    return org


def _queue(org: ReportOrg) -> tuple[int, float, int]:
    aggregated = org.rounds[-1].aggregated_at
    assert aggregated is not None
    reverse("team_results_detail", args=[1])  # the URLconf is imported once per process: not timed
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        queued = team_summaries_queue_due(now=aggregated + dt.timedelta(hours=49))
        seconds = time.perf_counter() - began
    return queued, seconds, len(queries)


@pytest.mark.slow
def test_queueing_builds_each_team_s_summary_once_per_language_and_prints_the_figures() -> None:
    teams = int(os.environ.get("PULSE_SUMMARY_BENCH_TEAMS", "20"))
    org = _world(teams)
    queued, seconds, queries = _queue(org)
    assert queued == teams * MEMBERS
    rows = TeamResultsEmail.objects.filter(round=org.rounds[-1])
    # One summary per team and language: every member of a team in one language has the same text.
    assert rows.values("team_id", "body").distinct().count() == teams * 2
    # A fixed number of queries for the round, and a few per team and language (its flags, its note): none
    # per member, and no team's rounds listed or released again (pulse.selectors.team_results).
    assert queries <= 40 + 3 * teams * 2, queries
    print(
        f"\nteam summaries: {teams} teams x {MEMBERS} members ({connection.vendor}): {queued} queued in "
        f"{seconds:.2f} s, {queries} queries ({seconds / teams * 1000:.1f} ms a team)"
    )
