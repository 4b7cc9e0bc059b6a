"""The notification outbox: where flags are posted besides email, and one row per message to deliver.

Every notification is written in the same transaction as the flag event that caused it (detect, then
deliver: docs/architecture.md); a delivery step claims due rows by conditional UPDATE and sends them through
``pulse.transports``.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from pulse.models.flags import Flag, FlagEvent
from pulse.models.outbox import OutboxRow


class NotificationChannel(models.Model):
    """Where flags of an organisation (or of one team's subtree) are posted besides the leaders' email."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack incoming webhook"
        WEBHOOK = "webhook", "JSON webhook (HMAC-SHA256 signed)"

    organisation = models.ForeignKey(
        "surveys.Organisation", on_delete=models.PROTECT, related_name="notification_channels"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=128,
        default=secrets.token_hex,  # 32 random bytes, 64 hex digits
        blank=True,
        help_text="Webhooks: the key of the X-Pulse-Signature HMAC. Keep it private.",
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
    same message twice; webhook receivers get it as ``X-Pulse-Delivery`` to drop a redelivery after a
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
    digest = models.BooleanField(default=False, help_text="Email: wait for the recipient's weekly digest.")
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
