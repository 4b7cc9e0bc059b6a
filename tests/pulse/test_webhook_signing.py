"""Webhooks signed the Standard Webhooks way, checked with exactly the receiver code docs/operations.md §10
shows: a genuine request is accepted once; a replay, an altered body, id or timestamp, another channel's
secret and an old request are refused. The requests are the ones Pulse's webhook transport really sent to
a local HTTP server."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import importlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError

from pulse.models.notifications import validate_webhook_secret, webhook_secret
from pulse.transports import WebhookTransport
from surveys.services.delivery import PermanentFailure

DOCS = Path(settings.BASE_DIR) / "docs" / "operations.md"


@dataclass
class Captured:
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def hook() -> Iterator[tuple[str, list[Captured]]]:
    captured: list[Captured] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            captured.append(Captured(dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", captured
    finally:
        server.shutdown()
        server.server_close()


def documented_receiver(secret: str) -> Any:
    """The ``receive`` function of the docs' receiver code, with SECRET set to ``secret``."""
    text = DOCS.read_text()
    section = text[text.index("The receiver's code") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "docs/operations.md lost its receiver code"
    code = match.group(1)
    assert 'SECRET = "whsec_..."' in code
    namespace: dict[str, Any] = {}
    exec(compile(code.replace('"whsec_..."', repr(secret)), str(DOCS), "exec"), namespace)  # noqa: S102
    return namespace["receive"]


def send(
    url: str, secret: str, captured: list[Captured], delivery: str = "flag-7:opened:webhook:3"
) -> Captured:
    WebhookTransport(url, secret).send({"event": "flag.opened", "delivery": delivery}, delivery=delivery)
    return captured[-1]


def test_a_genuine_webhook_passes_once_and_its_replay_is_refused(hook: tuple[str, list[Captured]]) -> None:
    url, captured = hook
    secret = webhook_secret()
    receive = documented_receiver(secret)
    request = send(url, secret, captured)
    assert receive(request.body, request.headers) == (200, json.loads(request.body))
    # The same request again (an attacker who recorded it, within the five minutes): nothing happens.
    assert receive(request.body, request.headers) == (200, None)
    # A second message from Pulse (another id) is accepted.
    other = send(url, secret, captured, delivery="flag-8:opened:webhook:3")
    assert receive(other.body, other.headers)[1] == json.loads(other.body)


def test_a_replay_after_five_minutes_fails_verification_even_at_a_fresh_receiver(
    hook: tuple[str, list[Captured]],
) -> None:
    url, captured = hook
    secret = webhook_secret()
    request = send(url, secret, captured)
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=6)):
        # A receiver that remembers nothing (restarted, or another instance) still refuses it by its time.
        assert documented_receiver(secret)(request.body, request.headers) == (400, None)


def test_an_altered_webhook_fails_verification(hook: tuple[str, list[Captured]]) -> None:
    url, captured = hook
    secret = webhook_secret()
    request = send(url, secret, captured)
    headers = {name.lower(): value for name, value in request.headers.items()}
    receive = documented_receiver(secret)
    altered_body = request.body.replace(b"flag.opened", b"flag.closed")
    assert receive(altered_body, request.headers) == (400, None)
    assert receive(request.body, {**headers, "webhook-id": "flag-9:opened:webhook:3"}) == (400, None)
    # Moving the timestamp to "now" to get past the tolerance breaks the signature.
    later = str(int(headers["webhook-timestamp"]) + 1)
    assert receive(request.body, {**headers, "webhook-timestamp": later}) == (400, None)
    assert receive(request.body, {k: v for k, v in headers.items() if k != "webhook-signature"}) == (
        400,
        None,
    )
    # Signed with another channel's secret.
    assert documented_receiver(webhook_secret())(request.body, request.headers) == (400, None)
    # And the untouched request still passes.
    assert receive(request.body, request.headers)[0] == 200


def test_secrets_are_whsec_and_base64_of_24_to_64_bytes() -> None:
    made = webhook_secret()
    assert made.startswith("whsec_")
    assert len(base64.b64decode(made[6:])) == 32
    validate_webhook_secret(made)
    validate_webhook_secret("")  # Slack channels have none
    for bad in ("s3cret", "whsec_" + base64.b64encode(b"short").decode(), "whsec_not base64!"):
        with pytest.raises(ValidationError):
            validate_webhook_secret(bad)
    with pytest.raises(PermanentFailure):
        WebhookTransport("https://example.invalid/", "not-a-whsec-secret")


@pytest.mark.django_db
def test_the_migration_keeps_an_old_channels_key(hook: tuple[str, list[Captured]]) -> None:
    """A channel from before: its secret was the HMAC key as typed. After the migration it is whsec_ and
    the base64 of the same bytes, so the receiver's key is unchanged."""
    from django.apps import apps

    from pulse.models import NotificationChannel
    from tests.factories import OrganisationFactory

    old = "a3f9" * 16  # the old default: 64 hex digits
    channel = NotificationChannel.objects.create(
        organisation=OrganisationFactory(), name="legacy", kind="webhook", url=hook[0], secret=old
    )
    slack = NotificationChannel.objects.create(
        organisation=channel.organisation, name="slack", kind="slack", url=hook[0], secret=""
    )
    migration = importlib.import_module("pulse.migrations.0008_api_tokens")
    migration.webhook_secrets_to_standard_form(apps, None)
    channel.refresh_from_db()
    slack.refresh_from_db()
    assert channel.secret == "whsec_" + base64.b64encode(old.encode()).decode()
    assert slack.secret == ""
    validate_webhook_secret(channel.secret)
    request = send(hook[0], channel.secret, hook[1])
    signed = (
        f"{request.headers['Webhook-Id']}.{request.headers['Webhook-Timestamp']}.".encode() + request.body
    )
    digest = base64.b64encode(hmac.new(old.encode(), signed, hashlib.sha256).digest()).decode()
    assert request.headers["Webhook-Signature"] == f"v1,{digest}"
