"""Sign-in by email link: request a link, spend it once.

The design follows the check-in links (docs/anonymity.md §5): the token carries 256 bits
from ``secrets`` and only its SHA-256 is stored (``pulse.models.auth.LoginLink``); the link lives 15
minutes; opening it (GET) spends nothing, because mail scanners prefetch links, and the confirm button
(POST) spends it with a conditional UPDATE, so it signs in once even when two clicks race.

Asking for a link never reveals whether an address has an account, by its answer or by its time: the
request only queues one ``AuthEmail`` row, whatever the address (``login_link_request``), and the email is
built and sent later by the outbox (``pulse.services.auth_emails``), which looks the address up, mints the
token and sends the link to the person's own stored address. A slow or broken mail server delays the link;
it never changes the answer.

Who can sign in: every active person, by the address in ``Person.email``, which only ever holds an address
entered for a new person or one that confirmed by link (``pulse.services.email_changes``). A person with no
user yet gets one when they first spend a link; a user switched off by an admin ("can sign in" unticked)
gets no link, and nor does the person of an organisation that switched email-link sign-in off
(``Organisation.email_link_sign_in``; a link sent before it was switched off no longer signs in).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from pulse.models.auth import AuthEmail, LoginLink
from pulse.services.auth_emails import Outgoing, auth_email_queue, outgoing, token_digest
from surveys.language import language_of
from surveys.models import Person
from surveys.services.organisation import person_user_ensure

LINK_LIFETIME = timedelta(minutes=15)
TOKEN_BYTES = 32  # 256 bits; the issue asks for at least 128
MAX_TOKEN_LENGTH = 100  # a urlsafe 32-byte token has 43 characters; anything far longer is not ours


def login_link_request(*, email: str, now: datetime | None = None) -> None:
    """Queue a sign-in link for whoever has this address. The same single INSERT for every address."""
    auth_email_queue(kind=AuthEmail.Kind.SIGN_IN_LINK, address=email.strip(), now=now)


def people_who_can_sign_in(*, email: str) -> QuerySet[Person]:
    """Active people with this address whose sign-in is not switched off (no user yet, or an active one)."""
    return (
        Person.objects.filter(
            email__iexact=email.strip(), is_active=True, organisation__email_link_sign_in=True
        )
        .filter(Q(user__isnull=True) | Q(user__is_active=True))
        .select_related("user")
        .order_by("pk")
    )


def login_link_mint(*, person: Person, now: datetime | None = None) -> str:
    """A new sign-in link for this person, minted at delivery (the token is only in the email): its URL."""
    moment = now or timezone.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        # Housekeeping on the way: a person's spent and expired links are of no further use.
        LoginLink.objects.filter(person=person).filter(
            Q(used_at__isnull=False) | Q(expires_at__lte=moment)
        ).delete()
        LoginLink.objects.create(
            person=person,
            user_id=person.user_id,
            token_hash=token_digest(token),
            expires_at=moment + LINK_LIFETIME,
        )
    return settings.PULSE_BASE_URL + reverse("login_link", args=[token])


def login_link_message(*, person: Person, now: datetime | None = None) -> Outgoing:
    """The sign-in email for this person, to their stored address, with a link minted now."""
    url = login_link_mint(person=person, now=now)
    context = {"url": url, "minutes": int(LINK_LIFETIME.total_seconds() // 60)}
    return outgoing(
        to=person.email,
        subject=gettext_lazy("Your Pulse sign-in link"),
        template="pulse/email/sign_in_link",
        context=context,
        language=language_of(person),
    )


def link_digest(token: str) -> bytes | None:
    """The stored form of a link's token, or None for a string that cannot be one of ours."""
    if not 0 < len(token) <= MAX_TOKEN_LENGTH:
        return None
    return token_digest(token)


def _usable(moment: datetime) -> Q:
    """Unspent and unexpired, and the person (or, for links of older releases, the user) may sign in."""
    person_ok = Q(person__is_active=True, person__organisation__email_link_sign_in=True) & (
        Q(person__user__isnull=True) | Q(person__user__is_active=True)
    )
    return Q(used_at__isnull=True, expires_at__gt=moment) & (
        (Q(person__isnull=False) & person_ok) | Q(person__isnull=True, user__is_active=True)
    )


def login_link_pending(*, digest: bytes, now: datetime | None = None) -> str | None:
    """The address a still-spendable link signs in as (for the confirm page), or None. Changes nothing."""
    link = (
        LoginLink.objects.filter(_usable(now or timezone.now()), token_hash=digest)
        .select_related("user", "person")
        .first()
    )
    if link is None:
        return None
    if link.person is not None:
        return link.person.email
    return link.user.email if link.user is not None else None


def login_link_spend(*, digest: bytes, now: datetime | None = None) -> AbstractBaseUser | None:
    """Spend a link: the user to sign in, or None (unknown, used, expired, or sign-in switched off).

    The conditional UPDATE on the link's own columns is the claim: of two concurrent requests with one
    token, exactly one changes the row. A person signing in for the first time gets their user here.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        claimed = LoginLink.objects.filter(
            token_hash=digest, used_at__isnull=True, expires_at__gt=moment
        ).update(used_at=moment)
        if claimed != 1:
            return None
        link = LoginLink.objects.select_related("user", "person__user", "person__organisation").get(
            token_hash=digest
        )
        person = link.person
        if person is None:  # a link of an older release: it named only the user
            return link.user if link.user is not None and link.user.is_active else None
        if not person.is_active or not person.organisation.email_link_sign_in:
            return None
        if person.user is not None:
            return person.user if person.user.is_active else None
        user: AbstractBaseUser = person_user_ensure(person=person)
        return user
