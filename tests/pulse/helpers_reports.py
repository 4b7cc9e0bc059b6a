"""An organisation with closed, aggregated rounds whose ``TeamAggregate`` rows are written directly, for the
report, page and API tests: every n, sum and sum of squares is the test's choice, so a test can name the
exact number a leader may or may not see. (The aggregation service is tested on its own.)
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from pulse.models import Flag, TeamAggregate
from surveys.models import Instrument, Membership, Organisation, Person, Round, Schedule, Team

UTC = dt.UTC
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
BURNOUT = "scale:burnout1.burnout1@1"
WORKLOAD = "scale:workload1.workload1@1"
WHO5 = "scale:who5.who5@1"
RATE = "response_rate"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Value:
    """One team's aggregate: ``n`` values with this mean and within-round SD (sums computed exactly)."""

    n: int
    mean: float
    sd: float = 1.0
    respondents: int | None = None  # default: n
    histogram: Mapping[str, int] | None = None

    @property
    def total(self) -> float:
        return self.n * self.mean

    @property
    def squares(self) -> float:
        # Σx² = n·m² + (n−1)·s², so the sample SD of the values is exactly ``sd``.
        return self.n * self.mean * self.mean + (self.n - 1) * self.sd * self.sd


@dataclass
class ReportOrg:
    """``tree``: (name, parent name or None) from the top; the first team is the schedule's team."""

    tree: tuple[tuple[str, str | None], ...] = (("Root", None), ("A", "Root"), ("B", "Root"))
    k: int = 5
    instruments: tuple[str, ...] = ("burnout1", "workload1", "who5", "comment")
    name: str = ""
    organisation: Organisation = field(init=False)
    team: dict[str, Team] = field(init=False, default_factory=dict)
    schedule: Schedule = field(init=False)
    rounds: list[Round] = field(init=False, default_factory=list)
    instrument: dict[str, Instrument] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        number = next(_numbers)
        self.organisation = Organisation.objects.create(
            name=self.name or f"Report org {number}", time_zone="Europe/Berlin", min_group_size=self.k
        )
        for team_name, parent in self.tree:
            self.team[team_name] = Team.objects.create(
                organisation=self.organisation,
                name=team_name,
                slug=f"{team_name.lower().replace(' ', '-')}-{number}",
                parent=self.team[parent] if parent else None,
            )
        root = self.team[self.tree[0][0]]
        self.schedule = Schedule.objects.create(
            organisation=self.organisation, team=root, name="Weekly", starts_on=START.date()
        )
        self.instrument = {key: Instrument.objects.get(key=key, version=1) for key in self.instruments}
        self.schedule.instruments.set(self.instrument.values())

    def person(
        self, label: str, *, leads: str | None = None, admin: bool = False, member_of: str = ""
    ) -> Person:
        """A person with a user (password "pw"); optionally a leader of a team or an admin."""
        email = f"{label.lower().replace(' ', '.')}.{self.organisation.pk}@example.org"
        user = get_user_model().objects.create_user(username=email, email=email, password="pw")
        person = Person.objects.create(
            organisation=self.organisation, email=email, display_name=label, is_admin=admin, user=user
        )
        if leads:
            Membership.objects.create(
                person=person,
                team=self.team[leads],
                role=Membership.Role.LEADER,
                starts_on=dt.date(2026, 1, 1),
            )
        if member_of:
            Membership.objects.create(person=person, team=self.team[member_of], starts_on=dt.date(2026, 1, 1))
        return person

    def round(
        self,
        values: Mapping[str, Mapping[str, Value | tuple[int, int]]],
    ) -> Round:
        """Close one more weekly round. ``values[team][metric]``: a ``Value``, or for ``response_rate`` a
        pair (invited, respondents)."""
        closes = START + dt.timedelta(weeks=len(self.rounds))
        round_ = Round.objects.create(
            schedule=self.schedule,
            organisation=self.organisation,
            team=self.schedule.team,
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
            respondents = max(
                (v.respondents or v.n for v in metrics.values() if isinstance(v, Value)),
                default=0,
            )
            for metric, spec in metrics.items():
                if metric == RATE:
                    assert isinstance(spec, tuple)
                    invited, answered = spec
                    rows.append(
                        self._row(
                            round_,
                            team,
                            metric,
                            TeamAggregate.Kind.RESPONSE_RATE,
                            None,
                            answered,
                            invited,
                            float(answered),
                            float(answered),
                            {},
                        )
                    )
                    continue
                assert isinstance(spec, Value)
                kind = metric.split(":", 1)[0]
                key = metric.split(":", 1)[1].split("@")[0].split(".")[0].split("_")[0]
                instrument = self.instrument.get(key) or self.instrument.get(key + "1")
                rows.append(
                    self._row(
                        round_,
                        team,
                        metric,
                        {
                            "scale": TeamAggregate.Kind.SCALE,
                            "question": TeamAggregate.Kind.QUESTION,
                            "share": TeamAggregate.Kind.SHARE,
                        }[kind],
                        instrument,
                        spec.respondents or respondents,
                        spec.n,
                        spec.total,
                        spec.squares,
                        dict(spec.histogram or {}),
                    )
                )
        TeamAggregate.objects.bulk_create(rows)
        self.rounds.append(round_)
        return round_

    def _row(
        self,
        round_: Round,
        team: Team,
        metric: str,
        kind: str,
        instrument: Instrument | None,
        respondents: int,
        n: int,
        total: float,
        squares: float,
        histogram: dict[str, int],
    ) -> TeamAggregate:
        return TeamAggregate(
            round=round_,
            team=team,
            organisation=self.organisation,
            metric=metric,
            kind=kind,
            instrument=instrument,
            closes_at=round_.closes_at,
            respondents=respondents,
            n=n,
            total=total,
            total_squares=squares,
            histogram=histogram,
        )

    def flag(
        self, team: str, metric: str = BURNOUT, *, state: str = Flag.State.OPEN, **fields: object
    ) -> Flag:
        """An open flag as the trend run leaves it (the trend run is tested on its own)."""
        last = self.rounds[-1].closes_at if self.rounds else START
        defaults: dict[str, object] = {
            "kind": Flag.Kind.TREND,
            "reasons": [Flag.Kind.TREND.value],
            "severity": Flag.Severity.WARNING,
            "headline": "Burnout (single item) has risen over the last 8 rounds, from 2.1 to 3.4.",
            "explanation": "Burnout (single item) rose from 2.1 to 3.4 over the last 8 rounds.",
            "evaluated_through": last,
            "created_at": last,
            "opened_at": last,
        }
        defaults.update(fields)
        return Flag.objects.create(
            organisation=self.organisation, team=self.team[team], metric=metric, state=state, **defaults
        )
