"""Retention: free-text comments are deleted a configurable time after their round closed.

Counts and aggregates are kept (they hold no text and are what trends are made of); comments are the one
part of a round that can carry something identifying in a person's own words, so they are kept only as
long as they are useful: ``PULSE_COMMENT_RETENTION_DAYS`` after the round was counted (default 365, the
"12 months" of the disclosure issue). The step runs from the minute tick in bounded batches, so a backlog
(the first run after an upgrade, or a shortened period) drains over a few ticks instead of one long
transaction, and a run with nothing to delete costs one small query.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from surveys.models import Comment, Round

logger = logging.getLogger(__name__)

# Rows per DELETE and DELETEs per run: at most 10,000 comments a minute, each DELETE a short transaction.
DELETE_BATCH = 1000
MAX_BATCHES = 10


def comments_delete_expired(
    now: datetime | None = None, *, batch: int = DELETE_BATCH, max_batches: int = MAX_BATCHES
) -> int:
    """Delete comments of rounds counted more than ``PULSE_COMMENT_RETENTION_DAYS`` ago, at most
    ``batch × max_batches`` per call. Returns how many were deleted; running it twice is harmless.

    Cost when there is nothing to delete: one query that walks the rounds counted before the cut-off and
    probes the comment table's ``round_id`` index once per such round (rounds are few: one per schedule and
    cadence step, not per person), returning no row.
    """
    moment = now or timezone.now()
    cutoff = moment - timedelta(days=settings.PULSE_COMMENT_RETENTION_DAYS)
    expired_rounds = Round.objects.filter(status=Round.Status.CLOSED, counted_at__lt=cutoff)
    deleted = 0
    for _ in range(max_batches):
        # Ids first, then DELETE … WHERE id IN: a bounded DELETE works on SQLite and PostgreSQL alike.
        ids = list(
            Comment.objects.filter(round__in=expired_rounds).order_by().values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        count, _by_model = Comment.objects.filter(pk__in=ids).delete()
        deleted += count
        if len(ids) < batch:
            break
    if deleted:
        logger.info("deleted %s comments of rounds counted before %s", deleted, cutoff.date())
    return deleted
