"""Email sign-in links (imported into ``pulse.models``).

A ``LoginLink`` is one emailed, single-use sign-in link. Only the SHA-256 of its token is stored (the token
carries 256 random bits, so a plain hash leaves nothing to brute-force, as for check-in links in
``surveys.sealing``); whoever reads the database or a backup cannot sign in with what they find. The link is
spent by a conditional UPDATE on ``used_at``, so two clicks racing each other sign in at most once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class LoginLink(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_links")
    token_hash = models.BinaryField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(used_at__isnull=True), name="login_link_unused"),
        ]

    def __str__(self) -> str:
        return f"Sign-in link {self.pk} for user {self.user_id}"
