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
    """Create an empty database beside the configured one, migrate it, use it, drop it."""
    if connection.vendor != "postgresql":
        raise CommandError("This benchmark measures PostgreSQL: set DATABASE_URL=postgres://...")
    original = connection.settings_dict["NAME"]
    name = f"pulse_bench_{label}_{secrets.token_hex(3)}"
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
