"""Open rounds that are due, and close rounds whose window ended. Each step claims its rows first.

Opening: a schedule's ``next_opening_at`` is the due-time row. A tick claims it with a conditional UPDATE
from the value it read (healthchecks' pattern) and, in the same transaction, creates the round and its
frozen roster of invitations, which carry their emails' due times. ``(schedule, opens_at)`` is unique as a
second guard. Two ticks, a repeated tick or a worker killed halfway therefore never open a round twice:
either the transaction committed (and the claim moved on) or nothing happened.
"""

from __future__ import annotations

import base64
import logging
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from surveys import cadence
from surveys.models import Invitation, Membership, Question, Round, Schedule
from surveys.round_keys import round_key_store
from surveys.sealing import KeyRing, ballot_size, round_keypair, seal_tokens, token_hash
from surveys.services.answering import COMMENT_MAX_CHARS
from surveys.services.instruments import instrument_mark_used

logger = logging.getLogger(__name__)

OPEN_BATCH = 20
TOKEN_BYTES = 32  # 256 bits per link token
INSERT_CHUNK = 5000  # invitations made and written at a time
# What round_open writes per invitation; the email bookkeeping columns start at their database defaults.
INVITATION_COPY_COLUMNS = (
    "round_id",
    "person_id",
    "teams",
    "token_hash",
    "sealed_token",
    "spent",
    "expires_at",
    *Invitation.EMAIL_DUE_FIELDS,
    "email_due_at",
)


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


class RosterEntry(NamedTuple):
    person_id: int
    time_zone: str
    teams: list[int]


def roster_for(*, schedule: Schedule, on: datetime) -> list[RosterEntry]:
    """Who is asked: active people with a current member role in the schedule's teams, each once, with the
    teams they belong to in scope. Leaders are asked where they are members, not in the teams they lead.
    A person's time zone is their own, else that of their first team in scope, else the organisation's."""
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
    # Rows come grouped by person: one pass, no dictionary (100,000 people is 100,000 rows or more).
    roster: list[RosterEntry] = []
    previous = None
    for person_id, person_zone, team_id, team_zone in rows:
        if person_id == previous:
            roster[-1].teams.append(team_id)
        else:
            roster.append(RosterEntry(person_id, person_zone or team_zone or organisation_zone, [team_id]))
            previous = person_id
    return roster


# The invitation, then ``cadence.MAX_REMINDERS`` reminders: one per ``Invitation.EMAIL_DUE_FIELDS``.
EmailDueTimes = tuple[datetime | None, ...]


def email_due_times(
    *, schedule: Schedule, opens_at: datetime, closes_at: datetime, zone: str
) -> EmailDueTimes:
    """When a recipient in ``zone`` gets the invitation and each reminder, in sending order (the
    ``Invitation.EMAIL_DUE_FIELDS``); None: not sent. The rule is ``cadence.email_due_times``: reminders
    count whole days on the schedule's wall clock, then wait out the recipient's quiet hours."""
    return cadence.email_due_times(
        opens_at,
        closes_at,
        schedule.reminders,
        tz=schedule.effective_time_zone,
        recipient_tz=zone,
        quiet_start=schedule.quiet_start,
        quiet_end=schedule.quiet_end,
        weekends_quiet=schedule.quiet_weekends,
    )


