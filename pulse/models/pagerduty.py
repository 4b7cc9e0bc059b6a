"""An organisation's PagerDuty connection: its REST API key and webhook signing secrets (sealed), which Pulse
team reads which PagerDuty schedules, escalation policies and services, and how far each team is synced
(docs/oncall.md §6), and what PagerDuty Analytics says of each team's weekly interruptions (§9.1).

The key and the secrets are sealed with the stored-secrets key ring (``surveys.stored_secrets``, bound to
their purpose and the connection's id), so a dump or a backup holds ciphertext only; what a page may show of
them is the ``*_hint`` beside (the last four characters). A sync's outcome is a reason code
(:class:`SyncOutcome`), never an error message from the API, which could quote a request or a key.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

API_KEY_PURPOSE = "pagerduty-api-key"
WEBHOOK_SECRET_PURPOSE = "pagerduty-webhook-secret"  # noqa: S105 (a label, not a secret)


def new_webhook_token() -> str:
    """The random part of a connection's webhook URL: not a secret (PagerDuty's signature is the proof),
    only unguessable, so no one can find which organisations have a connection by trying URLs."""
    return secrets.token_urlsafe(24)


class PagerDutyConnection(models.Model):
    organisation = models.OneToOneField(
        "surveys.Organisation", on_delete=models.CASCADE, related_name="pagerduty_connection"
    )
    api_url = models.CharField(max_length=200, help_text="The REST API's base URL (US or EU service region).")
    api_key_sealed = models.TextField(help_text="The REST API key, sealed (surveys.stored_secrets).")
    api_key_hint = models.CharField(max_length=8, help_text="The key's last four characters.")
    webhook_token = models.CharField(max_length=64, unique=True, help_text="Set by the service on creation.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"PagerDuty connection of organisation {self.organisation_id}"


class PagerDutyWebhookSecret(models.Model):
    """A signing secret of the connection's webhook subscription; two while one is being rotated."""

    connection = models.ForeignKey(
        PagerDutyConnection, on_delete=models.CASCADE, related_name="webhook_secrets"
    )
    secret_sealed = models.TextField()
    hint = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Webhook secret {self.hint} of PagerDuty connection {self.connection_id}"


class SyncOutcome(models.TextChoices):
    """Why a sync ended as it did; the admin page says each in the admin's language."""

    OK = "ok", "Synced"
    KEY_REFUSED = "key_refused", "The API key was refused"
    FORBIDDEN = "forbidden", "The API key may not read these objects"
    RATE_LIMITED = "rate_limited", "PagerDuty kept answering 429 (rate limit)"
    UNREACHABLE = "unreachable", "PagerDuty could not be reached"
    SERVER_ERROR = "server_error", "PagerDuty answered with an error"
    BAD_RESPONSE = "bad_response", "PagerDuty's answer could not be read"
    KEY_UNREADABLE = "key_unreadable", "The stored key cannot be opened (PULSE_SECRET_KEYS)"


class AnalyticsState(models.TextChoices):
    """Whether the last request to PagerDuty Analytics for a team was answered (docs/oncall.md §9.1)."""

    AVAILABLE = "available", "Analytics answered"
    UNAVAILABLE = "unavailable", "The account or key has no Analytics (402, 403 or 404)"
    FAILED = "failed", "Analytics answered with another error; asked again on the next sync"


class PagerDutyTeamLink(models.Model):
    """Which PagerDuty objects are one Pulse team's on-call, and the team's sync state.

    A team's shifts are the on-calls of its schedules and escalation policies (``GET /oncalls``); its pages
    are the notifications of the incidents of its services, or of its escalation policies when it names no
    service. The sync of a team is claimed by a conditional UPDATE of ``sync_started_at`` (a lease), so two
    workers never sync one team at once; ``sync_requested_at`` deduplicates the requests (a webhook, the
    hourly beat, "Sync now") that come while one is queued."""

    connection = models.ForeignKey(PagerDutyConnection, on_delete=models.CASCADE, related_name="team_links")
    team = models.OneToOneField("surveys.Team", on_delete=models.CASCADE, related_name="pagerduty_link")
    schedule_ids = models.JSONField(default=list, blank=True)
    escalation_policy_ids = models.JSONField(default=list, blank=True)
    service_ids = models.JSONField(default=list, blank=True)
    pagerduty_team_id = models.CharField(
        max_length=32,
        blank=True,
        help_text="The PagerDuty team Analytics is asked about (empty: not asked).",
    )
    synced_until = models.DateTimeField(
        null=True, blank=True, help_text="The sync cursor: synced up to here."
    )
    sync_requested_at = models.DateTimeField(null=True, blank=True)
    sync_started_at = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_outcome = models.CharField(max_length=16, choices=SyncOutcome.choices, blank=True)
    last_sync_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of a failed sync's last answer."
    )
    last_shifts_new = models.PositiveIntegerField(default=0)
    last_pages_new = models.PositiveIntegerField(default=0)
    analytics_state = models.CharField(max_length=16, choices=AnalyticsState.choices, blank=True)
    analytics_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of Analytics' last refusal."
    )
    analytics_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection", "team"]
        indexes = [
            models.Index(
                fields=["sync_requested_at"],
                condition=Q(sync_requested_at__isnull=False),
                name="pagerduty_link_requested",
            ),
        ]

    def __str__(self) -> str:
        return f"PagerDuty link of team {self.team_id}"

    @property
    def names_anything(self) -> bool:
        return bool(self.schedule_ids or self.escalation_policy_ids or self.service_ids)


class PagerDutyAnalyticsWeek(models.Model):
    """PagerDuty Analytics' interruptions of a team in one ISO week of the team's zone, by hour type: the sum
    over the responder rows of ``POST /analytics/metrics/responders/teams`` (docs/oncall.md §9.1).

    Team sums only: the rows' responder ids and names are added up as they are read and never stored, not
    even hashed. The figures cross-check ``OncallWeek``'s, which stay the ones shown (why: §9.1)."""

    team = models.ForeignKey(
        "surveys.Team", on_delete=models.CASCADE, related_name="pagerduty_analytics_weeks"
    )
    week_start = models.DateField(help_text="The Monday of the ISO week, in the team's time zone.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    interruptions_business = models.PositiveIntegerField()
    interruptions_off = models.PositiveIntegerField()
    interruptions_sleep = models.PositiveIntegerField()
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["team", "week_start"]
        constraints = [
            models.UniqueConstraint(fields=["team", "week_start"], name="pagerduty_analytics_one_per_week"),
        ]

    def __str__(self) -> str:
        return f"PagerDuty Analytics week {self.week_start} of team {self.team_id}"

    @property
    def interruptions(self) -> int:
        return self.interruptions_business + self.interruptions_off + self.interruptions_sleep
