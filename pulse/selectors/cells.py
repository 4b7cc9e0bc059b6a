"""How a released value is shown on a page: the reported columns, one cell as text, who sees which teams,
and the words for a team's trend line.

Reads only. Everything here starts from a verdict of ``pulse.disclosure.release``; a withheld verdict shows
its reason and never a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext, ngettext, pgettext

from pulse.analysis.formatting import OPERATOR_SIGNS, slope_decimals
from pulse.analysis.metrics import (
    RESPONSE_RATE,
    RESPONSE_RATE_INFO,
    DisplayScale,
    Metric,
    MetricInfo,
    MetricInfos,
    metric_info,
)
from pulse.analysis.sentences import Words, signed_text
from pulse.analysis.stats import TrendLine
from pulse.disclosure.release import Level, Mean, Rate, Share, TeamIndex, Verdict
from pulse.disclosure.rules import AnswerCount, Phrase, Published, Withheld
from pulse.permissions import Caller
from pulse.selectors.flag_words import ReaderWords
from surveys.definitions import BandDef, InstrumentDef, format_number, to_fraction
from surveys.library import DEFAULT_KEYS
from surveys.models import Instrument


def window() -> int:
    return int(settings.PULSE_TREND_WINDOW)


def min_rounds() -> int:
    return int(settings.PULSE_TREND_MIN_ROUNDS)


def horizon() -> int:
    """Rounds loaded per team: the trend run's own horizon (two windows), so a flag can be checked."""
    return 2 * window()


@dataclass(frozen=True)
class Column:
    """A reported metric, whatever its version: a scale ("<instrument key>.<scale key>") or the response
    rate, with how to read it."""

    key: str
    label: str
    scale: DisplayScale
    info: MetricInfo

    @property
    def instrument_key(self) -> str | None:
        return None if self.key == RESPONSE_RATE else self.key.split(".", 1)[0]


RESPONSE_RATE_COLUMN = Column(RESPONSE_RATE, "Response rate", "percent", RESPONSE_RATE_INFO)


def columns_of(definitions: Iterable[InstrumentDef]) -> tuple[Column, ...]:
    """The reported columns of these instrument versions: each scale with a direction, read from its own
    definition (``pulse.analysis.metrics.metric_info``), then the response rate.

    The default library comes first in its own order, then custom instruments by key, each instrument's
    scales in its order. A scale asked in several versions is one column, read as its newest version.
    """
    library_order = {key: position for position, key in enumerate(DEFAULT_KEYS)}
    newest_first = sorted(
        definitions, key=lambda d: (library_order.get(d.key, len(library_order)), d.key, -d.version)
    )
    found: dict[str, Column | None] = {}
    for definition in newest_first:
        for scale in definition.scales:
            key = Metric.scale(definition.key, scale.key, definition.version).key
            if key not in found:
                info = metric_info(definition, scale)
                found[key] = Column(key, info.label, info.scale, info) if info else None
    columns = [column for column in found.values() if column is not None]
    return (*columns, RESPONSE_RATE_COLUMN)


def metric_infos_for(metrics: Iterable[str], *, known: Iterable[InstrumentDef] = ()) -> MetricInfos:
    """How to read these metrics (labels, display scales), from the instrument versions ``known`` (those a
    release loaded) and the default library; the custom versions neither holds are loaded, three queries
    when there are any, none otherwise."""
    given = list(known)
    infos = MetricInfos(given)
    missing = {
        (parsed.instrument_key, parsed.version)
        for metric in metrics
        if not infos.knows(metric) and (parsed := Metric.parse(metric)) and parsed.instrument_key
    }
    if not missing:
        return infos
    wanted = Q()
    for key, version in sorted(missing):
        wanted |= Q(key=key, version=version)
    loaded = Instrument.objects.filter(wanted).prefetch_related("questions", "scales")
    return MetricInfos([*given, *(instrument.definition() for instrument in loaded)])


def phrase_words(text: str) -> str:
    """A sentence of ``pulse.disclosure`` (a withheld reason, a roll-up note) in the active language: a
    :class:`~pulse.disclosure.rules.Phrase` through the catalogue, its values worded the same way (a
    nested reason, a count of answers with the language's plural); any other text as it is."""
    if isinstance(text, AnswerCount):
        return ngettext("%(n)s answer", "%(n)s answers", text.n) % {"n": text.n}
    if not isinstance(text, Phrase):
        return str(text)
    values = {name: phrase_words(value) if isinstance(value, str) else value for name, value in text.values}
    return gettext(text.message) % values


def _threshold_text(words: Words, band: BandDef) -> str:
    """A band's threshold as the instrument gives it ("28", "62.5"), in the reader's number format."""
    text = format_number(to_fraction(band.threshold))
    try:
        return words.number(float(text), len(text.partition(".")[2]))
    except ValueError:  # "p/q": a threshold with no decimal form, written as the instrument has it
        return text


def band_words(words: Words, band: BandDef, *, convention: bool = False) -> str:
    """ "burned out (≥ 3)": a band's name (translated where the catalogue has it) and its threshold; a
    threshold that is a convention says so ("high (≥ 50, a convention)", docs/science.md §1.5)."""
    return words.fill(
        pgettext("a band and its threshold", "%(band)s (%(operator)s %(threshold)s, a convention)")
        if convention
        else pgettext("a band and its threshold", "%(band)s (%(operator)s %(threshold)s)"),
        {
            "band": words.band(band.name),
            "operator": OPERATOR_SIGNS.get(band.op, band.op),
            "threshold": _threshold_text(words, band),
        },
    )


