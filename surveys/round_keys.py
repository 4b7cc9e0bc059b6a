"""The round key store: where each open round's private ballot key lives, outside the database.

Why a key per round, kept here (docs/anonymity.md §2, "Keys that die"): PostgreSQL keeps what a round wrote
long after the round (dead tuples, unzeroed free space, WAL archives, base backups, replicas, the last
statement of each connection), and it ties each ballot to its Participation (``xmin``, ``ctid``, WAL order).
Hiding that link is not possible; making the ballot worthless is. Each round's ballots are sealed to the
round's own X25519 public key (stored on the ``Round``; the web tier needs nothing else), and the private
half is written here when the round opens, read only by the close step, and destroyed once the close has
committed. From then on every copy of every ballot, wherever the database left it, is ciphertext that no
one can open, the operator included.

The store's retention must be separate from the database's: a backup of this directory taken while a
round is open, together with a copy of the database, could open that round. Keep it on its own volume,
out of database backups and snapshots (production: ``PULSE_ROUND_KEY_DIR``). Every process that opens or
closes rounds (the Celery workers) needs the same store: one machine's directory, or a shared volume
(NFS, a cluster file system) mounted on each worker machine. A KMS or Vault can take its place: the store
is the class named by ``PULSE_ROUND_KEY_STORE``, with the four methods of ``RoundKeyStore``.

Two ways a key can be missing, and they mean different things: the store itself is not there (a volume
not mounted, the variable not set on this process), which is an operational fault, so the close step
raises ``KeyStoreUnavailable`` and the round stays open to be retried; or the store is there and the
round's key is not, which is permanent, so the round closes with its participation counted and its
answers reported as lost.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

PRIVATE_KEY_BYTES = 32
_KEY_FILE = re.compile(r"^round-(\d+)\.key$")


class KeyStoreUnavailable(RuntimeError):
    """The key store cannot be reached from this process; nothing was read or changed."""


class RoundKeyStore(Protocol):
    def put(self, round_id: int, private_key: bytes) -> None:
        """Keep a new round's private key durably (it must survive a crash right after the round opens)."""

    def get(self, round_id: int) -> bytes | None:
        """The round's private key, or None when the store holds none for it (lost or destroyed)."""

    def destroy(self, round_id: int) -> None:
        """Erase the round's key; nothing to do when there is none (the close may run its clean-up twice)."""

    def entries(self) -> list[tuple[int, datetime]]:
        """(round id, when the key was written) of every key held, for the sweep of leftovers."""


class DirectoryKeyStore:
    """One file per round (``round-<id>.key``, the 32 raw bytes, mode 0600) in a directory of its own.

    Writes go to a temporary file that is fsynced and renamed into place, then the directory is fsynced, so
    a crash leaves either the whole key or none. Destroying overwrites the file with zeros and fsyncs before
    unlinking: on a plain file system that removes the bytes from the disk blocks too; copy-on-write file
    systems, snapshots of the volume and SSD wear levelling may keep old blocks, which is why the volume
    must not be snapshotted or backed up (docs/anonymity.md).
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, create: bool) -> None:
        if not path:
            raise KeyStoreUnavailable(
                "PULSE_ROUND_KEY_DIR is not set for this process: the processes that open and close rounds "
                "(the Celery workers) need the round key store"
            )
        self.path = Path(path)
        self._create = create

    def _directory(self) -> Path:
        if not self.path.is_dir():
            if not self._create:
                raise KeyStoreUnavailable(f"the round key store {self.path} is not there (is it mounted?)")
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.path

    def _file(self, round_id: int) -> Path:
        return self._directory() / f"round-{int(round_id)}.key"

    def put(self, round_id: int, private_key: bytes) -> None:
        if len(private_key) != PRIVATE_KEY_BYTES:
            raise ValueError("a round key is 32 bytes")
        target = self._file(round_id)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, private_key)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, target)
        self._sync_directory()

    def get(self, round_id: int) -> bytes | None:
        try:
            data = self._file(round_id).read_bytes()
        except FileNotFoundError:
            return None
        return data if len(data) == PRIVATE_KEY_BYTES else None

    def destroy(self, round_id: int) -> None:
        target = self._file(round_id)
        try:
            descriptor = os.open(target, os.O_WRONLY)
        except FileNotFoundError:
            return
        try:
            os.write(descriptor, bytes(PRIVATE_KEY_BYTES))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        self._sync_directory()

    def entries(self) -> list[tuple[int, datetime]]:
        found = []
        for item in self._directory().iterdir():
            match = _KEY_FILE.match(item.name)
            if match:
                with contextlib.suppress(FileNotFoundError):
                    written = datetime.fromtimestamp(item.stat().st_mtime, tz=UTC)
                    found.append((int(match.group(1)), written))
        return sorted(found)

    def _sync_directory(self) -> None:
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def round_key_store() -> RoundKeyStore:
    """The store configured for this process (``PULSE_ROUND_KEY_STORE``, ``PULSE_ROUND_KEY_DIR``).

    Made per call, not cached: it holds nothing but a path, and tests point the setting elsewhere."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    store_class = import_string(settings.PULSE_ROUND_KEY_STORE)
    store: RoundKeyStore = store_class(
        settings.PULSE_ROUND_KEY_DIR, create=settings.PULSE_ROUND_KEY_DIR_CREATE
    )
    return store
