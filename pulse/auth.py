"""Sign-in by email link: request a link, spend it once.

The design follows the check-in links (DESIGN.md, "Anonymity, by construction"): the token carries 256 bits
from ``secrets`` and only its SHA-256 is stored (``pulse.models_auth.LoginLink``); the link lives 15
minutes; opening it (GET) spends nothing, because mail scanners prefetch links, and the confirm button
(POST) spends it with a conditional UPDATE, so it signs in once even when two clicks race.

Asking for a link never reveals whether an address has an account: the caller answers the same whatever
``login_link_request`` did. (One residual channel: the email is handed to the mail backend within the
request, so a slow SMTP server makes the answer for a known address slower. Production sends through a
local relay or an HTTP provider, where the difference is a few milliseconds.)
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from pulse.models_auth import LoginLink
from surveys.sealing import token_hash

LINK_LIFETIME = timedelta(minutes=15)
TOKEN_BYTES = 32  # 256 bits; the issue asks for at least 128
MAX_TOKEN_LENGTH = 100  # a urlsafe 32-byte token has 43 characters; anything far longer is not ours


def login_link_request(*, email: str, now: datetime | None = None) -> int:
    """Email a sign-in link to every active user linked to an active person with this address.

    Returns how many links were sent. Callers must not show it: the answer to the person asking is the
    same whether or not the address is known.
    """
    moment = now or timezone.now()
    address = email.strip()
    users = (
        get_user_model()
        .objects.filter(
            person__email__iexact=address,
            person__is_active=True,
            is_active=True,
        )
        .distinct()
    )
    sent = 0
    for user in users:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with transaction.atomic():
            # Housekeeping on the way: a user's spent and expired links are of no further use.
            LoginLink.objects.filter(user=user).filter(
                Q(used_at__isnull=False) | Q(expires_at__lte=moment)
            ).delete()
            LoginLink.objects.create(
                user=user, token_hash=token_hash(token), expires_at=moment + LINK_LIFETIME
            )
        url = settings.PULSE_BASE_URL + reverse("login_link", args=[token])
        context = {"url": url, "minutes": int(LINK_LIFETIME.total_seconds() // 60)}
        send_mail(
            subject="Your Pulse sign-in link",
            message=render_to_string("pulse/auth/email_link.txt", context),
            from_email=None,
            recipient_list=[address],
        )
        sent += 1
    return sent


def link_digest(token: str) -> bytes | None:
    """The stored form of a link's token, or None for a string that cannot be one of ours."""
    if not 0 < len(token) <= MAX_TOKEN_LENGTH:
        return None
    return token_hash(token)


def login_link_pending(*, digest: bytes, now: datetime | None = None) -> str | None:
    """The address a still-spendable link signs in as (for the confirm page), or None. Changes nothing."""
    link = (
        LoginLink.objects.filter(
            token_hash=digest,
            used_at__isnull=True,
            expires_at__gt=now or timezone.now(),
            user__is_active=True,
        )
        .select_related("user")
        .first()
    )
    return link.user.email if link is not None and link.user is not None else None


def login_link_spend(*, digest: bytes, now: datetime | None = None) -> AbstractBaseUser | None:
    """Spend a link: the user to sign in, or None (unknown, used, expired, or the user was deactivated).

    The conditional UPDATE is the claim: of two concurrent requests with one token, exactly one changes
    the row and signs in.
    """
    moment = now or timezone.now()
    claimed = LoginLink.objects.filter(
        token_hash=digest, used_at__isnull=True, expires_at__gt=moment, user__is_active=True
    ).update(used_at=moment)
    if claimed != 1:
        return None
    link = LoginLink.objects.select_related("user").get(token_hash=digest)
    return link.user
