"""Disclosure control, the rules: which numbers may leave Pulse.

Pages, the API, exports, e-mails and flags show a team's numbers only after this module has decided,
for the whole organisation tree at once, which cells may be published. A withheld value is a
:class:`Withheld`, which carries a sentence and a code and **no number at all**; a published one is a
:class:`Published`. Pure functions over plain data, no ORM.

Rules implemented (docs/science.md §4):

* **Thresholds on respondents in the round** (:func:`threshold_for`): ``k`` (organisation setting,
  default 5, never below 3) for means, scores and response rates; 10 (or ``k`` if higher) for per-option
  distributions, "% at or above a cut-off" and free-text comments.
* **Complementary (secondary) suppression in the team tree** (:func:`suppress_tree`): no withheld value
  can be recovered by adding and subtracting published ones, across any cut of the tree and any number of
  levels a leader can see. A worked case: parent n = 12, mean 3.5; child A n = 7, mean 3.714,
  so child B's sum is 42 − 26 = 16 (mean 3.2): if B is withheld, A must be too (or the parent).
* **Differencing across rounds, roster clause** (:func:`roster_change_guard`, over stored changes
  :func:`roster_changes_withhold`): the one cross-round rule Pulse applies to every release; why a change
  in the *number* of respondents is not a reason to withhold is in its docstring.
* **Roll-up to the nearest ancestor** (:func:`nearest_publishable_ancestor`).
* **The trend run's minimum rule** (:func:`aggregate_withheld`), for readers that check one aggregate alone.

How precisely a published number is shown (coarsening) is ``pulse.analysis.coarsening``; the release of
stored aggregates through these rules, round by round and kind by kind, is ``pulse.disclosure.release``.

The method is the classic one of statistical disclosure control: primary suppression of sensitive cells,
then secondary (complementary) suppression so that they cannot be recalculated from the table's additive
structure (Hundepool et al., *Statistical Disclosure
Control*, Wiley 2012, ch. 4 "Magnitude tabular data" and ch. 5 "Frequency tables"; Cox, "Suppression
methodology and statistical disclosure control", JASA 75:377–385, 1980).

The tree model and why the suppression is safe
----------------------------------------------
Every team's aggregate counts each respondent once ("roll-up"): its own direct members plus everyone in
its subtree. The caller gives, per team, ``n`` (respondents), ``direct_n`` (respondents counted in this
team but in none of its child teams) and the additive quantities (``total``, ``sumsq``; a histogram or a
comment list is additive in the same way). A team is **additive** when ``n == direct_n + Σ children n``,
i.e. its child subtrees are disjoint; if a person belongs to two sibling subtrees, ``Σ children n``
exceeds ``n − direct_n`` and the team is **non-additive**.

Think of the respondents as split into *atoms* (groups with the same team memberships). Published cells
are linear equations over the atoms' sums (and, identically, over their counts ``n``). For each published
team ``p`` let its *region* be the respondents whose deepest published team is ``p``: ``p`` minus its
published frontier (the nearest published teams below it). When the published teams form a laminar
family (any two are nested or disjoint), every vector in the span of the published equations is constant
on each region, so **every group whose sum or count can be derived is a union of regions** (and each
region can be derived). The planner therefore guarantees

1. *(laminar)* no team strictly below a non-additive team is published, so published teams that are not
   nested are disjoint;
2. *(regions)* every region has 0 respondents or at least the threshold ``t``; hence every derivable group
   has 0 or ≥ t respondents, and no cell below ``t`` (nor the "direct members" residual, nor any union of
   small cells) can be recovered, whatever subset of the published cells one viewer or several colluding
   viewers see;
3. *(protected cells)* a cell withheld for any other reason than overlap is not itself derivable: it keeps
   respondents outside the published frontier below it, and the region that holds them also holds
   respondents outside it.

The decision is taken once for the whole organisation, so a leader who sees several levels, two leaders
who compare notes, and an export of everything get the same safe set. The plan is re-checked by
:func:`verify_tree` before it is returned (a failure raises :class:`DisclosureError`: fail closed).
The hypothesis property test in ``tests/pulse/test_disclosure_properties.py`` checks (2) and (3)
independently, by matrix rank over random trees.

Decisions and assumptions (documented because they are choices)
---------------------------------------------------------------
* **Counts are protected like sums.** A published cell shows its ``n``; regions constrain counts exactly
  as they constrain sums, so "2 people answered" in a hidden group cannot be derived either.
* **An empty group is not sensitive.** A region or cell with 0 respondents contains no answer; deriving
  "nobody in this group answered" is allowed. (Treating 0 as sensitive would suppress the ubiquitous
  empty "direct members" residual of parents that have no members of their own.) Its reason text still
  says "fewer than k answers", so the page does not announce it.
* **Overlapping memberships: show only the parent.** Which sibling subtrees share respondents (and how
  many) is unknown here, so a non-additive team keeps its own number and every team below it is withheld
  ("withheld because some of its people also belong to a neighbouring team"). This is lossy on purpose;
  Pulse's own close step avoids it by counting each respondent along one home team's chain
  (``surveys.tree.counting_closure``), so the trees it builds are additive and this rule is for other
  callers (ad-hoc groups, imported data).
* **Top-level teams are assumed not to share respondents.** If they can, pass the organisation itself as
  the single root cell so that the overlap is detected.
* **Published values are treated as exact.** Coarsening (means to 0.1, percentages to 5 points) blurs a
  derived difference but gives no worst-case guarantee, so the suppression does not rely on it.
* **Order across metric kinds.** A published distribution implies the mean, and a distribution implies
  the share above a cut-off. Compute MEAN/SCORE first, SHARE next, then DISTRIBUTION with
  ``also_withhold`` set to every team withheld in the earlier steps, so that a hidden mean is never
  recoverable from a published histogram. Comments and response rates are computed the same way, on the
  respondents of the round.
* **Cut-offs use unrounded values.** Coarsening is for display only (a WHO-5 mean of 28.4 shows as 28 but
  is not "≤ 28").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pulse.analysis.catalogue import gettext_noop
from pulse.analysis.metrics import RESPONSE_RATE

#: The organisation's k may be raised but never set below this (docs/science.md §4.1). Mirrors
#: ``settings.PULSE_MIN_GROUP_SIZE_FLOOR``; kept here so this module stays free of Django.
K_FLOOR = 3


#: Default minimum group size for means and scores (docs/science.md §4.1).
DEFAULT_K = 5


#: Respondents needed for distributions, shares at or above a cut-off and comments (docs/science.md §4.1).
LARGE_GROUP_THRESHOLD = 10


class DisclosureError(RuntimeError):
    """A release plan failed its own safety check. Nothing may be shown; this is a bug to report."""


class MetricKind(StrEnum):
    """What kind of number is released; decides the threshold (docs/science.md §4.1)."""

    MEAN = "mean"
    SCORE = "score"
    DISTRIBUTION = "distribution"
    SHARE = "share"
    COMMENTS = "comments"
    RESPONSE_RATE = "response_rate"


_SMALL_GROUP_KINDS = frozenset({MetricKind.MEAN, MetricKind.SCORE, MetricKind.RESPONSE_RATE})


def validate_k(k: int) -> int:
    """Return ``k`` if it is an allowed minimum group size, else raise ``ValueError`` naming it."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"k (the minimum group size) must be a whole number, not {k!r}.")
    if k < K_FLOOR:
        raise ValueError(
            f"k (the minimum group size) is {k}, but it can never be below {K_FLOOR}: "
            "smaller groups make answers identifiable."
        )
    return k


