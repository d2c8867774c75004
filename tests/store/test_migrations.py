"""Schema migrations with Alembic, on both backends: fresh databases get HEAD, reopening
migrates nothing (and imports no Alembic), newer databases are refused, a failing
migration leaves nothing behind, concurrent first opens migrate once, downgrades work."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from zkattest.store import (
    Conflict,
    IncompatibleSchema,
    SQLiteStore,
    StoreError,
    StoreUnavailable,
    open_store,
)
from zkattest.store import migrate as migrate_mod
from zkattest.store import sqlite as sqlite_mod
from zkattest.store.migrations import HEAD, REVISIONS, VERSION_TABLE
from zkattest.store.postgres import parse_postgres_url

from .conftest import (
    PG_URL,
    AnyStore,
    awaiting,
    close_loop,
    execute,
    fetch,
    needs_pg,
    run,
    verification,
)


def revision_rows(store: AnyStore) -> list[str]:
    return [r[0] for r in fetch(store, f"SELECT version_num FROM {VERSION_TABLE}")]


def tables(store: AnyStore) -> set[str]:
    if isinstance(store, SQLiteStore):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return {r[0] for r in fetch(store, sql)}


def migrate(url: str, *, action: str = "upgrade", target: str = HEAD) -> None:
    """The runner on its own (not through a store's open)."""
    if url.startswith("sqlite:"):
        path = sqlite_mod._database_path(url)
        sqlite_mod._prepare_file(path)
        conn = sqlite_mod._connect(path)
        try:
            migrate_mod.migrate_sqlite(
                conn,
                sqlite_mod.schema_state,
                action=action,  # type: ignore[arg-type]
                target=target,
                busy_timeout_ms=sqlite_mod.BUSY_TIMEOUT_MS,
            )
        finally:
            conn.close()
    else:
        settings = parse_postgres_url(url)
        run(
            migrate_mod.migrate_postgres(
                settings.connect,
                settings.schema,
                action=action,  # type: ignore[arg-type]
                target=target,
            )
        )


# -- the revisions ---------------------------------------------------------------------------


def test_revisions_are_one_linear_history() -> None:
    script = migrate_mod.script_directory()
    walked = [rev.revision for rev in script.walk_revisions("base", "heads")]
    assert tuple(reversed(walked)) == REVISIONS
    assert script.get_heads() == [HEAD]
    for rev in script.walk_revisions():
        module = rev.module
        assert callable(module.upgrade) and callable(module.downgrade)
        assert module.__doc__ and module.__doc__.startswith(f"{rev.revision} ")


def test_env_runs_only_on_a_given_connection() -> None:
    with pytest.raises(StoreError, match="zkattest db upgrade"):
        command.upgrade(migrate_mod.alembic_config(None), "head")


# -- fresh, reopen, newer --------------------------------------------------------------------


@pytest.fixture
def opened(fresh_url: str) -> AnyStore:
    s = run(open_store(fresh_url))
    run(s.close())
    return s


def test_fresh_database_gets_head(fresh_url: str) -> None:
    s = run(open_store(fresh_url))
    try:
        assert run(s.schema_revision()) == HEAD
        assert revision_rows(s) == [HEAD]
        assert {"verifications", "agents", "one_use", "audit_events", "audit_checkpoints"} <= (
            tables(s)
        )
        assert "schema_version" not in tables(s)
    finally:
        run(s.close())


def test_reopen_migrates_nothing(
    fresh_url: str, opened: AnyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the runner ran for a database at HEAD")

    monkeypatch.setattr(migrate_mod, "migrate_sqlite", boom)
    monkeypatch.setattr(migrate_mod, "migrate_postgres", boom)
    for _ in range(3):
        s = run(open_store(fresh_url))
        run(s.create_verification(verification(f"v{_}")))
        assert revision_rows(s) == [HEAD]
        run(s.close())


_PROBE = """
import asyncio, sys
from zkattest.store import open_store
async def main():
    s = await open_store(sys.argv[1])
    await s.ping()
    await s.close()
asyncio.run(main())
heavy = sorted(m for m in ("alembic", "sqlalchemy", "asyncpg") if m in sys.modules)
print(",".join(heavy))
"""


def test_opening_a_current_database_imports_no_alembic(fresh_url: str, opened: AnyStore) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, fresh_url], capture_output=True, text=True, check=True
    )
    want = "" if fresh_url.startswith("sqlite:") else "asyncpg"
    assert out.stdout.strip() == want


