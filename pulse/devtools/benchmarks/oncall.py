"""``pulse_bench oncall``: a year of on-call load for 500 teams, its weekly metrics, and one day's sync.

What is generated (fixed seed, in a scratch PostgreSQL database that is dropped afterwards)
--------------------------------------------------------------------------------------------
``TEAMS`` teams (scale 1: 500) in organisations of ``TEAMS_PER_ORGANISATION``, each in one of
``TEAM_ZONES`` (clock changes in spring and autumn, a southern-hemisphere one, a half-hour offset, none),
with a year (``WEEKS`` ISO weeks from Monday 6 January 2025) of shifts and pages, about 2 million pages and
half a million shifts at scale 1. Per team (``team_load``, its own seed, so one team's rows can be made
again alone):

* A rota of 4–12 people, at one site or (three teams in ten) two, the second site in another zone; a
  person's pages carry their site's zone. Half the teams swap one person for a newcomer during the year,
  so the four-week rotation size changes.
* One of three rotas, in the team's local time: **12-hour** (half the teams: primaries 08:00–20:00 and
  20:00–08:00 in turn, a 24-hour secondary from 08:00), **weekly** (three in ten: a primary and a secondary
  for a week from Monday 10:00) or **business hours** (primaries 09:00–17:00 on weekdays only, no
  secondary). One primary shift in twenty runs half an hour into the next (overlapping primaries), one in
  fifty is missing (no one on call). Across a clock change a 12-hour shift is 11 or 13 hours long.
* Incidents at the team's own rate (drawn from 0.6–4.6 a day), 60 % of them in local business hours, 15 %
  at low urgency. A high-urgency incident notifies whoever is primary (else secondary, else anyone of the
  rota) by push and email at once, by SMS 0–90 s later (one in ten exactly 60 s: still the same
  interruption), by phone half the time 45–180 s later, again by push one time in seven 15–20 minutes
  later, and escalates three times in ten to the secondary 5–30 minutes later (push, SMS, maybe phone).
  One incident in twelve comes with 1–4 others within 40 s (a storm: one interruption). Low urgency:
  push and email only. Times are whole seconds, as PagerDuty's API gives them.

The rows are imported team by team through the one write path, ``oncall_rows_store`` (hashing the
references, skipping stored keys, bulk inserts, and the recomputation of the team's weeks it triggers);
its time and rows per second are printed for information.

What is measured
----------------
**Ours**: every weekly metric of every team recomputed from what is stored with the shipped
``oncall_weeks_compute(team_id=...)`` (no ``since``: the whole year), team after team, as the task runs
it, writing its ``OncallWeek`` rows (the team's weeks replaced). **Baseline**: one hand-written SQL
statement (``BASELINE_SQL``: window functions, a recursive walk and ``GROUP BY``) over the same tables in
the same run computing the same weekly figures: interruptions by hour type (push, phone, SMS; per
responder; 60 s anchored on the opening notification; hour type in the responder's zone), incidents and
incidents per 12-hour primary shift, the maximum and median share of time on call over the rotation (each
person's time in the rotation's four-week cycle, from the team's first week on: docs/oncall.md §2.3), the
rotation size in total and per site, the concentration (over the same cycle, rotation ≥ k) and the reason
codes. Its rows are fetched to the client and stored nowhere, so the comparison flatters it (ours also
writes 26,000 rows). Each side runs three times, taking turns, and the best run of each counts (as in
``aggregate``): the machines this runs on are shared, and one slow moment should not decide the ratio.
Every figure of every ``OncallWeek`` row is then compared with the baseline's row for the same team and
week; the run stops unless none differs. The time-off share is not compared (no time off is generated,
so it is empty on both sides; ``oncall_weeks_compute`` still reads the team's memberships and absences).
Target: ratio ≤ 2.

**The sync of one day.** Then one team of the first organisation is linked to a PagerDuty account served
by ``pulse.devtools.pagerduty_server`` (HTTPS on localhost) that holds the organisation's rota, incidents
and notifications of the year's last two days and of one more day, and its cursor is put at the year's
end, as though the year had come from an earlier sync. ``pagerduty_team_sync`` (the shipped sync: the
configured pacer, PagerDuty's own client, ``oncall_rows_store`` and the weekly recomputation it triggers)
reads that day; the time is printed against its target of 1 s, and checked to have stored exactly the
day's generated rows. For reference, the same HTTP requests it made are replayed with a bare HTTP client
(no pacing, no parsing, no storing). Set ``PULSE_BENCH_PAGERDUTY_PORTS`` (``18100-18109``) to serve it on
other ports than the local server's own.

The sync is printed in this benchmark, before its RESULT line, rather than as a benchmark of its own: its
figure means something only against tables that hold a year of 500 teams, which take minutes to build, and
a second module would have to build them again.
"""

from __future__ import annotations

import bisect
import json
import os
import random
import secrets
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx2
from django.db import connection, transaction
from django.test.utils import override_settings

