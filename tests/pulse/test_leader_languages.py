"""The leaders' pages in the leader's language (docs/languages.md §1–§3, issue #19).

Before: Lena (``locale="de"``) saw a German header over English pages ("Your teams", "Why Pulse raised it",
"opened 2 Mar 2026"). Now every word the templates and views write is German for her, and what
``pulse.analysis`` writes in English (flag headlines and sentences, reason names, metric labels, the
trend and noise words, suggestions, the glossary) is marked ``lang="en"``, so a screen reader switches
voice (WCAG 3.1.2). The check: the page's text outside ``lang="en"`` has no English word left; an English
leader's pages are English.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone, translation

from pulse.models import Flag
from surveys.models import Person
from tests.pulse.helpers_reports import BURNOUT, RATE, ReportOrg, Value

pytestmark = pytest.mark.django_db

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")

# Words of the English templates that German never uses; team and person names here are Root, A, B, Lena.
ENGLISH = {
    "the", "and", "of", "to", "is", "for", "with", "by", "on", "or", "your", "you", "no", "this",
    "that", "round", "rounds", "flag", "flags", "results", "answers", "open", "opened", "since", "what",
    "why", "when", "none", "yet", "action", "actions", "plan", "resolve", "acknowledge", "latest",
    "below", "above", "response", "rate", "line", "share", "comments", "history", "note",
    "watch", "warning", "alert", "closing", "print", "download", "source", "glossary", "means",
    "required",
}  # fmt: skip


class _Text(HTMLParser):
    """The visible text (and the accessible names) of a page, each piece with the language it is in."""

    def __init__(self, page_lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str, bool]] = []  # (tag, language, hidden)
        self.page_lang = page_lang
        self.pieces: list[tuple[str, str]] = []

    def _lang(self) -> str:
        return self.stack[-1][1] if self.stack else self.page_lang

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        lang = values.get("lang") or self._lang()
        hidden = tag in ("script", "style") or bool(self.stack and self.stack[-1][2])
        for name in ATTRIBUTES:
            if values.get(name) and not hidden:
                self.pieces.append((lang, values[name] or ""))
        if tag not in VOID:
            self.stack.append((tag, lang, hidden))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if data.strip() and not (self.stack and self.stack[-1][2]):
            self.pieces.append((self._lang(), data))


def _pieces(html: str) -> list[tuple[str, str]]:
    lang = re.search(r'<html lang="(\w+)"', html)
    assert lang is not None
    parser = _Text(lang.group(1))
    parser.feed(html)
    return parser.pieces


# A planned action's history note is written once, in English, by pulse.services.flags ("<what> — <who>, by
# 16 Dec 2026") and stored with the event; like the trend run's sentences it is not translated afterwards.
STORED = re.compile(r" — Lena, by \d{1,2} \w{3} \d{4}")


def _english_words(html: str) -> set[str]:
    """The English words in the page's text outside ``lang="en"`` (but for the stored action note)."""
    text = " ".join(STORED.sub(" ", text) for lang, text in _pieces(html) if lang != "en")
    return set(re.findall(r"[a-zA-Z]+", text.lower())) & ENGLISH


def _english_text(html: str) -> str:
    return " ".join(" ".join(text.split()) for lang, text in _pieces(html) if lang == "en")


def _german_text(html: str) -> str:
    return " ".join(" ".join(text.split()) for lang, text in _pieces(html) if lang != "en")


def _client(person: Person) -> Client:
    assert person.user is not None
    client = Client()
    client.force_login(person.user)
    return client


def _org() -> tuple[ReportOrg, Flag]:
    """A team with a flag, an acknowledgement and a planned action; its history has every kind of entry."""
    org = ReportOrg()
    for mean in (2.0, 2.1, 2.3, 2.2, 2.5, 2.6, 2.8):
        org.round(
            {
                "Root": {BURNOUT: Value(14, mean), RATE: (16, 14)},
                "A": {BURNOUT: Value(7, mean + 0.6), RATE: (8, 7)},
                "B": {BURNOUT: Value(7, 2.6)},
            }
        )
    flag = org.flag("A", explanation="Burnout (single item) was 3.4 in the round closing 2 Mar 2026.")
    return org, flag


