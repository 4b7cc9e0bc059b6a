"""``pulse_bench close``: close rounds of 10,000 and 100,000 sealed ballots; time and peak memory.

Shape (fixed seed, in a scratch PostgreSQL database dropped afterwards): ``organisation_generate``'s tree
(9 divisions · 10 departments · 10 teams, 900 bottom teams), N people spread over the bottom teams, one
round asking WHO-5, the single workload item and the optional comment, opened with
``surveys.services.rounds.round_open`` (so it has its own key pair and its one ballot length). Everyone
answers: each person's Participation, a spent invitation, and a ballot sealed with
``surveys.sealing.seal_ballot`` to the round's public key, written with COPY (not timed). A third of the
people leave a comment of random length up to the 2,000-character limit; every ballot, commented or not,
is padded to the round's ballot size, as in production.

Ours: ``surveys.services.counting.round_close``, from the call to its return: the transaction that opens,
scores and counts every ballot, applies the storage rule, writes counters and comments and deletes the
ballots, then the clean-up after commit (the key destroyed, the ballot table vacuumed), reported apart.
Baseline, in the same run on the same ballots: one query fetching every ciphertext, then one loop that
opens each ballot with the same key (``open_ballot``) and counts (question, value) pairs in a Counter:
the least any close must do (it stores nothing, scores nothing, and knows no teams). Peak memory:
tracemalloc's peak of each side's Python allocations, measured on a second run of each (tracing slows the
code, so the timed runs are untraced), and the process's ``ru_maxrss``. The round is reset between runs:
ballots copied back from a staging table, the key put back, counters removed.
Target: ratio ≤ 3 and a Python peak under 200 MB at 100,000 ballots (memory must not grow with the
round: ballots are streamed, not loaded).
"""

from __future__ import annotations

import datetime as dt
import io
import random
import resource
import tracemalloc
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from django.db import connection

from pulse.devtools.benchmarks import BenchResult
from pulse.devtools.benchmarks.generate import organisation_generate
from pulse.devtools.benchmarks.scratch import scratch_database, timed
from surveys.models import (
    AnswerCount,
    Comment,
    Instrument,
    Invitation,
    RespondentCount,
    Round,
    Schedule,
    ScoreCount,
)
from surveys.round_keys import round_key_store
from surveys.sealing import open_ballot, seal_ballot
from surveys.services.answering import COMMENT_MAX_CHARS, round_questions
from surveys.services.counting import round_close
from surveys.services.rounds import round_open

SEED = 20261201
SIZES = (10_000, 100_000)
LEVELS = (9, 10, 10)  # 900 bottom teams
INSTRUMENTS = ("who5", "workload1", "comment")
COMMENT_SHARE = 1 / 3
WORDS = (
    "pager",
    "night",
    "toil",
    "rota",
    "handover",
    "incident",
    "sleep",
    "weekend",
    "alert",
    "quiet",
    "deploy",
)


def _copy(sql: str, lines: io.StringIO) -> None:
    lines.seek(0)
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        while chunk := lines.read(1 << 20):
            copy.write(chunk)