from pulse.analysis.oncall import Page, Shift
from pulse.devtools.benchmarks import BenchResult
from pulse.devtools.benchmarks.scratch import scratch_database, timed
from pulse.devtools.pagerduty_server import PORTS, PagerDutyServer, pagerduty_server
from pulse.models import OncallWeek
from pulse.models.pagerduty import SyncOutcome
from pulse.services.oncall import WEEK_FIELDS, oncall_rows_store, oncall_weeks_compute
from pulse.services.pagerduty import (
    pagerduty_connection_save,
    pagerduty_team_link_save,
    pagerduty_team_sync,
)
from surveys.models import Organisation, Team

SEED = 20260620
TEAMS = 500
TEAMS_PER_ORGANISATION = 50
WEEKS = 52
START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
TEAM_ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "UTC",
)
SECOND_SITES = {
    "Europe/Berlin": ("berlin", "austin", "America/Chicago"),
    "Europe/London": ("london", "singapore", "Asia/Singapore"),
    "America/New_York": ("new-york", "dublin", "Europe/Dublin"),
    "America/Los_Angeles": ("san-francisco", "bangalore", "Asia/Kolkata"),
    "Australia/Sydney": ("sydney", "auckland", "Pacific/Auckland"),
    "Asia/Kolkata": ("pune", "amsterdam", "Europe/Amsterdam"),
    "Asia/Tokyo": ("tokyo", "seattle", "America/Los_Angeles"),
    "UTC": ("", "toronto", "America/Toronto"),
}
SYNC_HISTORY = timedelta(days=2)  # what the PagerDuty account holds before the synced day
SMOKE_TEAMS = 3
SMOKE_WEEKS = 3
RUNS = 3


class _Writer(Protocol):
    def write(self, msg: str, /) -> Any: ...


# ---------------------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Person:
    user_id: str  # PagerDuty's user id: the responder reference
    site: str
    zone: str


@dataclass(frozen=True)
class TeamLoad:
    index: int
    zone: str
    people: tuple[Person, ...]  # everyone who was in the rota at some time
    shifts: tuple[Shift, ...]  # sorted by start
    pages: tuple[Page, ...]  # sorted by time