def threshold_for(kind: MetricKind, k: int) -> int:
    """Fewest respondents in the round for which a number of this kind may be published.

    docs/science.md §4.1: ``k`` for means, scores and response rates; 10 for per-option distributions,
    "% of team at or above a cut-off" and free-text comments. An organisation that raises ``k`` above 10
    raises those too (a distribution reveals more than a mean, never less).
    """
    validate_k(k)
    kind = MetricKind(kind)
    if kind in _SMALL_GROUP_KINDS:
        return k
    return max(LARGE_GROUP_THRESHOLD, k)


class WithheldCode(StrEnum):
    """Machine-readable reason; the API sends it next to the sentence."""

    TOO_FEW_ANSWERS = "too_few_answers"
    PROTECTS_SMALLER_GROUP = "protects_smaller_group"
    OVERLAPPING_TEAMS = "overlapping_teams"
    CHANGED_SINCE_LAST_RESULT = "changed_since_last_result"
    TOO_CLOSE_TO_LARGER_GROUP = "too_close_to_larger_group"
    CONCENTRATED = "concentrated"


class AnswerCount(str):
    """ "12 answers" inside a :class:`Phrase`, as text in English; a reader's language words it with its own
    plural (``pulse.selectors.cells.phrase_words``)."""

    n: int

    def __new__(cls, n: int) -> AnswerCount:
        text = super().__new__(cls, "1 answer" if n == 1 else f"{n} answers")
        text.n = n
        return text

    def __getnewargs__(self) -> tuple[int]:  # type: ignore[override]
        return (self.n,)


