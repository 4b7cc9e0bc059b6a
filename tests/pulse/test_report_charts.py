"""The team page's charts (``MetricReport.chart`` in pulse.selectors.reports): what a leader needs to read one
in five seconds, all from the release.

Each chart carries its axis title with the scale's direction, the whole scale as its y range (the response
rate from 0 to 100 %), the instrument's cut-offs from the scale's own bands (single-item burnout 3, the CBI's
"high" at 50, the WHO-5's 28 and 50: docs/science.md §1), leaders' actions on the team's flags for the
metric on the day each was planned, and rounds without a result as gaps carrying the release's reason. Its
values and days are those of the table beside it.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from pulse.dates import day_text
from pulse.models import Action, Flag
from pulse.permissions import Caller, caller_for
from pulse.selectors import reports
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, START, WHO5, WORKLOAD, ReportOrg, Value

pytestmark = pytest.mark.django_db

CBI_WORK = "scale:cbi_work.cbi_work@1"


def _caller(person: Person) -> Caller:
    assert person.user is not None
    caller = caller_for(person.user)
    assert caller is not None
    return caller


_readers = itertools.count(1)


def _report(org: ReportOrg, team: str, *, leads: str | None = None) -> reports.TeamReport:
    """The team page as a new admin, or as a new leader of ``leads``, sees it."""
    label = f"Reader {next(_readers)}"
    person = org.person(label, leads=leads) if leads else org.person(label, admin=True)
    report = reports.team_report_get(caller=_caller(person), team_id=org.team[team].pk)
    assert report is not None
    return report


def _by_metric(report: reports.TeamReport) -> dict[str, reports.MetricReport]:
    found = {m.metric: m for m in report.metrics}
    if report.response_rate is not None:
        found[RATE] = report.response_rate
    return found


def test_axis_titles_say_which_way_is_worse_and_the_y_axis_is_the_whole_scale() -> None:
    org = ReportOrg(tree=(("Root", None),), instruments=("burnout1", "who5"))
    org.round({"Root": {BURNOUT: Value(8, 3.4), WHO5: Value(8, 62.0), RATE: (10, 8)}})
    charts = {metric: m.chart for metric, m in _by_metric(_report(org, "Root")).items()}
    assert charts[BURNOUT]["axis"] == "Score (1–5), higher is worse"
    assert charts[BURNOUT]["range"] == [1, 5]
    assert charts[WHO5]["axis"] == "Score (0–100), higher is better"
    assert charts[WHO5]["range"] == [0, 100]
    # The response rate from 0 to 100 %, whatever its values (80 % here).
    assert charts[RATE]["axis"] == "% answered, higher is better"
    assert charts[RATE]["range"] == [0, 100]
    assert charts[RATE]["values"] == [80.0]


def test_cutoffs_come_from_the_scales_own_bands() -> None:
    org = ReportOrg(tree=(("Root", None),), instruments=("burnout1", "who5", "cbi_work"))
    org.round({"Root": {BURNOUT: Value(8, 3.4), WHO5: Value(8, 40.0), CBI_WORK: Value(8, 55.0)}})
    metrics = _by_metric(_report(org, "Root"))
    burnout = metrics[BURNOUT]
    assert burnout.chart["cutoffs"] == [{"value": 3.0, "op": ">=", "label": "burned out (≥ 3)"}]
    assert [c.legend for c in burnout.cutoffs] == ["Cut-off (single-item burnout): burned out (≥ 3)"]
    # The CBI's 50 is a convention, and its key says so (docs/science.md §1.5).
    cbi = metrics[CBI_WORK]
    assert cbi.chart["cutoffs"] == [{"value": 50.0, "op": ">=", "label": "high (≥ 50)"}]
    assert [c.legend for c in cbi.cutoffs] == ["Convention (CBI): high (≥ 50)"]
    # The WHO-5 has two bands, both below (higher is better): the most severe first.
    assert metrics[WHO5].chart["cutoffs"] == [
        {"value": 28.0, "op": "<=", "label": "likely depression (≤ 28)"},
        {"value": 50.0, "op": "<=", "label": "poor wellbeing (≤ 50)"},
    ]
    # Workload has no published cut-off, and the response rate none at all.
    org.round({"Root": {WORKLOAD: Value(8, 3.0), RATE: (10, 8)}})
    assert _by_metric(_report(org, "Root"))[RATE].chart["cutoffs"] == []


def test_withheld_rounds_are_gaps_with_the_releases_reason() -> None:
    # Round 1: A and B both shown. Round 2: B has 3 answers (fewer than k = 5, no counters). Round 3:
    # Root − A − B is 3 direct members, so the smaller child B is withheld to protect them.
    org = ReportOrg()
    org.person("Bea", member_of="B")  # B had people on its roster in every round, so each round asked it
    org.round(
        {"Root": {BURNOUT: Value(14, 2.5)}, "A": {BURNOUT: Value(7, 2.4)}, "B": {BURNOUT: Value(7, 2.6)}}
    )
    org.round({"Root": {BURNOUT: Value(12, 2.6)}, "A": {BURNOUT: Value(9, 2.5)}})
    org.round(
        {"Root": {BURNOUT: Value(15, 2.7)}, "A": {BURNOUT: Value(7, 2.5)}, "B": {BURNOUT: Value(5, 3.1)}}
    )
    burnout = _by_metric(_report(org, "B", leads="B"))[BURNOUT]
    chart = burnout.chart
    assert chart["values"] == [2.6, None, None]  # 3.1 was never released, so it is nowhere in the payload
    assert 3.1 not in [v for v in chart["values"] if v is not None]
    days = [day_text(r.closes_at, "Europe/Berlin") for r in org.rounds]
    assert chart["gaps"] == [
        {"x": int(org.rounds[1].closes_at.timestamp()), "day": days[1], "reason": "fewer than 5 answers"},
        {
            "x": int(org.rounds[2].closes_at.timestamp()),
            "day": days[2],
            "reason": "withheld to protect a smaller group",
        },
    ]
    assert burnout.gap_lines == (
        f"No result shown for {days[1]}: fewer than 5 answers",
        f"No result shown for {days[2]}: withheld to protect a smaller group",
    )
    # Two rounds with the same reason make one line.
    org.round({"Root": {BURNOUT: Value(12, 2.6)}, "A": {BURNOUT: Value(9, 2.5)}})
    again = _by_metric(_report(org, "B", leads="B"))[BURNOUT]
    assert again.gap_lines[
        0
    ] == f"No result shown for {days[1]} and {day_text(org.rounds[3].closes_at, 'Europe/Berlin')}: " + (
        "fewer than 5 answers"
    )


def test_actions_on_the_teams_flags_for_the_metric_are_marked_on_the_day_they_were_planned() -> None:
    org = ReportOrg(tree=(("Root", None), ("A", "Root")))
    for week in range(3):
        org.round({"Root": {BURNOUT: Value(12, 2.5 + week / 10)}, "A": {BURNOUT: Value(12, 2.5)}})
    lead = org.person("Lena", leads="Root")
    planned = START + dt.timedelta(days=9, hours=3)  # between the second and the third round
    flag = org.flag("Root", BURNOUT)
    Action.objects.create(
        flag=flag,
        what="Move two on-call shifts to SRE Europe",
        who="Lena",
        due_on=dt.date(2026, 3, 20),
        created_by=lead,
        created_at=planned,
    )
    long_title = "Review the whole on-call rota with the team and " + "x" * 60
    later = START + dt.timedelta(weeks=3)  # after the last round: the time axis reaches it
    Action.objects.create(
        flag=flag, what=long_title, who="Lena", due_on=dt.date(2026, 4, 1), created_by=lead, created_at=later
    )
    # Not marked: an action on another metric's flag, on another team's flag, on a flag that did not hold.
    for team, metric, state in (
        ("Root", WORKLOAD, Flag.State.OPEN),
        ("A", BURNOUT, Flag.State.OPEN),
        ("A", WORKLOAD, Flag.State.LAPSED),
    ):
        other = org.flag(team, metric, state=state, kind=Flag.Kind.SHIFT)
        Action.objects.create(
            flag=other,
            what="Elsewhere",
            who="x",
            due_on=dt.date(2026, 4, 1),
            created_by=lead,
            created_at=planned,
        )
    burnout = _by_metric(_report(org, "Root", leads="Root"))[BURNOUT]
    chart = burnout.chart
    assert [a["title"] for a in chart["actions"]] == [
        "Move two on-call shifts to SRE Europe",
        "Review the whole on-call rota with the…",
    ]
    assert len(chart["actions"][1]["title"]) <= 40
    assert [a["x"] for a in chart["actions"]] == [int(planned.timestamp()), int(later.timestamp())]
    assert chart["actions"][0]["day"] == "11 Mar 2026" == day_text(planned, "Europe/Berlin")
    assert [a.due for a in burnout.actions] == ["20 Mar 2026", "1 Apr 2026"]
    assert burnout.actions[1].title == long_title  # the list under the chart has all of it
    assert chart["x_range"] == [int(org.rounds[0].closes_at.timestamp()), int(later.timestamp())]


def test_the_chart_has_the_tables_values_and_days_in_one_format() -> None:
    org = ReportOrg(tree=(("Root", None),), instruments=("burnout1",))
    for mean in (2.04, 2.16, 2.22, 2.35, 2.38, 2.55, 2.61, 2.77):
        org.round({"Root": {BURNOUT: Value(8, mean), RATE: (9, 8)}})
    report = _report(org, "Root")
    (burnout,) = report.metrics
    chart = burnout.chart
    assert chart["values"] == [float(p.cell.text) for p in burnout.points]
    assert chart["days"] == [p.day for p in burnout.points]
    assert chart["days"][0] == "2 Mar 2026"
    assert chart["x"] == [int(r.closes_at.timestamp()) for r in org.rounds]
    # The band around the trend line, and the words for it, come with the chart.
    assert all(
        low is not None and high is not None for low, high in zip(chart["low"], chart["high"], strict=True)
    )
    assert burnout.detectable_text == "1.0"
    # The sentences about the last round write their days the same way.
    assert f"({chart['days'][-2]}) to 2.8 ({chart['days'][-1]})" in burnout.change_text
    assert report.response_rate is not None
    assert report.response_rate.chart["values"] == [90.0] * 8  # 8 of 9: 88.9 % shown as 90 %
