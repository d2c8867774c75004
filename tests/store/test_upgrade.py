"""Upgrading a version-1 database (built from the shipped 0001 file alone, with rows in
every table) to the current schema: data intact, the new statuses and columns usable,
foreign keys still enforced; migrations that run with foreign keys off roll back whole."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import msgspec
import pytest

from zkattest.store import (
    AgentRecord,
    Conflict,
    IncompatibleSchema,
    SQLiteStore,
    StoreError,
    VerificationRecord,
)
from zkattest.store import sqlite as sqlite_mod
from zkattest.store.sqlite import _V_COLUMNS, Migration, _to_row, load_migrations

from .conftest import T0, agent, awaiting, h, presentation_token, request_token, run, verification

# The verifications columns of schema version 1, frozen here on purpose.
V1_COLUMNS = (
    "id", "status", "predicate", "params", "audience", "nonce", "rp_scope", "today", "schema",
    "code_challenge", "request_token_hash", "created_at", "expires_at", "request_fetched_at",
    "presentation_token_hash", "presented_at", "mode", "agent_id", "result", "reason",
    "attestation", "completed_at", "client_id",
)  # fmt: skip

V1_VERIFICATIONS = [
    verification("v-pending", client_id="rp-1", ttl=1000),
    verification(
        "v-fetched",
        client_id="rp-1",
        now=T0 + 1,
        request_fetched_at=T0 + 2,
        presentation_token_hash=presentation_token("v-fetched"),
        ttl=1000,
    ),
    verification(
        "v-presented",
        status="presented",
        request_fetched_at=T0 + 1,
        presentation_token_hash=presentation_token("v-presented"),
        presented_at=T0 + 2,
        mode="delegated",
        expires_at=T0 + 60,
    ),
    verification(
        "v-completed",
        status="completed",
        params={"min_age": 21},
        request_fetched_at=T0 + 1,
        presentation_token_hash=presentation_token("v-completed"),
        presented_at=T0 + 2,
        mode="proof",
        agent_id="a-attested",
        result=True,
        attestation="eyJ.eyJ.sig",
        completed_at=T0 + 3,
        client_id="rp-2",
    ),
    verification("v-no", status="completed", result=False, completed_at=T0 + 3),
    verification("v-failed", status="failed", reason="invalid_proof", completed_at=T0 + 4),
    verification("v-expired", status="expired", ttl=1),
]
V1_AGENTS = [
    agent("a-provisioned", "v-pending", ttl=1000),
    agent("a-running", "v-fetched", state="running", running_at=T0 + 1),
    agent("a-attested", "v-completed", state="attested", attestation_jti="att-1"),
    agent("a-retired", "v-no", state="retired", retired_at=T0 + 5),
    agent("a-expired", "v-expired", state="expired"),
    agent("a-failed", "v-failed", state="failed", failed_reason="boom"),
]


def v1_row(rec: VerificationRecord) -> list[object]:
    row = dict(zip(_V_COLUMNS, _to_row(rec), strict=True))
    return [row[c] for c in V1_COLUMNS]


def a_row(rec: AgentRecord) -> list[object]:
    return [getattr(rec, f.name) for f in msgspec.structs.fields(AgentRecord)]


def build_v1(db_path: Path, *, orphan: bool = False) -> None:
    """A database as zkattest with only migration 0001 left it, with rows in every table."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    sql = (
        resources.files("zkattest.store")
        .joinpath("migrations", "sqlite", "0001_initial.sql")
        .read_text("utf-8")
    )
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN")
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at DOUBLE PRECISION NOT NULL)"
        )
        for stmt in sqlite_mod._split_statements(sql):
            conn.execute(stmt)
        conn.execute("INSERT INTO schema_version VALUES (1, 'initial', ?)", (T0,))
        marks = ", ".join("?" * len(V1_COLUMNS))
        for rec in V1_VERIFICATIONS:
            conn.execute(
                f"INSERT INTO verifications ({', '.join(V1_COLUMNS)}) VALUES ({marks})",
                v1_row(rec),
            )
        n = len(msgspec.structs.fields(AgentRecord))
        for a in V1_AGENTS:
            conn.execute(f"INSERT INTO agents VALUES ({', '.join('?' * n)})", a_row(a))
        conn.execute("INSERT INTO one_use VALUES ('dpop', 'live', ?, ?)", (T0, T0 + 1000))
        conn.execute("INSERT INTO one_use VALUES ('dpop', 'old', ?, ?)", (T0, T0 + 1))
        conn.execute("COMMIT")
        if orphan:  # only possible with foreign keys off
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute(
                f"INSERT INTO agents VALUES ({', '.join('?' * n)})",
                a_row(agent("a-orphan", "v-gone")),
            )
    finally:
        conn.close()


