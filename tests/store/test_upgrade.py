"""SQLite databases made by the numbered-SQL runner Alembic replaced: built here from its
own files (``legacy/0001_initial.sql``, ``legacy/0002_delegation_approval.sql``, frozen
copies) and its ``schema_version`` table, with rows in every table.  Opening one adopts
it: stamped at its version, the old table dropped, no row touched, then upgraded to
HEAD; the result has exactly the schema of a fresh database."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
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
from zkattest.store import migrations as migrations_mod
from zkattest.store._common import V_COLUMNS
from zkattest.store.migrations import HEAD, VERSION_TABLE

from .conftest import (
    T0,
    agent,
    awaiting,
    close_loop,
    h,
    presentation_token,
    put,
    request_token,
    run,
    verification,
)

LEGACY = Path(__file__).parent / "legacy"

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
# Rows only version 2 can hold.
V2_VERIFICATIONS = [
    awaiting("v2-awaiting", ttl=1000),
    awaiting("v2-approved", status="pending", approved_by="carol", approved_at=T0 + 1, ttl=1000),
    verification("v2-delegated", client_id="rp-1", subject="bob", act={"sub": "rp-1"}),
]


def v1_row(rec: VerificationRecord) -> list[object]:
    row = dict(zip(V_COLUMNS, _legacy_row(rec), strict=True))
    return [row[c] for c in V1_COLUMNS]


def _legacy_row(rec: VerificationRecord) -> list[object]:
    out: list[object] = []
    for name in V_COLUMNS:
        value = getattr(rec, name)
        if name in ("params", "act", "policy_ids") and value is not None:
            value = msgspec.json.encode(value, order="sorted").decode()
        elif name == "result" and value is not None:
            value = int(value)
        out.append(value)
    return out


def a_row(rec: AgentRecord) -> list[object]:
    return [getattr(rec, f.name) for f in msgspec.structs.fields(AgentRecord)]


def build_legacy(db_path: Path, version: int = 1, *, orphan: bool = False) -> None:
    """A database as the old runner left it at ``version`` (1 or 2), with rows in every
    table, made the way that runner did: each migration one transaction with its
    ``schema_version`` row; 0002 with foreign keys off."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(
            "BEGIN;"
            " CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at DOUBLE PRECISION NOT NULL);"
            + (LEGACY / "0001_initial.sql").read_text()
            + f"\nINSERT INTO schema_version VALUES (1, 'initial', {T0}); COMMIT;"
        )
        conn.execute("BEGIN")
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
        if version >= 2:
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.executescript(
                "BEGIN IMMEDIATE;"
                + (LEGACY / "0002_delegation_approval.sql").read_text()
                + f"\nINSERT INTO schema_version VALUES (2, 'delegation_approval', {T0});"
                " COMMIT;"
            )
            conn.execute("PRAGMA foreign_keys = ON")
            marks = ", ".join("?" * len(V_COLUMNS))
            for rec in V2_VERIFICATIONS:
                conn.execute(
                    f"INSERT INTO verifications ({', '.join(V_COLUMNS)}) VALUES ({marks})",
                    _legacy_row(rec),
                )
        if orphan:  # only possible with foreign keys off
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute(
                f"INSERT INTO agents VALUES ({', '.join('?' * n)})",
                a_row(agent("a-orphan", "v-gone")),
            )
    finally:
        conn.close()