def _lena(org: ReportOrg, locale: str) -> Client:
    lena = org.person("Lena", leads="Root")
    lena.locale = locale
    lena.save(update_fields=["locale"])
    return _client(lena)


def _act(client: Client, flag: Flag) -> None:
    """Acknowledge the flag and plan an action, so its page lists both (the messages are the views')."""
    response = client.post(f"/flags/{flag.pk}/acknowledge/", {f"ack{flag.pk}-note": "Gespräch am Montag."})
    assert response.status_code == 302
    due = (timezone.localdate() + dt.timedelta(days=14)).isoformat()
    response = client.post(
        f"/flags/{flag.pk}/plan/",
        {
            f"act{flag.pk}-what": "Pausen im Team besprechen",
            f"act{flag.pk}-who": "Lena",
            f"act{flag.pk}-due_on": due,
        },
    )
    assert response.status_code == 302


def _pages(org: ReportOrg, flag: Flag) -> dict[str, str]:
    return {
        "home": "/",
        "team": f"/teams/{org.team['A'].pk}/",
        "parent": f"/teams/{org.team['Root'].pk}/",
        "rollup": f"/teams/{org.team['Root'].pk}/rollup/",
        "print": f"/teams/{org.team['A'].pk}/print/",
        "inbox": "/flags/",
        "flag": f"/flags/{flag.pk}/",
        "glossary": "/help/glossary/",
    }


def test_a_german_leaders_pages_are_german_apart_from_the_marked_english() -> None:
    org, flag = _org()
    client = _lena(org, "de")
    _act(client, flag)
    for name, url in _pages(org, flag).items():
        response = client.get(url)
        assert response.status_code == 200, name
        html = response.content.decode()
        assert '<html lang="de">' in html, name
        assert _english_words(html) == set(), (name, _debug(html))

    home = client.get("/").content.decode()
    assert "Ihre Teams" in _german_text(home)
    assert "Offene Hinweise" in _german_text(home)
    assert "1 offener Hinweis" in _german_text(home)
    assert "Sich verschlechternder Trend" in _german_text(home)  # the reasons' names, worded when read
    # Each row's round is dated as German writes a day ("Runde endet am 2. März 2026"), on the heatmap and
    # the roll-up alike; not "2 Mar 2026".
    rollup = _german_text(client.get(f"/teams/{org.team['Root'].pk}/rollup/").content.decode())
    for text in (_german_text(home), rollup):
        assert re.search(r"Runde endet am \d{1,2}\. \w+\.? 20\d\d", text), text
        assert not re.search(r"Runde endet am \d{1,2} ", text), text

    page = client.get(f"/flags/{flag.pk}/").content.decode()
    german = _german_text(page)
    assert "Warum Pulse ihn gibt" in german
    assert "Zur Kenntnis genommen" in german  # its state and its history
    assert "Maßnahme geplant" in german
    assert "Die Zahlen dahinter" in german
    # One day format (Django's, in German) and times as the check-in pages write them.
    assert re.search(r"geöffnet am \d{1,2}\. \w+\.? 20\d\d", german), german
    # This flag was stored without its words as data (as flags from before migration 0013 may be): its
    # stored English headline is shown, marked as English.
    assert "has risen over the last" in _english_text(page)
    assert "Dafür sorgen, dass alle freinehmen" in german  # the suggestion

    inbox = _german_text(client.get("/flags/").content.decode())
    assert "Zur Kenntnis genommen oder mit geplanter Maßnahme (1)" in inbox
    assert "Jede Dringlichkeit" in inbox  # the filters' choices


