"""On-call load: the shifts and pages of each team, time off, and the weekly team metrics (docs/oncall.md §6).

Nothing here names a person. A responder, an incident and a person taking time off are stored only as
keyed hashes (:func:`keyed_reference`: HMAC-SHA256 under ``PULSE_REFERENCE_KEY``, a key that lives outside
the database, over a message that names the organisation and the kind of reference). Whoever reads the
database or a backup therefore cannot recover an email address or a tool's user id from it, nor test a
guess, nor match one organisation's people with another's: the same reference hashes differently in two
organisations. The hash is deterministic so that a re-import of the same file finds the rows it already
stored (each table has a natural-key unique constraint) and a person's shifts, pages and absences line up.

``OncallWeek`` holds per-team figures only; the per-person shares of time on call and who carried the most
interruptions exist only inside ``pulse.analysis.oncall`` while a week is computed.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import F, Q

REFERENCE_HEX_LENGTH = 64  # HMAC-SHA256, hexadecimal


class ReferenceKind(models.TextChoices):
    RESPONDER = "responder", "Responder"
    INCIDENT = "incident", "Incident"
    PERSON = "person", "Person"


_REFERENCE_KINDS = frozenset(ReferenceKind.values)  # the enum's ``values`` is built anew on every read


def reference_key() -> bytes:
    """The key of the on-call reference hashes; refused by name when a production deployment has none."""
    keys: list[bytes] = getattr(settings, "PULSE_REFERENCE_KEY", [])
    if not keys:
        raise ImproperlyConfigured(
            "PULSE_REFERENCE_KEY must be set to store on-call data (docs/operations.md)"
        )
    return keys[0]


def keyed_reference(organisation_id: int, kind: str, value: str) -> str:
    """The stored form of ``value`` (a responder or incident reference, or a person's id): HMAC-SHA256 under
    ``PULSE_REFERENCE_KEY`` over the kind, the organisation and the value, as 64 hex characters.

    The organisation is in the message so that the same reference in two organisations never matches; the
    kind, so that a responder's reference and an incident's that happen to be equal hash differently."""
    if kind not in _REFERENCE_KINDS:
        raise ValueError(f"unknown reference kind {kind!r}")
    message = f"pulse-oncall\x00{kind}\x00{organisation_id}\x00{value}".encode()
    return hmac.new(reference_key(), message, hashlib.sha256).hexdigest()


class OncallSource(models.TextChoices):
    CSV = "csv", "CSV import"
    PAGERDUTY = "pagerduty", "PagerDuty"


class OncallShift(models.Model):
    """One stretch of time a responder was on call for a team (docs/oncall.md §1.1)."""

    team = models.ForeignKey("surveys.Team", on_delete=models.CASCADE, related_name="oncall_shifts")
    responder = models.CharField(max_length=REFERENCE_HEX_LENGTH, help_text="Keyed hash of the reference.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    level = models.PositiveSmallIntegerField()
    site = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=16, choices=OncallSource.choices)

    class Meta:
        constraints = [
            # The natural key: a re-import of the same shift stores nothing (its site is an attribute).
            models.UniqueConstraint(
                fields=["team", "responder", "starts_at", "ends_at", "level"], name="oncall_shift_natural_key"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="oncall_shift_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(level__in=(1, 2)), name="oncall_shift_level_1_or_2"),
        ]
        indexes = [models.Index(fields=["team", "starts_at"], name="oncall_shift_team_start")]

    def __str__(self) -> str:
        return f"On-call shift of team {self.team_id} from {self.starts_at.isoformat()}"


class OncallPage(models.Model):
    """One notification sent to a responder of a team (docs/oncall.md §1.2)."""

    class Urgency(models.TextChoices):
        HIGH = "high", "High"
        LOW = "low", "Low"

    class Channel(models.TextChoices):
        PUSH = "push", "Push"
        PHONE = "phone", "Phone"
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    team = models.ForeignKey("surveys.Team", on_delete=models.CASCADE, related_name="oncall_pages")
    responder = models.CharField(max_length=REFERENCE_HEX_LENGTH, help_text="Keyed hash of the reference.")
    responder_time_zone = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    incident = models.CharField(max_length=REFERENCE_HEX_LENGTH, help_text="Keyed hash of the reference.")
    urgency = models.CharField(max_length=8, choices=Urgency.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    source = models.CharField(max_length=16, choices=OncallSource.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "responder", "occurred_at", "incident", "channel"],
                name="oncall_page_natural_key",
            ),
            models.CheckConstraint(condition=Q(urgency__in=("high", "low")), name="oncall_page_urgency"),
            models.CheckConstraint(
                condition=Q(channel__in=("push", "phone", "sms", "email")), name="oncall_page_channel"
            ),
        ]
        indexes = [models.Index(fields=["team", "occurred_at"], name="oncall_page_team_time")]

    def __str__(self) -> str:
        return f"On-call page of team {self.team_id} at {self.occurred_at.isoformat()}"


class OncallAbsence(models.Model):
    """A person's time off (first and last day, inclusive), known only by the keyed hash of the person.

    No foreign key to the person and no email: a team's count is made by hashing its members' ids the same
    way (``keyed_reference(organisation, "person", str(person.pk))``), so the table alone says nothing about
    who was away."""

    organisation = models.ForeignKey(
        "surveys.Organisation", on_delete=models.CASCADE, related_name="oncall_absences"
    )
    person = models.CharField(max_length=REFERENCE_HEX_LENGTH, help_text="Keyed hash of the person's id.")
    first_day = models.DateField()
    last_day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "person", "first_day", "last_day"], name="oncall_absence_natural_key"
            ),
            models.CheckConstraint(
                condition=Q(last_day__gte=F("first_day")), name="oncall_absence_last_not_before_first"
            ),
        ]

    def __str__(self) -> str:
        return f"Absence from {self.first_day} to {self.last_day}"


class OncallImport(models.Model):
    """One write of on-call rows or time off: who (an admin; none for a sync), when, from where, how many."""

    class Kind(models.TextChoices):
        LOAD = "load", "Shifts and pages"
        TIME_OFF = "time_off", "Time off"

    organisation = models.ForeignKey(
        "surveys.Organisation", on_delete=models.CASCADE, related_name="oncall_imports"
    )
    team = models.ForeignKey(
        "surveys.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="oncall_imports"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=OncallSource.choices)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)
    shifts_new = models.PositiveIntegerField(default=0)
    shifts_existing = models.PositiveIntegerField(default=0)
    pages_new = models.PositiveIntegerField(default=0)
    pages_existing = models.PositiveIntegerField(default=0)
    absences_new = models.PositiveIntegerField(default=0)
    absences_existing = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-imported_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "-imported_at"], name="oncall_import_org_time")]

    def __str__(self) -> str:
        return f"On-call import {self.pk} ({self.kind}, {self.source})"


class OncallWeek(models.Model):
    """A team's on-call load in one ISO week of its own time zone (docs/oncall.md §2), per team only."""

    team = models.ForeignKey("surveys.Team", on_delete=models.CASCADE, related_name="oncall_weeks")
    week_start = models.DateField(help_text="The Monday of the ISO week, in the team's time zone.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    interruptions_business = models.PositiveIntegerField()
    interruptions_off = models.PositiveIntegerField()
    interruptions_sleep = models.PositiveIntegerField()
    max_on_call_share = models.FloatField(null=True, blank=True)
    median_on_call_share = models.FloatField(null=True, blank=True)
    incidents = models.PositiveIntegerField()
    incidents_per_shift = models.FloatField(null=True, blank=True)
    rotation_size = models.PositiveIntegerField()
    rotation_by_site = models.JSONField(default=dict, blank=True)
    concentration = models.FloatField(
        null=True, blank=True, help_text="Only when the rotation has >= k people."
    )
    without_time_off_share = models.FloatField(
        null=True, blank=True, help_text="Only when the team has >= k people."
    )
    reasons = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField()
    rules_version = models.PositiveSmallIntegerField(
        default=0, help_text="pulse.analysis.oncall.RULES_VERSION when computed; older weeks are recomputed."
    )

    class Meta:
        ordering = ["team", "week_start"]
        constraints = [
            models.UniqueConstraint(fields=["team", "week_start"], name="oncall_week_one_per_team_week"),
        ]

    def __str__(self) -> str:
        return f"On-call week {self.week_start} of team {self.team_id}"

    @property
    def interruptions(self) -> int:
        return self.interruptions_business + self.interruptions_off + self.interruptions_sleep
