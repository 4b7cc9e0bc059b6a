"""A flag's headline as a movement: risen or fallen over a span, a sudden jump or drop, then the series' own
ending. One function for the survey headline (``pulse.analysis.sentences``: "in the round closing …") and
the load headline (``pulse.analysis.load_words``: "in the week of …"), which say the same in other period
words.

Each caller looks its own messages up (``w.gettext`` with literals, so that ``makemessages`` extracts them,
and each keeps its own placeholder names) and hands them in as :class:`MovementWords`; this module only
picks and fills them. A leaf: it imports nothing of the wording modules at run time, only their types.
Pure, no ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pulse.analysis.sentences import Words


@dataclass(frozen=True)
class MovementWords:
    """One kind of series' movement clauses, in the reader's language: ``risen`` / ``fallen`` (over
    ``%(span)s``, from first to last), ``jump`` / ``drop`` (the sudden shift's tail after a trend), and
    ``jumped`` / ``dropped`` (a shift alone, away from ``%(baseline)s``)."""

    risen: str
    fallen: str
    jump: str
    drop: str
    jumped: str
    dropped: str


def movement_headline(
    headline: Mapping[str, Any],
    w: Words,
    values: dict[str, str],
    words: MovementWords,
    *,
    span: Callable[[], str],
    baseline: Callable[[], str],
    ending: Callable[[str], str | None],
) -> str:
    """The headline: the movement's lead clause from ``headline`` (``trend`` with ``rising``, ``shift`` with
    ``up``), then ``ending(lead)`` when the series has one to add (a cut-off, a breach; it gets "" when
    there is no movement), else the lead as a sentence ("" when there is none).

    ``values`` fill the messages; ``span`` and ``baseline`` are worded only when the headline needs them
    and are added to ``values`` (as ``span`` and ``baseline``), which the caller's ending may use."""
    lead = ""
    if headline["trend"]:
        values["span"] = span()
        lead = w.fill(words.risen if headline["rising"] else words.fallen, values)
        if headline["shift"]:
            lead = w.join("", [lead, w.fill(words.jump if headline["up"] else words.drop, values)])
    elif headline["shift"]:
        values["baseline"] = baseline()
        lead = w.fill(words.jumped if headline["up"] else words.dropped, values)
    ended = ending(lead)
    if ended is not None:
        return ended
    return (
        w.fill(w.pgettext("clauses joined into a sentence", "%(clauses)s."), {"clauses": lead})
        if lead
        else ""
    )
