"""Property tests for complementary suppression: nothing withheld can be derived, checked by linear algebra.

Random team trees (depth ≤ 4, up to 4 children per team, 0–15 respondents per team's direct members, some
parents with direct members of their own) are built from *atoms*: groups of respondents with the same team
memberships. Every published cell is the linear equation "sum over the atoms inside this team"; the same
equations hold for the respondent counts. A group's sum can be derived from the published cells iff its
indicator vector lies in their row space (numpy.linalg: orthonormal basis from the SVD).

Atoms with no respondents are dropped first (their sums are known to be 0), which makes the test stricter.
The checks do not use the module's own region logic:

* every atom (and so every "direct members" residual) is either in no derivable group or in a class of
  atoms that always appear together in the row space; the row space is exactly spanned by those classes
  (rank == number of classes), so every derivable group is a union of classes, and every class has 0 or
  at least ``t`` respondents: **no group of 1…t−1 respondents can be derived**, whatever its shape;
* every withheld team with respondents (below ``t``, complementary, or withheld by the caller) has a
  component outside the row space: it **cannot be derived**;
* the same holds for any subset of the published cells (a leader who sees only some levels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from pulse.disclosure.rules import (
    Cell,
    DisclosureError,
    MetricKind,
    Published,
    Withheld,
    WithheldCode,
    roster_change_guard,
    suppress_tree,
    threshold_for,
    verify_tree,
)

MAX_DEPTH = 4
MAX_CHILDREN = 4


@dataclass(frozen=True)
class World:
    """A tree and its atoms: (the set of teams an atom's people are counted in, number of respondents)."""

    parent: dict[int, int | None]
    atoms: list[tuple[frozenset[int], int]]

    def ancestors_or_self(self, team: int) -> frozenset[int]:
        out: set[int] = set()
        t: int | None = team
        while t is not None:
            out.add(t)
            t = self.parent[t]
        return frozenset(out)

    def cells(self) -> list[Cell]:
        """What the aggregation step would hand over: per team n and direct_n (each person once per team)."""
        children: dict[int, set[int]] = {t: set() for t in self.parent}
        for t, p in self.parent.items():
            if p is not None:
                children[p].add(t)
        out = []
        for t in sorted(self.parent):
            inside = [(teams, n) for teams, n in self.atoms if t in teams]
            n = sum(k for _, k in inside)
            direct = sum(k for teams, k in inside if not teams & children[t])
            out.append(Cell(team_id=t, parent_id=self.parent[t], n=n, direct_n=direct, total=3.0 * n))
        return out

    def source(self) -> str:
        """The cells as test_disclosure.py's ``cell(...)`` calls, ready to paste into a regression test."""
        calls = [
            f"cell({c.team_id}, {c.parent_id}, {c.n}"
            + ("" if c.direct_n == c.n else f", direct_n={c.direct_n}")
            + ")"
            for c in self.cells()
        ]
        return "[" + ", ".join(calls) + "]"


@st.composite
def worlds(draw: st.DrawFn, *, overlaps: bool) -> World:
    parent: dict[int, int | None] = {0: None}
    frontier = [(0, 0)]
    while frontier:
        team, depth = frontier.pop()
        if depth < MAX_DEPTH:
            # Leaves are likelier deeper down, which keeps trees varied but small enough to be fast.
            kids = draw(st.integers(0, MAX_CHILDREN) if depth < 2 else st.sampled_from([0, 0, 0, 1, 2, 3, 4]))
            for _ in range(kids):
                child = len(parent)
                parent[child] = team
                frontier.append((child, depth + 1))
    world = World(parent, [])
    is_parent = {p for p in parent.values() if p is not None}
    atoms: list[tuple[frozenset[int], int]] = []
    for t in sorted(parent):
        # Every leaf has 0–15 respondents; some parents have direct members of their own.
        n = draw(st.sampled_from([0, 0, 0, 1, 2, 4, 7, 12]) if t in is_parent else st.integers(0, 15))
        atoms.append((world.ancestors_or_self(t), n))
    if overlaps and len(parent) > 2:
        # A few people counted in two teams at once (e.g. an SRE embedded in a product team).
        for _ in range(draw(st.integers(1, 3))):
            a = draw(st.sampled_from(sorted(parent)))
            b = draw(st.sampled_from(sorted(parent)))
            teams = world.ancestors_or_self(a) | world.ancestors_or_self(b)
            atoms.append((teams, draw(st.integers(1, 3))))
    out = World(parent, atoms)
    # Hypothesis prints this composite's argument as an empty "world=", so the tree is noted explicitly.
    note(f"cells = {out.source()}")
    note(f"atoms = {out.atoms}")
    return out


def row_space_basis(rows: np.ndarray) -> np.ndarray:
    """Orthonormal basis (as rows) of the row space of ``rows``."""
    if rows.size == 0:
        return np.zeros((0, rows.shape[1]))
    _, s, vt = np.linalg.svd(rows, full_matrices=False)
    rank = int((s > 1e-9 * max(rows.shape) * s[0]).sum()) if s.size else 0
    return vt[:rank]


def in_row_space(basis: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """For each row of ``vectors``: does it lie in the span of ``basis``?"""
    if basis.shape[0] == 0:
        return np.asarray(~vectors.any(axis=1))
    residual = vectors - (vectors @ basis.T) @ basis
    return np.asarray(np.abs(residual).max(axis=1) < 1e-8)


def derivable_classes(world: World, published: set[int]) -> tuple[int, list[int]]:
    """Rank of the published equations, and the respondent count of each class of co-derivable atoms."""
    live = [(teams, n) for teams, n in world.atoms if n > 0]
    rows = np.array([[1.0 if t in teams else 0.0 for teams, _ in live] for t in sorted(published)])
    rows = rows.reshape(len(published), len(live))
    basis = row_space_basis(rows)
    groups: dict[tuple[float, ...], int] = {}
    for j, (_, n) in enumerate(live):
        column = basis[:, j]
        if np.abs(column).max(initial=0.0) < 1e-8:
            continue  # in no derivable group
        key = tuple(np.round(column, 6))
        groups[key] = groups.get(key, 0) + n
    return basis.shape[0], list(groups.values())


def team_vectors(world: World, teams: list[int]) -> np.ndarray:
    live = [atom for atom, n in world.atoms if n > 0]
    return np.array([[1.0 if t in atom else 0.0 for atom in live] for t in teams]).reshape(
        len(teams), len(live)
    )


def assert_nothing_small_is_derivable(world: World, published: set[int], t: int) -> None:
    rank, class_sizes = derivable_classes(world, published)
    # The row space is spanned by the classes, so derivable groups are exactly unions of classes…
    assert rank == len(class_sizes)
    # …and each class, hence each union, has at least t respondents.
    assert all(n >= t for n in class_sizes), class_sizes


def check_release(world: World, results: dict[int, Published[int] | Withheld], t: int) -> None:
    cells = {c.team_id: c for c in world.cells()}
    published = {tid for tid, r in results.items() if isinstance(r, Published)}
    assert all(cells[tid].n >= t for tid in published)
    assert_nothing_small_is_derivable(world, published, t)
    must_stay_hidden = sorted(
        tid
        for tid, r in results.items()
        if isinstance(r, Withheld) and cells[tid].n > 0 and r.code is not WithheldCode.OVERLAPPING_TEAMS
    )
    if must_stay_hidden:
        basis = row_space_basis(team_vectors(world, sorted(published)))
        derivable = in_row_space(basis, team_vectors(world, must_stay_hidden))
        assert not derivable.any(), [tid for tid, d in zip(must_stay_hidden, derivable, strict=True) if d]
    # Every nested pair of published teams differs by 0 or ≥ t respondents (the overlap guard).
    for tid in published:
        p = cells[tid].parent_id
        while p is not None:
            if p in published:
                assert cells[p].n - cells[tid].n == 0 or cells[p].n - cells[tid].n >= t
            p = cells[p].parent_id


FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(world=worlds(overlaps=False), k=st.sampled_from([3, 5, 7]), data=st.data())
def test_additive_trees_nothing_withheld_is_derivable(world: World, k: int, data: st.DataObject) -> None:
    cells = world.cells()
    # Some teams are withheld for reasons from outside the tree (a roster change since the last round).
    forced_ids = data.draw(st.sets(st.sampled_from(sorted(world.parent)), max_size=2))
    changed = roster_change_guard(1, 0, k=k)
    assert changed is not None
    results = suppress_tree(
        cells,
        k=k,
        kind=MetricKind.MEAN,
        value=lambda c: c.n,
        also_withhold=dict.fromkeys(forced_ids, changed),
    )
    t = threshold_for(MetricKind.MEAN, k)
    check_release(world, results, t)
    assert not any(isinstance(results[f], Published) for f in forced_ids)

    # A leader who sees only some of the published teams can derive no more than from all of them.
    published = sorted(tid for tid, r in results.items() if isinstance(r, Published))
    subset = data.draw(st.sets(st.sampled_from(published), max_size=len(published))) if published else set()
    assert_nothing_small_is_derivable(world, subset, t)


@FAST
@given(world=worlds(overlaps=True), k=st.sampled_from([3, 5]))
def test_overlapping_memberships_nothing_withheld_is_derivable(world: World, k: int) -> None:
    results = suppress_tree(world.cells(), k=k, kind=MetricKind.MEAN, value=lambda c: c.n)
    check_release(world, results, threshold_for(MetricKind.MEAN, k))


@FAST
@given(world=worlds(overlaps=False))
def test_distributions_chained_after_means_are_safe_and_never_show_a_hidden_mean(world: World) -> None:
    cells = world.cells()
    means = suppress_tree(cells, k=5, kind=MetricKind.MEAN, value=lambda c: c.n)
    hidden = {tid: r for tid, r in means.items() if isinstance(r, Withheld)}
    dists = suppress_tree(cells, k=5, kind=MetricKind.DISTRIBUTION, value=lambda c: c.n, also_withhold=hidden)
    check_release(world, dists, threshold_for(MetricKind.DISTRIBUTION, 5))
    shown_dists = {tid for tid, r in dists.items() if isinstance(r, Published)}
    assert shown_dists <= {tid for tid, r in means.items() if isinstance(r, Published)}


@FAST
@given(world=worlds(overlaps=False), k=st.sampled_from([3, 5]))
def test_verify_tree_rejects_a_naive_release_exactly_when_rank_finds_a_leak(world: World, k: int) -> None:
    cells = world.cells()
    t = threshold_for(MetricKind.MEAN, k)
    naive: dict[int, Published[object] | Withheld] = {
        c.team_id: Published(c.n, c.n)
        if c.n >= t
        else Withheld(f"fewer than {t} answers", WithheldCode.TOO_FEW_ANSWERS)
        for c in cells
    }
    _, class_sizes = derivable_classes(world, {tid for tid, r in naive.items() if isinstance(r, Published)})
    leaks = any(n < t for n in class_sizes)
    try:
        verify_tree(cells, naive, k=k, kind=MetricKind.MEAN)
    except DisclosureError:
        assert leaks
    else:
        assert not leaks
