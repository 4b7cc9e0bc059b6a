"""Credentials Pulse keeps to call out to other services, sealed in the database and never shown again.

A PagerDuty API key, a webhook or Slack signing secret, a Slack bot token: Pulse must read each back to use
it, so it cannot be hashed like a password. It is sealed with AES-256-GCM under the stored-secrets key ring
(``PULSE_SECRET_KEYS``, docs/operations.md §5), which lives outside the database: a dump, a backup or a
``SELECT`` shows ciphertext only. The associated data names what the secret is for and whose it is
(``purpose`` and ``context``, for example ``"pagerduty-api-key"`` and the connection's id), so a sealed value
copied into another row or column does not open there.

The stored form is text, ``<key id>:<urlsafe base64 of nonce + ciphertext>``, so it fits a ``TextField`` and
reads the same on SQLite and PostgreSQL. Opening finds its key by id, so the ring rotates by prepending a new
key; ``needs_reseal`` says which values still use an older one (re-seal them, then drop the old key).

Show a person only :func:`secret_hint` (the last four characters), never the value; never log either.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from surveys.sealing import KeyRing, SealError

__all__ = ["SealError", "needs_reseal", "secret_hint", "secret_open", "secret_seal"]


def _ring() -> KeyRing:
    keys = settings.PULSE_SECRET_KEYS
    if not keys:
        raise ImproperlyConfigured(
            "PULSE_SECRET_KEYS is not set: Pulse needs it to store a connection's credentials "
            "(docs/operations.md §5)"
        )
    return KeyRing.of(keys)


def secret_seal(plaintext: str, *, purpose: str, context: str) -> str:
    """``plaintext`` sealed for ``purpose`` and ``context`` with the newest key, as stored text."""
    key, sealed = _ring().seal(plaintext.encode(), purpose=purpose, context=context)
    return f"{key}:{base64.urlsafe_b64encode(sealed).decode()}"


def secret_open(stored: str, *, purpose: str, context: str) -> str:
    """The plaintext of ``stored``; :class:`SealError` when it was sealed for another purpose or context, was
    altered, or its key is no longer in the ring."""
    key, separator, body = stored.partition(":")
    if not separator or not body:
        raise SealError("not a sealed secret")
    try:
        sealed = base64.urlsafe_b64decode(body.encode())
    except ValueError:
        raise SealError("not a sealed secret") from None
    return _ring().open(sealed, key=key, purpose=purpose, context=context).decode()


def needs_reseal(stored: str) -> bool:
    """Whether ``stored`` was sealed with a key other than the ring's newest."""
    return stored.partition(":")[0] != _ring().current_id


def secret_hint(plaintext: str) -> str:
    """What a page may show of a secret once it is saved: its last four characters, so an admin can tell
    which key is in use; nothing at all for a secret too short to spare four."""
    return f"…{plaintext[-4:]}" if len(plaintext) >= 12 else "…"
