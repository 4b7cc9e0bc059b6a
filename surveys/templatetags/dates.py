"""Dates written the way the page's language writes them (docs/languages.md §3).

Django's own locale formats have no weekday ("3. Dezember 2025"), and a check-in's end reads best with one
("Donnerstag, 3. Dezember, 09:00"). The patterns are translatable strings (Django's ``date`` filter
letters), so each language's catalogue says how it writes a date and a new language needs no code: where
a catalogue lacks one, the English pattern is used with that language's own month and day names.
"""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils.formats import date_format
from django.utils.translation import pgettext_lazy

register = template.Library()

# Translators: the letters are Django's date format letters (l: weekday, j: day, F: month, D and M: their
# short forms, Y: year, H:i: 24-hour time). Backslash-escape literal letters.
PATTERNS = {
    "weekday": pgettext_lazy("date format: weekday, day, month, time", "l j F, H:i"),
    "short": pgettext_lazy("date format: short weekday, day, short month, time", "D j M, H:i"),
    "date_time": pgettext_lazy("date format: day, month, year, time", "j F Y, H:i"),
}


@register.filter(expects_localtime=True)
def when(value: datetime | date | None, style: str = "weekday") -> str:
    """``{{ closes|when }}``: the moment in the active time zone and language; ``style`` names a pattern."""
    if value in (None, ""):
        return ""
    return date_format(value, str(PATTERNS[style]))
