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
