"""Flag text stored as structured reasons, rendered in the reader's language at read time.

A flag raised before this migration holds its headline and sentences in English only, and the numbers
behind them in ``details`` (published, coarsened values as text: "38", "3.4", "85%", "+2.0"). This
migration derives from those numbers the structured form the pages now word for each reader
(``details["said"]``, ``pulse.analysis.sentences``), for every flag whose numbers are all there. A flag
that lacks one (written by hand, or a reason whose numbers were never stored) is left as it is: the pages
show its stored English, marked ``lang="en"`` (docs/languages.md §8). Nothing stored is changed or lost;
going back removes only ``details["said"]``.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

SAID_VERSION = 1
TREND_CONFIDENCE = 95  # pulse.analysis.rules.TrendSettings.confidence: never configurable
CUSUM_LIMIT = 5.0  # TrendSettings.cusum_h: never configurable
BASELINE_ROUNDS = 4  # TrendSettings.baseline_rounds


def _number(text: object) -> float:
    return float(str(text).replace("−", "-").rstrip("%"))


def _scale(text: str) -> str:
    """The display scale, from how a stored value prints: "85%" a rate, "3.4" an item scale, "52" 0–100
    (all the wording needs is the number of decimals, which these three determine)."""
    if text.endswith("%"):
        return "percent"
    return "1-5" if "." in text else "0-100"


def _instrument(metric: str) -> tuple[str, str] | None:
    """(short name, cut-off word) of a scale metric's instrument version in the default library, whose
    released versions never change; None for anything else."""
    from surveys import library

    kind, _, rest = metric.partition(":")
    body, _, version = rest.rpartition("@")
    if kind != "scale" or not version.isdigit() or "." not in body:
        return None
    instrument_key, scale_key = body.split(".", 1)
    definition = library.get(instrument_key, int(version))
    scale = definition.scale(scale_key) if definition else None
    if definition is None or scale is None:
        return None
    return definition.short_name, scale.cutoff_word


def said_from_details(metric: str, reasons: list[str], details: dict[str, Any]) -> dict[str, Any] | None:
    """The structured form of a flag's sentences from its stored numbers, or None if any is missing."""
    try:
        first, last = str(details["first"]), str(details["last"])
        scale = _scale(last)
        said: dict[str, Any] = {
            "v": SAID_VERSION,
            "scale": scale,
            "first": _number(first),
            "last": _number(last),
            "latest": str(details["latest_round_closes_at"]),
            "window": int(details["rounds"]),
            "usable": int(details["usable_rounds"]),
            "trend": None,
            "band": None,
            "excluded": [str(moment) for moment in details.get("excluded_rounds") or []],
            "withheld": int(details.get("withheld_rounds") or 0),
        }
        if "slope_per_round" in details:
            low, high = details["ci"]
            q = float(details["q"])
            said["trend"] = {
                "slope": _number(details["slope_per_round"]),
                "low": _number(low),
                "high": _number(high),
                "q": round(q, 2) if q >= 0.01 else 0.0,
                "confidence": TREND_CONFIDENCE,
            }
        if "band" in details:
            instrument = _instrument(metric)
            if instrument is None:
                return None
            said["band"] = {
                "name": str(details["band"]),
                "op": str(details["cutoff_op"]),
                "threshold": str(details["cutoff"]),
                "instrument": instrument[0],
                "word": instrument[1],
            }
        baseline = _number(details["baseline"]) if "baseline" in details else None
        slope = said["trend"]["slope"] if said["trend"] else 0.0
        worded: dict[str, dict[str, Any]] = {}
        for code in reasons:
            if code == "trend" and said["trend"]:
                worded[code] = {"code": code, "rising": slope > 0}
            elif code == "shift" and baseline is not None and "cusum" in details:
                usable = said["usable"]
                worded[code] = {
                    "code": code,
                    "up": said["last"] > baseline,
                    "baseline": baseline,
                    # The CUSUM's baseline: the first half of the usable rounds, at least four
                    # (pulse.analysis.rules), i.e. min(usable, max(4, usable // 2)).
                    "baseline_rounds": min(usable, max(BASELINE_ROUNDS, usable // 2)),
                    "cusum": float(details["cusum"]),
                    "limit": CUSUM_LIMIT,
                }
            elif code == "cutoff" and said["band"]:
                worded[code] = {"code": code}
            else:
                return None
    except (KeyError, TypeError, ValueError):
        return None
    said["reasons"] = worded
    said["headline"] = {
        "code": "survey",
        "trend": "trend" in worded,
        "shift": "shift" in worded,
        "rising": slope > 0,
        "up": baseline is not None and said["last"] > baseline,
        "baseline": baseline,
    }
    return said


def derive(apps: Any, schema_editor: Any) -> None:
    Flag = apps.get_model("pulse", "Flag")
    changed = []
    for flag in Flag.objects.only("pk", "metric", "reasons", "kind", "details").iterator(chunk_size=500):
        details = dict(flag.details or {})
        if "said" in details:
            continue
        said = said_from_details(flag.metric, list(flag.reasons or [flag.kind]), details)
        if said is None:
            continue  # the pages keep its stored English, marked lang="en"
        flag.details = {**details, "said": said}
        changed.append(flag)
    Flag.objects.bulk_update(changed, ["details"], batch_size=500)


def remove(apps: Any, schema_editor: Any) -> None:
    Flag = apps.get_model("pulse", "Flag")
    changed = []
    for flag in Flag.objects.only("pk", "details").iterator(chunk_size=500):
        if isinstance(flag.details, dict) and "said" in flag.details:
            flag.details = {key: value for key, value in flag.details.items() if key != "said"}
            changed.append(flag)
    Flag.objects.bulk_update(changed, ["details"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0012_team_results"),
    ]

    operations = [migrations.RunPython(derive, remove, elidable=True)]
