"""Time off per team: who in a team had a real break lately, counted per team only (docs/oncall.md §8).

Pure module: dates in, a share out, no Django. A person is an opaque reference (the caller passes keyed
hashes); an absence is a first and a last day, both inclusive.

The rule (issue #20, docs/oncall.md §8): a person *had a break* when, inside the window of the last
``WINDOW_DAYS`` days, some ``BREAK_WORKING_DAYS`` or more consecutive working days (Monday to Friday) are all
covered by their absences. Saturdays and Sundays neither count nor interrupt a run, so a Thursday-to-Wednesday
week away is five consecutive working days, and so are two absences written as Monday-to-Wednesday and
Thursday-to-Friday. Days outside the window are cut off: an absence that began 100 days ago counts only with
the working days it has inside the last 90. Public holidays are not known to Pulse and count as working
days (a week off that contains one still needs five covered weekdays).

Why five working days: the vacation research reviewed by de Bloom et al. (2009, "Do we recover from
vacation? Meta-analysis of vacation effects on health and well-being", *Journal of Occupational Health*
51(1):13-25) finds that health and well-being improve during a vacation and fade within weeks after it;
a working week away is the shortest break this metric takes as one, the threshold the issue sets. The
metric is a team's *share without* such a break in a quarter: the people who most need one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

BREAK_WORKING_DAYS = 5
WINDOW_DAYS = 90


@dataclass(frozen=True)
class Absence:
    """``person`` away from ``first_day`` to ``last_day``, both inclusive."""

    person: str
    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"an absence ends before it starts ({self.first_day} → {self.last_day})")
        if not self.person:
            raise ValueError("an absence needs a person")


def window(last_day: date, days: int = WINDOW_DAYS) -> tuple[date, date]:
    """The ``days`` days ending with ``last_day``, as (first day, last day), both inclusive."""
    return last_day - timedelta(days=days - 1), last_day


def longest_working_day_run(spans: Iterable[tuple[date, date]], first: date, last: date) -> int:
    """The most consecutive working days (Mon–Fri) in [first, last] that ``spans`` cover (module doc)."""
    covered: set[date] = set()
    for start, end in spans:
        day = max(start, first)
        while day <= min(end, last):
            covered.add(day)
            day += timedelta(days=1)
    longest = run = 0
    day = first
    while day <= last:
        if day.weekday() < 5:
            run = run + 1 if day in covered else 0
            longest = max(longest, run)
        day += timedelta(days=1)
    return longest


def had_break(spans: Iterable[tuple[date, date]], last_day: date) -> bool:
    """Whether the spans cover ``BREAK_WORKING_DAYS`` consecutive working days in the window ending there."""
    first, last = window(last_day)
    return longest_working_day_run(spans, first, last) >= BREAK_WORKING_DAYS


def share_without_break(
    people: Collection[str], absences: Iterable[Absence], last_day: date, *, k: int
) -> float | None:
    """The share of ``people`` with no break (module docstring) in the window ending ``last_day``.

    ``None`` when the team has fewer than ``k`` people (the organisation's minimum group size): a share of
    three people tells too much about each of them. Absences of anyone not in ``people`` are ignored."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(people) < k:
        return None
    spans: Mapping[str, list[tuple[date, date]]] = {person: [] for person in people}
    for absence in absences:
        if absence.person in spans:
            spans[absence.person].append((absence.first_day, absence.last_day))
    without = sum(1 for person in people if not had_break(spans[person], last_day))
    return without / len(people)
