"""Sign-in through the organisation's OpenID provider: mozilla-django-oidc's code flow, with Pulse's checks.

Why mozilla-django-oidc and not django-allauth: Pulse needs exactly one provider per installation, set
from the environment, and no accounts of its own making. mozilla-django-oidc is one authentication backend
and two views (start, callback) that slot in beside the existing password and email-link sign-in, with
PKCE, state and nonce built in; allauth brings its own account model, sign-up, email confirmation, forms
and templates, all of which Pulse would have to switch off or restyle (docs/operations.md §14).

What Pulse adds on top of the library (each is tested against a real provider, tests/browser/test_sso.py):

- endpoints and keys from the issuer's discovery document (``pulse.services.oidc.provider_config``), so
  the backend and views read no endpoint settings;
- the ID token is checked for its audience (our client id, and ``azp`` when there are several), issuer,
  expiry and issue time, which the library leaves out (it decodes with ``verify_aud`` off);
- the userinfo answer must name the same subject as the ID token (OpenID Connect Core §5.3.2);
- the person is found on the organisation's roster by verified email (``pulse.services.oidc``), never made;
- every failure is a page that says what happened (a replayed or foreign state, a wrong audience, an
  expired token, an address the roster does not have), not a bare 400 or a redirect.

Signing out of a session that began here also ends the provider's session (RP-initiated logout), so the
next "Sign in with ..." asks the provider again.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model, logout
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView
from requests.auth import HTTPBasicAuth

from pulse.services.oidc import ProviderConfig, ProviderUnavailable, Refusal, oidc_sign_in, provider_config

logger = logging.getLogger(__name__)

BACKEND = "pulse.web.oidc.Backend"
REFUSAL_ATTRIBUTE = "pulse_oidc_refusal"
# Seconds of clock difference allowed between the provider and us when checking exp and iat.
LEEWAY = 60

STATUS = {
    Refusal.NOT_CONFIGURED: 404,
    Refusal.PROVIDER_UNAVAILABLE: 503,
    Refusal.PROVIDER_ERROR: 502,
    Refusal.STATE: 400,
    Refusal.WRONG_AUDIENCE: 400,
    Refusal.EXPIRED: 400,
    Refusal.INVALID_TOKEN: 400,
    Refusal.NO_EMAIL: 403,
    Refusal.UNVERIFIED_EMAIL: 403,
    Refusal.NOT_IN_ROSTER: 403,
    Refusal.SIGN_IN_OFF: 403,
}


class Refused(Exception):
    """Raised inside the backend to end a sign-in with a reason (not SuspiciousOperation, which the library
    turns into a silent None)."""

    def __init__(self, refusal: Refusal, email: str = "") -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.email = email


def _refuse(request: HttpRequest, refusal: Refusal, email: str = "") -> None:
    logger.warning("single sign-on refused: %s", refusal.value)  # never the token, never the address
    setattr(request, REFUSAL_ATTRIBUTE, (refusal, email))


def refusal_page(request: HttpRequest, refusal: Refusal, email: str = "") -> HttpResponse:
    context = {
        "reason": refusal.value,
        "email": email,
        "provider": settings.PULSE_OIDC_PROVIDER_NAME,
        "organisation": settings.PULSE_OIDC_ORGANISATION,
    }
    return render(request, "pulse/auth/sso_refused.html", context, status=STATUS[refusal])


class Backend(OIDCAuthenticationBackend):
    """The library's backend, with endpoints from discovery and the checks it leaves out (see above)."""

    config: ProviderConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django builds a backend for every request of a signed-in session (get_user): read no endpoint and
        # fetch nothing here; discovery happens in authenticate.
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:  # type: ignore[override]
        # Django offers every sign-in (a password too) to every backend; only the callback passes a nonce.
        if request is None or "nonce" not in kwargs or not settings.PULSE_OIDC_ISSUER:
            return None
        try:
            self.config = provider_config()
        except ProviderUnavailable as error:
            logger.warning("single sign-on: %s", error)
            _refuse(request, Refusal.PROVIDER_UNAVAILABLE)
            return None
        self.OIDC_OP_TOKEN_ENDPOINT = self.config.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = self.config.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = self.config.jwks_uri
        try:
            return super().authenticate(request, **kwargs)
        except Refused as refused:
            _refuse(request, refused.refusal, refused.email)
        except (requests.RequestException, SuspiciousOperation, ValueError, KeyError) as error:
            logger.warning("single sign-on: the provider's answer was unusable: %s", type(error).__name__)
            _refuse(request, Refusal.PROVIDER_ERROR)
        return None

    def get_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The token request, authenticating the way the provider's discovery document allows."""
        auth = None
        data = dict(payload)
        if self.config.token_auth_basic:
            auth = HTTPBasicAuth(data.pop("client_id"), data.pop("client_secret"))
        response = requests.post(
            self.config.token_endpoint, data=data, auth=auth, timeout=settings.OIDC_TIMEOUT
        )
        if response.status_code != 200:
            # The provider's error code only (RFC 6749 §5.2); the body may echo what we sent.
            error = (
                response.json().get("error", "?")
                if response.headers.get("content-type", "").startswith("application/json")
                else "?"
            )
            logger.warning("single sign-on: token request answered %s (%s)", response.status_code, error)
            raise Refused(Refusal.PROVIDER_ERROR)
        answer: dict[str, Any] = response.json()
        return answer

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The ID token's signature by a key of the provider's set, its audience, issuer, expiry, issue time
        and nonce. A token that fails any of them signs no one in."""
        if not isinstance(token, str) or not token:
            raise Refused(Refusal.INVALID_TOKEN)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
                raise Refused(Refusal.INVALID_TOKEN)
            key = self.retrieve_matching_jwk(token)
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=self.config.issuer,
                leeway=LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidAudienceError:
            raise Refused(Refusal.WRONG_AUDIENCE) from None
        except jwt.ExpiredSignatureError:
            raise Refused(Refusal.EXPIRED) from None
        except (jwt.InvalidTokenError, SuspiciousOperation):
            raise Refused(Refusal.INVALID_TOKEN) from None
        # Core §3.1.3.7: with more than one audience, the token must be for us (azp).
        audience = payload["aud"]
        if isinstance(audience, list) and len(audience) > 1 and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise Refused(Refusal.WRONG_AUDIENCE)
        if "nonce" in kwargs and payload.get("nonce") != kwargs["nonce"]:
            raise Refused(Refusal.INVALID_TOKEN)
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = requests.get(
            self.config.userinfo_endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=settings.OIDC_TIMEOUT,
        )
        response.raise_for_status()
        if response.headers.get("content-type", "").lower().startswith("application/jwt"):
            return self.verify_token(response.text)
        claims: dict[str, Any] = response.json()
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        """The roster's person for the verified claims (``oidc_sign_in``) or a refusal; never a new person."""
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if not isinstance(userinfo, dict) or userinfo.get("sub") != payload["sub"]:
            raise Refused(Refusal.INVALID_TOKEN)
        result = oidc_sign_in(claims={**payload, **userinfo})
        if result.user is None:
            raise Refused(result.refusal or Refusal.NOT_IN_ROSTER, result.email)
        return result.user

    def get_user(self, user_id: Any) -> Any:
        # Django's own lookup, which refuses a user switched off since (the library's skips that check).
        return ModelBackend.get_user(self, user_id)


