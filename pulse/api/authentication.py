"""``Authorization: Token <token>``: the scripts' way into the API, checked against the stored hashes.

An unknown, expired or revoked token is a 401 (``WWW-Authenticate: Token``), never a fall-through to the
session: a script whose token has run out is told so.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from pulse.services.api_tokens import api_token_authenticate

KEYWORD = "Token"
MAX_KEY_CHARS = (
    200  # a token is 49 characters (an imported DRF key 40); anything far longer is refused unread
)


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2 or len(parts[1]) > MAX_KEY_CHARS:
            raise exceptions.AuthenticationFailed("Send the header as: Authorization: Token <token>.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = api_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the OpenAPI schema describes the token header."""

    target_class = "pulse.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API token from /account/api-token/, sent as "Token <token>". Tokens expire.',
        }
