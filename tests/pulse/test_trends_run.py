"""The trend run over stored team aggregates: two evaluations before anyone is told, withheld and collapsed
rounds, the 6-round minimum, automatic recovery and reopening (docs/science.md §3)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Q

from pulse.analysis.rules import FlagKind, SeriesVerdict
from pulse.models import Flag, FlagEvent, Notification, TeamAggregate, TrendRun
from pulse.services.trends import TrendRunResult, trend_run, trend_series_load, trends_run_due
from surveys.models import Team
from tests.pulse.helpers_flags import BURNOUT, RESPONSE, WORKLOAD, History

pytestmark = pytest.mark.django_db


def declining(i: int) -> float:
    return 2.0 + 0.15 * i


def flat(rng_value: float) -> float:
    return 2.0 + rng_value


def build(history: History, rounds: int, *, start: int = 0) -> None:
    noise = history.rng.normal(0, 0.12, (rounds, 2))
    for i in range(start, start + rounds):
        history.round(
            {
                "Declining": {BURNOUT: declining(i), WORKLOAD: 3.0 + noise[i - start, 0] / 2},
                "Flat": {BURNOUT: flat(noise[i - start, 1]), WORKLOAD: 3.0},
            }
        )


def flags(history: History, **filters: object) -> list[Flag]:
    return list(Flag.objects.filter(organisation=history.organisation, **filters).order_by("pk"))


def verdict_of(result: TrendRunResult, team: Team, metric: str) -> SeriesVerdict:
    """The verdict on one team's series: the root rolls its child teams up and has verdicts of its own."""
    (verdict,) = [v for v in result.verdicts if v.key == (team.pk, metric)]
    return verdict


def test_a_declining_team_is_flagged_after_two_evaluations_and_a_flat_one_is_not() -> None:
    history = History()
    build(history, 11)
    result = trend_run(organisation_id=history.organisation.pk, now=history.now())
    # The root (Declining and Flat rolled up) rises at half the rate and may have a flag of its own.
    (pending,) = flags(history, kind=FlagKind.TREND, team=history.team["Declining"])
    assert pending.metric == BURNOUT
    assert pending.state == Flag.State.PENDING
    assert not Notification.objects.exists()  # nobody is told after one evaluation
    verdict = verdict_of(result, history.team["Declining"], BURNOUT)
    assert verdict.q <= 0.10
    assert verdict.slope_per_round == pytest.approx(0.15, abs=0.03)

    # Running again on the same data is not a second evaluation.
    trend_run(organisation_id=history.organisation.pk, now=history.now() + dt.timedelta(minutes=5))
    pending.refresh_from_db()
    assert pending.state == Flag.State.PENDING
    assert pending.hits == 1

    build(history, 1, start=11)
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    opened = Flag.objects.get(pk=pending.pk)
    assert opened.state == Flag.State.OPEN
    assert opened.explanation.startswith(
        "Burnout (single item) rose from 2.0 to 3.7 over the last 12 rounds (+0.1"
    )
    assert "q < 0.01" in opened.explanation
    assert [e.kind for e in opened.events.all()] == [FlagEvent.Kind.DETECTED, FlagEvent.Kind.OPENED]
    # The Declining team's burnout crossed the cut-off of 3 and is worsening: an alert, emailed at once.
    assert opened.severity == Flag.Severity.ALERT
    emails = Notification.objects.filter(flag=opened, transport=Notification.Transport.EMAIL)
    assert [n.recipient for n in emails] == [history.leader["Declining"]]
    assert not emails[0].digest

    flat_team = history.team["Flat"]
    assert not Flag.objects.filter(team=flat_team).exists()
    assert not Flag.objects.filter(team=history.team["Declining"], metric=WORKLOAD).exists()


def test_fewer_than_six_usable_rounds_give_no_trend_flag() -> None:
    history = History(teams=("Declining",))
    for i in range(5):
        history.round({"Declining": {BURNOUT: 1.5 + 0.3 * i}})
    result = trend_run(organisation_id=history.organisation.pk, now=history.now())
    team = history.team["Declining"]
    assert FlagKind.TREND not in verdict_of(result, team, BURNOUT).hits
    assert not flags(history, kind=FlagKind.TREND)  # nor for the root, whose rows are the same
    history.round({"Declining": {BURNOUT: 3.3}})
    result = trend_run(organisation_id=history.organisation.pk, now=history.now())
    assert verdict_of(result, team, BURNOUT).hits[FlagKind.TREND] is True
    (pending,) = flags(history, kind=FlagKind.TREND, team=team)
    assert pending.state == Flag.State.PENDING


