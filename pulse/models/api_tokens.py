"""API tokens for scripts: several per user, each named, expiring and revocable; only a hash is stored.

A token is ``pulse_`` and 43 characters of urlsafe base64 (256 bits from ``secrets``). The database keeps
its SHA-256 (``key_hash``, what a request is looked up by) and its first characters (``prefix``, not a
secret: it tells a user's tokens apart on the token page). A plain hash is enough because the secret is
random, not chosen by a person: there is nothing to guess, so a slow password hash would add nothing (the
same reasoning as ``LoginLink`` and the check-in links in ``surveys.sealing``). Whoever reads the database
or a backup therefore cannot act as anyone with what they find. The key itself is shown once, when made.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the script that uses it.")
    prefix = models.CharField(max_length=16, help_text="The token's first characters (not a secret).")
    key_hash = models.BinaryField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["user", "expires_at"], condition=Q(revoked_at__isnull=True), name="api_token_live"
            ),
        ]

    def __str__(self) -> str:
        return f"API token {self.prefix}… ({self.name}) of user {self.user_id}"