class Phrase(str):
    """A sentence of this module: the English text, which is what it compares equal to and prints as, and
    the catalogue entry it was made from, so that a page can word it in its reader's language
    (``pulse.selectors.cells.phrase_words``) while this module stays free of Django.

    ``message`` is marked with ``gettext_noop`` (``pulse.analysis.catalogue``); ``values`` fill its
    ``%(name)s`` placeholders, each a name, a threshold, an :class:`AnswerCount` or another phrase.
    """

    message: str
    values: tuple[tuple[str, str | int], ...]

    def __new__(cls, message: str, values: tuple[tuple[str, str | int], ...] = ()) -> Phrase:
        text = super().__new__(cls, message % dict(values))
        text.message = message
        text.values = values
        return text

    def __getnewargs__(self) -> tuple[str, tuple[tuple[str, str | int], ...]]:  # type: ignore[override]
        return (self.message, self.values)


@dataclass(frozen=True, slots=True)
class Withheld:
    """A value that may not be shown. Deliberately has no numeric field: nothing to leak, nothing to log.

    ``reason`` is a phrase for people ("fewer than 5 answers", "withheld to protect a smaller group"); it
    names the threshold, never the group's own count. The rules give it as a :class:`Phrase`, English
    text that a page words in its reader's language; any other text is shown as it is.
    """

    reason: str
    code: WithheldCode

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("A withheld value must say why.")


V = TypeVar("V")


V_co = TypeVar("V_co", covariant=True)


@dataclass(frozen=True)  # no slots: slotted frozen generics break ``Published[float](...)`` on 3.11
class Published(Generic[V_co]):
    """A value cleared for release, with the number of respondents it summarises."""

    value: V_co
    n: int


def _too_few(threshold: int) -> Withheld:
    return Withheld(
        Phrase(gettext_noop("fewer than %(threshold)s answers"), (("threshold", threshold),)),
        WithheldCode.TOO_FEW_ANSWERS,
    )


_PROTECTS = Withheld(
    Phrase(gettext_noop("withheld to protect a smaller group")), WithheldCode.PROTECTS_SMALLER_GROUP
)


