"""Serializer fields that refuse, with a 400, input the database or Python would choke on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pulse.permissions import Caller

# Ids are 64-bit integers; a larger number in a foreign-key filter would overflow the database driver.
MAX_ID = 2**63 - 1


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


@extend_schema_field({"type": "string", "format": "duration", "example": "P3D"})
class IsoDurationField(serializers.DurationField):
    """A duration written in ISO 8601 ("P3D", "PT36H", "P1DT12H"), as the schema's ``format: duration``
    says; input also accepts Django's "3 00:00:00"."""

    def to_representation(self, value: timedelta) -> str:
        return iso_duration(value)


def iso_duration(value: timedelta) -> str:
    """The shortest ISO 8601 form: "P3D", "PT12H", "P1DT2H30M", "PT0S"."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    days, seconds = value.days, value.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    micro = value.microseconds
    time = "".join(f"{amount}{unit}" for amount, unit in ((hours, "H"), (minutes, "M")) if amount)
    if seconds or micro:
        time += f"{seconds}.{micro:06d}".rstrip("0").rstrip(".") + "S"
    if not days and not time:
        return "PT0S"
    return f"{sign}P{f'{days}D' if days else ''}{'T' + time if time else ''}"


class BoundedDurationField(IsoDurationField):
    """A duration (ISO 8601 "P3D", or "3 00:00:00") between a minute and a year."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", timedelta(minutes=1))
        kwargs.setdefault("max_value", timedelta(days=366))
        super().__init__(**kwargs)


@extend_schema_field(OpenApiTypes.INT)
class ScopedIdField(serializers.PrimaryKeyRelatedField[Any]):
    """An id looked up among what the caller may use (``scope(caller)``).

    Any other id is "does not exist", whether it belongs to another organisation or to nobody.
    """

    def __init__(self, *, scope: Callable[[Caller], QuerySet[Any]], **kwargs: Any) -> None:
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope(self.context["caller"])

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool):  # True would be found as id 1
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


@extend_schema_field(
    {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$", "example": "10:00"}
)
class WallClockField(serializers.TimeField):
    """A wall-clock time without a zone ("10:00"). OpenAPI's ``format: time`` would demand an offset, which
    a local opening time deliberately does not have (the zone is a separate field)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%H:%M")
        super().__init__(**kwargs)