def _local(day: date, hour: float, tz: ZoneInfo) -> datetime:
    """The instant of ``hour`` o'clock on ``day`` in ``tz`` (a wall-clock time), in UTC, to the second."""
    whole = int(hour * 3600)
    local = datetime(day.year, day.month, day.day, whole // 3600, whole % 3600 // 60, tzinfo=tz)
    return local.astimezone(UTC)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; the means here are a few a day."""
    limit, count, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _rota(rng: random.Random, index: int, zone: str, days: int) -> tuple[list[Person], list[list[Person]]]:
    """Everyone ever in the rota, and who is in it on each day (one person swapped for a newcomer once in
    half the teams)."""
    size = rng.randint(4, 12)
    two_sites = rng.random() < 0.3
    home, other, other_zone = SECOND_SITES[zone]
    if not two_sites and rng.random() < 0.5:
        home = ""
    people = []
    for number in range(size + 1):
        abroad = two_sites and number % 2 == 1
        people.append(
            Person(f"PU{index:04d}{number:02d}", other if abroad else home, other_zone if abroad else zone)
        )
    newcomer = people.pop()
    current = list(people)
    swap_day = rng.randrange(days) if rng.random() < 0.5 else None
    by_day = []
    for day in range(days):
        if day == swap_day:
            current = list(current)
            leaver = rng.randrange(len(current))
            current[leaver] = Person(newcomer.user_id, current[leaver].site, current[leaver].zone)
            people.append(current[leaver])
        by_day.append(current)
    return people, by_day


def _shifts(
    rng: random.Random, index: int, zone: str, first: date, by_day: Sequence[Sequence[Person]]
) -> list[Shift]:
    tz = ZoneInfo(zone)
    team = str(index)
    kind = rng.choices(("twelve", "weekly", "business"), (0.5, 0.3, 0.2))[0]
    found: list[Shift] = []

    def primary(person: Person, start: datetime, end: datetime) -> None:
        roll = rng.random()
        if roll < 0.02:
            return  # an uncovered shift
        if roll < 0.07:
            end += timedelta(minutes=30)  # a late handover
        found.append(Shift(team, person.user_id, start, end, 1, person.site))

    for number, rota in enumerate(by_day):
        day = first + timedelta(days=number)
        size = len(rota)
        if kind == "twelve":
            turn = 2 * (day - date(2025, 1, 1)).days
            primary(rota[turn % size], _local(day, 8, tz), _local(day, 20, tz))
            primary(rota[(turn + 1) % size], _local(day, 20, tz), _local(day + timedelta(days=1), 8, tz))
            backup = rota[(turn // 2 + size // 2) % size]
            found.append(
                Shift(
                    team,
                    backup.user_id,
                    _local(day, 8, tz),
                    _local(day + timedelta(days=1), 8, tz),
                    2,
                    backup.site,
                )
            )
        elif kind == "weekly" and day.weekday() == 0:
            turn = (day - date(2024, 12, 30)).days // 7
            start, end = _local(day, 10, tz), _local(day + timedelta(days=7), 10, tz)
            primary(rota[turn % size], start, end)
            backup = rota[(turn + 1) % size]
            found.append(Shift(team, backup.user_id, start, end, 2, backup.site))
        elif kind == "business" and day.weekday() < 5:
            primary(rota[(day - date(2025, 1, 1)).days % size], _local(day, 9, tz), _local(day, 17, tz))
    found.sort(key=lambda shift: (shift.start, shift.level, shift.responder))
    return found


class _OnCall:
    """Who is on call at a moment: the primary, else the secondary, else anyone of that day's rota."""

    def __init__(self, shifts: Sequence[Shift]) -> None:
        self.levels = {
            level: sorted((s for s in shifts if s.level == level), key=lambda s: s.start) for level in (1, 2)
        }
        self.starts = {level: [s.start for s in rows] for level, rows in self.levels.items()}

    def at(self, moment: datetime, level: int) -> Shift | None:
        rows = self.levels[level]
        position = bisect.bisect_right(self.starts[level], moment)
        for shift in reversed(rows[max(0, position - 3) : position]):
            if shift.start <= moment < shift.end:
                return shift
        return None


def _pages(
    rng: random.Random,
    index: int,
    first: date,
    by_day: Sequence[Sequence[Person]],
    zone: str,
    shifts: Sequence[Shift],
) -> list[Page]:
    tz = ZoneInfo(zone)
    team = str(index)
    rate = rng.uniform(0.6, 4.6)
    on_call = _OnCall(shifts)
    zone_of = {person.user_id: person.zone for rota in by_day for person in rota}
    found: dict[tuple[str, datetime, str, str], Page] = {}
    incidents = 0

    def notify(user_id: str, at: datetime, incident: str, urgency: str, channel: str) -> None:
        key = (user_id, at, incident, channel)
        found.setdefault(key, Page(team, user_id, zone_of[user_id], at, incident, urgency, channel))  # type: ignore[arg-type]

    for number, rota in enumerate(by_day):
        day = first + timedelta(days=number)
        midnight = _local(day, 0, tz)
        for _ in range(_poisson(rng, rate)):
            if rng.random() < 0.6 and day.weekday() < 5:
                at = _local(day, 8, tz) + timedelta(seconds=rng.randrange(10 * 3600))
            else:
                at = midnight + timedelta(seconds=rng.randrange(24 * 3600))
            primary = on_call.at(at, 1) or on_call.at(at, 2)
            person = primary.responder if primary else rng.choice(rota).user_id
            storm = 1 + (rng.randint(1, 4) if rng.random() < 1 / 12 else 0)
            for sibling in range(storm):
                incidents += 1
                incident = f"PI{index:04d}{incidents:06d}"
                start = at + timedelta(seconds=rng.randrange(41) if sibling else 0)
                if rng.random() < 0.15:
                    notify(person, start, incident, "low", "push")
                    notify(person, start, incident, "low", "email")
                    continue
                notify(person, start, incident, "high", "push")
                notify(person, start, incident, "high", "email")
                roll = rng.random()
                delay = rng.randrange(60) if roll < 0.6 else 60 if roll < 0.7 else rng.randint(61, 90)
                notify(person, start + timedelta(seconds=delay), incident, "high", "sms")
                if sibling:
                    continue
                if rng.random() < 0.5:
                    notify(person, start + timedelta(seconds=rng.randint(45, 180)), incident, "high", "phone")
                if rng.random() < 1 / 7:
                    again = start + timedelta(seconds=rng.randint(900, 1200))
                    notify(person, again, incident, "high", "push")
                if rng.random() < 0.3:
                    backup = on_call.at(at, 2)
                    other = [p.user_id for p in rota if p.user_id != person]
                    escalated = (
                        backup.responder if backup and backup.responder != person else rng.choice(other)
                    )
                    then = start + timedelta(seconds=rng.randint(300, 1800))
                    notify(escalated, then, incident, "high", "push")
                    notify(escalated, then + timedelta(seconds=rng.randrange(31)), incident, "high", "sms")
                    if rng.random() < 0.5:
                        phone = then + timedelta(seconds=rng.randint(60, 120))
                        notify(escalated, phone, incident, "high", "phone")
    return sorted(found.values(), key=lambda page: (page.occurred_at, page.responder, page.channel))


def team_load(index: int, weeks: int) -> TeamLoad:
    """Team ``index``'s rota, shifts and pages from :data:`START` for ``weeks`` weeks and one day more (the
    day the sync reads), from its own seed: the same rows whenever it is made."""
    rng = random.Random(SEED * 10_000 + index)
    zone = TEAM_ZONES[index % len(TEAM_ZONES)]
    first = START.date() - timedelta(days=1)  # the day before: zones east of UTC start their Monday on it
    days = weeks * 7 + 2
    people, by_day = _rota(rng, index, zone, days)
    shifts = _shifts(rng, index, zone, first, by_day)
    pages = _pages(rng, index, first, by_day, zone, shifts)
    return TeamLoad(index, zone, tuple(people), tuple(shifts), tuple(pages))


def _year_end(weeks: int) -> datetime:
    return START + timedelta(weeks=weeks)


def _stored_part(load: TeamLoad, end: datetime) -> tuple[list[Shift], list[Page]]:
    """What the year holds: the shifts that start before its end (whole, also one that runs past it) and the
    pages before it. The rest is the next day's, for the sync."""
    shifts = [s for s in load.shifts if START - timedelta(days=1) <= s.start < end]
    pages = [p for p in load.pages if START - timedelta(days=1) <= p.occurred_at < end]
    return shifts, pages


def _tail(load: TeamLoad, since: datetime) -> TeamLoad:
    """The team's rows the PagerDuty account serves (from ``since``, and an hour before it so that every
    incident keeps its first page): kept while the rest of the year is imported, so that the benchmark's own
    memory does not slow the collector down for ``oncall_weeks_compute``."""
    early = since - timedelta(hours=1)
    return TeamLoad(
        load.index,
        load.zone,
        load.people,
        tuple(shift for shift in load.shifts if shift.end > early),
        tuple(page for page in load.pages if page.occurred_at >= early),
    )


# --------------------------------------------------------------------------------------------- the import


def teams_create(count: int) -> list[Team]:
    """Organisations of :data:`TEAMS_PER_ORGANISATION` teams (k = 5, or 3 in every third), each team in its
    own zone (:data:`TEAM_ZONES`, by index)."""
    teams = []
    organisation: Organisation | None = None
    for index in range(count):
        if index % TEAMS_PER_ORGANISATION == 0:
            number = index // TEAMS_PER_ORGANISATION
            organisation = Organisation.objects.create(
                name=f"On-call {number + 1}", time_zone="UTC", min_group_size=3 if number % 3 == 2 else 5
            )
        assert organisation is not None
        zone = TEAM_ZONES[index % len(TEAM_ZONES)]
        teams.append(
            Team.objects.create(
                organisation=organisation,
                name=f"Team {index + 1}",
                slug=f"team-{index + 1}",
                time_zone="" if zone == "UTC" else zone,
            )
        )
    return teams


# ------------------------------------------------------------------------------------------ the baseline

# Every week of every team from its first shift or page to its last (docs/oncall.md §2), in one statement.
# Week bounds are local midnights in the team's zone turned into instants (so a week with a clock change is
# 167 or 169 hours); interruptions are islands of notifications at most 60 s apart, each island opened by
# its first notification and, where it lasts more than 60 s, walked opener by opener (the next one is the
# first notification more than 60 s after the last opener), an index probe each; spans of time on call are
# merged per person (and per team for level 1) before they are cut at the weeks' edges, and a person's share
# is their time in the weeks of the cycle over the cycle's length.
BASELINE_SQL = """
WITH RECURSIVE
zones AS (
    SELECT t.id AS team_id, COALESCE(NULLIF(t.time_zone, ''), o.time_zone) AS tz, o.min_group_size AS k
    FROM surveys_team t JOIN surveys_organisation o ON o.id = t.organisation_id
),
activity AS (
    SELECT team_id, min(first_at) AS first_at, max(last_at) AS last_at FROM (
        SELECT team_id, min(starts_at) AS first_at, max(ends_at - interval '1 microsecond') AS last_at
        FROM pulse_oncallshift GROUP BY team_id
        UNION ALL
        SELECT team_id, min(occurred_at), max(occurred_at) FROM pulse_oncallpage GROUP BY team_id
    ) spans GROUP BY team_id
),
weeks AS (
    SELECT z.team_id, z.k, monday::date AS week_start, monday AT TIME ZONE z.tz AS starts_at,
        (monday + interval '7 days') AT TIME ZONE z.tz AS ends_at,
        greatest(monday - interval '21 days', date_trunc('week', a.first_at AT TIME ZONE z.tz))
            AT TIME ZONE z.tz AS cycle_starts_at
    FROM activity a JOIN zones z USING (team_id)
    CROSS JOIN LATERAL generate_series(
        date_trunc('week', a.first_at AT TIME ZONE z.tz), date_trunc('week', a.last_at AT TIME ZONE z.tz),
        interval '7 days') AS monday
),
interrupting AS (
    SELECT team_id, responder, occurred_at, responder_time_zone,
        occurred_at - lag(occurred_at) OVER chain AS gap,
        max(occurred_at) OVER (PARTITION BY team_id, responder) AS last_at
    FROM pulse_oncallpage WHERE channel IN ('push', 'phone', 'sms')
    WINDOW chain AS (PARTITION BY team_id, responder ORDER BY occurred_at)
),
islands AS (
    SELECT team_id, responder, occurred_at AS opened_at, responder_time_zone AS rz,
        COALESCE(lead(occurred_at - gap) OVER (PARTITION BY team_id, responder ORDER BY occurred_at),
            last_at) AS island_end
    FROM interrupting WHERE gap IS NULL OR gap > interval '60 seconds'
),
openers(team_id, responder, opened_at, rz, island_end) AS (
    SELECT team_id, responder, opened_at, rz, island_end FROM islands
    UNION ALL
    SELECT o.team_id, o.responder, n.occurred_at, n.responder_time_zone, o.island_end
    FROM openers o CROSS JOIN LATERAL (
        SELECT p.occurred_at, p.responder_time_zone FROM pulse_oncallpage p
        WHERE p.team_id = o.team_id AND p.responder = o.responder
            AND p.occurred_at > o.opened_at + interval '60 seconds' AND p.occurred_at <= o.island_end
            AND p.channel IN ('push', 'phone', 'sms')
        ORDER BY p.occurred_at LIMIT 1
    ) n
    WHERE o.island_end > o.opened_at + interval '60 seconds'
),
interruptions AS (
    SELECT o.team_id, o.responder,
        date_trunc('week', o.opened_at AT TIME ZONE z.tz)::date AS week_start,
        CASE
            WHEN extract(hour FROM o.opened_at AT TIME ZONE o.rz) >= 22
                OR extract(hour FROM o.opened_at AT TIME ZONE o.rz) < 8 THEN 'sleep'
            WHEN extract(isodow FROM o.opened_at AT TIME ZONE o.rz) <= 5
                AND extract(hour FROM o.opened_at AT TIME ZONE o.rz) < 18 THEN 'business'
            ELSE 'off'
        END AS hour_type
    FROM openers o JOIN zones z USING (team_id)
),
carried AS (
    SELECT team_id, week_start, responder, count(*) AS n,
        count(*) FILTER (WHERE hour_type = 'business') AS business,
        count(*) FILTER (WHERE hour_type = 'off') AS off,
        count(*) FILTER (WHERE hour_type = 'sleep') AS sleep
    FROM interruptions GROUP BY team_id, week_start, responder
),
interruption_weeks AS (
    SELECT team_id, week_start, sum(business) AS business, sum(off) AS off, sum(sleep) AS sleep,
        sum(n) AS total
    FROM carried GROUP BY team_id, week_start
),
cycle_responders AS (
    SELECT team_id, week_start + later AS week_start, responder, sum(n) AS n
    FROM carried CROSS JOIN generate_series(0, 21, 7) AS later
    GROUP BY 1, 2, 3
),
cycle_carried AS (
    SELECT team_id, week_start, sum(n) AS total, max(n) AS most FROM cycle_responders GROUP BY 1, 2
),
incident_weeks AS (
    SELECT f.team_id, date_trunc('week', f.first_at AT TIME ZONE z.tz)::date AS week_start,
        count(*) AS incidents
    FROM (
        SELECT team_id, incident, min(occurred_at) AS first_at FROM pulse_oncallpage
        WHERE urgency = 'high' GROUP BY team_id, incident
    ) f JOIN zones z USING (team_id)
    GROUP BY 1, 2
),
person_marked AS (
    SELECT team_id, responder, starts_at, ends_at,
        max(ends_at) OVER (PARTITION BY team_id, responder ORDER BY starts_at, ends_at
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM pulse_oncallshift
),
person_spans AS (
    SELECT team_id, responder, min(starts_at) AS starts_at, max(ends_at) AS ends_at FROM (
        SELECT *, count(*) FILTER (WHERE reach IS NULL OR starts_at > reach)
            OVER (PARTITION BY team_id, responder ORDER BY starts_at, ends_at) AS span
        FROM person_marked
    ) s GROUP BY team_id, responder, span
),
primary_marked AS (
    SELECT team_id, starts_at, ends_at,
        max(ends_at) OVER (PARTITION BY team_id ORDER BY starts_at, ends_at
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM pulse_oncallshift WHERE level = 1
),
primary_spans AS (
    SELECT team_id, min(starts_at) AS starts_at, max(ends_at) AS ends_at FROM (
        SELECT *, count(*) FILTER (WHERE reach IS NULL OR starts_at > reach)
            OVER (PARTITION BY team_id ORDER BY starts_at, ends_at) AS span
        FROM primary_marked
    ) s GROUP BY team_id, span
),
person_weeks AS (
    SELECT s.team_id, s.responder, monday::date AS week_start,
        sum(extract(epoch FROM least(s.ends_at, (monday + interval '7 days') AT TIME ZONE z.tz)
            - greatest(s.starts_at, monday AT TIME ZONE z.tz))) AS seconds
    FROM person_spans s JOIN zones z USING (team_id)
    CROSS JOIN LATERAL generate_series(date_trunc('week', s.starts_at AT TIME ZONE z.tz),
        date_trunc('week', (s.ends_at - interval '1 microsecond') AT TIME ZONE z.tz),
        interval '7 days') AS monday
    GROUP BY 1, 2, 3
),
primary_weeks AS (
    SELECT s.team_id, monday::date AS week_start,
        sum(extract(epoch FROM least(s.ends_at, (monday + interval '7 days') AT TIME ZONE z.tz)
            - greatest(s.starts_at, monday AT TIME ZONE z.tz))) AS seconds
    FROM primary_spans s JOIN zones z USING (team_id)
    CROSS JOIN LATERAL generate_series(date_trunc('week', s.starts_at AT TIME ZONE z.tz),
        date_trunc('week', (s.ends_at - interval '1 microsecond') AT TIME ZONE z.tz),
        interval '7 days') AS monday
    GROUP BY 1, 2
),
latest AS (
    SELECT DISTINCT ON (s.team_id, s.responder, monday)
        s.team_id, s.responder, monday::date AS week_start, s.starts_at, s.site
    FROM pulse_oncallshift s JOIN zones z USING (team_id)
    CROSS JOIN LATERAL generate_series(date_trunc('week', s.starts_at AT TIME ZONE z.tz),
        date_trunc('week', (s.ends_at - interval '1 microsecond') AT TIME ZONE z.tz),
        interval '7 days') AS monday
    ORDER BY s.team_id, s.responder, monday, s.starts_at DESC
),
rotation AS (
    SELECT DISTINCT ON (l.team_id, l.week_start + later, l.responder)
        l.team_id, l.week_start + later AS week_start, l.responder, l.site
    FROM latest l CROSS JOIN generate_series(0, 21, 7) AS later
    ORDER BY l.team_id, l.week_start + later, l.responder, l.starts_at DESC
),
cycle_time AS (
    SELECT team_id, week_start + later AS week_start, responder, sum(seconds) AS seconds
    FROM person_weeks CROSS JOIN generate_series(0, 21, 7) AS later
    GROUP BY 1, 2, 3
),
shares AS (
    SELECT r.team_id, r.week_start,
        COALESCE(c.seconds, 0) / extract(epoch FROM w.ends_at - w.cycle_starts_at) AS share
    FROM rotation r JOIN weeks w USING (team_id, week_start)
    LEFT JOIN cycle_time c USING (team_id, week_start, responder)
),
share_weeks AS (
    SELECT team_id, week_start, count(*) AS rotation_size, max(share) AS max_share,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY share) AS median_share
    FROM shares GROUP BY team_id, week_start
),
site_weeks AS (
    SELECT team_id, week_start, jsonb_object_agg(site, n) AS by_site, count(*) AS sites,
        min(n) AS smallest
    FROM (SELECT team_id, week_start, site, count(*) AS n FROM rotation GROUP BY 1, 2, 3) s
    GROUP BY team_id, week_start
),
figures AS (
    SELECT w.team_id, w.week_start, w.starts_at, w.ends_at,
        COALESCE(i.business, 0) AS business, COALESCE(i.off, 0) AS off, COALESCE(i.sleep, 0) AS sleep,
        s.max_share, s.median_share, COALESCE(n.incidents, 0) AS incidents,
        CASE WHEN COALESCE(p.seconds, 0) > 0
            THEN COALESCE(n.incidents, 0) / (p.seconds / 43200.0) END AS per_shift,
        COALESCE(s.rotation_size, 0) AS rotation_size, COALESCE(b.by_site, '{}'::jsonb) AS by_site,
        CASE WHEN COALESCE(s.rotation_size, 0) >= w.k AND COALESCE(cc.total, 0) > 0
            THEN cc.most::float / cc.total END AS concentration,
        b.sites, b.smallest
    FROM weeks w
    LEFT JOIN interruption_weeks i USING (team_id, week_start)
    LEFT JOIN cycle_carried cc USING (team_id, week_start)
    LEFT JOIN incident_weeks n USING (team_id, week_start)
    LEFT JOIN primary_weeks p USING (team_id, week_start)
    LEFT JOIN share_weeks s USING (team_id, week_start)
    LEFT JOIN site_weeks b USING (team_id, week_start)
)
SELECT team_id, week_start, starts_at, ends_at, business, off, sleep, max_share, median_share, incidents,
    per_shift, rotation_size, by_site, concentration,
    array_remove(ARRAY[
        CASE WHEN max_share > 0.25 THEN 'time_on_call' END,
        CASE WHEN per_shift > 2 THEN 'incidents_per_shift' END,
        CASE WHEN sites = 1 AND smallest < 8 OR sites > 1 AND smallest < 6 THEN 'rotation_size' END
    ], NULL) AS reasons
FROM figures
"""

# Every figure a stored week holds, in its columns' order, but the time off (empty on both sides: no absences)
# and the row's own bookkeeping.
FIGURES = tuple(
    field for field in WEEK_FIELDS if field not in {"without_time_off_share", "computed_at", "rules_version"}
)


def baseline_weeks() -> dict[tuple[int, date], tuple[Any, ...]]:
    """The baseline's figures by (team, week), in the order of :data:`FIGURES`."""
    with transaction.atomic(), connection.cursor() as cursor:
        # PostgreSQL's JIT would compile this statement's ~300 expressions for longer than it runs.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(BASELINE_SQL)
        rows = cursor.fetchall()
    by_site = FIGURES.index("rotation_by_site")
    found = {}
    for team_id, week_start, *figures in rows:
        if isinstance(figures[by_site], str):  # Django's cursor leaves jsonb as text
            figures[by_site] = json.loads(figures[by_site])
        found[(team_id, week_start)] = tuple(figures)
    return found


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, float) or isinstance(theirs, float):
        if ours is None or theirs is None:
            return ours is None and theirs is None
        return abs(float(ours) - float(theirs)) <= 1e-9 * max(1.0, abs(float(ours)))
    return bool(ours == theirs)


