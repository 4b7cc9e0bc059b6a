"""Failed-password limits: only failures count, per username and per client
address, with exponential backoff, and a locked password never locks the rightful user out of email links."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.cache import cache
from django.test import Client, override_settings
from pytest_django import Settings as SettingsFixture

from pulse.services.auth_emails import auth_emails_send_due
from surveys.models import Person
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LIMITS = {**settings.PULSE_RATE_LIMITS, "login_user": "3/900", "login_ip": "5/900"}
RIGHT = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hashing(settings: SettingsFixture) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def person() -> Person:
    user = UserFactory(username="ada@example.org", email="ada@example.org")
    return PersonFactory(email="ada@example.org", display_name="Ada", user=user)


def sign_in(password: str, *, username: str = "ada@example.org", ip: str = "10.0.0.1") -> int:
    return int(
        Client(REMOTE_ADDR=ip).post("/login/", {"username": username, "password": password}).status_code
    )


@override_settings(PULSE_RATE_LIMITS=LIMITS)
def test_successful_sign_ins_are_never_counted(person: Person) -> None:
    """Before: the eleventh sign-in within 15 minutes answered 429 however right the password."""
    assert [sign_in(RIGHT) for _ in range(12)] == [302] * 12


@override_settings(PULSE_RATE_LIMITS=LIMITS)
def test_failures_lock_the_username_with_exponential_backoff(person: Person) -> None:
    with time_machine.travel(NOW, tick=False):
        assert [sign_in("wrong") for _ in range(3)] == [200, 200, 200]
        blocked = Client(REMOTE_ADDR="10.0.0.2").post(
            "/login/", {"username": "ada@example.org", "password": RIGHT}
        )
        assert blocked.status_code == 429  # locked even with the right password: guessing is slowed
        assert blocked["Retry-After"] == "30"
    with time_machine.travel(NOW + dt.timedelta(seconds=31), tick=False):
        assert sign_in("wrong") == 200  # the fourth failure: locked twice as long
        assert sign_in(RIGHT) == 429
    with time_machine.travel(NOW + dt.timedelta(seconds=31 + 59), tick=False):
        assert sign_in(RIGHT) == 429
    with time_machine.travel(NOW + dt.timedelta(seconds=31 + 61), tick=False):
        assert sign_in(RIGHT) == 302
        # A success clears the username's failures: two mistakes later are free again (from another
        # address: this one's failures are not cleared by a success, and it has used four of five).
        assert [sign_in("wrong", ip="10.0.0.3") for _ in range(2)] == [200, 200]
        assert sign_in(RIGHT, ip="10.0.0.3") == 302


@override_settings(PULSE_RATE_LIMITS=LIMITS)
def test_failures_count_per_client_address_across_usernames(person: Person) -> None:
    with time_machine.travel(NOW, tick=False):
        statuses = [sign_in("wrong", username=f"guess{index}@example.org") for index in range(5)]
        assert statuses == [200] * 5
        assert sign_in(RIGHT) == 429  # this address is locked...
        assert sign_in(RIGHT, ip="10.0.0.9") == 302  # ...another one is not


@override_settings(PULSE_RATE_LIMITS=LIMITS)
def test_a_locked_password_does_not_lock_the_rightful_user_out_of_email_links(person: Person) -> None:
    with time_machine.travel(NOW, tick=False):
        for _ in range(3):
            sign_in("wrong")
        assert sign_in(RIGHT) == 429
        client = Client(REMOTE_ADDR="10.0.0.1")
        assert client.post("/login/email/", {"email": "ada@example.org"}).status_code == 302
        auth_emails_send_due()
        [message] = mail.outbox
        found = re.search(r"http://[^/]+(/login/link/[A-Za-z0-9_\-]+/)", str(message.body))
        assert found is not None
        assert client.get(found.group(1)).status_code == 302
        assert client.post("/login/link/confirm/").status_code == 302
        assert int(client.session[SESSION_KEY]) == person.user_id
