"""Count a closed round: its sealed ballots become per-team counters, then its key is destroyed.

The other half of the anonymity boundary (the first is ``surveys.services.answering``, which stores each
submission as a sealed ballot; ``surveys.sealing`` seals and opens them). A reviewer checks the promise
by reading these three files (and docs/anonymity.md, the threat model):

* ``round_close`` opens every ballot of the round with the round's private key (from the round key store),
  scores each with ``surveys.scoring``, adds them to per-team counters, writes comments in random order,
  deletes the ballots and erases the sealed copies of the invitation tokens, all in one transaction: run
  twice it finds the round closed and does nothing; killed halfway it leaves the round open and the ballots
  in place. Once that has committed it destroys the round's key and vacuums the ballot table; from then on
  no copy of those ballots (dead tuples, WAL, backups) can be opened.

Counts are written for every team of the person's *closure* (the teams they belong to in the round's scope
and every ancestor up to the schedule's team), each team once per person, so a roll-up is exact and a person
in two sibling teams is counted once in their parent. A team with fewer respondents than the organisation's
minimum group size gets no counts at all: its answers exist only inside larger groups (docs/science.md §4.2).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from surveys import scoring
from surveys.models import (
    AnswerCount,
    Comment,
    Invitation,
    Participation,
    RespondentCount,
    Round,
    ScoreCount,
    SealedBallot,
    Team,
)
from surveys.round_keys import KeyStoreUnavailable, round_key_store
from surveys.sealing import SealError, open_ballot
from surveys.services.answering import round_questions
from surveys.tree import counting_closure, path_ids, storable_teams

logger = logging.getLogger(__name__)

BALLOT_CHUNK = 2000  # ballots read per fetch at close: memory stays flat however large the round
# A key in the store with no round is left by a round_open that rolled back after writing it; the sweep
# waits this long before removing one, so it never races an opening that has not committed yet.
ORPHAN_KEY_AGE = timedelta(hours=1)


class RoundTally:
    """What a round's ballots add up to, per team, before the storage rule decides what is kept.

    Counting is a sum, so the order in which ballots are read (their physical order, close to the order of
    submission) leaves no trace in the counters; comments, the only rows stored one per answer, are shuffled
    before they are written (``comments_shuffled``)."""

    def __init__(self, round_: Round) -> None:
        self.root_team_id = round_.team_id
        self.root_depth = round_.team.depth
        self.paths: dict[int, str] = dict(Team.objects.subtree_of(round_.team).values_list("pk", "path"))
        self.questions = {question.pk: question for question in round_questions(round_)}
        self.instruments = {
            question.instrument_id: question.instrument for question in self.questions.values()
        }
        self.ballots = 0
        self.respondents: Counter[int] = Counter()
        self.answers: Counter[tuple[int, int, int]] = Counter()
        self.scores: Counter[tuple[int, int, str, bool, int, str]] = Counter()
        self.comments: list[tuple[int, int, str]] = []

    def add_respondent(self, teams: Iterable[int]) -> set[int]:
        """Count one person in each team of their counting chain (``surveys.tree.counting_closure``)."""
        closure = counting_closure(list(teams), self.paths, self.root_depth)
        for team_id in closure:
            self.respondents[team_id] += 1
        return closure

    def add_ballot(self, payload: dict[str, Any]) -> None:
        """One opened ballot: its person in their teams, their answers, scores and comments."""
        self.ballots += 1
        closure = self.add_respondent(payload["teams"])
        chosen: list[tuple[int, int]] = []
        by_instrument: dict[int, dict[str, int | None]] = defaultdict(dict)
        texts: list[tuple[int, str]] = []
        for question_id, value in payload["answers"].items():
            question = self.questions.get(int(question_id))
            if question is None:
                continue
            if question.kind == "text":
                texts.append((question.pk, str(value)))
            else:
                by_instrument[question.instrument_id][question.key] = int(value)
                chosen.append((question.pk, int(value)))
        for question in self.questions.values():
            if question.kind != "text":
                by_instrument[question.instrument_id].setdefault(question.key, None)
        scored = [
            (instrument_id, scale_key, result)
            for instrument_id, item_answers in by_instrument.items()
            for scale_key, result in scoring.score_instrument(
                self.instruments[instrument_id], item_answers
            ).items()
        ]
        for team_id in closure:
            for question_id, value in chosen:
                self.answers[(team_id, question_id, value)] += 1
            for instrument_id, scale_key, result in scored:
                bucket = result.bucket if result.bucket is not None else 0
                self.scores[
                    (team_id, instrument_id, scale_key, result.scorable, bucket, result.band or "")
                ] += 1
            for question_id, text in texts:
                self.comments.append((team_id, question_id, text))

    def storable(self, min_group_size: int) -> set[int]:
        """Teams whose counters may be stored: no group below k follows from them (``storable_teams``)."""
        parents = {
            team_id: (path_ids(path)[-2] if path_ids(path)[-1] != self.root_team_id else None)
            for team_id, path in self.paths.items()
        }
        return storable_teams(parents, self.respondents, min_group_size)

    def comments_shuffled(self, teams: set[int]) -> list[tuple[int, int, str]]:
        kept = [row for row in self.comments if row[0] in teams]
        random.SystemRandom().shuffle(kept)  # the OS's randomness: no order of submission survives
        return kept


def _rows_store(model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert plain rows into ``model``'s table: COPY on PostgreSQL (a close of 100,000 ballots writes some
    hundred thousand counters and comments, and building a model instance per row cost two thirds of the
    close: ``pulse_bench close``), ``bulk_create`` elsewhere. ``columns`` are field attnames."""
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        fields = [model._meta.get_field(column) for column in columns]
        names = ", ".join(qn(field.column) for field in fields)  # type: ignore[union-attr,arg-type]
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {qn(model._meta.db_table)} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    model._default_manager.bulk_create(model(**dict(zip(columns, row, strict=True))) for row in rows)


