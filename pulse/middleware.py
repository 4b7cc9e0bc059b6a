"""Sessions end when idle and, whatever the activity, a fixed time after sign-in.

Django's own expiry (``SESSION_COOKIE_AGE``) slides forward each time the session is saved, so on its own it
is an idle timeout with a long idle period. Pulse keeps two times in the session: when the person signed in
(set on ``user_logged_in``, so every route, password, email link or admin, starts the clock) and when they
were last seen. A request after ``PULSE_SESSION_IDLE_SECONDS`` of silence, or
``PULSE_SESSION_ABSOLUTE_SECONDS`` after sign-in, is signed out and treated as anonymous. "Last seen" is
written at most once a minute, so an active person does not cost a session write per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout, user_logged_in
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT = "_pulse_signed_in_at"
SEEN_AT = "_pulse_seen_at"
SEEN_GRANULARITY = 60  # seconds


def _stamp(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[SIGNED_IN_AT] = now
        request.session[SEEN_AT] = now


user_logged_in.connect(_stamp, dispatch_uid="pulse_session_stamp")


class SessionTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        # Checking the key, not request.user, keeps requests without a session free of any query.
        if SESSION_KEY in session:
            now = time.time()
            signed_in_at = float(session.get(SIGNED_IN_AT, now))
            seen_at = float(session.get(SEEN_AT, now))
            if (
                now - signed_in_at > settings.PULSE_SESSION_ABSOLUTE_SECONDS
                or now - seen_at > settings.PULSE_SESSION_IDLE_SECONDS
            ):
                logout(request)
            else:
                if SIGNED_IN_AT not in session:  # a session from before this middleware existed
                    session[SIGNED_IN_AT] = now
                if now - seen_at >= SEEN_GRANULARITY or SEEN_AT not in session:
                    session[SEEN_AT] = now
        return self.get_response(request)
