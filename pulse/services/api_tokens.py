"""API tokens for scripts: made with a name and an expiry, shown once, revoked one by one.

Only the SHA-256 of a token is stored (``pulse.models.api_tokens`` says why a plain hash is enough). A request
presents the token; ``api_token_authenticate`` looks up its hash and accepts it while it is neither expired
nor revoked and its user is active.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from pulse.models import ApiToken
from surveys.validators import single_line

TOKEN_PREFIX = "pulse_"  # noqa: S105 - a label, not a secret
TOKEN_BYTES = 32  # 256 bits: 43 characters of urlsafe base64
PREFIX_CHARS = len(TOKEN_PREFIX) + 8  # shown on the token page: "pulse_" and 8 of the random characters
MAX_LIVE_TOKENS = 20  # a user's unrevoked, unexpired tokens
# A token's last use is written at most this often, so a busy script costs no write per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


def key_hash(key: str) -> bytes:
    """What the database keeps of a token."""
    return hashlib.sha256(key.encode()).digest()


def api_token_create(
    *, user: Any, name: str, expires_in_days: int | None = None, now: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """A new named token for ``user`` that expires after ``expires_in_days`` (default
    ``PULSE_API_TOKEN_DAYS``, at most ``PULSE_API_TOKEN_MAX_DAYS``). Returns the row and the token, which is
    never available again."""
    moment = now or timezone.now()
    name = single_line(name or "").strip()
    days = settings.PULSE_API_TOKEN_DAYS if expires_in_days is None else expires_in_days
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the token a name, e.g. the script that will use it."]
    elif len(name) > ApiToken._meta.get_field("name").max_length:  # type: ignore[operator]
        errors["name"] = ["At most 100 characters."]
    if (
        isinstance(days, bool)
        or not isinstance(days, int)
        or not 1 <= days <= settings.PULSE_API_TOKEN_MAX_DAYS
    ):
        errors["expires_in_days"] = [f"A whole number of days from 1 to {settings.PULSE_API_TOKEN_MAX_DAYS}."]
    if errors:
        raise ValidationError(errors)
    key = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        # Locks the user's row, so two requests at once cannot both pass the count.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        live = ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=moment).count()
        if live >= MAX_LIVE_TOKENS:
            raise ValidationError({"name": [f"You have {live} tokens; revoke one you no longer use first."]})
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=key[:PREFIX_CHARS],
            key_hash=key_hash(key),
            expires_at=moment + dt.timedelta(days=days),
        )
    return token, key


def api_token_revoke(*, user: Any, token_id: int, now: dt.datetime | None = None) -> bool:
    """Revoke one of ``user``'s tokens; False when it is not theirs or already revoked (a second call is
    harmless)."""
    changed = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
    return changed == 1


def api_tokens_revoke(*, token_ids: list[int], now: dt.datetime | None = None) -> int:
    """Revoke these tokens, whoever's they are (an admin's action on a leaked token); how many were live."""
    return ApiToken.objects.filter(pk__in=token_ids, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )


def api_token_authenticate(*, key: str, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token ``key`` is, with its user; None when it is unknown, expired, revoked or its user is
    inactive."""
    moment = now or timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=key_hash(key), revoked_at__isnull=True, expires_at__gt=moment)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or token.last_used_at < moment - LAST_USED_RESOLUTION:
        # Conditional: of many requests at once, one writes.
        ApiToken.objects.filter(pk=token.pk, last_used_at=token.last_used_at).update(last_used_at=moment)
    return token
