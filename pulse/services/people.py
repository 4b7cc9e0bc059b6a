"""Pulse's edit of a person: the details are the ``surveys`` service's, a new email address is a request.

A person signs in by a link sent to ``Person.email``, so whoever could change that field could sign in as
them. An admin's change of address is therefore only asked for (``pulse.services.email_changes``): the new
address confirms by link, the old one is told. Everything else about the person is written by
``surveys.services.organisation.person_update``, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from pulse.services.email_changes import email_change_refusal, email_change_request
from surveys.models import Person
from surveys.services import organisation


def person_update(
    *,
    person: Person,
    changes: Mapping[str, Any],
    can_sign_in: bool | None = None,
    actor: Person | None = None,
    actor_is_staff: bool = False,
) -> Person:
    """Change a person's details; a new email address is asked for (``email_change_request``) and replaces
    the old one when it confirms by link. Only staff may change the email of a person whose user is staff
    or superuser, or another admin's (``email_change_refusal``). ``actor`` is the person making the change.
    All or nothing: any error, and nothing is saved or asked for.
    """
    wanted = dict(changes)
    new_email = str(wanted.get("email", person.email)).strip()
    # A change of letter case only is no new address: sign-in compares addresses case-insensitively.
    email_change = new_email.lower() != person.email.lower()
    errors: dict[str, list[str]] = {}
    if email_change:
        wanted.pop("email")
        # Checked against the person as they are before this change: one request cannot first demote an
        # admin, then take over their address.
        refusal = email_change_refusal(person=person, actor=actor, actor_is_staff=actor_is_staff)
        errors = {"email": [refusal]} if refusal else organisation.person_email_errors(person, new_email)
    with transaction.atomic():
        organisation.person_update(
            person=person,
            changes=wanted,
            can_sign_in=can_sign_in,
            actor_is_staff=actor_is_staff,
            errors=errors,
        )
        if email_change:
            email_change_request(person=person, new_email=new_email, requested_by=actor)
    return person
