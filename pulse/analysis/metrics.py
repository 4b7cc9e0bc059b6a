"""What a metric is: its name as stored, the value object that builds and parses it, and how to read it.

A ``TeamAggregate.metric`` names what is measured and the instrument version it came from, so a trend never
mixes versions: ``question:<question key>@<version>``, ``scale:<instrument key>.<scale key>@<version>``,
``share:<instrument key>.<scale key>.<band>@<version>`` (the share of respondents in a band or worse) and
``response_rate``. :class:`Metric` is the one place those strings are built and parsed.

How to read a metric (its label, which way is bad, its display scale and practical minimum change) is a
:class:`MetricInfo`, kept in :data:`METRICS` for the instruments Pulse ships (docs/science.md §1 and §3).
Pure, no ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


#: Keyed by "<instrument key>.<scale key>" (the metric without its kind and version) or "response_rate".
METRICS: dict[str, MetricInfo] = {
    "who5.who5": MetricInfo("Well-being (WHO-5)", HIGHER_IS_BETTER, "0-100", 2.0, "WHO-5"),
    "burnout1.burnout1": MetricInfo(
        "Burnout (single item)", HIGHER_IS_WORSE, "1-5", 0.05, "single-item burnout"
    ),
    "cbi_work.cbi_work": MetricInfo(
        "Work-related burnout (CBI)", HIGHER_IS_WORSE, "0-100", 2.0, "CBI", "convention"
    ),
    "cbi_personal.cbi_personal": MetricInfo(
        "Personal burnout (CBI)", HIGHER_IS_WORSE, "0-100", 2.0, "CBI", "convention"
    ),
    "copsoq_demands.copsoq_demands": MetricInfo(
        "Quantitative demands (COPSOQ)", HIGHER_IS_WORSE, "0-100", 2.0, "COPSOQ"
    ),
    "workload1.workload1": MetricInfo("Workload", HIGHER_IS_WORSE, "1-5", 0.05),
    RESPONSE_RATE: MetricInfo("The response rate", HIGHER_IS_BETTER, "percent", 2.0),
}


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
        """The :data:`METRICS` key: the scale without its version, or the response rate; None otherwise."""
        if self.kind == "response_rate":
            return RESPONSE_RATE
        if self.kind == "scale" and self.key in METRICS:
            return self.key
        return None


RESPONSE_RATE_METRIC = Metric("response_rate")


def metric_key(metric: str) -> str | None:
    """The :data:`METRICS` key of a metric name: "scale:cbi_work.cbi_work@1" → "cbi_work.cbi_work".

    Only scale scores and the response rate are evaluated (``pulse.analysis.rules``); anything else gives
    None.
    """
    parsed = Metric.parse(metric)
    return parsed.series_key if parsed else None


def metric_label(metric: str) -> str:
    """How a metric is named to people: its label, with the instrument version when it is not the first."""
    parsed = Metric.parse(metric)
    key = parsed.series_key if parsed else None
    if parsed is None or key is None:
        return metric
    label = METRICS[key].label
    return f"{label} (version {parsed.version})" if parsed.version > 1 else label
