"""The notification senders count what they did, per transport, and /metrics shows it: a real HTTP
receiver for Slack and the webhook, a real SMTP server for the leaders' email."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from pulse.services.notifications import notifications_send_due
from tests.pulse.helpers_flags import History
from tests.pulse.test_notifications import Receiver, SmtpCounter, channel, one_alert, receiver, smtp

__all__ = ["receiver", "smtp"]  # the fixtures, used by name

TOKEN = "metrics-token-for-the-tests-0123456789"


def counters() -> dict[tuple[str, str], float]:
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return {
        (sample.labels["transport"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        if family.name == "pulse_messages"
        for sample in family.samples
        if sample.name == "pulse_messages_total"
    }


@pytest.mark.django_db
@override_settings(PULSE_METRICS_TOKEN=TOKEN)
def test_sent_and_backed_off_notifications_are_counted_per_transport(
    receiver: Receiver, smtp: SmtpCounter
) -> None:
    history = History(teams=("Payments",))
    channel(history, "webhook", receiver.url("/hook"))
    channel(history, "slack", receiver.url("/slack"))
    receiver.script["/hook"] = [503]  # the webhook's receiver is down once
    one_alert(history)
    moment = history.now()
    notifications_send_due(now=moment)
    first = counters()
    assert first["webhook", "retried"] == 1
    assert first["webhook", "sent"] == 0
    assert first["slack", "sent"] == 1
    emails = sum(smtp.received.values())
    assert emails >= 1  # the team's leaders
    assert first["notification_email", "sent"] == emails
    # The retry goes through.
    notifications_send_due(now=moment + dt.timedelta(hours=1))
    second = counters()
    assert (second["webhook", "sent"], second["webhook", "retried"], second["slack", "sent"]) == (1, 1, 1)
    assert second["webhook", "failed"] == 0
