"""``pulse_bench close_system``: a 100,000-person round from the end of its window to its aggregates stored,
through real beat and worker processes; time and the worker's peak memory.

Shape: ``pulse_bench close``'s round (``close._generate``: 900 bottom teams, WHO-5, the workload item and
the optional comment, every person answered, a third with a comment; not timed), in a scratch PostgreSQL
database dropped afterwards, with its window still open while the processes start.

Ours: real ``celery -A config beat`` and one ``celery -A config worker --pool=threads --concurrency=4`` on
the configured broker (Redis, or RabbitMQ with ``CELERY_BROKER_URL=amqp://…``), queue prefix of the run's
own, beat every 5 s instead of every minute (``cluster``). The clock starts at the commit that ends the
round's window and stops when the round's aggregates are stored (``Round.aggregated_at`` set): the tick, a
closing drain's ``rounds_close_due`` (open, score and count every ballot, delete them, destroy the key) and
then ``rounds_aggregate_due`` (team aggregates, rolled up the tree). Memory: the worker's peak resident set
(VmHWM) after the close, and at start for comparison (the worker runs tasks in its own process).
Baseline, in the same run on the same ballots: ``close``'s floor, one query fetching every ciphertext and
one loop opening each with the round's key and counting (question, value) pairs, in this process.
Target: ratio ≤ 3 (as ``close``'s: the system adds a tick, the aggregation and the processes).
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from django.test.utils import override_settings
from django.utils import timezone

from pulse.devtools.benchmarks import BenchResult
from pulse.devtools.benchmarks.close import LEVELS, SEED, _baseline, _generate
from pulse.devtools.benchmarks.cluster import Cluster, broker_url, peak_rss_mb
from pulse.devtools.benchmarks.scratch import scratch_database, timed
from pulse.models import TeamAggregate
from surveys.models import Invitation, RespondentCount, Round
from surveys.round_keys import round_key_store

PEOPLE = 100_000
TICK_SECONDS = 5.0
THREADS = 4


def run(options: dict[str, Any], stdout: TextIO) -> BenchResult:
    people, tick = int(PEOPLE * float(options.get("scale") or 1.0)), TICK_SECONDS
    levels: tuple[int, ...] = LEVELS
    if options.get("smoke"):
        people, levels, tick = 200, (2, 3), 1.0
    with (
        tempfile.TemporaryDirectory(prefix="pulse-bench-close-") as logs,
        # The scratch round's key beside the scratch database, gone with it: round ids repeat across them.
        override_settings(PULSE_ROUND_KEY_DIR=str(Path(logs) / "round_keys")),
        scratch_database("closesys"),
    ):
        broker = broker_url()  # refuses, before the round is generated, when there is no real broker
        generate_seconds, (round_, private_key) = timed(
            lambda: _generate(people, levels, random.Random(SEED + people))
        )
        stdout.write(
            f"{people:,} ballots of {round_.ballot_size:,} bytes, generated in {generate_seconds:.1f} s "
            f"(not timed); broker {broker.split('://')[0]}\n"
        )
        baseline_seconds, opened = timed(lambda: _baseline(round_, private_key))
        assert opened == people
        stdout.write(f"baseline: fetch all, open and count in one loop: {baseline_seconds:.2f} s\n")
        # Open until the clock starts (the generated round's window lies in the past), and its emails long
        # sent: the senders must not spend the close skipping 100,000 invitations of people who answered.
        Round.objects.filter(pk=round_.pk).update(closes_at=timezone.now() + dt.timedelta(days=1))
        Invitation.objects.filter(round=round_).update(email_due_at=None)
        cluster = Cluster(logs=Path(logs), tick_seconds=tick)
        try:
            cluster.start_beat()
            worker = cluster.start_worker(pool="threads", concurrency=THREADS)
            rss_at_start = peak_rss_mb(worker.pid)
            started = time.monotonic()
            # One autocommit UPDATE: the window ends at its commit, and the next tick closes the round.
            Round.objects.filter(pk=round_.pk).update(closes_at=timezone.now())
            deadline = started + max(120.0, baseline_seconds * 20)
            while not Round.objects.filter(pk=round_.pk, aggregated_at__isnull=False).exists():
                cluster.check_running()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the round was not aggregated in time\n{cluster.tails()}")
                time.sleep(0.05)
            ours_seconds = time.monotonic() - started
            rss_peak = peak_rss_mb(worker.pid)
        finally:
            cluster.stop_all()
        closed = Round.objects.get(pk=round_.pk)
        assert closed.counted_at is not None
        assert closed.aggregated_at is not None
        assert round_key_store().get(round_.pk) is None, "the key was destroyed after the close"
        counted = RespondentCount.objects.get(round=round_, team=round_.team).respondents
        assert counted == people, counted
        aggregates = TeamAggregate.objects.filter(round=round_).count()
        storing = ours_seconds - (closed.aggregated_at - closed.closes_at).total_seconds()
        assert aggregates > 0
        stdout.write(
            f"ours: window end to aggregates stored, beat every {tick:g} s, 1 worker (threads pool, "
            f"concurrency {THREADS}): {ours_seconds:.2f} s (the close began "
            f"{(closed.counted_at - closed.closes_at).total_seconds():.1f} s after the window's end, the "
            f"aggregation {(closed.aggregated_at - closed.counted_at).total_seconds():.1f} s after that: the"
            f" close's own time; stored {storing:.1f} s after that; {aggregates:,} team aggregates)\n"
            f"worker memory: peak RSS {rss_peak:.0f} MB ({rss_at_start:.0f} MB when it was ready)\n"
        )
    return BenchResult("close_system", ours_seconds, baseline_seconds, "s", "ratio<=3")
