"""The columns every outbox row of pulse carries, so that ``surveys.services.delivery`` claims and backs
off flag notifications and sign-in emails alike (docs/architecture.md §5: detect, then deliver)."""

from __future__ import annotations

from django.db import models


class OutboxRow(models.Model):
    """Due from ``due_at``; held by a sender while ``claim`` is its id and ``claimed_until`` is ahead;
    ``attempts`` and ``last_error`` (a reason, never an address) after each failed try."""

    due_at = models.DateTimeField()
    claim = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        abstract = True
