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

import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
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
from surveys.tree import team_closure

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
    questions: list[QuestionSpec], raw: dict[str, Any]
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
    """Inside the submit transaction: True if the round is open, and keep it so until this transaction ends.

    On PostgreSQL a shared row lock on the round: submissions do not wait for each other, but the close
    step's ``SELECT … FOR UPDATE`` waits for every submission in flight, then reads their ballots; a
    submission that starts after the close took the round waits, then finds it closed. Without it a ballot
    committed while the close runs is neither counted nor deleted. Django has no ``FOR SHARE``, hence SQL.
    On SQLite, transactions are ``IMMEDIATE`` (settings): writers never overlap, so a read is enough.
    """
    if connection.vendor != "postgresql":
        return Round.objects.filter(pk=round_id, status=Round.Status.OPEN).exists()
    table = connection.ops.quote_name(Round._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE id = %s AND status = %s FOR SHARE", [round_id, Round.Status.OPEN]
        )
        return cursor.fetchone() is not None


@sensitive_variables()  # the token and the answers meet here; keep both out of error reports
def response_submit(*, token: str, answers: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Validate and store one submission. Returns the clean answers (for the person's own feedback page).

    Raises ``SubmitRefused`` for a bad link and ``AnswersInvalid`` for bad answers; either way nothing is
    stored. Concurrent posts of one token: the conditional UPDATE lets exactly one through.
    """
    moment = now or timezone.now()
    row = (
        Invitation.objects.filter(token_hash=token_hash(token))
        .values_list("pk", "round_id", "person_id", "teams", "spent", "expires_at")
        .first()
        if _usable_token(token)
        else None
    )
    if row is None:
        raise SubmitRefused(UNKNOWN_REASON, 404)
    invitation_id, round_id, person_id, teams, is_spent, expires_at = row
    # The round's own status is checked, and held, inside the transaction below.
    refused = _refusal(spent=is_spent, expires_at=expires_at, moment=moment)
    if refused:
        raise refused
    specs = question_specs(round_id)
    clean, errors = validate_answers(specs, answers)
    if errors:
        raise AnswersInvalid(errors)
    by_key = {spec.key: spec for spec in specs}
    ring = KeyRing.from_settings()
    with transaction.atomic():
        if not _hold_round_open(round_id):
            raise SubmitRefused(CLOSED_REASON, 410)
        # Only the invitation's own columns in the claim: a filter through a join (round__status) makes
        # Django write "WHERE id IN (SELECT …)", which PostgreSQL does not re-check against the row that a
        # concurrent submission has just spent, so several would succeed.
        spent = Invitation.objects.filter(pk=invitation_id, spent=False, expires_at__gt=moment).update(
            spent=True
        )
        if spent != 1:
            raise SubmitRefused(SPENT_REASON, 410)
        Participation.objects.create(round_id=round_id, person_id=person_id)
        key, sealed = seal_ballot(
            ring,
            round_id=round_id,
            answers={str(by_key[name].id): value for name, value in clean.items()},
            teams=list(teams),
        )
        SealedBallot.objects.create(round_id=round_id, key_id=key, ciphertext=sealed)
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
            teams = team_closure(payload["teams"], paths, root_depth)
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
        k = round_.organisation.min_group_size
        # Known gap (tests/anonymity/test_differencing.py): counters of a team at or above k are stored even
        # when a sibling below k could be isolated by subtracting them from the parent's. Pages withhold
        # such complements (pulse.disclosure); the stored rows do not yet.
        publishable = {team_id for team_id, n in respondents.items() if n >= k}
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
