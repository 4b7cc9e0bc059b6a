"""``{{ moment|day }}``: a day in the one format of the leaders' pages (``pulse.dates``), in the time zone of
the enclosing ``{% timezone %}``."""

from __future__ import annotations

from datetime import date, datetime

from django import template

from pulse.dates import day_text

register = template.Library()


@register.filter
def day(value: date | datetime | None) -> str:
    return "" if value is None else day_text(value)
