"""Which teams' counters the close step may store: ``surveys.tree.storable_teams`` and the home team.

Checked independently of the planner's own reasoning: the stored teams' counters are linear equations
over groups of respondents, and a group whose sum follows from them is a vector in their row space
(Hundepool et al. 2012, ch. 5; the same check as tests/pulse/test_disclosure_properties.py).
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

from surveys.tree import counting_closure, home_team, storable_teams


def test_a_parent_of_seven_and_its_child_of_six_cannot_both_be_stored() -> None:
    parent = {1: None, 2: 1, 3: 1}
    # 2 has 6 respondents, 3 has 1: root − 2 would be the one person of 3.
    assert storable_teams(parent, {1: 7, 2: 6, 3: 1}, 5) == {1}
    # With 5 in team 3 the root's region is empty and all three are safe.
    assert storable_teams(parent, {1: 11, 2: 6, 3: 5}, 5) == {1, 2, 3}
    # Two direct members of the root: its region is 2, so the smaller sibling joins it (2 + 5 = 7).
    assert storable_teams(parent, {1: 13, 2: 6, 3: 5}, 5) == {1, 2}


def test_a_sub_team_that_adds_nobody_is_passed_over_for_one_that_does() -> None:
    # 1 → 2 → 4 (2 is exactly its child 4), and 1 → 3; root has 1 direct member.
    parent = {1: None, 2: 1, 3: 1, 4: 2}
    stored = storable_teams(parent, {1: 12, 2: 5, 3: 6, 4: 5}, 5)
    # Dropping 2 would leave 4 in the frontier and the region unchanged; 3 is what helps.
    assert stored == {1, 2, 4}


def test_home_team_is_the_deepest_then_the_oldest() -> None:
    paths = {1: "/1/", 2: "/1/2/", 3: "/1/3/", 4: "/1/3/4/"}
    assert home_team([3, 2], paths) == 2
    assert home_team([2, 4], paths) == 4
    assert home_team([99], paths) is None
    assert counting_closure([2, 4], paths, 0) == {1, 3, 4}
    assert counting_closure([99], paths, 0) == set()


@st.composite
def trees(draw: st.DrawFn) -> tuple[dict[int, int | None], dict[int, int]]:
    """A random tree of up to ~25 teams and the respondents whose home team each one is."""
    parent: dict[int, int | None] = {0: None}
    open_teams = [(0, 0)]
    while open_teams:
        team, depth = open_teams.pop()
        if depth < 3:
            for _ in range(draw(st.integers(0, 3 if depth < 2 else 2))):
                child = len(parent)
                parent[child] = team
                open_teams.append((child, depth + 1))
    home = {team: draw(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 9])) for team in parent}
    return parent, home


def _subtree(parent: dict[int, int | None], team: int) -> set[int]:
    found = {team}
    changed = True
    while changed:
        more = {t for t, p in parent.items() if p in found} - found
        found |= more
        changed = bool(more)
    return found


@settings(max_examples=300, deadline=None)
@given(world=trees(), k=st.sampled_from([3, 5]))
def test_no_group_below_k_follows_from_the_stored_teams(
    world: tuple[dict[int, int | None], dict[int, int]], k: int
) -> None:
    parent, home = world
    # Respondents are grouped by home team (people with the same home team count in the same teams, so no
    # equation tells them apart): a column per home team, weighted by how many people it holds.
    atoms = sorted(team for team, count in home.items() if count)
    respondents = {team: sum(home[t] for t in _subtree(parent, team)) for team in parent}
    stored = storable_teams(parent, respondents, k)
    note(f"parent={parent} home={home} stored={sorted(stored)}")
    assert all(respondents[team] >= k for team in stored)
    if not atoms or not stored:
        return
    columns = {atom: i for i, atom in enumerate(atoms)}
    rows = np.zeros((len(stored), len(atoms)))
    for r, team in enumerate(sorted(stored)):
        for atom in _subtree(parent, team):
            if atom in columns:
                rows[r, columns[atom]] = 1.0
    rank = np.linalg.matrix_rank(rows)

    def derivable(group: set[int]) -> bool:
        vector = np.array([[1.0 if atom in group else 0.0 for atom in atoms]])
        return bool(np.linalg.matrix_rank(np.vstack([rows, vector])) == rank)

    # Any single home group, any pair, and any team's whole subtree: if it holds 1..k−1 people, its
    # counters must not be a combination of the stored ones.
    candidates = [{atom} for atom in atoms] + [set(pair) for pair in itertools.combinations(atoms, 2)]
    candidates += [_subtree(parent, team) & set(atoms) for team in parent]
    for group in candidates:
        people = sum(home[atom] for atom in group)
        if 0 < people < k:
            assert not derivable(group), f"{sorted(group)} ({people} people) follows from the stored teams"
