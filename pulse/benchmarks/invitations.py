"""``pulse_bench invitations``: open one round for 100,000 people in 10,000 teams.

Ours: ``surveys.services.rounds.round_open`` (roster, a 256-bit token per person with its SHA-256 and its
sealed copy, the invitation rows, and their invitation and reminder emails), timed from the call to commit.
Baseline: PostgreSQL COPY of the same number of invitation-shaped rows (the fastest way to put rows into
PostgreSQL), in the same run, into a table of the same columns. Target: ratio ≤ 5.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, TextIO

from django.db import connection, transaction

from pulse.benchmarks import BenchResult
from pulse.benchmarks.generate import organisation_generate
from pulse.benchmarks.scratch import scratch_database, timed
from surveys.models import Instrument, Invitation, OutgoingEmail, Schedule
from surveys.services.rounds import round_open


def run(options: dict[str, Any], stdout: TextIO) -> BenchResult:
    people = int(100_000 * options.get("scale", 1.0))
    with scratch_database("invitations"):
        generate_seconds, generated = timed(lambda: organisation_generate(people=people))
        stdout.write(
            f"generated {generated.teams} teams, {generated.people} people in {generate_seconds:.1f} s\n"
        )
        schedule = Schedule.objects.create(
            organisation=generated.organisation,
            team=generated.root,
            name="Weekly",
            starts_on=dt.date(2026, 1, 1),
            reminder_1=dt.timedelta(hours=24),
        )
        schedule.instruments.set(Instrument.objects.filter(key__in=["burnout1", "workload1"]))
        opens = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)

        def ours() -> int:
            with transaction.atomic():
                round_ = round_open(schedule=schedule, opens_at=opens, closes_at=opens + dt.timedelta(days=3))
            return round_.invited_count

        ours_seconds, invited = timed(ours)
        emails = OutgoingEmail.objects.count()
        stdout.write(
            f"ours: round_open made {invited} invitations and {emails} emails in {ours_seconds:.2f} s\n"
        )
        assert Invitation.objects.count() == people

        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE copy_baseline (round_id bigint, person_id bigint, teams jsonb,"
                " token_hash bytea, sealed_token bytea, spent boolean, expires_at timestamptz)"
            )
            person_ids = list(Invitation.objects.values_list("person_id", flat=True))
            rows = [
                (1, person_id, "[1]", os.urandom(32), os.urandom(60), False, opens + dt.timedelta(days=3))
                for person_id in person_ids
            ]

            def baseline() -> None:
                columns = "round_id, person_id, teams, token_hash, sealed_token, spent, expires_at"
                with (
                    transaction.atomic(),
                    connection.cursor() as copy_cursor,
                    copy_cursor.cursor.copy(f"COPY copy_baseline ({columns}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)

            baseline_seconds, _ = timed(baseline)
        stdout.write(f"baseline: COPY of {len(rows)} invitation-shaped rows in {baseline_seconds:.2f} s\n")
    return BenchResult("invitations", ours_seconds, baseline_seconds, "s", "ratio<=5")
