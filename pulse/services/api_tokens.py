"""API tokens for scripts (Django REST framework's ``Token``): one per user, shown once when made."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework.authtoken.models import Token


def api_token_rotate(*, user: Any) -> str:
    """A new API token for scripts, replacing the user's old one. Shown once; DRF stores the key."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
    key: str = token.key
    return key


def api_token_revoke(*, user: Any) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
