"""When the minute tick last ran: one row, written by the tick itself, read by readiness.

In the database rather than the cache: the cache may be restarted or evict the key (a false "beat is
dead"), and while the broker or cache is down readiness already says so on its own check; the row keeps
the true time of the last tick through both. One UPDATE of one row a minute costs nothing.
"""

from __future__ import annotations

from django.db import models


class TickHeartbeat(models.Model):
    """The last tick's start and end, per tick name (one name today: ``MINUTE``)."""

    MINUTE = "minute"

    name = models.CharField(max_length=40, primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} tick at {self.started_at:%Y-%m-%d %H:%M:%S}"


class DeliveryCount(models.Model):
    """How many messages every sender, in every process on every machine, has recorded per transport and
    outcome since the installation began: the counters of ``/metrics`` (``pulse.metrics``).

    In the database because the senders are Celery workers, in other processes and usually on other
    machines than the web process that answers a scrape: a counter in a worker's memory would be seen by no
    scrape and lost at every restart. A sender adds its batch's totals with one UPDATE at the end of the
    batch (``surveys.services.operations``), so the cost is one statement per batch, not per message.
    Totals only: no round, team or person, and no "skipped" outcome (a reminder is skipped because its
    recipient answered, so per-batch skips would count a round's answers).
    """

    class Transport(models.TextChoices):
        CHECKIN_EMAIL = "checkin_email", "Check-in email (invitation or reminder)"
        NOTIFICATION_EMAIL = "notification_email", "Flag notification email"
        SLACK = "slack", "Slack"
        WEBHOOK = "webhook", "Webhook"
        SIGN_IN_EMAIL = "sign_in_email", "Sign-in or email-change email"

    class Outcome(models.TextChoices):
        SENT = "sent", "Accepted by the mail server or the receiver"
        FAILED = "failed", "Failed for good"
        RETRIED = "retried", "Failed for now, backed off to retry"
        DEFERRED = "deferred", "Became sendable inside the recipient's quiet hours; moved to their end"

    transport = models.CharField(max_length=20, choices=Transport.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transport", "outcome"], name="delivery_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.transport} {self.outcome}: {self.count}"


class StepTiming(models.Model):
    """How often each tick step ran, the rows it handled and the seconds it took, summed over every drain in
    every worker (``surveys.services.tick``): the task durations of ``/metrics``, for the same reason as
    :class:`DeliveryCount`. A drain adds its totals per step with one UPDATE when it ends."""

    step = models.CharField(max_length=200, primary_key=True, help_text="The step's dotted path.")
    runs = models.BigIntegerField(default=0)
    rows = models.BigIntegerField(default=0, help_text="Rows (emails, rounds, flags…) the runs handled.")
    seconds = models.FloatField(default=0.0)
    failures = models.BigIntegerField(default=0, help_text="Runs that raised.")

    def __str__(self) -> str:
        return f"{self.step}: {self.runs} runs"
