"""Benchmark: the leader home for a leader of 500 teams against the same page for a leader of 5 teams.

Workload (scale 1), in a scratch PostgreSQL database:

* ``organisation_generate`` with levels (100, 4): a root, 100 groups and 400 teams below them, about 9
  people per bottom team. The **large** leader leads the root (501 teams on the page); the **small** one
  leads one group (5 teams: the group and its 4 teams).
* One weekly schedule on the root asking the single burnout item, the workload item and WHO-5, and 4
  closed, aggregated rounds whose ``TeamAggregate`` rows are inserted set-based: every question, scale,
  share and response rate of each team (bottom teams answer 3–10 people a round; a team below k = 5 gets
  no rows, as the close step would leave it), each parent the exact sum of the teams below it. About
  45,000 aggregate rows, and 40 open flags spread over the tree.

Ours: ``GET /`` through the Django test client (session, middleware, the report selector with the whole
tree's disclosure release, the template) for the large leader; baseline: the same for the small leader.
50 timed requests each after 3 warm-up requests, with ``DEBUG`` off; median and p95 of the server time,
and the number of queries of one request. Target: ratio of medians at most 3, the large median under
300 ms, the same query count.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from pulse.devtools.benchmarks import BenchResult
from pulse.devtools.benchmarks.generate import organisation_generate
from pulse.devtools.benchmarks.scratch import scratch_database
from pulse.models import Flag, TeamAggregate
from pulse.services.aggregation import question_metric, scale_metric, share_metric
from surveys.definitions import CHOICE
from surveys.models import Instrument, Membership, Organisation, Person, Round, Schedule, Team

REQUESTS = 50
WARM_UP = 3
ROUNDS = 4
INSTRUMENTS = ("burnout1", "workload1", "who5")
FLAGS = 40
START = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)


class _Writer(Protocol):
    def write(self, msg: str, /) -> Any: ...


def _metrics(instruments: list[Instrument]) -> list[tuple[str, str, int, float, float, float]]:
    """(metric, kind, instrument id, centre, spread, within-round SD) for every aggregate of a team."""
    out = []
    for instrument in instruments:
        definition = instrument.definition()
        for question in definition.questions:
            if question.kind == CHOICE:
                low, high = min(question.values), max(question.values)
                centre = (low + high) / 2
                out.append(
                    (question_metric(definition, question.key), "question", instrument.pk, centre, 1.0, 1.0)
                )
        for scale in definition.scales:
            centre, spread, sd = (55.0, 30.0, 18.0) if instrument.key == "who5" else (2.6, 1.0, 0.9)
            out.append((scale_metric(definition, scale.key), "scale", instrument.pk, centre, spread, sd))
            for band in scale.bands:
                out.append(
                    (share_metric(definition, scale.key, band.name), "share", instrument.pk, 0.3, 0.4, 0.4)
                )
    return out


def _generate(groups: int, stdout: _Writer) -> tuple[Organisation, Person, Person, int]:
    generated = organisation_generate(people=groups * 4 * 9, levels=(groups, 4))
    organisation, root = generated.organisation, generated.root
    group = Team.objects.filter(parent=root).order_by("pk").first()
    assert group is not None
    leaders = []
    for label, team in (("large", root), ("small", group)):
        email = f"leader.{label}@example.org"
        user = get_user_model().objects.create_user(username=email, email=email)
        person = Person.objects.create(organisation=organisation, email=email, display_name=label, user=user)
        Membership.objects.create(
            person=person, team=team, role=Membership.Role.LEADER, starts_on=dt.date(2025, 1, 1)
        )
        leaders.append(person)
    instruments = [Instrument.objects.filter(key=key).order_by("-version").first() for key in INSTRUMENTS]
    chosen = [instrument for instrument in instruments if instrument is not None]
    schedule = Schedule.objects.create(
        organisation=organisation, team=root, name="Weekly", starts_on=START.date()
    )
    schedule.instruments.set(chosen)
    rounds = []
    for week in range(ROUNDS):
        closes = START + dt.timedelta(weeks=week)
        round_ = Round.objects.create(
            schedule=schedule,
            organisation=organisation,
            team=root,
            opens_at=closes - dt.timedelta(days=3),
            closes_at=closes,
            time_zone="UTC",
            status=Round.Status.CLOSED,
            counted_at=closes,
            aggregated_at=closes,
        )
        round_.instruments.set(chosen)
        rounds.append(round_.pk)
    metrics = _metrics(chosen)
    k = organisation.min_group_size
    table = connection.ops.quote_name(TeamAggregate._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s::float8, %s::float8, %s::float8)"] * len(metrics))
    params = [value for row in metrics for value in row]
    with connection.cursor() as cursor:
        # Bottom teams answer 3–10 people a round; every team's numbers are the sums over the bottom teams
        # below it (each person counted once), the roll-up the close step writes.
        cursor.execute(
            """
            CREATE TEMP TABLE bench_leaf AS
            SELECT t.id AS team_id, r.id AS round_id, r.closes_at,
                   3 + ((t.id * 7 + r.id * 3) %% 8) AS respondents,
                   ((t.id * 13 + r.id) %% 11) / 10.0 - 0.5 AS wobble
            FROM surveys_team t CROSS JOIN surveys_round r
            WHERE t.organisation_id = %s AND r.id = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM surveys_team c WHERE c.parent_id = t.id)
            """,
            [organisation.pk, rounds],
        )
        cursor.execute(
            """
            CREATE TEMP TABLE bench_above AS
            SELECT p.id AS team_id, l.id AS leaf_id
            FROM surveys_team p JOIN surveys_team l ON l.path LIKE p.path || '%%'
            WHERE p.organisation_id = %s AND l.organisation_id = %s
              AND NOT EXISTS (SELECT 1 FROM surveys_team c WHERE c.parent_id = l.id)
            """,
            [organisation.pk, organisation.pk],
        )
        cursor.execute(
            f"""
            INSERT INTO {table} (round_id, team_id, organisation_id, metric, kind, instrument_id, closes_at,
                                 respondents, n, total, total_squares, histogram)
            SELECT l.round_id, a.team_id, %s, m.column1, m.column2, m.column3, l.closes_at,
                   SUM(l.respondents), SUM(l.respondents),
                   SUM(l.respondents * (m.column4 + m.column5 * l.wobble)),
                   SUM(l.respondents * power(m.column4 + m.column5 * l.wobble, 2)
                       + (l.respondents - 1) * m.column6 * m.column6),
                   '{{}}'::jsonb
            FROM bench_leaf l JOIN bench_above a ON a.leaf_id = l.team_id CROSS JOIN (VALUES {values}) m
            GROUP BY l.round_id, a.team_id, m.column1, m.column2, m.column3, l.closes_at
            HAVING SUM(l.respondents) >= %s
            """,
            [organisation.pk, *params, k],
        )
        cursor.execute(
            f"""
            INSERT INTO {table} (round_id, team_id, organisation_id, metric, kind, instrument_id, closes_at,
                                 respondents, n, total, total_squares, histogram)
            SELECT l.round_id, a.team_id, %s, 'response_rate', 'response_rate', NULL, l.closes_at,
                   SUM(l.respondents), SUM(l.respondents + 2), SUM(l.respondents), SUM(l.respondents),
                   '{{}}'::jsonb
            FROM bench_leaf l JOIN bench_above a ON a.leaf_id = l.team_id
            GROUP BY l.round_id, a.team_id, l.closes_at
            HAVING SUM(l.respondents) >= %s
            """,
            [organisation.pk, k],
        )
        cursor.execute("DROP TABLE bench_leaf")
        cursor.execute("DROP TABLE bench_above")
    flagged = list(Team.objects.filter(organisation=organisation).order_by("pk").values_list("pk", flat=True))
    step = max(1, len(flagged) // FLAGS)
    last = START + dt.timedelta(weeks=ROUNDS - 1)
    Flag.objects.bulk_create(
        Flag(
            organisation=organisation,
            team_id=team_id,
            metric=metrics[0][0] if i % 2 else "response_rate",
            kind=Flag.Kind.TREND,
            state=Flag.State.OPEN,
            severity=Flag.Severity.WARNING,
            explanation="A generated flag.",
            evaluated_through=last,
            created_at=last,
            opened_at=last,
        )
        for i, team_id in enumerate(flagged[::step][:FLAGS])
    )
    rows = TeamAggregate.objects.filter(organisation=organisation).count()
    stdout.write(
        f"organisation: {generated.teams} teams, {generated.people} people, {ROUNDS} rounds, "
        f"{rows} aggregate rows, {min(FLAGS, len(flagged))} open flags\n"
    )
    return organisation, leaders[0], leaders[1], rows


def _measure(client: Client, requests: int) -> tuple[list[float], int, int]:
    for _ in range(WARM_UP):
        assert client.get("/").status_code == 200
    # The request_started signal empties the query log; start from an empty one so the count is the page's.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    count = len(queries)  # now: the captured list is a view of the log, which the next request empties
    assert response.status_code == 200
    rows = response.content.decode().count("round closing")
    times = []
    with override_settings(DEBUG=False):
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get("/")
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return times, count, rows


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def run(options: dict[str, Any], stdout: _Writer) -> BenchResult:
    scale = float(options.get("scale", 1.0))
    requests = max(5, round(REQUESTS * min(1.0, scale))) if scale < 1 else REQUESTS
    groups = max(2, round(100 * scale))
    if options.get("smoke"):
        requests, groups = 5, 2  # the large leader's page shows 11 teams, the small one's 5
    with scratch_database("dashboard"):
        started = time.perf_counter()
        _organisation, large, small, _rows = _generate(groups, stdout)
        stdout.write(f"generation (not timed in the result): {time.perf_counter() - started:.1f} s\n")
        results = {}
        for label, person in (("large", large), ("small", small)):
            client = Client()
            assert person.user is not None
            client.force_login(person.user)
            times, queries, rows = _measure(client, requests)
            results[label] = (statistics.median(times), _p95(times), queries, rows)
            stdout.write(
                f"{label}: {rows} teams on the page; server time over {requests} requests: median "
                f"{results[label][0]:.1f} ms, p95 {results[label][1]:.1f} ms; {queries} queries\n"
            )
        same = results["large"][2] == results["small"][2]
        stdout.write(f"same query count: {'yes' if same else 'NO'}\n")
    return BenchResult(
        name="dashboard",
        ours=results["large"][0],
        baseline=results["small"][0],
        unit="ms",
        target="ratio<=3, median<300ms, same query count",
    )
