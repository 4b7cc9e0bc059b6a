"""One roll-up cell as HTML: the latest result as the home heatmap shows it (``leader_cells.heat_cell``'s
markup), then the trend in words and a mark when an open flag is about it. A filter for the same reason as
``heat_cell``: a roll-up of hundreds of teams has thousands of cells. As there, every word is in the
reader's language (band, withheld reason and trend: ``pulse.selectors.cells``, ``pulse.selectors.rollup``)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from pulse.selectors.rollup import RollupCell
from pulse.templatetags.leader_cells import cell_content, empty_cell

register = template.Library()


@register.filter
def rollup_cell(cell: RollupCell) -> SafeString:
    latest = cell.latest
    value = cell_content(latest)
    if value is None:
        return empty_cell(gettext("not asked"))
    trend = ""
    if cell.summary.text:
        # The words say which way it goes; the class only adds weight to "worse" (never colour alone).
        trend = format_html('<span class="trend trend-{}">{}</span>', cell.summary.heading, cell.summary.text)
    flag = format_html('<span class="cell-flag">⚑ {}</span>', gettext("flagged")) if cell.flagged else ""
    return format_html('<td class="cell level-{}">{}{}{}</td>', latest.level, value, trend, flag)
