"""Reads of the surveys app."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from surveys.models import Person


def person_for_user(user: AbstractBaseUser | AnonymousUser) -> Person | None:
    """The person a signed-in user is, or None (not signed in, or a user linked to no person)."""
    if not user.is_authenticated:
        return None
    return Person.objects.select_related("organisation").filter(user_id=user.pk).first()
