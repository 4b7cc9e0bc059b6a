"""A flag's words in its reader's language: headline, reasons and explanation worded when read.

The trend run stores what a flag says as data (``details["said"]``: reason codes and their published,
coarsened numbers; ``pulse.analysis.sentences``). This module is the thin layer that words it for one
reader: :class:`ReaderWords` hands the pure wording module Django's catalogue (``gettext``, ``ngettext``,
``pgettext`` in the active language) and its formats (a decimal comma and "3. Dezember 2026" in German),
and :func:`flag_words` returns the headline, one sentence per reason and the explanation. Called inside
the reader's language (a page's request, an email's ``translation.override``).

A flag whose data this module cannot word (stored before the data existed and not derivable by migration
0013, or a shape or reason code it does not know) keeps its stored English: :attr:`FlagWords.lang` is then
"en", which the pages put on the element (docs/languages.md §8). The disclosure gate on what a page may
show (``pulse.selectors.flags``) applies to the worded text as it did to the stored one.

A flag's metric is named by :func:`metric_label`: an instrument's scale by its definition's label (English
data, marked ``lang="en"`` where it is shown: :func:`label_lang`), the response rate and an on-call load
measure in the reader's language (Pulse's own words: the catalogue's "The response rate",
``pulse.analysis.metrics.LOAD_MEASURES``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import formats, translation
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy

from pulse.analysis import sentences
from pulse.analysis.metrics import LOAD_BY_METRIC, RESPONSE_RATE, MetricInfos
from pulse.analysis.rules import REASON_ORDER
from pulse.dates import day_text
from pulse.models import Flag, FlagEvent

#: The language instrument data (labels, short names, band names) is written in.
DATA_LANGUAGE = "en"

#: The shipped instruments' band names (``surveys.library``), as the sentences name them.
BAND_NAMES = {
    "high": pgettext_lazy("an instrument's band", "high"),
    "burned_out": pgettext_lazy("an instrument's band", "burned out"),
    "poor_wellbeing": pgettext_lazy("an instrument's band", "poor wellbeing"),
    "likely_depression": pgettext_lazy("an instrument's band", "likely depression"),
}


def metric_label(infos: MetricInfos, metric: str) -> str:
    """How ``metric`` is named to the reader: the response rate and a load measure in the active language
    (Pulse's own words), anything else as ``infos`` names it (an instrument's English label, with its
    version when not the first)."""
    if metric == RESPONSE_RATE:
        return pgettext("a metric, starting a sentence", "The response rate")
    load = LOAD_BY_METRIC.get(metric)
    return gettext(load.label) if load is not None else infos.label(metric)


def label_lang(metric: str) -> str:
    """The language of :func:`metric_label`'s text for a page to mark: "" for the response rate and a load
    measure (the page's own), else :data:`DATA_LANGUAGE` (an instrument's data)."""
    return "" if metric == RESPONSE_RATE or metric in LOAD_BY_METRIC else DATA_LANGUAGE


def _reading_language() -> str:
    return (translation.get_language() or DATA_LANGUAGE).split("-")[0]


class ReaderWords:
    """:class:`pulse.analysis.sentences.Words` for the active language, days in ``zone``; ``html``: the
    result goes into a page (values escaped, instrument data in another language marked with its
    ``lang``), else into plain text (an email's text part, Slack, a webhook)."""

    def __init__(self, zone: str, *, html: bool) -> None:
        self.zone_name = zone
        self.html = html

    def gettext(self, message: str) -> str:
        return gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return ngettext(singular, plural, count)

    def pgettext(self, context: str, message: str) -> str:
        return pgettext(context, message)

    def number(self, value: float, decimals: int) -> str:
        return formats.number_format(round(value, decimals), decimal_pos=decimals, use_l10n=True)

    def day(self, moment: str) -> str:
        return day_text(datetime.fromisoformat(moment), self.zone_name)

    def term(self, text: str) -> str:
        if not self.html:
            return text
        if not text or _reading_language() == DATA_LANGUAGE:
            return conditional_escape(text)
        return format_html('<span lang="{}">{}</span>', DATA_LANGUAGE, text)

    def label(self, text: str, metric: str) -> str:
        """A metric's label inside a sentence: marked as data (:meth:`term`) unless it is in the reader's
        language already (a load measure's, :func:`label_lang`)."""
        if label_lang(metric):
            return self.term(text)
        return conditional_escape(text) if self.html else text

    def band(self, name: str) -> str:
        known = BAND_NAMES.get(name)
        if known is None:  # a custom instrument's band: its own name, in its own language
            return self.term(name.replace("_", " "))
        return conditional_escape(str(known)) if self.html else str(known)

    def fill(self, template: str, values: Mapping[str, object]) -> str:
        if not self.html:
            return template % values
        escaped = {
            key: value if isinstance(value, int) else conditional_escape(str(value))
            for key, value in values.items()
        }
        return mark_safe(conditional_escape(template) % escaped)  # noqa: S308 - template and values escaped

    def join(self, separator: str, parts: Sequence[str]) -> str:
        if not self.html:
            return separator.join(parts)
        # The separator and every part are escaped (a worded part is already safe, and stays as it is).
        return mark_safe(conditional_escape(separator).join(conditional_escape(part) for part in parts))  # noqa: S308


@dataclass(frozen=True)
class FlagWords:
    """What a flag says for one reader. ``lang``: "" when worded in the reader's language, else the
    language of the stored text shown instead ("en")."""

    headline: str
    reasons: Mapping[str, str]  # reason code → its sentence
    explanation: str
    lang: str


def _said(flag: Flag) -> Mapping[str, Any]:
    said = (flag.details or {}).get("said")
    return said if isinstance(said, Mapping) else {}


def _fallback_lang() -> str:
    return "" if _reading_language() == DATA_LANGUAGE else DATA_LANGUAGE


def _stored(flag: Flag) -> FlagWords:
    stored: Mapping[str, str] = dict((flag.details or {}).get("reasons") or {})
    kinds = [kind.value for kind in REASON_ORDER if kind.value in (flag.reasons or [flag.kind])]
    reasons = {kind: stored.get(kind, flag.explanation if len(kinds) == 1 else "") for kind in kinds}
    return FlagWords(flag.headline or flag.explanation, reasons, flag.explanation, _fallback_lang())


def flag_words(flag: Flag, *, label: str, zone: str, html: bool) -> FlagWords:
    """The flag's headline, reasons and explanation in the active language (see the module docstring).
    ``label``: the metric's name as the caller shows it; ``zone``: the reader's time zone for days."""
    said = _said(flag)
    if not said:
        return _stored(flag)
    words = ReaderWords(zone, html=html)
    metric = words.label(label, flag.metric)
    codes = [str(code) for code in (flag.reasons or [flag.kind])]
    worded = {code: sentences.reason_text(code, said, words, metric) for code in codes}
    headline = sentences.headline_text(said, words, metric)
    if headline is None or any(text is None for text in worded.values()):
        return _stored(flag)
    reasons = {code: text for code, text in worded.items() if text is not None}
    explanation = words.join(" ", list(reasons.values()))
    return FlagWords(headline or explanation, reasons, explanation, "")


def status_words(
    said: Mapping[str, Any], *, label: str, zone: str, html: bool, metric: str = ""
) -> str | None:
    """Where a series stood (a recovery's or a lapse's evidence), or None for a shape not known here.
    ``metric``: the flag's, so a load measure's label is not marked as English data."""
    if said.get("v") != sentences.SAID_VERSION:
        return None
    words = ReaderWords(zone, html=html)
    return sentences.status_text(said, words, words.label(label, metric))


@dataclass(frozen=True)
class EventWords:
    text: str
    lang: str  # "" in the reader's language, else the stored text's ("en")


def recovery_words(event: FlagEvent, *, label: str, zone: str, html: bool = False) -> EventWords:
    """Why a flag recovered: "Back within bounds for 2 evaluations in a row." and where it stands."""
    data = event.data or {}
    status = status_words(data.get("said") or {}, label=label, zone=zone, html=html, metric=event.flag.metric)
    if status is None:
        return EventWords(event.why, _fallback_lang())
    count = int(data.get("evaluations") or 2)
    lead = ngettext(
        "Back within bounds for %(count)d evaluation in a row.",
        "Back within bounds for %(count)d evaluations in a row.",
        count,
    ) % {"count": count}
    return EventWords(f"{lead} {status}" if not html else format_html("{} {}", lead, status), "")


def escalation_words(event: FlagEvent) -> EventWords:
    """Why a flag was escalated: "Not acknowledged within 7 days; escalated to the leaders of Payments."."""
    data = event.data or {}
    if "days" not in data or "team_name" not in data:
        return EventWords(event.why, _fallback_lang())
    days = int(data["days"])
    text = ngettext(
        "Not acknowledged within %(days)d day; escalated to the leaders of %(team)s.",
        "Not acknowledged within %(days)d days; escalated to the leaders of %(team)s.",
        days,
    ) % {"days": days, "team": data["team_name"]}
    return EventWords(text, "")
