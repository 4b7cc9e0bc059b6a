"""Escalation: a flag open and unacknowledged for the escalation period goes to the leaders one team up.

Kept apart from the flag's life (``pulse.services.flags``) because it runs on the clock, not on a trend
run or a leader's click. The period counts in real time: from the flag's
:class:`~pulse.models.notifications.EscalationClock`, started on the wall clock when the opening was
written, never from ``Flag.opened_at`` alone. A trend run over history loaded at once (the demo's twelve
weeks, with ``now`` in the past) opens flags "weeks ago"; counted from there every one of them would
escalate at the first tick, for a decline nobody could have acknowledged yet.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from pulse.models import Flag, FlagEvent
from pulse.models.notifications import EscalationClock
from pulse.services.flags import flag_event_write
from pulse.services.notifications import flag_leader_chain, notifications_for_event
from surveys.models import Team

ESCALATE_BATCH = 100


def escalation_clocks_start_missing(*, now: datetime, batch: int = ESCALATE_BATCH) -> int:
    """Start the clock of open flags whose current opening has none (opened by a path that did not record
    it, or before clocks existed): from now, the first time this step sees them open. Returns how many."""
    unseen = list(
        Flag.objects.filter(state=Flag.State.OPEN, opened_at__isnull=False)
        .filter(Q(escalation_clock__isnull=True) | ~Q(escalation_clock__opened_at=F("opened_at")))
        .only("pk", "opened_at")[:batch]
    )
    started = max(now, timezone.now())
    for flag in unseen:
        assert flag.opened_at is not None
        EscalationClock.objects.update_or_create(
            flag_id=flag.pk, defaults={"opened_at": flag.opened_at, "started_at": started}
        )
    return len(unseen)


def flags_escalate_due(*, now: datetime | None = None, batch: int = ESCALATE_BATCH) -> int:
    """Tick step: flags open and unacknowledged for N days go to the leaders of the next team up.

    N is ``PULSE_FLAG_ESCALATE_AFTER_DAYS`` (default 7), counted from the opening as the system really saw
    it (its escalation clock, and never before ``opened_at``) or from the last escalation. The escalation
    is claimed by a conditional UPDATE on (state, escalation level), so two ticks escalate once. A flag
    already at the top is stamped (``escalated_at``) and checked again N days later.
    Returns how many flags were escalated.
    """
    moment = now or timezone.now()
    escalation_clocks_start_missing(now=moment, batch=batch)
    cutoff = moment - timedelta(days=settings.PULSE_FLAG_ESCALATE_AFTER_DAYS)
    due = list(
        Flag.objects.filter(
            state=Flag.State.OPEN,
            opened_at__lte=cutoff,
            escalation_clock__opened_at=F("opened_at"),
            escalation_clock__started_at__lte=cutoff,
        )
        .exclude(escalated_at__gt=cutoff)
        .select_related("team")
        .order_by("opened_at")[:batch]
    )
    escalated = 0
    for flag in due:
        chain = flag_leader_chain(flag=flag)
        level = flag.escalation_level + 1
        with transaction.atomic():
            if level >= len(chain):
                Flag.objects.filter(pk=flag.pk, state=Flag.State.OPEN).update(escalated_at=moment)
                continue
            claimed = Flag.objects.filter(
                pk=flag.pk, state=Flag.State.OPEN, escalation_level=flag.escalation_level
            ).update(escalation_level=level, escalated_at=moment)
            if claimed != 1:
                continue
            flag.escalation_level, flag.escalated_at = level, moment
            team: Team = chain[level][0]
            days = settings.PULSE_FLAG_ESCALATE_AFTER_DAYS
            event = flag_event_write(
                flag,
                FlagEvent.Kind.ESCALATED,
                from_state=flag.state,
                now=moment,
                why=f"Not acknowledged within {days} days; escalated to the leaders of {team.name}.",
                data={"level": level, "team": team.pk, "team_name": team.name, "days": days},
            )
            notifications_for_event(event=event, now=moment)
            escalated += 1
    return escalated