_OVERLAPPING = Withheld(
    Phrase(gettext_noop("withheld because some of its people also belong to a neighbouring team")),
    WithheldCode.OVERLAPPING_TEAMS,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One team's aggregate for one round and metric, rolled up over its subtree.

    ``n``: respondents counted in the team (each person once, whether a direct member or in a sub-team).
    ``direct_n``: of those, the ones in none of its child teams (for a leaf, ``direct_n == n``).
    ``total`` and ``sumsq``: sum and sum of squares of the metric over those respondents; they are
    carried for :func:`publish_means` and for callers that publish an SD under the same verdict.
    """

    team_id: int
    parent_id: int | None
    n: int
    direct_n: int
    total: float = 0.0
    sumsq: float | None = None


class _Tree:
    """Validated index over the cells: children, depth and which teams are additive."""

    def __init__(self, cells: Sequence[Cell]) -> None:
        self.cell: dict[int, Cell] = {}
        for c in cells:
            if c.team_id in self.cell:
                raise ValueError(f"Team {c.team_id} appears twice.")
            if isinstance(c.n, bool) or not isinstance(c.n, int) or c.n < 0:
                raise ValueError(f"Team {c.team_id}: n must be a whole number ≥ 0.")
            if isinstance(c.direct_n, bool) or not isinstance(c.direct_n, int) or not 0 <= c.direct_n <= c.n:
                raise ValueError(f"Team {c.team_id}: direct_n must be between 0 and n.")
            self.cell[c.team_id] = c
        self.children: dict[int, list[int]] = {t: [] for t in self.cell}
        self.roots: list[int] = []
        for c in sorted(self.cell.values(), key=lambda c: c.team_id):
            if c.parent_id is None:
                self.roots.append(c.team_id)
            elif c.parent_id not in self.cell:
                raise ValueError(
                    f"Team {c.team_id} names parent {c.parent_id}, which is not among the cells."
                )
            else:
                self.children[c.parent_id].append(c.team_id)
        self.depth: dict[int, int] = {}
        stack = [(r, 0) for r in self.roots]
        while stack:
            t, d = stack.pop()
            self.depth[t] = d
            stack.extend((ch, d + 1) for ch in self.children[t])
        if len(self.depth) != len(self.cell):
            raise ValueError("The parent links contain a cycle.")
        self.non_additive: set[int] = set()
        for t, c in self.cell.items():
            kids = self.children[t]
            for ch in kids:
                if self.cell[ch].n > c.n:
                    raise ValueError(f"Team {ch} has more respondents than its parent {t}.")
            covered = c.direct_n + sum(self.cell[ch].n for ch in kids)
            if covered < c.n:
                raise ValueError(
                    f"Team {t}: direct_n plus its child teams' n is less than n; every respondent of a "
                    "team is either a direct member or in one of its child teams."
                )
            if covered > c.n:
                self.non_additive.add(t)
        self.bottom_up = sorted(self.cell, key=lambda t: (-self.depth[t], t))

    def n(self, t: int) -> int:
        return self.cell[t].n

    def parent(self, t: int) -> int | None:
        return self.cell[t].parent_id

    def subtree(self, t: int) -> list[int]:
        out, stack = [], [t]
        while stack:
            x = stack.pop()
            out.append(x)
            stack.extend(self.children[x])
        return out

    def frontier(self, t: int, hidden: Mapping[int, object]) -> tuple[list[int], list[int]]:
        """The nearest published teams strictly below ``t``, and the hidden teams passed on the way."""
        front: list[int] = []
        passed: list[int] = []
        stack = list(self.children[t])
        while stack:
            x = stack.pop()
            if x in hidden:
                passed.append(x)
                stack.extend(self.children[x])
            else:
                front.append(x)
        return front, passed

    def uncovered(self, t: int, hidden: Mapping[int, object]) -> int:
        """Respondents of ``t`` in no published team below it (exact when no overlap is published)."""
        front, _ = self.frontier(t, hidden)
        return self.n(t) - sum(self.n(q) for q in front)

    def nearest_published_ancestor(self, t: int, hidden: Mapping[int, object]) -> int | None:
        p = self.parent(t)
        while p is not None and p in hidden:
            p = self.parent(p)
        return p


def _must_not_be_derivable(tree: _Tree, h: int, hidden: Mapping[int, Withheld]) -> bool:
    """Guarantee (3) applies to ``h``: withheld for any reason but overlap, and not empty."""
    return h in hidden and hidden[h].code is not WithheldCode.OVERLAPPING_TEAMS and tree.n(h) > 0


def _region_unsafe(tree: _Tree, p: int, hidden: Mapping[int, Withheld], t: int) -> bool:
    """Would publishing ``p`` with this frontier let someone derive a small or withheld group?"""
    front, passed = tree.frontier(p, hidden)
    region = tree.n(p) - sum(tree.n(q) for q in front)
    if 0 < region < t:
        return True
    # A withheld cell must keep company in the region that holds its uncovered respondents; if the region
    # is made of them alone, region = p − frontier is the withheld cell minus its published parts.
    return any(
        _must_not_be_derivable(tree, h, hidden) and 0 < tree.uncovered(h, hidden) == region for h in passed
    )


def _uncover(tree: _Tree, p: int, hidden: dict[int, Withheld]) -> None:
    """Withhold a team below the withheld ``p`` so that ``p`` is no longer the sum of its published teams.

    The smallest frontier team that has respondents of its own (outside its published sub-teams) is taken:
    withholding one that is itself the sum of its sub-teams would move nothing into ``p``'s hidden part
    and would only be derivable in turn.
    """
    front, _ = tree.frontier(p, hidden)
    useful = [q for q in front if tree.uncovered(q, hidden) > 0]
    hidden[min(useful or front, key=lambda q: (tree.n(q), q))] = _PROTECTS


def _plan_pass(tree: _Tree, t: int, hidden: dict[int, Withheld]) -> None:
    """One bottom-up sweep of both rules; only ever adds to ``hidden``."""
    for p in tree.bottom_up:
        if p in hidden:
            # A withheld team whose respondents all sit in published sub-teams is their sum. This holds for
            # every reason of withholding (the caller's, and complements chosen here: a parent with no
            # direct members withheld to protect a neighbour, whose children are all published).
            if _must_not_be_derivable(tree, p, hidden):
                while tree.uncovered(p, hidden) == 0:
                    _uncover(tree, p, hidden)
            continue
        while _region_unsafe(tree, p, hidden, t):
            front, _ = tree.frontier(p, hidden)
            for q in sorted(front, key=lambda q: (tree.n(q), q)):
                hidden[q] = _PROTECTS
                if not _region_unsafe(tree, p, hidden, t):
                    break
                del hidden[q]
            else:
                # No single sub-team fixes it: withhold p, whose region then joins its ancestor's
                # (checked later, as ancestors come after p in this bottom-up order).
                hidden[p] = _PROTECTS
                break


def _plan(tree: _Tree, t: int, forced: Mapping[int, Withheld]) -> dict[int, Withheld]:
    hidden: dict[int, Withheld] = {}
    for tid, c in tree.cell.items():
        if c.n < t:
            hidden[tid] = _too_few(t)
    for tid, w in forced.items():
        hidden.setdefault(tid, w)
    for p in sorted(tree.non_additive):
        for x in tree.subtree(p)[1:]:
            hidden.setdefault(x, _OVERLAPPING)
    # Each rule can undo the other: a complement withheld for a region may be the sum of its published
    # sub-teams, and withholding one of those changes the regions above. Both only ever withhold more,
    # so sweeping until nothing changes terminates, at a plan where both hold everywhere (what _check asks).
    while True:
        before = len(hidden)
        _plan_pass(tree, t, hidden)
        if len(hidden) == before:
            return hidden


def _check(tree: _Tree, hidden: Mapping[int, Withheld], t: int) -> None:
    """Raise DisclosureError unless the release satisfies the three guarantees in the module docstring."""
    for p, c in tree.cell.items():
        if p not in hidden and c.n < t:
            raise DisclosureError(f"Team {p} is published below the threshold.")
    for p in tree.non_additive:
        if any(x not in hidden for x in tree.subtree(p)[1:]):
            raise DisclosureError(f"A team below the overlapping team {p} is published.")
    for p in tree.cell:
        if p in hidden:
            continue
        front, _ = tree.frontier(p, hidden)
        region = tree.n(p) - sum(tree.n(q) for q in front)
        if 0 < region < t:
            raise DisclosureError(f"Publishing team {p} exposes a group below the threshold.")
    for h, w in hidden.items():
        if tree.n(h) == 0 or w.code is WithheldCode.OVERLAPPING_TEAMS:
            continue
        own = tree.uncovered(h, hidden)
        if own == 0:
            raise DisclosureError(f"Withheld team {h} is the sum of published teams.")
        g = tree.nearest_published_ancestor(h, hidden)
        if g is not None:
            front, _ = tree.frontier(g, hidden)
            if tree.n(g) - sum(tree.n(q) for q in front) == own:
                raise DisclosureError(f"Withheld team {h} follows from team {g} by subtraction.")


def _withheld_in_tree(
    cells: Sequence[Cell], *, k: int, kind: MetricKind, also_withhold: Mapping[int, Withheld] | None
) -> tuple[_Tree, dict[int, Withheld]]:
    t = threshold_for(kind, k)
    tree = _Tree(cells)
    forced = dict(also_withhold or {})
    unknown = sorted(set(forced) - set(tree.cell))
    if unknown:
        raise ValueError(f"also_withhold names teams that are not among the cells: {unknown}.")
    hidden = _plan(tree, t, forced)
    _check(tree, hidden, t)
    return tree, hidden


def suppress_tree(
    cells: Sequence[Cell],
    *,
    k: int,
    kind: MetricKind,
    value: Callable[[Cell], V],
    also_withhold: Mapping[int, Withheld] | None = None,
) -> dict[int, Published[V] | Withheld]:
    """Decide, for every team of one round and metric, whether it is published, and publish it.

    Primary suppression withholds teams below :func:`threshold_for`; complementary suppression then
    withholds the smallest further teams (or the parent) until no withheld value, no "direct members"
    residual and no union of small groups can be derived from the published cells by addition and
    subtraction, recursively up the tree (docs/science.md §4.3; Hundepool et al. 2012, ch. 4–5; Cox 1980).
    See the module docstring for the model and the proof sketch.

    ``value`` turns a published cell into its released value (already coarsened); it is never called for a
    withheld cell. ``also_withhold`` adds teams withheld for other reasons (another metric kind, a
    :func:`roster_change_guard` verdict); they are kept non-derivable too.
    """
    tree, hidden = _withheld_in_tree(cells, k=k, kind=kind, also_withhold=also_withhold)
    out: dict[int, Published[V] | Withheld] = {}
    for tid, c in tree.cell.items():
        out[tid] = hidden[tid] if tid in hidden else Published(value(c), c.n)
    return out


def verify_tree(
    cells: Sequence[Cell], results: Mapping[int, Published[object] | Withheld], *, k: int, kind: MetricKind
) -> None:
    """Raise :class:`DisclosureError` unless ``results`` is a safe release of these cells.

    Use it on any release assembled outside :func:`suppress_tree` (a cached plan, a subset for one viewer):
    it re-checks the threshold, the overlap rule, every region and the non-derivability of withheld cells.
    """
    t = threshold_for(kind, k)
    tree = _Tree(cells)
    missing = sorted(set(tree.cell) - set(results))
    if missing:
        raise DisclosureError(f"No verdict for teams {missing}.")
    hidden = {tid: r for tid, r in results.items() if isinstance(r, Withheld)}
    _check(tree, hidden, t)


@dataclass(frozen=True, slots=True)
class RollUp:
    """Which team's numbers a report shows for a team, and the sentence that says so.

    ``team_id`` is None when nothing at or above the team can be shown this round; ``note`` is None when
    the team's own numbers are shown, else a :class:`Phrase`.
    """

    team_id: int | None
    note: str | None


def nearest_publishable_ancestor(
    team_id: int,
    *,
    cells: Sequence[Cell],
    results: Mapping[int, Published[object] | Withheld],
    names: Mapping[int, str],
) -> RollUp:
    """Teams too small roll up to their nearest ancestor that is published, and the report says so.

    docs/science.md §4.6 ("teams too small roll up to their nearest ancestor that reaches k"). ``results``
    must be the release for the whole tree (from :func:`suppress_tree`), so the ancestor chosen is one that
    also passed complementary suppression. Example note: "Platform SRE has fewer than 5 answers this round;
    showing Platform (12 answers)."
    """
    parent = {c.team_id: c.parent_id for c in cells}
    if team_id not in parent:
        raise ValueError(f"Team {team_id} is not among the cells.")
    own = results[team_id]
    if isinstance(own, Published):
        return RollUp(team_id, None)
    values: tuple[tuple[str, str | int], ...] = (("team", names[team_id]), ("reason", own.reason))
    too_few = own.code is WithheldCode.TOO_FEW_ANSWERS
    p = parent[team_id]
    while p is not None:
        shown = results[p]
        if isinstance(shown, Published):
            showing = (
                gettext_noop("%(team)s has %(reason)s this round; showing %(shown)s (%(answers)s).")
                if too_few
                else gettext_noop("%(team)s's results are %(reason)s; showing %(shown)s (%(answers)s).")
            )
            return RollUp(
                p, Phrase(showing, (*values, ("shown", names[p]), ("answers", AnswerCount(shown.n))))
            )
        p = parent[p]
    nothing = (
        gettext_noop(
            "%(team)s has %(reason)s this round, and no team above it can be shown this round either."
        )
        if too_few
        else gettext_noop(
            "%(team)s's results are %(reason)s, and no team above it can be shown this round either."
        )
    )
    return RollUp(None, Phrase(nothing, values))


def roster_change_guard(
    joined: int, left: int, *, k: int, kind: MetricKind = MetricKind.MEAN
) -> Withheld | None:
    """Withhold a group's value when its roster changed by fewer than the threshold since its last release.

    ``joined`` / ``left``: people added to / removed from the group's frozen roster (its invitations)
    since its last round published at this kind's threshold ``t = threshold_for(kind, k)``. Withheld when
    ``0 < joined + left < t``: one newcomer in a team of 6 gives 7·m₂ − 6·m₁ ≈ the newcomer's answer, and a
    leader knows who joined. No change (0) or a change of at least ``t`` people is the protection the
    threshold itself gives.

    Why a change in the number of respondents (``0 < |n − last.n| < t``) is not a reason to withhold: who
    answered is never shown, so a change in *how many* answered isolates no one a viewer can name (the
    respondent sets of two rounds are unknown, and their difference is not a group anybody can point at),
    while participation in teams of 8–30 moves by one or two every week, so it would withhold about 70% of
    their rounds for no protection.
    """
    if isinstance(joined, bool) or isinstance(left, bool) or min(joined, left) < 0:
        raise ValueError("joined and left are counts of people (whole numbers ≥ 0).")
    t = threshold_for(kind, k)
    if 0 < joined + left < t:
        return Withheld(
            Phrase(
                gettext_noop(
                    "withheld because its membership changed by fewer than %(threshold)s people since its "
                    "last published result"
                ),
                (("threshold", t),),
            ),
            WithheldCode.CHANGED_SINCE_LAST_RESULT,
        )
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RosterChange:
    """A group's roster change since its latest earlier round that the roster clause did not withhold at
    ``threshold`` (its *baseline* for that threshold; rosters are frozen at round open)."""

    threshold: int
    joined: int
    left: int


def roster_changes_withhold(
    changes: Iterable[RosterChange], *, k: int, kind: MetricKind = MetricKind.MEAN
) -> Withheld | None:
    """:func:`roster_change_guard` over the roster changes stored for one group and round.

    Each stored change is against the baseline chosen at its ``threshold`` ``s``: the latest earlier round
    this clause did not withhold for the kinds of threshold ``s``. A number of ``kind`` (threshold ``t``) is
    withheld when some change is ``0 < joined + left < min(t, s)``:

    * ``s ≥ t``: the baseline published this kind (as far as this clause goes), so differencing against
      it is the attack and the bar is ``t``. Two thresholds are stored because a round whose roster
      changed by 7 people publishes its mean (k = 5) but not its distribution (10): the mean's baseline
      moves to that round, the distribution's stays behind.
    * ``s < t``: the change withholds the kinds of threshold ``s`` (a mean), and a number of a larger
      threshold (a distribution) implies them, so it is withheld with them. This keeps the verdicts
      monotone across kinds, as the reports' order of kinds does.

    If ``k`` was raised after the changes were stored and none has ``s ≥ t``, every change is held to ``t``
    (stricter, never looser). Nothing stored (never published before): nothing to difference.
    """
    stored = list(changes)
    t = threshold_for(kind, k)
    raised = not any(change.threshold >= t for change in stored)
    for change in stored:
        bar = t if raised else min(t, change.threshold)
        if 0 < change.joined + change.left < bar:
            return roster_change_guard(change.joined, change.left, k=k, kind=kind)
    return None


def aggregate_withheld(*, respondents: int, kind: str, k: int) -> bool:
    """Is one team aggregate withheld on its own? Fewer respondents in the round than the threshold for
    its kind (:func:`threshold_for`: k for scores and response rates). ``kind`` is a ``TeamAggregate`` kind.

    The trend run applies it and, on top, the full release of ``pulse.disclosure.release``; it stays for
    the readers that check one aggregate alone (how a flag's metric moved after an action).
    """
    metric_kind = MetricKind.RESPONSE_RATE if kind == RESPONSE_RATE else MetricKind.SCORE
    return respondents < threshold_for(metric_kind, k)
