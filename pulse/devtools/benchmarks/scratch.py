"""A throw-away PostgreSQL database for benchmarks, so generated organisations never land in real data.

(Not a benchmark itself: ``pulse_bench`` lists only modules with a ``run`` function.)
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from psycopg import sql


@contextmanager
def scratch_database(label: str) -> Iterator[str]:
    """Create an empty database beside the configured one, migrate it, use it, drop it.

    Its name starts with the configured database's and ends in random hex, so runs beside each other (two
    checkouts, or a test suite per helper on one server) never meet, and a database left behind by a
    killed run says where it came from."""
    if connection.vendor != "postgresql":
        raise CommandError("This benchmark measures PostgreSQL: set DATABASE_URL=postgres://...")
    original = connection.settings_dict["NAME"]
    # PostgreSQL cuts names at 63 bytes; keep the random part whole.
    name = f"{original[:35]}_bench_{label[:12]}_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        cursor.execute(create.as_string(cursor.connection))
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        call_command("migrate", verbosity=0)
        yield name
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                .format(sql.Identifier(name))
                .as_string(cursor.connection)
            )


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result
