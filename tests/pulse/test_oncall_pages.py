"""On-call load on the leaders' pages over HTTP: the team page's On-call load section beside the burnout
trend, the roll-up's load table beside the survey results, and their CSV exports.

The world (organisation k = 5, time zone Berlin): Root with two teams below. **Thin** has a rota of three
(below k) and three members: its busiest person's share and its time off are never shown. **Wide** has a
rota of six people (at least k) and six members, one of whom had a week off. Both have four ended weeks of
load and the week of 23 March under way (the test runs on Wednesday 25 March), which holds many more pages
than any ended week, so a page that showed it would show its count.
"""

from __future__ import annotations

import csv
import html as html_module
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from pulse.models import Flag, OncallWeek
from pulse.selectors.oncall import load_weeks_for_trends
from pulse.services.oncall import oncall_time_off_import
from pulse.services.trends import trend_run
from surveys.models import Person
from tests.pulse.helpers_oncall import Rota, rota_store, table_rows
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 25, 12, tzinfo=UTC)  # a Wednesday: the week of 23 March is under way
FIRST_MONDAY = date(2026, 2, 23)
# Three people on call 56 hours each (33 %); sleep-hour pages 2, 3, 4, 5 in the ended weeks, 30 this week.
THIN = Rota(hours={"thin-ref-anna": 56, "thin-ref-ben": 56, "thin-ref-cho": 56}, sleep_pages=(2, 3, 4, 5, 30))
# Six people, each on call a share of their own: 7, 12, 18, 24, 13 and 26 % of the week.
WIDE = Rota(
    hours={
        "wide-ref-1": 12,
        "wide-ref-2": 20,
        "wide-ref-3": 30,
        "wide-ref-4": 40,
        "wide-ref-5": 22,
        "wide-ref-6": 44,
    },
    sleep_pages=(1, 2, 2, 3, 40),
)


@dataclass
class World:
    org: ReportOrg
    leader: Person
    members: dict[str, list[Person]]

    @property
    def client(self) -> Client:
        client = Client()
        assert self.leader.user is not None
        client.force_login(self.leader.user)
        return client

    def team_id(self, name: str) -> int:
        return self.org.team[name].pk


