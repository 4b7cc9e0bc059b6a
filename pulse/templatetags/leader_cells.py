"""One heatmap cell as HTML. A filter, not an include: the home of a leader of 500 teams has thousands of
cells, and a template include per cell costs more than the whole report selector (``pulse_bench dashboard``).
The markup is the same: the value and, beside the colour, the words and the ▲ / ▲▲ / ⊘ mark. The band's
words, a withheld cell's reason and the answer count are in the reader's language (``pulse.selectors.cells``
words them, docs/languages.md §1)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import ngettext

from pulse.selectors.cells import ShownCell

register = template.Library()


def cell_content(cell: ShownCell) -> SafeString | None:
    """What a published or withheld cell shows inside its <td> (the roll-up's cells too), None for a cell
    with nothing to show."""
    if cell.status == "published":
        band = ""
        if cell.note:
            mark = "▲▲" if cell.level == "severe" else "▲"
            band = format_html(
                '<span class="band"><span class="icon" aria-hidden="true">{}</span> {}</span>',
                mark,
                cell.note,
            )
        answers = ""
        if cell.n:
            answers = format_html(
                '<small class="n">{}</small>',
                ngettext("%(n)s answer", "%(n)s answers", cell.n) % {"n": cell.n},
            )
        return format_html('<span class="value">{}</span>{}{}', cell.text, band, answers)
    if cell.status == "withheld":
        return format_html(
            '<span class="withheld"><span class="icon" aria-hidden="true">⊘</span> {}</span>',
            cell.text,
        )
    return None


def empty_cell(words: str) -> SafeString:
    return format_html(
        '<td class="cell level-none"><span class="na" aria-hidden="true">—</span>'
        '<span class="visually-hidden">{}</span></td>',
        words,
    )


@register.filter
def heat_cell(cell: ShownCell) -> SafeString:
    content = cell_content(cell)
    if content is None:
        return empty_cell(cell.note)
    level = "withheld" if cell.status == "withheld" else cell.level
    return format_html('<td class="cell level-{}">{}</td>', level, content)
