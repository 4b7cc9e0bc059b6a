"""Django admin for flags, notification channels, the notification outbox, the sign-in outbox and API tokens.

Flags and notifications are read-only here: their states change only through the services (so every
change has its event). Admins see failed deliveries with their reasons, and configure channels.
"""

from __future__ import annotations

from typing import TypeVar

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from pulse.models import (
    Action,
    ApiToken,
    AuthEmail,
    EmailChange,
    Flag,
    FlagEvent,
    Notification,
    NotificationChannel,
)
from pulse.services.api_tokens import api_tokens_revoke

_M = TypeVar("_M", bound=Model)


class _ReadOnlyFlagInline(admin.TabularInline[_M, Flag]):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class FlagEventInline(_ReadOnlyFlagInline[FlagEvent]):
    model = FlagEvent
    fields = ("at", "kind", "from_state", "to_state", "actor_label", "why")


class ActionInline(_ReadOnlyFlagInline[Action]):
    model = Action
    fields = ("what", "who", "due_on", "created_by", "created_at")


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin[Flag]):
    list_display = ("team", "metric", "kind", "state", "severity", "opened_at", "escalation_level")
    list_filter = ("state", "severity", "kind", "organisation")
    search_fields = ("team__name", "metric", "explanation")
    inlines = (FlagEventInline, ActionInline)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin[NotificationChannel]):
    list_display = ("name", "organisation", "kind", "team", "min_severity", "is_active")
    list_filter = ("kind", "is_active", "organisation")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    list_display = (
        "created_at",
        "transport",
        "recipient",
        "channel",
        "status",
        "attempts",
        "due_at",
        "last_error",
    )
    list_filter = ("status", "transport", "organisation")
    search_fields = ("subject", "last_error", "idempotency_key")
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class _ReadOnlyAdmin(admin.ModelAdmin[_M]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AuthEmail)
class AuthEmailAdmin(_ReadOnlyAdmin[AuthEmail]):
    """Sign-in links and email-change messages: what was queued, sent, or failed and why."""

    list_display = ("created_at", "kind", "status", "attempts", "due_at", "handled_at", "last_error")
    list_filter = ("status", "kind")
    readonly_fields = [field.name for field in AuthEmail._meta.fields]


@admin.register(EmailChange)
class EmailChangeAdmin(_ReadOnlyAdmin[EmailChange]):
    """Requested address changes: who asked, from what to what, and whether the new address confirmed."""

    list_display = ("created_at", "person", "old_email", "new_email", "requested_by", "confirmed_at")
    search_fields = ("old_email", "new_email", "person__display_name")
    exclude = ("token_hash",)
    readonly_fields = [field.name for field in EmailChange._meta.fields if field.name != "token_hash"]


@admin.register(ApiToken)
class ApiTokenAdmin(_ReadOnlyAdmin[ApiToken]):
    """Scripts' API tokens: whose, what for, until when, last used. Never the token, nor its hash; a leaked
    token is revoked here (its user can make a new one)."""

    list_display = ("prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    exclude = ("key_hash",)
    readonly_fields = [field.name for field in ApiToken._meta.fields if field.name != "key_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = api_tokens_revoke(token_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
