"""The navigation, by role: every page's header shows only what the signed-in person may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from pulse.permissions import caller_of_request


def navigation(request: HttpRequest) -> dict[str, Any]:
    """``nav.person``, ``nav.is_admin``, ``nav.is_leader``, ``nav.sees_results``; computed lazily, only
    when a template asks."""

    def build() -> dict[str, Any]:
        caller = caller_of_request(request) if hasattr(request, "user") else None
        return {
            "person": caller.person if caller else None,
            "is_admin": bool(caller and caller.is_admin),
            "is_leader": bool(caller and caller.is_leader),
            # Leaders see their teams' results and flags; admins see the organisation's.
            "sees_results": bool(caller and (caller.is_admin or caller.is_leader)),
        }

    return {"nav": SimpleLazyObject(build)}
