"""What ``/metrics`` reports (``pulse.metrics``): the state of the outboxes, the rounds and the tick, read
from the database at scrape time, and the counters every process adds to (``surveys.models.DeliveryCount``,
``StepTiming``).

Nine small queries, each served by an index or a table of a few dozen rows: the due messages by the
outboxes' partial indexes on their due time, the rounds by the partial indexes on open and on
awaiting-aggregation rounds. Counting due messages reads each due row, so a backlog costs in proportion
(100,000 check-in emails due: about 60 ms on PostgreSQL; the whole scrape about 100 ms). The team results'
two outboxes (summaries and no-action reminders, by email and Slack) are counted whole, one GROUP BY each:
their rows are kept, so the counts of queued, sent and failed messages only grow, like counters (a row
per member per round: 100,000 rows read in about 20 ms). Nothing here is per round, per team or per
person: totals by transport, kind, state or step only (docs/operations.md §13 says why no answer or
participation count appears).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Min, Q

from pulse.models import AuthEmail, Notification, TeamResultsEmail
from pulse.models.team_results import TeamSummarySlackMessage
from surveys.models import DeliveryCount, Invitation, Round, StepTiming, TickHeartbeat

#: The transport label of each notification transport (``DeliveryCount.Transport``'s names).
NOTIFICATION_TRANSPORTS: dict[str, str] = {
    Notification.Transport.EMAIL: DeliveryCount.Transport.NOTIFICATION_EMAIL,
    Notification.Transport.SLACK: DeliveryCount.Transport.SLACK,
    Notification.Transport.WEBHOOK: DeliveryCount.Transport.WEBHOOK,
}


@dataclass(frozen=True)
class Due:
    """Messages of one transport due now and not yet handled, and when the oldest of them fell due."""

    count: int
    oldest_due_at: datetime | None


#: The ``transport`` label of the team results' outboxes in ``pulse_messages_due`` (no ``DeliveryCount``
#: transport: their totals are read from the rows themselves, ``team_results``).
TEAM_RESULTS_EMAIL = "team_results_email"
TEAM_RESULTS_SLACK = "team_results_slack"


@dataclass(frozen=True)
class StepTotals:
    runs: int
    rows: int
    seconds: float
    failures: int


@dataclass(frozen=True)
class OperationsSnapshot:
    now: datetime
    due: dict[str, Due]
    rounds: dict[str, int]
    tick_started_at: datetime | None
    tick_finished_at: datetime | None
    deliveries: dict[tuple[str, str], int]
    steps: dict[str, StepTotals] = field(default_factory=dict)
    #: (kind, channel, outcome) -> messages: ``queued`` (every row), ``sent``, ``failed`` (dead letters)
    team_results: dict[tuple[str, str, str], int] = field(default_factory=dict)


def operations_snapshot(*, now: datetime) -> OperationsSnapshot:
    """Everything ``/metrics`` reports, as of ``now``."""
    due = dict.fromkeys(DeliveryCount.Transport.values, Due(0, None))
    checkin = Invitation.objects.filter(email_due_at__lte=now).aggregate(
        n=Count("pk"), oldest=Min("email_due_at")
    )
    due[DeliveryCount.Transport.CHECKIN_EMAIL] = Due(checkin["n"], checkin["oldest"])
    for transport, n, oldest in (
        Notification.objects.filter(status=Notification.Status.PENDING, due_at__lte=now)
        .values("transport")
        .annotate(n=Count("pk"), oldest=Min("due_at"))
        .values_list("transport", "n", "oldest")
        .order_by()
    ):
        due[NOTIFICATION_TRANSPORTS[transport]] = Due(n, oldest)
    sign_in = AuthEmail.objects.filter(status=AuthEmail.Status.PENDING, due_at__lte=now).aggregate(
        n=Count("pk"), oldest=Min("due_at")
    )
    due[DeliveryCount.Transport.SIGN_IN_EMAIL] = Due(sign_in["n"], sign_in["oldest"])
    team_results, due[TEAM_RESULTS_EMAIL], due[TEAM_RESULTS_SLACK] = _team_results(now)

    is_open = Q(status=Round.Status.OPEN)
    awaiting_aggregation = Q(status=Round.Status.CLOSED, aggregated_at__isnull=True)
    rounds = Round.objects.filter(is_open | awaiting_aggregation).aggregate(
        open=Count("pk", filter=is_open & Q(closes_at__gt=now)),
        closing=Count("pk", filter=is_open & Q(closes_at__lte=now)),
        aggregating=Count("pk", filter=awaiting_aggregation),
    )
    tick = (
        TickHeartbeat.objects.filter(name=TickHeartbeat.MINUTE)
        .values_list("started_at", "finished_at")
        .first()
    )
    deliveries = {
        (transport, outcome): count
        for transport, outcome, count in DeliveryCount.objects.values_list("transport", "outcome", "count")
    }
    steps = {
        step: StepTotals(runs, rows, seconds, failures)
        for step, runs, rows, seconds, failures in StepTiming.objects.values_list(
            "step", "runs", "rows", "seconds", "failures"
        )
    }
    return OperationsSnapshot(
        now=now,
        due=due,
        rounds={state: int(n) for state, n in rounds.items()},
        tick_started_at=tick[0] if tick else None,
        tick_finished_at=tick[1] if tick else None,
        deliveries=deliveries,
        steps=steps,
        team_results=team_results,
    )


#: The kinds of the team results' messages, as ``/metrics`` labels them.
TEAM_RESULTS_KINDS = {
    TeamResultsEmail.Kind.SUMMARY: "summary",
    TeamResultsEmail.Kind.NO_ACTION_REMINDER: "no_action_reminder",
}
TEAM_RESULTS_CHANNELS = ("email", "slack")


def _team_results(now: datetime) -> tuple[dict[tuple[str, str, str], int], Due, Due]:
    """The team summaries' and no-action reminders' messages by kind, channel and outcome, and those due
    now of each channel. One query per outbox."""
    totals = {
        (kind, channel, outcome): 0
        for kind in TEAM_RESULTS_KINDS.values()
        for channel in TEAM_RESULTS_CHANNELS
        for outcome in ("queued", "sent", "failed")
    }
    is_due = Q(status="pending", due_at__lte=now)
    emails = (
        TeamResultsEmail.objects.values_list("kind", "status")
        .annotate(n=Count("pk"), due=Count("pk", filter=is_due), oldest=Min("due_at", filter=is_due))
        .order_by()
    )
    dms = (  # only summaries go as Slack DMs
        TeamSummarySlackMessage.objects.values_list("status")
        .annotate(n=Count("pk"), due=Count("pk", filter=is_due), oldest=Min("due_at", filter=is_due))
        .order_by()
    )
    rows = [("email", kind, *counts) for kind, *counts in emails]
    rows += [("slack", TeamResultsEmail.Kind.SUMMARY, *counts) for counts in dms]
    due = {channel: Due(0, None) for channel in TEAM_RESULTS_CHANNELS}
    for channel, kind, status, n, n_due, oldest in rows:
        label = TEAM_RESULTS_KINDS[kind]
        totals[label, channel, "queued"] += n
        if status in ("sent", "failed"):
            totals[label, channel, status] += n
        earlier = due[channel].oldest_due_at
        if oldest is not None and earlier is not None:
            oldest = min(oldest, earlier)
        due[channel] = Due(due[channel].count + n_due, oldest or earlier)
    return totals, due["email"], due["slack"]
