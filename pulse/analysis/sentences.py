"""What a flag and a series status say: their numbers as data, and the wording that turns them into text.

Two registers (docs/science.md §3.11). A flag's **headline** says what happened in a leader's words, with
the published values and no statistical term ("Work-related burnout has risen over the last 8 rounds, from
38 to 55, and is now at or above 50, the CBI convention for 'high'"). Its **reasons** are the technical
sentences, one per rule that holds, naming the statistics that decided (``pulse.analysis.rules``); the
glossary (``pulse.analysis.glossary``) says what each term means.

**Stored as data, worded when read** (docs/languages.md §8). The trend run stores what it found as a
:data:`Said`: JSON with the reason codes and their published, coarsened numbers (values, slope and
interval, q, rounds, the cut-off, ISO dates). Nothing is worded then. A page, an email, a Slack message or
a webhook words it when it is made, in its reader's language, through :func:`headline_text`,
:func:`reason_text` and :func:`status_text`, which take a :class:`Words`: the reader's catalogue and
number and date formats. This module is pure (no Django, lint-imports' first contract), so the catalogue
comes in as that object (``pulse.selectors.flag_words`` makes one from Django's gettext and formats;
:class:`PlainEnglish` is the untranslated one the trend run keeps as the flag's English fallback). Each
message is a whole clause with named placeholders, called as ``words.gettext(...)`` /
``words.ngettext(...)`` / ``words.pgettext(...)`` so that ``makemessages`` (xgettext) extracts it.

**Adding a reason** (the on-call load reasons, say): give it a code, store its numbers under
``said["reasons"][code]`` (JSON: numbers, booleans, ISO dates, short codes, never a sentence), and add
one entry to :data:`REASON_WORDS`: a function ``(reason, said, words, metric) -> str`` that words it
with ``words`` only. Its German goes into the catalogue with ``make messages``. A headline of another
kind is one entry of :data:`HEADLINE_WORDS`, chosen by ``said["headline"]["code"]``. Nothing here
computes. Pure, no ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pulse.analysis import load_words
from pulse.analysis.formatting import day_text, decimals_of, slope_decimals
from pulse.analysis.headline_words import MovementWords, movement_headline

#: The structured form of what a flag (or a series' status) says: JSON, see the module docstring.
Said = Mapping[str, Any]

#: The version of the :data:`Said` shape; a reader meets only shapes it knows (else the stored English).
SAID_VERSION = 1


class Words(Protocol):
    """How one reader reads: their language's catalogue and its number and date formats.

    ``fill`` puts values into a catalogue message (for an HTML page it escapes them, and keeps what
    ``term`` marked), ``join`` joins worded parts without escaping them twice; ``term`` marks text that is
    an instrument's data in its own language (a metric's label, its short name), ``band`` names a band
    (translated where the catalogue has it); ``day`` writes an ISO 8601 moment as the reader's day."""

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, count: int) -> str: ...

    def pgettext(self, context: str, message: str) -> str: ...

    def number(self, value: float, decimals: int) -> str: ...

    def day(self, moment: str) -> str: ...

    def term(self, text: str) -> str: ...

    def band(self, name: str) -> str: ...

    def fill(self, template: str, values: Mapping[str, object]) -> str: ...

    def join(self, separator: str, parts: Sequence[str]) -> str: ...


class PlainEnglish:
    """The English wording without a catalogue, for the flag's stored fallback text and the verdict's
    sentences (tests, logs): "3 Dec 2026" in ``zone``, a decimal point."""

    def __init__(self, zone: str = "UTC") -> None:
        self.zone = zone

    def gettext(self, message: str) -> str:
        return message

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return singular if count == 1 else plural

    def pgettext(self, context: str, message: str) -> str:
        return message

    def number(self, value: float, decimals: int) -> str:
        return f"{round(value, decimals):.{decimals}f}"

    def day(self, moment: str) -> str:
        return day_text(datetime.fromisoformat(moment), self.zone)

    def term(self, text: str) -> str:
        return text

    def band(self, name: str) -> str:
        return name.replace("_", " ")

    def fill(self, template: str, values: Mapping[str, object]) -> str:
        return template % values

    def join(self, separator: str, parts: Sequence[str]) -> str:
        return separator.join(parts)


# ------------------------------------------------------------------------------------------- the parts


