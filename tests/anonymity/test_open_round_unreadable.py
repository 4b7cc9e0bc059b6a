"""While a round is open, someone who can read the database but not the round key store reads no answer.

The attacker here has what an analyst, a DBA, a replica or a backup has: every table, with raw SQL. They
know the people (Participation, Invitation) and look for what those people answered. docs/anonymity.md:
the answers exist only as ballots sealed to the round's own public key, whose private half is in the round
key store, outside the database (surveys/sealing.py, surveys/round_keys.py).
"""

from __future__ import annotations

import base64
import json
import os
import random
import zlib
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from surveys.models import Invitation, SealedBallot
from surveys.round_keys import round_key_store
from surveys.sealing import KeyRing, SealError, open_ballot, open_token, round_keypair
from tests.helpers_rounds import OpenRound, answers_for, as_form, open_round, opened_ballots


def _every_value_in_the_database() -> list[tuple[str, Any]]:
    """(table, value) for every column of every row of every table, read with raw SQL."""
    found: list[tuple[str, Any]] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                found.extend((table, value) for value in row if value is not None)
    return found


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, memoryview | bytes | bytearray):
        return bytes(value)
    return str(value).encode()


def _encodings(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [
        raw,
        secret.encode("utf-16-le"),
        raw.hex().encode(),
        base64.b64encode(raw),
        json.dumps(secret).encode(),
    ]


@pytest.fixture
def answered(db: None) -> tuple[OpenRound, dict[int, dict[str, Any]]]:
    setup = open_round(people_per_team=(6,))
    client = Client()
    rng = random.Random(11)
    submitted = {}
    for person in setup.people:
        answers = answers_for(
            setup.round, rng=rng, comment=f"canary-{os.urandom(8).hex()} my lead ignores on-call load"
        )
        assert client.post(f"/checkin/{setup.token_of(person)}/", as_form(answers)).status_code == 200
        submitted[person.pk] = answers
    return setup, submitted


def test_no_comment_text_anywhere_in_the_database(
    answered: tuple[OpenRound, dict[int, dict[str, Any]]],
) -> None:
    _setup, submitted = answered
    values = _every_value_in_the_database()
    assert any(table == "surveys_sealedballot" for table, _value in values)  # the scan does see the ballots
    blob = b"\n".join(_as_bytes(value) for _table, value in values)
    for answers in submitted.values():
        canary = answers["comment_1"].split()[0]
        for encoded in _encodings(canary):
            assert encoded not in blob, f"{canary} readable in the database"
    # The attacker also knows the question keys: no answer is stored under them either.
    for key in ("who5_1", "workload1_1", '"answers"'):
        assert key.encode() not in b"\n".join(
            _as_bytes(value)
            for table, value in values
            if table in ("surveys_sealedballot", "surveys_participation")
        )


def test_ballots_are_indistinguishable_from_random_bytes(
    answered: tuple[OpenRound, dict[int, dict[str, Any]]],
) -> None:
    """Ciphertext does not compress; the same answers in plain JSON compress well. So the test would catch
    a ballot stored in clear or with a weak encoding (base64, a fixed XOR)."""
    setup, _submitted = answered
    with connection.cursor() as cursor:
        cursor.execute("SELECT ciphertext FROM surveys_sealedballot WHERE round_id = %s", [setup.round.pk])
        rows = [bytes(sealed) for (sealed,) in cursor.fetchall()]
    assert len(rows) == 6
    sealed = b"".join(rows)
    assert len(zlib.compress(sealed, 9)) >= len(sealed)
    plain = b"".join(json.dumps(payload, sort_keys=True).encode() for payload in opened_ballots(setup.round))
    assert len(zlib.compress(plain, 9)) < 0.8 * len(plain)
    # Two identical submissions would not even look alike (a fresh ephemeral key per ballot).
    assert len({body[:32] for body in rows}) == len(rows)


def test_no_other_key_opens_a_ballot(answered: tuple[OpenRound, dict[int, dict[str, Any]]]) -> None:
    """Not another round's key, not a random key, not the token keys the web tier holds, not the round's
    public key itself."""
    setup, _submitted = answered
    ballot = SealedBallot.objects.filter(round=setup.round).first()
    assert ballot is not None
    assert setup.round.ballot_public_key is not None
    size = setup.round.ballot_size
    other_private, _other_public = round_keypair()
    strangers = [
        other_private,
        os.urandom(32),
        *KeyRing.from_settings().keys,
        bytes(setup.round.ballot_public_key),
    ]
    for key in strangers:
        with pytest.raises(SealError):
            open_ballot(key, size=size, sealed=bytes(ballot.ciphertext))
    invitation = Invitation.objects.filter(round=setup.round).first()
    assert invitation is not None
    assert invitation.sealed_token is not None
    with pytest.raises(SealError):
        open_token(KeyRing.of([os.urandom(32)]), bytes(invitation.sealed_token))


def test_the_right_key_only_opens_a_ballot_of_its_own_round_unaltered(
    answered: tuple[OpenRound, dict[int, dict[str, Any]]],
) -> None:
    """A ballot altered by one bit does not open (and so is never counted); another round's key does not
    open it either."""
    setup, _submitted = answered
    setup.round.refresh_from_db()
    private_key = round_key_store().get(setup.round.pk)
    assert private_key is not None
    ballot = SealedBallot.objects.filter(round=setup.round).first()
    assert ballot is not None
    body = bytes(ballot.ciphertext)
    size = setup.round.ballot_size
    assert open_ballot(private_key, size=size, sealed=body)["teams"] == [setup.teams[0].pk]
    other = open_round(people_per_team=(5,))
    other_key = round_key_store().get(other.round.pk)
    assert other_key is not None
    with pytest.raises(SealError):
        open_ballot(other_key, size=size, sealed=body)
    flipped = bytearray(body)
    flipped[40] ^= 0x01
    with pytest.raises(SealError):
        open_ballot(private_key, size=size, sealed=bytes(flipped))


def test_the_token_itself_is_not_in_the_database(
    answered: tuple[OpenRound, dict[int, dict[str, Any]]],
) -> None:
    """Only the token's hash and its sealed copy are stored: a reader cannot rebuild anyone's link."""
    setup, _submitted = answered
    blob = b"\n".join(_as_bytes(value) for _table, value in _every_value_in_the_database())
    for token in setup.tokens.values():
        assert token.encode() not in blob
