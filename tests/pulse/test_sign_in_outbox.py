"""Sign-in link requests answer alike for every address, whatever the mail server does.

The request only queues an ``AuthEmail`` row; the outbox sends it later over a real SMTP server here
(aiosmtpd), backs off while the server is down and loses nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pulse.models import AuthEmail
from pulse.services.auth_emails import auth_emails_send_due
from surveys.models import Person
from tests.factories import PersonFactory, UserFactory
from tests.pulse.smtp_sink import free_port, smtp_settings, smtp_sink

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse  # what Client() returns


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def person() -> Person:
    user = UserFactory(username="ada@example.org", email="ada@example.org")
    return PersonFactory(email="ada@example.org", display_name="Ada", user=user)


def ask(email: str, *, remote_addr: str = "127.0.0.1") -> TestResponse:
    return Client(REMOTE_ADDR=remote_addr).post("/login/email/", {"email": email}, follow=True)


def test_with_smtp_down_a_known_and_an_unknown_address_get_the_same_status_and_page(person: Person) -> None:
    port = free_port()  # nothing listens here: connections are refused
    with smtp_settings(port):
        known = ask("ada@example.org")
        unknown = ask("nobody@example.org")
    assert (known.status_code, known.redirect_chain) == (200, [("/login/email/sent/", 302)])
    assert (unknown.status_code, unknown.redirect_chain) == (known.status_code, known.redirect_chain)
    assert known.content == unknown.content
    assert b"If the address belongs to an account, a sign-in link is on its way." in known.content

    # Nothing is lost: while the server is down the queued requests back off...
    with smtp_settings(port):
        assert auth_emails_send_due() == 0
    rows = list(AuthEmail.objects.order_by("pk"))
    assert [(row.status, row.attempts) for row in rows] == [("pending", 1), ("pending", 1)]
    assert "ConnectionRefusedError" in rows[0].last_error
    # ...and once it is up, the known address gets its link and the unknown one nothing.
    later = time_machine.travel(timezone.now() + dt.timedelta(minutes=2))
    with smtp_sink(port=port) as (sink, _port), smtp_settings(port), later:
        assert auth_emails_send_due() == 1
    assert [row.status for row in AuthEmail.objects.order_by("pk")] == ["sent", "nothing"]
    [message] = sink.to("ada@example.org")
    assert message["Subject"] == "Your Pulse sign-in link"
    # Both parts of the email (text and HTML) carry the link.
    leaves = [part for part in message.walk() if not part.is_multipart()]
    parts = [bytes(part.get_payload(decode=True)).decode() for part in leaves]
    assert len(parts) == 2
    assert all("/login/link/" in part for part in parts)
    assert sink.to("nobody@example.org") == []


def test_with_a_slow_mail_server_both_answers_are_fast_and_do_the_same_queries(person: Person) -> None:
    """Before the outbox a known address waited for the server (3.2 s vs 0.01 s in the issue)."""
    with smtp_sink(delay=1.0) as (sink, port), smtp_settings(port):
        timings: dict[str, float] = {}
        queries: dict[str, int] = {}
        for address in ("ada@example.org", "nobody@example.org"):
            ask(address, remote_addr="10.0.0.1")  # warm up (templates, connections)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = ask(address, remote_addr="10.0.0.2")
                timings[address] = time.perf_counter() - started
            assert response.redirect_chain == [("/login/email/sent/", 302)]
            queries[address] = len(captured.captured_queries)
        assert sink.messages == []  # nothing was sent in a request
        assert max(timings.values()) < 0.5, timings
        assert queries["ada@example.org"] == queries["nobody@example.org"], queries
        assert auth_emails_send_due() == 2  # the two requests for the known address
    assert len(sink.to("ada@example.org")) == 2


def test_a_sign_in_request_that_could_not_be_sent_in_time_is_dropped(person: Person) -> None:
    port = free_port()
    now = timezone.now()
    with smtp_settings(port), time_machine.travel(now, tick=False):
        ask("ada@example.org")
    later = time_machine.travel(now + dt.timedelta(minutes=31), tick=False)
    with smtp_sink(port=port) as (sink, _port), smtp_settings(port), later:
        assert auth_emails_send_due() == 0
    assert AuthEmail.objects.get().status == "failed"
    assert sink.messages == []
