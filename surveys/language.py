"""Which language and time zone a page is shown in: one rule, for every page (docs/languages.md §2).

In this order: the signed-in person's own language, the language of the person a token page belongs to
(the check-in and pause links), the organisation's default of either, and for anyone else the browser's
``Accept-Language`` (or the language they chose with the switch, kept in Django's language cookie).
:class:`LanguageMiddleware` applies the rule to every request; a token page, which knows its person only
once it has read the token, applies it again with :func:`activate_for`. Only languages in
``settings.LANGUAGES`` are ever chosen, so an unsupported stored value falls through to the next step.

Dates are shown in the reader's time zone: their own, else their organisation's (:func:`time_zone_of`); a
check-in page uses the round's zone where the person has none.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from surveys.models import Person
from surveys.selectors import person_for_user

# Set on the request by the middleware: the signed-in person (None: nobody, or a user with no person).
REQUEST_PERSON = "pulse_person"


def supported(code: str | None) -> str | None:
    """``code`` if it is one of the configured languages, else None."""
    known = {language for language, _name in settings.LANGUAGES}
    return code if code in known else None


def language_for(*, request: HttpRequest | None, person: Person | None = None) -> str:
    """The language of a page: the rule in this module's docstring. ``person`` is the person a token page
    belongs to; the signed-in person comes from ``request`` (set by the middleware)."""
    people = [
        candidate
        for candidate in (getattr(request, REQUEST_PERSON, None) if request else None, person)
        if candidate is not None
    ]
    for candidate in people:
        if language := supported(candidate.locale):
            return language
    for candidate in people:
        if language := supported(candidate.organisation.locale):
            return language
    if request is not None:
        return translation.get_language_from_request(request)
    return settings.LANGUAGE_CODE


def language_of(person: Person) -> str:
    """The language a person's emails are written in: their own, else their organisation's default."""
    return language_for(request=None, person=person)


def time_zone_of(person: Person) -> ZoneInfo:
    """The zone a person reads dates in: their own, else their organisation's."""
    return ZoneInfo(person.time_zone or person.organisation.time_zone or "UTC")


def activate_for(request: HttpRequest, person: Person) -> str:
    """A token page's person is known: choose the page's language again with them, and activate it.
    Returns the language (for ``<html lang>`` and the ``Content-Language`` header)."""
    language = language_for(request=request, person=person)
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


class LanguageMiddleware:
    """Activate the page's language for the request (a page showing a person's dates overrides the time
    zone itself, with :func:`time_zone_of`; pages that show no person's dates keep theirs).

    In Django's ``LocaleMiddleware``'s place, after ``AuthenticationMiddleware``. Requests without a
    signed-in session cost no query: the person is looked up only when the session names a user.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        person = None
        if session is not None and SESSION_KEY in session:
            person = person_for_user(request.user)
        setattr(request, REQUEST_PERSON, person)
        language = language_for(request=request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        # The language the page was rendered in (a token page may have changed it).
        response.headers.setdefault("Content-Language", translation.get_language())
        if person is None:
            # Anonymous pages differ by Accept-Language and the language cookie: a shared cache must not
            # hand one visitor's language to the next.
            patch_vary_headers(response, ("Accept-Language", "Cookie"))
        translation.deactivate()
        return response
