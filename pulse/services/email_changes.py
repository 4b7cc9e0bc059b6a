"""Verified email changes: a new address becomes a sign-in identity only when it confirms by link.

Why: people sign in by a link sent to ``Person.email``, so whoever can change that field
can sign in as the person. An admin's change is therefore only a request (``EmailChange``): the new address
gets a confirm link (minted at delivery, stored as its SHA-256, valid ``CHANGE_LIFETIME``), the old address
is told at once who asked for what, and ``Person.email`` (with the linked user's email) changes when the
new address's owner presses the confirm button. Until then every sign-in link still goes to the old,
verified address. Who may ask is decided by ``pulse.services.people.person_update``
(:func:`email_change_refusal`): the email of a person linked to a staff or superuser account, or of another
admin, can be changed only by staff.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from pulse.models.auth import AuthEmail, EmailChange, LoginLink
from pulse.services.auth_emails import Outgoing, auth_email_queue, outgoing, token_digest
from surveys.language import language_of
from surveys.models import Person

CHANGE_LIFETIME = timedelta(days=2)
TOKEN_BYTES = 32


def email_change_refusal(*, person: Person, actor: Person | None, actor_is_staff: bool) -> str | None:
    """Why ``actor`` may not change this person's email (None: they may).

    Staff may change anyone's. Others may not change the email of a person whose user is staff or
    superuser (that would hand them the account and ``/admin/``), nor another admin's (that would hand
    them the other admin's account, and with it a way round this very rule).
    """
    if actor_is_staff:
        return None
    user = person.user
    if user is not None and (user.is_staff or user.is_superuser):
        return "Only staff can change the email of a person whose account is staff."
    if person.is_admin and (actor is None or actor.pk != person.pk):
        return "Only staff can change another admin's email."
    return None


def email_change_open(*, person: Person, now: datetime | None = None) -> EmailChange | None:
    """The person's change waiting for its confirmation, if any (selector for the pages and the API)."""
    return (
        EmailChange.objects.filter(
            person=person,
            confirmed_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=now or timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )


def email_changes_open_subquery() -> Subquery:
    """For ``Person.objects.annotate(pending_email=...)``: the new address waiting for confirmation."""
    return Subquery(
        EmailChange.objects.filter(
            person_id=OuterRef("pk"),
            confirmed_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .values("new_email")[:1]
    )


def email_change_request(
    *, person: Person, new_email: str, requested_by: Person | None, now: datetime | None = None
) -> EmailChange:
    """Ask for a new address, in the caller's transaction: replaces an open request, queues the confirm
    link to the new address and the notice to the old one. ``Person.email`` is not touched."""
    moment = now or timezone.now()
    EmailChange.objects.filter(person=person, confirmed_at__isnull=True, cancelled_at__isnull=True).update(
        cancelled_at=moment
    )
    change = EmailChange.objects.create(
        person=person,
        old_email=person.email,
        new_email=new_email.strip(),
        requested_by=requested_by,
        created_at=moment,
        expires_at=moment + CHANGE_LIFETIME,
    )
    auth_email_queue(
        kind=AuthEmail.Kind.EMAIL_CONFIRM, address=change.new_email, email_change=change, now=moment
    )
    auth_email_queue(
        kind=AuthEmail.Kind.EMAIL_NOTICE, address=change.old_email, email_change=change, now=moment
    )
    return change


def _requester(change: EmailChange) -> str:
    return change.requested_by.display_name if change.requested_by is not None else gettext("Staff")


def email_change_confirm_message(*, change: EmailChange, now: datetime) -> Outgoing | None:
    """The confirm email (at delivery), with a token minted now; None when the request is no longer open."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    minted = EmailChange.objects.filter(
        pk=change.pk, confirmed_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=now
    ).update(token_hash=token_digest(token))
    if minted != 1:
        return None
    context = {
        "url": settings.PULSE_BASE_URL + reverse("email_change_link", args=[token]),
        "name": change.person.display_name,
        "old": change.old_email,
        "by": _requester(change),
        "days": CHANGE_LIFETIME.days,
    }
    return outgoing(
        to=change.new_email,
        subject=gettext_lazy("Confirm your new Pulse address"),
        template="pulse/email/email_change_confirm",
        context=context,
        language=language_of(change.person),
    )


def email_change_notice_message(*, change: EmailChange) -> Outgoing:
    context = {"name": change.person.display_name, "new": change.new_email, "by": _requester(change)}
    return outgoing(
        to=change.old_email,
        subject=gettext_lazy("Your Pulse address is being changed"),
        template="pulse/email/email_change_notice",
        context=context,
        language=language_of(change.person),
    )


def email_change_pending(*, digest: bytes, now: datetime | None = None) -> EmailChange | None:
    """The open change this confirm link belongs to (for the confirm page), or None. Changes nothing."""
    return (
        EmailChange.objects.filter(
            token_hash=digest,
            confirmed_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=now or timezone.now(),
        )
        .select_related("person")
        .first()
    )


def email_change_confirm(*, digest: bytes, now: datetime | None = None) -> EmailChange | None:
    """The new address's owner pressed "Confirm": make it the person's address (and their user's).

    None when the link is unknown, used, expired or replaced. A request overtaken by another change of the
    address is cancelled; a new address someone else in the organisation now has is refused
    (``ValidationError``). Unspent sign-in links, all sent to the old address, stop working.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        change = (
            EmailChange.objects.select_for_update()
            .filter(
                token_hash=digest,
                confirmed_at__isnull=True,
                cancelled_at__isnull=True,
                expires_at__gt=moment,
            )
            .first()
        )
        if change is None:
            return None
        person = (
            Person.objects.select_for_update(of=("self",)).select_related("user").get(pk=change.person_id)
        )
        if person.email.lower() != change.old_email.lower() or not person.is_active:
            EmailChange.objects.filter(pk=change.pk).update(cancelled_at=moment)
            return None
        clash = Person.objects.filter(organisation_id=person.organisation_id, email__iexact=change.new_email)
        if clash.exclude(pk=person.pk).exists():
            raise ValidationError({"email": ["Someone in this organisation already has this email address."]})
        person.email = change.new_email
        person.save(update_fields=["email"])
        if person.user is not None:
            person.user.email = change.new_email
            person.user.save(update_fields=["email"])
        LoginLink.objects.filter(person=person, used_at__isnull=True).delete()
        EmailChange.objects.filter(pk=change.pk).update(confirmed_at=moment, token_hash=None)
        change.confirmed_at = moment
        change.person = person
    return change
