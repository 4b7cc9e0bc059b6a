"""Sign-in: email links (single use, 15 minutes, hash only), no account enumeration, rate limits that fail
open when the cache is down, session rotation, idle and absolute session expiry, cookie flags."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.test import Client, override_settings
from pytest_django import Settings as SettingsFixture

from pulse.auth import link_digest, login_link_request, login_link_spend
from pulse.models import LoginLink
from pulse.services.auth_emails import auth_emails_send_due
from surveys.models import Person
from tests.factories import PersonFactory, UserFactory
from tests.test_settings import GOOD, ROOT

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse  # what Client() returns


pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LINK = re.compile(r"http://[^/]+(/login/link/([A-Za-z0-9_\-]+)/)")


@pytest.fixture(autouse=True)
def fast_hashing(settings: SettingsFixture) -> None:
    # Password tests need a password, not a deliberately slow hash of it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    # Rate-limit counters live in the cache; every test starts from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def person() -> Person:
    user = UserFactory(username="ada@example.org", email="ada@example.org")
    return PersonFactory(email="Ada@Example.org", display_name="Ada", user=user)


def request_link(client: Client, email: str) -> TestResponse:
    return client.post("/login/email/", {"email": email})


CONFIRM = "/login/link/confirm/"


def open_and_confirm(client: Client, path: str) -> TestResponse:
    """Open the emailed link, then press the confirm button: the response of the press."""
    opened = client.get(path)
    assert opened.status_code == 302, opened.status_code
    assert opened["Location"] == CONFIRM
    assert client.get(CONFIRM).status_code == 200
    return client.post(CONFIRM)


def deliver() -> int:
    """What the worker woken on commit, or the minute tick, does: send the queued sign-in emails."""
    return auth_emails_send_due()


def sent_link() -> tuple[str, str]:
    """(path, token) of the one sign-in email sent, once the queued emails are delivered."""
    deliver()
    assert len(mail.outbox) == 1
    found = LINK.search(str(mail.outbox[0].body))
    assert found is not None
    return found.group(1), found.group(2)


# --- requesting a link --------------------------------------------------------------------------------


def test_a_known_address_gets_a_link_whose_token_is_stored_only_as_its_hash(
    person: Person, client: Client
) -> None:
    with time_machine.travel(NOW, tick=False):
        response = request_link(client, "ada@example.org")
        assert mail.outbox == []  # queued, never sent in the request
        path, token = sent_link()
    assert response.status_code == 302
    assert response["Location"] == "/login/email/sent/"
    assert mail.outbox[0].to == ["Ada@Example.org"]  # the person's stored address, not the typed one
    # At least 128 bits from the token; 32 random bytes in fact.
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16
    link = LoginLink.objects.get()
    assert (link.person_id, link.user_id) == (person.pk, person.user_id)
    assert bytes(link.token_hash) == hashlib.sha256(token.encode()).digest()
    assert token.encode() not in bytes(link.token_hash)
    assert link.expires_at == NOW + dt.timedelta(minutes=15)
    assert link.used_at is None
    assert path == f"/login/link/{token}/"


def test_the_answer_is_the_same_whether_or_not_the_address_exists(person: Person, client: Client) -> None:
    known = request_link(client, "ada@example.org")
    unknown = request_link(Client(), "nobody@example.org")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    page_known = client.get(known["Location"]).content
    page_unknown = Client().get(unknown["Location"]).content
    assert page_known == page_unknown
    assert deliver() == 1
    assert len(mail.outbox) == 1  # only the known address got an email
    assert LoginLink.objects.count() == 1


@pytest.mark.parametrize("case", ["inactive_person", "inactive_user"])
def test_people_who_cannot_sign_in_get_no_link(case: str) -> None:
    user = UserFactory(is_active=case != "inactive_user")
    PersonFactory(email="x@example.org", user=user, is_active=case != "inactive_person")
    login_link_request(email="x@example.org")
    assert deliver() == 0
    assert mail.outbox == []


def test_an_active_person_without_a_user_signs_in_and_gets_a_user_on_first_sign_in() -> None:
    """Most people are imported without a user; every active one can sign in by email link."""
    engineer = PersonFactory(email="eng@example.org", display_name="Eng", user=None)
    client = Client()
    assert request_link(client, "ENG@example.org").status_code == 302
    path, _token = sent_link()
    assert mail.outbox[0].to == ["eng@example.org"]
    engineer.refresh_from_db()
    assert engineer.user is None  # nobody has signed in yet: no user
    assert open_and_confirm(client, path).status_code == 302
    engineer.refresh_from_db()
    assert engineer.user is not None
    assert int(client.session[SESSION_KEY]) == engineer.user.pk
    assert (engineer.user.email, engineer.user.has_usable_password()) == ("eng@example.org", False)
    assert client.get("/me/checkins/").status_code == 200


def test_opening_the_link_changes_nothing_and_the_button_signs_in_once(
    person: Person, client: Client
) -> None:
    request_link(client, "ada@example.org")
    path, token = sent_link()
    opened = client.get(path)
    # The token leaves the address bar at once, and is never sent on as a Referer.
    assert opened.status_code == 302
    assert opened["Location"] == CONFIRM
    assert opened["Referrer-Policy"] == "no-referrer"
    page = client.get(CONFIRM)
    assert page.status_code == 200
    assert b'<button type="submit">Sign in as Ada@Example.org</button>' in page.content
    assert token.encode() not in page.content
    assert LoginLink.objects.get().used_at is None  # a mail scanner's GET spends nothing
    assert SESSION_KEY not in client.session
    assert bytes.fromhex(client.session["_pulse_pending_link"]) == hashlib.sha256(token.encode()).digest()

    signed_in = client.post(CONFIRM)
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/"
    assert int(client.session[SESSION_KEY]) == person.user_id
    assert LoginLink.objects.get().used_at is not None

    other = Client()
    assert other.get(path).status_code == 410
    assert other.post(CONFIRM).status_code == 410
    assert SESSION_KEY not in other.session


def test_the_confirm_button_passes_djangos_https_csrf_check(person: Person) -> None:
    """On HTTPS Django wants a same-origin Referer or Origin with the POST; the confirm page allows one."""
    login_link_request(email="ada@example.org")
    path, _token = sent_link()
    client = Client(enforce_csrf_checks=True)
    assert client.get(path, secure=True).status_code == 302
    page = client.get(CONFIRM, secure=True)
    assert "Referrer-Policy" not in page or page["Referrer-Policy"] != "no-referrer"
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert csrf is not None
    refused = client.post(CONFIRM, {"csrfmiddlewaretoken": csrf.group(1)}, secure=True)
    assert refused.status_code == 403  # no Referer: Django refuses, as browsers' "Origin: null" would be
    signed_in = client.post(
        CONFIRM,
        {"csrfmiddlewaretoken": csrf.group(1)},
        secure=True,
        headers={"Referer": f"https://testserver{CONFIRM}"},
    )
    assert signed_in.status_code == 302
    assert int(client.session[SESSION_KEY]) == person.user_id


def test_a_link_expires_after_fifteen_minutes(person: Person) -> None:
    with time_machine.travel(NOW, tick=False):
        login_link_request(email="ada@example.org")
        path, token = sent_link()
    client = Client()
    with time_machine.travel(NOW + dt.timedelta(minutes=14), tick=False):
        assert client.get(path).status_code == 302  # still valid: remembered for the confirm page
    with time_machine.travel(NOW + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert client.get(CONFIRM).status_code == 410
        assert client.post(CONFIRM).status_code == 410
        assert Client().get(path).status_code == 410
    assert SESSION_KEY not in client.session
    digest = link_digest(token)
    assert digest is not None
    with time_machine.travel(NOW + dt.timedelta(minutes=14, seconds=59), tick=False):
        assert login_link_spend(digest=digest) is not None


def test_spending_is_a_conditional_update_so_a_token_signs_in_at_most_once(person: Person) -> None:
    login_link_request(email="ada@example.org")
    _path, token = sent_link()
    digest = link_digest(token)
    assert digest is not None
    assert login_link_spend(digest=digest) == person.user
    assert login_link_spend(digest=digest) is None
    assert link_digest("x" * 500) is None
    assert link_digest("") is None


def test_a_new_request_clears_the_users_spent_and_expired_links(person: Person) -> None:
    with time_machine.travel(NOW, tick=False):
        login_link_request(email="ada@example.org")
        deliver()
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        login_link_request(email="ada@example.org")
        deliver()
    assert LoginLink.objects.count() == 1
    assert LoginLink.objects.get().expires_at == NOW + dt.timedelta(hours=1, minutes=15)


def test_signing_in_rotates_the_session_key(person: Person) -> None:
    client = Client()
    session = client.session
    session["planted"] = "by an attacker"
    session.save()
    planted_key = session.session_key
    assert planted_key is not None
    client.cookies[settings.SESSION_COOKIE_NAME] = planted_key
    login_link_request(email="ada@example.org")
    path, _token = sent_link()
    open_and_confirm(client, path)
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != planted_key
    assert not Session.objects.filter(session_key=planted_key).exists()
    assert int(client.session[SESSION_KEY]) == person.user_id


def test_password_sign_in_still_works_for_the_demo_and_rotates_the_session(person: Person) -> None:
    client = Client()
    client.get("/login/")
    before = client.cookies.get(settings.SESSION_COOKIE_NAME)
    response = client.post("/login/", {"username": "ada@example.org", "password": "correct horse battery"})
    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == person.user_id
    assert before is None or client.cookies[settings.SESSION_COOKIE_NAME].value != before.value


def test_an_invalid_email_is_refused_on_the_sign_in_page() -> None:
    response = Client().post("/login/email/", {"email": "not an address"})
    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content
    assert b'aria-invalid="true"' in response.content


# --- rate limits --------------------------------------------------------------------------------------


@override_settings(
    PULSE_RATE_LIMITS={**settings.PULSE_RATE_LIMITS, "link_email": "3/900", "link_ip": "5/900"}
)
def test_link_requests_are_limited_per_address_and_per_client_alike_for_unknown_addresses(
    person: Person,
) -> None:
    client = Client()
    statuses = [request_link(client, "ada@example.org").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    deliver()
    assert len(mail.outbox) == 3
    # An unknown address is limited exactly like a known one: the limit reveals nothing either.
    cache.clear()
    statuses = [request_link(client, "nobody@example.org").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    # Per client address: five requests for five different addresses, then 429.
    cache.clear()
    statuses = [request_link(client, f"n{index}@example.org").status_code for index in range(6)]
    assert statuses == [302] * 5 + [429]
    limited = request_link(client, "ada@example.org")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    # Another client is not affected by the first one's limit.
    assert request_link(Client(REMOTE_ADDR="10.0.0.9"), "n9@example.org").status_code == 302


@override_settings(PULSE_RATE_LIMITS={**settings.PULSE_RATE_LIMITS, "login_user": "3/900"})
def test_password_attempts_are_limited_per_username_even_with_the_right_password(person: Person) -> None:
    client = Client()
    for _ in range(3):
        assert client.post("/login/", {"username": "ada@example.org", "password": "wrong"}).status_code == 200
    blocked = client.post("/login/", {"username": "ada@example.org", "password": "correct horse battery"})
    assert blocked.status_code == 429
    assert SESSION_KEY not in client.session


@override_settings(PULSE_RATE_LIMITS={**settings.PULSE_RATE_LIMITS, "token_ip": "4/900"})
def test_guessing_tokens_is_limited_per_client() -> None:
    client = Client()
    statuses = [client.get(f"/login/link/guess{index:04d}guess/").status_code for index in range(5)]
    assert statuses == [410, 410, 410, 410, 429]
    assert client.get(CONFIRM).status_code == 429
    assert client.post(CONFIRM).status_code == 429


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_when_redis_is_down_sign_in_works_unlimited_and_a_warning_is_logged(
    person: Person, caplog: pytest.LogCaptureFixture
) -> None:
    """The stated behaviour: fail open with a logged warning, never a 500 and never a lock-out."""
    redis_down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    limits = dict.fromkeys(settings.PULSE_RATE_LIMITS, "1/900")
    with override_settings(CACHES=redis_down, PULSE_RATE_LIMITS=limits), caplog.at_level(logging.WARNING):
        client = Client()
        # With a limit of one, the second attempt would be refused if anything were counted.
        assert request_link(client, "ada@example.org").status_code == 302
        assert request_link(client, "ada@example.org").status_code == 302
        deliver()
        found = LINK.search(str(mail.outbox[-1].body))
        assert found is not None
        path = found.group(1)
        assert open_and_confirm(client, path).status_code == 302
        password = Client()
        for _ in range(2):
            response = password.post(
                "/login/", {"username": "ada@example.org", "password": "correct horse battery"}
            )
            assert response.status_code == 302
    warnings = [record for record in caplog.records if "not enforced" in record.getMessage()]
    assert warnings
    assert all(record.levelno == logging.WARNING for record in warnings)


# --- sessions -----------------------------------------------------------------------------------------


def test_a_session_ends_after_thirty_idle_minutes(person: Person) -> None:
    assert person.user is not None
    client = Client()
    with time_machine.travel(NOW, tick=False):
        client.force_login(person.user)
    with time_machine.travel(NOW + dt.timedelta(minutes=29), tick=False):
        assert client.get("/account/api-token/").status_code == 200
    with time_machine.travel(NOW + dt.timedelta(minutes=58), tick=False):
        assert client.get("/account/api-token/").status_code == 200  # 29 minutes after the last request
    with time_machine.travel(NOW + dt.timedelta(minutes=88, seconds=1), tick=False):
        response = client.get("/account/api-token/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert SESSION_KEY not in client.session


def test_a_session_ends_eight_hours_after_sign_in_however_active(person: Person) -> None:
    assert person.user is not None
    client = Client()
    with time_machine.travel(NOW, tick=False):
        client.force_login(person.user)
    for minutes in range(20, 8 * 60, 20):
        with time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False):
            assert client.get("/account/api-token/").status_code == 200
    with time_machine.travel(NOW + dt.timedelta(hours=8, minutes=1), tick=False):
        assert client.get("/account/api-token/").status_code == 302


def test_session_cookie_is_httponly_lax_and_ends_with_the_browser(person: Person) -> None:
    client = Client()
    login_link_request(email="ada@example.org")
    path, _token = sent_link()
    response = open_and_confirm(client, path)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["max-age"]
    assert not cookie["expires"]


def test_production_cookies_are_secure() -> None:
    import os

    env = {key: value for key, value in os.environ.items() if key not in GOOD and key != "DEBUG"}
    env.pop("PYTEST_CURRENT_TEST", None)
    code = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env={**env, **GOOD, "PULSE_VAR_DIR": "/nonexistent/should-not-be-used"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "Lax"]


def test_the_sign_in_time_is_now_not_when_the_user_last_signed_in(person: Person) -> None:
    """Signing in again (same user, same browser) restarts the absolute clock."""
    assert person.user is not None
    client = Client()
    with time_machine.travel(NOW, tick=False):
        client.force_login(person.user)
    with time_machine.travel(NOW + dt.timedelta(hours=7, minutes=50), tick=False):
        client.force_login(person.user)
    with time_machine.travel(NOW + dt.timedelta(hours=8, minutes=10), tick=False):
        assert client.get("/account/api-token/").status_code == 200


def test_a_malformed_rate_limit_stops_start_up_naming_it() -> None:
    import os

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PULSE_RATE_LINK_IP": "ten"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "link_ip rate limit must be <attempts>/<seconds>" in result.stderr
