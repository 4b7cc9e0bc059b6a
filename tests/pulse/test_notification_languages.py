"""Each leader's flag emails are in their own language (docs/languages.md §4): the same flag, one German
and one English leader, each gets subject, text and HTML part in their language, through the outbox
(queued by the trend run, sent by ``notifications_send_due`` to Django's locmem backend). The trend run's
stored sentence stays English, marked ``lang="en"`` in the HTML part.

The rule is ``surveys.language.language_of``: here the organisation's default is German, one leader has
chosen English for herself, the other has chosen nothing and so reads the organisation's German.
"""

from __future__ import annotations

import datetime as dt
import email
import html as html_module
import re
from email import policy
from email.message import EmailMessage

import pytest
from django.core import mail

from pulse.models import Flag, Notification
from pulse.services.notifications import next_digest_at, notifications_send_due
from pulse.services.trends import trend_run
from surveys.models import Membership, Person, Team
from tests.pulse.helpers_flags import BURNOUT, History
from tests.pulse.test_notifications import open_alert

pytestmark = pytest.mark.django_db

# English words of the emails' own sentences: none may be left in a German email outside lang="en".
ENGLISH = {"open", "acknowledge", "plan", "action", "people", "answered", "daily", "digest", "update"}
ENGLISH |= {"updates", "flag", "flags", "alert", "watch", "warning", "reopened", "recovered", "evidence"}


def _parts(message: mail.EmailMessage) -> tuple[str, str]:
    mime = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    assert isinstance(mime, EmailMessage)
    text_part, html_part = mime.get_body(("plain",)), mime.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    return str(text_part.get_content()), str(html_part.get_content())


def _sent_to(person: Person) -> mail.EmailMessage:
    found = [message for message in mail.outbox if person.email in message.to]
    assert len(found) == 1, [message.to for message in mail.outbox]
    return found[0]


def _outside_english(html: str) -> set[str]:
    """The words of an HTML part outside ``lang="en"`` elements, links and markup."""
    body = re.sub(r'<(span|strong|em)[^>]*lang="en"[^>]*>.*?</\1>', " ", html, flags=re.S)
    body = re.sub(r"https?://\S+", " ", re.sub(r"<[^>]+>", " ", body))
    return set(re.findall(r"[a-zäöüß]+", html_module.unescape(body).lower()))


def _bilingual(history: History, teams: tuple[str, ...]) -> tuple[Person, Person]:
    """An English and a German leader of ``teams`` (the German one also of each further team)."""
    history.organisation.locale = "de"
    history.organisation.save(update_fields=["locale"])
    english = history.leader[teams[0]]
    english.locale = "en"
    english.save(update_fields=["locale"])
    german = Person.objects.create(
        organisation=history.organisation,
        email=f"lena.{history.organisation.pk}@example.org",
        display_name="Lena",
    )
    for name in teams:
        team: Team = history.team[name]
        Membership.objects.create(
            person=german, team=team, role=Membership.Role.LEADER, starts_on=dt.date(2026, 1, 1)
        )
    return english, german


def test_an_alert_reaches_a_german_and_an_english_leader_each_in_their_language() -> None:
    history = History(teams=("Payments",))
    english, german = _bilingual(history, ("Payments",))
    flag = open_alert(history)
    assert set(Notification.objects.filter(flag=flag).values_list("recipient", flat=True)) == {
        english.pk,
        german.pk,
    }
    mail.outbox.clear()
    # Payments' two leaders, and the root's leader for the root's roll-up, which opened an alert too.
    assert notifications_send_due(now=history.now()) == 3

    to_english, to_german = _sent_to(english), _sent_to(german)
    assert to_english.subject == "[Pulse] Alert: Payments — Burnout (single item)"
    assert to_german.subject == "[Pulse] Alarm: Payments — Burnout (single item)"
    english_text, english_html = _parts(to_english)
    german_text, german_html = _parts(to_german)
    assert "Open Pulse to acknowledge it or plan an action" in english_text
    assert "only when at least 5 people answered" in english_text
    assert "Öffnen Sie Pulse, um ihn zur Kenntnis zu nehmen" in german_text
    assert "nur, wenn mindestens 5 Personen" in german_text
    assert '<html lang="en">' in english_html
    assert '<html lang="de">' in german_html
    assert "<strong>Alarm: Payments</strong>" in german_html
    # The flag's sentence is worded when each email is made, in its reader's language.
    assert "Payments: Burnout (single item) " in english_text
    assert "jumped to 3.6" in english_text
    assert "sprang in der am" in german_text
    assert "3,6" in german_text
    assert not _outside_english(german_html) & ENGLISH, _outside_english(german_html) & ENGLISH
    assert _outside_english(english_html) & {"open", "acknowledge", "answered"}


def test_a_digest_is_in_its_readers_language() -> None:
    """Watch-level flags wait for the digest: the German leader of two teams gets one German digest of
    both; the English leader of one gets its single update in English."""
    history = History(teams=("Payments", "Data"))
    english, german = _bilingual(history, ("Payments", "Data"))
    for _ in range(2):  # watch-level flags (beyond the cut-off, not worsening), one per team
        history.round({"Payments": {BURNOUT: 3.4}, "Data": {BURNOUT: 3.3}})
        trend_run(organisation_id=history.organisation.pk, now=history.now())
    assert set(
        Flag.objects.filter(team__name__in=["Payments", "Data"]).values_list("severity", flat=True)
    ) == {"watch"}
    mail.outbox.clear()
    digest_at = next_digest_at(history.now(), "Europe/Berlin")
    while notifications_send_due(now=digest_at):
        pass

    to_german = _sent_to(german)
    assert to_german.subject == "[Pulse] Tägliche Übersicht: 2 Aktualisierungen von Hinweisen"
    german_text, german_html = _parts(to_german)
    assert german_text.startswith("Tägliche Übersicht: 2 Aktualisierungen von Hinweisen")
    assert "Beobachten: " in german_text  # each update's headline, in German
    assert "Diesen Hinweis öffnen: " in german_text
    assert "Öffnen Sie Pulse, um sie zur Kenntnis zu nehmen" in german_text
    assert '<html lang="de">' in german_html
    assert not _outside_english(german_html) & ENGLISH, _outside_english(german_html) & ENGLISH

    to_english = _sent_to(english)
    assert to_english.subject == "[Pulse] Watch: Payments — Burnout (single item)"
    english_text, english_html = _parts(to_english)
    assert "Open Pulse to acknowledge it or plan an action" in english_text
    assert '<html lang="en">' in english_html
