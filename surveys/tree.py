"""Pure helpers over the teams' materialised paths ("/1/4/9/"), shared by the close step and aggregation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def path_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def team_closure(team_ids: Iterable[int], paths: Mapping[int, str], root_depth: int) -> set[int]:
    """The teams a person counts in: their own teams and every ancestor from the scope root (at depth
    ``root_depth``) down. Teams missing from ``paths`` (deleted, or moved out of scope) are skipped."""
    teams: set[int] = set()
    for team_id in team_ids:
        path = paths.get(team_id)
        if path is not None:
            teams.update(path_ids(path)[root_depth:])
    return teams


def home_team(team_ids: Iterable[int], paths: Mapping[int, str]) -> int | None:
    """The one team a respondent's answers are counted under: the deepest of their teams in scope, and of
    equally deep ones the oldest (lowest id). ``None`` when none of them is in scope.

    Why one team: counting a person in two sibling teams makes their parent non-additive, and then the
    overlap is a group of its own that addition and subtraction can isolate (A + B − (A ∪ B) is the people
    in both, often one person). The disclosure planner could only withhold every team below such a parent;
    counting each respondent along one chain keeps the tree additive, so every team keeps its results and
    the parent still counts the person exactly once. The cost, stated plainly: a person's second team does
    not include their answers. The deepest team goes first because a membership of a team *and* of one of
    its sub-teams loses nothing: the sub-team's chain passes through the team.
    """
    known = [team_id for team_id in team_ids if team_id in paths]
    if not known:
        return None
    return min(known, key=lambda team_id: (-paths[team_id].count("/"), team_id))


def counting_closure(team_ids: Iterable[int], paths: Mapping[int, str], root_depth: int) -> set[int]:
    """The teams a respondent is counted in: their home team (:func:`home_team`) and its ancestors from the
    scope root down. Shared by the close step (ballots), aggregation (invitees) and the reports."""
    home = home_team(team_ids, paths)
    return team_closure([home], paths, root_depth) if home is not None else set()


def storable_teams(parent: Mapping[int, int | None], respondents: Mapping[int, int], k: int) -> set[int]:
    """The teams whose counters the close step may store, so that no group of fewer than ``k`` respondents
    can be computed from the stored rows by adding and subtracting them (docs/science.md §4.2).

    The counters are readable by anyone with ``SELECT``, so the complementary suppression that
    ``pulse.disclosure`` applies to pages must already hold for what is stored: a parent of 7 and its child
    of 6 would otherwise give the seventh person's answers as parent − child. Model (the same as
    ``pulse.disclosure``'s, for the additive tree that :func:`counting_closure` makes): ``parent`` maps every
    team of the round's scope to its parent in scope (``None`` for the scope root), ``respondents`` gives
    each team's respondents, each counted in their home team and every ancestor. The *region* of a stored
    team is its respondents in no stored team below it. Stored teams form a laminar family, so every group
    whose counters follow from the stored rows is a union of regions; this returns a family in which every
    region holds 0 or at least ``k`` respondents. Then no team below ``k``, and no union of small groups, can
    be derived, whatever rows one reads.

    Start from the teams with at least ``k`` respondents; bottom-up, while a stored team's region has 1 to
    k − 1 respondents, stop storing its smallest stored sub-team that has respondents of its own (whose
    region then joins the parent's). Removing a team changes only the regions of its nearest stored
    ancestor, which comes later in the bottom-up order, so one pass suffices.
    """
    children: dict[int, list[int]] = {team_id: [] for team_id in parent}
    for team_id, parent_id in parent.items():
        if parent_id is not None and parent_id in children:
            children[parent_id].append(team_id)
    depth: dict[int, int] = {}
    for root in (team_id for team_id, parent_id in parent.items() if parent_id not in children):
        stack = [(root, 0)]
        while stack:
            team_id, level = stack.pop()
            depth[team_id] = level
            stack.extend((child, level + 1) for child in children[team_id])
    stored = {team_id for team_id in parent if respondents.get(team_id, 0) >= k}

    def frontier(team_id: int) -> list[int]:
        found, stack = [], list(children[team_id])
        while stack:
            below = stack.pop()
            if below in stored:
                found.append(below)
            else:
                stack.extend(children[below])
        return found

    def region(team_id: int) -> int:
        return respondents.get(team_id, 0) - sum(respondents.get(q, 0) for q in frontier(team_id))

    for team_id in sorted(stored, key=lambda t: (-depth[t], t)):
        while 0 < region(team_id) < k:
            front = frontier(team_id)
            # A sub-team that is the exact sum of its own stored sub-teams adds nobody to the region.
            useful = [q for q in front if region(q) > 0] or front
            stored.discard(min(useful, key=lambda q: (respondents.get(q, 0), q)))
    return stored
