"""Exports of the team page and the roll-up: the CSV holds the page's own values (checked through HTTP
against the page's tables), never a value the page withholds, names its file after the team and the day,
and keeps a comment a spreadsheet would run as a formula inert; the printable pages; a comment with HTML in
it is shown escaped."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from pulse.web.exports import safe
from surveys.models import Comment, Person, Question
from tests.pulse.helpers_reports import BURNOUT, RATE, WORKLOAD, ReportOrg, Value

pytestmark = pytest.mark.django_db

TREE = (("Root", None), ("A", "Root"), ("A1", "A"), ("A2", "A"), ("B", "Root"))
# A2's means: no published number anywhere is close to them, so finding one in an export is a leak.
A2_BURNOUT, A2_WORKLOAD = 4.7, 1.3


def _client(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


def _world() -> ReportOrg:
    org = ReportOrg(tree=TREE, instruments=("burnout1", "workload1", "comment"))
    for name, *_ in TREE[1:]:
        org.person(f"Member of {name}", member_of=name)
    for week in range(7):
        a2 = 6 if week % 2 else 3  # A2 is published in every other round only, the latest withheld
        a = 8 + a2 + 6  # A1, A2 and six people of A's own
        root = a + 14 + 6
        org.round(
            {
                "Root": {BURNOUT: Value(root, 2.4), WORKLOAD: Value(root, 3.0), RATE: (root + 5, root)},
                "A": {BURNOUT: Value(a, 2.6), WORKLOAD: Value(a, 3.1), RATE: (a + 3, a)},
                "A1": {BURNOUT: Value(8, 2.0 + 0.2 * week), WORKLOAD: Value(8, 3.2), RATE: (9, 8)},
                "A2": {BURNOUT: Value(a2, A2_BURNOUT), WORKLOAD: Value(a2, A2_WORKLOAD), RATE: (7, a2)},
                "B": {BURNOUT: Value(14, 2.2), WORKLOAD: Value(14, 2.9), RATE: (17, 14)},
            }
        )
    return org


class _Tables(HTMLParser):
    """The rows of every ``<table class="series">`` of a page, each cell's text, by the table's caption."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._in: str | None = None  # "caption" or "cell"
        self._text = ""
        self._row: list[str] | None = None
        self._series = False
        self._head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "series" in classes:
            self._series = True
            self.tables.append(("", []))
        elif self._series and tag == "caption":
            self._in, self._text = "caption", ""
        elif self._series and tag == "thead":
            self._head = True
        elif self._series and tag == "tr" and not self._head:
            self._row = []
        elif self._row is not None and tag in ("td", "th"):
            self._in, self._text = "cell", ""

    def handle_endtag(self, tag: str) -> None:
        if not self._series:
            return
        if tag == "caption":
            rows = self.tables[-1][1]
            self.tables[-1] = (" ".join(self._text.split()), rows)
            self._in = None
        elif tag == "thead":
            self._head = False
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(" ".join(self._text.split()))
            self._in = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None
        elif tag == "table":
            self._series = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text += data


def _csv(client: Client, url: str) -> tuple[list[dict[str, str]], str, str]:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body))), body, response["Content-Disposition"]


def test_the_team_csv_holds_the_values_of_the_pages_tables_in_their_order() -> None:
    org = _world()
    head = _client(org.person("Head", leads="Root"))
    for name in ("A1", "A2", "B", "Root"):
        team = org.team[name]
        page = head.get(f"/teams/{team.pk}/")
        parser = _Tables()
        parser.feed(page.content.decode())
        rows, _body, disposition = _csv(head, f"/teams/{team.pk}/export.csv")
        today = timezone.localdate().isoformat()
        assert disposition == f'attachment; filename="{name.lower()}-team-{today}.csv"'
        series = [r for r in rows if r["section"] in ("trend", "response rate")]
        assert len(parser.tables) == len({(r["section"], r["measure"]) for r in series}) >= 3
        position = 0
        for caption, table in parser.tables:
            measure = series[position]["measure"]
            assert caption.startswith(f"{measure} per round")
            for cells in table:
                row = series[position]
                position += 1
                assert row["measure"] == measure
                result, answers = cells[1], cells[2]
                assert row["result"] in result
                if row["status"] == "shown":
                    assert re.fullmatch(r"\d+(\.\d)?%?", row["result"])
                    assert row["detail"] in result
                    assert answers == row["answers"]
                else:
                    assert answers == "—"
                    assert row["answers"] == ""
        assert position == len(series)


def _numbers(text: str) -> set[float]:
    return {float(n) for n in re.findall(r"(?<![\d.])\d+\.\d+", text)}