def versions(db_path: Path) -> list[int]:
    conn = sqlite3.connect(db_path)
    try:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    finally:
        conn.close()


@pytest.fixture
def upgraded(db_path: Path, url: str) -> Iterator[SQLiteStore]:
    build_v1(db_path)
    assert versions(db_path) == [1]
    s = run(SQLiteStore.open(url))
    yield s
    run(s.close())


def test_upgrade_keeps_every_row(upgraded: SQLiteStore, db_path: Path) -> None:
    assert versions(db_path) == [m.version for m in load_migrations()]
    assert run(upgraded.schema_version()) == len(load_migrations()) >= 2
    for rec in V1_VERIFICATIONS:
        got = run(upgraded.get_verification(rec.id))
        assert got == rec  # and so the new fields are None / ()
        assert got is not None and got.policy_ids == () and got.subject is None
        assert run(upgraded.find_by_request_token(rec.request_token_hash)) == rec
    for a in V1_AGENTS:
        assert run(upgraded.get_agent(a.id)) == a
    assert not run(upgraded.use_once("dpop", "live", T0 + 2000, T0 + 5))  # still consumed
    assert run(upgraded.use_once("dpop", "old", T0 + 2000, T0 + 5))  # expired: as absent
    counts = run(upgraded.counts())
    assert counts["verifications"] == {
        "awaiting_approval": 0,
        "pending": 2,
        "presented": 1,
        "completed": 2,
        "failed": 1,
        "expired": 1,
    }
    assert set(counts["agents"].values()) == {1}


def test_upgraded_schema_is_the_fresh_schema(upgraded: SQLiteStore, tmp_path: Path) -> None:
    fresh = run(SQLiteStore.open(f"sqlite://{tmp_path}/fresh/zkattest.db"))
    try:

        def schema(s: SQLiteStore) -> dict[str, object]:
            assert s._conn is not None
            c = s._conn
            out: dict[str, object] = {}
            for (name,) in c.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
            ):
                out[name] = (
                    c.execute(f"PRAGMA table_info({name})").fetchall(),
                    c.execute(f"PRAGMA foreign_key_list({name})").fetchall(),
                    sorted(
                        (r[1], r[2], tuple(x[2] for x in c.execute(f"PRAGMA index_info({r[1]})")))
                        for r in c.execute(f"PRAGMA index_list({name})")
                    ),
                )
            return out

        assert schema(upgraded) == schema(fresh)
        assert "verifications_v2" not in schema(upgraded)
    finally:
        run(fresh.close())


def test_foreign_keys_still_enforced_after_upgrade(upgraded: SQLiteStore) -> None:
    c = upgraded._conn
    assert c is not None
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # back on after 0002
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    fks = c.execute("PRAGMA foreign_key_list(agents)").fetchall()
    assert [(r[2], r[3], r[4]) for r in fks] == [("verifications", "verification_id", "id")]
    with pytest.raises(Conflict):
        run(upgraded.create_agent(agent("a-new", "no-such-verification")))
    # deleting a verification an agent points at is refused by the new table too
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        c.execute("DELETE FROM verifications WHERE id = 'v-pending'")


def test_upgraded_database_takes_the_new_statuses(upgraded: SQLiteStore) -> None:
    run(upgraded.create_verification(awaiting("v-new", ttl=100)))
    assert [r.id for r in run(upgraded.awaiting_approval(T0, subjects=["alice"]))] == ["v-new"]
    assert run(
        upgraded.decide_approval(
            "v-new", approve=True, approver="bob", now=T0 + 1, expires_at=T0 + 50
        )
    )
    got = run(upgraded.get_verification("v-new"))
    assert got is not None and (got.status, got.approved_by) == ("pending", "bob")
    # the CHECK constraints of version 2
    c = upgraded._conn
    assert c is not None
    row = dict(zip(_V_COLUMNS, _to_row(verification("raw")), strict=True))
    cols = ", ".join(row)
    marks = ", ".join("?" * len(row))
    c.execute(
        f"INSERT INTO verifications ({cols}) VALUES ({marks})",
        list({**row, "status": "awaiting_approval"}.values()),
    )
    for bad in (
        {"id": "r2", "request_token_hash": h("r2"), "status": "approved"},
        {"id": "r3", "request_token_hash": h("r3"), "approved_by": "bob"},
        {"id": "r4", "request_token_hash": h("r4"), "approved_at": T0},
    ):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            c.execute(
                f"INSERT INTO verifications ({cols}) VALUES ({marks})",
                list({**row, **bad}.values()),
            )
    # old rows keep their client_id: two of rp-1's from version 1, plus v-new
    assert run(upgraded.recent_count("rp-1", T0)) == 3
    assert run(upgraded.recent_count("rp-2", T0)) == 1


