"""Flag emails respect a leader's attention: only an alert is sent at once; everything else waits for one
digest per leader per day, grouped by flag, each flag with the link to its own page.

Unit tests of the grouping and of the slot, then the whole path through a real SMTP server (aiosmtpd) and
the link followed over HTTP by the leader who got it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils.html import escape

from pulse.models import Flag, FlagEvent, Notification
from pulse.services.notifications import (
    digest_items,
    digest_subject,
    is_news_now,
    next_digest_at,
    notifications_send_due,
)
from pulse.services.trends import trend_run
from surveys.models import Membership, Person
from tests.pulse.helpers_flags import BURNOUT, WORKLOAD, History
from tests.pulse.test_notifications import _free_port

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def row(
    flag_id: int, minutes: int, *, severity: str = "watch", team: str = "Payments", **part: str
) -> Notification:
    """An unsaved email row as ``notifications_for_event`` stores it (its digest part in the payload)."""
    digest = {
        "flag": flag_id,
        "team": team,
        "metric": part.get("metric", "Burnout"),
        "severity": severity,
        "title": part.get("title", "Watch"),
        "text": part.get("text", f"update {minutes}"),
        "url": f"https://pulse.example/flags/{flag_id}/",
    }
    return Notification(
        pk=1000 + minutes,
        flag_id=flag_id,
        transport="email",
        digest=True,
        subject=f"[Pulse] {digest['title']}: {team} — {digest['metric']}",
        body=f"{team}: {digest['text']}\n\nOpen Pulse: {digest['url']}",
        payload={"html": "<p>x</p>", "digest": digest},
        created_at=T0 + dt.timedelta(minutes=minutes),
        due_at=T0,
    )


def test_a_digest_lists_each_flag_once_with_its_updates_in_order() -> None:
    rows = [
        row(1, 30, text="became a warning", severity="warning"),
        row(2, 10, team="Data", text="opened"),
        row(1, 0, text="opened"),
        row(3, 20, team="Mobile", severity="alert", title="Recovered", text="back within bounds"),
    ]
    items = digest_items(rows)
    # The strongest first, then by team; one entry per flag whatever the order the rows came in.
    assert [(item.flag_id, item.team, item.severity) for item in items] == [
        (3, "Mobile", "alert"),
        (1, "Payments", "warning"),  # its newest row says what it is now
        (2, "Data", "watch"),
    ]
    payments = items[1]
    assert [update.text for update in payments.updates] == ["opened", "became a warning"]
    assert payments.url == "https://pulse.example/flags/1/"
    assert digest_subject(rows, items).endswith(": 4 updates on 3 flags")
    assert digest_subject(rows[1:2], digest_items(rows[1:2])).endswith(": 1 flag update")


def test_rows_queued_before_digest_parts_still_group_by_flag() -> None:
    old = row(5, 0)
    old.payload = {"html": "<p>x</p>"}  # written by an earlier version: subject and text only
    items = digest_items([old, row(5, 1, text="more")])
    (item,) = items
    assert item.team == "Payments"
    assert [update.title for update in item.updates] == ["Watch: Payments — Burnout", "Watch"]
    assert item.updates[0].text == "Payments: update 0"


@override_settings(PULSE_FLAG_DIGEST_WEEKDAY=None, PULSE_FLAG_DIGEST_HOUR=9)
def test_the_digest_is_daily_by_default_in_local_time() -> None:
    before_nine = dt.datetime(2026, 11, 3, 7, 59, tzinfo=UTC)  # 08:59 in Berlin (CET, UTC+1)
    assert next_digest_at(before_nine, "Europe/Berlin") == dt.datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    at_nine = dt.datetime(2026, 11, 3, 8, 0, tzinfo=UTC)  # strictly after: the next day's
    assert next_digest_at(at_nine, "Europe/Berlin") == dt.datetime(2026, 11, 4, 8, 0, tzinfo=UTC)
    # Saturday 24 October 2026; Berlin leaves summer time that night: 09:00 CEST, then 09:00 CET.
    saturday = dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    assert next_digest_at(saturday, "Europe/Berlin") == dt.datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    assert next_digest_at(dt.datetime(2026, 10, 24, 6, 0, tzinfo=UTC), "Europe/Berlin") == dt.datetime(
        2026, 10, 24, 7, 0, tzinfo=UTC
    )
    # 08:00 in New York (EDT): its own 09:00 the same morning.
    assert next_digest_at(saturday, "America/New_York") == dt.datetime(2026, 10, 24, 13, 0, tzinfo=UTC)


@override_settings(PULSE_FLAG_DIGEST_WEEKDAY=0, PULSE_FLAG_DIGEST_HOUR=9)
def test_a_weekday_makes_the_digest_weekly() -> None:
    saturday = dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    assert next_digest_at(saturday, "Europe/Berlin") == dt.datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    monday_after_nine = dt.datetime(2026, 10, 26, 8, 30, tzinfo=UTC)
    assert next_digest_at(monday_after_nine, "Europe/Berlin") == dt.datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("severity", "kind", "before", "now"),
    [
        ("alert", FlagEvent.Kind.OPENED, None, True),
        ("alert", FlagEvent.Kind.REOPENED, None, True),
        ("alert", FlagEvent.Kind.ESCALATED, None, True),
        ("alert", FlagEvent.Kind.UPDATED, "warning", True),
        ("alert", FlagEvent.Kind.REASON_ADDED, "alert", False),  # news, but not a new alert
        ("alert", FlagEvent.Kind.RECOVERED, None, False),
        ("warning", FlagEvent.Kind.OPENED, None, False),
        ("warning", FlagEvent.Kind.ESCALATED, None, False),
        ("watch", FlagEvent.Kind.OPENED, None, False),
    ],
)
def test_only_an_alert_is_sent_at_once(severity: str, kind: str, before: str | None, now: bool) -> None:
    flag = Flag(severity=severity)
    event = FlagEvent(kind=kind, data={"severity_before": before} if before else {})
    assert is_news_now(flag, event) is now


# ------------------------------------------------------------------------------ through SMTP and HTTP


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        for address in envelope.rcpt_tos:
            self.messages.append((address, message))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for to, message in self.messages if to == address]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    handler = Mailbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        PULSE_BASE_URL="http://testserver",
        PULSE_FLAG_DIGEST_WEEKDAY=None,
    ):
        yield handler
    controller.stop()


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def _signed_in(person: Person) -> Client:
    user = User.objects.create_user(username=person.email, email=person.email)
    Person.objects.filter(pk=person.pk).update(user=user)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_leader_gets_one_daily_digest_whose_links_open_each_flag(mailbox: Mailbox) -> None:
    history = History(teams=("Payments", "Data"))
    lead = history.leader["root"]
    for name in ("Payments", "Data"):  # she also leads both teams: their flags are hers
        Membership.objects.create(
            person=lead, team=history.team[name], role=Membership.Role.LEADER, starts_on=dt.date(2026, 1, 1)
        )
    for _ in range(2):  # watch-level flags: beyond the cut-off, not worsening; nothing is an alert
        history.round({"Payments": {BURNOUT: 3.4, WORKLOAD: 3.9}, "Data": {BURNOUT: 3.3}})
        trend_run(organisation_id=history.organisation.pk, now=history.now())
    moment = history.now()
    hers = Notification.objects.filter(recipient=lead, transport="email")
    flags = {n.flag for n in hers}
    assert len(flags) >= 3  # at least Payments', Data's and the root's burnout
    assert all(n.digest and n.status == "pending" for n in hers)
    assert {f.severity for f in flags} <= {"watch", "warning"}

    assert notifications_send_due(now=moment) == 0  # nothing is sent before the slot
    digest_at = next_digest_at(moment, history.organisation.time_zone)
    assert digest_at - moment <= dt.timedelta(days=1)  # daily: never more than a day away
    notifications_send_due(now=digest_at)
    notifications_send_due(now=digest_at)  # a second sender finds nothing: exactly once
    (message,) = mailbox.to(lead.email)
    assert str(message["Subject"]).startswith("[Pulse] Daily digest: ")
    assert all(n.status == "sent" for n in hers.all())
    text, html = _parts(message)
    links = re.findall(r"http://testserver/flags/(\d+)/", text)
    assert sorted({int(pk) for pk in links}) == sorted(f.pk for f in flags)
    for flag in flags:
        assert f'href="http://testserver/flags/{flag.pk}/"' in html
    # Each link opens the flag itself for the leader who got it, with what the email said about it.
    client = _signed_in(lead)
    for flag in flags:
        page = client.get(f"/flags/{flag.pk}/")
        assert page.status_code == 200
        assert escape(flag.headline or flag.explanation) in page.content.decode()
    # The other leaders each got theirs, one message each.
    for name in ("Payments", "Data"):
        assert len(mailbox.to(history.leader[name].email)) == 1


@pytest.mark.django_db
def test_an_alert_goes_at_once_with_the_link_to_its_flag(mailbox: Mailbox) -> None:
    history = History(teams=("Payments",))
    for value in (2.0, 2.0, 2.1, 1.9, 2.0, 2.0, 3.4, 3.6):
        history.round({"Payments": {BURNOUT: value}})
        trend_run(organisation_id=history.organisation.pk, now=history.now())
    flag = Flag.objects.get(team=history.team["Payments"], metric=BURNOUT, state=Flag.State.OPEN)
    assert flag.severity == Flag.Severity.ALERT
    notifications_send_due(now=history.now())
    (message,) = mailbox.to(history.leader["Payments"].email)
    text, html = _parts(message)
    assert f"http://testserver/flags/{flag.pk}/" in text
    assert f'href="http://testserver/flags/{flag.pk}/"' in html
