"""Escalation counts in real time: a flag escalates only after it has been open and unacknowledged for the
whole escalation period on the wall clock, never because a trend run's ``now`` put its opening in the past
(history loaded at once). The wall clock is held still with time-machine; the trend runs happen in June."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.test import override_settings

from pulse.models import Flag, FlagEvent, Notification
from pulse.models.notifications import EscalationClock
from pulse.services.escalation import flags_escalate_due
from pulse.services.flags import flag_acknowledge, flag_reopen, flag_resolve
from pulse.services.trends import trend_run
from tests.pulse.helpers_flags import BURNOUT, History

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("days")]

WALL = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)  # long after the June rounds History makes
PERIOD = dt.timedelta(days=7)


@pytest.fixture
def days() -> Iterator[None]:
    with override_settings(PULSE_FLAG_ESCALATE_AFTER_DAYS=7):
        yield


def open_flag(history: History, team: str = "Payments") -> Flag:
    """Two rounds beyond the burnout cut-off, two trend runs with ``now`` in June: an open flag."""
    for _ in range(2):
        history.round({team: {BURNOUT: 3.5}})
        trend_run(organisation_id=history.organisation.pk, now=history.now())
    flag = Flag.objects.get(team=history.team[team], metric=BURNOUT, state=Flag.State.OPEN)
    assert flag.opened_at is not None
    assert flag.opened_at < WALL - 20 * PERIOD
    return flag


@time_machine.travel(WALL, tick=False)
@pytest.mark.parametrize(
    "age", [dt.timedelta(0), dt.timedelta(minutes=1), dt.timedelta(days=3), PERIOD - dt.timedelta(seconds=1)]
)
def test_escalation_never_fires_for_a_flag_younger_than_the_period(age: dt.timedelta) -> None:
    history = History(teams=("Payments",))
    flag = open_flag(history)
    clock = EscalationClock.objects.get(flag=flag)
    assert clock.started_at == WALL  # the opening was seen now, though the run said June
    assert clock.opened_at == flag.opened_at
    # Months after the simulated opening, but not a whole period after it was really seen.
    assert flags_escalate_due(now=WALL + age) == 0
    assert not FlagEvent.objects.filter(kind=FlagEvent.Kind.ESCALATED).exists()
    flag.refresh_from_db()
    assert flag.escalation_level == 0


@time_machine.travel(WALL, tick=False)
def test_a_whole_period_open_and_unacknowledged_escalates_once_to_the_leaders_above() -> None:
    history = History(teams=("Payments",))
    flag = open_flag(history)
    later = WALL + PERIOD + dt.timedelta(minutes=1)
    assert flags_escalate_due(now=later) == 1
    assert flags_escalate_due(now=later) == 0  # claimed: a second tick does nothing
    flag.refresh_from_db()
    assert flag.escalation_level == 1
    event = flag.events.get(kind=FlagEvent.Kind.ESCALATED)
    assert event.why == "Not acknowledged within 7 days; escalated to the leaders of Engineering."
    emails = Notification.objects.filter(event=event)
    assert [n.recipient for n in emails] == [history.leader["root"]]
    assert emails[0].digest == (flag.severity != Flag.Severity.ALERT)  # only an alert goes at once
    # Nothing above the root: a week later there is nowhere to go.
    assert flags_escalate_due(now=later + dt.timedelta(days=8)) == 0
    # An acknowledged flag never escalates.
    other = History(teams=("Data",))
    acknowledged = open_flag(other, "Data")
    flag_acknowledge(flag_id=acknowledged.pk, by=other.leader["Data"], note="on it", now=WALL)
    assert flags_escalate_due(now=WALL + 5 * PERIOD) == 0


@time_machine.travel(WALL, tick=False)
def test_a_flag_opened_without_a_clock_counts_from_when_the_step_first_saw_it() -> None:
    history = History(teams=("Payments",))
    history.round({"Payments": {BURNOUT: 3.6}})
    opened = history.now() - dt.timedelta(days=90)
    flag = Flag.objects.create(
        organisation=history.organisation,
        team=history.team["Payments"],
        metric=BURNOUT,
        kind="cutoff",
        state=Flag.State.OPEN,
        severity=Flag.Severity.WARNING,
        explanation="Burnout was 3.6.",
        evaluated_through=history.rounds[-1].closes_at,
        created_at=opened,
        opened_at=opened,
    )
    assert flags_escalate_due(now=WALL) == 0  # three months "old", first seen now
    assert EscalationClock.objects.get(flag=flag).started_at == WALL
    assert flags_escalate_due(now=WALL + PERIOD - dt.timedelta(minutes=1)) == 0
    # Reopened (a new opening): the old clock does not count for it.
    reopened = WALL + dt.timedelta(days=3)
    Flag.objects.filter(pk=flag.pk).update(opened_at=reopened)
    with time_machine.travel(reopened, tick=False):
        assert flags_escalate_due() == 0
    assert EscalationClock.objects.get(flag=flag).started_at == reopened
    assert flags_escalate_due(now=WALL + PERIOD + dt.timedelta(minutes=1)) == 0
    assert flags_escalate_due(now=reopened + PERIOD) == 1


@time_machine.travel(WALL, tick=False)
def test_a_run_that_simulates_a_later_moment_counts_from_that_moment() -> None:
    """A caller whose ``now`` is ahead of the wall clock (a bench, a test) still needs a whole period."""
    history = History(teams=("Payments",))
    flag = open_flag(history)
    ahead = WALL + dt.timedelta(days=30)
    Flag.objects.filter(pk=flag.pk).update(opened_at=ahead)
    assert flags_escalate_due(now=ahead) == 0
    assert EscalationClock.objects.get(flag=flag).started_at == ahead
    assert flags_escalate_due(now=ahead + PERIOD - dt.timedelta(seconds=1)) == 0
    assert flags_escalate_due(now=ahead + PERIOD) == 1


@time_machine.travel(WALL, tick=False)
def test_a_flag_reopened_by_a_leader_gets_a_whole_period_again() -> None:
    history = History(teams=("Payments",))
    flag = open_flag(history)
    leader = history.leader["Payments"]
    assert flags_escalate_due(now=WALL + PERIOD + dt.timedelta(minutes=1)) == 1  # level 1: Engineering
    flag_resolve(flag_id=flag.pk, by=leader, note="Load is back to normal.", now=WALL + 2 * PERIOD)
    reopened = WALL + 3 * PERIOD
    with time_machine.travel(reopened, tick=False):
        flag_reopen(flag_id=flag.pk, by=leader, reason="It came back after the release.")
        assert flags_escalate_due() == 0  # the old clock is for the old opening
    clock = EscalationClock.objects.get(flag=flag)
    flag.refresh_from_db()
    assert (clock.opened_at, clock.started_at) == (flag.opened_at, reopened)
    assert flags_escalate_due(now=reopened + PERIOD - dt.timedelta(minutes=1)) == 0
    assert flags_escalate_due(now=reopened + PERIOD) == 1
