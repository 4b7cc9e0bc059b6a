"""The minute tick dispatches: each queue's steps run in drains that loop while there is work, several at
once share a backlog, and a broker that refuses the drains leaves the tick to do the work itself."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends import locmem
from django.db import connections
from django.test import override_settings

from surveys.models import Invitation
from surveys.services import emails as emails_module
from surveys.services import tick
from surveys.services.rounds import rounds_open_due
from tests.helpers_broker import REFUSING_BROKER, broker_at
from tests.surveys.test_delivery import OPENS, open_round

pytestmark = pytest.mark.django_db


class ProviderLatencyBackend(locmem.EmailBackend):
    """The test outbox, answering each message after 20 ms, as a real provider's round trip does: three
    drains started together then overlap in time."""

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        time.sleep(0.02 * len(messages))
        return super().send_messages(messages)


def small_batches(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Each call of the email step claims at most ``size`` emails (its default batch is 200)."""
    defaults = emails_module.emails_send_due.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "batch", size)


def test_every_step_belongs_to_exactly_one_queue_and_keeps_the_ticks_order() -> None:
    drained = [path for queue in tick.queues() for path in tick.queue_steps(queue)]
    assert sorted(drained) == sorted(settings.PULSE_TICK_STEPS)
    assert set(tick.queues()) == {"sending", "closing", "trends"}
    for queue in tick.queues():
        steps = tick.queue_steps(queue)
        assert steps == [path for path in settings.PULSE_TICK_STEPS if path in steps]
    assert "surveys.services.emails.emails_send_due" in tick.queue_steps("sending")
    assert "surveys.services.counting.rounds_close_due" in tick.queue_steps("closing")


def test_a_drain_takes_batch_after_batch_until_nothing_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    open_round(23)
    with (
        time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False),
        override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"),
    ):
        rounds_open_due()
        small_batches(monkeypatch, 5)  # five batches of at most 5 in one drain
        handled = tick.queue_drain(queue="sending", budget=60)
    assert handled["surveys.services.emails.emails_send_due"] == 23
    assert len(mail.outbox) == 23
    assert Invitation.objects.filter(email_outcomes="s").count() == 23


def test_a_drain_stops_when_its_time_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    open_round(12)
    with (
        time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False),
        override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"),
    ):
        rounds_open_due()
        small_batches(monkeypatch, 5)
        handled = tick.queue_drain(queue="sending", budget=0)  # one round of steps, then stop
    assert handled["surveys.services.emails.emails_send_due"] == 5
    assert Invitation.objects.filter(email_outcomes="s").count() == 5


@pytest.fixture
def refusing_broker() -> Iterator[None]:
    """The app's broker points at a port nothing listens on: every enqueue is refused at once."""
    with broker_at(REFUSING_BROKER):
        yield


def test_when_the_broker_refuses_the_drains_the_tick_does_the_work_inline(refusing_broker: None) -> None:
    _schedule, emails = open_round(4)
    with (
        time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=False),
        override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"),
    ):
        enqueued = tick.tick_dispatch()
    assert enqueued == {"closing": 0, "sending": 0, "trends": 0}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(emails)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_drains_at_once_share_a_backlog_and_send_each_email_once(monkeypatch: pytest.MonkeyPatch) -> None:
    open_round(60)
    with time_machine.travel(OPENS + dt.timedelta(minutes=1), tick=True):
        rounds_open_due()
        small_batches(monkeypatch, 4)
        results: list[dict[str, int]] = []
        # The drains start together, as workers woken by one tick do: on a loaded machine a thread that
        # starts late would otherwise find the backlog already sent.
        start = threading.Barrier(3)

        def drain() -> None:
            try:
                start.wait(timeout=60)
                results.append(tick.queue_drain(queue="sending", budget=60))
            finally:
                connections.close_all()

        with override_settings(EMAIL_BACKEND="tests.surveys.test_tick_dispatch.ProviderLatencyBackend"):
            threads = [threading.Thread(target=drain) for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
    sent = [r["surveys.services.emails.emails_send_due"] for r in results]
    assert sum(sent) == 60
    assert sum(1 for count in sent if count > 0) >= 2  # the backlog was shared, not taken by one drain
    recipients = [m.to[0] for m in mail.outbox]
    assert len(recipients) == len(set(recipients)) == 60
