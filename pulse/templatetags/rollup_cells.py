"""One roll-up cell as HTML: the latest result as the home heatmap shows it (``leader_cells.heat_cell``'s
markup), then the trend in words and a mark when an open flag is about it. A filter for the same reason as
``heat_cell``: a roll-up of hundreds of teams has thousands of cells."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pulse.selectors.rollup import RollupCell

register = template.Library()


@register.filter
def rollup_cell(cell: RollupCell) -> SafeString:
    latest = cell.latest
    if latest.status == "published":
        band = ""
        if latest.note:
            mark = "▲▲" if latest.level == "severe" else "▲"
            band = format_html(
                '<span class="band"><span class="icon" aria-hidden="true">{}</span> {}</span>',
                mark,
                latest.note,
            )
        answers = (
            format_html('<small class="n">{} answer{}</small>', latest.n, "" if latest.n == 1 else "s")
            if latest.n
            else ""
        )
        value = format_html('<span class="value">{}</span>{}{}', latest.text, band, answers)
    elif latest.status == "withheld":
        value = format_html(
            '<span class="withheld"><span class="icon" aria-hidden="true">⊘</span> {}</span>', latest.text
        )
    else:
        return SafeString(
            '<td class="cell level-none"><span class="na" aria-hidden="true">—</span>'
            '<span class="visually-hidden">not asked</span></td>'
        )
    trend = ""
    if cell.summary.text:
        # The words say which way it goes; the class only adds weight to "worse" (never colour alone).
        trend = format_html('<span class="trend trend-{}">{}</span>', cell.summary.heading, cell.summary.text)
    flag = SafeString('<span class="cell-flag">⚑ flagged</span>') if cell.flagged else ""
    return format_html('<td class="cell level-{}">{}{}{}</td>', latest.level, value, trend, flag)