def mismatches(expected: Mapping[tuple[int, date], tuple[Any, ...]]) -> tuple[int, int, list[str]]:
    """Compare every stored ``OncallWeek`` with the baseline's row: (weeks compared, figures that differ,
    the first few differences, named)."""
    differ = 0
    shown: list[str] = []
    seen = set()
    fields = [field for field in FIGURES if field != "reasons"]
    for team_id, week_start, reasons, *values in OncallWeek.objects.values_list(
        "team_id", "week_start", "reasons", *fields
    ).iterator(chunk_size=5000):
        key = (team_id, week_start)
        seen.add(key)
        theirs = expected.get(key)
        if theirs is None:
            differ += 1
            shown.append(f"team {team_id} week {week_start}: not in the baseline")
            continue
        ours = dict(zip(fields, values, strict=True))
        ours["reasons"] = [reason["code"] for reason in reasons]
        for field, their in zip(FIGURES, theirs, strict=True):
            if not _same(ours[field], their):
                differ += 1
                if len(shown) < 10:
                    shown.append(
                        f"team {team_id} week {week_start} {field}: ours {ours[field]!r}, baseline {their!r}"
                    )
    for key in expected.keys() - seen:
        differ += 1
        if len(shown) < 10:
            shown.append(f"team {key[0]} week {key[1]}: only in the baseline")
    return len(seen), differ, shown


