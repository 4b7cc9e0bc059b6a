"""What PostgreSQL keeps of a round, read by someone who holds every key and file the deployment holds.

PostgreSQL keeps much more than the live rows: a deleted ballot stays on its page as a dead tuple until
VACUUM, and its bytes stay in the page's free space after that; the WAL holds every submission's ballot
beside the Participation insert, with ``person_id`` in clear; ``pg_dump``, base backups and replicas copy
all of it; and ``pg_stat_activity`` shows each connection's last statement. These tests attack a real
round on PostgreSQL the way a database administrator, a backup holder and the operator would
(docs/anonymity.md). The defence is not to hide these copies (the database cannot) but that they are
worthless: the round's private key is destroyed once its close has committed, the web tier never holds
it, and the submit statement's values never appear in its text.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from surveys.models import Invitation, Round
from surveys.round_keys import round_key_store
from surveys.sealing import KeyRing, SealError, open_ballot
from surveys.services.answering import response_submit
from surveys.services.counting import rounds_close_due
from tests.helpers_rounds import OpenRound, answers_for, as_form, open_round, opened_ballots

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# No free-text question: each ballot then fits on its heap page and in one WAL record, whole, so the
# attacker's search below is simple. (Longer ballots are TOASTed in chunks; that changes how hard they are
# to find, not whether they can be opened.)
INSTRUMENTS = ("who5", "workload1")


def _ballots(round_: Round) -> list[bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ciphertext FROM surveys_sealedballot WHERE round_id = %s", [round_.pk])
        return [bytes(row[0]) for row in cursor.fetchall()]


def _every_key_the_deployment_holds() -> list[bytes]:
    """Every secret a process of this deployment can read after the close: the token key ring, the secret
    key (and its SHA-256, as a 32-byte key), and every file in the round key store."""
    keys = [*settings.PULSE_TOKEN_KEYS, hashlib.sha256(settings.SECRET_KEY.encode()).digest()]
    keys.append(settings.SECRET_KEY.encode()[:32].ljust(32, b"\0"))
    store = Path(settings.PULSE_ROUND_KEY_DIR)
    if store.is_dir():
        keys.extend(path.read_bytes()[:32].ljust(32, b"\0") for path in store.iterdir() if path.is_file())
    return keys


def _opens_with_any(sealed: bytes, round_: Round, keys: list[bytes]) -> bool:
    """Try each key as the round's private key, and as an AES-GCM ballot key (the sealing before per-round
    keys), on the ballot's own round."""
    for key in keys:
        try:
            open_ballot(key, size=round_.ballot_size, sealed=sealed)
            return True
        except SealError:
            pass
        ring = KeyRing.of([key])
        try:
            ring.open(sealed, key=ring.current_id, purpose="ballot", context=str(round_.pk))
            return True
        except SealError:
            pass
    return False


def _answer_everyone(setup: OpenRound) -> None:
    client = Client()
    for person in setup.people:
        response = client.post(f"/checkin/{setup.token_of(person)}/", as_form(answers_for(setup.round)))
        assert response.status_code == 200


def _relation_pages(relation: str) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        cursor.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", [relation]
        )
        (pages,) = cursor.fetchone()
        blob = b""
        for page in range(pages):
            cursor.execute("SELECT get_raw_page(%s, %s)", [relation, page])
            blob += bytes(cursor.fetchone()[0])
    return blob


def _dead_tuples(relation: str) -> list[bytes]:
    found: list[bytes] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", [relation]
        )
        (pages,) = cursor.fetchone()
        for page in range(pages):
            cursor.execute(
                "SELECT t_data FROM heap_page_items(get_raw_page(%s, %s)) WHERE t_data IS NOT NULL",
                [relation, page],
            )
            found.extend(bytes(row[0]) for row in cursor.fetchall())
    return found