def legacy_versions(db_path: Path) -> list[int] | None:
    conn = sqlite3.connect(db_path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "schema_version" not in names:
            return None
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    finally:
        conn.close()


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every zkattest table, in a stable order."""
    out = {}
    for table in ("verifications", "agents", "one_use"):
        out[table] = sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    return out


def schema(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """sqlite_master as SQLite keeps it (the text of every CREATE), version tables aside."""
    return sorted(
        (str(t), str(n), str(tbl), str(sql))
        for t, n, tbl, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
        if tbl not in (VERSION_TABLE, "schema_version")
    )


@pytest.fixture(params=[1, 2])
def legacy(request: pytest.FixtureRequest, db_path: Path) -> int:
    """A database of the old runner at version 1 or 2 (with its rows)."""
    version: int = request.param
    build_legacy(db_path, version)
    assert legacy_versions(db_path) == list(range(1, version + 1))
    return version


@pytest.fixture
def upgraded(legacy: int, sqlite_url: str) -> Iterator[SQLiteStore]:
    s = run(SQLiteStore.open(sqlite_url))
    yield s
    run(s.close())


def test_adoption_stamps_and_drops_the_old_bookkeeping(
    upgraded: SQLiteStore, db_path: Path
) -> None:
    assert legacy_versions(db_path) is None  # schema_version is gone
    assert run(upgraded.schema_revision()) == HEAD
    assert upgraded._conn is not None
    rows = upgraded._conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    assert rows == [(HEAD,)]


def test_adoption_touches_no_row(legacy: int, db_path: Path, sqlite_url: str) -> None:
    conn = sqlite3.connect(db_path)
    try:
        before = dump(conn)
    finally:
        conn.close()
    run(run(SQLiteStore.open(sqlite_url)).close())
    conn = sqlite3.connect(db_path)
    try:
        after = dump(conn)
    finally:
        conn.close()
    if legacy == 2:
        assert after == before  # stamped at 0002: nothing rebuilt, nothing rewritten
    else:
        # 0002 rebuilt verifications: the same rows, with the new columns' defaults
        assert after["agents"] == before["agents"]
        assert after["one_use"] == before["one_use"]
        assert [r[: len(V1_COLUMNS)] for r in after["verifications"]] == (before["verifications"])
        assert {r[len(V1_COLUMNS) :] for r in after["verifications"]} == {
            (None, None, "[]", None, None)
        }


def test_upgrade_keeps_every_record(upgraded: SQLiteStore, legacy: int) -> None:
    for rec in V1_VERIFICATIONS:
        got = run(upgraded.get_verification(rec.id))
        assert got == rec  # and so the new fields are None / ()
        assert got is not None and got.policy_ids == () and got.subject is None
        assert run(upgraded.find_by_request_token(rec.request_token_hash)) == rec
    for rec in V2_VERIFICATIONS:
        assert run(upgraded.get_verification(rec.id)) == (rec if legacy == 2 else None)
    for a in V1_AGENTS:
        assert run(upgraded.get_agent(a.id)) == a
    assert not run(upgraded.use_once("dpop", "live", T0 + 2000, T0 + 5))  # still consumed
    assert run(upgraded.use_once("dpop", "old", T0 + 2000, T0 + 5))  # expired: as absent
    counts = run(upgraded.counts())
    assert counts["verifications"] == {
        "awaiting_approval": 1 if legacy == 2 else 0,
        "pending": 4 if legacy == 2 else 2,
        "presented": 1,
        "completed": 2,
        "failed": 1,
        "expired": 1,
    }
    assert set(counts["agents"].values()) == {1}


def test_adopted_schema_is_the_fresh_schema(upgraded: SQLiteStore, tmp_path: Path) -> None:
    fresh = run(SQLiteStore.open(f"sqlite://{tmp_path}/fresh/zkattest.db"))
    try:
        assert upgraded._conn is not None and fresh._conn is not None
        assert schema(upgraded._conn) == schema(fresh._conn)
        names = {n for _, n, _, _ in schema(fresh._conn)}
        assert "verifications_v2" not in names and "audit_events" in names
    finally:
        run(fresh.close())


def test_shipped_revisions_build_the_old_runners_schema(db_path: Path, tmp_path: Path) -> None:
    """Revisions 0001 + 0002 make, text for text, what the old files made."""
    build_legacy(db_path, 2)
    legacy_conn = sqlite3.connect(db_path)
    fresh = run(SQLiteStore.open(f"sqlite://{tmp_path}/fresh/zkattest.db"))
    try:
        assert fresh._conn is not None
        old = schema(legacy_conn)
        new = [row for row in schema(fresh._conn) if not row[2].startswith("audit_")]
        assert new == old
    finally:
        legacy_conn.close()
        run(fresh.close())


def test_foreign_keys_still_enforced_after_upgrade(upgraded: SQLiteStore) -> None:
    c = upgraded._conn
    assert c is not None
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # back on after migrating
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
    run(upgraded.create_verification(awaiting("v-new", ttl=100, subject="zoe")))
    assert [r.id for r in run(upgraded.awaiting_approval(T0, subjects=["zoe"]))] == ["v-new"]
    assert run(
        upgraded.decide_approval(
            "v-new", approve=True, approver="bob", now=T0 + 1, expires_at=T0 + 50
        )
    )
    got = run(upgraded.get_verification("v-new"))
    assert got is not None and (got.status, got.approved_by) == ("pending", "bob")
    # the CHECK constraints of version 2
    put(upgraded, verification("raw", status="awaiting_approval"))
    for bad in (
        {"status": "approved"},
        {"approved_by": "bob"},
        {"approved_at": T0},
    ):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            put(upgraded, verification("r2", request_token_hash=h("r2"), **bad))
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
    assert run(s.sweep(T0 + 2000))["verifications_expired"] >= 2  # v-pending and v-fetched


def test_code_that_knows_fewer_revisions_refuses_the_database(
    upgraded: SQLiteStore, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations_mod, "REVISIONS", ("0001", "0002"))
    monkeypatch.setattr(migrations_mod, "HEAD", "0002")
    with pytest.raises(IncompatibleSchema, match=f"{HEAD!r} is newer"):
        run(SQLiteStore.open(sqlite_url))


# -- refusals --------------------------------------------------------------------------------


def test_a_broken_foreign_key_stops_the_upgrade(db_path: Path, sqlite_url: str) -> None:
    build_legacy(db_path, 1, orphan=True)
    with pytest.raises(StoreError, match="rows of agents reference missing rows") as e:
        run(SQLiteStore.open(sqlite_url))
    assert "a-orphan" not in str(e.value)  # names tables, not values
    assert legacy_versions(db_path) == [1]  # not even adopted: one transaction
    conn = sqlite3.connect(db_path)
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(verifications)")}
        assert columns == set(V1_COLUMNS)  # the rebuild was rolled back whole
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert not {"verifications_v2", VERSION_TABLE, "audit_events"} & tables
        assert conn.execute("SELECT count(*) FROM verifications").fetchone()[0] == len(
            V1_VERIFICATIONS
        )
        conn.execute("DELETE FROM agents WHERE id = 'a-orphan'")
        conn.commit()
    finally:
        conn.close()
    s = run(SQLiteStore.open(sqlite_url))  # repaired: the upgrade goes through
    try:
        assert run(s.schema_revision()) == HEAD
    finally:
        run(s.close())


@pytest.mark.parametrize("version", [3, 99])
def test_a_newer_legacy_version_is_refused(db_path: Path, sqlite_url: str, version: int) -> None:
    build_legacy(db_path, 2)
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'future', 0)", (version,))
    conn.commit()
    conn.close()
    with pytest.raises(IncompatibleSchema, match=f"version {version} is newer"):
        run(SQLiteStore.open(sqlite_url))
    assert legacy_versions(db_path) == [1, 2, version]


def test_an_empty_legacy_bookkeeping_is_replaced(db_path: Path, sqlite_url: str) -> None:
    # the old runner created schema_version, then failed in 0001: no tables, no version
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at DOUBLE PRECISION NOT NULL)"
    )
    conn.commit()
    conn.close()
    s = run(SQLiteStore.open(sqlite_url))
    try:
        assert run(s.schema_revision()) == HEAD
    finally:
        run(s.close())
    assert legacy_versions(db_path) is None


def test_tables_without_any_version_are_left_alone(db_path: Path, sqlite_url: str) -> None:
    build_legacy(db_path, 1)
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TABLE schema_version")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="no schema version"):
        run(SQLiteStore.open(sqlite_url))
    conn = sqlite3.connect(db_path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert VERSION_TABLE not in tables
    finally:
        conn.close()


def test_concurrent_upgrade(legacy: int, db_path: Path, sqlite_url: str) -> None:
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            s = run(SQLiteStore.open(sqlite_url))
            try:
                assert run(s.get_verification("v-completed")) == V1_VERIFICATIONS[3]
            finally:
                run(s.close())
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            close_loop()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert legacy_versions(db_path) is None
    s = run(SQLiteStore.open(sqlite_url))
    try:
        assert run(s.schema_revision()) == HEAD
    finally:
        run(s.close())