def round_open(*, schedule: Schedule, opens_at: datetime, closes_at: datetime) -> Round:
    """Create the round and freeze its roster as invitations with single-use tokens and their emails' due
    times (the invitation row is the email outbox: ``surveys.services.emails`` sends from it).

    Must run inside the transaction that claimed the opening. A round can invite a whole organisation
    (100,000 people), so the rows are written set-wise: COPY on PostgreSQL (measured by ``pulse_bench
    invitations``), bulk_create elsewhere.
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
    # Quiet hours depend only on the instant and the recipient's zone: computed once per zone.
    due_by_zone = {
        zone: email_due_times(schedule=schedule, opens_at=opens_at, closes_at=closes_at, zone=zone)
        for zone in {entry.time_zone for entry in roster}
    }
    _insert_invitations(round_, roster, due_by_zone, ring)
    private_key, public_key = round_keypair()
    size = _ballot_size(round_, roster)
    # Written to the key store before the round commits: a crash after this leaves a key with no round,
    # which the sweep removes (``round_keys_sweep``); the reverse order could leave a round with no key.
    round_key_store().put(round_.pk, private_key)
    Round.objects.filter(pk=round_.pk).update(
        invited_count=len(roster), ballot_public_key=public_key, ballot_size=size
    )
    round_.invited_count, round_.ballot_public_key, round_.ballot_size = len(roster), public_key, size
    logger.info("round %s opened for schedule %s: %s invitations", round_.pk, schedule.pk, len(roster))
    return round_


def _ballot_size(round_: Round, roster: list[RosterEntry]) -> int:
    """The one plaintext length of this round's ballots: its questions at their longest answers, and the
    roster's largest set of teams (``surveys.sealing.ballot_size``)."""
    choice_values: dict[int, list[int]] = {}
    text_questions: list[int] = []
    for question_id, kind, options in Question.objects.filter(instrument__rounds=round_).values_list(
        "pk", "kind", "options"
    ):
        if kind == Question.Kind.TEXT:
            text_questions.append(question_id)
        else:
            choice_values[question_id] = [int(option["value"]) for option in options]
    return ballot_size(
        choice_values=choice_values,
        text_questions=text_questions,
        text_max_chars=COMMENT_MAX_CHARS,
        max_teams=max((len(entry.teams) for entry in roster), default=1),
        max_team_id=max((max(entry.teams) for entry in roster), default=round_.team_id),
    )


def _new_tokens(count: int) -> list[str]:
    """``count`` link tokens of 256 bits each from the OS's CSPRNG (``secrets``), urlsafe base64.

    One read of ``32 × count`` random bytes cut into 32-byte pieces: the same source and the same tokens as
    ``count`` calls of ``secrets.token_urlsafe(32)``, without a system call per token."""
    pool = secrets.token_bytes(TOKEN_BYTES * count)
    encode = base64.urlsafe_b64encode
    return [
        encode(pool[start : start + TOKEN_BYTES]).rstrip(b"=").decode("ascii")
        for start in range(0, TOKEN_BYTES * count, TOKEN_BYTES)
    ]


def _insert_invitations(
    round_: Round, roster: list[RosterEntry], due_by_zone: dict[str, EmailDueTimes], ring: KeyRing
) -> None:
    """One invitation per roster entry: a fresh token (only its SHA-256 and a sealed copy are stored) and
    the due times of its emails; the email bookkeeping columns start at their database defaults.

    Written a chunk at a time as the tokens are made, so that PostgreSQL inserts one chunk while the next
    one's tokens are made and sealed (on 100,000 people, about 0.2 s less than making them all first)."""
    chunks = (roster[start : start + INSERT_CHUNK] for start in range(0, len(roster), INSERT_CHUNK))
    if connection.vendor == "postgresql":
        # COPY's text format, written by hand: every value here is an integer, a JSON list of integers, a
        # bytea (hex) or a timestamp, none of which needs escaping, and the due times repeat per zone.
        def stamp(moment: datetime | None) -> str:
            return "\\N" if moment is None else moment.isoformat()

        due_text = {
            zone: "\t".join(stamp(moment) for moment in (*due, due[0])) for zone, due in due_by_zone.items()
        }
        prefix = f"{round_.pk}\t"
        fixed = f"\tf\t{round_.closes_at.isoformat()}\t"
        columns = ", ".join(INVITATION_COPY_COLUMNS)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY surveys_invitation ({columns}) FROM STDIN") as copy,
        ):
            for chunk in chunks:
                tokens = _new_tokens(len(chunk))
                copy.write(
                    "".join(
                        f"{prefix}{entry.person_id}\t[{','.join(map(str, entry.teams))}]"
                        f"\t\\\\x{token_hash(token).hex()}\t\\\\x{sealed.hex()}{fixed}{due_text[entry.time_zone]}\n"
                        for entry, token, sealed in zip(chunk, tokens, seal_tokens(ring, tokens), strict=True)
                    )
                )
        return
    for chunk in chunks:
        tokens = _new_tokens(len(chunk))
        Invitation.objects.bulk_create(
            Invitation(
                round=round_,
                person_id=entry.person_id,
                teams=entry.teams,
                token_hash=token_hash(token),
                sealed_token=sealed,
                expires_at=round_.closes_at,
                **dict(zip(Invitation.EMAIL_DUE_FIELDS, due_by_zone[entry.time_zone], strict=True)),
                email_due_at=due_by_zone[entry.time_zone][0],
            )
            for entry, token, sealed in zip(chunk, tokens, seal_tokens(ring, tokens), strict=True)
        )
