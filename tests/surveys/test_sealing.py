"""Invitation tokens sealed in bulk (a round's invitations) open exactly as those sealed one at a time."""

from __future__ import annotations

import pytest

from surveys.sealing import KeyRing, SealError, open_ballot, open_token, seal_token, seal_tokens

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
    key, _, body = sealed.partition(b":")
    with pytest.raises(SealError):
        open_ballot(RING, round_id=0, key=key.decode(), sealed=body)  # another purpose


def test_no_tokens_seal_to_nothing() -> None:
    assert seal_tokens(RING, []) == []