#: Plain-text words for a cell: its words are escaped where the page puts them (``leader_cells``).
_PLAIN = ReaderWords("UTC", html=False)


@dataclass(frozen=True)
class ShownCell:
    """One value as a page shows it: its text, a note (cut-off band or why withheld), a level for colour
    (never the only signal: the text says it too), and the verdict behind it. Its words and numbers are in
    the language active when it was made (a page's request, an email's ``translation.override``): "3,4" and
    "85 %" in German; ``export_text`` is a published number as an export writes it, with a decimal point
    whatever the language ("3.4", "85%"; docs/languages.md §3)."""

    status: Literal["published", "withheld", "not_asked"]
    text: str
    note: str
    level: Level
    n: int | None
    verdict: Verdict | None
    export_text: str = ""

    @property
    def published(self) -> bool:
        return self.status == "published"

    @property
    def exported(self) -> str:
        """The cell's result as a CSV writes it: a number in the machine format, else the page's words."""
        return self.export_text or self.text


def percent_words(percent: int) -> str:
    """ "85%", "85 %": a whole percentage in the active language's number format."""
    return pgettext("a percentage", "%(number)s%%") % {"number": _PLAIN.number(percent, 0)}


def shown_cell(verdict: Verdict | None) -> ShownCell:
    if verdict is None:
        return ShownCell("not_asked", "—", gettext("not asked in this round"), "none", None, None)
    if isinstance(verdict, Withheld):
        return ShownCell("withheld", phrase_words(verdict.reason), "", "withheld", None, verdict)
    value = verdict.value
    if isinstance(value, Mean):
        band = (
            band_words(_PLAIN, value.band_def, convention=value.convention)
            if value.band_def is not None
            else value.band_label or ""
        )
        # The coarsened value's own decimals ("3.4": one on item scales, none on 0–100).
        text = _PLAIN.number(value.value, len(value.text.partition(".")[2]))
        return ShownCell("published", text, band, value.level, verdict.n, verdict, value.text)
    if isinstance(value, Rate):
        return ShownCell("published", percent_words(value.percent), "", "ok", verdict.n, verdict, value.text)
    if isinstance(value, Share):
        text = percent_words(value.percent)
        return ShownCell("published", text, "", "ok", verdict.n, verdict, f"{value.percent}%")
    return ShownCell("published", "", "", "ok", verdict.n, verdict)


def _plain(cell: ShownCell) -> float | None:
    verdict = cell.verdict
    if not isinstance(verdict, Published):
        return None
    value = verdict.value
    if isinstance(value, Mean):
        return value.value
    if isinstance(value, Rate):
        return float(value.percent)
    return None


def visible_team_ids(caller: Caller, teams: TeamIndex) -> set[int]:
    """An admin: the organisation. A leader: the teams they lead today and everything below."""
    if caller.is_admin:
        return set(teams.by_id)
    return {t.pk for t in caller.led_teams if t.organisation_id == caller.organisation_id}


def sees_results(caller: Caller | None) -> bool:
    return caller is not None and (caller.is_admin or caller.is_leader)


def _slope_text(words: Words, value: float, scale: DisplayScale) -> str:
    """ "+0.12", "−0,12": a change per round with its sign, in the reader's number format ("0" for none)."""
    decimals = slope_decimals(scale)
    if round(value, decimals) == 0:
        return words.number(0.0, 0)
    return signed_text(words, value, decimals)


def _trend_words(words: Words, metric: str, trend: TrendLine | None, scale: DisplayScale, usable: int) -> str:
    """What a team's trend line says, in the reader's language (``words``: their catalogue and number
    format, ``pulse.selectors.flag_words.ReaderWords``); ``metric`` the metric's name as ``words.term``
    marked it. Empty for a response rate, which has no trend line."""
    if scale == "percent":
        return ""
    if trend is None:
        least = min_rounds()
        return words.fill(
            words.ngettext(
                "A trend needs at least %(least)d round with a result; this team has %(usable)d so far, so "
                "single rounds are shown without a trend line.",
                "A trend needs at least %(least)d rounds with a result; this team has %(usable)d so far, so "
                "single rounds are shown without a trend line.",
                least,
            ),
            {"least": least, "usable": usable},
        )
    values: dict[str, object] = {
        "rounds": trend.rounds,
        "metric": metric,
        "slope": _slope_text(words, trend.slope_per_round, scale),
    }
    if not (math.isfinite(trend.low_per_round) and math.isfinite(trend.high_per_round)):
        template = words.gettext(
            "Over the last %(rounds)d rounds with a result, %(metric)s moved %(slope)s per round: too many "
            "ties to give an interval."
        )
        return words.fill(template, values)
    values["low"] = _slope_text(words, trend.low_per_round, scale)
    values["high"] = _slope_text(words, trend.high_per_round, scale)
    if trend.low_per_round > 0 or trend.high_per_round < 0:
        template = words.gettext(
            "Over the last %(rounds)d rounds with a result, %(metric)s moved %(slope)s per round (95%% CI "
            "%(low)s to %(high)s): the rounds show a trend."
        )
    else:
        template = words.gettext(
            "Over the last %(rounds)d rounds with a result, %(metric)s moved %(slope)s per round (95%% CI "
            "%(low)s to %(high)s): the interval includes no change, so this is not a clear trend."
        )
    return words.fill(template, values)