# ----------------------------------------------------------------------------------------------- the sync


def _ports() -> range:
    text = os.environ.get("PULSE_BENCH_PAGERDUTY_PORTS", "")
    if not text:
        return PORTS
    low, _, high = text.partition("-")
    return range(int(low), int(high or low) + 1)


def _serve(server: PagerDutyServer, loads: Sequence[TeamLoad], since: datetime, until: datetime) -> None:
    """The account's rota, incidents and notifications in [since, until): each team its own schedule,
    escalation policy and service."""
    channels = {
        "push": "push_notification",
        "phone": "phone_notification",
        "sms": "sms_notification",
        "email": "email_notification",
    }
    for load in loads:
        schedule, policy, service = f"PS{load.index:04d}", f"PEP{load.index:04d}", f"PSV{load.index:04d}"
        for person in load.people:
            server.add_user(person.user_id, person.zone)
        for shift in load.shifts:
            if shift.start < until and shift.end > since:
                server.add_oncall(
                    shift.responder,
                    shift.start,
                    shift.end,
                    level=shift.level,
                    schedule_id=schedule,
                    policy_id=policy,
                )
        first: dict[str, Page] = {}
        for page in load.pages:
            first.setdefault(page.incident, page)
        wanted = {page.incident for page in load.pages if since <= page.occurred_at < until}
        for incident, page in first.items():
            if incident in wanted:
                server.add_incident(
                    incident, page.occurred_at, urgency=page.urgency, service_id=service, policy_id=policy
                )
        for page in load.pages:
            if since <= page.occurred_at < until:
                server.add_notification(
                    page.incident, page.responder, page.occurred_at, channels[page.channel]
                )


