"""How a day is written on the leaders' pages: one format, through Django's date formatting.

Every day a leader's team page shows (the rounds in a chart's table and on its time axis, the action marks,
the withheld rounds, the action log, the sentences about the last round) goes through :func:`day_text`,
in templates as the ``day`` filter (``pulse.templatetags.pulse_dates``). Django's ``date_format`` writes the
month name in the active language, so localising the page is a matter of the active language and of this
one format, not of hunting down format strings.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import formats, timezone
from django.utils.translation import pgettext

DAY_FORMAT = "j M Y"  # "3 Dec 2026" in English; each catalogue says how its language writes it


def day_format() -> str:
    """The day's pattern in the active language (Django's date letters): "j M Y" in English, "j. N Y" in
    German ("3. Dez. 2026"), from the catalogue."""
    return pgettext("date format: a day on the leaders' pages and in flag sentences", "j M Y")


def day_text(value: date | datetime, zone: str | None = None) -> str:
    """ "3 Dec 2026": the day of ``value``. An aware moment is read in ``zone`` (the organisation's), or
    without one in the current time zone (a template's ``{% timezone %}``); a date is written as it is."""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = value.astimezone(ZoneInfo(zone)) if zone else timezone.localtime(value)
    return formats.date_format(value, day_format())
