"""Answer a check-in, and turn a closed round's sealed ballots into counts. The anonymity boundary.

This module and ``surveys.sealing`` are the only code that ever sees one person's answers. A reviewer can
check the promise by reading these two files:

* ``response_submit`` spends the token by conditional UPDATE, records ``Participation(round, person)`` and
  stores the answers as a ``SealedBallot`` (AES-GCM, random id, no person, no time) in one transaction,
  holding a shared lock on the round so that the close step waits for it. Nothing is logged at all.
* ``round_close`` opens every ballot of the round, shuffles them, scores each with ``surveys.scoring``,
  adds them to per-team counters, writes comments in random order, deletes the ballots and erases the
  sealed copies of the invitation tokens, all in one transaction: run twice it finds the round closed and
  does nothing; killed halfway it leaves the round open and the ballots in place.

Counts are written for every team of the person's *closure* (the teams they belong to in the round's scope
and every ancestor up to the schedule's team), each team once per person, so a roll-up is exact and a person
in two sibling teams is counted once in their parent. A team with fewer respondents than the organisation's
minimum group size gets no counts at all: its answers exist only inside larger groups (SCIENCE.md §4).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from surveys import scoring
from surveys.models import (
    AnswerCount,
    Comment,
    Invitation,
    Participation,
    Question,
    RespondentCount,
    Round,
    ScoreCount,
    SealedBallot,
    Team,
)
from surveys.sealing import KeyRing, open_ballot, seal_ballot, token_hash
from surveys.tree import counting_closure, path_ids, storable_teams

logger = logging.getLogger(__name__)

COMMENT_MAX_CHARS = 2000


class SubmitRefused(Exception):
    """The link cannot be used: unknown, already used, expired, or its round closed."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class QuestionSpec:
    """What the validator needs to know about one question of a round."""

    id: int
    key: str
    kind: str  # "choice" or "text"
    values: frozenset[int]
    optional: bool


def round_questions(round_: Round) -> list[Question]:
    """The round's questions, instrument by instrument. Instruments that only ask for free text come last:
    an optional "anything else?" ends the form rather than opening it."""
    questions = list(
        Question.objects.filter(instrument__in=round_.instruments.all())
        .select_related("instrument")
        .order_by("instrument__key", "order")
    )
    with_choices = {question.instrument_id for question in questions if question.kind != "text"}
    return sorted(questions, key=lambda question: question.instrument_id not in with_choices)


@sensitive_variables()  # an error report must not show a person's answers beside their request
def validate_answers(
    questions: Sequence[QuestionSpec], raw: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a submission field by field. Returns (clean answers keyed by question key, errors).

    Every required question must be answered, choices must be on the question's own scale, free text is
    capped and may not contain NUL bytes, and unknown fields are refused (a typo must not be dropped
    silently).
    """
    by_key = {question.key: question for question in questions}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field in raw:
        if field not in by_key:
            errors[field] = "Unknown question for this check-in."
    for question in questions:
        value = raw.get(question.key)
        if value in (None, ""):
            if not question.optional:
                errors[question.key] = "Please answer this question."
            continue
        if question.kind == "text":
            if not isinstance(value, str):
                errors[question.key] = "Expected text."
            elif "\x00" in value:
                errors[question.key] = "The text contains a NUL character."
            elif len(value) > COMMENT_MAX_CHARS:
                errors[question.key] = f"Please keep it under {COMMENT_MAX_CHARS} characters."
            elif value.strip():
                clean[question.key] = value.strip()
            continue
        if isinstance(value, bool):
            errors[question.key] = "Choose one of the options."
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors[question.key] = "Choose one of the options."
            continue
        if str(number) != str(value).strip() and not isinstance(value, int):
            errors[question.key] = "Choose one of the options."
        elif number not in question.values:
            errors[question.key] = "That value is not one of this question's options."
        else:
            clean[question.key] = number
    return clean, errors


def question_specs(round_id: int) -> list[QuestionSpec]:
    """What validation needs of the round's questions, as plain values (no model instances: the submit
    path runs once per answer, under load)."""
    rows = (
        Question.objects.filter(instrument__rounds=round_id)
        .order_by()
        .values_list("pk", "key", "kind", "options", "optional")
    )
    return [
        QuestionSpec(
            id=pk,
            key=key,
            kind=kind,
            values=frozenset(int(option["value"]) for option in options),
            optional=optional,
        )
        for pk, key, kind, options, optional in rows
    ]


class RoundSpecsCache:
    """Per process: the question specs of the rounds answered lately, so a submission costs no query for them.

    Safe because a round's questions cannot change while it is open: its instruments are set when it opens,
    in the transaction that creates it (``surveys.services.rounds.round_open``), and an instrument used by a
    round is locked against edits (``Instrument.is_locked``). A round id is not reused on PostgreSQL (a
    sequence); a test database that rolls back can reuse one, so creating or deleting a round, or changing
    its instruments, empties the cache of this process (the signals below). An empty list is never kept:
    a round without questions is not a state worth remembering. Bounded: least recently used goes first.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._rounds: OrderedDict[int, tuple[QuestionSpec, ...]] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's sync workers are single-threaded; tests use threads

    def get(self, round_id: int) -> tuple[QuestionSpec, ...]:
        with self._lock:
            specs = self._rounds.get(round_id)
            if specs is not None:
                self._rounds.move_to_end(round_id)
                return specs
        specs = tuple(question_specs(round_id))
        if specs:
            with self._lock:
                self._rounds[round_id] = specs
                while len(self._rounds) > self._size:
                    self._rounds.popitem(last=False)
        return specs

    def clear(self, **_signal: Any) -> None:
        with self._lock:
            self._rounds.clear()


