"""Reads of API tokens: a user's tokens for the token page and the API (never a key or its hash)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from pulse.models import ApiToken


def api_tokens_of(*, user: Any) -> QuerySet[ApiToken]:
    """The user's unrevoked tokens, newest first, the expired ones included (the page says so)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).defer("key_hash")
