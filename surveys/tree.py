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