def _tally_store(round_: Round, tally: RoundTally) -> None:
    """Write the counters the storage rule allows (their rows are readable by anyone with SELECT, so the
    tree's complementary suppression applies here already) and the comments in random order."""
    publishable = tally.storable(round_.organisation.min_group_size)
    _rows_store(
        RespondentCount,
        ("round_id", "team_id", "respondents"),
        ((round_.pk, team_id, tally.respondents[team_id]) for team_id in sorted(publishable)),
    )
    _rows_store(
        AnswerCount,
        ("round_id", "team_id", "question_id", "value", "count"),
        (
            (round_.pk, team_id, question_id, value, count)
            for (team_id, question_id, value), count in sorted(tally.answers.items())
            if team_id in publishable
        ),
    )
    _rows_store(
        ScoreCount,
        ("round_id", "team_id", "instrument_id", "scale", "scored", "bucket", "band", "count"),
        ((round_.pk, *key, count) for key, count in sorted(tally.scores.items()) if key[0] in publishable),
    )
    # Random ids (uuid4) and a shuffled order: neither the id nor the row's place follows submission.
    _rows_store(
        Comment,
        ("id", "round_id", "team_id", "question_id", "text"),
        (
            (uuid.uuid4(), round_.pk, team_id, question_id, text)
            for team_id, question_id, text in tally.comments_shuffled(publishable)
        ),
    )


@sensitive_variables()  # opened ballots are in its frames: keep them out of error reports
def round_close(*, round_id: int, now: datetime | None = None) -> bool:
    """Close a round whose window ended and count its ballots. Returns False when there was nothing to do.

    The round's private key comes from the round key store; once the close has committed the key is
    destroyed and the ballot table vacuumed (``_round_close_cleanup``). When the store is not reachable
    (``KeyStoreUnavailable``) nothing changes and the round is retried at the next tick. When the store is
    reachable but holds no key for the round (deleted by hand, a store restored from an old copy, a round
    opened before per-round keys), its answers can never be read: the round closes with its participation
    counted (response rates, from who answered) and ``answers_lost`` set, so reports say so instead of the
    tick failing on it forever.
    """
    moment = now or timezone.now()
    store = round_key_store()
    with transaction.atomic():
        round_ = (
            Round.objects.select_for_update()
            .select_related("team", "organisation")
            .filter(pk=round_id, status=Round.Status.OPEN, closes_at__lte=moment)
            .first()
        )
        if round_ is None:
            return False
        private_key = store.get(round_.pk)
        tally = RoundTally(round_)
        ballots = SealedBallot.objects.filter(round=round_)
        if private_key is not None:
            for sealed in ballots.values_list("ciphertext", flat=True).iterator(chunk_size=BALLOT_CHUNK):
                tally.add_ballot(open_ballot(private_key, size=round_.ballot_size, sealed=bytes(sealed)))
            if tally.ballots > Participation.objects.filter(round=round_).count():
                # Anyone who can write to the database can seal to a public key: more ballots than people
                # who answered means some were added behind Pulse's back. Count nothing; the operator looks.
                raise SealError("the round holds more ballots than participants")
            lost = False
        else:
            for teams in Invitation.objects.filter(round=round_, spent=True).values_list("teams", flat=True):
                tally.add_respondent(teams)
            lost = bool(tally.respondents)
        _tally_store(round_, tally)
        ballots.delete()
        Invitation.objects.filter(round=round_).update(sealed_token=None)
        Round.objects.filter(pk=round_.pk).update(
            status=Round.Status.CLOSED, counted_at=moment, answers_lost=lost
        )
        transaction.on_commit(lambda: _round_close_cleanup(round_id))
    if lost:
        logger.error("round %s closed without its key: participation counted, answers lost", round_id)
    else:
        logger.info("round %s closed: %s ballots counted", round_id, tally.ballots)
    return True


def _round_close_cleanup(round_id: int) -> None:
    """After the close committed: destroy the round's key, then vacuum the ballot table so the deleted
    ballots' dead tuples go now rather than at autovacuum's leisure. A failure here loses nothing (the
    counts are committed) and is retried by ``round_keys_sweep``; the key goes first because it matters
    most (without it every leftover copy is unreadable)."""
    try:
        round_key_store().destroy(round_id)
    except Exception:
        logger.exception("round %s: its key could not be destroyed now; the sweep retries", round_id)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM {connection.ops.quote_name(SealedBallot._meta.db_table)}")
        except Exception:
            logger.exception("round %s: the ballot table could not be vacuumed", round_id)


def round_keys_sweep(*, now: datetime | None = None) -> int:
    """Tick step: destroy keys the store should no longer hold. Returns how many it destroyed.

    Two kinds: the key of a round that has closed (its close committed but the process died before
    ``_round_close_cleanup``), and a key with no round at all, older than ``ORPHAN_KEY_AGE`` (a
    ``round_open`` that wrote its key and then rolled back). A process without a store does nothing."""
    moment = now or timezone.now()
    try:
        store = round_key_store()
        held = store.entries()
    except KeyStoreUnavailable:
        return 0
    ids = [round_id for round_id, _ in held]
    statuses = dict(Round.objects.filter(pk__in=ids).values_list("pk", "status"))
    destroyed = 0
    for round_id, written in held:
        status = statuses.get(round_id)
        if status == Round.Status.OPEN or (status is None and written > moment - ORPHAN_KEY_AGE):
            continue
        store.destroy(round_id)
        destroyed += 1
    if destroyed:
        logger.info("round key sweep: %s keys destroyed", destroyed)
    return destroyed


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
