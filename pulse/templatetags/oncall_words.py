"""An on-call import's error in the page's language: ``{{ error|problem }}``.

The parser (``pulse.analysis.oncall_csv``) and the import services write each error as a catalogue entry
with named placeholders and the values that fill them (:class:`~pulse.analysis.oncall_csv.CellError`); this
filter looks the entry up in the active language and fills it. The values (a cell as written, a list of
column names) are the file's own and stay as they are.
"""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

from pulse.analysis.oncall_csv import CellError
from pulse.selectors.cells import percent_words

register = template.Library()


@register.filter
def problem(error: CellError) -> str:
    text = gettext(error.text)
    return text % dict(error.values) if error.values else text


@register.filter
def percent(number: int | None) -> str:
    """A whole percentage as the reader writes it: "12%", "12 %" in German (``percent_words``)."""
    return "—" if number is None else percent_words(number)
