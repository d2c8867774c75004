"""The migration runner: Alembic revisions (:mod:`.migrations`) applied under a lock.

Both backends do the same, in **one** transaction that holds the migration lock from
before the database's revision is read until after the last revision and the version
row are written:

1. take the lock: SQLite ``BEGIN IMMEDIATE`` (the database's write lock; another
   process opening the same file waits for it), PostgreSQL
   ``pg_advisory_xact_lock`` on a key derived from the schema (other replicas wait;
   released by the commit);
2. read the revision again (another process may just have migrated): at the target
   already -> nothing to do; unknown (newer code wrote it) -> ``IncompatibleSchema``;
3. adopt a database made by the numbered-SQL runner this replaced: stamp the revision
   its ``schema_version`` names, drop that table (no other row or table is touched);
4. ``alembic upgrade`` on this connection; SQLite then runs ``PRAGMA
   foreign_key_check`` (foreign keys are off for the whole transaction because
   revision 0002 rebuilds a referenced table, see there);
5. commit: all of it or, on any error, none of it.

This module imports Alembic and SQLAlchemy: the backends import it only when a
database is not at :data:`~.migrations.HEAD`.  SQLAlchemy is used for nothing else; on
PostgreSQL it runs over asyncpg (``postgresql+asyncpg``, connections made by the
store's own connect function), so there is one PostgreSQL driver.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, Literal

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from .errors import StoreError, StoreUnavailable
from .migrations import HEAD, LEGACY_REVISIONS, VERSION_TABLE, SchemaState

__all__ = [
    "LOCK_TIMEOUT_MS",
    "alembic_config",
    "migrate_postgres",
    "migrate_sqlite",
    "postgres_lock_key",
    "script_directory",
]

#: How long a SQLite migration waits for the write lock (another process migrating).
LOCK_TIMEOUT_MS: Final = 60_000

Action = Literal["upgrade", "downgrade"]


def _location() -> Path:
    return Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped revisions (no ini file), running on
    ``connection``."""
    cfg = Config()
    # configparser interpolates "%": a path holding one must be escaped
    cfg.set_main_option("script_location", str(_location()).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    return cfg


def script_directory() -> ScriptDirectory:
    """The shipped revisions."""
    return ScriptDirectory.from_config(alembic_config())


def _run(c: Connection, state: SchemaState, action: Action, target: str) -> None:
    """Steps 2-4 of the module docstring, on a connection holding the lock."""
    state.check()
    cfg = alembic_config(c)
    if state.revisions is None and state.legacy is not None:
        if state.legacy:
            command.stamp(cfg, LEGACY_REVISIONS[state.legacy])
        c.exec_driver_sql("DROP TABLE schema_version")
        # stamp() creates the version table; an empty legacy table leaves it absent
    if action == "upgrade":
        if state.current() != target:
            command.upgrade(cfg, target)
    else:
        command.downgrade(cfg, target)


def _root(e: BaseException) -> BaseException:
    """The driver's own exception behind SQLAlchemy's wrappers."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, sqlite3.Error | asyncpg.PostgresError | OSError | TimeoutError):
            return seen
        if isinstance(seen, asyncpg.InterfaceError):
            return seen
        if isinstance(seen, DBAPIError) and seen.orig is not None and seen.orig is not seen:
            seen = seen.orig
            continue
        seen = seen.__cause__ or seen.__context__
    return e


# -- SQLite --------------------------------------------------------------------------------


class _Lent:
    """The store's own ``sqlite3`` connection lent to SQLAlchemy: everything but
    ``close`` (the store keeps using it; for ``:memory:`` it *is* the database)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        object.__setattr__(self, "_conn", conn)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)

    def close(self) -> None:
        pass


def _begin_immediate(c: Connection) -> None:
    # SQLAlchemy's begin emits nothing for pysqlite: take the write lock first, so that
    # no other process can migrate (or write) between our read of the revision and commit
    c.exec_driver_sql("BEGIN IMMEDIATE")


