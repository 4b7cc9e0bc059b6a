"""Add to the counters every process shares (``surveys.models.DeliveryCount``, ``StepTiming``).

Each call is one UPDATE that adds to the stored totals (``count = count + n``), so any number of workers on
any number of machines add at once without losing an increment, and without a lock beyond the row's. A row
that does not exist yet is made first (once per transport and outcome, or per step, in an installation's
life). A failure to count is logged, never raised: a counter must not stop a sender that has already sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Case, F, FloatField, IntegerField, Value, When

from surveys.models import DeliveryCount, StepTiming

logger = logging.getLogger(__name__)


def delivery_count_add(*, transport: DeliveryCount.Transport, counts: Mapping[str, int]) -> None:
    """Add ``counts`` (outcome → messages) to ``transport``'s totals; zeros are left out."""
    added = {str(outcome): int(n) for outcome, n in counts.items() if n}
    if not added:
        return
    try:
        rows = DeliveryCount.objects.filter(transport=transport, outcome__in=added)
        updated = rows.update(
            count=F("count")
            + Case(
                *(When(outcome=outcome, then=Value(n)) for outcome, n in added.items()),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        if updated < len(added):
            missing = set(added) - set(rows.values_list("outcome", flat=True))
            for outcome in missing:
                _create_once(
                    partial(DeliveryCount.objects.get_or_create, transport=transport, outcome=outcome)
                )
            DeliveryCount.objects.filter(transport=transport, outcome__in=missing).update(
                count=F("count")
                + Case(
                    *(When(outcome=outcome, then=Value(added[outcome])) for outcome in missing),
                    default=Value(0),
                    output_field=IntegerField(),
                )
            )
    except DatabaseError:
        logger.warning("cannot count %s deliveries %s", transport, added, exc_info=True)


@dataclass
class StepTotals:
    """One drain's totals for one step."""

    runs: int = 0
    rows: int = 0
    seconds: float = 0.0
    failures: int = 0


def step_timings_add(totals: Mapping[str, StepTotals]) -> None:
    """Add each step's totals to its stored ones: one UPDATE for all the steps of a drain."""
    if not totals:
        return

    def added(field: str) -> Case:
        kind = FloatField() if field == "seconds" else IntegerField()
        return Case(
            *(When(step=step, then=Value(getattr(total, field))) for step, total in totals.items()),
            default=Value(0),
            output_field=kind,
        )

    increments = {field: F(field) + added(field) for field in ("runs", "rows", "seconds", "failures")}
    try:
        updated = StepTiming.objects.filter(step__in=totals).update(**increments)
        if updated < len(totals):
            missing = set(totals) - set(
                StepTiming.objects.filter(step__in=totals).values_list("step", flat=True)
            )
            for step in missing:
                _create_once(partial(StepTiming.objects.get_or_create, step=step))
            StepTiming.objects.filter(step__in=missing).update(
                **{field: F(field) + added(field) for field in ("runs", "rows", "seconds", "failures")}
            )
    except DatabaseError:
        logger.warning("cannot record step timings", exc_info=True)


def _create_once(get_or_create: Callable[[], object]) -> None:
    """Make the zero row; another process making it at the same moment is fine."""
    try:
        with transaction.atomic():
            get_or_create()
    except IntegrityError:
        pass  # the other process's row is there now