def test_no_export_holds_a_value_the_page_withholds() -> None:
    org = _world()
    head = _client(org.person("Head", leads="Root"))
    a2 = org.team["A2"]
    rows, body, _ = _csv(head, f"/teams/{a2.pk}/export.csv")
    page = head.get(f"/teams/{a2.pk}/").content.decode()
    withheld = [r for r in rows if r["status"] == "withheld"]
    shown = [r for r in rows if r["status"] == "shown" and r["section"] == "trend"]
    assert len(withheld) >= 6  # four of seven rounds per measure withheld
    assert shown
    for row in withheld:
        # A reason, not a number: the only digits are a threshold's ("fewer than 10 answers").
        assert not re.search(r"\d", re.sub(r"fewer than \d+ answers", "", row["result"]))
        assert row["result"] in page
    # A2's means appear exactly where the page shows them, and its withheld rounds give nothing away:
    # every number of the CSV is one the page shows too.
    page_numbers = _numbers(re.sub(r"<script.*?</script>", " ", page, flags=re.S))
    assert _numbers(body) <= page_numbers
    assert {float(r["result"]) for r in shown if r["measure"].startswith("Burnout")} == {A2_BURNOUT}
    # The roll-up's latest A2 round is a withheld one (3 answers): neither its page nor its CSV has a mean.
    rollup_rows, rollup_body, disposition = _csv(head, f"/teams/{org.team['Root'].pk}/rollup/export.csv")
    assert disposition.startswith('attachment; filename="root-rollup-')
    rollup_page = head.get(f"/teams/{org.team['Root'].pk}/rollup/").content.decode()
    a2_rows = [r for r in rollup_rows if r["team"] == "A2"]
    assert {r["status"] for r in a2_rows} == {"withheld"}
    assert {r["team path"] for r in a2_rows} == {"Root / A / A2"}
    for value in (A2_BURNOUT, A2_WORKLOAD):
        assert str(value) not in rollup_body
        assert str(value) not in rollup_page
    assert _numbers(rollup_body) <= _numbers(rollup_page)


def test_the_rollup_csv_matches_the_rollup_table() -> None:
    org = _world()
    head = _client(org.person("Head", leads="Root"))
    rows, _body, _ = _csv(head, f"/teams/{org.team['Root'].pk}/rollup/export.csv")
    text = head.get(f"/teams/{org.team['Root'].pk}/rollup/").content.decode()
    assert [r["team"] for r in rows[::3]] == ["Root", "A", "A1", "A2", "B"]
    for row in rows:
        if row["status"] == "shown":
            assert f'<span class="value">{row["result"]}</span>' in text
        if row["trend"]:
            assert row["trend"] in text


def test_a_comment_that_looks_like_a_formula_is_inert_and_one_with_html_is_shown_escaped() -> None:
    org = _world()
    question = Question.objects.filter(key="comment_1", instrument__key="comment").first()
    assert question is not None
    latest = org.rounds[-1]
    texts = [
        '=HYPERLINK("http://example.org","pay rise")',
        'The runbook says "<b>TODO</b>" & <script>x()</script>',
    ]
    for text in texts:
        Comment.objects.create(round=latest, team=org.team["Root"], question=question, text=text)
    head = _client(org.person("Head", leads="Root"))
    page = head.get(f"/teams/{org.team['Root'].pk}/").content.decode()
    assert "&lt;b&gt;TODO&lt;/b&gt;" in page
    assert "<b>TODO</b>" not in page
    assert "<script>x()</script>" not in page
    rows, _body, _ = _csv(head, f"/teams/{org.team['Root'].pk}/export.csv")
    comments = sorted(r["result"] for r in rows if r["section"] == "comment")
    assert comments == sorted(["'" + texts[0], texts[1]])


def test_only_free_text_gets_the_apostrophe() -> None:
    assert safe("+0.20") == "+0.20"
    assert safe("−0.1") == "−0.1"
    assert safe("-3") == "-3"
    assert safe("=1+1") == "'=1+1"
    assert safe("@SUM(A1)") == "'@SUM(A1)"
    assert safe("-1+2") == "'-1+2"
    assert safe(None) == ""


def test_the_printable_pages_have_no_forms_and_load_the_print_stylesheet_for_the_screen_too() -> None:
    org = _world()
    org.flag("B")
    head = _client(org.person("Head", leads="Root"))
    normal = head.get(f"/teams/{org.team['B'].pk}/").content.decode()
    assert 'media="print"' in normal
    assert f'href="/teams/{org.team["B"].pk}/print/"' in normal
    assert f'href="/teams/{org.team["B"].pk}/export.csv"' in normal
    printable = head.get(f"/teams/{org.team['B'].pk}/print/").content.decode()
    assert 'media="all"' in printable
    assert "<form" not in printable.split('<main id="main">', 1)[1]
    assert "pulse/print.js" in printable
    assert "data-print" in printable
    rollup = head.get(f"/teams/{org.team['Root'].pk}/rollup/print/").content.decode()
    assert 'media="all"' in rollup
    assert "Back to the roll-up page" in rollup
    # Nothing inline for the content security policy to refuse (a JSON data block is not a script).
    for body in (normal, printable, rollup):
        main = body.split('<main id="main">', 1)[1]
        assert ' style="' not in main
        for tag in re.findall(r"<script[^>]*>", main):
            assert "src=" in tag or 'type="application/json"' in tag
