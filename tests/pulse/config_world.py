"""Two organisations with every role, for the API, web admin and role-matrix tests.

Organisation A: Engineering > Platform > SRE, and Engineering > Data. The admin administers A; the leader
leads Platform (so sees Platform and SRE, not Data or Engineering); the engineer is a member of SRE; a user
with no person has no role. Organisation B has its own admin, team, person, schedule and custom instrument,
whose ids are tried by A's callers (and the other way round) to check they are not found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import User

from pulse.services.api_tokens import api_token_create
from surveys.models import Instrument, Membership, Organisation, Person, Schedule, Team
from surveys.services.schedules import schedule_save
from tests.factories import OrganisationFactory, PersonFactory, TeamFactory

START = dt.date(2026, 1, 5)


@dataclass
class Org:
    organisation: Organisation
    root: Team
    platform: Team
    sre: Team
    data: Team
    admin: Person
    leader: Person
    engineer: Person
    membership: Membership
    schedule: Schedule
    instrument: Instrument


@dataclass
class World:
    a: Org
    b: Org
    nobody: User  # signed in, linked to no person
    tokens: dict[str, str] = field(default_factory=dict)  # one API token per role, made when first asked

    def user(self, role: str) -> User | None:
        """The user for a role name of the role matrix."""
        if role == "anonymous":
            return None
        if role == "no_person":
            return self.nobody
        if role == "other_admin":
            return self.b.admin.user
        person: Person = getattr(self.a, role)
        return person.user

    def signed_in(self, role: str) -> User:
        """The user for a role that signs in (every role but "anonymous")."""
        user = self.user(role)
        assert user is not None, role
        return user

    def token(self, role: str) -> str:
        user = self.user(role)
        assert user is not None
        if role not in self.tokens:
            self.tokens[role] = api_token_create(user=user, name=f"tests: {role}")[1]
        return self.tokens[role]


def _user(username: str) -> User:
    # No password: hashing one costs a third of a second, and these users sign in with force_login or a token.
    user = User(username=username, email=username)
    user.set_unusable_password()
    user.save()
    return user


def _person(organisation: Organisation, email: str, *, is_admin: bool = False) -> Person:
    return PersonFactory(
        organisation=organisation, email=email, display_name=email.split("@")[0].title(), is_admin=is_admin,
        user=_user(email),
    )  # fmt: skip


def custom_instrument(organisation: Organisation, key: str) -> Instrument:
    from surveys.definitions import InstrumentDef, OptionDef, QuestionDef
    from surveys.services.instruments import instrument_create

    definition = InstrumentDef(
        key=key,
        version=1,
        name=f"Team mood {key}",
        citation="",
        licence="ours",
        recall_period_days=7,
        validated=False,
        questions=(
            QuestionDef(
                key=f"{key}_1",
                order=1,
                text={"en": "How was the week?"},
                options=(OptionDef(1, {"en": "Bad"}), OptionDef(2, {"en": "Good"})),
            ),
        ),
    )
    return instrument_create(definition=definition, organisation=organisation)


def build_org(name: str, suffix: str) -> Org:
    organisation = OrganisationFactory(name=name, time_zone="Europe/Berlin")
    root = TeamFactory(organisation=organisation, name=f"Engineering {suffix}", slug=f"engineering-{suffix}")
    platform = TeamFactory(
        organisation=organisation, name=f"Platform {suffix}", slug=f"platform-{suffix}", parent=root
    )
    sre = TeamFactory(organisation=organisation, name=f"SRE {suffix}", slug=f"sre-{suffix}", parent=platform)
    data = TeamFactory(organisation=organisation, name=f"Data {suffix}", slug=f"data-{suffix}", parent=root)
    admin = _person(organisation, f"admin@{suffix}.example", is_admin=True)
    leader = _person(organisation, f"leader@{suffix}.example")
    engineer = _person(organisation, f"engineer@{suffix}.example")
    Membership.objects.create(person=leader, team=platform, role=Membership.Role.LEADER, starts_on=START)
    membership = Membership.objects.create(person=engineer, team=sre, starts_on=START)
    schedule = schedule_save(
        schedule=Schedule(
            organisation=organisation, team=root, name=f"Fortnightly {suffix}", every_n_weeks=2,
            starts_on=dt.date(2026, 1, 5),
        ),
        instruments=[Instrument.objects.get(key="who5", version=1)],
    )  # fmt: skip
    instrument = custom_instrument(organisation, f"mood_{suffix}")
    return Org(
        organisation, root, platform, sre, data, admin, leader, engineer, membership, schedule, instrument
    )


def build_world() -> World:
    return World(
        a=build_org("Org A", "a"),
        b=build_org("Org B", "b"),
        nobody=_user("nobody@example.org"),
    )