@contextmanager
def _account(loads: Sequence[TeamLoad], since: datetime, until: datetime) -> Iterator[PagerDutyServer]:
    key = f"bench{secrets.token_hex(8)}"
    with pagerduty_server(key, ports=_ports()) as server:
        _serve(server, loads, since, until)
        with override_settings(
            PULSE_PAGERDUTY_API_URLS=[server.url], PULSE_PAGERDUTY_CA_BUNDLE=str(server.ca_file)
        ):
            yield server


def _replay(server: PagerDutyServer, seen: Sequence[Any]) -> float:
    """Seconds to make the same GET requests with a bare HTTP client: no pacing, no parsing, no storing."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    headers = {
        "Authorization": f"Token token={server.data.api_key}",
        "Accept": "application/vnd.pagerduty+json;version=2",
    }
    with httpx2.Client(base_url=server.url, verify=context, headers=headers) as client:
        started = time.perf_counter()
        for request in seen:
            response = client.get(request.path, params=request.query)
            response.raise_for_status()
        return time.perf_counter() - started


@dataclass(frozen=True)
class SyncFigures:
    seconds: float
    replay_seconds: float
    requests: int
    shifts_new: int
    pages_new: int
    shifts_expected: int
    pages_expected: int


def sync_one_day(team: Team, loads: Sequence[TeamLoad], linked: TeamLoad, weeks: int) -> SyncFigures:
    """Link ``team`` (generated as ``linked``), put its cursor at the year's end, and sync the next day."""
    end = _year_end(weeks)
    until = end + timedelta(days=1)
    with _account(loads, end - SYNC_HISTORY, until) as server:
        pagerduty_connection_save(
            organisation_id=team.organisation_id, api_url=server.url, api_key=server.data.api_key
        )
        link = pagerduty_team_link_save(
            organisation_id=team.organisation_id,
            team_id=team.pk,
            schedule_ids=[f"PS{linked.index:04d}"],
            escalation_policy_ids=[],
            service_ids=[f"PSV{linked.index:04d}"],
        )
        link.synced_until = end
        link.save(update_fields=["synced_until"])
        before = len(server.seen)
        seconds, report = timed(lambda: pagerduty_team_sync(link_id=link.pk, now=until))
        if report is None or report.outcome != SyncOutcome.OK:
            raise RuntimeError(f"the sync did not finish: {report}")
        made = server.seen[before:]
        replay = _replay(server, made)
    return SyncFigures(
        seconds=seconds,
        replay_seconds=replay,
        requests=len(made),
        shifts_new=report.shifts_new,
        pages_new=report.pages_new,
        shifts_expected=sum(1 for s in linked.shifts if end <= s.start < until),
        pages_expected=sum(1 for p in linked.pages if end <= p.occurred_at < until),
    )


