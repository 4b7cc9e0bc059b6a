"""The team summaries as Slack DMs: the outbox ``TeamSummarySlackMessage`` and its sender.

``pulse.services.team_results.team_summaries_queue_due`` queues one row per member asked on Slack (the
check-ins' rule, ``surveys.services.checkin_channels``), the message rendered once per team and language
(``pulse.selectors.team_results.slack_summary``, from the same parts as the email). This module sends them
with the guarantees of every Pulse outbox, through the check-in DMs' own helpers
(``surveys.services.slack_delivery``), so a workspace has one pace and one 429 pause for all DMs:

* a sender claims due rows by one conditional UPDATE (``surveys.services.delivery.rows_claim``), re-checks
  and extends its claim right before each call, and records the outcome at once: two senders never send
  one summary twice;
* each DM takes the workspace's next slot (``workspace_slot_take``, about one a second); a 429 pauses the
  workspace and the row for ``Retry-After``, not counted as an attempt;
* a temporary failure backs off (2, 4, 8… minutes), a permanent one (the Slack user is gone) or the
  ``MAX_ATTEMPTS``-th is a dead letter: recorded as failed, with the reason and never a Slack id.

Counted in ``/metrics`` with the other Slack messages (``DeliveryCount`` transport ``slack``), and by status
in ``pulse_team_results_messages`` (``pulse.selectors.operations``).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import datetime, timedelta

from celery import current_app
from django.utils import timezone
from slack_sdk import WebClient

from pulse.models.team_results import TeamSummarySlackMessage
from surveys.models import DeliveryCount, SlackUser
from surveys.services.delivery import (
    DeliveryFailure,
    PermanentFailure,
    due_rows_claim,
    retry_wait,
)
from surveys.services.operations import delivery_count_add
from surveys.services.slack_delivery import (
    SEND_BATCH,
    SLACK_ERRORS,
    RateLimited,
    dm_post,
    slack_client,
    slack_failure,
    workspace_slot_take,
    workspace_token,
    workspace_wait_out,
)

logger = logging.getLogger(__name__)

# A batch is the check-in DMs' SEND_BATCH: at a workspace's pace of one a second, well inside one claim.
CLAIM_FOR = timedelta(minutes=2)
MAX_ATTEMPTS = 6

TASK = "pulse.tasks.send_team_summary_slack_messages"


def team_summary_slack_wake() -> None:
    """Wake a worker to send the queued DMs (on commit of the queueing). By name: a service enqueues a task
    without importing the task layer above it."""
    try:
        current_app.send_task(TASK, retry=False)
    except Exception as error:  # the broker is down: the minute tick sends them instead
        logger.warning(
            "team summary DMs: cannot wake a worker (%s); the tick will send", type(error).__name__
        )


def team_summary_slack_claim(
    *, now: datetime, batch: int = SEND_BATCH
) -> tuple[uuid.UUID, list[TeamSummarySlackMessage]]:
    """Claim up to ``batch`` due rows by conditional UPDATE; returns the claim and the rows it won."""
    return due_rows_claim(
        TeamSummarySlackMessage,
        now=now,
        batch=batch,
        claim_for=CLAIM_FOR,
        related=("workspace", "recipient__slack_user"),
    )


def team_summary_slack_send_due(*, now: datetime | None = None, batch: int = SEND_BATCH) -> int:
    """Tick step (and the woken worker's task): send one batch of due summary DMs. Returns how many were
    sent."""
    moment = now or timezone.now()
    claim, rows = team_summary_slack_claim(now=moment, batch=batch)
    counts = Counter[str]()
    clients: dict[int, WebClient] = {}
    paused: set[int] = set()  # workspaces waiting out a 429 or a slow pace: their rows are released
    sent = 0
    for row in rows:
        if row.workspace_id in paused:
            _release(row, claim)
            continue
        if not _still_mine(row, claim):
            continue  # the claim expired and another sender took the row: theirs to send
        slack_user: SlackUser | None = getattr(row.recipient, "slack_user", None)
        if slack_user is None or not slack_user.user_id or not row.recipient.is_active:
            _fail(row, claim, PermanentFailure("no Slack user is matched to the recipient"), moment, counts)
            continue
        if not workspace_slot_take(row.workspace_id):
            paused.add(row.workspace_id)
            _release(row, claim)
            continue
        try:
            if row.workspace_id not in clients:
                clients[row.workspace_id] = slack_client(workspace_token(row.workspace))
            dm_post(clients[row.workspace_id], user_id=slack_user.user_id, text=row.text, blocks=row.blocks)
        except SLACK_ERRORS as error:
            failure = slack_failure(error)
            if isinstance(failure, RateLimited):
                until = workspace_wait_out(row.workspace_id, failure)
                TeamSummarySlackMessage.objects.filter(pk=row.pk, claim=claim).update(
                    due_at=until, claim=None, claimed_until=None, last_error=str(failure)
                )
                paused.add(row.workspace_id)
                counts[DeliveryCount.Outcome.DEFERRED] += 1
            else:
                _fail(row, claim, failure, moment, counts)
            continue
        TeamSummarySlackMessage.objects.filter(pk=row.pk, claim=claim).update(
            status=TeamSummarySlackMessage.Status.SENT,
            sent_at=timezone.now(),
            claim=None,
            claimed_until=None,
            last_error="",
        )
        counts[DeliveryCount.Outcome.SENT] += 1
        sent += 1
    # Counted with the check-in DMs and the flag notifications' Slack messages: /metrics has one Slack
    # transport.
    delivery_count_add(transport=DeliveryCount.Transport.SLACK, counts=counts)
    if rows:
        logger.info("team summary DMs: %s sent of %s rows claimed", sent, len(rows))
    return sent


def _still_mine(row: TeamSummarySlackMessage, claim: uuid.UUID) -> bool:
    """Extend this sender's claim on the row right before its call; False if the claim expired and another
    sender took the row."""
    until = timezone.now() + CLAIM_FOR
    return TeamSummarySlackMessage.objects.filter(pk=row.pk, claim=claim).update(claimed_until=until) == 1


def _release(row: TeamSummarySlackMessage, claim: uuid.UUID) -> None:
    TeamSummarySlackMessage.objects.filter(pk=row.pk, claim=claim).update(claim=None, claimed_until=None)


def _fail(
    row: TeamSummarySlackMessage,
    claim: uuid.UUID,
    failure: DeliveryFailure,
    moment: datetime,
    counts: Counter[str],
) -> None:
    """A permanent failure, or the ``MAX_ATTEMPTS``-th, is a dead letter (failed, with its reason); a
    temporary one backs off (``delivery.retry_wait``)."""
    attempts = row.attempts + 1
    reason = str(failure)[:500]
    wait = retry_wait(failure, attempts, max_attempts=MAX_ATTEMPTS)
    rows = TeamSummarySlackMessage.objects.filter(pk=row.pk, claim=claim)
    if wait is None:
        rows.update(
            status=TeamSummarySlackMessage.Status.FAILED,
            attempts=attempts,
            claim=None,
            claimed_until=None,
            last_error=reason,
        )
        counts[DeliveryCount.Outcome.FAILED] += 1
        logger.warning("team summary DM %s failed for good (attempt %s): %s", row.pk, attempts, reason)
        return
    rows.update(attempts=attempts, due_at=moment + wait, claim=None, claimed_until=None, last_error=reason)
    counts[DeliveryCount.Outcome.RETRIED] += 1
    logger.info("team summary DM %s failed (attempt %s), retrying in %s: %s", row.pk, attempts, wait, reason)
