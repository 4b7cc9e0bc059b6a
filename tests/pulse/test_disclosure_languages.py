"""What the disclosure rules say, and the numbers beside it, in the reader's language (docs/languages.md §1,
§3; issue #19).

Before: a German leader read "fewer than 5 answers", "A2 has fewer than 5 answers this round; showing A
(17 answers)." and "burned out (≥ 3)" in English (marked ``lang="en"``) and every value with a decimal
point ("3.2"). Now ``pulse.disclosure`` gives its sentences as phrases that the pages word through the
catalogue, and the values go through Django's localisation ("3,2"); a CSV keeps the decimal point.
"""

from __future__ import annotations

import csv
import io
import pickle
import re

import pytest
from django.test import Client
from django.utils import translation

from pulse.disclosure.rules import (
    AnswerCount,
    Cell,
    MetricKind,
    Phrase,
    Published,
    Withheld,
    WithheldCode,
    nearest_publishable_ancestor,
    roster_change_guard,
    suppress_tree,
)
from pulse.selectors.cells import metric_infos_for, phrase_words, shown_cell
from pulse.selectors.flag_words import label_lang, metric_label
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value

pytestmark = pytest.mark.django_db

TREE = (("Root", None), ("A", "Root"), ("A1", "A"), ("A2", "A"))


def _world() -> ReportOrg:
    """A2 has 3 answers (below k = 5) in every round; A1's burnout rises to 3.2, beyond its cut-off."""
    org = ReportOrg(tree=TREE)
    for name, *_ in TREE[1:]:
        org.person(f"Member of {name}", member_of=name)
    for week in range(7):
        org.round(
            {
                "Root": {BURNOUT: Value(23, 2.4), RATE: (28, 23)},
                "A": {BURNOUT: Value(17, 2.6), RATE: (20, 17)},
                "A1": {BURNOUT: Value(8, 2.0 + 0.2 * week), RATE: (9, 8)},
            }
        )
    return org


def _leader(org: ReportOrg, locale: str) -> Client:
    lena = org.person("Lena", leads="Root")
    lena.locale = locale
    lena.save(update_fields=["locale"])
    return _client(lena)


