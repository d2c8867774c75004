"""Command-line actions on the store's database (``zkattest db ...``; cli.py parses the
arguments and calls these).  Output never repeats the database URL (it may hold a
password); a SQLite file is named by its path.

``upgrade``: migrate to this code's revision (what every start of the service does
anyway), exit 0.  ``current``: print the revision without changing anything; exit 0 if
the database is at this code's revision, 1 if it is older, missing or still in the old
runner's bookkeeping (``zkattest db upgrade`` adopts it).  Errors (unreachable,
newer than this code) exit 2 through the CLI's error handler.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from typing import Final, TextIO

from .errors import StoreError
from .migrations import HEAD, SchemaState

__all__ = ["EXIT_BEHIND", "EXIT_OK", "current", "upgrade"]

EXIT_OK: Final = 0
EXIT_BEHIND: Final = 1


def _where(url: str) -> str:
    if url[:7].lower() == "sqlite:":
        from .sqlite import _database_path

        return f"SQLite database {_database_path(url)}"
    return "PostgreSQL database"


def upgrade(url: str, *, out: TextIO | None = None) -> int:
    """Open the store at ``url`` (which migrates it) and report its revision."""
    from . import open_store

    out = sys.stdout if out is None else out

    async def go() -> str | None:
        store = await open_store(url)
        try:
            return await store.schema_revision()
        finally:
            await store.close()

    revision = asyncio.run(go())
    out.write(f"{_where(url)}: at revision {revision} (head)\n")
    return EXIT_OK


async def _state(url: str) -> SchemaState | None:
    if url[:7].lower() == "sqlite:":
        from .sqlite import MEMORY, _database_path, schema_state, translate_sqlite_error

        path = _database_path(url)
        if path == MEMORY or not os.path.isfile(path):
            return None
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as e:
            raise translate_sqlite_error(e) from e
        try:
            return schema_state(conn)
        except sqlite3.Error as e:
            raise translate_sqlite_error(e) from e
        finally:
            conn.close()
    from . import postgres

    settings = postgres.parse_postgres_url(url)
    try:
        pg = await settings.connect()
        try:
            return await postgres.schema_state(pg)
        finally:
            await pg.close()
    except postgres.DRIVER_ERRORS as e:
        raise postgres.translate_postgres_error(e) from e


def current(url: str, *, out: TextIO | None = None) -> int:
    """Print the revision of the database at ``url`` (module docstring)."""
    out = sys.stdout if out is None else out
    if not isinstance(url, str) or "://" not in url:
        raise StoreError("expected a database URL (sqlite:///path or postgresql://...)")
    state = asyncio.run(_state(url))
    where = _where(url)
    if state is None:
        out.write(f"{where}: does not exist yet (head is {HEAD})\n")
        return EXIT_BEHIND
    state.check()  # IncompatibleSchema for a newer database, refuses unversioned tables
    revision = state.current()
    if revision is None and state.legacy is not None:
        out.write(
            f"{where}: version {state.legacy} of the old migration runner; "
            f"`zkattest db upgrade` adopts it (head is {HEAD})\n"
        )
        return EXIT_BEHIND
    if revision is None:
        out.write(f"{where}: no schema yet (head is {HEAD})\n")
        return EXIT_BEHIND
    if revision != HEAD:
        out.write(f"{where}: at revision {revision}, behind head {HEAD}\n")
        return EXIT_BEHIND
    out.write(f"{where}: at revision {revision} (head)\n")
    return EXIT_OK