def _wal_since(start_lsn: str) -> bytes:
    """The raw bytes of every WAL segment written since ``start_lsn`` (what a WAL archive holds)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_walfile_name(%s::pg_lsn), pg_walfile_name(pg_current_wal_lsn())", [start_lsn]
        )
        first, last = cursor.fetchone()
        cursor.execute(
            "SELECT name FROM pg_ls_waldir() WHERE name >= %s AND name <= %s ORDER BY name", [first, last]
        )
        names = [row[0] for row in cursor.fetchall()]
        blob = b""
        for name in names:
            cursor.execute("SELECT pg_read_binary_file(%s)", [f"pg_wal/{name}"])
            blob += bytes(cursor.fetchone()[0])
    return blob


def _lsn() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return str(cursor.fetchone()[0])


def test_after_close_dead_tuples_free_space_and_wal_hold_ballots_nobody_can_open() -> None:
    start = _lsn()
    setup = open_round(people_per_team=(8,), instruments=INSTRUMENTS)
    _answer_everyone(setup)
    seen_while_open = _ballots(setup.round)  # what a reader copies during the round
    assert len(seen_while_open) == 8
    # Before the close someone holding the round key store and the database could open them: the test's
    # key search is able to open a ballot when the key exists.
    assert opened_ballots(setup.round)
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        cursor.execute("CHECKPOINT")  # the next change of each page writes a full-page image to the WAL
    assert rounds_close_due(now=setup.close_moment) == 1
    round_ = Round.objects.get(pk=setup.round.pk)
    assert round_.status == Round.Status.CLOSED
    assert not round_.answers_lost
    assert round_key_store().get(round_.pk) is None  # destroyed once the close committed
    assert not any(
        name.startswith(f"round-{round_.pk}.") for name in os.listdir(settings.PULSE_ROUND_KEY_DIR)
    )

    leftovers = {
        "heap pages": _relation_pages("surveys_sealedballot"),
        "dead tuples": b"".join(_dead_tuples("surveys_sealedballot")),
        "WAL": _wal_since(start),
    }
    # The copies are really there (in the WAL at least): the attack finds them ...
    found = [sealed for sealed in seen_while_open if any(sealed in blob for blob in leftovers.values())]
    assert sealed_in(seen_while_open, leftovers["WAL"]) == len(seen_while_open)
    # ... and not one opens with anything the deployment still holds.
    keys = _every_key_the_deployment_holds()
    assert keys
    assert not [sealed for sealed in found if _opens_with_any(sealed, round_, keys)]
    # The close left no dead ballot behind (VACUUM after close).
    assert not _dead_tuples("surveys_sealedballot")


def sealed_in(ballots: list[bytes], blob: bytes) -> int:
    return sum(1 for sealed in ballots if sealed in blob)


def test_pg_dump_during_an_open_round_with_everything_the_web_tier_holds_opens_no_ballot() -> None:
    """A dump taken while the round is open, plus the web tier's settings (secret key, token keys) and
    the round's public key (in the dump itself): no ballot opens. The round key store is not the web tier's
    to hold (docs/anonymity.md)."""
    setup = open_round(people_per_team=(6,), instruments=INSTRUMENTS)
    _answer_everyone(setup)
    database = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": database.get("PASSWORD") or ""}
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "--table=surveys_sealedballot",
            "--table=surveys_round",
            f"--host={database.get('HOST') or '127.0.0.1'}",
            f"--port={database.get('PORT') or 5432}",
            f"--username={database.get('USER') or 'postgres'}",
            database["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    ).stdout
    ballots = [bytes.fromhex(row["ciphertext"][3:]) for row in _copy_rows(dump, "surveys_sealedballot")]
    assert len(ballots) == 6, "the dump holds the round's ballots"
    round_ = Round.objects.get(pk=setup.round.pk)
    assert round_.ballot_public_key is not None
    assert bytes(round_.ballot_public_key).hex() in dump  # the public key is in the dump, and useless
    web_tier = [*settings.PULSE_TOKEN_KEYS, hashlib.sha256(settings.SECRET_KEY.encode()).digest()]
    web_tier.append(bytes(round_.ballot_public_key))
    assert not [sealed for sealed in ballots if _opens_with_any(sealed, round_, web_tier)]
    # The same ballots do open with the round's private key, which only the key store holds.
    private_key = round_key_store().get(round_.pk)
    assert private_key is not None
    assert all(_opens_with_any(sealed, round_, [private_key]) for sealed in ballots)


def _copy_rows(dump: str, table: str) -> list[dict[str, str]]:
    """The rows of one table in a ``pg_dump`` (COPY text format), as column → text."""
    header = re.search(rf"^COPY public\.{table} \((.*)\) FROM stdin;$", dump, re.MULTILINE)
    assert header is not None, f"{table} is not in the dump"
    columns = header.group(1).split(", ")
    body = dump[header.end() + 1 : dump.index("\n\\.\n", header.end())]
    return [dict(zip(columns, line.split("\t"), strict=True)) for line in body.splitlines()]


def _last_statement_of(pid: int) -> str:
    database = connection.settings_dict
    with psycopg.connect(
        host=database.get("HOST") or "127.0.0.1",
        port=database.get("PORT") or 5432,
        user=database.get("USER") or "postgres",
        password=database.get("PASSWORD") or None,
        dbname=database["NAME"],
        autocommit=True,
    ) as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None
    return str(row[0])


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _assert_no_literal(statement: str, secrets: list[str]) -> None:
    assert "$1" in statement, statement
    assert "'" not in statement, f"a quoted literal in {statement!r}"
    assert not re.search(r"\d{4}-\d{2}-\d{2}", statement), f"a timestamp in {statement!r}"
    for secret in secrets:
        assert secret not in statement


def test_pg_stat_activity_shows_placeholders_not_the_submission() -> None:
    """Right after a submission, a second connection reads the submitting connection's last statement: it
    shows ``$1``, ``$2``, never the invitation, the instant or the ballot."""
    setup = open_round(people_per_team=(5,), instruments=INSTRUMENTS)
    pid = _backend_pid()
    person = setup.people[0]
    response_submit(token=setup.token_of(person), answers=answers_for(setup.round))
    invitation = Invitation.objects.get(round=setup.round, person=person)
    (ballot,) = _ballots(setup.round)
    # The look-ups after the submission are this test's own; submit again to make it the last statement.
    second = setup.people[1]
    response_submit(token=setup.token_of(second), answers=answers_for(setup.round))
    statement = _last_statement_of(pid)
    assert "surveys_sealedballot" in statement  # it is the submit statement
    _assert_no_literal(statement, [ballot.hex()[:32], f"= {invitation.pk} "])


def test_pg_stat_activity_after_a_check_in_through_the_web_form_shows_no_literal() -> None:
    setup = open_round(people_per_team=(5,), instruments=INSTRUMENTS)
    pid = _backend_pid()
    token = setup.token_of(setup.people[0])
    response = Client().post(f"/checkin/{token}/", as_form(answers_for(setup.round)))
    assert response.status_code == 200
    statement = _last_statement_of(pid)
    _assert_no_literal(statement, [hashlib.sha256(token.encode()).hexdigest()[:16]])
