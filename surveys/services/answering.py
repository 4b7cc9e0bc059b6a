"""Answer a check-in: one submission becomes a sealed ballot. The first half of the anonymity boundary.

This module, ``surveys.services.counting`` (which turns a closed round's ballots into counts) and
``surveys.sealing`` are the only code that ever sees one person's answers. A reviewer can check the promise
by reading these three files (and docs/anonymity.md, the threat model):

* ``response_submit`` spends the token by conditional UPDATE, records ``Participation(round, person)`` and
  stores the answers as a ``SealedBallot`` (padded to the round's one length, sealed to the round's public
  key, random id, no person, no time) in one statement, holding a shared lock on the round so that the close
  step waits for it. Its parameters travel apart from the statement (server-side binding), so PostgreSQL's
  ``pg_stat_activity`` and statement logs show placeholders, never a literal of the submission. Nothing is
  logged at all.
* Until the round closes no one can read a ballot: the web tier holds only the round's public key; the
  private half is in the round key store, which only the close step opens (``counting.round_close``).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_variables
from django_stubs_ext import StrOrPromise

from surveys.models import (
    Invitation,
    Participation,
    Person,
    Question,
    Round,
    SealedBallot,
)
from surveys.sealing import seal_ballot, token_hash

COMMENT_MAX_CHARS = 2000
# Refused in free text: control characters other than tab and line breaks (JSON writes them as six-byte
# escapes, and no comment needs them) and lone surrogates (not encodable). What remains takes at most
# ``surveys.sealing.MAX_BYTES_PER_CHAR`` bytes in a ballot, which the round's one ballot length relies on.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class SubmitRefused(Exception):
    """The link cannot be used: unknown, already used, expired, or its round closed. ``person``: whose link
    it is, when the link is known (the page that says so is in their language)."""

    def __init__(self, reason: StrOrPromise, status: int, person: Person | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.person = person


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


def _number(count: int) -> str:
    """A count as the active language writes it ("2,000", "2.000")."""
    return formats.number_format(count, force_grouping=True)


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
            errors[field] = gettext("Unknown question for this check-in.")
    for question in questions:
        value = raw.get(question.key)
        if value in (None, ""):
            if not question.optional:
                errors[question.key] = gettext("Please answer this question.")
            continue
        if question.kind == "text":
            if not isinstance(value, str):
                errors[question.key] = gettext("Expected text.")
            elif _CONTROL.search(value):
                errors[question.key] = gettext("The text contains a control character; please remove it.")
            elif _SURROGATE.search(value):
                errors[question.key] = gettext("The text contains an invalid character; please remove it.")
            elif len(value.strip()) > COMMENT_MAX_CHARS:
                errors[question.key] = gettext(
                    "Please keep it to %(limit)s characters (this one has %(length)s)."
                ) % {"limit": _number(COMMENT_MAX_CHARS), "length": _number(len(value.strip()))}
            elif value.strip():
                clean[question.key] = value.strip()
            continue
        if isinstance(value, bool):
            errors[question.key] = gettext("Choose one of the options.")
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors[question.key] = gettext("Choose one of the options.")
            continue
        if str(number) != str(value).strip() and not isinstance(value, int):
            errors[question.key] = gettext("Choose one of the options.")
        elif number not in question.values:
            errors[question.key] = gettext("That value is not one of this question's options.")
        else:
            clean[question.key] = number
    return clean, errors


@dataclass(frozen=True)
class RoundForm:
    """What a submission to one round needs: its questions, and how its ballots are sealed."""

    specs: tuple[QuestionSpec, ...]
    public_key: bytes | None  # None: a round opened before per-round keys; it takes no more answers
    ballot_size: int


def round_form(round_id: int) -> RoundForm:
    key, size = Round.objects.filter(pk=round_id).values_list("ballot_public_key", "ballot_size").get()
    return RoundForm(
        specs=tuple(question_specs(round_id)),
        public_key=bytes(key) if key is not None else None,
        ballot_size=size,
    )


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
    """Per process: the questions and sealing key of the rounds answered lately, so a submission costs no
    query for them.

    Safe because neither can change while a round is open: its instruments are set when it opens, in the
    transaction that creates it (``surveys.services.rounds.round_open``), an instrument used by a round is
    locked against edits (``Instrument.is_locked``), and its public key is written in that same transaction.
    A round id is not reused on PostgreSQL (a sequence); a test database that rolls back can reuse one, so
    creating or deleting a round, or changing its instruments, empties the cache of this process (the
    signals connected in ``SurveysConfig.ready``). A round without questions is never kept: not a state
    worth remembering. Bounded: least recently used goes first.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._rounds: OrderedDict[int, RoundForm] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's sync workers are single-threaded; tests use threads

    def get(self, round_id: int) -> RoundForm:
        with self._lock:
            form = self._rounds.get(round_id)
            if form is not None:
                self._rounds.move_to_end(round_id)
                return form
        form = round_form(round_id)
        if form.specs:
            with self._lock:
                self._rounds[round_id] = form
                while len(self._rounds) > self._size:
                    self._rounds.popitem(last=False)
        return form

    def clear(self, **_signal: Any) -> None:
        with self._lock:
            self._rounds.clear()