def signed_text(w: Words, value: float, decimals: int) -> str:
    """ "+0.20", "−4.0" (a true minus), "0.00": a change with its sign, in the reader's number format."""
    rounded = round(value, decimals)
    if rounded == 0:
        return w.number(0.0, decimals)
    return ("+" if rounded > 0 else "−") + w.number(abs(rounded), decimals)


def _percent(w: Words, value: float) -> str:
    return w.fill(w.pgettext("a percentage", "%(number)s%%"), {"number": w.number(value, 0)})


def value_text(w: Words, said: Said, value: float) -> str:
    """A published (already coarsened) value: "3.4" on 1–5, "52" on 0–100, "85%" for a rate."""
    if said["scale"] == "percent":
        return _percent(w, value)
    return w.number(value, decimals_of(said["scale"]))


def _threshold(w: Words, text: str) -> str:
    """A cut-off as the instrument gives it ("28", "62.5"), in the reader's number format."""
    decimals = len(text.partition(".")[2])
    try:
        return w.number(float(text), decimals)
    except ValueError:  # "p/q": a threshold with no decimal form, written as the instrument has it
        return text


def span_text(w: Words, said: Said) -> str:
    window, usable = int(said["window"]), int(said["usable"])
    if window == usable:
        return w.fill(
            w.ngettext("the last %(count)d round", "the last %(count)d rounds", usable), {"count": usable}
        )
    return w.fill(
        w.ngettext(
            "the last %(window)d round (%(usable)d usable)",
            "the last %(window)d rounds (%(usable)d usable)",
            window,
        ),
        {"window": window, "usable": usable},
    )


def days_text(w: Words, moments: Sequence[str]) -> str:
    """ "3 Dec 2026, 10 Dec 2026 and 17 Dec 2026"."""
    names = [w.day(moment) for moment in moments]
    if len(names) == 1:
        return names[0]
    joined = w.fill(
        w.pgettext("the last two of a list", "%(first)s and %(last)s"),
        {"first": names[-2], "last": names[-1]},
    )
    return w.join(", ", [*names[:-2], joined])


def notes_text(w: Words, said: Said) -> list[str]:
    """Rounds left out (a collapsed response rate) or withheld (too few answers), as clauses."""
    notes = []
    excluded: Sequence[str] = said.get("excluded") or ()
    if excluded:
        notes.append(
            w.fill(
                w.ngettext(
                    "the round closing %(days)s was left out because its response rate fell below half the "
                    "team's usual rate",
                    "the rounds closing %(days)s were left out because their response rates fell below half "
                    "the team's usual rate",
                    len(excluded),
                ),
                {"days": days_text(w, excluded)},
            )
        )
    withheld = int(said.get("withheld") or 0)
    if withheld:
        notes.append(
            w.fill(
                w.ngettext(
                    "%(count)d round had too few answers to show",
                    "%(count)d rounds had too few answers to show",
                    withheld,
                ),
                {"count": withheld},
            )
        )
    return notes


def _slope(w: Words, said: Said) -> str:
    trend = said["trend"]
    change = signed_text(w, trend["slope"], slope_decimals(said["scale"]))
    if said["scale"] == "percent":
        return w.fill(w.gettext("%(change)s points per round"), {"change": change})
    return w.fill(w.gettext("%(change)s per round"), {"change": change})


def _interval(w: Words, said: Said) -> str:
    """ "95% CI +0.10 to +0.30; q < 0.01"."""
    trend = said["trend"]
    decimals = slope_decimals(said["scale"])
    q = float(trend["q"])
    q_text = (
        w.fill(w.gettext("q < %(limit)s"), {"limit": w.number(0.01, 2)})
        if q < 0.01
        else w.fill(w.gettext("q = %(q)s"), {"q": w.number(q, 2)})
    )
    return w.fill(
        w.gettext("%(confidence)s CI %(low)s to %(high)s; %(q)s"),
        {
            "confidence": _percent(w, float(trend["confidence"])),
            "low": signed_text(w, trend["low"], decimals),
            "high": signed_text(w, trend["high"], decimals),
            "q": q_text,
        },
    )


def _trend_numbers(w: Words, said: Said) -> str:
    return w.fill(
        w.pgettext("a slope, then its interval", "%(slope)s, %(interval)s"),
        {"slope": _slope(w, said), "interval": _interval(w, said)},
    )


def _changed(w: Words, said: Said) -> str:
    """ "over the last 8 rounds it changed by +2.0 per round (95% CI …)"."""
    return w.fill(
        w.gettext("over %(span)s it changed by %(slope)s (%(interval)s)"),
        {"span": span_text(w, said), "slope": _slope(w, said), "interval": _interval(w, said)},
    )


