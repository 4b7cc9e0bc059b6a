"""Celery tasks of the pulse app: thin, idempotent, ids in."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from pulse.services.aggregation import round_aggregate


@shared_task(
    name="pulse.tasks.aggregate_round",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def aggregate_round(round_id: int) -> int:
    """Compute the team aggregates of one closed round (``round_aggregate``). Safe to run twice or at once
    on two workers: the service locks the round and upserts identical rows. The minute tick calls the
    service directly for rounds not aggregated yet; this task is for an explicit (re)run."""
    return round_aggregate(round_id=round_id)


@shared_task(name="pulse.tasks.send_auth_emails", autoretry_for=(OperationalError,), max_retries=3)
def send_auth_emails() -> int:
    """Send the sign-in and email-change emails that are due (``auth_emails_send_due``). Woken on commit
    by the request that queued one; the minute tick runs the same step, so a lost wake-up only delays."""
    from pulse.services.auth_emails import auth_emails_send_due

    return auth_emails_send_due()


@shared_task(name="pulse.tasks.send_team_results_emails", autoretry_for=(OperationalError,), max_retries=3)
def send_team_results_emails() -> int:
    """Send the team summaries and no-action reminders that are due (``team_results_emails_send_due``).
    Woken on commit by the step that queued them; the minute tick runs the same step."""
    from pulse.services.team_results import team_results_emails_send_due

    return team_results_emails_send_due()
