"""The cadence at work: rounds open on time in each team's zone, exactly once, with the right roster."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from surveys.models import Instrument, Invitation, Membership, OutgoingEmail, Round, Schedule
from surveys.services.emails import emails_send_due
from surveys.services.rounds import rounds_open_due, schedule_refresh
from surveys.services.tick import tick_run
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def make_team(zone: str, members: int = 6, **team_kwargs: object):  # type: ignore[no-untyped-def]
    organisation = OrganisationFactory(time_zone=zone)
    team = TeamFactory(organisation=organisation, time_zone=zone, **team_kwargs)
    people = [PersonFactory(organisation=organisation) for _ in range(members)]
    for person in people:
        MembershipFactory(person=person, team=team, starts_on=dt.date(2025, 1, 1))
    return organisation, team, people


def make_schedule(
    team, *, local_time: dt.time, weekday: int, starts_on: dt.date, **kwargs: object
) -> Schedule:  # type: ignore[no-untyped-def]
    schedule = Schedule.objects.create(
        organisation=team.organisation,
        team=team,
        name=f"Weekly {team.name}",
        weekday=weekday,
        local_time=local_time,
        starts_on=starts_on,
        **kwargs,
    )
    schedule.instruments.set(Instrument.objects.filter(key__in=["burnout1", "workload1"]))
    return schedule


def tick_every(start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> None:
    moment = start
    while moment <= end:
        with time_machine.travel(moment, tick=False):
            rounds_open_due()
        moment += step


def test_a_round_opens_at_the_local_time_with_its_roster_and_emails() -> None:
    _org, team, people = make_team("Europe/Berlin")
    schedule = make_schedule(team, local_time=dt.time(10, 0), weekday=0, starts_on=dt.date(2026, 11, 1))
    with time_machine.travel(dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False):
        schedule_refresh(schedule=schedule)
    # Monday 30 November, 10:00 in Berlin is 09:00 UTC.
    assert schedule.next_opening_at == dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with time_machine.travel(dt.datetime(2026, 11, 30, 8, 59, tzinfo=UTC), tick=False):
        assert rounds_open_due() == 0
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 0, 30, tzinfo=UTC), tick=False):
        assert rounds_open_due() == 1
        assert rounds_open_due() == 0
    round_ = Round.objects.get(schedule=schedule)
    assert round_.opens_at == dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    # Three days later at the same local time.
    assert round_.closes_at == dt.datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert set(Invitation.objects.filter(round=round_).values_list("person_id", flat=True)) == {
        p.pk for p in people
    }
    assert OutgoingEmail.objects.filter(invitation__round=round_, kind="invitation").count() == 6
    # Reminder 24 h before close: Wednesday 10:00 local.
    reminders = OutgoingEmail.objects.filter(invitation__round=round_, kind="reminder")
    assert {email.due_at for email in reminders} == {dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC)}
    schedule.refresh_from_db()
    assert schedule.next_opening_at == dt.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    # The instruments asked are frozen and locked against edits from now on.
    assert set(round_.instruments.values_list("key", flat=True)) == {"burnout1", "workload1"}


def test_only_current_active_members_are_invited_and_leaders_are_not() -> None:
    organisation, team, people = make_team("Europe/Berlin", members=3)
    leader = PersonFactory(organisation=organisation)
    MembershipFactory(person=leader, team=team, role=Membership.Role.LEADER, starts_on=dt.date(2025, 1, 1))
    inactive = PersonFactory(organisation=organisation, is_active=False)
    MembershipFactory(person=inactive, team=team, starts_on=dt.date(2025, 1, 1))
    former = PersonFactory(organisation=organisation)
    MembershipFactory(person=former, team=team, starts_on=dt.date(2025, 1, 1), ends_on=dt.date(2026, 6, 1))
    schedule = make_schedule(team, local_time=dt.time(10, 0), weekday=0, starts_on=dt.date(2026, 11, 1))
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 1, tzinfo=UTC), tick=False):
        schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
        rounds_open_due()
    invited = set(Invitation.objects.values_list("person_id", flat=True))
    assert invited == {p.pk for p in people}


def test_joiner_waits_for_the_next_round_leaver_keeps_the_invitation_deactivated_gets_nothing() -> None:
    organisation, team, people = make_team("Europe/Berlin", members=3)
    schedule = make_schedule(team, local_time=dt.time(10, 0), weekday=0, starts_on=dt.date(2026, 11, 1))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 1, tzinfo=UTC), tick=False):
        rounds_open_due()
    first = Round.objects.get()
    joiner = PersonFactory(organisation=organisation)
    MembershipFactory(person=joiner, team=team, starts_on=dt.date(2026, 11, 30))
    leaver_membership = Membership.objects.get(person=people[0])
    leaver_membership.ends_on = dt.date(2026, 12, 1)
    leaver_membership.save()
    people[1].is_active = False
    people[1].save()
    assert not Invitation.objects.filter(round=first, person=joiner).exists()
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 2, tzinfo=UTC), tick=False):
        assert emails_send_due() == 2  # the leaver still gets theirs; the deactivated person does not
    assert sorted(message.to[0] for message in mail.outbox) == sorted([people[0].email, people[2].email])
    with time_machine.travel(dt.datetime(2026, 12, 7, 9, 1, tzinfo=UTC), tick=False):
        rounds_open_due()
    second = Round.objects.exclude(pk=first.pk).get()
    assert set(Invitation.objects.filter(round=second).values_list("person_id", flat=True)) == {
        people[2].pk,
        joiner.pk,
    }


# Local opening time on each DST change day, and the instant it must open (see surveys/cadence.py: a time in
# the spring gap moves forward by the gap; a repeated autumn time means its first occurrence).
DST_CASES = [
    (
        "Europe/Berlin",
        dt.date(2026, 3, 29),
        dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    ),  # 02:30 CET -> 03:30 CEST
    (
        "Europe/Berlin",
        dt.date(2026, 10, 25),
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    ),  # first 02:30 (CEST)
    (
        "America/New_York",
        dt.date(2026, 3, 8),
        dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
    ),  # 02:30 EST -> 03:30 EDT
    (
        "America/New_York",
        dt.date(2026, 11, 1),
        dt.datetime(2026, 11, 1, 7, 30, tzinfo=UTC),
    ),  # 02:30 EST, no repeat
    (
        "Australia/Sydney",
        dt.date(2026, 4, 5),
        dt.datetime(2026, 4, 4, 15, 30, tzinfo=UTC),
    ),  # first 02:30 (AEDT)
    (
        "Australia/Sydney",
        dt.date(2026, 10, 4),
        dt.datetime(2026, 10, 3, 16, 30, tzinfo=UTC),
    ),  # 02:30 AEST -> 03:30 AEDT
    ("Asia/Kolkata", dt.date(2026, 3, 29), dt.datetime(2026, 3, 28, 21, 0, tzinfo=UTC)),  # +05:30, no DST
]


@pytest.mark.parametrize(("zone", "day", "expected"), DST_CASES)
def test_a_0230_schedule_opens_exactly_once_on_a_dst_change_day(
    zone: str, day: dt.date, expected: dt.datetime
) -> None:
    _org, team, _people = make_team(zone, members=5)
    schedule = make_schedule(team, local_time=dt.time(2, 30), weekday=day.weekday(), starts_on=day)
    schedule_refresh(
        schedule=schedule, now=dt.datetime.combine(day, dt.time(0), ZoneInfo(zone)) - dt.timedelta(days=1)
    )
    # Tick every 10 minutes through the whole local day (including the repeated or missing hour).
    local_midnight = dt.datetime.combine(day, dt.time(0), ZoneInfo(zone)).astimezone(UTC)
    tick_every(
        local_midnight - dt.timedelta(hours=2),
        local_midnight + dt.timedelta(hours=26),
        dt.timedelta(minutes=10),
    )
    rounds = list(Round.objects.filter(schedule=schedule))
    assert [round_.opens_at for round_ in rounds] == [expected]


def test_a_weekly_0900_schedule_keeps_local_time_across_the_change() -> None:
    _org, team, _people = make_team("Europe/Berlin", members=5)
    schedule = make_schedule(team, local_time=dt.time(9, 0), weekday=0, starts_on=dt.date(2026, 3, 16))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 3, 15, tzinfo=UTC))
    for week in range(3):
        monday = dt.date(2026, 3, 16) + dt.timedelta(weeks=week)
        with time_machine.travel(dt.datetime.combine(monday, dt.time(12), UTC), tick=False):
            rounds_open_due()
    opens = [
        round_.opens_at.astimezone(ZoneInfo("Europe/Berlin")).time()
        for round_ in Round.objects.order_by("opens_at")
    ]
    assert opens == [dt.time(9, 0)] * 3
    utc_hours = [round_.opens_at.hour for round_ in Round.objects.order_by("opens_at")]
    assert utc_hours == [8, 8, 7]  # CET, CET, then CEST after 29 March


def test_a_window_missed_entirely_is_skipped_not_opened_late() -> None:
    _org, team, _people = make_team("Europe/Berlin", members=5)
    schedule = make_schedule(team, local_time=dt.time(10, 0), weekday=0, starts_on=dt.date(2026, 11, 1))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    # Pulse was down from Monday to Friday: the Monday round (closing Thursday) is skipped.
    with time_machine.travel(dt.datetime(2026, 12, 4, 12, 0, tzinfo=UTC), tick=False):
        assert rounds_open_due() == 0
    assert not Round.objects.exists()
    schedule.refresh_from_db()
    assert schedule.next_opening_at == dt.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_emails_wait_for_the_recipients_quiet_hours() -> None:
    _organisation, team, people = make_team("Europe/Berlin", members=2)
    night_owl = people[0]
    night_owl.time_zone = "America/Los_Angeles"
    night_owl.save()
    schedule = make_schedule(team, local_time=dt.time(10, 0), weekday=0, starts_on=dt.date(2026, 11, 1))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC), tick=False):
        rounds_open_due()
    due = dict(OutgoingEmail.objects.filter(kind="invitation").values_list("invitation__person_id", "due_at"))
    # 09:00 UTC is 01:00 in Los Angeles: the invitation waits until 08:00 local (16:00 UTC).
    assert due[night_owl.pk] == dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert due[people[1].pk] == dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_editing_a_schedule_never_changes_a_round_already_open() -> None:
    _org, team, _people = make_team("Europe/Berlin", members=5)
    schedule = make_schedule(team, local_time=dt.time(10, 0), weekday=0, starts_on=dt.date(2026, 11, 1))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 1, tzinfo=UTC), tick=False):
        rounds_open_due()
        schedule.open_for = dt.timedelta(days=1)
        schedule.instruments.set(Instrument.objects.filter(key="workload1"))
        schedule.save()
        schedule_refresh(schedule=schedule)
    round_ = Round.objects.get()
    assert round_.closes_at == dt.datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert set(round_.instruments.values_list("key", flat=True)) == {"burnout1", "workload1"}


def test_the_tick_opens_sends_and_closes_and_is_harmless_twice() -> None:
    _org, team, _people = make_team("Europe/Berlin", members=5)
    schedule = make_schedule(team, local_time=dt.time(10, 0), weekday=0, starts_on=dt.date(2026, 11, 1))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC), tick=False):
        tick_run()
        tick_run()
    assert Round.objects.count() == 1
    assert len(mail.outbox) == 5
    with time_machine.travel(dt.datetime(2026, 12, 2, 9, 0, 5, tzinfo=UTC), tick=False):
        tick_run()
        tick_run()
    assert len(mail.outbox) == 10  # one reminder each: nobody answered
    assert all("Reminder" in message.subject for message in mail.outbox[5:])
    with time_machine.travel(dt.datetime(2026, 12, 3, 9, 0, 5, tzinfo=UTC), tick=False):
        tick_run()
    assert Round.objects.get().status == Round.Status.CLOSED
    assert OutgoingEmail.objects.filter(status=OutgoingEmail.Status.PENDING).count() == 0