def band_words(w: Words, said: Said) -> str:
    """ "at or above 50, the CBI convention for 'high'": a cut-off in a leader's words."""
    band = said["band"]
    threshold = _threshold(w, band["threshold"])
    relation = {
        "<=": w.gettext("at or below %(threshold)s"),
        "<": w.gettext("below %(threshold)s"),
        ">=": w.gettext("at or above %(threshold)s"),
        ">": w.gettext("above %(threshold)s"),
    }[band["op"]]
    instrument = band.get("instrument") or ""
    if band.get("word") == "convention":
        standard = (
            w.gettext("the %(instrument)s convention for '%(band)s'")
            if instrument
            else w.gettext("the instrument's convention for '%(band)s'")
        )
    else:
        standard = (
            w.gettext("the %(instrument)s cut-off for '%(band)s'")
            if instrument
            else w.gettext("the instrument's cut-off for '%(band)s'")
        )
    return w.fill(
        w.pgettext("a cut-off, then what it is", "%(relation)s, %(standard)s"),
        {
            "relation": w.fill(relation, {"threshold": threshold}),
            "standard": w.fill(standard, {"instrument": w.term(instrument), "band": w.band(band["name"])}),
        },
    )


def _cutoff_clause(w: Words, said: Said) -> str:
    """ "54 is at or above 50, the CBI convention for 'high'"."""
    return w.fill(
        w.gettext("%(value)s is %(cutoff)s"),
        {"value": value_text(w, said, said["last"]), "cutoff": band_words(w, said)},
    )


def _sentence(w: Words, parts: Sequence[str], notes: Sequence[str] = ()) -> str:
    return w.fill(
        w.pgettext("clauses joined into a sentence", "%(clauses)s."),
        {"clauses": w.join("; ", [*parts, *notes])},
    )


def _latest(w: Words, said: Said) -> dict[str, str]:
    return {"last": value_text(w, said, said["last"]), "date": w.day(said["latest"])}


# ------------------------------------------------------------------------------------------ the reasons


ReasonWords = Callable[[Mapping[str, Any], Said, Words, str], str]


