"""An email that becomes sendable late (a backlog, an outage, a retry) still waits out the recipient's quiet
hours: checked at send time, in the recipient's zone, its due time moved (not dropped), on real SMTP-less
sends through Django's locmem backend and the real sender."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from surveys import cadence
from surveys.models import DeliveryCount, Instrument, Invitation, Schedule
from surveys.services.emails import emails_send_due
from surveys.services.resend import checkin_links_resend
from surveys.services.rounds import rounds_open_due, schedule_refresh
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory, TeamFactory

UTC = dt.UTC
BERLIN = "Europe/Berlin"
LOCMEM = override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def open_round(
    *,
    opens_at: dt.datetime,
    weekday: int,
    members: int = 1,
    person_zone: str = "",
    team_zone: str = BERLIN,
    open_for: dt.timedelta = dt.timedelta(days=3),
    reminder_1: dt.timedelta | None = None,
    quiet_weekends: bool = True,
) -> list[Invitation]:
    """A Berlin schedule whose round opens at ``opens_at`` (10:00 Berlin), opened at that moment."""
    organisation = OrganisationFactory(time_zone=BERLIN)
    team = TeamFactory(organisation=organisation, time_zone=team_zone)
    for _ in range(members):
        person = PersonFactory(organisation=organisation, time_zone=person_zone)
        MembershipFactory(person=person, team=team, starts_on=dt.date(2025, 1, 1))
    schedule = Schedule.objects.create(
        organisation=organisation,
        team=team,
        name="Weekly",
        weekday=weekday,
        local_time=dt.time(10, 0),
        time_zone=BERLIN,
        starts_on=dt.date(2026, 1, 1),
        open_for=open_for,
        reminder_1=reminder_1,
        quiet_weekends=quiet_weekends,
    )
    schedule.instruments.set(Instrument.objects.filter(key="workload1"))
    schedule_refresh(schedule=schedule, now=opens_at - dt.timedelta(days=1))
    assert schedule.next_opening_at == opens_at
    with time_machine.travel(opens_at + dt.timedelta(seconds=30), tick=False):
        rounds_open_due()
    return list(Invitation.objects.filter(round__schedule=schedule).order_by("pk"))


def send_at(moment: dt.datetime) -> int:
    with LOCMEM, time_machine.travel(moment, tick=False):
        return emails_send_due()


def deferred_count() -> int:
    row = DeliveryCount.objects.filter(transport="checkin_email", outcome="deferred").first()
    return row.count if row else 0


@pytest.mark.django_db
def test_an_invitation_reached_at_20_18_in_berlin_waits_until_8_the_next_morning() -> None:
    # Monday 30 November 2026, 10:00 Berlin (CET, UTC+1); the tick was down until 20:18 local.
    (invitation,) = open_round(opens_at=utc(2026, 11, 30, 9), weekday=0)
    assert invitation.invitation_due_at == utc(2026, 11, 30, 9)
    mail.outbox.clear()
    assert send_at(utc(2026, 11, 30, 19, 18)) == 0
    assert mail.outbox == []
    invitation.refresh_from_db()
    tuesday_8 = utc(2026, 12, 1, 7)
    assert (invitation.email_due_at, invitation.invitation_due_at) == (tuesday_8, tuesday_8)
    assert (invitation.emails_handled, invitation.email_outcomes, invitation.email_claim) == (0, "", None)
    assert deferred_count() == 1
    # Still quiet at 07:59 local; sent at 08:00.
    assert send_at(utc(2026, 12, 1, 6, 59)) == 0
    assert send_at(utc(2026, 12, 1, 7, 0, 30)) == 1
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert (invitation.email_outcomes, invitation.email_due_at) == ("s", None)


@pytest.mark.django_db
def test_a_reminder_the_deferred_invitation_would_run_into_is_dropped() -> None:
    # Opens Monday 10:00, closes Thursday 10:00, reminder Wednesday 10:00 (1 day before close). The mail
    # server was down until Wednesday 21:00: the invitation waits for Thursday 08:00, and a reminder due
    # before it would follow it at once, so it is not sent.
    (invitation,) = open_round(opens_at=utc(2026, 11, 30, 9), weekday=0, reminder_1=dt.timedelta(days=1))
    assert invitation.reminder_1_due_at == utc(2026, 12, 2, 9)
    mail.outbox.clear()
    assert send_at(utc(2026, 12, 2, 20)) == 0
    moved = Invitation.objects.get(pk=invitation.pk)
    thursday_8 = utc(2026, 12, 3, 7)
    assert (moved.invitation_due_at, moved.reminder_1_due_at) == (thursday_8, None)
    assert moved.email_due_at == thursday_8
    assert send_at(thursday_8) == 1
    assert send_at(utc(2026, 12, 3, 9, 30)) == 0
    done = Invitation.objects.get(pk=invitation.pk)
    assert (done.email_outcomes, done.email_due_at, len(mail.outbox)) == ("s", None, 1)


@pytest.mark.django_db
def test_a_reminder_after_the_release_keeps_its_time() -> None:
    # Reached Monday 21:00: the invitation waits for Tuesday 08:00, the Wednesday reminder stays.
    (invitation,) = open_round(opens_at=utc(2026, 11, 30, 9), weekday=0, reminder_1=dt.timedelta(days=1))
    assert send_at(utc(2026, 11, 30, 20)) == 0
    invitation.refresh_from_db()
    assert (invitation.invitation_due_at, invitation.reminder_1_due_at) == (
        utc(2026, 12, 1, 7),
        utc(2026, 12, 2, 9),
    )


@pytest.mark.django_db
def test_quiet_until_after_the_close_means_not_sent() -> None:
    # Open for 11 hours: closes Monday 21:00 Berlin. Reached at 20:30, the next allowed time (Tuesday 08:00)
    # is after the close: skipped, never sent inside quiet hours.
    (invitation,) = open_round(opens_at=utc(2026, 11, 30, 9), weekday=0, open_for=dt.timedelta(hours=11))
    mail.outbox.clear()
    assert send_at(utc(2026, 11, 30, 19, 30)) == 0
    invitation.refresh_from_db()
    assert (invitation.email_outcomes, invitation.email_due_at, mail.outbox) == ("k", None, [])


@pytest.mark.django_db
def test_the_release_is_8_local_across_the_spring_forward_night() -> None:
    # Saturday 28 March 2026, weekends not quiet; reached at 21:30 CET. Clocks jump at 02:00: Sunday 08:00
    # is CEST (UTC+2), 06:00 UTC, not 07:00.
    (invitation,) = open_round(opens_at=utc(2026, 3, 28, 9), weekday=5, quiet_weekends=False)
    assert send_at(utc(2026, 3, 28, 20, 30)) == 0
    invitation.refresh_from_db()
    assert invitation.email_due_at == utc(2026, 3, 29, 6)
    assert send_at(utc(2026, 3, 29, 5, 59)) == 0
    assert send_at(utc(2026, 3, 29, 6)) == 1


@pytest.mark.django_db
def test_the_recipients_own_zone_decides_across_the_fall_back_night() -> None:
    # A New York member of a Berlin team's round. Reached at 03:00 UTC on Sunday 1 November 2026 (Saturday
    # 23:00 EDT); New York falls back at 02:00 that night, so 08:00 EST is 13:00 UTC. In Berlin (already
    # CET) it would have been 07:00 UTC.
    (invitation,) = open_round(
        opens_at=utc(2026, 10, 31, 9), weekday=5, person_zone="America/New_York", quiet_weekends=False
    )
    # Frozen at open for the recipient: Saturday 10:00 Berlin is 05:00 EDT, so 08:00 EDT.
    assert invitation.invitation_due_at == utc(2026, 10, 31, 12)
    assert send_at(utc(2026, 11, 1, 3)) == 0
    invitation.refresh_from_db()
    assert invitation.email_due_at == utc(2026, 11, 1, 13)


@pytest.mark.django_db
def test_a_member_without_a_zone_gets_the_teams_and_the_batch_costs_the_same_for_more_people() -> None:
    # Team in New York, people without a zone of their own, organisation in Berlin: the team's zone counts.
    # Monday 30 November 10:00 Berlin is 04:00 in New York: due at 08:00 EST (13:00 UTC); reached at
    # 01:30 UTC on Tuesday (20:30 EST), they wait for Tuesday 08:00 EST.
    DeliveryCount.objects.create(transport="checkin_email", outcome="deferred")  # counted from the start
    few = open_round(opens_at=utc(2026, 11, 30, 9), weekday=0, members=2, team_zone="America/New_York")
    assert {row.invitation_due_at for row in few} == {utc(2026, 11, 30, 13)}
    with (
        LOCMEM,
        time_machine.travel(utc(2026, 12, 1, 1, 30), tick=False),
        CaptureQueriesContext(connection) as small,
    ):
        assert emails_send_due() == 0
    assert {row.email_due_at for row in Invitation.objects.all()} == {utc(2026, 12, 1, 13)}
    Invitation.objects.update(email_due_at=None)  # out of the way
    more = open_round(opens_at=utc(2026, 12, 7, 9), weekday=0, members=12, team_zone="America/New_York")
    with (
        LOCMEM,
        time_machine.travel(utc(2026, 12, 8, 1, 30), tick=False),
        CaptureQueriesContext(connection) as large,
    ):
        assert emails_send_due() == 0
    # The first schedule's next round (2 people) is due too: 14 rows in the batch against 2.
    assert len(more) == 12
    assert Invitation.objects.filter(email_due_at=utc(2026, 12, 8, 13)).count() == 14
    assert len(large) == len(small)
    assert deferred_count() == 16


@pytest.mark.django_db
def test_a_link_the_person_asks_for_again_at_night_is_sent_at_once() -> None:
    # Invitation sent Monday; at 23:00 Berlin the person asks for their link again (/login/checkin-link/):
    # they want it now, so the brought-forward reminder slot is not held back for quiet hours.
    (invitation,) = open_round(opens_at=utc(2026, 11, 30, 9), weekday=0, reminder_1=dt.timedelta(days=1))
    assert send_at(utc(2026, 11, 30, 9, 1)) == 1
    mail.outbox.clear()
    with time_machine.travel(utc(2026, 11, 30, 22), tick=False):
        person_email = invitation.person.email
        assert checkin_links_resend(email=person_email) == 1
    assert send_at(utc(2026, 11, 30, 22, 1)) == 1
    assert [message.to for message in mail.outbox] == [[person_email]]


def test_defer_overdue_message_keeps_what_is_done_and_drops_what_would_collide() -> None:
    due = (utc(2026, 11, 30, 9), utc(2026, 12, 1, 9), utc(2026, 12, 2, 9))
    closes = utc(2026, 12, 3, 9)
    # Reminder 1 reached on Tuesday 22:00 Berlin: it waits for Wednesday 08:00 and reminder 2 (09:00) stays.
    assert cadence.defer_overdue_message(due, 1, utc(2026, 12, 1, 21), closes, BERLIN) == (
        due[0],
        utc(2026, 12, 2, 7),
        due[2],
    )
    # Reached on Wednesday 20:00: reminder 2 would follow at once and goes; the close is later.
    assert cadence.defer_overdue_message(due, 1, utc(2026, 12, 2, 19), closes, BERLIN) == (
        due[0],
        utc(2026, 12, 3, 7),
        None,
    )
    # Not quiet: nothing to move.
    assert cadence.defer_overdue_message(due, 1, utc(2026, 12, 1, 12), closes, BERLIN) is None