def _generate(people: int, levels: tuple[int, ...], rng: random.Random) -> tuple[Round, bytes]:
    """The round, open and fully answered; returns it and its private key (kept to reset between runs)."""
    generated = organisation_generate(people=people, levels=levels)
    instruments = [Instrument.objects.filter(key=key).order_by("-version").first() for key in INSTRUMENTS]
    schedule = Schedule.objects.create(
        organisation=generated.organisation,
        team=generated.root,
        name="Fortnightly",
        starts_on=dt.date(2026, 1, 1),
        every_n_weeks=2,
    )
    schedule.instruments.set([instrument for instrument in instruments if instrument is not None])
    opens = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    round_ = round_open(schedule=schedule, opens_at=opens, closes_at=opens + dt.timedelta(days=3))
    private_key = round_key_store().get(round_.pk)
    assert private_key is not None
    questions = round_questions(round_)
    public_key = bytes(round_.ballot_public_key or b"")
    invitations = list(Invitation.objects.filter(round=round_).values_list("person_id", "teams"))
    participations, ballots = io.StringIO(), io.StringIO()
    for person_id, teams in invitations:
        answers: dict[str, Any] = {}
        for question in questions:
            if question.kind == "text":
                if rng.random() < COMMENT_SHARE:
                    length = rng.randint(1, COMMENT_MAX_CHARS)
                    answers[str(question.pk)] = " ".join(rng.choice(WORDS) for _ in range(length // 6 + 1))[
                        :length
                    ]
            else:
                answers[str(question.pk)] = rng.choice([int(option["value"]) for option in question.options])
        sealed = seal_ballot(public_key, size=round_.ballot_size, answers=answers, teams=teams)
        participations.write(f"{round_.pk}\t{person_id}\n")
        ballots.write(f"{random.Random(person_id).getrandbits(128):032x}\t{round_.pk}\t\\\\x{sealed.hex()}\n")
    _copy("COPY surveys_participation (round_id, person_id) FROM STDIN", participations)
    _copy("COPY surveys_sealedballot (id, round_id, ciphertext) FROM STDIN", ballots)
    Invitation.objects.filter(round=round_).update(spent=True)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_ballots AS SELECT * FROM surveys_sealedballot")
        cursor.execute("VACUUM ANALYZE")
    return round_, private_key


def _reset(round_: Round, private_key: bytes) -> None:
    """Back to open and answered: ballots from the staging table, the key in the store, no counters."""
    for model in (RespondentCount, AnswerCount, ScoreCount, Comment):
        model.objects.filter(round=round_).delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM surveys_sealedballot")
        cursor.execute("INSERT INTO surveys_sealedballot SELECT * FROM bench_ballots")
    Round.objects.filter(pk=round_.pk).update(status=Round.Status.OPEN, counted_at=None)
    round_key_store().put(round_.pk, private_key)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE surveys_sealedballot")


def _baseline(round_: Round, private_key: bytes) -> int:
    counts: Counter[tuple[str, Any]] = Counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT ciphertext FROM surveys_sealedballot WHERE round_id = %s", [round_.pk])
        rows = cursor.fetchall()
    for (sealed,) in rows:
        for question_id, value in open_ballot(private_key, size=round_.ballot_size, sealed=sealed)[
            "answers"
        ].items():
            counts[(question_id, value if isinstance(value, int) else "text")] += 1
    return len(rows)


def _python_peak(function: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _measure(people: int, levels: tuple[int, ...], stdout: TextIO) -> tuple[float, float, float, float]:
    rng = random.Random(SEED + people)
    with scratch_database("close"):
        generate_seconds, (round_, private_key) = timed(lambda: _generate(people, levels, rng))
        size = round_.ballot_size
        stdout.write(
            f"{people:,} ballots of {size:,} bytes each (+48 sealing), generated in {generate_seconds:.1f} s"
            f" (not timed)\n"
        )
        moment = round_.closes_at + dt.timedelta(seconds=1)
        baseline_seconds, opened = timed(lambda: _baseline(round_, private_key))
        assert opened == people
        baseline_peak = _python_peak(lambda: _baseline(round_, private_key))
        store = round_key_store()

        def close() -> bool:
            return round_close(round_id=round_.pk, now=moment)

        ours_seconds, closed = timed(close)
        assert closed
        assert store.get(round_.pk) is None, "the key was destroyed after the close"
        counted = RespondentCount.objects.get(round=round_, team=round_.team).respondents
        assert counted == people, counted
        comments = Comment.objects.filter(round=round_, team=round_.team).count()
        _reset(round_, private_key)
        ours_peak = _python_peak(close)
    stdout.write(
        f"  ours: round_close {ours_seconds:.2f} s ({people / ours_seconds:,.0f} ballots/s; {comments:,}"
        f" comments at the root; including the clean-up after commit: key destroyed, ballot table"
        f" vacuumed), Python peak {ours_peak:.1f} MB\n"
        f"  baseline: fetch all, open and count in one loop {baseline_seconds:.2f} s, Python peak"
        f" {baseline_peak:.1f} MB\n"
    )
    return ours_seconds, baseline_seconds, ours_peak, baseline_peak


def run(options: dict[str, Any], stdout: TextIO) -> BenchResult:
    scale = float(options.get("scale") or 1.0)
    sizes = [max(100, int(people * scale)) for people in SIZES]
    levels: tuple[int, ...] = LEVELS
    if options.get("smoke"):
        sizes, levels = [200], (2, 3)  # one round, 6 bottom teams of about 33
    results = {}
    for count in sizes:
        stdout.write(f"round of {count:,}:\n")
        results[count] = _measure(count, levels, stdout)
    largest = max(results)
    ours, baseline, ours_peak, _baseline_peak = results[largest]
    stdout.write(
        f"peak memory: ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (process,"
        f" including generation); Python peak of round_close at {largest:,}: {ours_peak:.1f} MB\n"
    )
    return BenchResult("close", ours, baseline, "s", "ratio<=3 and python_peak<200MB")
