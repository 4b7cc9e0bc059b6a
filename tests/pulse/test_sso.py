"""Single sign-on's own rules, below the browser journeys (tests/browser/test_sso.py): settings that stop
start-up, discovery against a served document, who a provider's claims name, and the per-organisation
switches for passwords and email links."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from pytest_django.fixtures import Settings

from config.logging_filters import redact
from pulse.auth import link_digest, login_link_mint, login_link_spend, people_who_can_sign_in
from pulse.services.oidc import (
    ProviderUnavailable,
    Refusal,
    oidc_sign_in,
    provider_config,
    provider_config_forget,
)
from surveys.models import Organisation, Person
from surveys.services.organisation import organisation_update
from tests.factories import OrganisationFactory, PersonFactory, UserFactory
from tests.test_settings import GOOD, manage

pytestmark = pytest.mark.django_db


# --- settings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing", ["PULSE_OIDC_CLIENT_ID", "PULSE_OIDC_CLIENT_SECRET", "PULSE_OIDC_ORGANISATION"]
)
def test_an_issuer_without_its_client_or_organisation_stops_start_up(missing: str) -> None:
    env = {
        **GOOD,
        "PULSE_OIDC_ISSUER": "https://login.example.com",
        "PULSE_OIDC_CLIENT_ID": "pulse",
        "PULSE_OIDC_CLIENT_SECRET": "s3cret",
        "PULSE_OIDC_ORGANISATION": "Acme",
    }
    del env[missing]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} is required when PULSE_OIDC_ISSUER is set" in result.stderr


def test_production_wants_an_https_issuer_and_scopes_with_openid() -> None:
    base = {
        **GOOD,
        "PULSE_OIDC_CLIENT_ID": "pulse",
        "PULSE_OIDC_CLIENT_SECRET": "s3cret",
        "PULSE_OIDC_ORGANISATION": "Acme",
    }
    plain = manage("check", env={**base, "PULSE_OIDC_ISSUER": "http://login.example.com"})
    assert "PULSE_OIDC_ISSUER must be an https:// URL" in plain.stderr
    scopes = manage(
        "check", env={**base, "PULSE_OIDC_ISSUER": "https://login.example.com", "PULSE_OIDC_SCOPES": "email"}
    )
    assert "PULSE_OIDC_SCOPES must include openid" in scopes.stderr
    good = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.OIDC_RP_CLIENT_ID, s.OIDC_RP_SCOPES, s.PULSE_OIDC_ISSUER)",
        env={**base, "PULSE_OIDC_ISSUER": "https://login.example.com/"},
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip().splitlines()[-1] == "pulse openid email https://login.example.com"


# --- discovery ------------------------------------------------------------------------------------------


class _Documents(BaseHTTPRequestHandler):
    document: dict[str, Any] = {}
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = json.dumps(self.document).encode()
        status = 200 if self.path == "/.well-known/openid-configuration" else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def issuer(settings: Settings) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Documents)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    _Documents.hits = 0
    _Documents.document = {
        "issuer": url,
        "authorization_endpoint": f"{url}/auth",
        "token_endpoint": f"{url}/token",
        "userinfo_endpoint": f"{url}/me",
        "jwks_uri": f"{url}/jwks",
        "end_session_endpoint": f"{url}/session/end",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
    }
    settings.PULSE_OIDC_ISSUER = url
    provider_config_forget()
    yield url
    provider_config_forget()
    server.shutdown()


def test_discovery_reads_the_endpoints_once_an_hour(issuer: str) -> None:
    config = provider_config()
    assert (config.authorization_endpoint, config.token_endpoint, config.jwks_uri) == (
        f"{issuer}/auth",
        f"{issuer}/token",
        f"{issuer}/jwks",
    )
    assert config.end_session_endpoint == f"{issuer}/session/end"
    assert config.token_auth_basic is False  # the document offers client_secret_post only
    assert provider_config() == config
    assert _Documents.hits == 1
    provider_config(refresh=True)
    assert _Documents.hits == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"issuer": "https://someone-else.example"}, "names issuer"),
        ({"token_endpoint": None}, "no usable token_endpoint"),
        ({"jwks_uri": "ftp://keys"}, "no usable jwks_uri"),
        ({"code_challenge_methods_supported": ["plain"]}, "PKCE with S256"),
        ({"response_types_supported": ["id_token"]}, "authorization code flow"),
    ],
)
def test_a_document_this_issuer_may_not_serve_is_refused(
    issuer: str, change: dict[str, Any], message: str
) -> None:
    _Documents.document = {**_Documents.document, **change}
    with pytest.raises(ProviderUnavailable, match=message):
        provider_config()


def test_an_unreachable_issuer_is_unavailable(settings: Settings) -> None:
    settings.PULSE_OIDC_ISSUER = "http://127.0.0.1:9"  # discard: nothing listens
    provider_config_forget()
    with pytest.raises(ProviderUnavailable, match=r"discovery at http://127\.0\.0\.1:9"):
        provider_config()


def test_the_start_page_says_when_the_provider_cannot_be_reached(client: Client, settings: Settings) -> None:
    settings.PULSE_OIDC_ISSUER = "http://127.0.0.1:9"
    settings.PULSE_OIDC_PROVIDER_NAME = "Acme ID"
    provider_config_forget()
    response = client.get("/login/sso/")
    assert response.status_code == 503
    assert "Acme ID cannot be reached" in response.content.decode()


# --- who the claims name --------------------------------------------------------------------------------


@pytest.fixture
def acme(settings: Settings) -> Organisation:
    settings.PULSE_OIDC_ISSUER = "https://login.example.com"
    settings.PULSE_OIDC_ORGANISATION = "Acme"
    organisation: Organisation = OrganisationFactory(name="Acme")
    return organisation


def test_a_verified_address_on_the_roster_signs_in_ignoring_case(acme: Organisation) -> None:
    person = PersonFactory(organisation=acme, email="ada@acme.example")
    result = oidc_sign_in(claims={"sub": "1", "email": " Ada@ACME.example ", "email_verified": True})
    assert result.refusal is None
    person.refresh_from_db()
    assert result.user is not None
    assert result.user == person.user
    # A provider that sends the flag as a string ("true") is understood too.
    again = oidc_sign_in(claims={"sub": "1", "email": "ada@acme.example", "email_verified": "true"})
    assert again.user == person.user


@pytest.mark.parametrize(
    ("claims", "refusal"),
    [
        ({"email": "ada@acme.example"}, Refusal.UNVERIFIED_EMAIL),
        ({"email": "ada@acme.example", "email_verified": False}, Refusal.UNVERIFIED_EMAIL),
        ({"email": "ada@acme.example", "email_verified": "false"}, Refusal.UNVERIFIED_EMAIL),
        ({"email_verified": True}, Refusal.NO_EMAIL),
        ({"email": ["ada@acme.example"], "email_verified": True}, Refusal.NO_EMAIL),
        ({"email": "grace@acme.example", "email_verified": True}, Refusal.NOT_IN_ROSTER),
        ({"email": "ada@other.example", "email_verified": True}, Refusal.NOT_IN_ROSTER),
    ],
)
def test_claims_that_name_no_one_on_the_roster_make_no_account(
    acme: Organisation, claims: dict[str, Any], refusal: Refusal
) -> None:
    PersonFactory(organisation=acme, email="ada@acme.example")
    # The same address in another organisation does not count: only the configured one's roster does.
    PersonFactory(organisation=OrganisationFactory(name="Other"), email="ada@other.example")
    users, people = get_user_model().objects.count(), Person.objects.count()
    result = oidc_sign_in(claims={"sub": "1", **claims})
    assert result.user is None
    assert result.refusal == refusal
    assert (get_user_model().objects.count(), Person.objects.count()) == (users, people)


def test_an_inactive_person_or_a_switched_off_user_is_refused(acme: Organisation) -> None:
    PersonFactory(organisation=acme, email="left@acme.example", is_active=False)
    PersonFactory(
        organisation=acme, email="off@acme.example", user=UserFactory(username="off", is_active=False)
    )
    left = oidc_sign_in(claims={"email": "left@acme.example", "email_verified": True})
    off = oidc_sign_in(claims={"email": "off@acme.example", "email_verified": True})
    assert (left.refusal, off.refusal) == (Refusal.NOT_IN_ROSTER, Refusal.SIGN_IN_OFF)


def test_the_email_claim_is_configurable(acme: Organisation, settings: Settings) -> None:
    settings.PULSE_OIDC_EMAIL_CLAIM = "upn"
    person = PersonFactory(organisation=acme, email="ada@acme.example")
    result = oidc_sign_in(claims={"upn": "ada@acme.example", "email": "x@y.example", "email_verified": True})
    assert result.user is not None
    assert result.user.pk == Person.objects.get(pk=person.pk).user_id


def test_no_configured_organisation_signs_no_one_in(acme: Organisation, settings: Settings) -> None:
    settings.PULSE_OIDC_ORGANISATION = "Renamed Ltd"
    PersonFactory(organisation=acme, email="ada@acme.example")
    result = oidc_sign_in(claims={"email": "ada@acme.example", "email_verified": True})
    assert result.refusal == Refusal.NOT_CONFIGURED


# --- the pages ------------------------------------------------------------------------------------------


def test_the_sign_in_page_offers_the_provider_only_when_configured(
    client: Client, settings: Settings
) -> None:
    OrganisationFactory(name="Acme")
    assert "Sign in with" not in client.get("/login/").content.decode()
    settings.PULSE_OIDC_ISSUER = "https://login.example.com"
    settings.PULSE_OIDC_PROVIDER_NAME = "Acme ID"
    page = client.get("/login/?next=/flags/").content.decode()
    assert 'href="/login/sso/?next=/flags/"' in page
    assert "Sign in with Acme ID" in page


def test_a_callback_this_browser_did_not_start_is_refused(client: Client, settings: Settings) -> None:
    settings.PULSE_OIDC_ISSUER = "http://127.0.0.1:9"  # never asked: the state is refused first
    response = client.get("/login/sso/callback/", {"code": "abc", "state": "forged"})
    assert response.status_code == 400
    assert 'data-reason="state"' in response.content.decode()


def test_sso_pages_are_404_without_an_issuer(client: Client) -> None:
    assert client.get("/login/sso/").status_code == 404
    assert client.get("/login/sso/callback/", {"code": "a", "state": "b"}).status_code == 404


def test_the_callbacks_code_and_state_never_reach_a_log_line() -> None:
    line = '"GET /login/sso/callback/?code=Xy_9-abc.def&state=s7&iss=http%3A%2F%2Fidp HTTP/1.1" 302'
    assert (
        redact(line)
        == '"GET /login/sso/callback/?code=[redacted]&state=[redacted]&iss=http%3A%2F%2Fidp HTTP/1.1" 302'
    )


# --- switching passwords and email links off per organisation ----------------------------------------------


def test_an_organisation_keeps_at_least_one_way_to_sign_in(acme: Organisation, settings: Settings) -> None:
    other = OrganisationFactory(name="Other")
    with pytest.raises(ValidationError) as refused:
        organisation_update(
            organisation=other, changes={"password_sign_in": False, "email_link_sign_in": False}
        )
    assert "Keep at least one way to sign in" in str(refused.value)
    # The organisation the provider signs in may rely on it alone.
    organisation_update(organisation=acme, changes={"password_sign_in": False, "email_link_sign_in": False})
    acme.refresh_from_db()
    assert (acme.password_sign_in, acme.email_link_sign_in) == (False, False)


def test_the_admin_form_switches_them(client: Client, acme: Organisation) -> None:
    admin = UserFactory(username="admin@acme.example")
    PersonFactory(organisation=acme, email="admin@acme.example", user=admin, is_admin=True)
    client.force_login(admin)
    form = {
        "name": "Acme",
        "min_group_size": "5",
        "time_zone": "UTC",
        "locale": "en",
        "email_link_sign_in": "on",
    }
    assert client.post("/manage/organisation/", form).status_code == 302
    acme.refresh_from_db()
    assert (acme.password_sign_in, acme.email_link_sign_in) == (False, True)
    page = client.get("/manage/organisation/").content.decode()
    assert "People may sign in with a password" in page


def test_a_right_password_of_an_organisation_without_passwords_does_not_sign_in(
    client: Client, acme: Organisation, settings: Settings
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PULSE_OIDC_PROVIDER_NAME = "Acme ID"
    user = UserFactory(username="ada@acme.example", password="correct horse battery")
    PersonFactory(organisation=acme, email="ada@acme.example", user=user)
    credentials = {"username": "ada@acme.example", "password": "correct horse battery"}
    assert client.post("/login/", credentials).status_code == 302
    client.logout()
    organisation_update(organisation=acme, changes={"password_sign_in": False})
    refused = client.post("/login/", credentials)
    assert refused.status_code == 403
    assert "switched password sign-in off. Sign in with Acme ID instead." in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # An operator's account, no organisation's person, keeps its password.
    UserFactory(username="operator", password="correct horse battery", is_staff=True)
    assert (
        client.post("/login/", {"username": "operator", "password": "correct horse battery"}).status_code
        == 302
    )


def test_email_links_stop_when_the_organisation_switches_them_off(acme: Organisation) -> None:
    person = PersonFactory(organisation=acme, email="ada@acme.example")
    assert list(people_who_can_sign_in(email="ada@acme.example")) == [person]
    url = login_link_mint(person=person)
    organisation_update(organisation=acme, changes={"email_link_sign_in": False})
    assert list(people_who_can_sign_in(email="ada@acme.example")) == []
    digest = link_digest(url.rstrip("/").rsplit("/", 1)[1])
    assert digest is not None
    assert login_link_spend(digest=digest) is None


def test_the_sign_in_page_hides_what_no_organisation_allows(client: Client, acme: Organisation) -> None:
    organisation_update(organisation=acme, changes={"password_sign_in": False})
    page = client.get("/login/").content.decode()
    assert 'id="id_password"' not in page
    assert "Email me a sign-in link" in page


def test_signing_out_of_a_password_session_stays_at_pulse(client: Client) -> None:
    client.force_login(UserFactory())
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/logout/").status_code == 405