class StartView(OIDCAuthenticationRequestView):
    """``/login/sso/``: to the provider, with state, nonce and a PKCE challenge kept in the session."""

    def __init__(self, **kwargs: Any) -> None:
        View.__init__(self, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.PULSE_OIDC_ISSUER:
            raise Http404("single sign-on is not configured")
        try:
            config = provider_config()
        except ProviderUnavailable as error:
            logger.warning("single sign-on: %s", error)
            return refusal_page(request, Refusal.PROVIDER_UNAVAILABLE)
        self.OIDC_OP_AUTH_ENDPOINT = config.authorization_endpoint
        response = super().get(request)
        response["Cache-Control"] = "no-store"
        return response


class CallbackView(OIDCAuthenticationCallbackView):
    """``/login/sso/callback/``: the provider's answer. A state this browser did not start (or already
    spent) is refused before anything is sent to the provider."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.PULSE_OIDC_ISSUER:
            raise Http404("single sign-on is not configured")
        states = request.session.get("oidc_states")
        state = request.GET.get("state", "")
        if not request.GET.get("error") and not (isinstance(states, dict) and state in states):
            return refusal_page(request, Refusal.STATE)
        if request.GET.get("error"):
            # The library spends the state and signs out; the page says the provider did not sign in.
            logger.warning("single sign-on: the provider answered %s", request.GET["error"][:64])
            setattr(request, REFUSAL_ATTRIBUTE, (Refusal.PROVIDER_ERROR, ""))
        return super().get(request)

    def login_failure(self) -> HttpResponse:
        refusal, email = getattr(self.request, REFUSAL_ATTRIBUTE, (Refusal.PROVIDER_ERROR, ""))
        return refusal_page(self.request, refusal, email)


@never_cache
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """End the session; one that began at the provider also ends there (RP-initiated logout 1.0), which
    sends the browser back to the sign-in page."""
    through_provider = request.session.get(BACKEND_SESSION_KEY) == BACKEND
    logout(request)
    target = resolve_url(settings.LOGOUT_REDIRECT_URL)
    if through_provider and settings.PULSE_OIDC_ISSUER:
        try:
            config = provider_config()
        except ProviderUnavailable:
            config = None
        if config is not None and config.end_session_endpoint:
            query = urlencode(
                {
                    "client_id": settings.OIDC_RP_CLIENT_ID,
                    "post_logout_redirect_uri": request.build_absolute_uri(target),
                }
            )
            return redirect(f"{config.end_session_endpoint}?{query}")
    return redirect(target)
