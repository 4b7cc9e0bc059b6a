"""The demo's first start sends no storm: its twelve weeks of history are loaded at once (trend runs with
``now`` in the past), and then the real minute tick runs. No flag escalates, since none has been open a
whole escalation period in real time; no flag email goes out at once; each leader then gets at most one
digest, of the flags still open, each with its link. A whole period later, real time has passed and an
unacknowledged flag does escalate."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from pulse.devtools.demo_history import demo_history_create
from pulse.models import Flag, FlagEvent, Notification
from pulse.services.escalation import flags_escalate_due
from pulse.services.notifications import next_digest_at
from surveys.models import Organisation
from surveys.services.demo import DEMO_LEADER_EMAIL
from surveys.services.tick import tick_run

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)  # a Tuesday, after the day's digest hour in Berlin


def flag_emails() -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if message.subject.startswith("[Pulse]")]


@override_settings(
    PULSE_FLAG_ESCALATE_AFTER_DAYS=7, PULSE_FLAG_DIGEST_WEEKDAY=None, PULSE_BASE_URL="http://pulse.test"
)
def test_loading_the_history_then_ticking_sends_no_escalation_and_at_most_one_digest_per_leader() -> None:
    with time_machine.travel(NOW, tick=False):
        assert demo_history_create() is True
        acme = Organisation.objects.get(name="Acme")
        open_flags = list(Flag.objects.filter(organisation=acme, state=Flag.State.OPEN))
        assert open_flags  # SRE Americas' decline, at least
        assert min(f.opened_at for f in open_flags if f.opened_at) < NOW - dt.timedelta(days=7)
        mail.outbox.clear()
        tick_run()
        tick_run()
    assert not FlagEvent.objects.filter(kind=FlagEvent.Kind.ESCALATED).exists()
    assert flag_emails() == [], sorted({m.subject for m in flag_emails()})
    # Nothing of the past is sent but one digest per leader, of the flags still open.
    pending = Notification.objects.filter(organisation=acme, status=Notification.Status.PENDING)
    assert pending.exists()
    assert all(n.transport == "email" and n.digest for n in pending)
    assert {n.flag.state for n in pending} == {Flag.State.OPEN}
    per_leader_flag = Counter((n.recipient_id, n.flag_id) for n in pending)
    assert set(per_leader_flag.values()) == {1}  # one update per flag, not its whole history
    assert not Notification.objects.filter(organisation=acme, status=Notification.Status.SENT).exists()

    slot = next_digest_at(NOW, acme.time_zone)
    assert slot - NOW <= dt.timedelta(days=1)
    with time_machine.travel(slot, tick=False):
        mail.outbox.clear()
        tick_run()
        tick_run()
    sent = flag_emails()
    recipients = Counter(address for message in sent for address in message.to)
    assert recipients
    assert set(recipients.values()) == {1}
    assert recipients == Counter({n.recipient.email: 1 for n in pending if n.recipient is not None})
    (lena,) = [message for message in sent if message.to == [DEMO_LEADER_EMAIL]]
    links = set(re.findall(r"http://pulse\.test/flags/(\d+)/", str(lena.body)))
    hers = {
        str(n.flag_id) for n in pending if n.recipient is not None and n.recipient.email == DEMO_LEADER_EMAIL
    }
    assert links == hers
    assert not FlagEvent.objects.filter(kind=FlagEvent.Kind.ESCALATED).exists()

    # A whole period later in real time, a flag still open and unacknowledged escalates: the rule counts
    # real time, it does not switch escalation off.
    still_open = Flag.objects.filter(organisation=acme, state=Flag.State.OPEN).count()
    with time_machine.travel(NOW + dt.timedelta(days=7, minutes=1), tick=False):
        escalated = flags_escalate_due()
    assert 0 < escalated <= still_open
