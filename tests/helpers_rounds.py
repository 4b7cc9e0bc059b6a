"""Build an organisation, a schedule and an open round through the real services, and hand back the tokens.

The round is opened the way the minute tick opens it (``schedule_save`` → ``rounds_open_due``), so the
invitations, their sealed tokens and their emails are exactly what production writes. Tests get each
person's link token back the way the email step does: by opening the sealed copy with the key ring.
"""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.utils import timezone

from surveys.models import (
    Instrument,
    Invitation,
    Membership,
    Organisation,
    Person,
    Round,
    Schedule,
    SealedBallot,
    Team,
)
from surveys.round_keys import round_key_store
from surveys.sealing import KeyRing, open_ballot, open_token
from surveys.services.answering import round_questions
from surveys.services.rounds import rounds_open_due
from surveys.services.schedules import schedule_save

DEFAULT_INSTRUMENTS = ("who5", "workload1", "comment")
_numbers = itertools.count(1)


@dataclass
class OpenRound:
    round: Round
    organisation: Organisation
    root: Team
    teams: list[Team]
    people: list[Person]
    tokens: dict[int, str]  # person id -> the token of their link
    leaders: list[Person] = field(default_factory=list)

    def token_of(self, person: Person) -> str:
        return self.tokens[person.pk]

    @property
    def close_moment(self) -> dt.datetime:
        """An instant just after the round's window, for ``round_close(now=...)``."""
        return self.round.closes_at + dt.timedelta(seconds=1)


# The migrations that write the default library's rows, and their data step.
LIBRARY_DATA_STEPS = (
    ("0003_default_library", "load"),
    ("0013_who5_note_cites_docs", "cite_docs"),
    ("0014_scale_reading", "set_library_reading"),
)


def ensure_library() -> None:
    """Load the default instrument library if a transactional test's flush removed it: every data step of
    the migrations that write it, in their order (each is idempotent), so the rows are what a migrated
    database holds, how each scale is read included."""
    if not Instrument.objects.filter(is_default_library=True).exists():
        for migration, step in LIBRARY_DATA_STEPS:
            getattr(importlib.import_module(f"surveys.migrations.{migration}"), step)(apps, None)


def open_round(
    *,
    people_per_team: Sequence[int] = (6,),
    instruments: Sequence[str] = DEFAULT_INSTRUMENTS,
    min_group_size: int = 5,
    locale: str = "en",
    now: dt.datetime | None = None,
) -> OpenRound:
    """An organisation with a root team and one sub-team per entry of ``people_per_team`` (members only;
    each sub-team also gets a leader), a fortnightly schedule on the root over the whole subtree, and its
    round opened one minute ago by ``rounds_open_due``. No quiet hours, so the emails are due at once."""
    moment = now or timezone.now()
    ensure_library()
    number = next(_numbers)
    organisation = Organisation.objects.create(
        name=f"Round test org {number} {moment.timestamp()}",
        time_zone="Europe/Berlin",
        locale=locale,
        min_group_size=min_group_size,
    )
    root = Team.objects.create(organisation=organisation, name="Engineering", slug="engineering")
    started = moment.date() - dt.timedelta(days=60)
    teams: list[Team] = []
    people: list[Person] = []
    leaders: list[Person] = []
    for position, size in enumerate(people_per_team, start=1):
        team = Team.objects.create(
            organisation=organisation, name=f"Team {position}", slug=f"team-{position}", parent=root
        )
        teams.append(team)
        leader = Person.objects.create(
            organisation=organisation,
            email=f"leader{position}.{number}@example.org",
            display_name=f"Leader {position}",
        )
        Membership.objects.create(person=leader, team=team, role=Membership.Role.LEADER, starts_on=started)
        leaders.append(leader)
        for index in range(size):
            person = Person.objects.create(
                organisation=organisation,
                email=f"engineer{position}x{index}.{number}@example.org",
                display_name=f"Engineer {position}-{index} Quimby",
            )
            Membership.objects.create(person=person, team=team, starts_on=started)
            people.append(person)
    round_, tokens = open_schedule(organisation=organisation, team=root, instruments=instruments, now=moment)
    return OpenRound(
        round=round_,
        organisation=organisation,
        root=root,
        teams=teams,
        people=people,
        tokens=tokens,
        leaders=leaders,
    )


def open_schedule(
    *, organisation: Organisation, team: Team, instruments: Sequence[str], now: dt.datetime
) -> tuple[Round, dict[int, str]]:
    """Save a fortnightly schedule on ``team`` (whole subtree, no quiet hours) through ``schedule_save``,
    make it due a minute before ``now`` and open it with the tick's step. Returns the round and the tokens
    by person id, read back from the sealed copies as the email step does."""
    ensure_library()
    chosen = [Instrument.objects.filter(key=key).order_by("-version").first() for key in instruments]
    assert all(chosen), f"unknown instrument among {instruments}"
    schedule = Schedule(
        organisation=organisation,
        team=team,
        name=f"Fortnightly check-in {next(_numbers)}",
        local_time=dt.time(10, 0),
        # WHO-5's recall period is 14 days; an instrument with a longer one (CBI: 4 weeks) sets the pace.
        every_n_weeks=max(
            2, *((instrument.recall_period_days or 0) // 7 for instrument in chosen if instrument)
        ),
        starts_on=now.date() - dt.timedelta(days=60),
        quiet_start=dt.time(0, 0),
        quiet_end=dt.time(0, 0),  # equal bounds: no quiet hours
        quiet_weekends=False,
    )
    schedule_save(schedule=schedule, instruments=[instrument for instrument in chosen if instrument])
    # Make the schedule due a minute ago and let the tick's own step open it.
    Schedule.objects.filter(pk=schedule.pk).update(next_opening_at=now - dt.timedelta(minutes=1))
    assert rounds_open_due(now=now) == 1
    round_ = Round.objects.get(schedule=schedule)
    ring = KeyRing.from_settings()
    tokens = {
        invitation.person_id: open_token(ring, bytes(invitation.sealed_token))
        for invitation in Invitation.objects.filter(round=round_)
        if invitation.sealed_token is not None
    }
    return round_, tokens


def answers_for(
    round_: Round, *, rng: random.Random | None = None, comment: str | None = None
) -> dict[str, Any]:
    """A complete, valid submission for every question of the round (choices random with ``rng``, else the
    first option). Free-text questions get ``comment`` when given, otherwise they are left out."""
    answers: dict[str, Any] = {}
    for question in round_questions(round_):
        if question.kind == "text":
            if comment is not None:
                answers[question.key] = comment
            continue
        values = [int(option["value"]) for option in question.options]
        answers[question.key] = rng.choice(values) if rng else values[0]
    return answers


def as_form(answers: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in answers.items()}


def opened_ballots(round_: Round) -> list[dict[str, Any]]:
    """Every ballot of an open round, opened as the close step opens them: with the round's private key
    from the round key store."""
    round_.refresh_from_db()
    private_key = round_key_store().get(round_.pk)
    assert private_key is not None, "the round's key is not in the store"
    return [
        open_ballot(private_key, size=round_.ballot_size, sealed=bytes(sealed))
        for sealed in SealedBallot.objects.filter(round=round_).values_list("ciphertext", flat=True)
    ]
