"""The roll-up of a team with teams below it: every team's latest result and trend through the same release
as its own page, open flags without numbers, who may open it, and a query count that does not grow with
the number of teams."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pulse.models import Flag
from pulse.permissions import Caller, caller_for
from pulse.selectors import reports
from pulse.selectors.rollup import team_rollup_get
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, WORKLOAD, ReportOrg, Value

pytestmark = pytest.mark.django_db

TREE = (("Root", None), ("A", "Root"), ("A1", "A"), ("A2", "A"), ("B", "Root"))


def _caller(person: Person) -> Caller:
    assert person.user is not None
    caller = caller_for(person.user)
    assert caller is not None
    return caller


def _client(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


def _worked() -> ReportOrg:
    """Six rounds: A1's burnout rises each round, A2 has 3 answers (withheld, and so A1 would give A2
    away by A − A1 unless suppression withholds one more), B is steady; everyone had members."""
    org = ReportOrg(tree=TREE, instruments=("burnout1", "workload1"))
    for name, *_ in TREE[1:]:
        org.person(f"Member of {name}", member_of=name)
    for week in range(6):
        org.round(
            {
                "Root": {BURNOUT: Value(25, 2.4), WORKLOAD: Value(25, 3.0), RATE: (30, 25)},
                "A": {BURNOUT: Value(11, 2.6), WORKLOAD: Value(11, 3.1), RATE: (13, 11)},
                "A1": {BURNOUT: Value(8, 2.0 + 0.3 * week, sd=0.5), WORKLOAD: Value(8, 3.2), RATE: (9, 8)},
                "A2": {BURNOUT: Value(3, 3.9), WORKLOAD: Value(3, 3.0), RATE: (4, 3)},
                "B": {BURNOUT: Value(14, 2.2), WORKLOAD: Value(14, 2.9), RATE: (17, 14)},
            }
        )
    return org


def test_every_team_below_shows_the_team_pages_latest_result_and_the_same_withheld_reasons() -> None:
    org = _worked()
    head = _caller(org.person("Head", leads="Root"))
    rollup = team_rollup_get(caller=head, team_id=org.team["Root"].pk)
    assert rollup is not None
    assert [row.team.name for row in rollup.rows] == ["Root", "A", "A1", "A2", "B"]
    assert [row.indent for row in rollup.rows] == [0, 1, 2, 2, 1]
    assert rollup.asked_as_whole
    withheld = 0
    for row in rollup.rows:
        page = reports.team_report_get(caller=head, team_id=row.team.pk)
        assert page is not None
        by_metric = {m.metric: m for m in page.metrics}
        for cell in row.cells:
            assert cell.metric is not None
            assert cell.latest.status == by_metric[cell.metric].latest.status
            assert cell.latest.text == by_metric[cell.metric].latest.text
            withheld += cell.latest.status == "withheld"
        assert page.response_rate is not None
        assert row.rate.latest.text == page.response_rate.latest.text
    # A2 (3 answers) and one more team to protect it: no number of either anywhere in the roll-up.
    a2 = next(row for row in rollup.rows if row.team.name == "A2")
    assert all(cell.latest.status == "withheld" for cell in a2.cells)
    assert "fewer than 5 answers" in a2.cells[0].latest.text
    assert withheld >= 4


def test_a_rising_burnout_reads_as_worse_and_a_steady_team_as_no_clear_trend() -> None:
    org = _worked()
    head = _caller(org.person("Head", leads="Root"))
    rollup = team_rollup_get(caller=head, team_id=org.team["Root"].pk)
    assert rollup is not None
    rows = {row.team.name: row for row in rollup.rows}
    burnout = {cell.metric: cell for cell in rows["A1"].cells}[BURNOUT]
    if burnout.latest.published:  # A1 may be the one withheld to protect A2: then no trend can be read
        assert burnout.summary.heading == "worse"
        assert burnout.summary.text.startswith("rising, worse")
    steady = {cell.metric: cell for cell in rows["B"].cells}[BURNOUT]
    assert steady.latest.text == "2.2"
    assert steady.summary.heading == "steady"
    assert steady.summary.text == "no clear trend"
    # The team page of B says the same in its own words.
    page = reports.team_report_get(caller=head, team_id=org.team["B"].pk)
    assert page is not None
    assert "not a clear trend" in {m.metric: m for m in page.metrics}[BURNOUT].trend_text


def test_a_published_rising_series_is_worse_with_the_team_pages_slope() -> None:
    org = ReportOrg(tree=(("Root", None), ("A", "Root"), ("B", "Root")), instruments=("burnout1",))
    for week in range(6):
        org.round(
            {
                "Root": {BURNOUT: Value(20, 2.5)},
                "A": {BURNOUT: Value(10, 2.0 + 0.3 * week, sd=0.5)},
                "B": {BURNOUT: Value(10, 2.5)},
            }
        )
    head = _caller(org.person("Head", leads="Root"))
    rollup = team_rollup_get(caller=head, team_id=org.team["Root"].pk)
    assert rollup is not None
    cell = next(row for row in rollup.rows if row.team.name == "A").cells[0]
    page = reports.team_report_get(caller=head, team_id=org.team["A"].pk)
    assert page is not None
    line = page.metrics[0].trend
    assert cell.trend is not None
    assert line is not None
    assert cell.trend.slope_per_round == line.slope_per_round
    assert cell.summary.heading == "worse"
    assert cell.summary.text == "rising, worse (+0.30 a round)"


def test_open_flags_are_counted_with_their_highest_severity_and_resolved_ones_apart() -> None:
    org = _worked()
    org.flag("B", BURNOUT, severity=Flag.Severity.WATCH)
    org.flag("B", WORKLOAD, severity=Flag.Severity.ALERT)
    org.flag("A", BURNOUT, state=Flag.State.RESOLVED, resolved_at=org.rounds[-1].closes_at)
    head = _caller(org.person("Head", leads="Root"))
    rollup = team_rollup_get(caller=head, team_id=org.team["Root"].pk)
    assert rollup is not None
    rows = {row.team.name: row for row in rollup.rows}
    assert (rows["B"].open_flags, rows["B"].severity) == (2, Flag.Severity.ALERT)
    assert {cell.metric for cell in rows["B"].cells if cell.flagged} == {BURNOUT, WORKLOAD}
    assert (rows["A"].open_flags, rows["A"].resolved) == (0, 1)


def test_a_top_team_never_asked_as_a_whole_has_no_row_of_its_own_and_its_page_links_the_rollup() -> None:
    org = ReportOrg(tree=(("Top", None), ("Root", "Top"), ("A", "Root"), ("B", "Root")))
    org.schedule.team = org.team["Root"]  # Root's own schedule: Top is never asked as a whole
    org.schedule.save()
    org.person("Member", member_of="A")
    org.round(
        {"Root": {BURNOUT: Value(12, 2.4)}, "A": {BURNOUT: Value(6, 2.5)}, "B": {BURNOUT: Value(6, 2.3)}}
    )
    head = org.person("Head", leads="Top")
    rollup = team_rollup_get(caller=_caller(head), team_id=org.team["Top"].pk)
    assert rollup is not None
    assert not rollup.asked_as_whole
    assert [row.team.name for row in rollup.rows] == ["Root", "A", "B"]
    client = _client(head)
    page = client.get(f"/teams/{org.team['Top'].pk}/").content.decode()
    assert "No round has asked Top as a whole" in page
    assert f'href="/teams/{org.team["Top"].pk}/rollup/"' in page
    home = client.get("/").content.decode()
    assert f'href="/teams/{org.team["Top"].pk}/rollup/"' in home
    rollup_page = client.get(f"/teams/{org.team['Top'].pk}/rollup/").content.decode()
    assert "No round has asked Top as a whole" in rollup_page
    assert re.search(r"<th scope=\"col\">Open flags</th>", rollup_page)


def test_the_rollup_is_404_for_teams_not_led_for_other_organisations_and_for_teams_without_teams_below() -> (
    None
):
    org = _worked()
    other = ReportOrg()
    lead_b = _client(org.person("Lead B", leads="B"))
    assert lead_b.get(f"/teams/{org.team['Root'].pk}/rollup/").status_code == 404
    assert lead_b.get(f"/teams/{org.team['B'].pk}/rollup/").status_code == 404  # no team below B
    assert lead_b.get(f"/teams/{other.team['Root'].pk}/rollup/").status_code == 404
    assert lead_b.get(f"/teams/{org.team['Root'].pk}/rollup/export.csv").status_code == 404
    lead_a = _client(org.person("Lead A", leads="A"))
    assert lead_a.get(f"/teams/{org.team['A'].pk}/rollup/").status_code == 200
    engineer = _client(org.person("Engineer", member_of="A1"))
    assert engineer.get(f"/teams/{org.team['A'].pk}/rollup/").status_code == 403


def _organisation_of(size: int) -> tuple[ReportOrg, Client]:
    tree = (("Root", None), *((f"T{i}", "Root") for i in range(size)))
    org = ReportOrg(tree=tree, instruments=("burnout1", "workload1"))
    for week in range(3):
        values: dict[str, dict[str, Value | tuple[int, int]]] = {
            f"T{i}": {BURNOUT: Value(6, 2.0 + 0.1 * week), WORKLOAD: Value(6, 3.0), RATE: (7, 6)}
            for i in range(size)
        }
        values["Root"] = {
            BURNOUT: Value(6 * size, 2.0),
            WORKLOAD: Value(6 * size, 3.0),
            RATE: (7 * size, 6 * size),
        }
        org.round(values)
    for i in range(0, size, 2):
        org.flag(f"T{i}")
    org.person("Engineer", member_of="T0")
    return org, _client(org.person("Lena", leads="Root"))


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_rollup_and_its_export_queries_do_not_grow_with_the_number_of_teams() -> None:
    small, small_client = _organisation_of(5)
    large, large_client = _organisation_of(40)
    for suffix in ("rollup/", "rollup/export.csv"):
        small_count = _count(small_client, f"/teams/{small.team['Root'].pk}/{suffix}")
        large_count = _count(large_client, f"/teams/{large.team['Root'].pk}/{suffix}")
        assert small_count == large_count
    assert _count(large_client, f"/teams/{large.team['Root'].pk}/rollup/") <= 20
    text = large_client.get(f"/teams/{large.team['Root'].pk}/rollup/").content.decode()
    assert text.count("round closing") == 41
    assert text.count("1 open flag<") == 20
