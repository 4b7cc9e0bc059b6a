"""Closed rounds built through the real services, for the aggregation and retention tests.

``RoundBuilder`` makes an organisation with a team tree and memberships (a person may be in several
teams), saves a schedule on the root with ``schedule_save``, lets ``rounds_open_due`` open the round (so
invitations and their team lists are what production writes), answers through ``response_submit`` with
each invitation's token (opened from ``Invitation.sealed_token`` with the key ring, as the email step
does) and closes with ``round_close``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from surveys.models import Instrument, Invitation, Membership, Organisation, Person, Round, Schedule, Team
from surveys.sealing import KeyRing, open_token
from surveys.services.answering import response_submit
from surveys.services.counting import round_close
from surveys.services.rounds import rounds_open_due
from surveys.services.schedules import schedule_save

_numbers = itertools.count(1)


@dataclass
class RoundBuilder:
    """Describe the organisation, then ``open()``, ``answer()`` each person and ``close()``."""

    min_group_size: int = 3
    instruments: Sequence[str] = ("who5", "burnout1", "comment")
    every_n_weeks: int = 2  # WHO-5's recall period is two weeks; the CBI's four
    now: dt.datetime = field(default_factory=timezone.now)
    organisation: Organisation = field(init=False)
    root: Team = field(init=False)
    teams: dict[str, Team] = field(init=False, default_factory=dict)
    people: dict[str, Person] = field(init=False, default_factory=dict)
    round: Round | None = field(init=False, default=None)
    tokens: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        number = next(_numbers)
        self.organisation = Organisation.objects.create(
            name=f"Aggregation test org {number} {self.now.timestamp()}",
            time_zone="Europe/Berlin",
            min_group_size=self.min_group_size,
        )
        self.root = Team.objects.create(organisation=self.organisation, name="Engineering", slug="eng")
        self.teams["root"] = self.root

    def team(self, name: str, parent: str = "root") -> Team:
        team = Team.objects.create(
            organisation=self.organisation, name=name, slug=name.lower(), parent=self.teams[parent]
        )
        self.teams[name] = team
        return team

    def person(self, name: str, *teams: str) -> Person:
        person = Person.objects.create(
            organisation=self.organisation, email=f"{name}@example.org", display_name=name
        )
        for team in teams:
            Membership.objects.create(
                person=person, team=self.teams[team], starts_on=self.now.date() - dt.timedelta(days=60)
            )
        self.people[name] = person
        return person

    def open(self) -> Round:
        chosen = [Instrument.objects.filter(key=key).order_by("-version").first() for key in self.instruments]
        assert all(chosen), f"unknown instrument among {self.instruments}"
        schedule = Schedule(
            organisation=self.organisation,
            team=self.root,
            name=f"Fortnightly {self.organisation.pk}",
            local_time=dt.time(10, 0),
            every_n_weeks=self.every_n_weeks,
            starts_on=self.now.date() - dt.timedelta(days=60),
            quiet_start=dt.time(0, 0),
            quiet_end=dt.time(0, 0),
            quiet_weekends=False,
        )
        schedule_save(schedule=schedule, instruments=[instrument for instrument in chosen if instrument])
        Schedule.objects.filter(pk=schedule.pk).update(next_opening_at=self.now - dt.timedelta(minutes=1))
        assert rounds_open_due(now=self.now) == 1
        self.round = Round.objects.get(schedule=schedule)
        ring = KeyRing.from_settings()
        by_person = {person.pk: name for name, person in self.people.items()}
        for invitation in Invitation.objects.filter(round=self.round):
            assert invitation.sealed_token is not None
            self.tokens[by_person[invitation.person_id]] = open_token(ring, bytes(invitation.sealed_token))
        return self.round

    def answer(self, name: str, answers: dict[str, Any]) -> None:
        response_submit(token=self.tokens[name], answers=answers, now=self.now)

    def close(self) -> Round:
        assert self.round is not None
        assert round_close(round_id=self.round.pk, now=self.round.closes_at + dt.timedelta(seconds=1))
        self.round.refresh_from_db()
        return self.round


def who5(*items: int) -> dict[str, int]:
    """WHO-5 answers from the five item values (0–5 each)."""
    assert len(items) == 5
    return {f"who5_{number}": value for number, value in enumerate(items, start=1)}