def migrate_sqlite(
    conn: sqlite3.Connection,
    read_state: Callable[[sqlite3.Connection], SchemaState],
    *,
    action: Action = "upgrade",
    target: str = HEAD,
    busy_timeout_ms: int,
) -> None:
    """Migrate the database of ``conn`` (autocommit mode, outside a transaction) to
    ``target``, then restore ``foreign_keys = ON`` and the connection's busy timeout."""
    from .sqlite import translate_sqlite_error

    engine = create_engine("sqlite://", creator=lambda: _Lent(conn), poolclass=StaticPool)
    event.listen(engine, "begin", _begin_immediate)
    try:
        conn.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_MS}")
        # ignored inside a transaction: set before BEGIN, for the whole migration
        conn.execute("PRAGMA foreign_keys = OFF")
        if conn.execute("PRAGMA foreign_keys").fetchone()[0] != 0:
            raise StoreError("cannot turn foreign keys off for a migration")
        with engine.connect() as c, c.begin():
            _run(c, read_state(conn), action, target)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                tables = ", ".join(sorted({str(row[0]) for row in broken}))
                raise StoreError(
                    f"schema migration not applied: rows of {tables} reference missing rows"
                    f" ({len(broken)}); repair them and reopen"
                )
    except sqlite3.Error as e:
        raise translate_sqlite_error(e) from e
    except DBAPIError as e:
        root = _root(e)
        if isinstance(root, sqlite3.Error):
            raise translate_sqlite_error(root) from e
        raise StoreError(f"schema migration failed: {type(root).__name__}") from e
    except (CommandError, SQLAlchemyError) as e:
        raise StoreError(f"schema migration failed: {e}") from e
    finally:
        engine.dispose()
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        except sqlite3.Error as e:
            raise translate_sqlite_error(e) from e


# -- PostgreSQL ----------------------------------------------------------------------------


def postgres_lock_key(schema: str | None) -> int:
    """The advisory-lock key of the migrations of one schema (a signed 64-bit int)."""
    digest = hashlib.sha256(b"zkattest.store.migrate\x00" + (schema or "").encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _postgres_state(c: Connection) -> SchemaState:
    has_version, has_tables = c.execute(
        text("SELECT to_regclass(:v) IS NOT NULL, to_regclass('verifications') IS NOT NULL"),
        {"v": VERSION_TABLE},
    ).one()
    revisions: tuple[str, ...] | None = None
    if has_version:
        rows = c.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").all()
        revisions = tuple(str(r[0]) for r in rows)
    return SchemaState(revisions=revisions, legacy=None, has_tables=bool(has_tables))


def _migrate_postgres_sync(c: Connection, schema: str | None, action: Action, target: str) -> None:
    with c.begin():
        c.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": postgres_lock_key(schema)})
        if schema is not None:
            found = c.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            ).first()
            if found is None:
                # the name was checked against [a-z_][a-z0-9_]* when the URL was parsed
                c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        _run(c, _postgres_state(c), action, target)


async def migrate_postgres(
    connect: Callable[[], Awaitable[asyncpg.Connection]],
    schema: str | None,
    *,
    action: Action = "upgrade",
    target: str = HEAD,
) -> None:
    """Migrate the database ``connect`` reaches (its tables in ``schema``, created if
    missing, or in the connection's default schema) to ``target``."""
    from .postgres import translate_postgres_error

    engine = create_async_engine("postgresql+asyncpg://", async_creator=connect, poolclass=NullPool)
    try:
        async with engine.connect() as ac:
            await ac.run_sync(_migrate_postgres_sync, schema, action, target)
    except StoreError:
        raise
    except DBAPIError as e:
        raise translate_postgres_error(_root(e)) from e
    except (CommandError, SQLAlchemyError) as e:
        raise StoreError(f"schema migration failed: {e}") from e
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as e:
        raise translate_postgres_error(e) from e
    finally:
        try:
            await engine.dispose()
        except (OSError, asyncpg.InterfaceError) as e:  # pragma: no cover - closing a dead link
            raise StoreUnavailable(f"database unavailable ({type(e).__name__})") from e