def _client(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


def test_the_rules_sentences_are_phrases_whose_english_is_unchanged() -> None:
    cells = [Cell(team_id=1, parent_id=None, n=12, direct_n=5), Cell(team_id=2, parent_id=1, n=7, direct_n=7)]
    cells.append(Cell(team_id=3, parent_id=1, n=0, direct_n=0))
    results = suppress_tree(cells, k=8, kind=MetricKind.MEAN, value=lambda c: c.n)
    withheld = results[2]
    assert isinstance(withheld, Withheld)
    assert withheld == Withheld("fewer than 8 answers", WithheldCode.TOO_FEW_ANSWERS)
    assert isinstance(withheld.reason, Phrase)
    assert withheld.reason.message == "fewer than %(threshold)s answers"
    assert dict(withheld.reason.values) == {"threshold": 8}
    roll = nearest_publishable_ancestor(2, cells=cells, results=results, names={1: "Root", 2: "A", 3: "B"})
    assert roll.note == "A has fewer than 8 answers this round; showing Root (12 answers)."
    # A phrase survives a copy (a cache, a worker) as the phrase it is.
    copied = pickle.loads(pickle.dumps(roll.note))  # noqa: S301 - our own bytes
    assert isinstance(copied, Phrase)
    assert isinstance(roll.note, Phrase)
    assert copied == roll.note
    assert copied.values == roll.note.values
    assert isinstance(dict(copied.values)["answers"], AnswerCount)
    changed = roster_change_guard(1, 0, k=5)
    assert changed is not None
    assert changed.reason.startswith("withheld because its membership changed")


def test_phrases_and_cells_are_worded_in_the_active_language() -> None:
    cells = [Cell(team_id=1, parent_id=None, n=12, direct_n=5), Cell(team_id=2, parent_id=1, n=7, direct_n=7)]
    results = suppress_tree(cells, k=8, kind=MetricKind.MEAN, value=lambda c: c.n)
    roll = nearest_publishable_ancestor(2, cells=cells, results=results, names={1: "Root", 2: "A"})
    with translation.override("de"):
        assert phrase_words(roll.note or "") == (
            "A hat in dieser Runde weniger als 8 Antworten; angezeigt wird Root (12 Antworten)."
        )
        assert shown_cell(results[2]).text == "weniger als 8 Antworten"
        assert shown_cell(None).note == "in dieser Runde nicht gefragt"
        # Text that is not a phrase (a caller's own reason) is shown as it is.
        assert phrase_words("as given") == "as given"
    with translation.override("en"):
        assert phrase_words(roll.note or "") == roll.note
        assert shown_cell(results[2]).text == "fewer than 8 answers"
    assert isinstance(results[1], Published)


def test_a_german_leader_reads_reasons_notes_bands_and_numbers_in_german() -> None:
    org = _world()
    client = _leader(org, "de")
    home = client.get("/").content.decode()
    assert "weniger als 5 Antworten" in home
    assert "fewer than" not in home
    assert "ausgebrannt (≥ 3)" in home  # A1's band note in the heatmap
    assert "3,2" in home
    assert "3.2" not in home
    assert 'lang="en"><span class="icon"' not in home  # no cell's words marked English

    a2 = client.get(f"/teams/{org.team['A2'].pk}/").content.decode()
    assert "A2 hat in dieser Runde weniger als 5 Antworten; angezeigt wird A (17 Antworten)." in a2
    assert "Kein Ergebnis angezeigt für" in a2
    assert '<p class="rollup">' in a2

    a1 = client.get(f"/teams/{org.team['A1'].pk}/").content.decode()
    assert "3,2" in a1
    assert "ausgebrannt (≥ 3)" in a1
    assert "85 %" in a1 or "90 %" in a1  # the response rate, as German writes a percentage

    rollup = client.get(f"/teams/{org.team['Root'].pk}/rollup/").content.decode()
    assert "weniger als 5 Antworten" in rollup
    # A1's trend in words, with its slope in German numbers; the CSV keeps the slope's decimal point.
    assert re.search(
        r'<span class="trend trend-worse">steigend, schlechter \(\+0,\d\d pro Runde\)</span>', rollup
    )
    assert "3,2" in rollup


def test_an_english_leader_reads_the_same_in_english() -> None:
    org = _world()
    client = _leader(org, "en")
    home = client.get("/").content.decode()
    assert "fewer than 5 answers" in home
    assert "burned out (≥ 3)" in home
    assert "3.2" in home
    a2 = client.get(f"/teams/{org.team['A2'].pk}/").content.decode()
    assert "A2 has fewer than 5 answers this round; showing A (17 answers)." in a2


def test_a_german_leaders_csv_keeps_the_decimal_point_and_has_her_words() -> None:
    org = _world()
    client = _leader(org, "de")
    response = client.get(f"/teams/{org.team['A1'].pk}/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    burnout = [r for r in rows if r["section"] == "trend" and r["measure"].startswith("Burnout")]
    assert burnout[-1]["result"] == "3.2"  # a machine format, whatever the reader's language
    assert burnout[-1]["detail"] == "ausgebrannt (≥ 3)"
    assert all("," not in r["trend line"] for r in burnout)
    rates = [r for r in rows if r["section"] == "response rate"]
    assert rates[-1]["result"].endswith("%")
    assert " " not in rates[-1]["result"]

    rollup = client.get(f"/teams/{org.team['Root'].pk}/rollup/export.csv").content.decode("utf-8-sig")
    a2 = [r for r in csv.DictReader(io.StringIO(rollup)) if r["team"] == "A2"]
    assert a2
    assert {r["status"] for r in a2} == {"withheld"}
    assert {r["result"] for r in a2} == {"weniger als 5 Antworten"}
    a1 = [
        r
        for r in csv.DictReader(io.StringIO(rollup))
        if r["team"] == "A1" and r["measure"].startswith("Burnout")
    ]
    assert a1[0]["trend"].startswith("steigend, schlechter (+0,")
    assert re.fullmatch(r"\+0\.\d\d", a1[0]["change per round"])


def test_a_response_rate_flag_is_named_by_the_catalogue_not_marked_english() -> None:
    org = _world()
    flag = org.flag("A1", RATE, explanation="The response rate fell.")
    for locale, name in (("de", "Die Rücklaufquote"), ("en", "The response rate")):
        client = _leader(org, locale) if locale == "de" else _client(org.person("Ann", leads="Root"))
        for url in (f"/flags/{flag.pk}/", "/flags/", "/", f"/teams/{org.team['A1'].pk}/"):
            html = client.get(url).content.decode()
            assert f"<span>{name}</span>" in html, (locale, url)
            assert f'<span lang="en">{name}</span>' not in html
        home = client.get("/").content.decode()
        assert '<th scope="col" lang="en">Response rate</th>' not in home
    with translation.override("de"):
        assert metric_label(metric_infos_for([RATE]), RATE) == "Die Rücklaufquote"
        assert label_lang(RATE) == ""
