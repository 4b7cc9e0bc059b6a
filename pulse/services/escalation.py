"""Escalation: a flag open and unacknowledged for the escalation period goes to the leaders one team up.

Kept apart from the flag's life (``pulse.services.flags``) because it runs on the clock, not on a trend
run or a leader's click.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pulse.models import Flag, FlagEvent
from pulse.services.flags import flag_event_write
from pulse.services.notifications import flag_leader_chain, notifications_for_event
from surveys.models import Team

ESCALATE_BATCH = 100


def flags_escalate_due(*, now: datetime | None = None, batch: int = ESCALATE_BATCH) -> int:
    """Tick step: flags open and unacknowledged for N days go to the leaders of the next team up.

    N is ``PULSE_FLAG_ESCALATE_AFTER_DAYS`` (default 7), counted from the opening or the last escalation.
    The escalation is claimed by a conditional UPDATE on (state, escalation level), so two ticks escalate
    once. A flag already at the top is stamped (``escalated_at``) and checked again N days later.
    Returns how many flags were escalated.
    """
    moment = now or timezone.now()
    cutoff = moment - timedelta(days=settings.PULSE_FLAG_ESCALATE_AFTER_DAYS)
    due = list(
        Flag.objects.filter(state=Flag.State.OPEN, opened_at__lte=cutoff)
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
                data={"level": level, "team": team.pk},
            )
            notifications_for_event(event=event, now=moment)
            escalated += 1
    return escalated
