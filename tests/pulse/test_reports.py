"""The leader reports (pulse.reports): every number through the disclosure gate, for the whole tree first.

Worked values: the parent/child case of docs/science.md §4.3, the minimum detectable change of two rounds
of 8 (about one scale point, docs/science.md §3.10), the WHO-5, CBI and single-item burnout cut-offs of
docs/science.md §1.1, and Sen's slope cross-checked against ``scipy.stats.theilslopes``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest
from scipy import stats as scipy_stats

from pulse.analysis.formatting import shown_text, signed
from pulse.analysis.stats import fit_trend, minimum_detectable_change, pooled_sd, rate_detectable_change
from pulse.disclosure.rules import Published, Withheld, WithheldCode
from pulse.models import Flag
from pulse.permissions import Caller, caller_for
from pulse.selectors import reports
from pulse.selectors.cells import ShownCell
from pulse.selectors.flags import flag_inbox_get, flag_views_for, flag_visible_get
from surveys.models import Comment, Person, Question
from tests.pulse.helpers_reports import BURNOUT, RATE, START, WHO5, WORKLOAD, ReportOrg, Value

pytestmark = pytest.mark.django_db


def _caller(person: Person) -> Caller:
    assert person.user is not None
    caller = caller_for(person.user)
    assert caller is not None
    return caller


def _home_cells(home: reports.Home) -> dict[str, dict[str, ShownCell]]:
    return {
        row.team.name: {c.key: cell for c, cell in zip(home.columns, row.cells, strict=True)}
        for row in home.rows
    }


# --- pure helpers ------------------------------------------------------------------------------------------


def test_minimum_detectable_change_is_about_one_scale_point_for_two_rounds_of_eight() -> None:
    # docs/science.md §3.10: the minimum detectable change between two rounds of 8 is about 1 scale point
    # (1–5 item, SD 1): 1.96 · √(1/8 + 1/8) = 0.98.
    assert minimum_detectable_change(1.0, 8, 8) == pytest.approx(0.98, abs=0.005)
    # Larger rounds shrink it with √n: four times the people, half the noise.
    assert minimum_detectable_change(1.0, 32, 32) == pytest.approx(0.49, abs=0.005)
    with pytest.raises(ValueError, match="two rounds"):
        minimum_detectable_change(1.0, 0, 8)


def test_rate_detectable_change_is_the_binomial_bound_in_points() -> None:
    # p = 0.5, 10 invited each round: 100 · 1.96 · √(0.25 · 0.2) = 43.8 points: small teams' rates are noisy.
    assert rate_detectable_change(0.5, 10, 10) == pytest.approx(43.83, abs=0.01)


def test_pooled_sd_weights_each_round_by_its_degrees_of_freedom() -> None:
    # √((7·1² + 3·2²) / (7 + 3)) = √1.9
    assert pooled_sd([(8, 1.0), (4, 2.0)]) == pytest.approx(math.sqrt(1.9))
    assert pooled_sd([(1, 5.0)]) is None


def test_fit_trend_is_sens_slope_against_real_time_like_scipy_theilslopes() -> None:
    # Weekly rounds with one skipped week (its gap keeps its spacing).
    weeks = [0, 1, 2, 3, 5, 6, 7, 8]
    values = [2.1, 2.0, 2.4, 2.3, 2.6, 2.9, 2.7, 3.1]
    points = [(START + dt.timedelta(weeks=w), v) for w, v in zip(weeks, values, strict=True)]
    line = fit_trend(points, least=6)
    assert line is not None
    slope, intercept, low, high = scipy_stats.theilslopes(values, weeks, 0.95)
    assert line.slope_per_week == pytest.approx(slope)
    assert line.slope_per_round == pytest.approx(slope)  # median spacing: one week
    assert (line.low_per_round, line.high_per_round) == pytest.approx((low, high))
    assert line.at(START) == pytest.approx(intercept)
    assert fit_trend(points[:5], least=6) is None  # docs/science.md §3.10: no line before 6 rounds


def test_signed_and_shown_text_print_a_true_minus_and_the_coarse_value() -> None:
    assert signed(-0.3, 1) == "−0.3"
    assert signed(0.04, 1) == "0"
    assert signed(4, 0) == "+4"
    assert shown_text(3.0, "1-5") == "3.0"
    assert shown_text(52.0, "0-100") == "52"
    assert shown_text(85, "percent") == "85%"


# --- the gate: the whole tree first, then the caller's part ------------------------------------------------


def test_science_worked_case_withholds_the_sibling_that_would_give_b_away() -> None:
    # docs/science.md §4.3: parent n = 12, mean 3.5; child A n = 7, mean 3.714; B's sum = 42 − 26 = 16.
    # At k = 6, B has fewer than k and the close step wrote no counters for it; A must go too.
    org = ReportOrg(k=6)
    org.round({"Root": {BURNOUT: Value(12, 3.5)}, "A": {BURNOUT: Value(7, 26 / 7)}})
    admin = org.person("Ada", admin=True)
    cells = _home_cells(reports.leader_home_get(caller=_caller(admin)))
    burnout = "burnout1.burnout1"
    assert cells["Root"][burnout].text == "3.5"
    assert cells["Root"][burnout].n == 12
    assert cells["A"][burnout].status == "withheld"
    assert cells["A"][burnout].text == "withheld to protect a smaller group"
    assert cells["A"][burnout].verdict == Withheld(
        "withheld to protect a smaller group", WithheldCode.PROTECTS_SMALLER_GROUP
    )
    assert cells["B"][burnout].text == "fewer than 6 answers"
    # At k = 5, B (5 answers) would have had counters, and all three are shown.
    org5 = ReportOrg(k=5)
    org5.round(
        {"Root": {BURNOUT: Value(12, 3.5)}, "A": {BURNOUT: Value(7, 26 / 7)}, "B": {BURNOUT: Value(5, 3.2)}}
    )
    cells5 = _home_cells(reports.leader_home_get(caller=_caller(org5.person("Ada", admin=True))))
    assert [cells5[t][burnout].text for t in ("Root", "A", "B")] == ["3.5", "3.7", "3.2"]


def test_a_leader_of_one_child_gets_the_release_decided_for_the_whole_tree() -> None:
    # Root = A (7) + B (5) + 3 direct members. Alone, A's numbers would be fine (7 ≥ 5); but Root − A − B
    # would be the 3 direct members, so the smaller child B is withheld. The leader of B, who sees only B,
    # must get the same verdict as the admin who sees the whole tree.
    org = ReportOrg()
    org.round(
        {
            "Root": {BURNOUT: Value(15, 3.0)},
            "A": {BURNOUT: Value(7, 2.8)},
            "B": {BURNOUT: Value(5, 3.4)},
        }
    )
    lead_b = org.person("Lead B", leads="B")
    home = reports.leader_home_get(caller=_caller(lead_b))
    assert [row.team.name for row in home.rows] == ["B"]
    (cell,) = [
        c for c, col in zip(home.rows[0].cells, home.columns, strict=True) if col.key == "burnout1.burnout1"
    ]
    assert cell.text == "withheld to protect a smaller group"
    assert cell.n is None
    admin_cells = _home_cells(reports.leader_home_get(caller=_caller(org.person("Ada", admin=True))))
    assert admin_cells["B"]["burnout1.burnout1"].text == "withheld to protect a smaller group"
    assert admin_cells["A"]["burnout1.burnout1"].text == "2.8"


def test_sibling_teams_and_their_parent_all_show_when_no_small_group_follows() -> None:
    # Root = A (6) + B (6): its region is empty, so all three show. (Someone in both A and B counts in one
    # of them, their home team, so the counts always add up: surveys.tree.counting_closure.)
    values = {"Root": {BURNOUT: Value(12, 3.0)}, "A": {BURNOUT: Value(6, 2.5)}, "B": {BURNOUT: Value(6, 3.5)}}
    plain = ReportOrg()
    plain.round(values)
    cells = _home_cells(reports.leader_home_get(caller=_caller(plain.person("Ada", admin=True))))
    assert [cells[t]["burnout1.burnout1"].text for t in ("Root", "A", "B")] == ["3.0", "2.5", "3.5"]


def test_a_team_below_k_has_no_counters_and_says_fewer_than_k_answers() -> None:
    org = ReportOrg()
    org.round(
        {"Root": {BURNOUT: Value(14, 2.5), RATE: (16, 14)}, "A": {BURNOUT: Value(9, 2.4), RATE: (10, 9)}}
    )
    cells = _home_cells(reports.leader_home_get(caller=_caller(org.person("Ada", admin=True))))
    assert cells["B"]["burnout1.burnout1"].text == "fewer than 5 answers"
    assert cells["B"]["response_rate"].text == "fewer than 5 answers"
    # Root − A = 5 people (B and any direct members): a group that may be shown, so A stays.
    assert cells["A"]["burnout1.burnout1"].text == "2.4"
    assert cells["A"]["response_rate"].text == "90%"
    assert cells["Root"]["response_rate"].text == "90%"  # 14/16 = 87.5% → 90 (5-point steps)
    # WHO-5 was asked but nobody's score could be counted: every team says so.
    assert cells["Root"]["who5.who5"].text == "fewer than 5 answers"


def test_cutoff_bands_use_the_unrounded_mean_and_say_it_in_words() -> None:
    org = ReportOrg(
        tree=(("Root", None), ("Low", "Root"), ("Poor", "Root"), ("Edge", "Root"), ("Fine", "Root")),
        instruments=("who5", "burnout1"),
    )
    org.round(
        {
            "Root": {WHO5: Value(32, 43.6, sd=16), BURNOUT: Value(32, 2.95)},
            "Low": {WHO5: Value(8, 26.0, sd=16), BURNOUT: Value(8, 3.0)},
            "Poor": {WHO5: Value(8, 48.0, sd=16), BURNOUT: Value(8, 2.9)},
            "Edge": {WHO5: Value(8, 50.4, sd=16), BURNOUT: Value(8, 2.96)},
            "Fine": {WHO5: Value(8, 50.0, sd=16), BURNOUT: Value(8, 2.94)},
        }
    )
    cells = _home_cells(reports.leader_home_get(caller=_caller(org.person("Ada", admin=True))))
    who5 = {team: cells[team]["who5.who5"] for team in ("Low", "Poor", "Edge", "Fine")}
    # Topp et al. 2015: ≤ 28 likely depression (the most severe band), ≤ 50 poor wellbeing.
    assert (who5["Low"].text, who5["Low"].level, who5["Low"].note) == (
        "26",
        "severe",
        "likely depression (≤ 28)",
    )
    assert (who5["Poor"].level, who5["Poor"].note) == ("beyond", "poor wellbeing (≤ 50)")
    assert (who5["Fine"].level, who5["Fine"].note) == ("beyond", "poor wellbeing (≤ 50)")
    # 50.4 is shown as 50 but is not ≤ 50 (pulse.disclosure: cut-offs use unrounded values).
    assert (who5["Edge"].text, who5["Edge"].level, who5["Edge"].note) == ("50", "ok", "")
    burnout = {team: cells[team]["burnout1.burnout1"] for team in ("Low", "Poor", "Edge")}
    # Single-item burnout ≥ 3 (Rohland et al. 2004); 2.96 shows as 3.0 but stays below the cut-off.
    assert (burnout["Low"].level, burnout["Low"].note) == ("beyond", "burned out (≥ 3)")
    assert (burnout["Edge"].text, burnout["Edge"].level) == ("3.0", "ok")
    assert burnout["Poor"].level == "ok"


def test_other_organisations_and_teams_not_led_are_not_found() -> None:
    org = ReportOrg()
    org.round(
        {"Root": {BURNOUT: Value(14, 2.5)}, "A": {BURNOUT: Value(7, 2.4)}, "B": {BURNOUT: Value(7, 2.6)}}
    )
    other = ReportOrg()
    lead_a = _caller(org.person("Lead A", leads="A"))
    assert reports.team_report_get(caller=lead_a, team_id=org.team["A"].pk) is not None
    assert reports.team_report_get(caller=lead_a, team_id=org.team["B"].pk) is None
    assert reports.team_report_get(caller=lead_a, team_id=org.team["Root"].pk) is None
    assert reports.team_report_get(caller=lead_a, team_id=other.team["A"].pk) is None
    admin_other = _caller(other.person("Other admin", admin=True))
    assert reports.team_report_get(caller=admin_other, team_id=org.team["A"].pk) is None
    assert [r.team.name for r in reports.leader_home_get(caller=admin_other).rows] == ["Root", "A", "B"]
    assert all(r.round is None for r in reports.leader_home_get(caller=admin_other).rows)


# --- the order across metric kinds ------------------------------------------------------------------------


def test_a_distribution_is_withheld_where_its_instruments_score_is_withheld() -> None:
    # Ten people answered the first WHO-5 item, only four answered all five (no score without all five:
    # Topp et al. 2015). The item's distribution alone would pass the threshold of 10, but the score is
    # withheld, and the distribution must not be shown where the score is not (pulse.disclosure's order).
    org = ReportOrg(tree=(("Root", None),), instruments=("who5", "burnout1"))
    histogram = {"0": 1, "1": 1, "2": 2, "3": 3, "4": 2, "5": 1}
    org.round(
        {
            "Root": {
                WHO5: Value(4, 52.0, sd=10, respondents=10),
                "question:who5_1@1": Value(10, 2.8, respondents=10, histogram=histogram),
                BURNOUT: Value(10, 2.2),
                "question:burnout1_1@1": Value(10, 2.2, histogram={"1": 2, "2": 5, "3": 2, "4": 1}),
            }
        }
    )
    report = reports.team_report_get(
        caller=_caller(org.person("Ada", admin=True)), team_id=org.team["Root"].pk
    )
    assert report is not None
    by_metric = {d.metric: d for d in report.distributions}
    assert by_metric["question:who5_1@1"].cell.text == "fewer than 5 answers"
    assert by_metric["question:who5_1@1"].options == ()
    burnout = by_metric["question:burnout1_1@1"]
    assert burnout.cell.published
    # 2/10, 5/10, 2/10, 1/10 in 5-point steps; option labels come from the instrument (docs/science.md §1.1).
    assert [(o.value, o.percent) for o in burnout.options] == [(1, 20), (2, 50), (3, 20), (4, 10), (5, 0)]
    assert burnout.options[0].label.startswith("I enjoy my work.")
    assert Question.objects.filter(key="burnout1_1").exists()


def test_comments_only_for_ten_respondents_and_published_scores() -> None:
    org = ReportOrg()
    org.round(
        {
            "Root": {BURNOUT: Value(26, 2.5)},
            "A": {BURNOUT: Value(12, 2.4)},
            "B": {BURNOUT: Value(10, 2.6)},
        }
    )
    (round_,) = org.rounds
    question = Question.objects.filter(key="comment_1", instrument__key="comment").first()
    assert question is not None
    for team, texts in (("Root", ["On-call was heavy.", "Good sprint."]), ("A", ["Good sprint."])):
        for text in texts:
            Comment.objects.create(round=round_, team=org.team[team], question=question, text=text)
    admin = _caller(org.person("Ada", admin=True))
    root = reports.team_report_get(caller=admin, team_id=org.team["Root"].pk)
    assert root is not None
    assert root.comments is not None
    assert root.comments.published
    assert sorted(root.comment_texts) == ["Good sprint.", "On-call was heavy."]
    # Root − A − B = 4 people: B, the smaller child, is withheld for its score, so its comments are too, and
    # A's 12 are shown (Root − A = 14 ≥ 10).
    b = reports.team_report_get(caller=admin, team_id=org.team["B"].pk)
    assert b is not None
    assert {m.metric: m for m in b.metrics}[BURNOUT].latest.text == "withheld to protect a smaller group"
    assert b.comments is not None
    assert not b.comments.published
    assert b.comment_texts == ()
    a = reports.team_report_get(caller=admin, team_id=org.team["A"].pk)
    assert a is not None
    assert a.comment_texts == ("Good sprint.",)


# --- the team page: trend, noise, words ------------------------------------------------------------------


def _eight_rounds(org: ReportOrg, means: list[float], *, n: int = 8) -> None:
    for mean in means:
        org.round({"Root": {BURNOUT: Value(n, mean), RATE: (n + 1, n)}})


def test_trend_line_and_noise_band_come_from_the_shown_values() -> None:
    org = ReportOrg(tree=(("Root", None),), instruments=("burnout1",))
    means = [2.04, 2.16, 2.22, 2.35, 2.38, 2.55, 2.61, 2.77]
    _eight_rounds(org, means)
    report = reports.team_report_get(
        caller=_caller(org.person("Ada", admin=True)), team_id=org.team["Root"].pk
    )
    assert report is not None
    (burnout,) = report.metrics
    shown = [p.cell.text for p in burnout.points]
    assert shown == ["2.0", "2.2", "2.2", "2.4", "2.4", "2.6", "2.6", "2.8"]
    slope, _intercept, _low, _high = scipy_stats.theilslopes([float(s) for s in shown], range(8), 0.95)
    assert burnout.trend is not None
    assert burnout.trend.slope_per_round == pytest.approx(slope)
    assert "per round (95% CI" in burnout.trend_text
    assert "the rounds show a trend" in burnout.trend_text
    # SD 1 in every round of 8: the minimum detectable change is 0.98, the band around the line as wide.
    assert burnout.detectable == pytest.approx(minimum_detectable_change(1.0, 8, 8))
    assert burnout.detectable_text == "1.0"
    last = burnout.points[-1]
    assert last.band_high is not None
    assert last.band_low is not None
    assert last.band_high - last.band_low == pytest.approx(0.98, abs=0.02)
    # +0.2 between the last two rounds is far inside the noise of two rounds of 8: said so, not a trend.
    assert burnout.change_text.startswith("Burnout (single item) moved +0.2, from 2.6 (")
    assert "within the noise between two rounds of this size" in burnout.change_text
    assert "about 1.0 or more" in burnout.change_text


def test_a_change_beyond_the_noise_is_still_not_called_a_trend() -> None:
    org = ReportOrg(tree=(("Root", None),), instruments=("burnout1",))
    _eight_rounds(org, [2.0, 3.6], n=20)
    report = reports.team_report_get(
        caller=_caller(org.person("Ada", admin=True)), team_id=org.team["Root"].pk
    )
    assert report is not None
    (burnout,) = report.metrics
    assert burnout.trend is None
    assert "A trend needs at least 6 rounds with a result; this team has 2 so far" in burnout.trend_text
    assert "moved +1.6" in burnout.change_text
    assert "one pair of rounds is not a trend" in burnout.change_text


def test_rollup_names_the_nearest_visible_ancestor_and_a_leader_below_it_gets_no_parent_numbers() -> None:
    org = ReportOrg()
    # B had people in the round (so the round asked it), too few to count: no aggregate of B is stored.
    org.person("Bea", member_of="B")
    org.round({"Root": {BURNOUT: Value(12, 2.5)}, "A": {BURNOUT: Value(8, 2.4)}})
    admin = _caller(org.person("Ada", admin=True))
    report = reports.team_report_get(caller=admin, team_id=org.team["B"].pk)
    assert report is not None
    burnout = {m.metric: m for m in report.metrics}[BURNOUT]
    assert burnout.rollup_note == "B has fewer than 5 answers this round; showing Root (12 answers)."
    lead_b = _caller(org.person("Lead B", leads="B"))
    report = reports.team_report_get(caller=lead_b, team_id=org.team["B"].pk)
    assert report is not None
    note = {m.metric: m for m in report.metrics}[BURNOUT].rollup_note
    assert note is not None
    assert "no team you can see above it" in note
    assert "2.5" not in note


# --- flags: the gate on their sentences ------------------------------------------------------------------


def test_a_flag_whose_numbers_are_withheld_here_gets_a_sentence_from_published_values() -> None:
    org = ReportOrg()
    # Round 1: everything publishable. Round 2: Root − A − B = 3 direct members, so B (the smaller) is
    # withheld in this report, although it has 5 ≥ k answers and the trend run used its value.
    org.round(
        {"Root": {BURNOUT: Value(14, 2.5)}, "A": {BURNOUT: Value(7, 2.4)}, "B": {BURNOUT: Value(7, 2.6)}}
    )
    org.round(
        {"Root": {BURNOUT: Value(15, 2.7)}, "A": {BURNOUT: Value(7, 2.5)}, "B": {BURNOUT: Value(5, 3.1)}}
    )
    flag_b = org.flag("B", explanation="Burnout (single item) rose from 2.6 to 3.1 over the last 2 rounds.")
    flag_a = org.flag("A", explanation="Burnout (single item) was 2.5 in the round closing 9 Mar 2026.")
    lead = _caller(org.person("Lead", leads="Root"))
    views = {v.flag.pk: v for v in flag_views_for(lead, [flag_b.pk, flag_a.pk])}
    # A is the larger child: it stays published, and its sentence is shown as the trend run wrote it.
    assert views[flag_a.pk].redacted is False
    assert views[flag_a.pk].explanation == flag_a.explanation
    assert views[flag_b.pk].redacted is True
    explanation = views[flag_b.pk].explanation
    assert "3.1" not in explanation
    assert "used a result that is withheld here" in explanation
    assert "the latest is 2.6, in the round closing 2 Mar 2026" in explanation  # round 1: shown
    org.round(
        {"Root": {BURNOUT: Value(16, 2.7)}, "A": {BURNOUT: Value(8, 2.5)}, "B": {BURNOUT: Value(8, 3.0)}}
    )
    view = flag_views_for(lead, [flag_b.pk])[0]
    assert view.redacted is True  # the withheld round is still among the flag's evidence
    assert "the latest is 3.0, burned out (≥ 3), in the round closing 16 Mar 2026" in view.explanation


def test_the_inbox_sorts_open_flags_first_and_only_leaders_of_the_team_can_act() -> None:
    org = ReportOrg()
    org.round(
        {"Root": {BURNOUT: Value(14, 2.5)}, "A": {BURNOUT: Value(7, 2.4)}, "B": {BURNOUT: Value(7, 2.6)}}
    )
    acknowledged = org.flag("A", state=Flag.State.ACKNOWLEDGED, severity=Flag.Severity.ALERT)
    opened = org.flag("B", WORKLOAD, severity=Flag.Severity.WATCH)
    resolved = org.flag("A", WORKLOAD, state=Flag.State.RESOLVED, resolved_at=START)
    org.flag("B", state=Flag.State.PENDING)  # not shown before it holds twice
    lead = _caller(org.person("Lead", leads="Root"))
    inbox = flag_inbox_get(caller=lead)
    assert [v.flag.pk for v in inbox.needs_you] == [opened.pk]
    assert [v.flag.pk for v in inbox.in_hand] == [acknowledged.pk]
    assert [v.flag.pk for v in inbox.resolved] == [resolved.pk]
    assert inbox.needs_you[0].can_act
    admin = _caller(org.person("Ada", admin=True))
    admin_inbox = flag_inbox_get(caller=admin)
    assert [v.flag.pk for v in admin_inbox.needs_you] == [opened.pk]
    assert not admin_inbox.needs_you[0].can_act
    lead_a = _caller(org.person("Lead A", leads="A"))
    assert [v.flag.pk for v in flag_inbox_get(caller=lead_a).in_hand] == [acknowledged.pk]
    assert flag_inbox_get(caller=lead_a).needs_you == ()
    assert flag_visible_get(caller=lead_a, flag_id=opened.pk) is None


def test_release_verdicts_carry_no_number_when_withheld() -> None:
    org = ReportOrg(k=6)
    org.round({"Root": {BURNOUT: Value(12, 3.5)}, "A": {BURNOUT: Value(7, 26 / 7)}})
    home = reports.leader_home_get(caller=_caller(org.person("Ada", admin=True)))
    statuses = set()
    for row in home.rows:
        for cell in row.cells:
            statuses.add(cell.status)
            if cell.status == "withheld":
                assert isinstance(cell.verdict, Withheld)
                assert [f.name for f in dataclasses.fields(cell.verdict)] == ["reason", "code"]
                assert cell.n is None
                assert not any(ch.isdigit() for ch in cell.text.replace("fewer than 6", ""))
            elif cell.status == "published":
                assert isinstance(cell.verdict, Published)
    assert {"withheld", "published"} <= statuses