round_specs_cache = RoundSpecsCache(size=256)
post_save.connect(round_specs_cache.clear, sender=Round, dispatch_uid="answering_specs_round_saved")
post_delete.connect(round_specs_cache.clear, sender=Round, dispatch_uid="answering_specs_round_deleted")
m2m_changed.connect(
    round_specs_cache.clear, sender=Round.instruments.through, dispatch_uid="answering_specs_instruments"
)


UNKNOWN_REASON = "This check-in link is not valid. Please use the link from your latest email."
SPENT_REASON = "This check-in has already been answered. Thank you!"
CLOSED_REASON = "This check-in has closed. The next one will arrive by email."


def _refusal(
    *, spent: bool, expires_at: datetime, moment: datetime, round_open: bool = True
) -> SubmitRefused | None:
    if spent:
        return SubmitRefused(SPENT_REASON, 410)
    if not round_open or expires_at <= moment:
        return SubmitRefused(CLOSED_REASON, 410)
    return None


def _usable_token(token: str) -> bool:
    # Tokens are 43 characters (32 bytes, urlsafe base64); anything far longer is not looked up at all.
    return bool(token) and len(token) <= 100


def invitation_for_answering(token: str, *, now: datetime | None = None) -> Invitation:
    """The invitation behind a link, or SubmitRefused with a friendly reason. Reads only (a GET)."""
    moment = now or timezone.now()
    invitation = (
        Invitation.objects.select_related("round", "person__organisation")
        .filter(token_hash=token_hash(token))
        .first()
        if _usable_token(token)
        else None
    )
    if invitation is None:
        raise SubmitRefused(UNKNOWN_REASON, 404)
    refused = _refusal(
        spent=invitation.spent,
        expires_at=invitation.expires_at,
        moment=moment,
        round_open=invitation.round.status == Round.Status.OPEN,
    )
    if refused:
        raise refused
    return invitation


def _hold_round_open(round_id: int) -> bool:
    """SQLite, inside the submit transaction: True if the round is open. Transactions there are
    ``IMMEDIATE`` (settings): writers never overlap, so the close step cannot run between this read and the
    commit, and a read is enough. (PostgreSQL takes a row lock instead: ``_store_submission``.)"""
    return Round.objects.filter(pk=round_id, status=Round.Status.OPEN).exists()


@lru_cache(maxsize=1)
def _invitation_sql() -> str:
    qn = connection.ops.quote_name
    return (
        "SELECT id, round_id, person_id, teams, spent, expires_at "
        f"FROM {qn(Invitation._meta.db_table)} WHERE token_hash = %s"
    )


