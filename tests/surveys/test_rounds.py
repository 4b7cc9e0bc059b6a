"""The cadence at work: rounds open on time in each team's zone, exactly once, with the right roster."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from surveys.models import Instrument, Invitation, Membership, Organisation, Person, Round, Schedule, Team
from surveys.services.emails import emails_send_due
from surveys.services.rounds import rounds_open_due, schedule_refresh
from surveys.services.tick import tick_run
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def make_team(zone: str, members: int = 6, **team_kwargs: object) -> tuple[Organisation, Team, list[Person]]:
    organisation = OrganisationFactory(time_zone=zone)
    team = TeamFactory(organisation=organisation, time_zone=zone, **team_kwargs)
    people = [PersonFactory(organisation=organisation) for _ in range(members)]
    for person in people:
        MembershipFactory(person=person, team=team, starts_on=dt.date(2025, 1, 1))
    return organisation, team, people


def make_schedule(
    team: Team, *, local_time: dt.time, weekday: int, starts_on: dt.date, **kwargs: object
) -> Schedule:
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
    # Each invitation carries its emails: the invitation now, one reminder 24 h before close (Wednesday
    # 10:00 local), no second reminder; the invitation is due next and none is handled yet.
    emails = set(
        Invitation.objects.filter(round=round_).values_list(
            "invitation_due_at", "reminder_1_due_at", "reminder_2_due_at", "email_due_at", "emails_handled"
        )
    )
    opens = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert emails == {(opens, dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC), None, opens, 0)}
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
    outcomes = dict(Invitation.objects.filter(round=first).values_list("person_id", "email_outcomes"))
    assert outcomes == {people[0].pk: "s", people[1].pk: "k", people[2].pk: "s"}
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
    due = {
        person_id: (invitation, email)
        for person_id, invitation, email in Invitation.objects.values_list(
            "person_id", "invitation_due_at", "email_due_at"
        )
    }
    # 09:00 UTC is 01:00 in Los Angeles: the invitation waits until 08:00 local (16:00 UTC).
    assert due[night_owl.pk] == (dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC),) * 2
    assert due[people[1].pk] == (dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC),) * 2


def test_editing_a_schedule_never_changes_a_round_already_open() -> None:
    _org, team, _people = make_team("Europe/Berlin", members=5)
    schedule = make_schedule(team, local_time=dt.time(10, 0), weekday=0, starts_on=dt.date(2026, 11, 1))
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 1, tzinfo=UTC), tick=False):
        rounds_open_due()
        schedule.open_for = dt.timedelta(days=1)
        schedule.reminder_1 = dt.timedelta(hours=2)
        schedule.reminder_2 = dt.timedelta(hours=12)
        schedule.quiet_start = dt.time(7, 0)
        schedule.instruments.set(Instrument.objects.filter(key="workload1"))
        schedule.save()
        schedule_refresh(schedule=schedule)
    round_ = Round.objects.get()
    assert round_.closes_at == dt.datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert set(round_.instruments.values_list("key", flat=True)) == {"burnout1", "workload1"}
    # The emails' due times were frozen at open: the new reminders and quiet hours do not reach them.
    assert set(
        Invitation.objects.values_list("invitation_due_at", "reminder_1_due_at", "reminder_2_due_at")
    ) == {(dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC), dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC), None)}


def test_reminders_are_sent_in_the_order_they_fall_due_and_one_pushed_past_the_close_is_dropped() -> None:
    _org, team, people = make_team("Europe/Berlin", members=2)
    night_owl = people[0]
    night_owl.time_zone = "America/Los_Angeles"
    night_owl.save()
    # Opens Monday 10:00 Berlin, closes Thursday 10:00 Berlin (09:00 UTC). The second reminder is set
    # further before the close than the first, so it falls due first.
    schedule = make_schedule(
        team,
        local_time=dt.time(10, 0),
        weekday=0,
        starts_on=dt.date(2026, 11, 1),
        reminder_1=dt.timedelta(hours=3),
        reminder_2=dt.timedelta(hours=48),
    )
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 11, 29, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC), tick=False):
        rounds_open_due()
    due = {
        person_id: rest
        for person_id, *rest in Invitation.objects.values_list(
            "person_id", "invitation_due_at", "reminder_1_due_at", "reminder_2_due_at"
        )
    }
    assert due[people[1].pk] == [
        dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC),  # 48 h before the close
        dt.datetime(2026, 12, 3, 7, 0, tzinfo=UTC),  # 3 h before the close is 07:00 Berlin: waits until 08:00
    ]
    # In Los Angeles 3 h before the close is 22:00, quiet until 08:00 (16:00 UTC): after the close, dropped.
    # 48 h before it is 01:00 Tuesday, deferred to 08:00 Tuesday.
    assert due[night_owl.pk] == [
        dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
        None,
    ]
    # Each message in turn: the row moves on to the next one's due time once one is sent.
    for moment, sent, outcomes in [
        (dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC), 2, {"s"}),
        (dt.datetime(2026, 12, 1, 16, 0, tzinfo=UTC), 2, {"ss"}),
        (dt.datetime(2026, 12, 3, 7, 0, tzinfo=UTC), 1, {"ss", "sss"}),
        (dt.datetime(2026, 12, 3, 8, 0, tzinfo=UTC), 0, {"ss", "sss"}),
    ]:
        with time_machine.travel(moment, tick=False):
            assert emails_send_due() == sent
            assert emails_send_due() == 0
        assert set(Invitation.objects.values_list("email_outcomes", flat=True)) == outcomes
    assert not Invitation.objects.exclude(email_due_at=None).exists()
    assert [message.to[0] for message in mail.outbox].count(night_owl.email) == 2
    assert [message.to[0] for message in mail.outbox].count(people[1].email) == 3
    assert sum("Reminder" in message.subject for message in mail.outbox) == 3


def test_a_reminder_days_before_close_keeps_the_teams_wall_clock_across_a_dst_change() -> None:
    _org, team, people = make_team("Europe/Berlin", members=2)
    # Opens Tuesday 24 March 2026 09:00 CET, closes Tuesday 31 March 09:00 CEST: Berlin springs forward on
    # Sunday 29 March, so the window is 167 hours. Weekend mail is allowed here, to see the reminder itself.
    schedule = make_schedule(
        team,
        local_time=dt.time(9, 0),
        weekday=1,
        starts_on=dt.date(2026, 3, 1),
        open_for=dt.timedelta(days=7),
        reminder_1=dt.timedelta(days=3),
        quiet_weekends=False,
    )
    schedule_refresh(schedule=schedule, now=dt.datetime(2026, 3, 23, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 3, 24, 8, 0, tzinfo=UTC), tick=False):
        assert rounds_open_due() == 1
    round_ = Round.objects.get()
    assert round_.closes_at == dt.datetime(2026, 3, 31, 7, 0, tzinfo=UTC)
    # Three calendar days before the close is Saturday 28 March at 09:00 on Berlin's clock (08:00 UTC),
    # not 72 hours before it (07:00 UTC, 08:00 in Berlin).
    assert set(
        Invitation.objects.values_list("invitation_due_at", "reminder_1_due_at", "reminder_2_due_at")
    ) == {(dt.datetime(2026, 3, 24, 8, 0, tzinfo=UTC), dt.datetime(2026, 3, 28, 8, 0, tzinfo=UTC), None)}
    assert Invitation.objects.count() == len(people)


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
    # Both messages of every invitation were sent, and nothing is left to send.
    assert list(Invitation.objects.values_list("email_outcomes", "email_due_at")) == [("ss", None)] * 5
