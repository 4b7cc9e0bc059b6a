"""Open rounds that are due, and close rounds whose window ended. Each step claims its rows first.

Opening: a schedule's ``next_opening_at`` is the due-time row. A tick claims it with a conditional UPDATE
from the value it read (healthchecks' pattern) and, in the same transaction, creates the round, its frozen
roster of invitations and their emails. ``(schedule, opens_at)`` is unique as a second guard. Two ticks, a
repeated tick or a worker killed halfway therefore never open a round twice: either the transaction
committed (and the claim moved on) or nothing happened.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from surveys import cadence
from surveys.models import Invitation, Membership, OutgoingEmail, Round, Schedule, Team
from surveys.sealing import KeyRing, seal_token, token_hash
from surveys.services.instruments import instrument_mark_used

logger = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", bound=models.Model)

OPEN_BATCH = 20


def schedule_spec(schedule: Schedule) -> cadence.CadenceSpec:
    """The pure cadence description of a schedule (see ``surveys.cadence``)."""
    return cadence.CadenceSpec(
        kind=cadence.CadenceKind(schedule.cadence),
        weekday=schedule.weekday,
        every_weeks=schedule.every_n_weeks,
        nth_weekday=schedule.nth_weekday,
        local_time=schedule.local_time,
        time_zone=schedule.effective_time_zone,
        start_date=schedule.starts_on,
        end_date=schedule.ends_on,
        pauses=tuple(cadence.Pause(pause.starts_on, pause.ends_on) for pause in schedule.pauses.all()),
    )


def schedule_next_opening(schedule: Schedule, *, after: datetime) -> datetime | None:
    return cadence.next_opening(schedule_spec(schedule), after)


def schedule_refresh(*, schedule: Schedule, now: datetime | None = None) -> None:
    """Recompute when a schedule next opens (after an edit). Rounds already open are not touched."""
    moment = now or timezone.now()
    nxt = (
        schedule_next_opening(schedule, after=moment - timedelta(microseconds=1))
        if schedule.is_active
        else None
    )
    Schedule.objects.filter(pk=schedule.pk).update(next_opening_at=nxt)
    schedule.next_opening_at = nxt


def rounds_open_due(*, now: datetime | None = None, batch: int = OPEN_BATCH) -> int:
    """Open every round that is due (at most ``batch`` per call). Returns how many were opened."""
    moment = now or timezone.now()
    opened = 0
    due = list(
        Schedule.objects.filter(is_active=True, next_opening_at__lte=moment)
        .select_related("team__organisation", "organisation")
        .prefetch_related("pauses", "instruments")
        .order_by("next_opening_at")[:batch]
    )
    for schedule in due:
        if _open_one(schedule, moment):
            opened += 1
    return opened


def _open_one(schedule: Schedule, moment: datetime) -> bool:
    opens_at = schedule.next_opening_at
    assert opens_at is not None
    following = schedule_next_opening(schedule, after=opens_at)
    try:
        with transaction.atomic():
            claimed = Schedule.objects.filter(pk=schedule.pk, next_opening_at=opens_at).update(
                next_opening_at=following
            )
            if claimed != 1:
                return False  # another tick got there first
            closes_at = cadence.round_closes_at(opens_at, schedule.open_for, schedule.effective_time_zone)
            if closes_at <= moment:
                # Pulse was down for the whole window: a round that would open already closed is skipped,
                # never opened late with no time to answer.
                logger.warning(
                    "schedule %s: skipped the opening of %s (window already over)", schedule.pk, opens_at
                )
                return False
            round_open(schedule=schedule, opens_at=opens_at, closes_at=closes_at)
    except IntegrityError:
        # The unique (schedule, opens_at) constraint caught a duplicate: the round exists already.
        logger.info("schedule %s: round at %s already exists", schedule.pk, opens_at)
        return False
    return True


@dataclass(frozen=True)
class RosterEntry:
    person_id: int
    time_zone: str
    teams: tuple[int, ...]


def roster_for(*, schedule: Schedule, on: datetime) -> list[RosterEntry]:
    """Who is asked: active people with a current member role in the schedule's teams, each once, with the
    teams they belong to in scope. Leaders are asked where they are members, not in the teams they lead."""
    day = on.astimezone(timezone.get_default_timezone()).date()
    scope = (
        Team.objects.subtree_of(schedule.team)
        if schedule.include_subtree
        else Team.objects.filter(pk=schedule.team_id)
    )
    team_zone: dict[int, str] = dict(
        scope.filter(organisation_id=schedule.organisation_id).values_list("pk", "time_zone")
    )
    organisation_zone = schedule.organisation.time_zone
    rows = (
        Membership.objects.current(day)
        .filter(team_id__in=list(team_zone), role=Membership.Role.MEMBER, person__is_active=True)
        .values_list("person_id", "person__time_zone", "team_id")
        .order_by("person_id", "team_id")
    )
    entries: dict[int, tuple[str, list[int]]] = {}
    for person_id, person_zone, team_id in rows:
        _zone, teams = entries.setdefault(
            person_id, (person_zone or team_zone[team_id] or organisation_zone, [])
        )
        teams.append(team_id)
    return [RosterEntry(person_id, zone, tuple(teams)) for person_id, (zone, teams) in entries.items()]


def round_open(*, schedule: Schedule, opens_at: datetime, closes_at: datetime) -> Round:
    """Create the round, freeze its roster as invitations with single-use tokens, and queue their emails.

    Must run inside the transaction that claimed the opening.
    """
    ring = KeyRing.from_settings()
    round_ = Round.objects.create(
        schedule=schedule,
        organisation=schedule.organisation,
        team=schedule.team,
        opens_at=opens_at,
        closes_at=closes_at,
        time_zone=schedule.effective_time_zone,
    )
    instruments = list(schedule.instruments.all())
    round_.instruments.set(instruments)
    for instrument in instruments:
        instrument_mark_used(
            instrument=instrument
        )  # from now on its wording is frozen: edits make a new version
    roster = roster_for(schedule=schedule, on=opens_at)
    invitations = []
    for entry in roster:
        token = secrets.token_urlsafe(32)  # 256 bits from the OS's CSPRNG
        invitations.append(
            Invitation(
                round=round_,
                person_id=entry.person_id,
                teams=list(entry.teams),
                token_hash=token_hash(token),
                sealed_token=seal_token(ring, token=token),
                expires_at=closes_at,
            )
        )
    created = _bulk_insert(Invitation, invitations)
    zone_of = {entry.person_id: entry.time_zone for entry in roster}
    quiet = (schedule.quiet_start, schedule.quiet_end, schedule.quiet_weekends)
    emails: list[OutgoingEmail] = []
    deferred: dict[tuple[datetime, str], datetime] = {}

    def when(instant: datetime, zone: str) -> datetime:
        # Quiet hours depend only on the instant and the zone: computed once per zone, not per person.
        if (instant, zone) not in deferred:
            deferred[(instant, zone)] = cadence.defer_for_quiet_hours(instant, zone, *quiet)
        return deferred[(instant, zone)]

    for invitation in created:
        zone = zone_of[invitation.person_id]
        emails.append(
            OutgoingEmail(
                invitation_id=invitation.pk,
                kind=OutgoingEmail.Kind.INVITATION,
                number=0,
                due_at=when(opens_at, zone),
            )
        )
        for number, offset in enumerate(schedule.reminders, start=1):
            due = when(closes_at - offset, zone)
            if opens_at < due < closes_at:
                emails.append(
                    OutgoingEmail(
                        invitation_id=invitation.pk,
                        kind=OutgoingEmail.Kind.REMINDER,
                        number=number,
                        due_at=due,
                    )
                )
    _bulk_insert(OutgoingEmail, emails)
    Round.objects.filter(pk=round_.pk).update(invited_count=len(created))
    round_.invited_count = len(created)
    logger.info("round %s opened for schedule %s: %s invitations", round_.pk, schedule.pk, len(created))
    return round_


def _bulk_insert(model: type[ModelT], rows: list[ModelT]) -> list[ModelT]:
    """bulk_create in batches; returns the rows with their primary keys (PostgreSQL and SQLite both
    return ids from INSERT … RETURNING)."""
    if not rows:
        return []
    return model._default_manager.bulk_create(rows, batch_size=2000)
