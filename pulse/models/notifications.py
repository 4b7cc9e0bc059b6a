"""The notification outbox: where flags are posted besides email, and one row per message to deliver;
and when the system really saw a flag open, from which its escalation period counts.

Every notification is written in the same transaction as the flag event that caused it (detect, then
deliver: docs/architecture.md); a delivery step claims due rows by conditional UPDATE and sends them through
``pulse.transports``.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from pulse.models.flags import Flag, FlagEvent
from pulse.models.outbox import OutboxRow

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - Standard Webhooks' form of a signing secret: whsec_ and base64


def webhook_secret() -> str:
    """A new channel's signing secret: 32 random bytes in the Standard Webhooks form."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_webhook_secret(value: str) -> None:
    """``whsec_`` and the base64 of 24 to 64 bytes (the Standard Webhooks specification's range)."""
    if not value:
        return
    try:
        key = base64.b64decode(value.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not value.startswith(WEBHOOK_SECRET_PREFIX) or not 24 <= len(key) <= 64:
        raise ValidationError(
            "A signing secret is whsec_ followed by the base64 of 24 to 64 random bytes; leave the default "
            'or generate one: python -c "import base64,os;'
            "print('whsec_'+base64.b64encode(os.urandom(32)).decode())\""
        )


class NotificationChannel(models.Model):
    """Where flags of an organisation (or of one team's subtree) are posted besides the leaders' email."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack incoming webhook"
        WEBHOOK = "webhook", "JSON webhook (signed the Standard Webhooks way)"

    organisation = models.ForeignKey(
        "surveys.Organisation", on_delete=models.PROTECT, related_name="notification_channels"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=200,
        default=webhook_secret,
        blank=True,
        validators=[validate_webhook_secret],
        help_text="Webhooks: the signing secret (Standard Webhooks, whsec_…) a receiver verifies with. "
        "Keep it private.",
    )
    team = models.ForeignKey(
        "surveys.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only flags of this team and the teams below it. Empty: the whole organisation.",
    )
    min_severity = models.CharField(
        max_length=10, choices=Flag.Severity.choices, default=Flag.Severity.WARNING
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["organisation", "name"]

    def __str__(self) -> str:
        return self.name


class Notification(OutboxRow):
    """The outbox: one message for one recipient (a leader's email) or one channel, written with its event.

    ``idempotency_key`` (event × transport × channel × recipient) is unique, so an event can never queue the
    same message twice; webhook receivers get it as ``webhook-id`` to drop a redelivery after a
    crash between sending and recording. Subject, text and payload are rendered when the event happens,
    from the flag's published sentence: delivery only sends what is stored.
    """

    class Transport(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed permanently"
        SKIPPED = "skipped", "Not sent (history loaded at once; summed up in one digest)"

    organisation = models.ForeignKey("surveys.Organisation", on_delete=models.PROTECT, related_name="+")
    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey(FlagEvent, on_delete=models.CASCADE, related_name="notifications")
    transport = models.CharField(max_length=10, choices=Transport.choices)
    channel = models.ForeignKey(
        NotificationChannel, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(
        "surveys.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    idempotency_key = models.CharField(max_length=120, unique=True)
    digest = models.BooleanField(default=False, help_text="Email: wait for the recipient's next digest.")
    subject = models.CharField(max_length=300)
    body = models.TextField()
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="notification_pending_due"),
        ]

    def __str__(self) -> str:
        return f"{self.transport} notification {self.pk} ({self.status})"


class EscalationClock(models.Model):
    """When the system really saw a flag's current opening: its escalation period counts from here.

    ``Flag.opened_at`` is the trend run's ``now``, which is in the past when history is loaded at once (the
    demo's twelve weeks, an import): counted from there, every flag of that history would be "unacknowledged
    for weeks" at the first tick and escalate in the same second. ``started_at`` is the wall clock when the
    opening was written (or, for a flag opened by a path that did not record it, when the escalation step
    first saw it open), never earlier than the opening's own time. ``opened_at`` is the opening it belongs
    to: a reopened flag has a new one, so an old clock does not count for it.
    """

    flag = models.OneToOneField(
        Flag, primary_key=True, on_delete=models.CASCADE, related_name="escalation_clock"
    )
    opened_at = models.DateTimeField(help_text="The Flag.opened_at this clock was started for.")
    started_at = models.DateTimeField(
        help_text="Wall-clock time the opening was observed; escalation counts from here."
    )

    def __str__(self) -> str:
        return f"Escalation clock of flag {self.flag_id} (from {self.started_at:%Y-%m-%d %H:%M})"
