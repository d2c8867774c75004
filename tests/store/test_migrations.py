"""The migration runner: fresh databases get the latest schema, reopening applies nothing,
newer databases are refused, each migration is one transaction."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from importlib import resources
from pathlib import Path

import pytest

from zkattest.store import IncompatibleSchema, SQLiteStore, StoreError
from zkattest.store import sqlite as sqlite_mod
from zkattest.store.sqlite import Migration, load_migrations

from .conftest import run, verification


def versions(db_path: Path) -> list[tuple[int, str, float]]:
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("SELECT version, name, applied_at FROM schema_version ORDER BY 1")
        return [tuple(r) for r in rows]
    finally:
        conn.close()


def test_shipped_migrations_are_numbered_from_one() -> None:
    migs = load_migrations()
    assert [m.version for m in migs] == list(range(1, len(migs) + 1))
    assert migs[0].name == "initial"
    assert all(m.statements for m in migs)


def test_fresh_database_gets_the_latest_version(url: str, db_path: Path) -> None:
    s = run(SQLiteStore.open(url))
    try:
        assert run(s.schema_version()) == len(load_migrations())
    finally:
        run(s.close())
    assert [v for v, _, _ in versions(db_path)] == [m.version for m in load_migrations()]


def test_reopen_does_not_reapply(url: str, db_path: Path) -> None:
    s = run(SQLiteStore.open(url))
    run(s.create_verification(verification()))
    run(s.close())
    before = versions(db_path)
    for _ in range(3):
        s = run(SQLiteStore.open(url))
        assert run(s.get_verification("v1")) == verification()
        run(s.close())
    assert versions(db_path) == before


def test_newer_database_is_refused(url: str, db_path: Path) -> None:
    run(run(SQLiteStore.open(url)).close())
    latest = len(load_migrations())
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'from_the_future', 0)", (latest + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(IncompatibleSchema, match=f"version {latest + 1} is newer") as e:
        run(SQLiteStore.open(url))
    assert isinstance(e.value, StoreError)
    assert len(versions(db_path)) == latest + 1  # left as it was


def test_each_migration_is_one_transaction(
    url: str, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = load_migrations()
    broken = Migration(
        len(real) + 1,
        "broken",
        ("CREATE TABLE half_done (x INTEGER)", "INSERT INTO no_such_table VALUES (1)"),
    )
    monkeypatch.setattr(sqlite_mod, "load_migrations", lambda: (*real, broken))
    with pytest.raises(StoreError):
        run(SQLiteStore.open(url))
    conn = sqlite3.connect(db_path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert "half_done" not in tables  # rolled back with the failing statement
    assert "verifications" in tables  # the earlier migrations stayed applied
    assert [v for v, _, _ in versions(db_path)] == [m.version for m in real]

    fixed = Migration(len(real) + 1, "fixed", ("CREATE TABLE half_done (x INTEGER)",))
    monkeypatch.setattr(sqlite_mod, "load_migrations", lambda: (*real, fixed))
    s = run(SQLiteStore.open(url))
    try:
        assert run(s.schema_version()) == len(real) + 1
    finally:
        run(s.close())


def test_concurrent_first_open(url: str, db_path: Path) -> None:
    n = 16
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            s = run(SQLiteStore.open(url))
            run(s.ping())
            run(s.close())
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert [v for v, _, _ in versions(db_path)] == [m.version for m in load_migrations()]


def test_statement_splitting() -> None:
    split = sqlite_mod._split_statements
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    -- another comment
    INSERT INTO t VALUES ('c;
    d');

    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET x = 'e;f';
    END;
    -- trailing comment
    """
    stmts = split(sql)
    assert len(stmts) == 3
    assert stmts[0].endswith("DEFAULT 'a;b');")
    assert stmts[2].rstrip().endswith("END;")
    with pytest.raises(StoreError, match="incomplete"):
        split("CREATE TABLE t (x INTEGER);\nCREATE TABLE u (y INTEGER)")


def test_migration_files_must_be_named_and_numbered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "zkfake" / "migrations" / "sqlite"
    folder.mkdir(parents=True)

    def load(names: dict[str, str]) -> tuple[Migration, ...]:
        for f in folder.iterdir():
            f.unlink()
        for name, text in names.items():
            (folder / name).write_text(text)
        monkeypatch.setattr(resources, "files", lambda _pkg: tmp_path / "zkfake")
        return sqlite_mod.load_migrations.__wrapped__()

    good = load({"0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;", "README.txt": "x"})
    assert [(m.version, m.name) for m in good] == [(1, "a"), (2, "b")]
    with pytest.raises(StoreError, match="numbered"):
        load({"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 3;"})
    with pytest.raises(StoreError, match="badly named"):
        load({"0001_a.sql": "SELECT 1;", "2_b.sql": "SELECT 2;"})
    with pytest.raises(StoreError, match="missing"):  # package data not installed
        load({"README.txt": "x"})
    shutil.rmtree(folder)
    with pytest.raises(StoreError, match="missing"):
        sqlite_mod.load_migrations.__wrapped__()


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
