"""``{% chart_words %}``: the chart script's own words in the page's language, as JSON for a data attribute.

``pulse/static/pulse/leader.js`` draws the team page's charts; it names its series from this (a
``data-words`` attribute on each chart), so the script carries no English of its own and needs no
JavaScript catalogue (docs/languages.md §1).
"""

from __future__ import annotations

import json

from django import template
from django.utils.translation import pgettext

register = template.Library()


@register.simple_tag
def chart_words() -> str:
    return json.dumps(
        {
            "result": pgettext("a chart's series", "Team result"),
            "rate": pgettext("a chart's series", "Response rate"),
            "trend": pgettext("a chart's series", "Trend"),
            "noise": pgettext("a chart's series", "Noise band"),
        },
        ensure_ascii=False,
    )
