"""Reads of the surveys app."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from surveys.models import Invitation, Person, Round, TickHeartbeat


def person_for_user(user: AbstractBaseUser | AnonymousUser) -> Person | None:
    """The person a signed-in user acts as, or None: not signed in, a user linked to no person, or a
    deactivated person. A deactivated person may do nothing, whatever session or token their user still
    holds; every page and API call that acts for a person starts here (``pulse.permissions.caller_for``)."""
    if not user.is_authenticated:
        return None
    return Person.objects.select_related("organisation").filter(user_id=user.pk, is_active=True).first()


def checkins_of(person: Person) -> QuerySet[Invitation]:
    """The person's own invitations to open rounds, soonest to close first: whether they answered, never
    what."""
    return (
        Invitation.objects.filter(person=person, round__status=Round.Status.OPEN)
        .select_related("round__schedule")
        .order_by("round__closes_at", "pk")
    )


def tick_last_started_at() -> datetime | None:
    """When the minute tick last started (``surveys.services.tick``), or None if it never ran."""
    return (
        TickHeartbeat.objects.filter(name=TickHeartbeat.MINUTE).values_list("started_at", flat=True).first()
    )
