"""Where a PagerDuty-linked team's interruption counts come from, as the admin's PagerDuty page says it
(docs/oncall.md §9.1).

The counts shown everywhere are ``OncallWeek``'s, computed from PagerDuty's log entries. Where the team is
linked to a PagerDuty team and the account has Analytics, ``PagerDutyAnalyticsWeek`` holds Analytics' team
sums for the same weeks; this module sets the two side by side for the last :data:`CHECKED_WEEKS` weeks
both have. Both tables are per team and week: nothing here is per person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from pulse.analysis.oncall import HourSplit
from pulse.analysis.pagerduty import WeekCheck, interruption_checks
from pulse.models import OncallWeek, PagerDutyAnalyticsWeek, PagerDutyTeamLink
from pulse.models.pagerduty import AnalyticsState

CHECKED_WEEKS = 12


@dataclass(frozen=True)
class InterruptionSource:
    """``analytics``: ``"no_team"`` (no PagerDuty team named), ``"not_asked"`` (no settled week asked yet),
    or an :class:`~pulse.models.pagerduty.AnalyticsState` value; ``checks``: the compared weeks, oldest
    first."""

    analytics: str
    pagerduty_team_id: str
    status: int | None
    checks: tuple[WeekCheck, ...]

    @property
    def cross_checked(self) -> bool:
        return bool(self.checks)

    @property
    def agreeing(self) -> int:
        return sum(1 for check in self.checks if check.agrees)

    @property
    def differing(self) -> tuple[WeekCheck, ...]:
        return tuple(check for check in self.checks if not check.agrees)


def _splits(rows: Sequence[tuple[int, date, int, int, int]]) -> dict[int, dict[date, HourSplit]]:
    found: dict[int, dict[date, HourSplit]] = defaultdict(dict)
    for team_id, monday, business, off, sleep in rows:
        found[team_id][monday] = HourSplit(business=business, off=off, sleep=sleep)
    return found


def interruption_sources(links: Sequence[PagerDutyTeamLink]) -> dict[int, InterruptionSource]:
    """Each link's source of interruption counts and its cross-check, by link id: two queries for all."""
    team_ids = [link.team_id for link in links]
    since = timezone.now().date() - timedelta(weeks=CHECKED_WEEKS + 1)
    fields = ("team_id", "week_start", "interruptions_business", "interruptions_off", "interruptions_sleep")
    logged = _splits(
        list(OncallWeek.objects.filter(team_id__in=team_ids, week_start__gte=since).values_list(*fields))
    )
    analysed = _splits(
        list(
            PagerDutyAnalyticsWeek.objects.filter(team_id__in=team_ids, week_start__gte=since).values_list(
                *fields
            )
        )
    )
    sources: dict[int, InterruptionSource] = {}
    for link in links:
        checks = interruption_checks(logged.get(link.team_id, {}), analysed.get(link.team_id, {}))
        if not link.pagerduty_team_id:
            state = "no_team"
        elif not link.analytics_state:
            state = "not_asked"
        else:
            state = AnalyticsState(link.analytics_state).value
        sources[link.pk] = InterruptionSource(
            analytics=state,
            pagerduty_team_id=link.pagerduty_team_id,
            status=link.analytics_status,
            checks=tuple(checks[-CHECKED_WEEKS:]),
        )
    return sources
