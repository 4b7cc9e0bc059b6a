"""A flag in its reader's language, from the trend run to the page (docs/languages.md §8, issue #19).

The trend run stores what a flag says as data (``details["said"]``); the flag's page and the inbox word it
when they are made, for the reader. A German leader reads the headline, the reasons' names and their
sentences in German (with a decimal comma and German dates), under ``<html lang="de">``; an English leader
of the same team reads the same flag in English. A flag stored before migration 0013, with only its English
headline and no words as data, still renders, its stored English marked ``lang="en"``. (The flag's emails
and digests are in tests/pulse/test_notification_languages.py.)
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from pulse.models import Flag
from surveys.models import Membership, Person
from tests.pulse.helpers_flags import History
from tests.pulse.test_leader_languages import _english_words, _german_text, _pieces
from tests.pulse.test_notifications import open_alert

pytestmark = pytest.mark.django_db


def _client(person: Person, locale: str) -> Client:
    user = get_user_model().objects.create_user(username=person.email, email=person.email, password="pw")
    person.user = user
    person.locale = locale
    person.save(update_fields=["user", "locale"])
    client = Client()
    client.force_login(user)
    return client


def _headline(html: str) -> tuple[str, str]:
    """The headline's text and the language it is marked with ("" for the page's)."""
    found = re.search(r'<p class="headline"(?: lang="(\w+)")?>(.*?)</p>', html, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(2)).strip(), found.group(1) or ""


def _reason_sentences(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", sentence).strip()
        for sentence in re.findall(r'<p class="reason-sentence">(.*?)</p>', html, re.S)
    ]


def _leaders(history: History) -> tuple[Client, Client]:
    """A German and an English leader of Payments, signed in."""
    german = _client(history.leader["Payments"], "de")
    ada = Person.objects.create(
        organisation=history.organisation,
        email=f"ada.{history.organisation.pk}@example.org",
        display_name="Ada",
    )
    Membership.objects.create(
        person=ada, team=history.team["Payments"], role=Membership.Role.LEADER, starts_on=dt.date(2026, 1, 1)
    )
    return german, _client(ada, "en")


def test_a_flag_from_the_trend_run_reads_in_each_leaders_language() -> None:
    history = History(teams=("Payments",))
    flag = open_alert(history)  # burnout jumped to 3.6, beyond the cut-off of 3: a shift and a cut-off
    assert flag.details["said"]  # stored as data, worded when read
    german, english = _leaders(history)

    page = german.get(f"/flags/{flag.pk}/").content.decode()
    assert '<html lang="de">' in page
    headline, lang = _headline(page)
    assert lang == ""  # worded in the page's language, not the stored English
    assert headline == (
        "Burnout (single item) sprang in der am 20. Juli 2026 geschlossenen Runde auf 3,6, weg vom "
        "üblichen Niveau des Teams von 2,0, und liegt jetzt bei oder über 3, dem Grenzwert des single-item "
        "burnout für „ausgebrannt“."
    )
    # The metric's label and the instrument's short name are its data, in English, and marked so.
    assert '<span lang="en">Burnout (single item)</span> sprang' in page
    shift, cutoff = _reason_sentences(page)
    assert shift.startswith("Plötzliche Verschiebung. Burnout (single item) verschob sich nach oben")
    assert "die CUSUM steht bei 11,2 Standardfehlern, über ihrer Grenze von 5" in shift
    assert cutoff.startswith(
        "Jenseits des Grenzwerts des Instruments. Burnout (single item) lag in der am 20. Juli"
    )
    assert _english_words(page) == set()
    assert "jumped" not in page

    inbox = german.get("/flags/").content.decode()
    assert '<html lang="de">' in inbox
    assert "▲▲ Alarm Payments:" in _german_text(inbox)
    assert "sprang in der am 20. Juli 2026 geschlossenen Runde auf 3,6" in _german_text(inbox)
    assert _english_words(inbox) == set()

    page = english.get(f"/flags/{flag.pk}/").content.decode()
    assert '<html lang="en">' in page
    headline, lang = _headline(page)
    assert lang == ""
    assert headline == (
        "Burnout (single item) jumped to 3.6 in the round closing 20 Jul 2026, away from the team&#x27;s "
        "usual level of 2.0, and is now at or above 3, the single-item burnout cut-off for &#x27;burned "
        "out&#x27;."
    )
    shift, cutoff = _reason_sentences(page)
    assert shift.startswith("Sudden shift. Burnout (single item) shifted up from a baseline of 2.0")
    assert cutoff.startswith("Beyond the instrument&#x27;s cut-off. Burnout (single item) was 3.6")
    assert "Plötzliche" not in page
    inbox = english.get("/flags/").content.decode()
    assert '<html lang="en">' in inbox
    assert "jumped to 3.6 in the round closing 20 Jul 2026" in inbox


def test_a_flag_stored_before_its_words_were_data_keeps_its_english_marked_as_such() -> None:
    """Migration 0013 derives ``details["said"]`` where it can; a flag it could not (here: no details at
    all) shows the headline and explanation it was stored with, in English, with ``lang="en"``, on a
    German page that is German everywhere else."""
    history = History(teams=("Payments",))
    history.round({"Payments": {"scale:burnout1.burnout1@1": 3.4}})
    moment = history.rounds[-1].closes_at
    stored = "Burnout (single item) has risen over the last 8 rounds, from 2.1 to 3.4."
    flag = Flag.objects.create(
        organisation=history.organisation,
        team=history.team["Payments"],
        metric="scale:burnout1.burnout1@1",
        kind=Flag.Kind.TREND,
        reasons=[Flag.Kind.TREND.value],
        state=Flag.State.OPEN,
        severity=Flag.Severity.WARNING,
        headline=stored,
        explanation="Burnout (single item) rose from 2.1 to 3.4 over the last 8 rounds.",
        details={},
        evaluated_through=moment,
        created_at=moment,
        opened_at=moment,
    )
    german, english = _leaders(history)
    page = german.get(f"/flags/{flag.pk}/").content.decode()
    assert '<html lang="de">' in page
    assert _headline(page) == (stored, "en")
    assert '<span lang="en">Burnout (single item) rose from 2.1 to 3.4 over the last 8 rounds.</span>' in page
    assert "Sich verschlechternder Trend" in _german_text(page)  # the reason's name is still worded
    assert _english_words(page) == set()
    english_text = " ".join(text for lang, text in _pieces(page) if lang == "en")
    assert "has risen over the last 8 rounds" in english_text
    # An English leader reads the same stored text, and on an English page it needs no mark.
    page = english.get(f"/flags/{flag.pk}/").content.decode()
    assert _headline(page) == (stored, "")