def _invitation_row(hashed: bytes) -> tuple[int, int, int, list[int], bool, datetime] | None:
    """(id, round id, person id, teams, spent, expires at) of the invitation with this token hash.

    Plain SQL: building the same query with the ORM cost a submission more CPU than running it (this is
    the hot path of the check-in API, measured by ``pulse_bench submit``). ``token_hash`` is unique.
    """
    with connection.cursor() as cursor:
        cursor.execute(_invitation_sql(), [hashed])
        row = cursor.fetchone()
    if row is None:
        return None
    invitation_id, round_id, person_id, teams, spent, expires_at = row
    # What the model fields would do: both backends hand JSON to raw cursors as text, and SQLite keeps
    # times without a zone (in the connection's zone, UTC) and booleans as 0/1.
    if timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at, connection.timezone)
    return (
        invitation_id,
        round_id,
        person_id,
        json.loads(teams) if isinstance(teams, str) else teams,
        bool(spent),
        expires_at,
    )


@lru_cache(maxsize=1)
def _submit_sql() -> str:
    """The whole PostgreSQL write of a submission as one statement (see ``_store_submission``)."""
    qn = connection.ops.quote_name
    round_table, invitation_table = qn(Round._meta.db_table), qn(Invitation._meta.db_table)
    participation_table, ballot_table = qn(Participation._meta.db_table), qn(SealedBallot._meta.db_table)
    return f"""
        WITH open_round AS MATERIALIZED (
            SELECT id FROM {round_table} WHERE id = %(round)s AND status = %(open)s FOR SHARE
        ), spent AS (
            UPDATE {invitation_table} SET spent = true
            WHERE id = %(invitation)s AND NOT spent AND expires_at > %(now)s
              AND EXISTS (SELECT FROM open_round)
            RETURNING round_id, person_id
        ), participation AS (
            INSERT INTO {participation_table} (round_id, person_id) SELECT round_id, person_id FROM spent
        ), ballot AS (
            INSERT INTO {ballot_table} (id, round_id, key_id, ciphertext)
            SELECT %(ballot)s, round_id, %(key)s, %(sealed)s FROM spent
        )
        SELECT EXISTS (SELECT FROM open_round), EXISTS (SELECT FROM spent)
    """


