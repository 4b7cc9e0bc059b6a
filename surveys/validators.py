"""Field validators shared by models, forms, serializers and the CSV import."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    """Refuse anything zoneinfo does not know ("CET+1", "Europe/Berlinn", "")."""
    if value not in _zones():
        raise ValidationError(
            "%(value)s is not a known time zone; use an IANA name such as Europe/Berlin.",
            code="invalid_time_zone",
            params={"value": value},
        )


def validate_locale(value: str) -> None:
    known = {code for code, _name in settings.LANGUAGES}
    if value not in known:
        raise ValidationError(
            "%(value)s is not a supported language; choose one of %(known)s.",
            code="invalid_locale",
            params={"value": value, "known": ", ".join(sorted(known))},
        )


def validate_min_group_size(value: int) -> None:
    floor = settings.PULSE_MIN_GROUP_SIZE_FLOOR
    if value < floor:
        raise ValidationError(
            "The minimum group size cannot be below %(floor)s: smaller groups make answers identifiable.",
            code="min_group_size_too_small",
            params={"floor": floor},
        )
