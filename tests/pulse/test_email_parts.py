"""Every email Pulse sends has a text and an HTML part (multipart/alternative), from one template pair, with
every name escaped in the HTML and left as typed in the text.

Each message is sent by its own outbox step (sign-in and email-change emails, flag notifications and the
weekly digest, check-in invitations) to Django's locmem backend, and read back as the MIME a mail server
would receive.
"""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage

import pytest
from django.core import mail
from django.utils.html import escape

from pulse.models import AuthEmail, Notification
from pulse.services.auth_emails import auth_email_queue, auth_emails_send_due
from pulse.services.email_changes import email_change_request
from pulse.services.notifications import notifications_send_due
from surveys.models import Organisation, Person, Team
from surveys.services.emails import emails_send_due
from tests.helpers_rounds import open_round
from tests.pulse.helpers_flags import History
from tests.pulse.test_notifications import one_alert

pytestmark = pytest.mark.django_db

# Markup, an ampersand and quotes: what a name may hold, and what must never become HTML.
AWKWARD = 'Zoë <b>O\'Brien</b> & "Co"'


def _parts(message: mail.EmailMessage) -> tuple[str, str]:
    """(text, html) of a sent message, from its MIME bytes."""
    mime = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    assert isinstance(mime, EmailMessage)
    assert mime.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mime.iter_parts()] == ["text/plain", "text/html"]
    text_part, html_part = mime.get_body(("plain",)), mime.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    return str(text_part.get_content()), str(html_part.get_content())


def _links(text: str) -> set[str]:
    return set(re.findall(r"https?://[^\s<>\"]+", text))


def _as_typed_and_escaped(text: str, html: str, value: str) -> None:
    assert value in text
    assert str(escape(value)) in html
    assert value not in html


def _sent_to(address: str) -> mail.EmailMessage:
    found = [message for message in mail.outbox if address in message.to]
    assert len(found) == 1, [message.to for message in mail.outbox]
    return found[0]


def test_the_sign_in_email_has_both_parts_with_the_same_link() -> None:
    organisation = Organisation.objects.create(name="Parts org", time_zone="UTC")
    person = Person.objects.create(organisation=organisation, email="zoe@example.org", display_name=AWKWARD)
    auth_email_queue(kind=AuthEmail.Kind.SIGN_IN_LINK, address=person.email)
    assert auth_emails_send_due() == 1
    text, html = _parts(_sent_to(person.email))
    link = [url for url in _links(text) if "/login/link/" in url]
    assert len(link) == 1
    assert f'href="{link[0]}"' in html
    assert "Sign in to Pulse" in html
    assert "<!doctype html>" in html


def test_the_email_change_emails_have_both_parts_and_escape_every_name() -> None:
    organisation = Organisation.objects.create(name="Parts org", time_zone="UTC")
    admin = Person.objects.create(
        organisation=organisation, email="admin@example.org", display_name="Admin <script>", is_admin=True
    )
    person = Person.objects.create(organisation=organisation, email="zoe@example.org", display_name=AWKWARD)
    email_change_request(person=person, new_email="zoe.new@example.org", requested_by=admin)
    assert auth_emails_send_due() == 2
    confirm_text, confirm_html = _parts(_sent_to("zoe.new@example.org"))
    _as_typed_and_escaped(confirm_text, confirm_html, AWKWARD)
    _as_typed_and_escaped(confirm_text, confirm_html, "Admin <script>")
    [link] = [url for url in _links(confirm_text) if "/account/email/" in url]
    assert f'href="{link}"' in confirm_html
    notice_text, notice_html = _parts(_sent_to("zoe@example.org"))
    _as_typed_and_escaped(notice_text, notice_html, AWKWARD)
    assert "zoe.new@example.org" in notice_html


def test_a_flag_notification_has_both_parts_and_escapes_the_team_name() -> None:
    history = History(teams=("Payments",))
    Team.objects.filter(pk=history.team["Payments"].pk).update(name=AWKWARD)
    history.team["Payments"].refresh_from_db()
    one_alert(history)
    assert Notification.objects.filter(transport="email", digest=False).exists()
    mail.outbox.clear()
    assert notifications_send_due(now=history.now()) >= 1
    message = _sent_to(history.leader["Payments"].email)
    text, html = _parts(message)
    _as_typed_and_escaped(text, html, AWKWARD)
    assert text.startswith(f"{AWKWARD}: Burnout (single item) was 3.6")
    assert "Open Pulse to acknowledge it or plan an action: http" in text
    assert _links(text) <= _links(html.replace("&amp;", "&"))
    # The HTML was rendered with the row, as its text was: delivery sends what is stored.
    row = Notification.objects.filter(recipient=history.leader["Payments"], transport="email").first()
    assert row is not None
    assert row.payload["html"].strip() == html.replace("\r\n", "\n").strip()


def test_the_digest_has_both_parts_with_every_update() -> None:
    history = History(teams=("Payments", "Data"))
    Team.objects.filter(pk=history.team["Data"].pk).update(name=AWKWARD)
    history.team["Data"].refresh_from_db()
    one_alert(history, team="Payments")
    one_alert(history, team="Data")
    leader = history.leader["root"]
    rows = Notification.objects.filter(transport="email")
    rows.update(digest=True, recipient=leader, due_at=history.now())
    mail.outbox.clear()
    notifications_send_due(now=history.now())
    message = _sent_to(leader.email)
    assert message.subject.startswith("[Pulse] Daily digest:")
    text, html = _parts(message)
    _as_typed_and_escaped(text, html, AWKWARD)
    assert text.count("• ") == rows.count()
    assert html.count("<li") == rows.count()
    assert "Open Pulse to acknowledge them or plan an action: http" in text


def test_a_check_in_email_has_both_parts_and_its_text_is_not_html_escaped() -> None:
    checkin = open_round(people_per_team=(1,))
    Organisation.objects.filter(pk=checkin.organisation.pk).update(name="Smith & Jones <Ltd>")
    person = checkin.people[0]
    Person.objects.filter(pk=person.pk).update(display_name=AWKWARD)
    mail.outbox.clear()
    assert emails_send_due() >= 1
    text, html = _parts(_sent_to(person.email))
    _as_typed_and_escaped(text, html, AWKWARD)
    _as_typed_and_escaped(text, html, "Smith & Jones <Ltd>")
    assert "&amp;" not in text
