"""The demo's twelve weeks of history, made through the real services: SRE Americas gets an explained flag,
Payments recovers after its leader's action, and a second call does nothing."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine

from pulse.devtools.demo_history import demo_history_create
from pulse.models import Action, Flag, FlagEvent, Notification, TeamAggregate
from pulse.permissions import Caller
from pulse.selectors.flags import flag_list_for_leader, flag_views_for
from surveys.models import Organisation, Person, Round
from surveys.services.demo import DEMO_LEADER_EMAIL

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday


@time_machine.travel(NOW, tick=False)
def test_demo_history_tells_its_two_stories() -> None:
    started = time.perf_counter()
    assert demo_history_create() is True
    seconds = time.perf_counter() - started
    print(f"demo_history_create: {seconds:.1f} s")
    acme = Organisation.objects.get(name="Acme")
    rounds = Round.objects.filter(organisation=acme)
    assert rounds.filter(schedule__name="Platform weekly check-in").count() == 12
    assert rounds.filter(schedule__name="Product weekly check-in").count() == 12
    assert rounds.filter(schedule__name="Data fortnightly wellbeing").count() == 6
    assert all(r.status == Round.Status.CLOSED and r.aggregated_at for r in rounds)
    assert max(r.closes_at for r in rounds) < NOW
    assert max(r.closes_at for r in rounds) > NOW - dt.timedelta(days=14)

    sre = acme.teams.get(slug="sre-americas")
    open_flags = Flag.objects.filter(team=sre, state=Flag.State.OPEN)
    trend = open_flags.get(metric="scale:burnout1.burnout1@1")
    # One flag for the problem, with every reason inside it, in a leader's words first.
    assert trend.reasons == ["trend", "shift", "cutoff"]
    assert trend.severity == Flag.Severity.ALERT
    assert trend.headline.startswith("Burnout (single item) has risen over the last 12 rounds, from ")
    assert "the single-item burnout cut-off for 'burned out'" in trend.headline
    assert not open_flags.filter(metric="scale:burnout1.burnout1@1").exclude(pk=trend.pk).exists()
    assert trend.explanation.startswith("Burnout (single item) rose from ")
    assert "per round, 95% CI" in trend.explanation
    # Nothing of SRE Americas was withheld: it answers at about 95%.
    assert TeamAggregate.objects.filter(team=sre, metric="response_rate").count() == 12

    # Lena leads Platform, so she sees SRE Americas' flags.
    lena = Person.objects.get(email=DEMO_LEADER_EMAIL)
    assert trend in list(flag_list_for_leader(person=lena))

    payments = acme.teams.get(slug="payments")
    cutoff = Flag.objects.exclude(state=Flag.State.LAPSED).get(
        team=payments, metric="scale:burnout1.burnout1@1"
    )
    assert "cutoff" in cutoff.reasons
    assert cutoff.state == Flag.State.RESOLVED
    assert cutoff.resolution == Flag.Resolution.RECOVERED
    kinds = list(cutoff.events.values_list("kind", flat=True))
    assert kinds[:3] == [FlagEvent.Kind.DETECTED, FlagEvent.Kind.OPENED, FlagEvent.Kind.ACKNOWLEDGED]
    assert FlagEvent.Kind.ACTION_PLANNED in kinds
    assert kinds[-1] == FlagEvent.Kind.RECOVERED
    (action,) = Action.objects.filter(flag=cutoff)
    assert action.created_by.display_name == "Olivia Chen"
    admin_person = Person.objects.filter(organisation=acme, is_admin=True).first()
    assert admin_person is not None
    admin = Caller(admin_person)
    ((outcome,),) = (v.outcomes for v in flag_views_for(admin, [cutoff.pk], today=NOW.date()))
    assert outcome.due
    assert "(−" in outcome.sentence  # burnout went down after the action

    # The past's messages are not sent when the demo starts: at most one digest per leader, of the flags
    # still open (tests/devtools/test_demo_first_start.py follows it through the tick).
    pending = Notification.objects.filter(status=Notification.Status.PENDING)
    assert all(n.digest and n.flag.state == Flag.State.OPEN for n in pending)
    assert demo_history_create() is False
    assert Round.objects.filter(organisation=acme).count() == 30