def test_old_rows_continue_their_lifecycle(upgraded: SQLiteStore) -> None:
    s = upgraded
    assert run(s.claim_request(request_token("v-pending"), h("pt"), T0 + 5)) is not None
    assert run(
        s.begin_presentation("v-fetched", presentation_token("v-fetched"), "proof", T0 + 5, T0 + 65)
    )
    assert run(
        s.finish_verification(
            "v-presented",
            status="completed",
            result=True,
            reason=None,
            attestation="x",
            agent_id=None,
            now=T0 + 5,
        )
    )
    assert run(
        s.transition_agent(
            "a-provisioned", "provisioned", "running", T0 + 5, require_unexpired=True
        )
    )
    assert run(s.sweep(T0 + 2000))["verifications_expired"] == 2  # v-pending and v-fetched


def test_code_that_knows_only_version_1_refuses_the_upgraded_database(
    upgraded: SQLiteStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = load_migrations()
    monkeypatch.setattr(sqlite_mod, "load_migrations", lambda: real[:1])
    with pytest.raises(IncompatibleSchema, match=f"version {len(real)} is newer"):
        run(SQLiteStore.open(url))


def test_a_broken_foreign_key_stops_the_upgrade(db_path: Path, url: str) -> None:
    build_v1(db_path, orphan=True)
    with pytest.raises(StoreError, match="rows of agents reference missing rows") as e:
        run(SQLiteStore.open(url))
    assert "a-orphan" not in str(e.value)  # names tables, not values
    assert versions(db_path) == [1]
    conn = sqlite3.connect(db_path)
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(verifications)")}
        assert columns == set(V1_COLUMNS)  # the rebuild was rolled back whole
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "verifications_v2" not in tables
        assert conn.execute("SELECT count(*) FROM verifications").fetchone()[0] == len(
            V1_VERIFICATIONS
        )
        conn.execute("DELETE FROM agents WHERE id = 'a-orphan'")
        conn.commit()
    finally:
        conn.close()
    s = run(SQLiteStore.open(url))  # repaired: the upgrade goes through
    try:
        assert run(s.schema_version()) == len(load_migrations())
    finally:
        run(s.close())


def test_failing_foreign_keys_off_migration_rolls_back(
    db_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(run(SQLiteStore.open(url)).close())
    s = run(SQLiteStore.open(url))
    run(s.create_verification(verification()))
    run(s.create_agent(agent()))
    run(s.close())
    real = load_migrations()
    broken = Migration(
        len(real) + 1,
        "broken_rebuild",
        (
            "CREATE TABLE agents_new (id TEXT PRIMARY KEY)",
            "INSERT INTO agents_new SELECT id FROM agents",
            "DROP TABLE agents",
            "INSERT INTO no_such_table VALUES (1)",
        ),
        foreign_keys_off=True,
    )
    monkeypatch.setattr(sqlite_mod, "load_migrations", lambda: (*real, broken))
    conn = sqlite_mod._connect(str(db_path))
    try:
        with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
            sqlite_mod._migrate(conn, sqlite_mod.load_migrations())
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # restored
        assert not conn.in_transaction
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "agents" in tables and "agents_new" not in tables
        assert conn.execute("SELECT id FROM agents").fetchall() == [("a1",)]
    finally:
        conn.close()
    assert versions(db_path) == [m.version for m in real]


def test_concurrent_upgrade(db_path: Path, url: str) -> None:
    build_v1(db_path)
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            s = run(SQLiteStore.open(url))
            try:
                assert run(s.get_verification("v-completed")) == V1_VERIFICATIONS[3]
            finally:
                run(s.close())
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert versions(db_path) == [m.version for m in load_migrations()]


# -- migration options ----------------------------------------------------------------------


def test_shipped_rebuild_runs_with_foreign_keys_off() -> None:
    migs = load_migrations()
    assert not migs[0].foreign_keys_off
    assert migs[1].name == "delegation_approval" and migs[1].foreign_keys_off


def test_migration_options() -> None:
    opts = sqlite_mod._migration_options
    assert opts("CREATE TABLE t (x INTEGER);") is False
    assert opts("-- migration: foreign_keys=off\nCREATE TABLE t (x INTEGER);") is True
    assert opts("  --migration:  foreign_keys = off\n") is True
    assert opts("-- a comment that mentions migration: foreign_keys=off\n") is False
    with pytest.raises(StoreError, match="unknown migration option"):
        opts("-- migration: foreign_keys=on\n")
    with pytest.raises(StoreError, match="unknown migration option"):
        opts("-- migration: foreign_keys=off, vacuum\n")
