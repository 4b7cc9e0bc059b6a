"""API tokens: only a hash in the database, refused once expired or revoked, and the old DRF keys carried over
by the migration so scripts keep working."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import secrets
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from pulse.models import ApiToken
from pulse.services.api_tokens import MAX_LIVE_TOKENS, api_token_create, api_token_revoke
from tests.pulse.config_world import World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def calls(key: str, path: str = "/api/v1/me/checkins/") -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return int(client.get(path).status_code)


def test_the_database_holds_only_the_hash_and_a_short_prefix(world: World) -> None:
    user = world.signed_in("admin")
    token, key = api_token_create(user=user, name="export")
    assert key.startswith("pulse_")
    assert len(key) == 49
    assert calls(key) == 200
    row = ApiToken.objects.get(pk=token.pk)
    assert bytes(row.key_hash) == hashlib.sha256(key.encode()).digest()
    assert key.startswith(row.prefix)
    assert len(row.prefix) == 14
    # Nowhere in the row, in any column, is the key or its secret part (checked in the raw table).
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM pulse_apitoken WHERE id = %s", [token.pk])
        stored = cursor.fetchone()
    assert stored is not None
    for value in stored:
        text = bytes(value).hex() if isinstance(value, bytes | memoryview) else str(value)
        assert key not in text
        assert key[len(row.prefix) :] not in text
        assert key.encode().hex() not in text
    assert connection.introspection.table_names().count("authtoken_token") == 0


def test_an_expired_token_is_refused_with_401(world: World) -> None:
    start = timezone.now()
    _token, key = api_token_create(
        user=world.signed_in("engineer"), name="short", expires_in_days=1, now=start
    )
    with time_machine.travel(start + dt.timedelta(hours=23), tick=False):
        assert calls(key) == 200
    with time_machine.travel(start + dt.timedelta(days=1, seconds=1), tick=False):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        response = client.get("/api/v1/me/checkins/")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json() == {"detail": "Invalid, expired or revoked token."}


def test_a_revoked_token_is_refused_with_401_and_the_others_keep_working(world: World) -> None:
    user = world.signed_in("leader")
    first, first_key = api_token_create(user=user, name="one")
    _second, second_key = api_token_create(user=user, name="two")
    assert api_token_revoke(user=user, token_id=first.pk)
    assert not api_token_revoke(user=user, token_id=first.pk)  # a second revoke changes nothing
    assert calls(first_key) == 401
    assert calls(second_key) == 200


def test_a_token_of_a_deactivated_user_is_refused(world: World) -> None:
    user = world.signed_in("engineer")
    _token, key = api_token_create(user=user, name="x")
    user.is_active = False
    user.save()
    assert calls(key) == 401


def test_last_use_is_recorded_at_most_every_five_minutes(world: World) -> None:
    start = timezone.now()
    token, key = api_token_create(user=world.signed_in("engineer"), name="x", now=start)
    with time_machine.travel(start + dt.timedelta(minutes=1), tick=False):
        assert calls(key) == 200
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use == start + dt.timedelta(minutes=1)
    with time_machine.travel(start + dt.timedelta(minutes=3), tick=False):
        assert calls(key) == 200
    token.refresh_from_db()
    assert token.last_used_at == first_use
    with time_machine.travel(start + dt.timedelta(minutes=7), tick=False):
        assert calls(key) == 200
    token.refresh_from_db()
    assert token.last_used_at == start + dt.timedelta(minutes=7)


def test_a_user_has_at_most_twenty_live_tokens(world: World) -> None:
    user = world.signed_in("engineer")
    for number in range(MAX_LIVE_TOKENS):
        api_token_create(user=user, name=f"script {number}")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        api_token_create(user=user, name="one too many")
    api_token_revoke(user=user, token_id=ApiToken.objects.filter(user=user).first().pk)  # type: ignore[union-attr]
    api_token_create(user=user, name="after a revoke")


def test_a_malformed_header_is_401_not_a_server_error(world: World) -> None:
    for header in ("Token", "Token a b", "Token " + "x" * 500, "Token pulse_\u00e9"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/api/v1/me/checkins/").status_code == 401, header


class _Editor:
    """What the migration's function uses of a schema editor: the connection and ``execute``."""

    connection = connection

    def execute(self, sql: str, params: Any = None) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    def quote_name(self, name: str) -> str:
        return connection.ops.quote_name(name)


def test_the_migration_keeps_an_old_drf_key_working_and_drops_the_plain_table(world: World) -> None:
    user = world.signed_in("admin")
    old_key = secrets.token_hex(20)  # DRF's authtoken: 40 hex digits, the primary key
    with connection.cursor() as cursor:
        # The table as rest_framework.authtoken's 0001–0003 made it.
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone "
            "NOT NULL, user_id integer NOT NULL UNIQUE)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime NOT NULL, "
            "user_id integer NOT NULL UNIQUE)"
        )
        made = timezone.now() - dt.timedelta(days=400)
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [old_key, made, user.pk],
        )
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', %s)",
            [made],
        )
    assert calls(old_key) == 401  # not yet migrated

    migration = importlib.import_module("pulse.migrations.0008_api_tokens")
    migration.import_authtoken_keys(apps, _Editor())

    assert calls(old_key) == 200  # the script's key works on
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
    row = ApiToken.objects.get(user=user)
    assert bytes(row.key_hash) == hashlib.sha256(old_key.encode()).digest()
    assert row.prefix == old_key[:6]
    assert row.created_at.date() == made.date()
    # It expires like any new token: PULSE_API_TOKEN_DAYS from the migration.
    assert dt.timedelta(days=89) < row.expires_at - timezone.now() <= dt.timedelta(days=90)


def test_the_django_admin_lists_tokens_without_their_secret_and_revokes_them(world: World) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    token, key = api_token_create(user=world.signed_in("engineer"), name="leaky script")
    staff = User.objects.create(username="staff@example.org", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/pulse/apitoken/").content.decode()
    assert "leaky script" in listing
    assert token.prefix in listing
    assert key not in listing
    detail = client.get(f"/admin/pulse/apitoken/{token.pk}/change/").content.decode()
    assert key[len(token.prefix) :] not in detail
    assert "Key hash" not in detail
    revoked = client.post(
        "/admin/pulse/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert "1 token(s) revoked." in revoked.content.decode()
    assert calls(key) == 401
