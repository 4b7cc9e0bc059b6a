"""Flags, their history and actions, and the notification outbox (imported into ``pulse.models``).

A **Flag** says that one team's metric is worsening, for one reason (``kind``: a trend, a sudden shift, a
cut-off crossed), and explains itself in one sentence built only from published, coarsened numbers. At
most one flag per team × metric × kind is active at a time (a conditional unique constraint); a later trend
run updates it. Every change of state is a **FlagEvent** (who, when, why). **Action** rows are what a
leader planned. Every notification is a **Notification** row written in the same transaction as the event
that caused it (DESIGN.md, "Notifications": detect, then deliver); a delivery step claims due rows by
conditional UPDATE and sends them through ``pulse.transports``.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from pulse import trends


class Flag(models.Model):
    class Kind(models.TextChoices):
        TREND = trends.FlagKind.TREND.value, "Worsening trend"
        SHIFT = trends.FlagKind.SHIFT.value, "Sudden shift"
        CUTOFF = trends.FlagKind.CUTOFF.value, "Beyond a cut-off"

    class Severity(models.TextChoices):
        WATCH = trends.Severity.WATCH.value, "Watch"
        WARNING = trends.Severity.WARNING.value, "Warning"
        ALERT = trends.Severity.ALERT.value, "Alert"

    class State(models.TextChoices):
        PENDING = "pending", "Pending (seen once; waits for a second evaluation)"
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ACTION_PLANNED = "action_planned", "Action planned"
        RESOLVED = "resolved", "Resolved"
        LAPSED = "lapsed", "Lapsed (did not hold for a second evaluation)"

    class Resolution(models.TextChoices):
        BY_HAND = "by_hand", "Resolved by a leader"
        RECOVERED = "recovered", "Recovered (back within bounds for two evaluations)"

    organisation = models.ForeignKey("surveys.Organisation", on_delete=models.PROTECT, related_name="flags")
    team = models.ForeignKey("surveys.Team", on_delete=models.PROTECT, related_name="flags")
    metric = models.CharField(
        max_length=200, help_text="The TeamAggregate metric, e.g. scale:cbi_work.cbi_work@1."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    explanation = models.TextField(help_text="One sentence with published, coarsened numbers.")
    details = models.JSONField(default=dict, blank=True, help_text="The numbers behind the sentence.")
    # Persistence bookkeeping: consecutive evaluations (with new data) in which the condition held while
    # pending, or was back within bounds while active.
    hits = models.PositiveSmallIntegerField(default=0)
    clears = models.PositiveSmallIntegerField(default=0)
    evaluated_through = models.DateTimeField(
        help_text="closes_at of the latest round evaluated: a run without a newer round changes nothing."
    )
    escalation_level = models.PositiveSmallIntegerField(
        default=0, help_text="0: the team's own leaders; each escalation adds the next leaders above."
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True)

    ACTIVE_STATES = (State.PENDING, State.OPEN, State.ACKNOWLEDGED, State.ACTION_PLANNED)
    VISIBLE_STATES = (State.OPEN, State.ACKNOWLEDGED, State.ACTION_PLANNED, State.RESOLVED)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "metric", "kind"],
                condition=Q(state__in=["pending", "open", "acknowledged", "action_planned"]),
                name="flag_one_active_per_team_metric_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "state"], name="flag_organisation_state"),
            models.Index(fields=["team", "metric", "kind", "-created_at"], name="flag_series_latest"),
            models.Index(fields=["opened_at"], condition=Q(state="open"), name="flag_open_unacknowledged"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} flag on {self.metric} of team {self.team_id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class FlagEvent(models.Model):
    """One transition of a flag: who (a person, or the system), when, why."""

    class Kind(models.TextChoices):
        DETECTED = "detected", "Detected (pending)"
        OPENED = "opened", "Opened"
        UPDATED = "updated", "Updated by a trend run"
        LAPSED = "lapsed", "Did not hold"
        RETURNING = "returning", "Decline seen again (pending)"
        REOPENED = "reopened", "Reopened"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ACTION_PLANNED = "action_planned", "Action planned"
        RESOLVED = "resolved", "Resolved by hand"
        RECOVERED = "recovered", "Recovered"
        ESCALATED = "escalated", "Escalated"

    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    actor = models.ForeignKey(
        "surveys.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="flag_events"
    )
    actor_label = models.CharField(max_length=200, help_text='"system" or the person\'s name at the time.')
    at = models.DateTimeField()
    why = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor_label}"


class Action(models.Model):
    """What a leader plans to do about a flag: what, who, by when."""

    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="actions")
    what = models.TextField()
    who = models.CharField(max_length=200)
    due_on = models.DateField()
    created_by = models.ForeignKey("surveys.Person", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.what[:60]} ({self.who}, by {self.due_on})"


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


class Notification(models.Model):
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
    due_at = models.DateTimeField()
    claim = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="notification_pending_due"),
        ]

    def __str__(self) -> str:
        return f"{self.transport} notification {self.pk} ({self.status})"


class TrendRun(models.Model):
    """One evaluation of an organisation's series; ``watermark`` says which aggregations it has seen."""

    organisation = models.ForeignKey("surveys.Organisation", on_delete=models.CASCADE, related_name="+")
    watermark = models.DateTimeField(null=True, blank=True, help_text="Latest Round.aggregated_at seen.")
    started_at = models.DateTimeField()
    series = models.PositiveIntegerField(default=0)
    tested = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "-watermark"], name="trend_run_latest")]

    def __str__(self) -> str:
        return f"Trend run {self.pk} of organisation {self.organisation_id}"
