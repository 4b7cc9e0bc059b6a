"""What a metric is: its name as stored, the value object that builds and parses it, and how to read it.

A ``TeamAggregate.metric`` names what is measured and the instrument version it came from, so a trend never
mixes versions: ``question:<question key>@<version>``, ``scale:<instrument key>.<scale key>@<version>``,
``share:<instrument key>.<scale key>.<band>@<version>`` (the share of respondents in a band or worse) and
``response_rate``. :class:`Metric` is the one place those strings are built and parsed.

How to read a metric (its label, which way is bad, its display scale and practical minimum change) is a
:class:`MetricInfo`. A scale's is built from its own definition (``surveys.definitions.ScaleDef``: direction,
report label, practical change, threshold word; the instrument's short name) by :func:`metric_info`, so a
custom instrument's scale is read exactly like a shipped one; the response rate's is fixed. A scale without
a direction has none: it is counted, and no report shows it (docs/science.md §1 and §3). Pure, no ORM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pulse.analysis.catalogue import gettext_noop
from surveys import library
from surveys.definitions import HIGHER_IS_BETTER as READ_HIGHER_IS_BETTER
from surveys.definitions import InstrumentDef, ScaleDef, display_scale

Direction = Literal[1, -1]


DisplayScale = Literal["1-5", "0-5", "0-100", "percent"]


HIGHER_IS_BETTER: Direction = 1


HIGHER_IS_WORSE: Direction = -1


RESPONSE_RATE = "response_rate"


@dataclass(frozen=True)
class MetricInfo:
    """How to read one metric: its name in sentences, which way is bad, its scale and practical minimum."""

    label: str
    direction: Direction
    scale: DisplayScale
    practical: float  # smallest worsening per round that matters, in the metric's display units
    instrument: str = ""  # short instrument name for the cut-off clause ("CBI", "WHO-5")
    cutoff_word: str = "cut-off"  # CBI's 50 is a convention, and says so (docs/science.md §1.5)


RESPONSE_RATE_INFO = MetricInfo("The response rate", HIGHER_IS_BETTER, "percent", 2.0)


#: On-call load, per team and ISO week (docs/oncall.md §2): ``oncall:<measure>``, never a survey answer.
ONCALL_PREFIX = "oncall:"


@dataclass(frozen=True)
class LoadMeasure:
    """One weekly on-call measure a flag can be about: ``label`` in sentences, ``unit`` after a value ("a
    week", "%"), ``practical`` the smallest worsening per week that matters, in shown units."""

    key: str
    label: str
    direction: Direction
    practical: float
    decimals: int = 0
    percent: bool = False  # stored as a fraction of 1, shown in percent

    @property
    def metric(self) -> str:
        return ONCALL_PREFIX + self.key

    @property
    def info(self) -> MetricInfo:
        # "0-100" only keeps the survey statistics' branches for rates out; load is written by its own
        # sentences (pulse.analysis.load), never through the survey coarsening.
        return MetricInfo(self.label, self.direction, "0-100", self.practical)


# The labels are Pulse's own words (an instrument's labels are its definition's English data): marked for
# the catalogue here and translated where they are shown (pulse.selectors.flag_words.metric_label); the
# trend run's stored English sentences use them as they are.
LOAD_MEASURES: tuple[LoadMeasure, ...] = (
    LoadMeasure("sleep_interruptions", gettext_noop("Sleep-hour interruptions"), HIGHER_IS_WORSE, 0.5),
    LoadMeasure("interruptions", gettext_noop("Interruptions"), HIGHER_IS_WORSE, 1.0),
    LoadMeasure(
        "max_on_call_share",
        gettext_noop("The most time anyone spent on call"),
        HIGHER_IS_WORSE,
        1.0,
        percent=True,
    ),
    LoadMeasure(
        "incidents_per_shift", gettext_noop("Incidents per 12-hour shift"), HIGHER_IS_WORSE, 0.05, decimals=1
    ),
    LoadMeasure("rotation_size", gettext_noop("The rotation"), HIGHER_IS_BETTER, 0.1),
    LoadMeasure(
        "concentration",
        gettext_noop("The busiest person's share of the pages"),
        HIGHER_IS_WORSE,
        1.0,
        percent=True,
    ),
)
LOAD_BY_METRIC: dict[str, LoadMeasure] = {m.metric: m for m in LOAD_MEASURES}


# Without its own practical change, a scale's smallest change that matters is that of the shipped scales
# on the same display scale (docs/science.md §3).
DEFAULT_PRACTICAL: dict[DisplayScale, float] = {"1-5": 0.05, "0-5": 0.05, "0-100": 2.0}


def metric_info(definition: InstrumentDef, scale: ScaleDef) -> MetricInfo | None:
    """How reports read ``scale`` of ``definition``, or None when it is not reported: it has no direction,
    or (a row stored before the rule) its scores fit no display scale, so they could not be coarsened."""
    if not scale.direction:
        return None
    shown = display_scale(scale, {question.key: question for question in definition.questions})
    if shown not in DEFAULT_PRACTICAL:
        return None
    display: DisplayScale = shown  # one of DEFAULT_PRACTICAL's keys, checked above
    practical = (
        float(scale.practical_change) if scale.practical_change is not None else DEFAULT_PRACTICAL[display]
    )
    return MetricInfo(
        label=scale.label or scale.name,
        direction=HIGHER_IS_BETTER if scale.direction == READ_HIGHER_IS_BETTER else HIGHER_IS_WORSE,
        scale=display,
        practical=practical,
        instrument=definition.short_name,
        cutoff_word=scale.cutoff_word,
    )


MetricKindName = Literal["question", "scale", "share", "response_rate"]


@dataclass(frozen=True)
class Metric:
    """One metric name, parsed. ``key`` is the question key, or "<instrument>.<scale>" for scales and
    shares; ``band`` only for shares; ``version`` the instrument version (0 for the response rate)."""

    kind: MetricKindName
    key: str = ""
    band: str = ""
    version: int = 0

    @classmethod
    def question(cls, question_key: str, version: int) -> Metric:
        return cls("question", question_key, version=version)

    @classmethod
    def scale(cls, instrument_key: str, scale_key: str, version: int) -> Metric:
        return cls("scale", f"{instrument_key}.{scale_key}", version=version)

    @classmethod
    def share(cls, instrument_key: str, scale_key: str, band: str, version: int) -> Metric:
        return cls("share", f"{instrument_key}.{scale_key}", band, version)

    @classmethod
    def parse(cls, name: str) -> Metric | None:
        """ "scale:who5.who5@1" → Metric("scale", "who5.who5", version=1); None for anything malformed."""
        if name == RESPONSE_RATE:
            return RESPONSE_RATE_METRIC
        kind, _, rest = name.partition(":")
        body, _, version = rest.rpartition("@")
        if kind not in ("question", "scale", "share") or not body or not version.isdigit():
            return None
        if kind == "share":
            key, _, band = body.rpartition(".")
            if "." not in key or not band:
                return None
            return cls("share", key, band, int(version))
        if kind == "scale" and "." not in body:
            return None
        return cls(kind, body, version=int(version))  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        if self.kind == "response_rate":
            return RESPONSE_RATE
        band = f".{self.band}" if self.band else ""
        return f"{self.kind}:{self.key}{band}@{self.version}"

    @property
    def instrument_key(self) -> str | None:
        return self.key.split(".", 1)[0] if self.kind in ("scale", "share") else None

    @property
    def scale_key(self) -> str | None:
        return self.key.split(".", 1)[1] if self.kind in ("scale", "share") else None

    @property
    def scale_metric(self) -> Metric | None:
        """The scale score a share belongs to (its own metric for a scale)."""
        if self.kind not in ("scale", "share"):
            return None
        return Metric("scale", self.key, version=self.version)

    @property
    def series_key(self) -> str | None:
        """What a report column is keyed by: the scale without its version ("who5.who5"), or the response
        rate; None for questions and shares, which are not evaluated."""
        if self.kind == "response_rate":
            return RESPONSE_RATE
        if self.kind == "scale":
            return self.key
        return None


RESPONSE_RATE_METRIC = Metric("response_rate")


def metric_key(metric: str) -> str | None:
    """The series key of a metric name: "scale:cbi_work.cbi_work@1" → "cbi_work.cbi_work".

    Only scale scores and the response rate are evaluated (``pulse.analysis.rules``); anything else gives
    None.
    """
    parsed = Metric.parse(metric)
    return parsed.series_key if parsed else None


class MetricInfos:
    """How to read the metrics of some instrument versions: the definitions given (the ones a release
    loaded), then the default library, whose released versions never change (``surveys.library``) and so
    need no query. A custom version that was not given is unknown (None, and its name as its label)."""

    def __init__(self, definitions: Iterable[InstrumentDef] = ()) -> None:
        self._definitions = {(d.key, d.version): d for d in definitions}

    def definition(self, instrument_key: str, version: int) -> InstrumentDef | None:
        return self._definitions.get((instrument_key, version)) or library.get(instrument_key, version)

    def knows(self, metric: str) -> bool:
        """Whether the metric's instrument version is at hand (always, for the response rate)."""
        parsed = Metric.parse(metric)
        if parsed is None or parsed.instrument_key is None:
            return True
        return self.definition(parsed.instrument_key, parsed.version) is not None

    def info(self, metric: str | Metric) -> MetricInfo | None:
        """A scale score's info, or the response rate's; None for anything else or a scale not reported."""
        parsed = Metric.parse(metric) if isinstance(metric, str) else metric
        if parsed is None:
            return None
        if parsed.kind == "response_rate":
            return RESPONSE_RATE_INFO
        if parsed.kind != "scale" or parsed.instrument_key is None:
            return None
        definition = self.definition(parsed.instrument_key, parsed.version)
        scale = definition.scale(parsed.scale_key or "") if definition else None
        return metric_info(definition, scale) if definition and scale else None

    def label(self, metric: str) -> str:
        """How a metric is named to people: its label, with the instrument version when it is not the
        first; the metric's own name when it is not reported."""
        info = self.info(metric)
        if info is None:
            load = LOAD_BY_METRIC.get(metric)
            return load.label if load else metric
        parsed = Metric.parse(metric)
        version = parsed.version if parsed else 0
        return f"{info.label} (version {version})" if version > 1 else info.label