def test_the_flag_forms_messages_and_errors_are_german() -> None:
    org, flag = _org()
    client = _lena(org, "de")
    response = client.post(f"/flags/{flag.pk}/plan/", {f"act{flag.pk}-who": "", f"act{flag.pk}-due_on": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nichts wurde geändert: Bitte beheben Sie 3 Probleme" in _german_text(html)
    assert "Schreiben Sie, was getan wird, oder gehen Sie von einem Vorschlag aus." in html
    assert _english_words(html) == set()
    response = client.post(
        f"/flags/{flag.pk}/acknowledge/", {f"ack{flag.pk}-note": "Gespräch am Montag."}, follow=True
    )
    assert "Zur Kenntnis genommen: A, " in _german_text(response.content.decode())


def test_an_english_leaders_pages_are_english() -> None:
    org, flag = _org()
    client = _lena(org, "en")
    _act(client, flag)
    expected = {
        "home": ("Your teams", "Open flags", "1 open flag"),
        "team": ("What changed since the last round", "Action log", "Acknowledged"),
        "inbox": ("Acknowledged or with an action planned (1)", "Any severity"),
        "flag": ("Why Pulse raised it", "The numbers behind it", "Action planned"),
        "glossary": ("What the terms mean",),
    }
    pages = _pages(org, flag)
    for name, phrases in expected.items():
        html = client.get(pages[name]).content.decode()
        assert '<html lang="en">' in html, name
        text = " ".join(" ".join(t.split()) for _lang, t in _pieces(html))
        for phrase in phrases:
            assert phrase in text, (name, phrase)


def _debug(html: str) -> list[str]:
    return [
        text
        for lang, text in _pieces(html)
        if lang != "en" and set(re.findall(r"[a-zA-Z]+", STORED.sub(" ", text).lower())) & ENGLISH
    ]


@pytest.mark.parametrize(
    ("language", "button", "k_sentence"),
    [
        ("en", "Open Pulse to acknowledge it or plan an action", "only when at least 5 people answered"),
        ("de", "Öffnen Sie Pulse, um ihn zur Kenntnis zu nehmen", "nur, wenn mindestens 5 Personen"),
    ],
)
def test_the_flag_emails_own_words_follow_the_language_they_are_rendered_in(
    language: str, button: str, k_sentence: str
) -> None:
    """The flag email's template is one for every language; the sentence it is given is worded by the
    caller in the reader's language, so the template shows it as it is."""
    context = {
        "headline": "Alert",
        "team": "SRE Americas",
        "metric": "Burnout (single item)",
        "sentence": "Burnout (single item) has risen over the last 8 rounds.",
        "sentence_html": "Burnout (single item) has risen over the last 8 rounds.",
        "url": "https://pulse.example/flags/1/",
        "k": 5,
    }
    with translation.override(language):
        html = render_to_string("pulse/email/flag.html", context)
        text = render_to_string("pulse/email/flag.txt", context)
    assert f'<html lang="{language}">' in html
    for body in (html, text):
        assert button in body
        assert k_sentence in body
    assert "Burnout (single item) has risen over the last 8 rounds." in html


def test_a_german_members_pages_are_german_apart_from_the_marked_english() -> None:
    """The pages every person has: their team's results (with its flag and planned action) and their
    check-ins."""
    org, flag = _org()
    _act(_lena(org, "de"), flag)
    alice = org.person("Alice", member_of="A")
    alice.locale = "de"
    alice.save(update_fields=["locale"])
    client = _client(alice)
    for url in ("/results/", f"/results/{org.team['A'].pk}/", "/me/checkins/"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert '<html lang="de">' in html, url
        assert _english_words(html) == set(), (url, _debug(html))
    results = _german_text(client.get(f"/results/{org.team['A'].pk}/").content.decode())
    assert "Pausen im Team besprechen" in results  # the planned action, as Lena wrote it
