"""Throttles on the whole API: per user when signed in, per client address when not (which is the
check-in endpoint, ``POST /api/v1/checkin/``, and the schema: every other anonymous request is a 401
before throttles run).

They count in ``pulse.ratelimit`` (fixed windows in the cache, keys hashed, failing open with a warning
while the cache is down, the same trade-off as the sign-in limits) under the names ``api_user`` and
``api_anon_ip`` of ``settings.PULSE_RATE_LIMITS`` (``PULSE_RATE_API_USER``, ``PULSE_RATE_API_ANON_IP``). A
throttled request is answered 429 with ``Retry-After``, the seconds until its window ends; the schema says
so for every operation (``document_throttling``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.throttling import BaseThrottle

from pulse.ratelimit import client_ip, hit

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is still being imported
    from rest_framework.request import Request
    from rest_framework.views import APIView


class _Throttle(BaseThrottle):
    name = ""

    def __init__(self) -> None:
        self.retry_after = 0

    def key(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = self.key(request)
        if key is None:
            return True
        verdict = hit(self.name, key)
        self.retry_after = verdict.retry_after
        return verdict.allowed

    def wait(self) -> float | None:
        return self.retry_after or None


class UserThrottle(_Throttle):
    name = "api_user"

    def key(self, request: Request) -> str | None:
        user = request.user
        return f"user:{user.pk}" if user is not None and user.is_authenticated else None


class AnonymousThrottle(_Throttle):
    name = "api_anon_ip"

    def key(self, request: Request) -> str | None:
        user = request.user
        if user is not None and user.is_authenticated:
            return None
        return f"ip:{client_ip(request._request)}"


def document_throttling(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every operation may answer 429 with ``Retry-After``."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation["responses"].setdefault(
                "429",
                {
                    "description": "Too many requests from this user (signed in) or address (not signed in); "
                    "try again after Retry-After seconds",
                    "headers": {
                        "Retry-After": {
                            "description": "Seconds until the request may be made again.",
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    },
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}},
                },
            )
    return result
