"""Field validators shared by models, forms, serializers and the CSV import."""

from __future__ import annotations

import unicodedata
import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    """Refuse anything zoneinfo does not know ("CET+1", "Europe/Berlinn", "")."""
    if value not in _zones():
        raise ValidationError(
            gettext_lazy("%(value)s is not a known time zone; use an IANA name such as Europe/Berlin."),
            code="invalid_time_zone",
            params={"value": value},
        )


def validate_locale(value: str) -> None:
    known = {code for code, _name in settings.LANGUAGES}
    if value not in known:
        raise ValidationError(
            gettext_lazy("%(value)s is not a supported language; choose one of %(known)s."),
            code="invalid_locale",
            params={"value": value, "known": ", ".join(sorted(known))},
        )


def validate_min_group_size(value: int) -> None:
    floor = settings.PULSE_MIN_GROUP_SIZE_FLOOR
    if value < floor:
        raise ValidationError(
            gettext_lazy(
                "The minimum group size cannot be below %(floor)s: smaller groups make answers identifiable."
            ),
            code="min_group_size_too_small",
            params={"floor": floor},
        )


# Line breaks (CR, LF, and Unicode's line and paragraph separators) and other control characters: in a
# name they end up in email headers and bodies, where a newline starts a new header ("Bcc: ...") or a line
# that looks like Pulse wrote it, and in every page and CSV that lists the name.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def validate_single_line(value: str) -> None:
    """Refuse a name with a line break or another control character (tab included)."""
    if any(unicodedata.category(character) in _LINE_BREAKING for character in value):
        raise ValidationError(
            gettext_lazy("Names cannot contain line breaks, tabs or other control characters."),
            code="control_character",
        )


def single_line(text: str) -> str:
    """``text`` on one line with single spaces: what an email subject is built from, whatever a name held
    before names were validated (a stored newline would otherwise make Django refuse the header)."""
    return " ".join("".join(" " if unicodedata.category(c) in _LINE_BREAKING else c for c in text).split())