def _store_submission(
    *, invitation_id: int, round_id: int, person_id: int, moment: datetime, key: str, sealed: bytes
) -> None:
    """Check the round is open, spend the token, record the Participation and store the SealedBallot, all
    in one transaction; or store nothing and raise ``SubmitRefused``.

    On PostgreSQL this is one statement (one round trip instead of six; it is its own transaction in
    autocommit, and joins the caller's if there is one). Why it keeps the guarantees of the step-by-step
    version:

    * One transaction: every sub-statement of a ``WITH`` runs in it, so the Participation and the ballot
      commit together or not at all, and share one ``xmin`` (the ballot is ciphertext for that reason).
    * Exactly once: the conditional UPDATE names only the invitation's own columns. Concurrent posts of
      one token queue on its row lock; each one after the first re-checks ``NOT spent`` against the
      committed row (READ COMMITTED re-evaluation) and spends nothing, so ``spent`` is empty and the INSERTs,
      which read their rows from ``spent``, write nothing.
    * The close race: ``open_round`` takes a shared lock on the round row, and nothing is written unless it
      returned the row (the UPDATE's condition reads it, the INSERTs read the UPDATE). The close step takes
      ``SELECT … FOR UPDATE`` on the same row, which conflicts with ``FOR SHARE``. If the submission locks
      first, the close waits for its commit and then reads the ballots (a new statement, so a new snapshot
      that includes this one). If the close locks first, the submission waits for the close to commit;
      PostgreSQL then re-checks ``status = 'open'`` against the closed row, ``open_round`` is empty, and
      nothing is spent or stored. Either way no ballot lands after the close counted. ``MATERIALIZED``
      makes the CTE run once, as a unit, whatever the planner would otherwise inline.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _submit_sql(),
                {
                    "round": round_id,
                    "open": Round.Status.OPEN.value,
                    "invitation": invitation_id,
                    "now": moment,
                    "ballot": uuid.uuid4(),  # random: nothing about the submission
                    "key": key,
                    "sealed": sealed,
                },
            )
            round_open, spent = cursor.fetchone()
        if not round_open:
            raise SubmitRefused(CLOSED_REASON, 410)
        if not spent:
            raise SubmitRefused(SPENT_REASON, 410)
        return
    with transaction.atomic():
        if not _hold_round_open(round_id):
            raise SubmitRefused(CLOSED_REASON, 410)
        # Only the invitation's own columns in the claim: a filter through a join (round__status) makes
        # Django write "WHERE id IN (SELECT …)", which PostgreSQL does not re-check against the row that a
        # concurrent submission has just spent, so several would succeed.
        claimed = Invitation.objects.filter(pk=invitation_id, spent=False, expires_at__gt=moment).update(
            spent=True
        )
        if claimed != 1:
            raise SubmitRefused(SPENT_REASON, 410)
        Participation.objects.create(round_id=round_id, person_id=person_id)
        SealedBallot.objects.create(round_id=round_id, key_id=key, ciphertext=sealed)


@sensitive_variables()  # the token and the answers meet here; keep both out of error reports
def response_submit(*, token: str, answers: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Validate and store one submission. Returns the clean answers (for the person's own feedback page).

    Raises ``SubmitRefused`` for a bad link and ``AnswersInvalid`` for bad answers; either way nothing is
    stored. Concurrent posts of one token: the conditional UPDATE lets exactly one through.
    """
    moment = now or timezone.now()
    row = _invitation_row(token_hash(token)) if _usable_token(token) else None
    if row is None:
        raise SubmitRefused(UNKNOWN_REASON, 404)
    invitation_id, round_id, person_id, teams, is_spent, expires_at = row
    # The round's own status is checked, and held, when the submission is stored.
    refused = _refusal(spent=is_spent, expires_at=expires_at, moment=moment)
    if refused:
        raise refused
    specs = round_specs_cache.get(round_id)
    clean, errors = validate_answers(specs, answers)
    if errors:
        raise AnswersInvalid(errors)
    by_key = {spec.key: spec for spec in specs}
    # Sealed before the write so that the write is one statement; a ballot sealed for a submission that
    # is then refused is simply dropped (it was never stored).
    key, sealed = seal_ballot(
        KeyRing.from_settings(),
        round_id=round_id,
        answers={str(by_key[name].id): value for name, value in clean.items()},
        teams=list(teams),
    )
    _store_submission(
        invitation_id=invitation_id,
        round_id=round_id,
        person_id=person_id,
        moment=moment,
        key=key,
        sealed=sealed,
    )
    return clean


class AnswersInvalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("the answers are not valid")
        self.errors = errors