def test_a_withheld_round_is_nan_and_its_number_goes_nowhere() -> None:
    """Round 4 had 4 respondents (k = 5): its aggregate (mean 4.9, a value the test can recognise) must
    be a missing value, and no sentence or message may contain it. Round 7 has no aggregate at all."""
    history = History(teams=("Declining",))
    for i in range(10):
        if i == 3:
            # The root's roll-up holds the same 4 answers, so the tree is consistent and k alone withholds.
            round_ = history.round({"Declining": {}}, roll_up=False)
            for team_name in ("Declining", "root"):
                history.exact(round_, team_name, BURNOUT, n=4, total=4 * 4.9, squares=4 * 4.9**2 + 0.12)
            continue
        if i == 6:
            history.round({"Declining": {}})
            continue
        history.round({"Declining": {BURNOUT: declining(i)}})
    team = history.team["Declining"]
    (series,) = [
        s
        for s in trend_series_load(organisation=history.organisation, window=12)
        if s.key == (team.pk, BURNOUT)
    ]
    means = [point.mean for point in series.points]
    assert means[3] is None
    assert means[6] is None
    assert sum(mean is not None for mean in means) == 8
    result = trend_run(organisation_id=history.organisation.pk, now=history.now())
    verdict = verdict_of(result, team, BURNOUT)
    assert verdict.withheld == 2
    assert verdict.usable_rounds == 8
    history.round({"Declining": {BURNOUT: declining(10)}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    flag = Flag.objects.get(team=team, kind=FlagKind.TREND)
    assert flag.state == Flag.State.OPEN
    assert "2 rounds had too few answers to show" in flag.explanation
    texts = [flag.explanation, *Notification.objects.values_list("body", flat=True)]
    texts += [str(n.payload) for n in Notification.objects.all()] + [str(flag.details)]
    assert all("4.9" not in text for text in texts)


def test_a_round_whose_response_rate_collapsed_is_excluded_and_mentioned() -> None:
    history = History(teams=("Declining",))
    for i in range(10):
        if i == 5:
            # 5 of 16 answered (31%) against a usual 8 of 9: excluded, though publishable.
            history.round({"Declining": {BURNOUT: (1.0, 5)}}, rates={"Declining": (16, 5)})
            continue
        history.round({"Declining": {BURNOUT: declining(i)}}, rates={"Declining": (9, 8)})
    result = trend_run(organisation_id=history.organisation.pk, now=history.now())
    verdict = verdict_of(result, history.team["Declining"], BURNOUT)
    assert verdict.excluded == (history.rounds[5].closes_at,)
    assert verdict.usable_rounds == 9
    assert verdict.hits[FlagKind.TREND] is True
    assert (
        "the round closing 6 Jul 2026 was left out because its response rate fell below half"
        in (verdict.explanations[FlagKind.TREND])
    )
    rate = verdict_of(result, history.team["Declining"], RESPONSE)
    assert rate.excluded == ()  # the collapse is the response rate's own signal, not a gap in it


def test_recovery_resolves_after_two_evaluations_back_in_bounds_and_a_return_reopens() -> None:
    history = History(teams=("Payments",))
    for _ in range(6):
        history.round({"Payments": {BURNOUT: 3.4}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    history.round({"Payments": {BURNOUT: 3.5}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    cutoff = Flag.objects.get(team=history.team["Payments"], kind=FlagKind.CUTOFF)
    assert cutoff.state == Flag.State.OPEN
    assert cutoff.severity == Flag.Severity.WATCH  # beyond the cut-off but not worsening
    assert "3.5 is at or above 3, the single-item burnout cut-off for 'burned out'" in cutoff.explanation

    history.round({"Payments": {BURNOUT: 2.3}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    cutoff.refresh_from_db()
    assert (cutoff.state, cutoff.clears) == (Flag.State.OPEN, 1)
    history.round({"Payments": {BURNOUT: 2.2}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    cutoff.refresh_from_db()
    assert cutoff.state == Flag.State.RESOLVED
    assert cutoff.resolution == Flag.Resolution.RECOVERED
    recovered = cutoff.events.get(kind=FlagEvent.Kind.RECOVERED)
    assert recovered.actor is None
    assert recovered.actor_label == "system"
    assert recovered.why.startswith(
        "Back within bounds for 2 evaluations in a row. Burnout (single item) was 2.2"
    )
    assert Notification.objects.filter(event=recovered, transport=Notification.Transport.EMAIL).exists()

    # The decline returns: pending again after one evaluation, reopened after the second.
    history.round({"Payments": {BURNOUT: 3.6}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    cutoff.refresh_from_db()
    assert cutoff.state == Flag.State.PENDING
    history.round({"Payments": {BURNOUT: 3.7}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    cutoff.refresh_from_db()
    assert cutoff.state == Flag.State.OPEN
    assert cutoff.reopen_count == 1
    assert cutoff.events.filter(kind=FlagEvent.Kind.REOPENED).count() == 1
    assert Flag.objects.filter(team=history.team["Payments"], kind=FlagKind.CUTOFF).count() == 1


def test_a_pending_flag_that_does_not_hold_lapses_unseen() -> None:
    history = History(teams=("Payments",))
    history.round({"Payments": {BURNOUT: 3.2}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    history.round({"Payments": {BURNOUT: 2.4}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    flag = Flag.objects.get(team=history.team["Payments"])
    assert flag.state == Flag.State.LAPSED
    assert not Notification.objects.exists()


def test_the_tick_step_runs_each_organisation_once_per_aggregation() -> None:
    history = History(teams=("Payments",))
    other = History(teams=("Data",))
    for _ in range(2):
        history.round({"Payments": {BURNOUT: 2.0}})
        other.round({"Data": {BURNOUT: 2.0}})
    assert trends_run_due(now=history.now()) == 2
    assert trends_run_due(now=history.now()) == 0
    history.round({"Payments": {BURNOUT: 2.0}})
    assert trends_run_due(now=history.now()) == 1
    assert TrendRun.objects.filter(organisation=history.organisation).count() == 2
    assert TeamAggregate.objects.filter(organisation=history.organisation).exists()


def test_the_run_reads_a_fixed_number_of_queries_whatever_the_number_of_teams() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (2, 12):
        history = History(teams=tuple(f"Team {i}" for i in range(size)))
        for _ in range(8):
            history.round({f"Team {i}": {BURNOUT: 2.0, WORKLOAD: 3.0} for i in range(size)})
        with CaptureQueriesContext(connection) as queries:
            result = trend_run(organisation_id=history.organisation.pk, now=history.now())
        # Burnout, workload and the response rate of each team, and the same three for the root's roll-up.
        assert result.run.series == 3 * size + 3
        assert not any(v.flagged for v in result.verdicts)
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_value_the_reports_withhold_to_protect_a_smaller_group_is_nan() -> None:
    """Big has 8 respondents (k = 5) and the root 11: the root's 3 direct respondents would be the
    difference of two published means, so the reports' release withholds Big (the smaller team) although
    it passes the threshold. The trend run keeps exactly the values that release publishes."""
    from pulse.disclosure.release import TeamIndex, release_all, round_infos
    from pulse.disclosure.rules import Published, Withheld

    history = History(teams=("Big", "Small"))
    for i in range(8):
        round_ = history.round({"Big": {BURNOUT: declining(i)}}, roll_up=False)
        history.exact(round_, "root", BURNOUT, n=11, total=11 * 2.5, squares=11 * 2.5**2 + 3.0)
    infos = round_infos((r.pk, r.closes_at, history.root.path, True) for r in history.rounds)
    releases = release_all(
        infos, TeamIndex.of(history.organisation.pk), organisation=history.organisation, condition=Q()
    )
    big, root = history.team["Big"].pk, history.root.pk
    assert all(isinstance(releases[r.pk].verdict(BURNOUT, big), Withheld) for r in history.rounds)
    assert all(isinstance(releases[r.pk].verdict(BURNOUT, root), Published) for r in history.rounds)
    series = {s.key: s for s in trend_series_load(organisation=history.organisation, window=12)}
    assert (big, BURNOUT) not in series  # no usable value: no series, no flag, no sentence
    assert [p.mean for p in series[(root, BURNOUT)].points] == pytest.approx([2.5] * 8)
    result = trend_run(organisation_id=history.organisation.pk, now=history.now())
    assert not any(v.key[0] == big for v in result.verdicts)


def test_a_new_reason_joins_the_open_flag_of_its_series_and_never_makes_a_second_one() -> None:
    """Burnout above the cut-off and steady (a watch), then a sudden jump: the same flag gains the shift,
    becomes an alert and records the new evidence (docs/science.md §3.11)."""
    history = History()
    run = history.organisation.pk
    for value in (3.2, 3.1, 3.2, 3.1, 3.2, 3.1, 3.2, 3.1):
        history.round({"Declining": {BURNOUT: value}, "Flat": {BURNOUT: 2.0}})
        trend_run(organisation_id=run, now=history.now())
    (flag,) = flags(history, team=history.team["Declining"], metric=BURNOUT)
    assert flag.state == Flag.State.OPEN
    assert (flag.reasons, flag.kind, flag.severity) == (["cutoff"], "cutoff", Flag.Severity.WATCH)
    assert flag.headline.startswith("Burnout (single item) is 3.1, at or above 3, ")
    assert "CUSUM" not in flag.headline

    for value in (4.4, 4.5):
        history.round({"Declining": {BURNOUT: value}, "Flat": {BURNOUT: 2.0}})
        trend_run(organisation_id=run, now=history.now())
    (same,) = flags(history, team=history.team["Declining"], metric=BURNOUT)
    assert same.pk == flag.pk
    assert same.state == Flag.State.OPEN
    assert "shift" in same.reasons
    assert same.reasons[-1] == "cutoff"  # strongest first
    assert same.severity == Flag.Severity.ALERT
    assert set(same.details["reasons"]) == set(same.reasons)
    assert "CUSUM" in same.details["reasons"]["shift"]  # the statistics stay, under the reason
    assert "jump" in same.headline
    assert "CUSUM" not in same.headline
    updates = same.events.filter(kind=FlagEvent.Kind.UPDATED)
    assert updates.count() == 1  # became an alert: one event, and the leaders are told once
    assert updates.get().data["reasons_before"] == ["cutoff"]


def test_a_flag_clears_only_when_every_reason_it_carries_was_judged_and_none_holds() -> None:
    from pulse.services.flags import flags_apply_verdicts

    history = History()
    history.round({"Declining": {BURNOUT: 3.5}})
    moment = history.now()
    team = history.team["Declining"]
    flag = Flag.objects.create(
        organisation=history.organisation,
        team=team,
        metric=BURNOUT,
        kind="trend",
        reasons=["trend", "cutoff"],
        state=Flag.State.OPEN,
        severity=Flag.Severity.ALERT,
        explanation="…",
        evaluated_through=moment - dt.timedelta(days=14),
        created_at=moment,
        opened_at=moment,
    )

    def verdict(hits: dict[FlagKind, bool], at: dt.datetime) -> SeriesVerdict:
        return SeriesVerdict(
            key=(team.pk, BURNOUT),
            evaluable=True,
            latest_closes_at=at,
            hits=hits,
            severity=None,
            explanations={},
            status="Burnout was 2.5.",
            details={},
        )

    # The cut-off is judged and clear, the trend could not be judged: the flag stays as it is.
    flags_apply_verdicts(
        organisation=history.organisation, verdicts=[verdict({FlagKind.CUTOFF: False}, moment)], now=moment
    )
    flag.refresh_from_db()
    assert (flag.state, flag.clears) == (Flag.State.OPEN, 0)
    # Both judged and clear, twice: recovered.
    for week in (1, 2):
        at = moment + dt.timedelta(weeks=week)
        flags_apply_verdicts(
            organisation=history.organisation,
            verdicts=[verdict({FlagKind.CUTOFF: False, FlagKind.TREND: False}, at)],
            now=at,
        )
    flag.refresh_from_db()
    assert (flag.state, flag.resolution) == (Flag.State.RESOLVED, Flag.Resolution.RECOVERED)