def trend_words(reason: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    template = (
        w.gettext("%(metric)s rose from %(first)s to %(last)s over %(span)s (%(numbers)s)")
        if reason["rising"]
        else w.gettext("%(metric)s fell from %(first)s to %(last)s over %(span)s (%(numbers)s)")
    )
    lead = w.fill(
        template,
        {
            "metric": metric,
            "first": value_text(w, said, said["first"]),
            "last": value_text(w, said, said["last"]),
            "span": span_text(w, said),
            "numbers": _trend_numbers(w, said),
        },
    )
    cutoff = [_cutoff_clause(w, said)] if said.get("band") else []
    return _sentence(w, [lead, *cutoff], notes_text(w, said))


def shift_words(reason: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    count = int(reason["baseline_rounds"])
    template = (
        w.ngettext(
            "%(metric)s shifted up from a baseline of %(baseline)s (its first %(count)d usable round "
            "here) to %(last)s in the round closing %(date)s; the CUSUM stands at %(cusum)s standard "
            "errors, past its limit of %(limit)s",
            "%(metric)s shifted up from a baseline of %(baseline)s (its first %(count)d usable rounds "
            "here) to %(last)s in the round closing %(date)s; the CUSUM stands at %(cusum)s standard "
            "errors, past its limit of %(limit)s",
            count,
        )
        if reason["up"]
        else w.ngettext(
            "%(metric)s shifted down from a baseline of %(baseline)s (its first %(count)d usable round "
            "here) to %(last)s in the round closing %(date)s; the CUSUM stands at %(cusum)s standard "
            "errors, past its limit of %(limit)s",
            "%(metric)s shifted down from a baseline of %(baseline)s (its first %(count)d usable rounds "
            "here) to %(last)s in the round closing %(date)s; the CUSUM stands at %(cusum)s standard "
            "errors, past its limit of %(limit)s",
            count,
        )
    )
    limit = float(reason["limit"])
    lead = w.fill(
        template,
        {
            "metric": metric,
            "baseline": value_text(w, said, reason["baseline"]),
            "count": count,
            **_latest(w, said),
            "cusum": w.number(float(reason["cusum"]), 1),
            "limit": w.number(limit, 0 if limit == int(limit) else 1),
        },
    )
    cutoff = [_cutoff_clause(w, said)] if said.get("band") else []
    return _sentence(w, [lead, *cutoff], notes_text(w, said))


def cutoff_words(reason: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    parts = [
        w.fill(
            w.gettext("%(metric)s was %(last)s in the round closing %(date)s: %(cutoff)s"),
            {"metric": metric, **_latest(w, said), "cutoff": _cutoff_clause(w, said)},
        )
    ]
    if said.get("trend"):
        parts.append(_changed(w, said))
    return _sentence(w, parts, notes_text(w, said))


#: One entry per reason code: how its stored numbers are worded (see the module docstring).
REASON_WORDS: dict[str, ReasonWords] = {
    "trend": trend_words,
    "shift": shift_words,
    "cutoff": cutoff_words,
    **load_words.REASON_WORDS,  # the on-call load reasons (pulse.analysis.load)
}


def reason_text(code: str, said: Said, w: Words, metric: str) -> str | None:
    """The sentence of one reason, or None when this shape or code is unknown here (the caller then shows
    the flag's stored English)."""
    reason = (said.get("reasons") or {}).get(code)
    # The reason's own code picks its words: a load series' trend is stored as "load_trend" under "trend".
    words = REASON_WORDS.get(str(reason.get("code", code))) if reason is not None else None
    if words is None or reason is None or said.get("v") != SAID_VERSION:
        return None
    return words(reason, said, w, metric)


def status_text(said: Said, w: Words, metric: str) -> str:
    """Where the series stands, flagged or not (no notes: they belong to flags)."""
    if said.get("series") == "load":
        return load_words.load_status(said, w, metric)
    parts = [
        w.fill(
            w.gettext("%(metric)s was %(last)s in the round closing %(date)s"),
            {"metric": metric, **_latest(w, said)},
        )
    ]
    if said.get("trend"):
        parts.append(_changed(w, said))
    return _sentence(w, parts)


# ----------------------------------------------------------------------------------------- the headline


def survey_headline(headline: Mapping[str, Any], said: Said, w: Words, metric: str) -> str:
    """What happened, in a leader's words, for the reasons that hold (``trend``, ``shift``, a cut-off when
    ``said["band"]`` is set). ``rising``: the trend's direction; ``up``: the shift's; ``baseline``: the
    team's usual level before the shift. The movement is worded by ``pulse.analysis.headline_words``, as
    the load headline's is, in rounds."""
    values = {"metric": metric, "first": value_text(w, said, said["first"]), **_latest(w, said)}
    rounds = MovementWords(
        risen=w.gettext("%(metric)s has risen over %(span)s, from %(first)s to %(last)s"),
        fallen=w.gettext("%(metric)s has fallen over %(span)s, from %(first)s to %(last)s"),
        jump=w.gettext(", with a sudden jump in the round closing %(date)s"),
        drop=w.gettext(", with a sudden drop in the round closing %(date)s"),
        jumped=w.gettext(
            "%(metric)s jumped to %(last)s in the round closing %(date)s, away from the team's usual "
            "level of %(baseline)s"
        ),
        dropped=w.gettext(
            "%(metric)s dropped to %(last)s in the round closing %(date)s, away from the team's usual "
            "level of %(baseline)s"
        ),
    )

    def cutoff(lead: str) -> str | None:
        if not said.get("band"):
            return None
        values["cutoff"] = band_words(w, said)
        if lead:
            return w.fill(
                w.gettext("%(lead)s, and is now %(cutoff)s."), {"lead": lead, "cutoff": values["cutoff"]}
            )
        return w.fill(w.gettext("%(metric)s is %(last)s, %(cutoff)s, in the round closing %(date)s."), values)

    return movement_headline(
        headline,
        w,
        values,
        rounds,
        span=lambda: span_text(w, said),
        baseline=lambda: value_text(w, said, headline["baseline"]),
        ending=cutoff,
    )


HeadlineWords = Callable[[Mapping[str, Any], Said, Words, str], str]

#: One entry per headline code (``said["headline"]["code"]``).
HEADLINE_WORDS: dict[str, HeadlineWords] = {"survey": survey_headline, **load_words.HEADLINE_WORDS}


def headline_text(said: Said, w: Words, metric: str) -> str | None:
    """The flag's headline, or None when this shape or code is unknown here."""
    headline = said.get("headline")
    if said.get("v") != SAID_VERSION or not headline:
        return None
    words = HEADLINE_WORDS.get(headline.get("code", "survey"))
    return None if words is None else words(headline, said, w, metric)
