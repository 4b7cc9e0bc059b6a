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


@shared_task(
    name="pulse.tasks.send_team_summary_slack_messages", autoretry_for=(OperationalError,), max_retries=3
)
def send_team_summary_slack_messages() -> int:
    """Send the team summaries' Slack DMs that are due (``team_summary_slack_send_due``). Woken on commit by
    the step that queued them; the minute tick runs the same step. Safe twice or at once: each sender
    claims its rows, so a DM is sent once."""
    from pulse.services.team_summary_slack import team_summary_slack_send_due

    return team_summary_slack_send_due()


@shared_task(name="pulse.tasks.oncall_weeks_compute", autoretry_for=(OperationalError,), max_retries=5)
def oncall_weeks_compute(team_id: int) -> int:
    """Recompute one team's on-call weeks from its stored rows (``oncall_weeks_compute``). Idempotent: it
    upserts the same weeks from the same rows, under the team's lock, so running it twice changes nothing."""
    from pulse.services.oncall import oncall_weeks_compute as compute

    return compute(team_id=team_id)


@shared_task(name="pulse.tasks.oncall_weeks_refresh", autoretry_for=(OperationalError,), max_retries=3)
def oncall_weeks_refresh() -> int:
    """Queue the recomputation of every team whose stored weeks follow an older version of the weekly rules
    (``oncall_weeks_refresh``). Idempotent: once they are recomputed, none is left to queue."""
    from pulse.services.oncall import oncall_weeks_refresh as refresh

    return len(refresh())


@shared_task(name="pulse.tasks.sync_pagerduty_team", autoretry_for=(OperationalError,), max_retries=3)
def sync_pagerduty_team(link_id: int) -> str:
    """Sync one PagerDuty-linked team from its cursor (``pagerduty_team_sync``): a link's id in, never a key.
    Safe twice or at once: a second run finds the sync leased and returns, and rows already stored are not
    stored again. Queued on commit by a sync request (webhook, "Sync now", the hourly beat)."""
    from pulse.services.pagerduty import pagerduty_team_sync

    report = pagerduty_team_sync(link_id=link_id)
    return report.outcome.value if report else "skipped"


@shared_task(name="pulse.tasks.sync_pagerduty_all", autoretry_for=(OperationalError,), max_retries=3)
def sync_pagerduty_all() -> int:
    """The hourly beat entry: a (deduplicated) sync request for every PagerDuty-linked team."""
    from pulse.services.pagerduty import pagerduty_syncs_request_all

    return pagerduty_syncs_request_all()
