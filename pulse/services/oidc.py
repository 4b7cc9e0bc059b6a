"""Single sign-on through the organisation's OpenID provider: discovery, and who a sign-in names.

The installation has one provider, configured from the environment (``PULSE_OIDC_*``, docs/operations.md
§14), for one organisation (``PULSE_OIDC_ORGANISATION``). The protocol itself (the code flow with PKCE,
state and nonce, the ID token's signature) is mozilla-django-oidc's, wrapped in ``pulse.web.oidc``; this
module holds what is Pulse's own:

- ``provider_config``: the provider's endpoints and key set from its discovery document
  (``<issuer>/.well-known/openid-configuration``, OpenID Connect Discovery 1.0 §4), fetched when first
  needed and kept for an hour, so the operator configures the issuer only and a provider that moves an
  endpoint is followed.
- ``oidc_sign_in``: the person a provider's claims name. Only an address the provider says it verified
  (``email_verified``) counts, and only among the active people of the organisation's roster: single
  sign-on never makes a person, and someone the provider knows but the roster does not gets a refusal.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from surveys.models import Organisation, Person
from surveys.services.organisation import person_user_ensure

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_SECONDS = 3600


class ProviderUnavailable(Exception):
    """The discovery document could not be fetched or is not one this issuer may serve."""


@dataclass(frozen=True)
class ProviderConfig:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str
    # client_secret_basic is the default of the specification; client_secret_post only if that is all.
    token_auth_basic: bool


_lock = threading.Lock()
_cached: dict[str, tuple[float, ProviderConfig]] = {}


def provider_config(*, refresh: bool = False) -> ProviderConfig:
    """The configured provider's endpoints, from its discovery document (cached for an hour per issuer)."""
    issuer = settings.PULSE_OIDC_ISSUER
    if not issuer:
        raise ProviderUnavailable("single sign-on is not configured (PULSE_OIDC_ISSUER)")
    with _lock:
        hit = _cached.get(issuer)
        if hit is not None and not refresh and time.monotonic() - hit[0] < DISCOVERY_SECONDS:
            return hit[1]
    config = _discover(issuer)
    with _lock:
        _cached[issuer] = (time.monotonic(), config)
    return config


def provider_config_forget() -> None:
    """Drop the cached discovery documents (tests that start a provider on a new port)."""
    with _lock:
        _cached.clear()


def _discover(issuer: str) -> ProviderConfig:
    try:
        response = requests.get(issuer + DISCOVERY_PATH, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"discovery at {issuer}{DISCOVERY_PATH} failed: {error}") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable("the discovery document is not a JSON object")
    # Discovery §4.3: the issuer in the document must be exactly the one configured, or its tokens would
    # be checked against someone else's name.
    if document.get("issuer", "").rstrip("/") != issuer:
        raise ProviderUnavailable(
            f"the discovery document names issuer {document.get('issuer')!r}, not {issuer!r}"
        )
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise ProviderUnavailable(f"the discovery document has no usable {name}")
        if settings.PRODUCTION and not value.startswith("https://"):
            raise ProviderUnavailable(f"{name} must be https:// in production, got {value!r}")
        endpoints[name] = value
    if "code" not in document.get("response_types_supported", ["code"]):
        raise ProviderUnavailable("the provider does not offer the authorization code flow")
    if "S256" not in document.get("code_challenge_methods_supported", ["S256"]):
        raise ProviderUnavailable("the provider does not offer PKCE with S256")
    methods = document.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    end_session = document.get("end_session_endpoint")
    return ProviderConfig(
        issuer=issuer,
        end_session_endpoint=end_session if isinstance(end_session, str) else "",
        token_auth_basic="client_secret_basic" in methods or "client_secret_post" not in methods,
        **endpoints,
    )


class Refusal(enum.Enum):
    """Why a sign-in through the provider did not sign anyone in; each has its own page text."""

    NOT_CONFIGURED = "not_configured"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_ERROR = "provider_error"
    STATE = "state"
    WRONG_AUDIENCE = "wrong_audience"
    EXPIRED = "expired"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (a reason, not a secret)
    NO_EMAIL = "no_email"
    UNVERIFIED_EMAIL = "unverified_email"
    NOT_IN_ROSTER = "not_in_roster"
    SIGN_IN_OFF = "sign_in_off"


@dataclass(frozen=True)
class SignInResult:
    user: AbstractBaseUser | None
    refusal: Refusal | None = None
    email: str = ""


def _verified(claims: dict[str, Any]) -> bool:
    # A boolean by OpenID Connect Core §5.1; some providers send the string "true".
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def oidc_sign_in(*, claims: dict[str, Any]) -> SignInResult:
    """The user for the person these (already verified) claims name, made on their first sign-in; or why not.

    The person is found by the claim ``PULSE_OIDC_EMAIL_CLAIM`` among the active people of the configured
    organisation, ignoring case, and only when the provider marks the address verified.
    """
    organisation = Organisation.objects.filter(name=settings.PULSE_OIDC_ORGANISATION).first()
    if organisation is None or not organisation.single_sign_on:
        return SignInResult(None, Refusal.NOT_CONFIGURED)
    raw = claims.get(settings.PULSE_OIDC_EMAIL_CLAIM)
    email = raw.strip() if isinstance(raw, str) else ""
    if "@" not in email:
        return SignInResult(None, Refusal.NO_EMAIL)
    if not _verified(claims):
        return SignInResult(None, Refusal.UNVERIFIED_EMAIL, email)
    person = (
        Person.objects.filter(organisation=organisation, email__iexact=email, is_active=True)
        .select_related("user")
        .first()
    )
    if person is None:
        return SignInResult(None, Refusal.NOT_IN_ROSTER, email)
    if person.user is not None and not person.user.is_active:
        return SignInResult(None, Refusal.SIGN_IN_OFF, email)
    user: AbstractBaseUser = person_user_ensure(person=person)
    return SignInResult(user, None, email)
