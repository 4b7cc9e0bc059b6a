"""Passwords: Argon2id for new hashes, and an older PBKDF2 hash rewritten as Argon2 at the next sign-in.

These tests use the configured hashers (no fast test hasher), so they cost about a second each."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import identify_hasher, make_password
from django.core.cache import cache
from django.test import Client

from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long passphrase for the test"


def test_argon2id_comes_first() -> None:
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert make_password(PASSWORD).startswith("argon2$argon2id$")


def test_an_old_pbkdf2_hash_becomes_argon2_at_the_next_sign_in() -> None:
    cache.clear()  # sign-in rate limits count in the cache
    user = get_user_model().objects.create(
        username="ada@example.org",
        email="ada@example.org",
        password=make_password(PASSWORD, hasher="pbkdf2_sha256"),
    )
    PersonFactory(email="ada@example.org", display_name="Ada", user=user)
    assert identify_hasher(user.password).algorithm == "pbkdf2_sha256"
    # A wrong password changes nothing.
    refused = Client().post("/login/", {"username": "ada@example.org", "password": "wrong"})
    assert refused.status_code != 302
    user.refresh_from_db()
    assert identify_hasher(user.password).algorithm == "pbkdf2_sha256"
    signed_in = Client().post("/login/", {"username": "ada@example.org", "password": PASSWORD})
    assert signed_in.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    # And the upgraded hash signs in.
    assert Client().post("/login/", {"username": "ada@example.org", "password": PASSWORD}).status_code == 302
    cache.clear()
