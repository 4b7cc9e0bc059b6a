"""How numbers are written for people: one copy of every text rule for values, differences and dates.

Published means print at their coarsened precision (``pulse.analysis.coarsening``): "3.4" on 1–5 items,
"52" on 0–100 scores, "85%" for rates. A difference carries its sign and a true minus ("+0.3", "−4"). A day
is "3 Dec 2026" in the organisation's time zone. Pure, no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from pulse.analysis.coarsening import coarsen_mean, coarsen_percent
from pulse.analysis.metrics import DisplayScale, MetricInfo
from surveys.definitions import BandDef, format_number, to_fraction

OPERATOR_SIGNS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}

OPERATOR_WORDS = {"<=": "at or below", "<": "below", ">=": "at or above", ">": "above"}


def decimals_of(scale: DisplayScale) -> int:
    """Decimals a coarsened value of the scale prints with: 1 on item scales, 0 on 0–100 and rates."""
    return 1 if scale in ("1-5", "0-5") else 0


def slope_decimals(scale: DisplayScale) -> int:
    """Decimals of a change per round: one more than the values, as a slope is finer than a value."""
    return 2 if scale in ("1-5", "0-5") else 1


def signed(value: float, decimals: int, *, zero: str | None = None) -> str:
    """ "+0.3", "−4": a difference with its sign and a true minus. Zero prints as ``zero`` ("0" unless
    given; an interval's bound prints "0.00" so it lines up with its twin)."""
    rounded = round(value, decimals)
    if rounded == 0:
        return "0" if zero is None else zero
    return f"{rounded:+.{decimals}f}".replace("-", "−")


def shown_value(value: float, scale: DisplayScale) -> float:
    """A published mean coarsened as it may be shown: 0.1 on item scales, 1 point on 0–100, 5 % for rates
    (docs/science.md §4.7, ``pulse.analysis.coarsening``). ``value`` is exact."""
    if scale == "percent":
        return float(coarsen_percent(min(100.0, max(0.0, value))))
    return coarsen_mean(value, scale=scale)


def format_value(value: float, scale: DisplayScale) -> str:
    """A published mean as it may be shown, as text ("3.4", "52", "85%"); coarsened here."""
    return shown_text(shown_value(value, scale), scale)


def shown_text(value: float, scale: DisplayScale) -> str:
    """A value already coarsened, as printed: "3.4" on 1–5, "52" on 0–100, "85%" for rates."""
    if scale == "percent":
        return f"{round(value)}%"
    return f"{value:.{decimals_of(scale)}f}"


def format_change(value: float, scale: DisplayScale) -> str:
    """A slope per round with its sign: two decimals on item scales, one on 0–100 and rates; zero keeps
    its decimals ("0.00")."""
    decimals = slope_decimals(scale)
    return signed(value, decimals, zero=f"{0:.{decimals}f}")


def format_q(q: float) -> str:
    return "q < 0.01" if q < 0.01 else f"q = {q:.2f}"


def noise_shown(value: float, scale: DisplayScale) -> float:
    """A detectable change coarsened like the values it is compared with (never finer than they are)."""
    if scale == "percent":
        return float(max(5, coarsen_percent(min(100.0, value))))
    decimals = decimals_of(scale)
    return max(10.0**-decimals, round(value, decimals))


def noise_text(value: float, scale: DisplayScale) -> str:
    shown = noise_shown(value, scale)
    if scale == "percent":
        return f"{shown:.0f} points"
    return f"{shown:.{decimals_of(scale)}f}"


def day_text(moment: datetime, zone: str) -> str:
    """ "3 Dec 2026": the day of ``moment`` in the time zone ``zone``."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.day} {local:%b %Y}"


def days_text(moments: Sequence[datetime], zone: str) -> str:
    """ "3 Dec 2026, 10 Dec 2026 and 17 Dec 2026"."""
    names = [day_text(m, zone) for m in moments]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def band_label(band: BandDef, info: MetricInfo | None = None) -> str:
    """ "poor wellbeing (≤ 50)", "high (≥ 50, a convention)"."""
    convention = ", a convention" if info is not None and info.cutoff_word == "convention" else ""
    threshold = format_number(to_fraction(band.threshold))
    return f"{band.name.replace('_', ' ')} ({OPERATOR_SIGNS.get(band.op, band.op)} {threshold}{convention})"
