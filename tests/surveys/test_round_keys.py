"""The round key store: a key per round, written at open, destroyed after the close commits; a lost key
closes its round with participation counted and answers lost; a missing store changes nothing."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone
from pytest_django import Settings as SettingsFixture

from surveys.models import AnswerCount, Comment, RespondentCount, Round, SealedBallot
from surveys.round_keys import DirectoryKeyStore, KeyStoreUnavailable, round_key_store
from surveys.services.answering import response_submit
from surveys.services.counting import ORPHAN_KEY_AGE, round_close, round_keys_sweep
from tests.helpers_rounds import OpenRound, answers_for, open_round


def _answer(setup: OpenRound, count: int) -> None:
    for person in setup.people[:count]:
        response_submit(token=setup.token_of(person), answers=answers_for(setup.round))


def test_a_round_opens_with_its_own_key_in_the_store_and_only_its_public_half_in_the_database(
    db: None,
) -> None:
    first, second = open_round(people_per_team=(5,)), open_round(people_per_team=(5,))
    for setup in (first, second):
        setup.round.refresh_from_db()
        private_key = round_key_store().get(setup.round.pk)
        assert private_key is not None
        assert setup.round.ballot_public_key is not None
        assert len(bytes(setup.round.ballot_public_key)) == 32
        assert private_key != bytes(setup.round.ballot_public_key)
        assert setup.round.ballot_size > 0
    assert round_key_store().get(first.round.pk) != round_key_store().get(second.round.pk)
    store = round_key_store()
    assert isinstance(store, DirectoryKeyStore)
    mode = (store.path / f"round-{first.round.pk}.key").stat().st_mode
    assert mode & 0o077 == 0  # readable by its owner only


@pytest.mark.django_db(transaction=True)
def test_the_key_is_destroyed_once_the_close_has_committed() -> None:
    setup = open_round(people_per_team=(6,))
    _answer(setup, 6)
    assert round_close(round_id=setup.round.pk, now=setup.close_moment)
    assert round_key_store().get(setup.round.pk) is None
    assert RespondentCount.objects.get(round=setup.round, team=setup.root).respondents == 6
    assert not Round.objects.get(pk=setup.round.pk).answers_lost


def test_a_lost_key_closes_the_round_with_participation_counted_and_answers_lost(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    setup = open_round(people_per_team=(6,))
    _answer(setup, 6)
    round_key_store().destroy(setup.round.pk)  # lost while the round was open
    assert round_close(round_id=setup.round.pk, now=setup.close_moment)
    round_ = Round.objects.get(pk=setup.round.pk)
    assert round_.status == Round.Status.CLOSED
    assert round_.answers_lost
    # Who answered needs no key: the response rate is still counted, the answers are not.
    assert RespondentCount.objects.get(round=round_, team=setup.root).respondents == 6
    assert not AnswerCount.objects.filter(round=round_).exists()
    assert not Comment.objects.filter(round=round_).exists()
    assert not SealedBallot.objects.filter(round=round_).exists()
    assert "answers lost" in caplog.text
    # Run again: nothing to do, no crash loop.
    assert not round_close(round_id=setup.round.pk, now=setup.close_moment)


def test_a_round_nobody_answered_is_not_reported_lost(db: None) -> None:
    setup = open_round(people_per_team=(6,))
    round_key_store().destroy(setup.round.pk)
    assert round_close(round_id=setup.round.pk, now=setup.close_moment)
    assert not Round.objects.get(pk=setup.round.pk).answers_lost


def test_a_missing_store_changes_nothing_and_the_round_stays_open(
    db: None, settings: SettingsFixture, tmp_path: Path
) -> None:
    setup = open_round(people_per_team=(6,))
    _answer(setup, 6)
    settings.PULSE_ROUND_KEY_DIR = str(tmp_path / "not-mounted")
    settings.PULSE_ROUND_KEY_DIR_CREATE = False  # production: the volume must be there
    with pytest.raises(KeyStoreUnavailable, match="is not there"):
        round_close(round_id=setup.round.pk, now=setup.close_moment)
    assert Round.objects.get(pk=setup.round.pk).status == Round.Status.OPEN
    assert SealedBallot.objects.filter(round=setup.round).count() == 6
    settings.PULSE_ROUND_KEY_DIR = ""
    with pytest.raises(KeyStoreUnavailable, match="PULSE_ROUND_KEY_DIR is not set"):
        round_close(round_id=setup.round.pk, now=setup.close_moment)


def test_the_sweep_destroys_keys_of_closed_rounds_and_old_orphans_only(db: None) -> None:
    open_one, closed_one = open_round(people_per_team=(5,)), open_round(people_per_team=(5,))
    store = round_key_store()
    key = store.get(closed_one.round.pk)
    assert key is not None
    # A close that committed but died before destroying its key (the test transaction never commits, so
    # the close's own clean-up does not run here either).
    assert round_close(round_id=closed_one.round.pk, now=closed_one.close_moment)
    assert store.get(closed_one.round.pk) == key
    orphan_young, orphan_old = 10**9, 10**9 + 1
    store.put(orphan_young, os.urandom(32))
    store.put(orphan_old, os.urandom(32))
    old = (timezone.now() - ORPHAN_KEY_AGE - dt.timedelta(minutes=1)).timestamp()
    assert isinstance(store, DirectoryKeyStore)
    os.utime(store.path / f"round-{orphan_old}.key", (old, old))
    assert round_keys_sweep() == 2
    assert store.get(closed_one.round.pk) is None
    assert store.get(orphan_old) is None
    assert store.get(orphan_young) is not None  # may be an opening that has not committed yet
    assert store.get(open_one.round.pk) is not None
    assert round_keys_sweep() == 0
    store.destroy(orphan_young)


def test_a_destroyed_key_file_is_overwritten_before_it_is_unlinked(tmp_path: Path) -> None:
    store = DirectoryKeyStore(tmp_path, create=True)
    store.put(7, b"k" * 32)
    path = tmp_path / "round-7.key"
    inode_view = path.open("rb")  # an open handle still sees the file's blocks after the unlink
    store.destroy(7)
    assert not path.exists()
    assert inode_view.read() == bytes(32)
    inode_view.close()
    store.destroy(7)  # idempotent
    with pytest.raises(ValueError, match="32 bytes"):
        store.put(8, b"short")