@pytest.mark.parametrize("rows", [["9999"], [HEAD, "0001"], ["x" * 32]])
def test_newer_database_is_refused(fresh_url: str, opened: AnyStore, rows: list[str]) -> None:
    s = run(open_store(fresh_url))
    execute(s, f"DELETE FROM {VERSION_TABLE}")
    for rev in rows:
        execute(s, f"INSERT INTO {VERSION_TABLE} (version_num) VALUES ($1)", rev)
    run(s.close())
    with pytest.raises(IncompatibleSchema, match="is newer than this zkattest") as e:
        run(open_store(fresh_url))
    assert isinstance(e.value, StoreError)
    with pytest.raises(IncompatibleSchema):
        migrate(fresh_url)  # the runner itself refuses too (re-checked under the lock)
    s = run(_raw_open(fresh_url))
    try:
        assert sorted(revision_rows(s)) == sorted(rows)  # left as it was
    finally:
        run(s.close())


def _raw_open(url: str) -> Any:
    """A store object on a database without migrating it (white box)."""

    async def go() -> AnyStore:
        if url.startswith("sqlite:"):
            path = sqlite_mod._database_path(url)
            sqlite_mod._prepare_file(path)
            return SQLiteStore(sqlite_mod._connect(path), path)
        import asyncpg

        from zkattest.store.postgres import PostgresStore

        settings = parse_postgres_url(url)
        pool = await asyncpg.create_pool(
            settings.dsn, min_size=1, max_size=1, server_settings=settings.server_settings()
        )
        return PostgresStore(pool, settings)

    return go()


# -- one transaction -------------------------------------------------------------------------

_BROKEN = '''"""0004 broken: creates a table, then fails."""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_bind().exec_driver_sql("CREATE TABLE half_done (x INTEGER)")
    op.get_bind().exec_driver_sql("INSERT INTO no_such_table VALUES (1)")


def downgrade() -> None:
    pass
'''


