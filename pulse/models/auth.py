"""Signing in and the email addresses it relies on.

A ``LoginLink`` is one emailed, single-use sign-in link. Only the SHA-256 of its token is stored (the token
carries 256 random bits, so a plain hash leaves nothing to brute-force, as for check-in links in
``surveys.sealing``); whoever reads the database or a backup cannot sign in with what they find. The link is
spent by a conditional UPDATE on ``used_at``, so two clicks racing each other sign in at most once. A link
names the person it was sent for; the user is created when a person without one first signs in.

An ``EmailChange`` is a requested new address for a person. ``Person.email`` is the address people sign in
with, and it only ever holds an address an admin entered for a new person or one that confirmed by link:
the new address becomes a sign-in identity when its owner presses the emailed confirm button, and the old
address is told when the change is asked for.

An ``AuthEmail`` is the outbox of these emails: the request writes one row, whatever the address, and the
minute tick (or a worker woken on commit) delivers it (``pulse.services.auth_emails``). Tokens are minted
at delivery, so no row ever holds a usable link, and a request for an unknown address costs the same one
INSERT as a request for a known one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from pulse.models.outbox import OutboxRow


class LoginLink(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_links", null=True, blank=True
    )
    person = models.ForeignKey(
        "surveys.Person", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    token_hash = models.BinaryField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(used_at__isnull=True), name="login_link_unused"),
        ]

    def __str__(self) -> str:
        return f"Sign-in link {self.pk} for person {self.person_id} (user {self.user_id})"


class EmailChange(models.Model):
    """A new address asked for a person; it replaces ``Person.email`` only when it confirms by link."""

    person = models.ForeignKey("surveys.Person", on_delete=models.CASCADE, related_name="+")
    old_email = models.EmailField(max_length=254)
    new_email = models.EmailField(max_length=254)
    requested_by = models.ForeignKey(
        "surveys.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.BinaryField(
        max_length=32, unique=True, null=True, blank=True, help_text="Set when the confirm email is sent."
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(confirmed_at__isnull=True, cancelled_at__isnull=True),
                name="email_change_one_open_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"Email change {self.pk} of person {self.person_id}"


class AuthEmail(OutboxRow):
    """One email of signing in, queued in the request and delivered by the tick or a worker."""

    class Kind(models.TextChoices):
        SIGN_IN_LINK = "sign_in_link", "Sign-in link (to whoever has the address)"
        EMAIL_CONFIRM = "email_confirm", "Confirm a new address"
        EMAIL_NOTICE = "email_notice", "Tell the old address about a change"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        NOTHING = "nothing", "Nothing to send (no one to send it to)"
        FAILED = "failed", "Failed permanently"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    address = models.EmailField(max_length=254, help_text="Sign-in link: the address typed in.")
    email_change = models.ForeignKey(
        EmailChange, null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="auth_email_pending_due"),
            models.Index(fields=["handled_at"], name="auth_email_handled"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} ({self.status})"