# ------------------------------------------------------------------------------------------------ the run


def _runs(times: Sequence[float]) -> str:
    return f"{', '.join(f'{seconds:.2f}' for seconds in times)} s (best {min(times):.2f} s)"


def run(options: dict[str, Any], stdout: _Writer) -> BenchResult:
    smoke = bool(options.get("smoke"))
    scale = float(options.get("scale") or 1.0)
    count = SMOKE_TEAMS if smoke else max(2, round(TEAMS * scale))
    weeks = SMOKE_WEEKS if smoke else WEEKS
    end = _year_end(weeks)
    with scratch_database("oncall"):
        teams = teams_create(count)
        linked_org = teams[0].organisation_id
        kept: list[TeamLoad] = []  # the first organisation's teams, for the PagerDuty account
        generating = importing = 0.0
        shifts_total = pages_total = 0
        for index, team in enumerate(teams):
            started = time.perf_counter()
            load = team_load(index, weeks)
            shifts, pages = _stored_part(load, end)
            stored_at = time.perf_counter()
            stored = oncall_rows_store(team_id=team.pk, shifts=shifts, pages=pages, source="pagerduty")
            generating += stored_at - started
            importing += time.perf_counter() - stored_at
            if stored.shifts_new != len(shifts) or stored.pages_new != len(pages):
                raise RuntimeError(f"team {index}: stored {stored}, generated {len(shifts)} and {len(pages)}")
            shifts_total += len(shifts)
            pages_total += len(pages)
            if team.organisation_id == linked_org:
                kept.append(_tail(load, end - SYNC_HISTORY))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE pulse_oncallpage, pulse_oncallshift, pulse_oncallweek")
        organisations = len({team.organisation_id for team in teams})
        stdout.write(
            f"oncall: {count:,} teams in {organisations} organisations, {weeks} weeks from {START.date()}: "
            f"{shifts_total:,} shifts and {pages_total:,} pages (generated in {generating:.1f} s, not timed)"
        )
        rows = shifts_total + pages_total
        stdout.write(
            f"import through oncall_rows_store (hashing, inserts, each team's weeks computed): "
            f"{importing:.1f} s, {rows / importing:,.0f} rows/s"
        )

        weeks_stored = OncallWeek.objects.count()
        # Both sides in turn (module docstring); both read tables the import has just written.
        ours_times: list[float] = []
        baseline_times: list[float] = []
        for _ in range(RUNS):
            seconds, written = timed(lambda: sum(oncall_weeks_compute(team_id=team.pk) for team in teams))
            ours_times.append(seconds)
            seconds, expected = timed(baseline_weeks)
            baseline_times.append(seconds)
        ours_seconds, baseline_seconds = min(ours_times), min(baseline_times)
        stdout.write(
            f"ours: oncall_weeks_compute for each of the {count:,} teams, every week: {written:,} weeks in "
            f"{_runs(ours_times)} ({1000 * ours_seconds / count:.1f} ms a team)"
        )
        stdout.write(
            f"baseline: one hand-written SQL statement (window functions, a recursive walk of the 60 s "
            f"windows, GROUP BY) computing the same figures for {len(expected):,} team weeks, fetched to the "
            f"client: {_runs(baseline_times)}"
        )
        compared, differ, shown = mismatches(expected)
        stdout.write(
            f"agreement: {compared:,} weeks × {len(FIGURES)} figures compared with the baseline's: "
            f"{differ} mismatches"
        )
        for line in shown:
            stdout.write(f"  {line}")
        if differ or compared != weeks_stored:
            raise RuntimeError("ours and the baseline do not compute the same weekly figures")

        sync = sync_one_day(teams[0], kept, kept[0], weeks)
        stdout.write(
            f"sync: one day of team 1 through pagerduty_team_sync (the configured pacer, {sync.requests} "
            f"requests to the local PagerDuty server, {sync.shifts_new} shifts and {sync.pages_new} pages "
            f"new, its weeks recomputed): {sync.seconds:.3f} s, target ≤ 1 s; the same requests replayed "
            f"bare: {sync.replay_seconds:.3f} s"
        )
        if (sync.shifts_new, sync.pages_new) != (sync.shifts_expected, sync.pages_expected):
            raise RuntimeError(
                f"the sync stored {sync.shifts_new} shifts and {sync.pages_new} pages, the day has "
                f"{sync.shifts_expected} and {sync.pages_expected}"
            )
    return BenchResult("oncall", ours_seconds, baseline_seconds, "s", "ratio<=2")
