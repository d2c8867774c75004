"""What the schema can hold: no column for a token or a secret in clear."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkattest.store import SQLiteStore, StoreError
from zkattest.store.sqlite import _V_COLUMNS, _to_row

from .conftest import run, verification

# Every column, reviewed.  A new column must be added here deliberately.
EXPECTED = {
    "verifications": {
        "id", "status", "predicate", "params", "audience", "nonce", "rp_scope", "today",
        "schema", "code_challenge", "request_token_hash", "created_at", "expires_at",
        "request_fetched_at", "presentation_token_hash", "presented_at", "mode", "agent_id",
        "result", "reason", "attestation", "completed_at", "client_id",
        "subject", "act", "policy_ids", "approved_by", "approved_at",
    },
    "agents": {
        "id", "spiffe_id", "verification_id", "task", "state", "audience", "svid_jti",
        "key_thumbprint", "created_at", "expires_at", "running_at", "attested_at",
        "retired_at", "failed_reason", "attestation_jti",
    },
    "one_use": {"namespace", "key", "created_at", "expires_at"},
    "schema_version": {"version", "name", "applied_at"},
}  # fmt: skip

# Words naming something that must never be stored in clear.
SENSITIVE = re.compile(
    r"token|secret|password|passwd|private|credential|verifier|birth|witness|seed|pem|jwk$"
)


@pytest.fixture
def conn(url: str, db_path: Path) -> Iterator[sqlite3.Connection]:
    run(run(SQLiteStore.open(url)).close())
    c = sqlite3.connect(db_path)
    yield c
    c.close()


def tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in names}


def test_schema_is_exactly_the_reviewed_columns(conn: sqlite3.Connection) -> None:
    assert tables(conn) == EXPECTED


def test_no_column_can_hold_a_token_or_secret_in_clear(conn: sqlite3.Connection) -> None:
    for table, columns in tables(conn).items():
        for column in columns:
            if SENSITIVE.search(column):
                assert column.endswith("_hash"), f"{table}.{column} could hold a secret"


def insert(conn: sqlite3.Connection, **overrides: object) -> None:
    row = dict(zip(_V_COLUMNS, _to_row(verification()), strict=True), **overrides)
    cols = ", ".join(row)
    marks = ", ".join("?" * len(row))
    conn.execute(f"INSERT INTO verifications ({cols}) VALUES ({marks})", list(row.values()))


def test_valid_row_inserts(conn: sqlite3.Connection) -> None:
    insert(conn)  # so the refusals below are about the one column changed


@pytest.mark.parametrize("column", ["request_token_hash", "presentation_token_hash"])
@pytest.mark.parametrize("bad", ["t" * 64, "A" * 64, "0" * 63, "0" * 65, "raw-bearer-token"])
def test_hash_columns_accept_only_sha256_hex(
    conn: sqlite3.Connection, column: str, bad: str
) -> None:
    # the database itself refuses a bearer token where its digest belongs
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        insert(conn, **{column: bad})


@pytest.mark.parametrize(("column", "bad"), [("status", "bogus"), ("mode", "magic"), ("result", 2)])
def test_check_constraints_guard_values(conn: sqlite3.Connection, column: str, bad: object) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        insert(conn, **{column: bad})


def test_indexes_for_sweeps_and_lookups(conn: sqlite3.Connection) -> None:
    def indexed(table: str) -> dict[tuple[str, ...], bool]:
        out = {}
        for _, name, unique, *_ in conn.execute(f"PRAGMA index_list({table})"):
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
            out[cols] = bool(unique)
        return out

    v = indexed("verifications")
    assert v[("request_token_hash",)] is True
    assert v[("status", "expires_at")] is False
    assert v[("client_id", "created_at")] is False  # recent_count
    a = indexed("agents")
    assert a[("state", "expires_at")] is False
    for unique in ("spiffe_id", "verification_id", "svid_jti", "attestation_jti"):
        assert a[(unique,)] is True
    assert indexed("one_use")[("expires_at",)] is False


def test_store_error_hierarchy() -> None:
    from zkattest.errors import ZkAttestError
    from zkattest.store import Conflict, IncompatibleSchema, StoreUnavailable

    for cls in (Conflict, IncompatibleSchema, StoreUnavailable):
        assert issubclass(cls, StoreError)
    assert issubclass(StoreError, ZkAttestError)
