"""Small transport classes for notifications: email, Slack incoming webhook, signed JSON webhook.

Each ``send`` returns on success and raises :class:`PermanentFailure` or :class:`TemporaryFailure`
otherwise (the healthchecks pattern), so the outbox in ``pulse.services.notifications`` decides between
recording and retrying without knowing any protocol:

* HTTP: 2xx is success; 429 and 5xx are temporary; every other status (3xx included: redirects are not
  followed, a moved hook must be reconfigured) is permanent. A time-out or a refused connection is
  temporary.
* SMTP: a 5xx reply or a refused recipient with only 5xx codes is permanent; 4xx replies, dropped
  connections and time-outs are temporary (``surveys.services.delivery.smtp_failure``, the rule the
  check-in emails follow too).

The JSON webhook is signed the Standard Webhooks way (https://www.standardwebhooks.com/, with the
``standardwebhooks`` library): ``webhook-id`` is the notification's idempotency key (the same for every
attempt at one message), ``webhook-timestamp`` the attempt's Unix time, and ``webhook-signature``
``v1,<base64>``, the HMAC-SHA256 (RFC 2104; FIPS 180-4) of ``id.timestamp.body`` under the channel's
``whsec_`` secret. The id and the time are under the one HMAC with the body, so a receiver that refuses old
timestamps and ids it has seen refuses a replay; docs/operations.md §10 has the receiver's code.
Slack messages go through ``slack_sdk.webhook.WebhookClient`` with its own retries switched off: retrying
is the outbox's job.
"""

from __future__ import annotations

import binascii
import contextlib
import datetime as dt
import json
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from slack_sdk.webhook import WebhookClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from pulse.models.notifications import WEBHOOK_SECRET_PREFIX
from surveys.services.delivery import (
    SMTP_ERRORS,
    DeliveryFailure,
    PermanentFailure,
    TemporaryFailure,
    message_send,
    smtp_failure,
)
from surveys.validators import single_line

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def check_status(status: int, detail: str = "") -> None:
    """Raise the failure an HTTP status stands for; return for 2xx."""
    if 200 <= status < 300:
        return
    reason = f"HTTP {status}" + (f": {detail[:200]}" if detail else "")
    if status == 429 or status >= 500:
        raise TemporaryFailure(reason)
    raise PermanentFailure(reason)


# ------------------------------------------------------------------------------------------------ email


class EmailTransport:
    """Email over Django's configured backend, one connection reused for a batch: a text part, and an HTML
    alternative when there is one (multipart/alternative; mail clients show the one they can)."""

    def __init__(self, connection: BaseEmailBackend | None = None) -> None:
        self._connection = connection
        self._opened = False

    def _open(self) -> BaseEmailBackend:
        if self._connection is None:
            self._connection = get_connection()
        if not self._opened:
            self._connection.open()
            self._opened = True
        return self._connection

    def close(self) -> None:
        if self._connection is not None and self._opened:
            with contextlib.suppress(*SMTP_ERRORS):
                self._connection.close()
        self._opened = False

    def send(self, *, to: str, subject: str, body: str, html: str = "") -> None:
        try:
            connection = self._open()
            # One line, whatever a name in it held: a newline in a header is refused (BadHeaderError).
            message = EmailMultiAlternatives(
                single_line(subject), body, settings.DEFAULT_FROM_EMAIL, [to], connection=connection
            )
            if html:
                message.attach_alternative(html, "text/html")
            message_send(connection, message)
        except BadHeaderError as error:
            # Sending again renders the same message: a permanent failure, recorded, never a silent drop.
            raise PermanentFailure(f"email: {error}") from None
        except DeliveryFailure:
            self.close()
            raise
        except SMTP_ERRORS as error:  # opening the connection
            self.close()
            raise smtp_failure(error) from None


# ------------------------------------------------------------------------------------------------ Slack


class SlackTransport:
    """A Slack incoming webhook: the payload is ``{"text": fallback, "blocks": [Block Kit blocks]}``."""

    def __init__(self, url: str, *, timeout: int = 10) -> None:
        self.client = WebhookClient(url, timeout=timeout, retry_handlers=[])

    def send(self, payload: dict[str, Any]) -> None:
        try:
            response = self.client.send_dict(payload)
        except (TimeoutError, urllib.error.URLError, OSError) as error:
            raise TemporaryFailure(f"Slack: {type(error).__name__}") from None
        # Slack answers 200 "ok"; 400 invalid_blocks, 403 action_prohibited, 404 no_service or 410
        # channel_is_archived will not get better by retrying.
        check_status(response.status_code, response.body or "")


# ---------------------------------------------------------------------------------------------- webhook


def canonical_body(payload: dict[str, Any]) -> bytes:
    """The bytes that are sent and signed: compact JSON with sorted keys, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(body: bytes, signer: Webhook, *, delivery: str, at: dt.datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt at sending ``body``."""
    timestamp = int(at.timestamp())
    signature = signer.sign(
        msg_id=delivery, timestamp=dt.datetime.fromtimestamp(timestamp, tz=dt.UTC), data=body.decode()
    )
    return {ID_HEADER: delivery, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx surfaces as HTTPError and is reported as permanent


_OPENER = urllib.request.build_opener(_NoRedirect)


class WebhookTransport:
    """POST the payload as JSON, signed the Standard Webhooks way (id, timestamp and body under one HMAC)."""

    def __init__(self, url: str, secret: str, *, timeout: int = 10) -> None:
        if not url.lower().startswith(("https://", "http://")):
            raise PermanentFailure("the webhook URL must start with https:// or http://")
        # Sending again would sign with the same secret: permanent, until the channel is fixed.
        refused = PermanentFailure("the webhook channel's signing secret is not whsec_ and base64")
        if not secret.startswith(WEBHOOK_SECRET_PREFIX):
            raise refused
        try:
            self.signer = Webhook(secret)
        except (binascii.Error, ValueError, EmptyWebhookSecretError):
            raise refused from None
        self.url = url
        self.timeout = timeout

    def send(self, payload: dict[str, Any], *, delivery: str, now: dt.datetime | None = None) -> None:
        body = canonical_body(payload)
        # Signed at each attempt: a retry hours later carries its own time, and the same id.
        headers = signed_headers(body, self.signer, delivery=delivery, at=now or dt.datetime.now(tz=dt.UTC))
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "Pulse-Webhook/2", **headers},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            detail = error.read(200).decode("utf-8", "replace") if error.fp else ""
            check_status(error.code, detail)
            return
        except (TimeoutError, urllib.error.URLError, OSError) as error:
            raise TemporaryFailure(f"webhook: {type(error).__name__}") from None
        check_status(status)
