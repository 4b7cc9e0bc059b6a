"""One language per page, by one rule (surveys/language.py, docs/languages.md §2), and emails in the
recipient's language from one template each (docs/languages.md §4).

Before: the check-in page of a German engineer was English (``<html lang="en">``, "Send my answers"),
``Accept-Language: de`` changed nothing, and each language was a copy of the email templates.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import Client
from django.utils import timezone, translation

from pulse.auth import login_link_message
from surveys.models import Invitation, Person
from surveys.services.emails import email_render
from tests.factories import PersonFactory, UserFactory
from tests.helpers_rounds import OpenRound, open_round

pytestmark = pytest.mark.django_db


def _checkin_url(token: str) -> str:
    return f"/checkin/{token}/"


def _signed_in(client: Client, *, locale: str, organisation_locale: str = "en") -> Person:
    person = PersonFactory(locale=locale, time_zone="Asia/Kolkata")
    person.organisation.locale = organisation_locale
    person.organisation.save()
    person.user = UserFactory(username=person.email)
    person.save()
    client.force_login(person.user)
    return person


# --- anonymous pages: Accept-Language -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "lang", "heading", "label"),
    [
        ("de-DE,de;q=0.9,en;q=0.5", "de", "So schützt Pulse Ihre Antworten", "Geschäftliche E-Mail-Adresse"),
        ("en-GB,en;q=0.9", "en", "How Pulse protects your answers", "Work email"),
        ("fr-FR,fr;q=0.9", "en", "How Pulse protects your answers", "Work email"),  # not configured: English
    ],
)
def test_anonymous_pages_follow_accept_language(
    client: Client, accept: str, lang: str, heading: str, label: str
) -> None:
    privacy = client.get("/privacy/", HTTP_ACCEPT_LANGUAGE=accept)
    page = privacy.content.decode()
    assert f'<html lang="{lang}">' in page
    assert f"<h1>{heading}</h1>" in page
    assert privacy["Content-Language"] == lang
    assert "Accept-Language" in privacy["Vary"]  # a shared cache keeps the languages apart
    login = client.get("/login/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert f'<html lang="{lang}">' in login
    assert label in login


def test_no_language_switch_for_anonymous_visitors(client: Client) -> None:
    assert 'action="/language/"' not in client.get("/privacy/").content.decode()


# --- signed-in people: their own language first, then their organisation's -----------------------------


def test_a_signed_in_persons_language_beats_the_browsers(client: Client) -> None:
    _signed_in(client, locale="de")
    response = client.get("/me/checkins/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert '<html lang="de">' in page
    assert "<h1>Meine Check-ins</h1>" in page
    assert "Gerade ist kein Check-in für Sie offen." in page
    assert response["Content-Language"] == "de"


def test_without_a_language_of_their_own_a_person_reads_the_organisations(client: Client) -> None:
    _signed_in(client, locale="", organisation_locale="de")
    page = client.get("/me/checkins/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="de">' in page
    _signed_in(client, locale="", organisation_locale="en")
    page = client.get("/me/checkins/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="en">' in page


def test_the_language_switch_stores_the_persons_choice(client: Client) -> None:
    person = _signed_in(client, locale="en")
    page = client.get("/me/checkins/").content.decode()
    # One button per other language, named in that language.
    assert '<button type="submit" class="link" name="language" value="de" lang="de">Deutsch</button>' in page
    response = client.post("/language/", {"language": "de", "next": "/me/checkins/"})
    assert response.status_code == 302
    assert response["Location"] == "/me/checkins/"
    person.refresh_from_db()
    assert person.locale == "de"  # their emails follow it too
    assert "<h1>Meine Check-ins</h1>" in client.get("/me/checkins/").content.decode()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_the_language_switch_returns_only_to_this_site(client: Client, target: str) -> None:
    _signed_in(client, locale="en")
    response = client.post("/language/", {"language": "de", "next": target})
    assert response["Location"] == "/"


def test_the_language_switch_refuses_an_unconfigured_language(client: Client) -> None:
    person = _signed_in(client, locale="en")
    response = client.post("/language/", {"language": "fr", "next": "/me/checkins/"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.locale == "en"
    assert client.get("/language/").status_code == 405  # a GET changes nothing


def test_a_user_without_a_person_keeps_the_choice_in_the_language_cookie(client: Client) -> None:
    client.force_login(UserFactory())
    response = client.post("/language/", {"language": "de", "next": "/privacy/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert '<html lang="de">' in client.get("/privacy/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_dates_are_shown_in_the_signed_in_persons_zone_and_language(client: Client) -> None:
    setup = open_round(people_per_team=(5,), locale="de")
    person = setup.people[0]
    person.user = UserFactory(username=person.email)
    person.time_zone = "Asia/Kolkata"
    person.save()
    client.force_login(person.user)
    page = client.get("/me/checkins/").content.decode()
    with translation.override("de"), timezone.override(ZoneInfo("Asia/Kolkata")):
        expected = Template("{% load dates %}{{ moment|when:'short' }}").render(
            Context({"moment": setup.round.closes_at})
        )
    assert expected.startswith(("Mo, ", "Di, ", "Mi, ", "Do, ", "Fr, ", "Sa, ", "So, "))
    assert f"<td>{expected} IST</td>" in page  # India Standard Time, not the organisation's Berlin


# --- token pages: the check-in's person --------------------------------------------------------------


def test_the_checkin_page_is_in_its_persons_language_whatever_the_browser_says(client: Client) -> None:
    setup = open_round(people_per_team=(5,), locale="de")
    page = client.get(
        _checkin_url(setup.token_of(setup.people[0])), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert '<html lang="de">' in page
    assert "<h1>Ihr Team-Check-in</h1>" in page
    assert "Antworten absenden" in page
    assert "Bis zu 2.000 Zeichen." in page  # German digit grouping
    assert "Frage 1 von" in page
    assert 'action="/language/"' not in page  # its URL holds the token: no switch (and no "next") here
    for english in ("Send my answers", "Your team check-in", "Question 1 of", "What your leader will see"):
        assert english not in page


def test_an_english_persons_checkin_page_is_english_whatever_the_browser_says(client: Client) -> None:
    setup = open_round(people_per_team=(5,), locale="en")
    page = client.get(
        _checkin_url(setup.token_of(setup.people[0])), HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    assert '<html lang="en">' in page
    assert "Send my answers" in page
    assert "Antworten absenden" not in page


def test_a_refused_link_speaks_the_browsers_language(client: Client) -> None:
    page = client.get(_checkin_url("x" * 43), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "<h1>Dieser Link kann nicht verwendet werden</h1>" in page
    assert "Dieser Check-in-Link ist ungültig." in page


def test_errors_and_the_thank_you_page_are_in_the_persons_language(client: Client) -> None:
    setup = open_round(people_per_team=(5,), locale="de", instruments=("who5",))
    token = setup.token_of(setup.people[0])
    missing = client.post(_checkin_url(token), {"who5_1": "3"})
    page = missing.content.decode()
    assert missing.status_code == 400
    assert "Bitte prüfen Sie 4 Antworten" in page
    assert "Bitte beantworten Sie diese Frage." in page
    answers = {f"who5_{number}": "2" for number in range(1, 6)}
    thanks = client.post(_checkin_url(token), answers).content.decode()
    assert "<h1>Vielen Dank</h1>" in thanks
    assert "<strong>40 von 100</strong>" in thanks
    assert "Das Mitarbeiterberatungsprogramm (EAP) Ihrer Organisation" in thanks


def test_the_pause_page_is_in_its_persons_language(client: Client) -> None:
    from surveys.services.email_pause import pause_token

    person = PersonFactory(locale="de")
    page = client.get(f"/emails/pause/{pause_token(person.pk)}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>Check-in-E-Mails pausieren?</h1>" in page


# --- dates and numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "Donnerstag, 3. Dezember, 09:30"), ("en", "Thursday 3 December, 09:30")],
)
def test_a_checkin_end_is_written_the_languages_way(language: str, expected: str) -> None:
    moment = dt.datetime(2026, 12, 3, 8, 30, tzinfo=dt.UTC)
    with translation.override(language), timezone.override(ZoneInfo("Europe/Berlin")):
        rendered = Template("{% load dates %}{{ moment|when }}").render(Context({"moment": moment}))
    assert rendered == expected


def test_decimals_take_the_languages_separator() -> None:
    template = Template("{{ value|floatformat:1 }} {{ count|floatformat:'g' }}")
    with translation.override("de"):
        assert template.render(Context({"value": 62.5, "count": 2000})) == "62,5 2.000"
    with translation.override("en"):
        assert template.render(Context({"value": 62.5, "count": 2000})) == "62.5 2,000"


# --- emails: one template per message, in the recipient's language ------------------------------------


def _rendered(setup: OpenRound) -> tuple[str, str, str]:
    invitation = Invitation.objects.select_related("person__organisation", "round__schedule").get(
        round=setup.round, person=setup.people[0]
    )
    email = email_render(invitation, token=setup.token_of(setup.people[0]))
    return email.subject, email.text, email.html


def test_one_checkin_email_template_renders_both_languages() -> None:
    email_dir = Path(settings.BASE_DIR) / "templates" / "surveys" / "email"
    assert sorted(path.name for path in email_dir.iterdir()) == ["checkin.html", "checkin.txt", "subject.txt"]
    subject, text, html = _rendered(open_round(people_per_team=(5,), locale="de"))
    assert subject == "Ihr einminütiger Team-Check-in"
    assert text.startswith("Hallo Engineer")
    assert "Es ist Zeit für Ihren Team-Check-in." in text
    assert '<html lang="de">' in html
    assert "Check-in öffnen" in html
    assert re.search(r"Er ist offen bis \w+tag, \d{1,2}\. \w+, \d\d:\d\d", html)  # "Donnerstag, 3. Dezember"
    subject, text, html = _rendered(open_round(people_per_team=(5,), locale="en"))
    assert subject == "Your one-minute team check-in"
    assert text.startswith("Hello Engineer")
    assert '<html lang="en">' in html
    assert "Open my check-in" in html


def test_the_sign_in_email_is_in_the_recipients_language() -> None:
    german = login_link_message(person=PersonFactory(locale="de"))
    assert german.subject == "Ihr Anmeldelink für Pulse"
    assert german.body.startswith("Hallo,")
    assert "15 Minuten lang" in german.body
    assert '<html lang="de">' in german.html
    assert "Oder öffnen Sie diese Adresse:" in german.html
    english = login_link_message(person=PersonFactory(locale="en"))
    assert english.subject == "Your Pulse sign-in link"
    assert '<html lang="en">' in english.html
    assert translation.get_language() == settings.LANGUAGE_CODE  # the override ended with the email
