"""Pause and resume a person's check-in emails: the List-Unsubscribe link of every check-in email.

Every invitation and reminder carries ``List-Unsubscribe`` (RFC 2369) with an HTTPS link to
``/emails/pause/<token>/`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), so a
mail client's "Unsubscribe" button pauses them with one POST, and the link in the email's footer opens a
page that asks first (a GET changes nothing: mail scanners prefetch links).

The token names the person, never a round or an answer: the same link in every check-in email to them. It
is the person's id and an HMAC-SHA256 (RFC 2104) of it under a key derived from the token key ring
(``PULSE_TOKEN_KEYS``), truncated to 128 bits, so nobody can make one for another person, and nothing is
stored to look it up. Links minted with an older key of the ring keep working until that key is removed.
Pausing is a state of the person (``Person.emails_paused_at``) that the sender reads; admins see it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from surveys.models import Person
from surveys.sealing import KeyRing

_PURPOSE = b"pulse:checkin-emails-pause:v1"
_MAC_BYTES = 16
_ID = struct.Struct(">Q")
TOKEN_LENGTH = 32  # base64 of 8 + 16 bytes, no padding


def _mac(key: bytes, person_id: int) -> bytes:
    # A key of its own for this purpose, so a pause token is never the MAC of anything else made with the
    # ring's keys.
    derived = hmac.new(key, _PURPOSE, hashlib.sha256).digest()
    return hmac.new(derived, _ID.pack(person_id), hashlib.sha256).digest()[:_MAC_BYTES]


def pause_token(person_id: int, *, ring: KeyRing | None = None) -> str:
    """The token of this person's pause link, with the ring's newest key."""
    keys = (ring or KeyRing.from_settings()).keys
    raw = _ID.pack(person_id) + _mac(keys[0], person_id)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def pause_url(token: str) -> str:
    return settings.PULSE_BASE_URL + reverse("checkin_emails_pause", args=[token])


def person_for_pause_token(token: str, *, ring: KeyRing | None = None) -> Person | None:
    """The person a pause link belongs to, or None for anything that is not a valid link (compared in
    constant time with each key of the ring)."""
    if len(token) != TOKEN_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    person_id, mac = _ID.unpack(raw[: _ID.size])[0], raw[_ID.size :]
    keys = (ring or KeyRing.from_settings()).keys
    if not any(hmac.compare_digest(_mac(key, person_id), mac) for key in keys):
        return None
    return Person.objects.select_related("organisation").filter(pk=person_id).first()


def checkin_emails_pause(*, person: Person, now: datetime | None = None) -> bool:
    """Pause this person's check-in emails. Returns False when they were paused already (kept as it was)."""
    moment = now or timezone.now()
    changed = Person.objects.filter(pk=person.pk, emails_paused_at__isnull=True).update(
        emails_paused_at=moment
    )
    if changed:
        person.emails_paused_at = moment
        _record_history(person, "Paused check-in emails (link in an email)")
    return bool(changed)


def checkin_emails_resume(*, person: Person) -> bool:
    """Send this person's check-in emails again. Returns False when they were not paused."""
    changed = Person.objects.filter(pk=person.pk, emails_paused_at__isnull=False).update(
        emails_paused_at=None
    )
    if changed:
        person.emails_paused_at = None
        _record_history(person, "Resumed check-in emails (link in an email)")
    return bool(changed)


def _record_history(person: Person, reason: str) -> None:
    """A row in the person's change history, as a save would write (the conditional UPDATE above writes
    none), so admins see when and how the emails were paused."""
    fresh = Person.objects.get(pk=person.pk)
    fresh._change_reason = reason  # type: ignore[attr-defined]
    fresh.save(update_fields=["emails_paused_at"])
