"""Stored credentials: sealed with the stored-secrets ring, bound to purpose and context, rotatable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from surveys.stored_secrets import SealError, needs_reseal, secret_hint, secret_open, secret_seal

OLD, NEW = b"o" * 32, b"n" * 32


@override_settings(PULSE_SECRET_KEYS=[OLD])
def test_a_sealed_secret_opens_for_its_purpose_and_context_only() -> None:
    stored = secret_seal("u+abcdefghijklmnop", purpose="pagerduty-api-key", context="7")
    assert "abcdefghijklmnop" not in stored
    assert secret_open(stored, purpose="pagerduty-api-key", context="7") == "u+abcdefghijklmnop"
    with pytest.raises(SealError):
        secret_open(stored, purpose="pagerduty-api-key", context="8")  # copied into another row
    with pytest.raises(SealError):
        secret_open(stored, purpose="slack-bot-token", context="7")  # copied into another column


@override_settings(PULSE_SECRET_KEYS=[OLD])
def test_two_seals_of_one_secret_differ() -> None:
    assert secret_seal("same", purpose="p", context="1") != secret_seal("same", purpose="p", context="1")


def test_rotation_prepends_a_key_and_old_values_still_open_until_resealed() -> None:
    with override_settings(PULSE_SECRET_KEYS=[OLD]):
        stored = secret_seal("token-value-1234", purpose="p", context="1")
        assert not needs_reseal(stored)
    with override_settings(PULSE_SECRET_KEYS=[NEW, OLD]):
        assert needs_reseal(stored)
        assert secret_open(stored, purpose="p", context="1") == "token-value-1234"
    with override_settings(PULSE_SECRET_KEYS=[NEW]), pytest.raises(SealError):
        secret_open(stored, purpose="p", context="1")


@override_settings(PULSE_SECRET_KEYS=[OLD])
@pytest.mark.parametrize("stored", ["", "no-separator", "abc:", "abc:!!!not base64!!!", "abc:AAAA"])
def test_garbage_is_refused_as_not_a_secret(stored: str) -> None:
    with pytest.raises(SealError):
        secret_open(stored, purpose="p", context="1")


@override_settings(PULSE_SECRET_KEYS=[])
def test_without_a_ring_saving_a_secret_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="PULSE_SECRET_KEYS"):
        secret_seal("x", purpose="p", context="1")


def test_the_hint_shows_at_most_the_last_four_characters() -> None:
    assert secret_hint("xoxb-1234567890-abcd") == "…abcd"
    assert secret_hint("short") == "…"
