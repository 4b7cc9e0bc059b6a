"""Sealing: ballots to their round's key at one length per round; invitation tokens with the token ring."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.sealing import (
    SEALED_BOX_OVERHEAD,
    KeyRing,
    SealError,
    ballot_payload,
    ballot_size,
    open_ballot,
    open_token,
    round_keypair,
    seal_ballot,
    seal_token,
    seal_tokens,
)

RING = KeyRing.of([b"a" * 32, b"b" * 32])


def test_tokens_sealed_together_each_open_to_their_own_token_with_fresh_nonces() -> None:
    tokens = [f"token-{index}" for index in range(50)]
    sealed = seal_tokens(RING, tokens)
    assert [open_token(RING, item) for item in sealed] == tokens
    nonces = {item.partition(b":")[2][:12] for item in sealed}
    assert len(nonces) == len(tokens)
    # The same format as one at a time: the current key's id, then nonce and ciphertext of the same size.
    single = seal_token(RING, token="token-0")
    assert sealed[0].partition(b":")[0] == single.partition(b":")[0] == RING.current_id.encode()
    assert len(sealed[0]) == len(single)


def test_a_sealed_token_opens_only_with_its_key_and_only_as_a_token() -> None:
    (sealed,) = seal_tokens(RING, ["the-link"])
    with pytest.raises(SealError):
        open_token(KeyRing.of([b"b" * 32]), sealed)  # the sealing key is not in this ring
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        open_token(RING, tampered)
    _key, _, body = sealed.partition(b":")
    with pytest.raises(SealError):
        open_ballot(b"a" * 32, size=len(body), sealed=body)  # a token is not a ballot, whatever the key


def test_no_tokens_seal_to_nothing() -> None:
    assert seal_tokens(RING, []) == []


# --- ballots ---------------------------------------------------------------------------------------------
CHOICES = {11: range(0, 6), 12: range(0, 6), 13: range(-3, 101)}
TEXTS = [14]
TEXT_CHARS = 50


def _size() -> int:
    return ballot_size(
        choice_values=CHOICES, text_questions=TEXTS, text_max_chars=TEXT_CHARS, max_teams=3, max_team_id=98765
    )


@settings(max_examples=300, deadline=None)
@given(
    answers=st.fixed_dictionaries(
        {},
        optional={
            "11": st.sampled_from(list(CHOICES[11])),
            "12": st.sampled_from(list(CHOICES[12])),
            "13": st.sampled_from(list(CHOICES[13])),
            # Everything validation lets through: any code point but the refused controls and surrogates,
            # including the ones JSON escapes (quote, backslash, tab, line breaks) and 4-byte ones.
            "14": st.text(
                alphabet=st.characters(
                    exclude_categories=["Cs"],
                    exclude_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"],
                ),
                min_size=1,
                max_size=TEXT_CHARS,
            ),
        },
    ),
    teams=st.lists(st.integers(min_value=1, max_value=98765), min_size=1, max_size=3),
)
def test_every_ballot_of_a_round_has_one_length_whatever_was_answered(
    answers: dict[str, Any], teams: list[int]
) -> None:
    """The ciphertext's length is the round's ballot size plus the sealed box's overhead, for any answers
    (none, all, the longest comment of 4-byte characters or of characters JSON escapes) and team sets."""
    private_key, public_key = round_keypair()
    sealed = seal_ballot(public_key, size=_size(), answers=answers, teams=teams)
    assert len(sealed) == _size() + SEALED_BOX_OVERHEAD
    assert open_ballot(private_key, size=_size(), sealed=sealed) == {"answers": answers, "teams": teams}


def test_the_bound_is_tight_the_longest_ballot_fits_and_a_longer_one_is_refused() -> None:
    """The ballot size is the longest payload plus a few bytes of separators the count takes as spare (one
    comma per entry, the padding's one byte), not a loose guess: and a payload past it is never sealed."""
    _private_key, public_key = round_keypair()
    longest = {"11": 5, "12": 5, "13": 100, "14": "\U0001f525" * TEXT_CHARS}
    teams = [98765] * 3
    payload = ballot_payload(answers=longest, teams=teams)
    assert 0 < _size() - len(payload) <= len(longest) + 2
    assert (
        len(seal_ballot(public_key, size=_size(), answers=longest, teams=teams))
        == _size() + SEALED_BOX_OVERHEAD
    )
    with pytest.raises(SealError):
        seal_ballot(
            public_key,
            size=_size(),
            answers=longest | {"14": "\U0001f525" * TEXT_CHARS + "abcdefgh"},
            teams=teams,
        )


def test_a_ballot_opens_only_with_its_own_rounds_key_and_unaltered() -> None:
    private_key, public_key = round_keypair()
    other_private, _other_public = round_keypair()
    sealed = seal_ballot(public_key, size=_size(), answers={"11": 3}, teams=[7])
    with pytest.raises(SealError):
        open_ballot(other_private, size=_size(), sealed=sealed)
    with pytest.raises(SealError):
        open_ballot(os.urandom(32), size=_size(), sealed=sealed)
    for position in (0, 40, len(sealed) - 1):
        flipped = bytearray(sealed)
        flipped[position] ^= 0x01
        with pytest.raises(SealError):
            open_ballot(private_key, size=_size(), sealed=bytes(flipped))
    # Two identical submissions do not look alike: a fresh ephemeral key per ballot.
    again = seal_ballot(public_key, size=_size(), answers={"11": 3}, teams=[7])
    assert again[:32] != sealed[:32]
