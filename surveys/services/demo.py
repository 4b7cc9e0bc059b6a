"""The demo organisation: Acme's engineering department, in three time zones.

Deterministic (no randomness), so screenshots and docs stay stable, and idempotent: it creates the
organisation only if it does not exist yet. Later parts of Pulse extend it with schedules and history.

Acme has no Slack workspace connected: connecting needs a real Slack app's token, checked with Slack, and
a stand-in would send direct messages nobody receives. Everyone is asked by email, the admin's page
``/manage/slack/`` shows how to make the app and connect it, and the people's own pages offer the choice
of Slack once a workspace is connected (docs/operations.md §16).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from surveys.models import Instrument, Membership, Organisation, Person, Schedule, Team
from surveys.services.rounds import schedule_refresh
from surveys.services.schedules import schedule_save

DEMO_ORGANISATION = "Acme"
DEMO_PASSWORD = "pulse-demo"  # noqa: S105 - a published demo password, refused in production
DEMO_ADMIN_EMAIL = "admin@acme.example"
DEMO_LEADER_EMAIL = "lena.platform@acme.example"
# Erik Engel heads Engineering, the top team: his roll-up shows every team of the demo side by side.
DEMO_HEAD_EMAIL = "erik.engel@acme.example"
DEMO_START = dt.date(2026, 1, 5)

# (slug, name, parent slug, time zone, leader's name, number of members)
TEAMS = [
    ("engineering", "Engineering", None, "Europe/Berlin", "Erik Engel", 0),
    ("platform", "Platform", "engineering", "Europe/Berlin", "Lena Platform", 6),
    ("sre-europe", "SRE Europe", "platform", "Europe/Berlin", "Jonas Weber", 8),
    ("sre-americas", "SRE Americas", "platform", "America/New_York", "Maya Brooks", 8),
    ("product", "Product Engineering", "engineering", "America/New_York", "Sam Carter", 0),
    ("payments", "Payments", "product", "America/New_York", "Olivia Chen", 10),
    ("mobile", "Mobile", "product", "Asia/Kolkata", "Arjun Mehta", 9),
    ("data", "Data", "engineering", "Asia/Kolkata", "Priya Nair", 12),
]
FIRST_NAMES = [
    "Alex", "Bea", "Chris", "Dana", "Eli", "Farah", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lea",
    "Mo", "Nia", "Omar", "Pia", "Quinn", "Ravi", "Sara", "Tom", "Uma", "Vic", "Wen", "Yara", "Zoe",
]  # fmt: skip
LAST_NAMES = ["Adams", "Berg", "Costa", "Diaz", "Ek", "Fischer", "Gupta", "Haddad", "Ito", "Jones", "Khan"]
LOCALE_BY_ZONE = {"Europe/Berlin": "de", "America/New_York": "en", "Asia/Kolkata": "en"}


def _email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@acme.example"


def demo_create() -> bool:
    """Create Acme with its teams, people, leaders and admin. Returns False when it already exists."""
    if Organisation.objects.filter(name=DEMO_ORGANISATION).exists():
        return False
    User = get_user_model()
    with transaction.atomic():
        acme = Organisation.objects.create(name=DEMO_ORGANISATION, time_zone="Europe/Berlin", locale="en")
        teams: dict[str, Team] = {}
        counter = 0
        for slug, name, parent, zone, leader_name, members in TEAMS:
            team = Team.objects.create(
                organisation=acme, name=name, slug=slug, parent=teams.get(parent or ""), time_zone=zone
            )
            teams[slug] = team
            leader_email = DEMO_LEADER_EMAIL if leader_name == "Lena Platform" else _email(leader_name)
            leader_user = User.objects.create_user(
                username=leader_email, email=leader_email, password=DEMO_PASSWORD
            )
            leader = Person.objects.create(
                organisation=acme,
                email=leader_email,
                display_name=leader_name,
                locale=LOCALE_BY_ZONE[zone],
                user=leader_user,
            )
            Membership.objects.create(
                person=leader, team=team, role=Membership.Role.LEADER, starts_on=DEMO_START
            )
            for _ in range(members):
                full_name = (
                    f"{FIRST_NAMES[counter % len(FIRST_NAMES)]} {LAST_NAMES[counter % len(LAST_NAMES)]}"
                )
                counter += 1
                person = Person.objects.create(
                    organisation=acme,
                    email=_email(f"{full_name} {counter}"),
                    display_name=full_name,
                    locale=LOCALE_BY_ZONE[zone],
                )
                Membership.objects.create(person=person, team=team, starts_on=DEMO_START)
        admin_user = User.objects.create_user(
            username=DEMO_ADMIN_EMAIL,
            email=DEMO_ADMIN_EMAIL,
            password=DEMO_PASSWORD,
            is_staff=True,
            is_superuser=True,
        )
        Person.objects.create(
            organisation=acme,
            email=DEMO_ADMIN_EMAIL,
            display_name="Ada Admin",
            is_admin=True,
            user=admin_user,
        )
        demo_schedules_create(acme, teams)
    return True


# (team slug, name, instrument keys, every N weeks, weekday, local time): one schedule per time zone.
SCHEDULES = [
    ("platform", "Platform weekly check-in", ["burnout1", "workload1", "comment"], 1, 0, dt.time(10, 0)),
    ("product", "Product weekly check-in", ["burnout1", "workload1", "copsoq_demands"], 1, 1, dt.time(10, 0)),
    ("data", "Data fortnightly wellbeing", ["who5", "workload1", "comment"], 2, 2, dt.time(11, 0)),
]


def demo_schedules_create(acme: Organisation, teams: dict[str, Team]) -> list[Schedule]:
    """Schedules in Berlin, New York and Kolkata. Each is set so that a round whose window is still open
    this week opens at the next tick, so `make run` shows rounds, emails and reminders at once."""
    now = timezone.now()
    schedules = []
    for slug, name, keys, every, weekday, local_time in SCHEDULES:
        schedule = Schedule(
            organisation=acme,
            team=teams[slug],
            name=name,
            every_n_weeks=every,
            weekday=weekday,
            local_time=local_time,
            starts_on=(now - dt.timedelta(days=14)).date(),
        )
        instruments = list(Instrument.objects.filter(key__in=keys, is_default_library=True))
        schedule_save(schedule=schedule, instruments=instruments)
        schedule_refresh(schedule=schedule, now=now - schedule.open_for)
        schedules.append(schedule)
    return schedules
