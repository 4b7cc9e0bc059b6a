"""Synthetic round history for the trend-run, flag and notification tests.

``History`` makes an organisation with a root team and child teams (each with a leader), a weekly schedule
on the root, and closed, aggregated rounds whose ``TeamAggregate`` rows are written directly (the
aggregation service is tested on its own): each round's team mean comes from individual 1–5 answers drawn
around a chosen mean, so the sums, sums of squares and ties look like real ones. The root's rows are the
roll-up of its child teams' (the reports' disclosure release withholds a round whose tree is inconsistent),
so the root is a team with its own series too.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pulse.models import TeamAggregate
from surveys.models import Instrument, Membership, Organisation, Person, Round, Schedule, Team

UTC = dt.UTC
START = dt.datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # a Monday
BURNOUT = "scale:burnout1.burnout1@1"
WORKLOAD = "scale:workload1.workload1@1"
WHO5 = "scale:who5.who5@1"
RESPONSE = "response_rate"
_numbers = itertools.count(1)


@dataclass
class History:
    teams: tuple[str, ...] = ("Declining", "Flat")
    instruments: tuple[str, ...] = ("burnout1", "workload1")
    k: int = 5
    seed: int = 7
    organisation: Organisation = field(init=False)
    root: Team = field(init=False)
    team: dict[str, Team] = field(init=False, default_factory=dict)
    leader: dict[str, Person] = field(init=False, default_factory=dict)
    schedule: Schedule = field(init=False)
    rounds: list[Round] = field(init=False, default_factory=list)
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        number = next(_numbers)
        self.rng = np.random.default_rng(self.seed)
        self.organisation = Organisation.objects.create(
            name=f"Trend org {number}", time_zone="Europe/Berlin", min_group_size=self.k
        )
        self.root = Team.objects.create(
            organisation=self.organisation, name="Engineering", slug="engineering"
        )
        self.team["root"] = self.root
        self.leader["root"] = self._leader(self.root, "Root")
        for name in self.teams:
            team = Team.objects.create(
                organisation=self.organisation, name=name, slug=name.lower(), parent=self.root
            )
            self.team[name] = team
            self.leader[name] = self._leader(team, name)
        self.schedule = Schedule.objects.create(
            organisation=self.organisation, team=self.root, name="Weekly", starts_on=START.date()
        )
        self.instrument = {key: Instrument.objects.get(key=key, version=1) for key in self.instruments}
        self.schedule.instruments.set(self.instrument.values())

    def _leader(self, team: Team, name: str) -> Person:
        person = Person.objects.create(
            organisation=self.organisation,
            email=f"lead.{name.lower()}.{self.organisation.pk}@example.org",
            display_name=f"Lead {name}",
        )
        Membership.objects.create(
            person=person, team=team, role=Membership.Role.LEADER, starts_on=dt.date(2026, 1, 1)
        )
        return person

    def round(
        self,
        values: Mapping[str, Mapping[str, float | tuple[float, int] | None]],
        *,
        invited: int = 8,
        rates: dict[str, tuple[int, int]] | None = None,
        sd: float = 0.8,
        roll_up: bool = True,
    ) -> Round:
        """Close one more weekly round. ``values[team][metric]``: a mean (8 respondents), a (mean, n) pair,
        or None (no aggregate: fewer than k answered). ``rates[team] = (invited, respondents)``.

        The root's aggregates are the sums of its child teams' (as the close step writes them), so the root
        has series, and may have flags, of its own: tests about a child team filter by that team.
        ``roll_up=False`` leaves the root's rows to the test (``exact``)."""
        closes = START + dt.timedelta(weeks=len(self.rounds))
        round_ = Round.objects.create(
            schedule=self.schedule,
            organisation=self.organisation,
            team=self.root,
            opens_at=closes - dt.timedelta(days=3),
            closes_at=closes,
            time_zone="Europe/Berlin",
            status=Round.Status.CLOSED,
            counted_at=closes,
            aggregated_at=closes + dt.timedelta(minutes=1),
        )
        round_.instruments.set(self.instrument.values())
        rows = []
        for team_name, metrics in values.items():
            team = self.team[team_name]
            respondents = 0
            for metric, spec in metrics.items():
                if spec is None:
                    continue
                mean, n = spec if isinstance(spec, tuple) else (spec, 8)
                respondents = max(respondents, n)
                rows.append(self._aggregate(round_, team, metric, mean, n, sd))
            invited_here, answered = (rates or {}).get(team_name, (invited, respondents))
            if answered:
                rows.append(
                    TeamAggregate(
                        round=round_,
                        team=team,
                        organisation=self.organisation,
                        metric=RESPONSE,
                        kind=TeamAggregate.Kind.RESPONSE_RATE,
                        closes_at=closes,
                        respondents=answered,
                        n=invited_here,
                        total=float(answered),
                        total_squares=float(answered),
                    )
                )
        if roll_up and "root" not in values:
            rows += self._roll_up(round_, rows)
        TeamAggregate.objects.bulk_create(rows)
        self.rounds.append(round_)
        return round_

    def _roll_up(self, round_: Round, rows: list[TeamAggregate]) -> list[TeamAggregate]:
        """The root's aggregates: the close step counts every respondent for each team of their closure, so
        a parent's numbers always include its child teams' (``pulse.reports`` withholds a whole round whose
        tree says otherwise)."""
        sums: dict[str, TeamAggregate] = {}
        for row in rows:
            if row.team_id == self.root.pk:
                continue
            total = sums.get(row.metric)
            if total is None:
                sums[row.metric] = TeamAggregate(
                    round=round_,
                    team=self.root,
                    organisation=self.organisation,
                    metric=row.metric,
                    kind=row.kind,
                    instrument=row.instrument,
                    closes_at=round_.closes_at,
                    respondents=row.respondents,
                    n=row.n,
                    total=row.total,
                    total_squares=row.total_squares,
                )
                continue
            total.respondents += row.respondents
            total.n += row.n
            total.total += row.total
            total.total_squares += row.total_squares
        return list(sums.values())

    def _aggregate(
        self, round_: Round, team: Team, metric: str, mean: float, n: int, sd: float
    ) -> TeamAggregate:
        key = metric.split(":", 1)[1].split(".", 1)[0]
        if metric == WHO5:
            answers = np.clip(np.rint(self.rng.normal(mean, 16.0, n) / 4) * 4, 0, 100)
        else:
            answers = np.clip(np.rint(self.rng.normal(mean, sd, n)), 1, 5)
        # Nudge the draw so that the round mean is the chosen one (to 0.05): tests control the signal.
        answers = answers + (mean - answers.mean())
        return TeamAggregate(
            round=round_,
            team=team,
            organisation=self.organisation,
            metric=metric,
            kind=TeamAggregate.Kind.SCALE,
            instrument=self.instrument[key],
            closes_at=round_.closes_at,
            respondents=n,
            n=n,
            total=float(answers.sum()),
            total_squares=float((answers**2).sum()),
        )

    def exact(self, round_: Round, team: str, metric: str, *, n: int, total: float, squares: float) -> None:
        """Write one aggregate with exact sums (for values the test must recognise)."""
        key = metric.split(":", 1)[1].split(".", 1)[0]
        TeamAggregate.objects.create(
            round=round_,
            team=self.team[team],
            organisation=self.organisation,
            metric=metric,
            kind=TeamAggregate.Kind.SCALE,
            instrument=self.instrument[key],
            closes_at=round_.closes_at,
            respondents=n,
            n=n,
            total=total,
            total_squares=squares,
        )

    @property
    def next_close(self) -> dt.datetime:
        return START + dt.timedelta(weeks=len(self.rounds))

    def now(self) -> dt.datetime:
        """An instant just after the latest round (the trend run's clock)."""
        return START + dt.timedelta(weeks=len(self.rounds) - 1, hours=1)
