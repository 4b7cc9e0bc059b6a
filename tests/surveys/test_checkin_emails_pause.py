"""List-Unsubscribe on check-in emails, and the page it leads to: pausing and resuming a person's emails.

The emails are sent by the tick's own sending step (locmem backend, and a real SMTP server for the
template fast path); the page is driven through Django's test client with CSRF checks on, as a mail
client's one-click POST (RFC 8058) arrives: no cookie, no CSRF token.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import os
import re
from email import policy
from email.message import EmailMessage as ParsedMessage

import pytest
from django.core import mail
from django.test import Client
from pytest_django.fixtures import Settings

from config.logging_filters import redact
from surveys.models import Invitation, Person
from surveys.sealing import KeyRing
from surveys.services.email_pause import pause_token, person_for_pause_token
from surveys.services.emails import emails_send_due
from tests.helpers_rounds import OpenRound, open_round
from tests.surveys.test_delivery import CountingHandler, smtp_server, smtp_settings  # noqa: F401

BASE = "https://pulse.example"
PAUSE_LINK = re.compile(re.escape(BASE) + r"(/emails/pause/([A-Za-z0-9_\-]+)/)")


@pytest.fixture(autouse=True)
def https_base(settings: Settings) -> None:
    settings.PULSE_BASE_URL = BASE


@pytest.fixture
def checkin(db: None) -> OpenRound:
    return open_round(people_per_team=(3,))


def _send_invitations() -> dict[str, mail.EmailMultiAlternatives]:
    mail.outbox.clear()
    assert emails_send_due() > 0
    sent: dict[str, mail.EmailMultiAlternatives] = {}
    for message in mail.outbox:
        assert isinstance(message, mail.EmailMultiAlternatives)  # a check-in email has its HTML part
        sent[message.to[0]] = message
    return sent


def _reminder_moment(round_id: int) -> dt.datetime:
    moment = Invitation.objects.filter(round_id=round_id).exclude(email_due_at=None).first()
    assert moment is not None
    assert moment.email_due_at is not None
    return moment.email_due_at


def test_every_check_in_email_carries_one_click_list_unsubscribe_for_its_person(checkin: OpenRound) -> None:
    sent = _send_invitations()
    tokens = set()
    for person in checkin.people:
        message = sent[person.email]
        header = message.extra_headers["List-Unsubscribe"]
        found = re.fullmatch(r"<" + PAUSE_LINK.pattern + r">", header)
        assert found, header
        assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        token = found.group(2)
        assert person_for_pause_token(token) == person
        # The same link in the text and the HTML part, for people whose mail client shows no button.
        assert f"Pause them: {BASE}{found.group(1)}" in str(message.body)
        html = message.alternatives[0][0]
        assert f'href="{BASE}{found.group(1)}"' in str(html)
        tokens.add(token)
    assert len(tokens) == len(checkin.people)
    # A token of its own: never the check-in link's, which would let a pause link answer a check-in.
    assert not tokens & set(checkin.tokens.values())


def test_the_smtp_fast_path_fills_in_each_persons_own_link(
    checkin: OpenRound,
    smtp_server: tuple[CountingHandler, int],  # noqa: F811
) -> None:
    handler, port = smtp_server
    with smtp_settings(port):
        assert emails_send_due() == len(checkin.people)
    parsed = [email.message_from_bytes(raw, policy=policy.default) for raw in handler.messages]
    by_address: dict[str, ParsedMessage] = {str(message["To"]): message for message in parsed}
    for person in checkin.people:
        message = by_address[person.email]
        assert message["List-Unsubscribe"] == f"<{BASE}/emails/pause/{pause_token(person.pk)}/>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        plain = message.get_body(preferencelist=("plain",))
        assert plain is not None
        text = plain.get_content()
        assert f"/emails/pause/{pause_token(person.pk)}/" in text
        assert "PulsePauseToken" not in message.as_string()


def test_a_get_changes_nothing_and_a_one_click_post_pauses_without_a_csrf_token(checkin: OpenRound) -> None:
    person = checkin.people[0]
    path = f"/emails/pause/{pause_token(person.pk)}/"
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer"
    assert "Pause my check-in emails" in page.content.decode()
    assert Person.objects.get(pk=person.pk).emails_paused_at is None  # a mail scanner's prefetch
    # What a mail client sends for its own "Unsubscribe" button (RFC 8058, section 3.2).
    clicked = client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert clicked.status_code == 200
    assert "Your check-in emails are paused" in clicked.content.decode()
    assert Person.objects.get(pk=person.pk).emails_paused_at is not None
    assert not client.cookies  # the page sets no cookie


def test_the_sender_skips_a_paused_person_and_sends_again_once_they_resume(checkin: OpenRound) -> None:
    paused, other = checkin.people[0], checkin.people[1]
    path = f"/emails/pause/{pause_token(paused.pk)}/"
    client = Client(enforce_csrf_checks=True)
    assert client.post(path, {"action": "pause"}).status_code == 200
    sent = _send_invitations()
    assert paused.email not in sent
    assert other.email in sent
    assert Invitation.objects.get(person=paused, round=checkin.round).email_outcomes == "k"  # skipped
    # Resumed from the same page: the next message (the reminder) goes out again.
    resumed = client.post(path, {"action": "resume"})
    assert "check-in emails from" in resumed.content.decode()
    assert "Pause your check-in emails?" in resumed.content.decode()
    assert Person.objects.get(pk=paused.pk).emails_paused_at is None
    mail.outbox.clear()
    assert emails_send_due(now=_reminder_moment(checkin.round.pk)) == len(checkin.people)
    assert paused.email in {message.to[0] for message in mail.outbox}
    # And the change history says what happened, for the admins.
    reasons = list(
        Person.history.filter(id=paused.pk)
        .order_by("history_date")
        .values_list("history_change_reason", flat=True)
    )
    assert reasons[-2:] == [
        "Paused check-in emails (link in an email)",
        "Resumed check-in emails (link in an email)",
    ]


def test_a_forged_or_altered_token_is_refused_and_changes_nothing(checkin: OpenRound) -> None:
    victim = checkin.people[1]
    mine = base64.urlsafe_b64decode(pause_token(checkin.people[0].pk) + "==")
    # Another person's id with my MAC; a random MAC; a truncated token; nonsense.
    swapped = base64.urlsafe_b64encode(victim.pk.to_bytes(8, "big") + mine[8:]).decode().rstrip("=")
    random_mac = base64.urlsafe_b64encode(victim.pk.to_bytes(8, "big") + os.urandom(16)).decode().rstrip("=")
    client = Client(enforce_csrf_checks=True)
    for token in (swapped, random_mac, pause_token(victim.pk)[:-1], "x" * 32, "not-a-token"):
        for response in (client.get(f"/emails/pause/{token}/"), client.post(f"/emails/pause/{token}/")):
            assert response.status_code == 404
            assert "This link is not valid" in response.content.decode()
    assert not Person.objects.filter(emails_paused_at__isnull=False).exists()


def test_links_survive_a_key_rotation_and_no_other_key_can_make_them(checkin: OpenRound) -> None:
    person = checkin.people[0]
    old_key, new_key = os.urandom(32), os.urandom(32)
    minted = pause_token(person.pk, ring=KeyRing.of([old_key]))
    assert person_for_pause_token(minted, ring=KeyRing.of([new_key, old_key])) == person  # rotated
    assert person_for_pause_token(minted, ring=KeyRing.of([new_key])) is None  # old key removed
    assert pause_token(person.pk, ring=KeyRing.of([new_key])) != minted


def test_admins_see_who_paused_their_emails(checkin: OpenRound, settings: Settings) -> None:
    from django.contrib.auth import get_user_model

    person = checkin.people[0]
    Client().post(f"/emails/pause/{pause_token(person.pk)}/", {"action": "pause"})
    admin = Person.objects.create(
        organisation=checkin.organisation, email="admin@example.org", display_name="Admin", is_admin=True
    )
    admin.user = get_user_model().objects.create_user(username="admin@example.org", email="admin@example.org")
    admin.save()
    client = Client()
    client.force_login(admin.user)
    page = client.get("/manage/people/", {"q": person.email}).content.decode()
    assert "Check-in emails paused" in page
    api = client.get(f"/api/v1/people/{person.pk}/").json()
    assert api["emails_paused_at"] is not None


def test_the_token_in_a_pause_link_never_reaches_a_log_line() -> None:
    token = "A" * 32
    assert redact(f"Not Found: /emails/pause/{token}/") == "Not Found: /emails/pause/[redacted]/"


def test_other_methods_are_refused_and_change_nothing(checkin: OpenRound) -> None:
    person = checkin.people[0]
    response = Client().put(f"/emails/pause/{pause_token(person.pk)}/")
    assert response.status_code == 405
    assert response["Referrer-Policy"] == "no-referrer"
    assert Person.objects.get(pk=person.pk).emails_paused_at is None