@pytest.fixture
def broken_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped revisions plus a 0004 that fails half-way."""
    location = tmp_path / "migrations"
    shutil.copytree(migrate_mod._location(), location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "rev0004_broken.py").write_text(_BROKEN)
    monkeypatch.setattr(migrate_mod, "_location", lambda: location)


def test_failed_migration_of_a_fresh_database_leaves_nothing(
    fresh_url: str, broken_revision: None
) -> None:
    with pytest.raises(StoreError) as e:
        migrate(fresh_url, target="0004")
    assert not isinstance(e.value, StoreUnavailable)
    assert "no such table" in str(e.value) or "UndefinedTableError" in str(e.value)
    s = run(_raw_open(fresh_url))
    try:
        # 0001..0003 ran in the same transaction as the failing 0004: none of it stayed
        assert not {"verifications", "half_done", VERSION_TABLE} & tables(s)
    finally:
        run(s.close())
    s = run(open_store(fresh_url))  # the shipped revisions still apply
    run(s.close())


def test_failed_migration_keeps_the_database_as_it_was(
    fresh_url: str, opened: AnyStore, broken_revision: None
) -> None:
    s = run(open_store(fresh_url))
    run(s.create_verification(verification()))
    run(s.close())
    with pytest.raises(StoreError):
        migrate(fresh_url, target="0004")
    s = run(open_store(fresh_url))
    try:
        assert revision_rows(s) == [HEAD]
        assert "half_done" not in tables(s)
        assert run(s.get_verification("v1")) == verification()
    finally:
        run(s.close())


# -- concurrency -----------------------------------------------------------------------------


def test_concurrent_first_open(fresh_url: str) -> None:
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            s = run(open_store(fresh_url))
            run(s.ping())
            run(s.close())
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            close_loop()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    s = run(open_store(fresh_url))
    try:
        assert revision_rows(s) == [HEAD]
    finally:
        run(s.close())


@needs_pg
def test_postgres_migration_waits_for_the_advisory_lock(pg_url: str, pg_schema: str) -> None:
    import asyncpg

    key = migrate_mod.postgres_lock_key(pg_schema)

    async def body() -> None:
        holder = await asyncpg.connect(PG_URL)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", key)
            opening = asyncio.ensure_future(open_store(pg_url))
            # wait (by polling the catalog, not the clock) until the opener queues on it
            for _ in range(10_000):
                waiting = await holder.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND NOT granted AND objid = ($1::bigint & 4294967295)",
                    key,
                )
                if waiting or opening.done():
                    break
                await asyncio.sleep(0.005)
            assert not opening.done()  # it waits for the lock before migrating anything
            assert not await holder.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname = $1", pg_schema
            )
            await holder.execute("SELECT pg_advisory_unlock($1)", key)
            s = await opening
            assert await s.schema_revision() == HEAD
            await s.close()
        finally:
            await holder.close()

    run(body())


# -- downgrades ------------------------------------------------------------------------------


def test_downgrade_and_upgrade_again(fresh_url: str, opened: AnyStore) -> None:
    s = run(open_store(fresh_url))
    run(s.create_verification(verification()))
    run(s.close())
    migrate(fresh_url, action="downgrade", target="0001")
    s = run(_raw_open(fresh_url))
    try:
        assert revision_rows(s) == ["0001"]
        assert "audit_events" not in tables(s)
    finally:
        run(s.close())
    s = run(open_store(fresh_url))  # and up to HEAD again, the row intact
    try:
        assert revision_rows(s) == [HEAD]
        assert run(s.get_verification("v1")) == verification()
    finally:
        run(s.close())
    migrate(fresh_url, action="downgrade", target="base")
    s = run(_raw_open(fresh_url))
    try:
        assert not {"verifications", "agents", "one_use"} & tables(s)
        assert revision_rows(s) == []
    finally:
        run(s.close())


def test_downgrade_refused_when_rows_do_not_fit(fresh_url: str, opened: AnyStore) -> None:
    s = run(open_store(fresh_url))
    run(s.create_verification(awaiting()))  # a status revision 0001 does not know
    run(s.close())
    with pytest.raises((Conflict, StoreError)):
        migrate(fresh_url, action="downgrade", target="0001")
    s = run(open_store(fresh_url))
    try:
        assert revision_rows(s) == [HEAD]
        assert run(s.get_verification("v1")) == awaiting()
    finally:
        run(s.close())


# -- SQLite details --------------------------------------------------------------------------


def test_sqlite_migration_restores_the_connection(sqlite_url: str) -> None:
    s = run(SQLiteStore.open(sqlite_url))  # a fresh file: migrated on this connection
    try:
        assert s._conn is not None
        assert s._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s._conn.execute("PRAGMA busy_timeout").fetchone()[0] == sqlite_mod.BUSY_TIMEOUT_MS
        assert not s._conn.in_transaction
    finally:
        run(s.close())


def test_memory_database_is_migrated_on_its_connection() -> None:
    s = run(open_store("sqlite:///:memory:"))
    try:
        assert run(s.schema_revision()) == HEAD
        run(s.create_verification(verification()))
    finally:
        run(s.close())


def test_sqlite_migration_waits_for_the_write_lock(sqlite_url: str, db_path: Path) -> None:
    # another connection holds the write lock: the opener waits (it does not fail after
    # the store's 5 s busy timeout) and migrates once the lock is free
    db_path.parent.mkdir(parents=True)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("PRAGMA journal_mode = WAL")
    blocker.execute("BEGIN IMMEDIATE")
    done = threading.Event()
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            s = run(open_store(sqlite_url))
            run(s.close())
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            close_loop()
            done.set()

    t = threading.Thread(target=opener)
    t.start()
    try:
        assert not done.wait(0.3)  # still waiting for the lock (no assertion on timing)
        blocker.execute("ROLLBACK")
        t.join(timeout=60)
    finally:
        blocker.close()
    assert errors == []
    assert done.is_set()


class _FlakyWal:
    """A connection whose first attempts to switch to WAL find the file locked."""

    def __init__(self, conn: sqlite3.Connection, failures: int, code: int) -> None:
        self.conn, self.failures, self.code = conn, failures, code

    def execute(self, sql: str) -> sqlite3.Cursor:
        if self.failures:
            self.failures -= 1
            e = sqlite3.OperationalError("database is locked")
            e.sqlite_errorcode = self.code
            raise e
        return self.conn.execute(sql)


def test_wal_switch_retries_while_locked(db_path: Path) -> None:
    db_path.parent.mkdir()
    conn = sqlite3.connect(db_path)
    try:
        sqlite_mod._set_wal(_FlakyWal(conn, 3, 5))  # type: ignore[arg-type]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(sqlite3.OperationalError):  # other errors are not retried
            sqlite_mod._set_wal(_FlakyWal(conn, 1, 10))  # type: ignore[arg-type]
    finally:
        conn.close()
