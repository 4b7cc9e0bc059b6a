"""A team's charts in the reader's language (docs/languages.md §1, issue #19).

Before: a German leader's team page drew "Score (1–5), higher is worse" on the y axis, "burned out (≥ 3)"
on the cut-off line, an English key ("Cut-off (single-item burnout): …"), an English accessible name and
English trend words ("Over the last 7 rounds …, 95% CI …"), all marked ``lang="en"``. Now
``pulse.selectors.reports`` words them in the reader's language, with that language's numbers (a decimal
comma in German); only the instrument's own data (a scale's label, its short name) stays English, marked.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.utils import translation

from pulse.permissions import caller_for
from pulse.selectors import reports
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, WHO5, ReportOrg, Value

pytestmark = pytest.mark.django_db

CBI_WORK = "scale:cbi_work.cbi_work@1"


def _org() -> ReportOrg:
    """Seven rounds of a rising single-item burnout (a trend line from six on), the WHO-5 and the CBI."""
    org = ReportOrg(tree=(("Root", None),), instruments=("burnout1", "who5", "cbi_work"))
    for step, mean in enumerate((2.0, 2.1, 2.3, 2.2, 2.5, 2.6, 2.8)):
        org.round(
            {
                "Root": {
                    BURNOUT: Value(8, mean, sd=0.4),
                    WHO5: Value(8, 60.0 - step),
                    CBI_WORK: Value(8, 40.0 + 2 * step),
                    RATE: (10, 8),
                }
            }
        )
    return org


def _leader(org: ReportOrg, locale: str) -> Person:
    person = org.person(f"Lena {locale}", leads="Root")
    person.locale = locale
    person.save(update_fields=["locale"])
    return person


def _metrics(org: ReportOrg, person: Person, language: str) -> dict[str, reports.MetricReport]:
    assert person.user is not None
    caller = caller_for(person.user)
    assert caller is not None
    with translation.override(language):
        report = reports.team_report_get(caller=caller, team_id=org.team["Root"].pk)
    assert report is not None
    found = {m.metric: m for m in report.metrics}
    assert report.response_rate is not None
    found[RATE] = report.response_rate
    return found


def test_the_chart_payload_is_worded_in_german_for_a_german_leader() -> None:
    org = _org()
    metrics = _metrics(org, _leader(org, "de"), "de")
    burnout, who5, cbi, rate = metrics[BURNOUT], metrics[WHO5], metrics[CBI_WORK], metrics[RATE]
    assert burnout.chart["axis"] == "Wert (1–5), höher ist schlechter"
    assert who5.chart["axis"] == "Wert (0–100), höher ist besser"
    assert rate.chart["axis"] == "Anteil Antworten in %, höher ist besser"
    assert burnout.chart["cutoffs"] == [{"value": 3.0, "op": ">=", "label": "ausgebrannt (≥ 3)"}]
    assert [c.label for c in who5.cutoffs] == [
        "wahrscheinliche Depression (≤ 28)",
        "geringes Wohlbefinden (≤ 50)",
    ]
    # The key names the instrument by its short name (its own data) and says when a cut-off is a convention.
    assert [c.legend for c in burnout.cutoffs] == ["Grenzwert (single-item burnout): ausgebrannt (≥ 3)"]
    assert [c.legend for c in cbi.cutoffs] == ["Konvention (CBI): hoch (≥ 50)"]
    assert burnout.cutoffs[0].legend_html == (
        'Grenzwert (<span lang="en">single-item burnout</span>): ausgebrannt (≥ 3)'
    )
    # The trend words: German, with a decimal comma, and the metric's English label marked on the page.
    assert burnout.trend_text.startswith(
        "In den letzten 7 Runden mit Ergebnis hat sich Burnout (single item) um +"
    )
    assert re.search(
        r"um \+0,\d\d pro Runde verändert \(95 %-KI [+−]?\d,\d\d bis \+\d,\d\d\)", burnout.trend_text
    )
    assert burnout.trend_text.endswith("Die Runden zeigen einen Trend.")
    assert '<span lang="en">Burnout (single item)</span>' in burnout.trend_html
    # What changed since the last round: German sentences, German numbers and days.
    assert re.match(
        r"Burnout \(single item\) hat sich um \+0,2 verändert, von 2,6 \(\d{1,2}\. \w+\.? 2026\) auf 2,8 "
        r"\(\d{1,2}\. \w+\.? 2026\)\. Das liegt im Rauschen zwischen zwei Runden dieser Größe: Erst eine "
        r"Änderung um etwa \d,\d oder mehr lässt sich vom Zufall unterscheiden\.",
        burnout.change_text,
    ), burnout.change_text
    assert burnout.change_html.startswith('<span lang="en">Burnout (single item)</span> hat sich um +0,2')
    # The response rate is Pulse's own word, in German and unmarked.
    assert rate.change_text.startswith("Die Rücklaufquote blieb unverändert: 80 % ("), rate.change_text
    assert rate.change_html.startswith("Die Rücklaufquote blieb unverändert")
    # The table's band notes: the shipped bands in German, the CBI's "high" a convention.
    assert {p.band_note for p in burnout.points} == {""}  # 2.0 … 2.8, never burned out
    assert {p.band_note for p in cbi.points} - {""} == {"hoch (≥ 50, eine Konvention)"}
    assert rate.heading == "Die Rücklaufquote"
    assert rate.heading_lang == ""


def test_the_same_charts_are_english_for_an_english_leader() -> None:
    org = _org()
    metrics = _metrics(org, _leader(org, "en"), "en")
    burnout, cbi, rate = metrics[BURNOUT], metrics[CBI_WORK], metrics[RATE]
    assert burnout.chart["axis"] == "Score (1–5), higher is worse"
    assert rate.chart["axis"] == "% answered, higher is better"
    assert burnout.chart["cutoffs"] == [{"value": 3.0, "op": ">=", "label": "burned out (≥ 3)"}]
    assert [c.legend for c in cbi.cutoffs] == ["Convention (CBI): high (≥ 50)"]
    assert burnout.cutoffs[0].legend_html == "Cut-off (single-item burnout): burned out (≥ 3)"
    assert re.search(
        r"moved \+0\.\d\d per round \(95% CI [+−]?\d\.\d\d to \+\d\.\d\d\): the rounds show a trend\.",
        burnout.trend_text,
    )
    assert burnout.trend_html == burnout.trend_text
    assert burnout.change_text.startswith("Burnout (single item) moved +0.2, from 2.6 (")
    assert "That is within the noise between two rounds of this size" in burnout.change_text
    assert rate.change_text.startswith("The response rate did not change, from 80% (")


def _chart_label(html: str, metric: str) -> str:
    found = re.search(rf'data-chart="{re.escape(metric)}"[^>]* aria-label="([^"]*)"', html)
    assert found is not None, metric
    return found.group(1)


@pytest.mark.parametrize(
    ("locale", "label", "trend"),
    [
        (
            "de",
            "Diagramm: Burnout (single item) pro Runde (Wert (1–5), höher ist schlechter), mit der Linie "
            "Grenzwert (single-item burnout): ausgebrannt (≥ 3), mit Trendlinie und Rauschband; die Tabelle "
            "daneben enthält dieselben Zahlen.",
            "Die Runden zeigen einen Trend.",
        ),
        (
            "en",
            "Chart of Burnout (single item) per round (Score (1–5), higher is worse), with the line "
            "Cut-off (single-item burnout): burned out (≥ 3), with its trend line and noise band; the table "
            "beside it has the same numbers.",
            "the rounds show a trend.",
        ),
    ],
)
def test_the_team_page_names_its_charts_in_the_leaders_language(locale: str, label: str, trend: str) -> None:
    org = _org()
    person = _leader(org, locale)
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    html = client.get(f"/teams/{org.team['Root'].pk}/").content.decode()
    assert f'<html lang="{locale}">' in html
    assert _chart_label(html, BURNOUT).replace("&amp;", "&") == label
    payload = re.search(r'<script id="pulse-charts" type="application/json">(.*?)</script>', html, re.S)
    assert payload is not None
    charts = json.loads(payload.group(1))
    axis = {"de": "Wert (1–5), höher ist schlechter", "en": "Score (1–5), higher is worse"}[locale]
    assert charts[BURNOUT]["axis"] == axis
    # The trend words are in the page's language: no lang="en" on their paragraph, only on the label.
    paragraph = re.search(r'<p class="trend-words">(.*?)</p>', html, re.S)
    assert paragraph is not None
    assert paragraph.group(1).endswith(trend)
    assert 'class="trend-words" lang="en"' not in html