@sensitive_variables()  # opened ballots are in its frames: keep them out of error reports
def round_close(*, round_id: int, now: datetime | None = None) -> bool:
    """Close a round whose window ended and count its ballots. Returns False when there was nothing to do."""
    moment = now or timezone.now()
    ring = KeyRing.from_settings()
    with transaction.atomic():
        round_ = (
            Round.objects.select_for_update()
            .select_related("team", "organisation")
            .filter(pk=round_id, status=Round.Status.OPEN, closes_at__lte=moment)
            .first()
        )
        if round_ is None:
            return False
        questions = {question.pk: question for question in round_questions(round_)}
        instruments = {question.instrument_id: question.instrument for question in questions.values()}
        question_ids = {
            (question.instrument_id, question.key): question.pk for question in questions.values()
        }
        ballots = list(SealedBallot.objects.filter(round=round_).values_list("key_id", "ciphertext"))
        # Shuffle with the OS's randomness so nothing computed below follows the order of submission.
        random.SystemRandom().shuffle(ballots)
        paths = dict(Team.objects.subtree_of(round_.team).values_list("pk", "path"))
        root_depth = round_.team.depth
        respondents: Counter[int] = Counter()
        answers: Counter[tuple[int, int, int]] = Counter()
        scores: Counter[tuple[int, int, str, bool, int, str]] = Counter()
        comments: list[tuple[int, int, str]] = []
        for key, sealed in ballots:
            payload = open_ballot(ring, round_id=round_.pk, key=key, sealed=bytes(sealed))
            teams = counting_closure(payload["teams"], paths, root_depth)
            by_instrument: dict[int, dict[str, int | None]] = defaultdict(dict)
            texts: list[tuple[int, str]] = []
            for question_id, value in payload["answers"].items():
                question = questions.get(int(question_id))
                if question is None:
                    continue
                if question.kind == "text":
                    texts.append((question.pk, str(value)))
                else:
                    by_instrument[question.instrument_id][question.key] = int(value)
            for question in questions.values():
                if question.kind != "text":
                    by_instrument[question.instrument_id].setdefault(question.key, None)
            scored = []
            for instrument_id, item_answers in by_instrument.items():
                for scale_key, result in scoring.score_instrument(
                    instruments[instrument_id], item_answers
                ).items():
                    scored.append((instrument_id, scale_key, result))
            for team_id in teams:
                respondents[team_id] += 1
                for instrument_id, item_answers in by_instrument.items():
                    for question_key, value in item_answers.items():
                        if value is not None:
                            answers[(team_id, question_ids[(instrument_id, question_key)], value)] += 1
                for instrument_id, scale_key, result in scored:
                    bucket = result.bucket if result.bucket is not None else 0
                    scores[
                        (team_id, instrument_id, scale_key, result.scorable, bucket, result.band or "")
                    ] += 1
                for question_id, text in texts:
                    comments.append((team_id, question_id, text))
        # Counters are stored only where no group below k follows from them by subtraction: the rows are
        # readable by anyone with SELECT, so the tree's complementary suppression applies here already.
        parents = {
            team_id: (path_ids(path)[-2] if path_ids(path)[-1] != round_.team_id else None)
            for team_id, path in paths.items()
        }
        publishable = storable_teams(parents, respondents, round_.organisation.min_group_size)
        RespondentCount.objects.bulk_create(
            RespondentCount(round=round_, team_id=team_id, respondents=respondents[team_id])
            for team_id in sorted(publishable)
        )
        AnswerCount.objects.bulk_create(
            AnswerCount(round=round_, team_id=team_id, question_id=question_id, value=value, count=count)
            for (team_id, question_id, value), count in sorted(answers.items())
            if team_id in publishable
        )
        ScoreCount.objects.bulk_create(
            ScoreCount(
                round=round_,
                team_id=team_id,
                instrument_id=instrument_id,
                scale=scale,
                scored=is_scored,
                bucket=bucket,
                band=band,
                count=count,
            )
            for (team_id, instrument_id, scale, is_scored, bucket, band), count in sorted(scores.items())
            if team_id in publishable
        )
        kept_comments = [row for row in comments if row[0] in publishable]
        random.SystemRandom().shuffle(kept_comments)
        Comment.objects.bulk_create(
            Comment(round=round_, team_id=team_id, question_id=question_id, text=text)
            for team_id, question_id, text in kept_comments
        )
        SealedBallot.objects.filter(round=round_).delete()
        Invitation.objects.filter(round=round_).update(sealed_token=None)
        Round.objects.filter(pk=round_.pk).update(status=Round.Status.CLOSED, counted_at=moment)
    logger.info("round %s closed: %s ballots counted", round_id, len(ballots))
    return True


def rounds_close_due(*, now: datetime | None = None, batch: int = 10) -> int:
    """Tick step: close (and count) every open round whose window has ended, a bounded batch at a time."""
    moment = now or timezone.now()
    due = Round.objects.filter(status=Round.Status.OPEN, closes_at__lte=moment).order_by("closes_at")
    closed = 0
    for round_id in due.values_list("pk", flat=True)[:batch]:
        try:
            closed += round_close(round_id=round_id, now=moment)
        except Exception:
            # One round that cannot be counted (a tampered ballot, a key removed from the ring too early)
            # stays open for the operator and is retried next tick; it must not hold up the rounds after
            # it. Its transaction rolled back, so it is exactly as it was. Only the round id is logged.
            logger.exception("round %s could not be closed; it stays open and is retried", round_id)
    return closed
