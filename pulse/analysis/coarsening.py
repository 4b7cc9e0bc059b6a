"""How precisely a published number may be shown: means to 0.1 on item scales and 1 point on 0–100 scores,
percentages to 5 points (docs/science.md §4.7).

This is the precision half of disclosure control; *whether* a number is shown at all is decided by
``pulse.disclosure.rules``. It lives here, below every other module of the analysis, because each text that
shows a number (reports, flag sentences, emails) formats through it. Coarsening blurs a derived difference
but gives no worst-case guarantee, so the suppression rules never rely on it. Pure, no ORM.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from surveys.definitions import DISPLAY_RANGES

Scale = Literal["1-5", "0-5", "0-100"]


# The display step of each display scale. docs/science.md §4.7: 0.1 on item scales, 1 point on 0–100.
_STEPS = {"1-5": Decimal("0.1"), "0-5": Decimal("0.1"), "0-100": Decimal(1)}

# scale: (lowest, highest, display step); the ranges are those a reported scale must fit when it is defined.
_SCALES: dict[str, tuple[Decimal, Decimal, Decimal]] = {
    name: (Decimal(low), Decimal(high), _STEPS[name]) for name, (low, high) in DISPLAY_RANGES.items()
}


def _exact(value: float | int | Decimal | Fraction) -> Decimal:
    """A Decimal for ``value`` without binary-float noise (3.4499999999999997 is the mean 3.45)."""
    if isinstance(value, bool):
        raise ValueError("A boolean is not a number to coarsen.")
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Cannot coarsen {value!r}.")
        # 12 significant digits: far below any display step, far above float error on sums of answers.
        return Decimal(format(value, ".12g"))
    return Decimal(value)


def coarsen_mean(value: float | int | Decimal | Fraction, *, scale: Scale) -> float:
    """Round a published mean for display: to 0.1 on 1–5 (and 0–5) item scales, to 1 on 0–100 scores.

    docs/science.md §4.7. Ties go away from zero (3.25 → 3.3, 49.5 → 50), which is
    what people expect from a printed table; the float noise of a computed mean is removed first, so the
    result prints as "3.1", never "3.1000000000000001". A value outside the scale raises ``ValueError``.
    """
    if scale not in _SCALES:
        raise ValueError(f"Unknown scale {scale!r}; use one of {sorted(_SCALES)}.")
    low, high, step = _SCALES[scale]
    d = _exact(value)
    if not d.is_finite() or not low <= d <= high:
        raise ValueError(f"A mean of {value} is outside the {scale} scale.")
    return float(d.quantize(step, rounding=ROUND_HALF_UP))


def coarsen_percent(value: float | int | Decimal | Fraction) -> int:
    """Round a percentage to the nearest 5 points, ties away from zero (2.5 → 5, 97.5 → 100, −2.5 → −5).

    docs/science.md §4.7. Accepts −100…100 so that a difference in percentage points is coarsened the same
    way.
    """
    d = _exact(value)
    if not d.is_finite() or not Decimal(-100) <= d <= Decimal(100):
        raise ValueError(f"{value} is not a percentage.")
    return int((d / 5).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 5)
