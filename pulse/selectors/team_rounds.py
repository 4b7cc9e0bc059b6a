"""Which closed rounds asked a team, and what a team still needs before any round can.

A round's scope covers every team below its schedule's team (``RoundInfo.covers``), including a team created
long after the round, or one whose people joined later: listed as rounds of that team, they would read as
"fewer than 5 answers" and point to the team above. A round *asked* a team when someone was on its roster
through the team: the roster is frozen at open from the memberships current that day
(``surveys.services.rounds.roster_for``: member role, on the opening's day in the server's zone), and each
person counts in their team's whole chain (``surveys.tree.counting_closure``). So a round is listed for a
team when a member membership of the team or a team below it was current on the round's opening day, or,
whatever the memberships say now (one ended or deleted since), when the team has aggregates stored for the
round. Reads only; a fixed number of queries whatever the number of teams.

What a listing cannot tell: a membership entered afterwards with a start date in the past makes the rounds
since that date count as asking the team, although the roster of the time did not hold that person. The
result is the same as for a team whose people did not answer: "fewer than k answers", never a number.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from pulse.disclosure.release import RoundInfo, TeamInfo, round_infos
from pulse.models import TeamAggregate
from surveys.models import Membership, Round, Schedule


def _opening_day(opens_at: dt.datetime) -> dt.date:
    """The day a round's roster was frozen on: as ``roster_for`` computes it."""
    return opens_at.astimezone(timezone.get_default_timezone()).date()


def _member_intervals(
    organisation_id: int, teams: Sequence[TeamInfo]
) -> dict[int, list[tuple[dt.date, dt.date | None]]]:
    """team -> the (first day, first day no longer) of every member membership of it or a team below it.
    One query; distinct intervals only (an import gives hundreds of people one start date)."""
    paths = {t.path for t in teams}
    tops = [p for p in paths if not any(p != other and p.startswith(other) for other in paths)]
    within = Q()
    for path in tops:
        within |= Q(team__path__startswith=path)
    rows = (
        Membership.objects.filter(within, team__organisation_id=organisation_id, role=Membership.Role.MEMBER)
        .values_list("team__path", "starts_on", "ends_on")
        .distinct()
        .order_by()
    )
    wanted = {t.pk for t in teams}
    out: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    for path, starts_on, ends_on in rows:
        # The membership's team and every team above it (the path holds their ids), as its people count.
        for team_id in (int(part) for part in path.strip("/").split("/") if part):
            if team_id in wanted:
                out[team_id].append((starts_on, ends_on))
    return out


def _had_members(intervals: Sequence[tuple[dt.date, dt.date | None]], day: dt.date) -> bool:
    return any(start <= day and (end is None or end > day) for start, end in intervals)


def rounds_asking(
    organisation_id: int, teams: Sequence[TeamInfo], *, limit: int | None
) -> dict[int, list[RoundInfo]]:
    """Per team, the closed, aggregated rounds that asked it (see the module docstring), newest first, at
    most ``limit`` each. Four queries for any number of teams (rounds, memberships, aggregates, and the
    rounds' instruments)."""
    if not teams:
        return {}
    own = {t.pk for t in teams}
    above = {a for t in teams for a in t.ancestor_ids} - own
    rows = list(
        Round.objects.filter(
            Q(team_id__in=own) | Q(team_id__in=above, schedule__include_subtree=True),
            organisation_id=organisation_id,
            status=Round.Status.CLOSED,
            aggregated_at__isnull=False,
        )
        .order_by("-closes_at", "-pk")
        .values_list("pk", "closes_at", "team__path", "schedule__include_subtree", "opens_at")
    )
    plain = [RoundInfo(pk, closes_at, path, subtree) for pk, closes_at, path, subtree, _ in rows]
    days = {row[0]: _opening_day(row[4]) for row in rows}
    intervals = _member_intervals(organisation_id, teams)
    # Rounds newer than a team's limit-th round with members may still be listed for their aggregates;
    # those are the only ones worth asking the aggregates about.
    members: dict[int, list[int]] = {}
    doubtful: dict[int, list[int]] = {}
    for team in teams:
        members[team.pk], doubtful[team.pk] = [], []
        for info in plain:
            if limit is not None and len(members[team.pk]) >= limit:
                break
            if not info.covers(team):
                continue
            if _had_members(intervals.get(team.pk, ()), days[info.pk]):
                members[team.pk].append(info.pk)
            else:
                doubtful[team.pk].append(info.pk)
    stored: set[tuple[int, int]] = set()
    asked_about = {pk for ids in doubtful.values() for pk in ids}
    if asked_about:
        stored = set(
            TeamAggregate.objects.filter(
                round_id__in=sorted(asked_about), team_id__in=[t for t, ids in doubtful.items() if ids]
            )
            .values_list("round_id", "team_id")
            .distinct()
            .order_by()
        )
    order = {info.pk: position for position, info in enumerate(plain)}
    chosen: dict[int, list[int]] = {}
    for team in teams:
        kept = members[team.pk] + [pk for pk in doubtful[team.pk] if (pk, team.pk) in stored]
        kept.sort(key=order.__getitem__)
        chosen[team.pk] = kept if limit is None else kept[:limit]
    wanted = {pk for ids in chosen.values() for pk in ids}
    infos = {info.pk: info for info in round_infos(row[:4] for row in rows if row[0] in wanted)}
    return {team_id: [infos[pk] for pk in ids] for team_id, ids in chosen.items()}


@dataclass(frozen=True)
class TeamSetup:
    """What a team needs before a round can ask it: members today (of it or a team below it) and a
    schedule that asks it or a team below it. ``next_opening``: their earliest next opening (UTC)."""

    has_members: bool
    schedules: tuple[str, ...]
    next_opening: dt.datetime | None

    @property
    def ready(self) -> bool:
        return self.has_members and bool(self.schedules)


def team_setup_get(*, organisation_id: int, team: TeamInfo, today: dt.date | None = None) -> TeamSetup:
    """Whether anyone is a member of the team (or a team below it) today, and which active schedules ask
    it or a team below it: their own, or a team's above that includes the teams below. Two queries."""
    day = today or timezone.localdate()
    has_members = (
        Membership.objects.current(day)
        .filter(team__organisation_id=organisation_id, team__path__startswith=team.path)
        .filter(role=Membership.Role.MEMBER)
        .exists()
    )
    asking = (
        Schedule.objects.filter(
            Q(team__path__startswith=team.path) | Q(team_id__in=team.ancestor_ids, include_subtree=True),
            organisation_id=organisation_id,
            is_active=True,
        )
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .order_by("name")
        .values_list("name", "next_opening_at")
    )
    names = tuple(name for name, _ in asking)
    openings = [opening for _, opening in asking if opening is not None]
    return TeamSetup(has_members=has_members, schedules=names, next_opening=min(openings, default=None))
