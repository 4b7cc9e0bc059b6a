"""Open rounds that are due, and close rounds whose window ended. Each step claims its rows first.

Opening: a schedule's ``next_opening_at`` is the due-time row. A tick claims it with a conditional UPDATE
from the value it read (healthchecks' pattern) and, in the same transaction, creates the round, its frozen
roster of invitations and their emails. ``(schedule, opens_at)`` is unique as a second guard. Two ticks, a
repeated tick or a worker killed halfway therefore never open a round twice: either the transaction
committed (and the claim moved on) or nothing happened.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from surveys import cadence
from surveys.models import Invitation, Membership, OutgoingEmail, Round, Schedule
from surveys.sealing import KeyRing, seal_token, token_hash
from surveys.services.instruments import instrument_mark_used

logger = logging.getLogger(__name__)

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
        # An unsaved schedule (the editor's preview) has no pauses yet.
        pauses=tuple(cadence.Pause(pause.starts_on, pause.ends_on) for pause in schedule.pauses.all())
        if schedule.pk
        else (),
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
    in_scope = (
        {"team__path__startswith": schedule.team.path}
        if schedule.include_subtree
        else {"team_id": schedule.team_id}
    )
    organisation_zone = schedule.organisation.time_zone
    # One join instead of a list of team ids: a whole organisation's roster is one indexed query.
    rows = (
        Membership.objects.current(day)
        .filter(
            **in_scope,
            team__organisation_id=schedule.organisation_id,
            role=Membership.Role.MEMBER,
            person__is_active=True,
        )
        .values_list("person_id", "person__time_zone", "team_id", "team__time_zone")
        .order_by("person_id", "team_id")
    )
    entries: dict[int, tuple[str, list[int]]] = {}
    for person_id, person_zone, team_id, team_zone in rows:
        _zone, teams = entries.setdefault(person_id, (person_zone or team_zone or organisation_zone, []))
        teams.append(team_id)
    return [RosterEntry(person_id, zone, tuple(teams)) for person_id, (zone, teams) in entries.items()]


def round_open(*, schedule: Schedule, opens_at: datetime, closes_at: datetime) -> Round:
    """Create the round, freeze its roster as invitations with single-use tokens, and queue their emails.

    Must run inside the transaction that claimed the opening. A round can invite a whole organisation
    (100,000 people), so the rows are written set-wise: COPY for the invitations and one INSERT … SELECT per
    kind of email on PostgreSQL (measured by ``pulse_bench invitations``), bulk_create elsewhere.
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
        # From now on its wording is frozen: an edit makes a new version.
        instrument_mark_used(instrument=instrument)
    roster = roster_for(schedule=schedule, on=opens_at)
    rows = []
    for entry in roster:
        token = secrets.token_urlsafe(32)  # 256 bits from the OS's CSPRNG
        rows.append((entry.person_id, list(entry.teams), token_hash(token), seal_token(ring, token=token)))
    _insert_invitations(round_, rows)

    # Quiet hours depend only on the instant and the recipient's zone: computed once per zone.
    quiet = (schedule.quiet_start, schedule.quiet_end, schedule.quiet_weekends)
    zones = {entry.time_zone for entry in roster}
    sends: list[tuple[str, int, dict[str, datetime]]] = [
        (
            OutgoingEmail.Kind.INVITATION,
            0,
            {zone: cadence.defer_for_quiet_hours(opens_at, zone, *quiet) for zone in zones},
        )
    ]
    for number, offset in enumerate(schedule.reminders, start=1):
        due = {zone: cadence.defer_for_quiet_hours(closes_at - offset, zone, *quiet) for zone in zones}
        # A reminder pushed past the close by quiet hours reaches nobody: it is not queued.
        sends.append(
            (OutgoingEmail.Kind.REMINDER, number, {z: d for z, d in due.items() if opens_at < d < closes_at})
        )
    _insert_emails(
        round_,
        [
            (entry.person_id, kind, number, due_by_zone[entry.time_zone])
            for kind, number, due_by_zone in sends
            for entry in roster
            if entry.time_zone in due_by_zone
        ],
    )
    Round.objects.filter(pk=round_.pk).update(invited_count=len(rows))
    round_.invited_count = len(rows)
    logger.info("round %s opened for schedule %s: %s invitations", round_.pk, schedule.pk, len(rows))
    return round_


def _insert_invitations(round_: Round, rows: list[tuple[int, list[int], bytes, bytes]]) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            copy_sql = (
                "COPY surveys_invitation"
                " (round_id, person_id, teams, token_hash, sealed_token, spent, expires_at) FROM STDIN"
            )
            with cursor.cursor.copy(copy_sql) as copy:
                for person_id, teams, hashed, sealed in rows:
                    copy.write_row(
                        (round_.pk, person_id, json.dumps(teams), hashed, sealed, False, round_.closes_at)
                    )
        return
    Invitation.objects.bulk_create(
        (
            Invitation(
                round=round_,
                person_id=person_id,
                teams=teams,
                token_hash=hashed,
                sealed_token=sealed,
                expires_at=round_.closes_at,
            )
            for person_id, teams, hashed, sealed in rows
        ),
        batch_size=2000,
    )


def _insert_emails(round_: Round, due: list[tuple[int, str, int, datetime]]) -> None:
    """Queue the emails (person, kind, number, due time) of the round's invitations, in one statement."""
    if not due:
        return
    person_ids, kinds, numbers, times = (list(column) for column in zip(*due, strict=True))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO surveys_outgoingemail
                    (invitation_id, kind, number, due_at, status, attempts, last_error)
                SELECT i.id, d.kind, d.number, d.due_at, 'pending', 0, ''
                FROM surveys_invitation i
                JOIN unnest(%s::bigint[], %s::text[], %s::int[], %s::timestamptz[])
                    AS d(person_id, kind, number, due_at) ON d.person_id = i.person_id
                WHERE i.round_id = %s
                """,
                [person_ids, kinds, numbers, times, round_.pk],
            )
        return
    ids = dict(Invitation.objects.filter(round=round_).values_list("person_id", "pk"))
    OutgoingEmail.objects.bulk_create(
        (
            OutgoingEmail(invitation_id=ids[pid], kind=kind, number=number, due_at=when)
            for pid, kind, number, when in due
        ),
        batch_size=2000,
    )