# Emptied by the signals connected in ``SurveysConfig.ready`` (surveys/apps.py).
round_specs_cache = RoundSpecsCache(size=256)


# Lazy: shown in the language of the page (or API request) that meets them.
UNKNOWN_REASON = gettext_lazy("This check-in link is not valid. Please use the link from your latest email.")
SPENT_REASON = gettext_lazy("This check-in has already been answered. Thank you!")
CLOSED_REASON = gettext_lazy("This check-in has closed. The next one will arrive by email.")


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
        refused.person = invitation.person
        raise refused
    return invitation


def _hold_round_open(round_id: int) -> bool:
    """SQLite, inside the submit transaction: True if the round is open. Transactions there are
    ``IMMEDIATE`` (settings): writers never overlap, so the close step cannot run between this read and the
    commit, and a read is enough. (PostgreSQL takes a row lock instead: ``_store_submission``.)"""
    return Round.objects.filter(pk=round_id, status=Round.Status.OPEN).exists()


def _fetch_one(sql: str, params: Sequence[Any] | dict[str, Any]) -> tuple[Any, ...] | None:
    """Run one statement of the submit path and return its first row, with the parameters sent apart from
    the statement on PostgreSQL (the extended protocol, server-side binding).

    Why: Django's psycopg cursors bind on the client, so the text PostgreSQL receives, and shows in
    ``pg_stat_activity``, ``log_min_duration_statement`` lines and error logs, holds every value. For the
    submit path that is the invitation id, the instant and the sealed ballot of a named person. With server
    binding those places show ``$1``, ``$2``; the values reach only the executor. (Statement logs can still
    print bound values in a ``DETAIL`` line unless ``log_parameter_max_length = 0``: docs/anonymity.md.)
    Each statement is prepared once per connection (``prepare=True``), which also saves its parse and plan.
    Other databases run it through Django's own cursor.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] | None = cursor.fetchone()
        return row
    from django.db.backends.postgresql import base as postgresql  # only with psycopg 3

    server_binding: Any = postgresql.ServerBindingCursor  # django-stubs type it without psycopg's cursor

    # What Django's own cursor() does first: drop a connection that failed its health check, reconnect.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors, server_binding(connection.connection) as cursor:
        # Recorded in connection.queries like any Django query when queries are logged (DEBUG, tests).
        recorded = (
            connection.make_debug_cursor(cursor).debug_sql(sql, params)
            if connection.queries_logged
            else nullcontext()
        )
        with recorded:
            cursor.execute(sql, params, prepare=True)
        fetched: tuple[Any, ...] | None = cursor.fetchone()
        return fetched


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
    row = _fetch_one(_invitation_sql(), [hashed])
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
            INSERT INTO {ballot_table} (id, round_id, ciphertext)
            SELECT %(ballot)s, round_id, %(sealed)s FROM spent
        )
        SELECT EXISTS (SELECT FROM open_round), EXISTS (SELECT FROM spent)
    """


def _store_submission(
    *, invitation_id: int, round_id: int, person_id: int, moment: datetime, sealed: bytes
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
        stored = _fetch_one(
            _submit_sql(),
            {
                "round": round_id,
                "open": Round.Status.OPEN.value,
                "invitation": invitation_id,
                "now": moment,
                "ballot": uuid.uuid4(),  # random: nothing about the submission
                "sealed": sealed,
            },
        )
        assert stored is not None  # the statement's last SELECT always returns one row
        round_open, spent = stored
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
        SealedBallot.objects.create(round_id=round_id, ciphertext=sealed)


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
    form = round_specs_cache.get(round_id)
    if form.public_key is None:
        raise SubmitRefused(CLOSED_REASON, 410)
    clean, errors = validate_answers(form.specs, answers)
    if errors:
        raise AnswersInvalid(errors)
    by_key = {spec.key: spec for spec in form.specs}
    # Sealed before the write so that the write is one statement; a ballot sealed for a submission that
    # is then refused is simply dropped (it was never stored).
    sealed = seal_ballot(
        form.public_key,
        size=form.ballot_size,
        answers={str(by_key[name].id): value for name, value in clean.items()},
        teams=list(teams),
    )
    _store_submission(
        invitation_id=invitation_id, round_id=round_id, person_id=person_id, moment=moment, sealed=sealed
    )
    return clean


class AnswersInvalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("the answers are not valid")
        self.errors = errors
