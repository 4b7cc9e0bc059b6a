"""Notifications against real servers: a local HTTP server (webhook and Slack) that records every request
and fails on command, and a real SMTP server (aiosmtpd). Each message arrives once."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.db import connections
from django.test import Client, override_settings
from standardwebhooks import Webhook

from pulse.models import Flag, FlagEvent, Notification, NotificationChannel
from pulse.services.notifications import next_digest_at, notifications_for_event, notifications_send_due
from pulse.services.trends import trend_run
from tests.pulse.helpers_flags import BURNOUT, History

UTC = dt.UTC


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the local HTTP server got, and what it will answer: ``script[path]`` is a list of statuses
    used up in order (then 200); ``delay`` seconds before answering."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state.delay:
                time.sleep(state.delay)
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                queue = state.script.get(self.path, [])
                status = queue.pop(0) if queue else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"invalid_blocks")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class SmtpCounter:
    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.messages: list[tuple[str, str, str]] = []  # (to, subject, body)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.original_content or b"")
        payload = message.get_payload(decode=True)
        body = payload.decode() if isinstance(payload, bytes) else ""
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received[address] += 1
                self.messages.append((address, str(message["Subject"]), body))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[SmtpCounter]:
    handler = SmtpCounter()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
    ):
        yield handler
    controller.stop()


def open_alert(history: History, team: str = "Payments") -> Flag:
    """A flag that opens as an alert: burnout over the cut-off and rising (shift + cut-off)."""
    for value in (2.0, 2.0, 2.1, 1.9, 2.0, 2.0, 3.4, 3.6):
        history.round({team: {BURNOUT: value}})
        trend_run(organisation_id=history.organisation.pk, now=history.now())
    flag = Flag.objects.get(team=history.team[team], metric=BURNOUT)
    assert flag.state == Flag.State.OPEN
    assert flag.severity == Flag.Severity.ALERT
    return flag


def one_alert(history: History, team: str = "Payments") -> Flag:
    """One open alert with its "opened" event and outbox rows, written directly (transport tests)."""
    history.round({team: {BURNOUT: 3.6}})
    moment = history.now()
    flag = Flag.objects.create(
        organisation=history.organisation,
        team=history.team[team],
        metric=BURNOUT,
        kind="cutoff",
        state=Flag.State.OPEN,
        severity=Flag.Severity.ALERT,
        explanation="Burnout (single item) was 3.6 in the round closing 1 Jun 2026: 3.6 is at or above the "
        "single-item burnout 'burned out' cut-off of 3.",
        evaluated_through=history.rounds[-1].closes_at,
        created_at=moment,
        opened_at=moment,
    )
    event = FlagEvent.objects.create(
        flag=flag,
        kind=FlagEvent.Kind.OPENED,
        from_state="pending",
        to_state="open",
        actor_label="system",
        at=moment,
    )
    notifications_for_event(event=event, now=moment)
    return flag


def channel(history: History, kind: str, url: str, **fields: object) -> NotificationChannel:
    return NotificationChannel.objects.create(
        organisation=history.organisation, name=kind, kind=kind, url=url, min_severity="watch", **fields
    )


@pytest.mark.django_db
def test_a_webhook_is_signed_the_standard_webhooks_way_and_arrives_once(
    receiver: Receiver, smtp: SmtpCounter
) -> None:
    history = History(teams=("Payments",))
    secret = "whsec_" + base64.b64encode(b"thirty-two bytes of test secret!").decode()
    hook = channel(history, "webhook", receiver.url("/hook"), secret=secret)
    flag = open_alert(history)
    moment = history.now()
    sent_from = int(time.time())
    assert notifications_send_due(now=moment) >= 1
    assert notifications_send_due(now=moment) == 0  # a second delivery run finds nothing due
    requests = receiver.on("/hook")
    rows = Notification.objects.filter(channel=hook)
    # One flag per reason (cut-off, sudden shift): one message each, each exactly once.
    assert sorted(r.headers["Webhook-Id"] for r in requests) == sorted(n.idempotency_key for n in rows)
    assert all(n.status == Notification.Status.SENT for n in rows)
    for request in requests:
        # id.timestamp.body under one HMAC-SHA256 with the secret's bytes (the specification, by hand).
        signed = (
            f"{request.headers['Webhook-Id']}.{request.headers['Webhook-Timestamp']}.".encode() + request.body
        )
        expected = base64.b64encode(
            hmac.new(b"thirty-two bytes of test secret!", signed, hashlib.sha256).digest()
        ).decode()
        assert request.headers["Webhook-Signature"] == f"v1,{expected}"
        assert sent_from <= int(request.headers["Webhook-Timestamp"]) <= time.time() + 1
        assert Webhook(secret).verify(request.body, request.headers) == json.loads(request.body)
    row = rows.get(flag=flag)
    (request,) = [r for r in requests if r.headers["Webhook-Id"] == row.idempotency_key]
    payload = json.loads(request.body)
    assert payload["delivery"] == row.idempotency_key
    assert payload["event"] == "flag.opened"
    assert payload["flag"]["explanation"] == flag.explanation
    assert payload["flag"]["severity"] == "alert"
    # The alerts also went to the team's leader by email, at once and once each. The root rolls Payments up
    # (the same answers), so it has the same alerts, and they went to the root's leader.
    per_team = Counter(rows.values_list("flag__team", flat=True))
    assert set(per_team) == {history.team["Payments"].pk, history.root.pk}
    assert sum(per_team.values()) == len(requests)
    assert smtp.received == Counter(
        {
            history.leader["Payments"].email: per_team[history.team["Payments"].pk],
            history.leader["root"].email: per_team[history.root.pk],
        }
    )


@pytest.mark.django_db
def test_slack_gets_block_kit_through_slack_sdk(receiver: Receiver, smtp: SmtpCounter) -> None:
    history = History(teams=("Payments",))
    channel(history, "slack", receiver.url("/slack"))
    flag = one_alert(history)
    notifications_send_due(now=history.now())
    (request,) = receiver.on("/slack")
    payload = json.loads(request.body)
    assert [block["type"] for block in payload["blocks"]] == ["header", "section", "context", "actions"]
    assert flag.explanation in payload["blocks"][1]["text"]["text"]
    assert payload["text"].startswith("Alert: Payments:")
    assert request.headers["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_a_5xx_is_retried_with_backoff_and_delivered_once(receiver: Receiver, smtp: SmtpCounter) -> None:
    history = History(teams=("Payments",))
    hook = channel(history, "webhook", receiver.url("/hook"))
    receiver.script["/hook"] = [500, 429]
    one_alert(history)
    moment = history.now()
    notifications_send_due(now=moment)
    row = Notification.objects.get(channel=hook)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500: invalid_blocks")
    assert row.due_at == moment + dt.timedelta(minutes=2)
    assert notifications_send_due(now=moment + dt.timedelta(minutes=1)) == 0  # backing off
    notifications_send_due(now=moment + dt.timedelta(minutes=2))
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 2)  # 429 is temporary too
    assert row.due_at == moment + dt.timedelta(minutes=2 + 4)
    notifications_send_due(now=moment + dt.timedelta(minutes=6))
    notifications_send_due(now=moment + dt.timedelta(minutes=60))
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT
    assert len(receiver.on("/hook")) == 3  # two refused, one delivered, nothing after


@pytest.mark.django_db
def test_a_4xx_is_permanent_and_recorded_for_the_admin(
    receiver: Receiver, smtp: SmtpCounter, admin_client: Client
) -> None:
    history = History(teams=("Payments",))
    slack = channel(history, "slack", receiver.url("/slack"))
    hook = channel(history, "webhook", receiver.url("/hook"))
    receiver.script["/slack"] = [404]
    receiver.script["/hook"] = [400]
    one_alert(history)
    notifications_send_due(now=history.now())
    notifications_send_due(now=history.now() + dt.timedelta(days=1))
    for row, error in (
        (Notification.objects.get(channel=slack), "HTTP 404"),
        (Notification.objects.get(channel=hook), "HTTP 400"),
    ):
        assert row.status == Notification.Status.FAILED
        assert row.attempts == 1
        assert row.last_error == f"{error}: invalid_blocks"
    assert len(receiver.on("/slack")) == len(receiver.on("/hook")) == 1  # never retried
    page = admin_client.get("/admin/pulse/notification/", {"status__exact": "failed"})
    assert page.status_code == 200
    assert b"HTTP 400: invalid_blocks" in page.content
    assert b"HTTP 404: invalid_blocks" in page.content


@pytest.mark.django_db
@override_settings(PULSE_NOTIFICATION_TIMEOUT=1)
def test_time_outs_and_refused_connections_are_temporary(receiver: Receiver, smtp: SmtpCounter) -> None:
    history = History(teams=("Payments",))
    slow = channel(history, "webhook", receiver.url("/slow"))
    closed = channel(history, "webhook", f"http://127.0.0.1:{_free_port()}/nobody")
    receiver.delay = 1.5
    one_alert(history)
    notifications_send_due(now=history.now())
    for row in Notification.objects.filter(channel__in=[slow, closed]):
        assert row.status == Notification.Status.PENDING
        assert row.attempts == 1
        assert row.last_error.startswith("webhook: ")


@pytest.mark.django_db
def test_non_alerts_wait_for_one_daily_digest_per_leader(smtp: SmtpCounter) -> None:
    history = History(teams=("Payments", "Data"))
    for _ in range(2):  # watch-level flags (beyond the cut-off, not worsening), one per team
        history.round({"Payments": {BURNOUT: 3.4}, "Data": {BURNOUT: 3.3}})
        trend_run(organisation_id=history.organisation.pk, now=history.now())
    moment = history.now()
    rows = Notification.objects.filter(transport="email")
    # Payments, Data and the root, whose roll-up (about 3.35) is beyond the cut-off too: one each.
    assert sorted(rows.values_list("flag__team", "recipient")) == sorted(
        (history.team[name].pk, history.leader[name].pk) for name in ("Payments", "Data", "root")
    )
    assert all(row.digest for row in rows)
    assert notifications_send_due(now=moment) == 0
    digest_at = next_digest_at(moment, "Europe/Berlin")
    assert digest_at.astimezone(dt.timezone(dt.timedelta(hours=2))).hour == 9  # 09:00 CEST
    notifications_send_due(now=digest_at)
    notifications_send_due(now=digest_at)
    assert smtp.received == Counter({history.leader[name].email: 1 for name in ("Payments", "Data", "root")})
    # A leader with several flags due in the same digest (here all three) gets them in one message.
    Notification.objects.update(status="pending", sent_at=None)
    Notification.objects.update(recipient=history.leader["root"])
    smtp.received.clear()
    notifications_send_due(now=digest_at)
    assert smtp.received == Counter({history.leader["root"].email: 1})
    assert smtp.messages[-1][1] == "[Pulse] Daily digest: 3 flag updates"


@pytest.mark.django_db
def test_a_claimed_batch_is_not_sent_again_by_a_second_sender(receiver: Receiver, smtp: SmtpCounter) -> None:
    from pulse.services.notifications import notifications_claim

    history = History(teams=("Payments",))
    channel(history, "webhook", receiver.url("/hook"))
    one_alert(history)
    moment = history.now()
    _claim, rows = notifications_claim(now=moment)
    assert rows
    assert notifications_send_due(now=moment) == 0  # everything is held by the first sender
    # The first sender died: its claim expires and the rows go out once.
    notifications_send_due(now=moment + dt.timedelta(minutes=16))
    assert len(receiver.on("/hook")) == 1
    assert sum(smtp.received.values()) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_deliver_each_notification_exactly_once(
    receiver: Receiver, smtp: SmtpCounter
) -> None:
    history = History(teams=("Payments", "Data", "Mobile"))
    channel(history, "webhook", receiver.url("/hook"))
    channel(history, "slack", receiver.url("/slack"))
    for _ in range(8):
        values = {team: {BURNOUT: 3.5} for team in ("Payments", "Data", "Mobile")}
        history.round(values)
    for offset in range(2):
        trend_run(organisation_id=history.organisation.pk, now=history.now() + dt.timedelta(minutes=offset))
    history.round({team: {BURNOUT: 3.6} for team in ("Payments", "Data", "Mobile")})
    trend_run(organisation_id=history.organisation.pk, now=history.now())
    total = Notification.objects.count()
    assert total >= 6
    moment = history.now() + dt.timedelta(days=8)  # digests due too
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            for _ in range(3):
                notifications_send_due(now=moment, batch=2)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    notifications_send_due(now=moment, batch=100)
    assert Notification.objects.filter(status="sent").count() == total
    keys = [r.headers["Webhook-Id"] for r in receiver.on("/hook")]
    assert len(keys) == len(set(keys)) == Notification.objects.filter(transport="webhook").count()
    assert len(receiver.on("/slack")) == Notification.objects.filter(transport="slack").count()
    assert all(count == 1 for count in smtp.received.values())