@pytest.fixture
def world() -> Iterator[World]:
    with time_machine.travel(NOW, tick=False):
        org = ReportOrg(
            tree=(("Root", None), ("Thin", "Root"), ("Wide", "Root")), k=5, instruments=("burnout1",)
        )
        leader = org.person("Lead", leads="Root")
        members = {
            name: [org.person(f"{name} member {n}", member_of=name) for n in range(size)]
            for name, size in (("Thin", 3), ("Wide", 6))
        }
        for week in range(4):
            org.round(
                {
                    "Root": {BURNOUT: Value(12, 2.0 + 0.1 * week), RATE: (14, 12)},
                    "Thin": {BURNOUT: Value(6, 2.5 + 0.2 * week), RATE: (6, 6)},
                    "Wide": {BURNOUT: Value(6, 1.8), RATE: (6, 6)},
                }
            )
        # One of Wide's six had a week off (Monday to Friday) in February: 5 of 6 have had none.
        email = members["Wide"][0].email
        assert oncall_time_off_import(
            organisation_id=org.organisation.pk,
            csv_text=f"email,first_day,last_day\n{email},2026-02-02,2026-02-06\n",
            dry_run=False,
        ).applied
        rota_store(org.team["Thin"], THIN, first_monday=FIRST_MONDAY, until=NOW)
        rota_store(org.team["Wide"], WIDE, first_monday=FIRST_MONDAY, until=NOW, incident_prefix="W")
        yield World(org, leader, members)


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def _text(page: str) -> str:
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _section(page: str, section_id: str) -> str:
    """One ``<section id=...>`` of a page, as HTML (its nested sections with it)."""
    start = page.index(f'id="{section_id}"')
    start = page.rindex("<section", 0, start)
    depth, at = 0, start
    for match in re.finditer(r"<(/?)section\b", page[start:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            at = start + match.end()
            break
    return page[start : page.index(">", at) + 1]


def _csv(client: Client, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- the roll-up ------------------------------------------------------------------------------------------


def test_the_rollup_shows_each_teams_load_beside_its_survey_results_with_each_limits_source(
    world: World,
) -> None:
    with time_machine.travel(NOW, tick=False):
        page = _page(world.client, f"/teams/{world.team_id('Root')}/rollup/")
    # The survey results and the load, one table each, the same teams in the same order.
    results = [row[0] for row in table_rows(page, "rollup-table")[1:]]
    assert [name.split(" round")[0] for name in results] == ["Root", "Thin", "Wide"]
    header, *rows = table_rows(page, "load-rollup")
    assert [row[0] for row in rows] == ["Thin week of 16 Mar 2026", "Wide week of 16 Mar 2026"]
    # Each limit in its column's heading, with its source; concentration's limit is Pulse's own.
    assert header == [
        "Team",
        "Sleep-hour interruptions a week",
        "Most time on call of the last 4 weeks; limit 25% · SRE book, ch. 11",
        "Incidents per 12-hour shift limit 2 · SRE book, ch. 11",
        "Rotation at least 8 at one site, 6 per site · SRE book, ch. 11",
        "Busiest person's share of the interruptions most of the pages: over 50% · Pulse's rule",
        "Without a week off in 90 days",
    ]
    thin, wide = rows
    # Thin: 2 + 3 + 4 + 5 sleep-hour pages over the four ended weeks, 3.5 a week; each of three on call 56
    # of 168 hours (33 %, beyond 25 %); 5 incidents in 14 12-hour shifts; too few people; the busiest
    # share and the time off withheld, saying why.
    assert thin[1:] == [
        "3.5 14 of 14 interruptions in the last 4 weeks",
        "33% ▲ above 25% median 33%",
        "0.4 5 incidents",
        "3 ▲ too few people at one site; 8 needed",
        "⊘ not shown: rotation below 5",
        "⊘ not shown: team below 5",
    ]
    # Wide: 1 + 2 + 2 + 3 = 8 over four weeks; the most-loaded person 44 of 168 hours (26 %), the median
    # (22 + 30) / 2 = 26 hours (15 %); 3 incidents; six at one site; its 8 pages of those four weeks went to
    # the first three of the night (4, 3 and 1: the busiest carried 50 %, not more than half); 5 of its 6
    # members had no week off.
    assert wide[1:] == [
        "2.0 8 of 8 interruptions in the last 4 weeks",
        "26% ▲ above 25% median 15%",
        "0.2 3 incidents",
        "6 ▲ too few people at one site; 8 needed",
        "50%",
        "83%",
    ]
    text = _text(_section(page, "rollup-load-title"))
    assert 'Google\'s Site Reliability Engineering book, chapter 11 "Being On-Call"' in text
    assert "1 team of this roll-up has no on-call data and is not listed." in text


def test_the_rollup_without_any_on_call_data_has_no_load_section(world: World) -> None:
    org = ReportOrg(tree=(("Top", None), ("Below", "Top")), instruments=("burnout1",))
    org.round({"Top": {BURNOUT: Value(12, 2.0)}, "Below": {BURNOUT: Value(6, 2.0)}})
    leader = org.person("Other lead", leads="Top")
    client = Client()
    assert leader.user is not None
    client.force_login(leader.user)
    page = _page(client, f"/teams/{org.team['Top'].pk}/rollup/")
    assert "load-rollup" not in page
    assert "On-call load" not in page


def test_the_printable_rollup_has_the_load_table_too(world: World) -> None:
    with time_machine.travel(NOW, tick=False):
        page = _page(world.client, f"/teams/{world.team_id('Root')}/rollup/print/")
    assert [row[0] for row in table_rows(page, "load-rollup")[1:]] == [
        "Thin week of 16 Mar 2026",
        "Wide week of 16 Mar 2026",
    ]


def test_the_rollup_csv_holds_the_pages_load_figures(world: World) -> None:
    with time_machine.travel(NOW, tick=False):
        rows = _csv(world.client, f"/teams/{world.team_id('Root')}/rollup/export.csv")
    load = {(r["team"], r["measure"]): r["result"] for r in rows if r["measure"].startswith("on-call")}
    assert load[("Thin", "on-call: sleep-hour interruptions per week")] == "3.5"
    assert load[("Wide", "on-call: sleep-hour interruptions per week")] == "2.0"
    assert load[("Thin", "on-call: sleep-hour interruptions")] == "14"
    assert load[("Wide", "on-call: busiest person's share of the interruptions")] == "50%"
    assert ("Thin", "on-call: busiest person's share of the interruptions") not in load
    assert ("Thin", "on-call: share of the team without a week off in 90 days") not in load
    assert {r["round closing"] for r in rows if r["measure"].startswith("on-call")} == {"2026-03-16"}
    assert json.dumps(rows).count("on-call") == len(load)


# --- the team page ----------------------------------------------------------------------------------------


def _charts(page: str) -> dict[str, dict[str, Any]]:
    found = re.search(r'<script id="pulse-charts" type="application/json">(.*?)</script>', page, re.S)
    assert found is not None
    charts: dict[str, dict[str, Any]] = json.loads(found.group(1))
    return charts


def test_a_leader_sees_the_teams_load_beside_its_burnout_on_one_time_axis(world: World) -> None:
    with time_machine.travel(NOW, tick=False):
        page = _page(world.client, f"/teams/{world.team_id('Wide')}/")
    # The burnout trend first, then the load, in the page's order.
    assert page.index('id="trends"') < page.index('id="load-title"')
    charts = _charts(page)
    assert {BURNOUT, "load-interruptions", "load-time-on-call", "load-incidents", "load-rotation"} <= set(
        charts
    )
    assert len({json.dumps(chart["x_range"]) for chart in charts.values()}) == 1  # one time axis
    load = _section(page, "load-title")
    text = _text(load)
    assert "In the week of 16 Mar 2026 the pager interrupted the team 3 times (3 in sleep hours)." in text
    assert "Sleep-hour interruptions went from 1 in the week of 23 Feb 2026 to 3." in text
    # Time on call over the rotation's last four weeks (docs/oncall.md §2.3), the same 26 % each week here.
    assert (
        "Over the last 4 weeks someone on the rota was on call 26% of the time, above the SRE book's limit "
        "of 25%."
    ) in text
    # The first weeks of the data are judged over the weeks known, and say so.
    on_call = [row for row in table_rows(load, "load-table") if row and row[0] == "23 Feb 2026"]
    assert "26% (over the one week known) ▲ above 25%" in [cell for row in on_call for cell in row]
    assert "The rotation is too thin: 6 people where the SRE book asks for at least 8." in text
    # Each limit is labelled with its source, on its chart's key.
    assert "Limit: 25% of the time on call (SRE book, ch. 11)" in text
    assert "Limit: 2 incidents per 12-hour shift (SRE book, ch. 11)" in text
    assert "Minimum: 8 people at one site (SRE book, ch. 11)" in text
    weeks = [row[0] for row in table_rows(load, "load-table") if row and row[0][:1].isdigit()]
    assert set(weeks) == {"23 Feb 2026", "2 Mar 2026", "9 Mar 2026", "16 Mar 2026"}
    # Wide's rotation of six is at least k = 5: the busiest share is shown; 5 of its 6 had no week off.
    people = table_rows(_section(page, "load-people"), "load-table")
    assert people[-1] == ["16 Mar 2026", "50%", "83%"]


def test_a_german_leader_reads_the_load_tables_percentages_in_german(world: World) -> None:
    """German writes a space before the percent sign ("26 %"), in the tables as in the sentences."""
    world.leader.locale = "de"
    world.leader.save(update_fields=["locale"])
    with time_machine.travel(NOW, tick=False):
        page = _page(world.client, f"/teams/{world.team_id('Wide')}/")
        rollup = _page(world.client, f"/teams/{world.team_id('Root')}/rollup/")
    load = _section(page, "load-title")
    cells = [cell for row in table_rows(load, "load-table") for cell in row]
    assert "26 % ▲ über 25 %" in cells  # the most-loaded person's share, over the cycle
    assert table_rows(_section(page, "load-people"), "load-table")[-1][1:] == ["50 %", "83 %"]
    assert not re.search(r"\d%", _text(load)), "a percentage without German's space"
    assert not re.search(r"\d%", _text(_section(rollup, "load"))), "a percentage without German's space"


def test_at_a_rotation_below_k_the_busiest_share_and_the_time_off_are_hidden_and_the_page_says_why(
    world: World,
) -> None:
    with time_machine.travel(NOW, tick=False):
        page = _page(world.client, f"/teams/{world.team_id('Thin')}/")
    people = table_rows(_section(page, "load-people"), "load-table")
    assert people[0] == [
        "Week of",
        "Busiest person's share of the interruptions",
        "Share of the team without a week off in 90 days",
    ]
    assert people[1:] == [
        [day, "not shown: rotation below 5", "not shown: team below 5"]
        for day in ("23 Feb 2026", "2 Mar 2026", "9 Mar 2026", "16 Mar 2026")
    ]
    text = _text(_section(page, "load-title"))
    assert "Team figures only, shown for groups of 5 or more people" in text
    assert "person carried" not in text
    # The CSV holds what the page shows: no busiest share and no time off for Thin, in any week.
    with time_machine.travel(NOW, tick=False):
        rows = _csv(world.client, f"/teams/{world.team_id('Thin')}/export.csv")
    measures = {r["measure"] for r in rows if r["section"] == "on-call load"}
    assert "interruptions, sleep hours" in measures
    assert not {m for m in measures if "busiest" in m or "week off" in m}


def test_no_per_person_figure_appears_in_the_page_the_csv_or_the_api(world: World) -> None:
    wide = world.team_id("Wide")
    client = world.client
    with time_machine.travel(NOW, tick=False):
        page = _page(client, f"/teams/{wide}/")
        export = client.get(f"/teams/{wide}/export.csv").content.decode("utf-8-sig")
        response = client.get(f"/api/v1/reports/teams/{wide}/")
        assert response.status_code == 200
        api = response.content.decode()
    load = _text(_section(page, "load-title"))
    load_rows = "\n".join(line for line in export.splitlines() if line.startswith("on-call load"))
    # The most-loaded person's share (26 %) and the median (15 %) are the team's figures; nobody else's
    # share of the week (7, 12, 13, 18 and 24 %) is shown anywhere.
    others = [
        WIDE.share(ref) for ref in ("wide-ref-1", "wide-ref-2", "wide-ref-3", "wide-ref-4", "wide-ref-5")
    ]
    assert sorted(others) == [7, 12, 13, 18, 24]
    for share in others:  # as a whole number: the busiest share of 67 % holds "7%"
        assert not re.search(rf"(?<![\d.,]){share}%", load)
        assert not re.search(rf"(?<![\d.,]){share}%", load_rows)
    # The team's maximum and median are shown.
    assert "26%" in load
    assert "15%" in load
    assert "26%" in load_rows
    # No responder is named, by the reference the tool gave or otherwise; the API has no on-call figures.
    for output in (page, export, api):
        assert "ref-" not in output
    assert "oncall" not in api.lower()
    assert "interruption" not in api.lower()


# --- the week under way -----------------------------------------------------------------------------------


def test_the_week_under_way_is_stored_but_neither_shown_exported_nor_judged_until_it_ends(
    world: World,
) -> None:
    wide = world.org.team["Wide"]
    current = OncallWeek.objects.get(team=wide, week_start=date(2026, 3, 23))
    assert current.ends_at > NOW  # stored as far as it has gone: Monday to Wednesday's nights
    # 40 pages on three nights, three interruptions a night (a minute apart: the 60-second rule): 9, more
    # than any ended week, so they would show if the week were shown.
    assert current.interruptions_sleep == 9
    client = world.client
    with time_machine.travel(NOW, tick=False):
        page = _page(client, f"/teams/{wide.pk}/")
        rollup = _page(client, f"/teams/{world.team_id('Root')}/rollup/")
        team_csv = _csv(client, f"/teams/{wide.pk}/export.csv")
        rollup_csv = _csv(client, f"/teams/{world.team_id('Root')}/rollup/export.csv")
        trends = load_weeks_for_trends([wide.pk], weeks=12, until=NOW)
        trend_run(organisation_id=world.org.organisation.pk, now=NOW)
    charts = _charts(page)
    for key in ("load-interruptions", "load-time-on-call", "load-incidents", "load-rotation"):
        assert charts[key]["days"] == ["23 Feb 2026", "2 Mar 2026", "9 Mar 2026", "16 Mar 2026"], key
    load = _section(page, "load-title")
    assert "9" not in [cell for row in table_rows(load, "load-table") for cell in row]
    assert "In the week of 16 Mar 2026 the pager interrupted the team 3 times" in _text(load)
    assert {r["round closing"] for r in team_csv if r["section"] == "on-call load"} == {
        "2026-02-23",
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
    }
    (wide_row,) = [row for row in table_rows(rollup, "load-rollup") if row[0].startswith("Wide")]
    assert wide_row[0] == "Wide week of 16 Mar 2026"
    assert wide_row[1] == "2.0 8 of 8 interruptions in the last 4 weeks"  # 1 + 2 + 2 + 3, not + 9
    sleep = {
        r["result"]
        for r in rollup_csv
        if (r["team"], r["measure"]) == ("Wide", "on-call: sleep-hour interruptions")
    }
    assert sleep == {"8"}
    # The trend run judges the ended weeks only: its latest load week is the week of 16 March.
    assert [week.week_start for week in trends[wide.pk]][-1] == date(2026, 3, 16)
    judged = Flag.objects.filter(team=wide, metric__startswith="oncall:")
    assert judged.exists()
    assert {flag.details["latest_week"] for flag in judged} == {"2026-03-16"}

    # Once it has ended (Monday 30 March, 00:00 in Berlin), the same stored week is shown.
    after = current.ends_at + timedelta(minutes=1)
    with time_machine.travel(after, tick=False):
        page = _page(world.client, f"/teams/{wide.pk}/")
    assert _charts(page)["load-interruptions"]["days"][-1] == "23 Mar 2026"
