"""A person's own choice of language (the language switch on every signed-in page)."""

from __future__ import annotations

from django.db import transaction

from surveys.models import Person
from surveys.validators import validate_locale


@transaction.atomic
def person_language_set(*, person: Person, locale: str) -> Person:
    """Store ``locale`` as the person's language: their pages and emails follow it from now on. Refuses a
    language that is not configured (``ValidationError``); choosing the one already stored writes nothing."""
    validate_locale(locale)
    if person.locale != locale:
        person.locale = locale
        person.save(update_fields=["locale"])
    return person
