"""The flag lifecycle by hand: acknowledge, plan an action, resolve; who may; escalation; the outcome of an
action; one active flag per team × metric × kind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.test import override_settings

from pulse.models import Flag, FlagEvent, Notification
from pulse.models.notifications import EscalationClock
from pulse.permissions import Caller
from pulse.selectors.flags import flag_list_for_leader, flag_views_for
from pulse.services.escalation import flags_escalate_due
from pulse.services.flags import (
    FlagTransitionError,
    flag_acknowledge,
    flag_action_plan,
    flag_resolve,
)
from pulse.services.trends import trend_run
from surveys.models import Membership, Person
from tests.pulse.helpers_flags import BURNOUT, History

pytestmark = pytest.mark.django_db


def open_flag(history: History, team: str = "Payments", value: float = 3.5) -> Flag:
    """Two rounds beyond the burnout cut-off, two trend runs: an open cut-off flag."""
    for _ in range(2):
        history.round({team: {BURNOUT: value}})
        trend_run(organisation_id=history.organisation.pk, now=history.now())
    flag = Flag.objects.get(team=history.team[team], kind="cutoff")
    assert flag.state == Flag.State.OPEN
    return flag


def test_acknowledge_plan_resolve_each_leave_an_event_with_who_when_why() -> None:
    history = History(teams=("Payments",))
    flag = open_flag(history)
    leader = history.leader["Payments"]
    moment = history.now() + dt.timedelta(hours=2)
    flag_acknowledge(flag_id=flag.pk, by=leader, note="Seen; talking to the team on Thursday.", now=moment)
    action = flag_action_plan(
        flag_id=flag.pk,
        by=leader,
        what="Move the release freeze; pause on-call swaps",
        who="Olivia",
        due_on=dt.date(2026, 8, 1),
        now=moment,
    )
    flag_resolve(flag_id=flag.pk, by=leader, note="Freeze moved, load back to normal.", now=moment)
    flag.refresh_from_db()
    assert flag.state == Flag.State.RESOLVED
    assert flag.resolution == Flag.Resolution.BY_HAND
    events = list(flag.events.filter(actor=leader))
    assert [(e.kind, e.from_state, e.to_state) for e in events] == [
        (FlagEvent.Kind.ACKNOWLEDGED, "open", "acknowledged"),
        (FlagEvent.Kind.ACTION_PLANNED, "acknowledged", "action_planned"),
        (FlagEvent.Kind.RESOLVED, "action_planned", "resolved"),
    ]
    assert all(e.at == moment and e.actor_label == "Lead Payments" for e in events)
    assert events[0].why == "Seen; talking to the team on Thursday."
    assert events[1].data == {
        "action": action.pk,
        "what": "Move the release freeze; pause on-call swaps",
        "who": "Olivia",
        "due_on": "2026-08-01",
    }
    assert "Olivia" in events[1].why


def test_only_leaders_of_the_team_or_above_may_act_and_notes_are_required() -> None:
    history = History(teams=("Payments", "Data"))
    flag = open_flag(history)
    with pytest.raises(PermissionDenied):
        flag_acknowledge(flag_id=flag.pk, by=history.leader["Data"], note="not mine")
    member = Person.objects.create(organisation=history.organisation, email="m@example.org", display_name="M")
    Membership.objects.create(person=member, team=history.team["Payments"], starts_on=dt.date(2026, 1, 1))
    with pytest.raises(PermissionDenied):
        flag_resolve(flag_id=flag.pk, by=member, note="members cannot")
    with pytest.raises(FlagTransitionError):
        flag_acknowledge(flag_id=flag.pk, by=history.leader["root"], note="   ")
    # The root's leader answers for the whole tree.
    flag_acknowledge(flag_id=flag.pk, by=history.leader["root"], note="I have it")
    # A second acknowledgement is harmless: no second event.
    flag_acknowledge(flag_id=flag.pk, by=history.leader["Payments"], note="me too")
    assert flag.events.filter(kind=FlagEvent.Kind.ACKNOWLEDGED).count() == 1


def test_a_pending_flag_cannot_be_acted_on_and_leaders_do_not_see_it() -> None:
    history = History(teams=("Payments",))
    history.round({"Payments": {BURNOUT: 3.5}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    flag = Flag.objects.get(team=history.team["Payments"])
    # The root rolls Payments up (the same answers), so its own cut-off flag is pending alongside.
    root_flag = Flag.objects.get(team=history.root)
    assert flag.state == root_flag.state == Flag.State.PENDING
    with pytest.raises(FlagTransitionError):
        flag_acknowledge(flag_id=flag.pk, by=history.leader["Payments"], note="?")
    assert list(flag_list_for_leader(person=history.leader["Payments"])) == []
    assert list(flag_list_for_leader(person=history.leader["root"])) == []
    history.round({"Payments": {BURNOUT: 3.5}})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    assert list(flag_list_for_leader(person=history.leader["Payments"])) == [flag]
    assert set(flag_list_for_leader(person=history.leader["root"])) == {flag, root_flag}


def test_one_active_flag_per_team_metric_and_kind() -> None:
    history = History(teams=("Payments",))
    flag = open_flag(history)
    duplicate = Flag(
        organisation=flag.organisation,
        team=flag.team,
        metric=flag.metric,
        kind=flag.kind,
        state=Flag.State.PENDING,
        severity=flag.severity,
        explanation="x",
        evaluated_through=flag.evaluated_through,
        created_at=flag.created_at,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    duplicate.state = Flag.State.RESOLVED  # closed flags may pile up as history
    duplicate.save()


@override_settings(PULSE_FLAG_ESCALATE_AFTER_DAYS=7)
def test_unacknowledged_flags_escalate_to_the_parent_leaders_once() -> None:
    history = History(teams=("Payments",))
    flag = open_flag(history)
    opened = EscalationClock.objects.get(flag=flag).started_at  # counted in real time, from when seen open
    assert flags_escalate_due(now=opened + dt.timedelta(days=6)) == 0
    later = opened + dt.timedelta(days=7, minutes=1)
    assert flags_escalate_due(now=later) == 1
    assert flags_escalate_due(now=later) == 0  # claimed: a second tick does nothing
    flag.refresh_from_db()
    assert flag.escalation_level == 1
    event = flag.events.get(kind=FlagEvent.Kind.ESCALATED)
    assert event.why == "Not acknowledged within 7 days; escalated to the leaders of Engineering."
    emails = Notification.objects.filter(event=event)
    assert [n.recipient for n in emails] == [history.leader["root"]]
    assert emails[0].digest == (flag.severity != Flag.Severity.ALERT)  # only an alert's is sent at once
    # Nothing above the root: a week later there is nowhere to go.
    assert flags_escalate_due(now=later + dt.timedelta(days=8)) == 0
    # An acknowledged flag never escalates.
    other = History(teams=("Data",))
    acknowledged = open_flag(other, "Data")
    flag_acknowledge(flag_id=acknowledged.pk, by=other.leader["Data"], note="on it")
    assert flags_escalate_due(now=later + dt.timedelta(days=30)) == 0


def test_a_team_without_leaders_is_routed_to_the_nearest_team_above_with_leaders() -> None:
    history = History(teams=("Payments",))
    Membership.objects.filter(team=history.team["Payments"]).delete()
    flag = open_flag(history)
    recipients = {n.recipient for n in Notification.objects.filter(flag=flag)}
    assert recipients == {history.leader["root"]}


def test_after_an_actions_date_the_flag_shows_how_the_metric_moved() -> None:
    history = History(teams=("Payments",))
    flag = open_flag(history, value=3.54)
    planned_at = history.now() + dt.timedelta(hours=1)
    due = (history.next_close + dt.timedelta(days=1)).date()
    action = flag_action_plan(
        flag_id=flag.pk,
        by=history.leader["Payments"],
        what="Hire a contractor",
        who="Olivia",
        due_on=due,
        now=planned_at,
    )
    caller = Caller(history.leader["Payments"])
    ((before_due,),) = (
        v.outcomes for v in flag_views_for(caller, [flag.pk], today=due - dt.timedelta(days=1))
    )
    assert not before_due.due
    assert before_due.sentence == "The action's date has not come yet."
    history.round({"Payments": {BURNOUT: 3.1}})  # closes before the due date: not counted as "after"
    history.round({"Payments": {BURNOUT: 2.66}})
    ((outcome,),) = (v.outcomes for v in flag_views_for(caller, [flag.pk], today=due + dt.timedelta(days=7)))
    assert outcome.action == action
    assert outcome.due
    # The difference of the values as shown, 2.7 − 3.5, from the published results only.
    assert outcome.sentence == (
        "Since the action was planned, burnout (single item) moved from 3.5 to 2.7 (−0.8) over 1 round after "
        "its date."
    )
