"""What the schema can hold, on both backends: exactly the reviewed columns, no column for
a token or a secret in clear, CHECKs that refuse what the records never hold, the
indexes the queries need."""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING

import pytest

from zkattest.store import SQLiteStore, StoreError
from zkattest.store._common import V_COLUMNS, encode_row

if TYPE_CHECKING:
    from zkattest.store.postgres import PostgresStore

from .conftest import AnyStore, execute, fetch, put, run, verification

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
    "audit_events": {"chain_id", "seq", "ts", "kind", "hash", "event"},
    "audit_checkpoints": {"chain_id", "seq", "ts", "head", "jws"},
    "zkattest_alembic_version": {"version_num"},
}  # fmt: skip

# Words naming something that must never be stored in clear.
SENSITIVE = re.compile(
    r"token|secret|password|passwd|private|credential|verifier|birth|witness|seed|pem|jwk$"
)


def tables(store: AnyStore) -> dict[str, set[str]]:
    if isinstance(store, SQLiteStore):
        names = [
            r[0]
            for r in fetch(
                store,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
        ]
        return {t: {r[1] for r in fetch(store, f"PRAGMA table_info({t})")} for t in names}
    out: dict[str, set[str]] = {}
    for table, column in fetch(
        store,
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema()",
    ):
        out.setdefault(table, set()).add(column)
    return out


def indexes(store: AnyStore, table: str) -> dict[tuple[str, ...], bool]:
    """The indexed column lists of a table -> unique."""
    out: dict[tuple[str, ...], bool] = {}
    if isinstance(store, SQLiteStore):
        for _, name, unique, *_ in fetch(store, f"PRAGMA index_list({table})"):
            cols = tuple(r[2] for r in fetch(store, f"PRAGMA index_info({name})"))
            out[cols] = bool(unique)
        return out
    for cols, unique in fetch(
        store,
        "SELECT array_agg(a.attname ORDER BY k.n), i.indisunique"
        " FROM pg_index i"
        " JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = to_regclass($1) GROUP BY i.indexrelid, i.indisunique",
        table,
    ):
        out[tuple(cols)] = bool(unique)
    return out


def test_schema_is_exactly_the_reviewed_columns(store: AnyStore) -> None:
    assert tables(store) == EXPECTED


def test_no_column_can_hold_a_token_or_secret_in_clear(store: AnyStore) -> None:
    for table, columns in tables(store).items():
        for column in columns:
            if SENSITIVE.search(column):
                assert column.endswith("_hash"), f"{table}.{column} could hold a secret"


def _refused(store: AnyStore) -> type[Exception]:
    if isinstance(store, SQLiteStore):
        return sqlite3.IntegrityError
    import asyncpg

    return asyncpg.CheckViolationError


def test_valid_row_inserts(store: AnyStore) -> None:
    put(store, verification())  # so the refusals below are about the one column changed
    assert run(store.get_verification("v1")) == verification()


@pytest.mark.parametrize("column", ["request_token_hash", "presentation_token_hash"])
@pytest.mark.parametrize(
    "bad", ["t" * 64, "A" * 64, "0" * 63, "0" * 65, "raw-bearer-token", "0" * 64 + "\n"]
)
def test_hash_columns_accept_only_sha256_hex(store: AnyStore, column: str, bad: str) -> None:
    # the database itself refuses a bearer token where its digest belongs
    with pytest.raises(_refused(store), match=r"(?i)check"):
        put(store, verification(**{column: bad}))


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        ("status", "bogus"),
        ("mode", "magic"),
        ("approved_by", "bob"),  # without approved_at
        ("approved_at", 1.0),  # without approved_by
    ],
)
def test_check_constraints_guard_values(store: AnyStore, column: str, bad: object) -> None:
    with pytest.raises(_refused(store), match=r"(?i)check"):
        put(store, verification(**{column: bad}))


def test_sqlite_result_is_zero_or_one(sqlite_store: SQLiteStore) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        put(sqlite_store, verification(result=2))  # type: ignore[arg-type]


def _put_raw(store: AnyStore, column: str, text: str) -> None:
    row = list(encode_row(verification(), bool_as_int=False))
    row[V_COLUMNS.index(column)] = text
    marks = ", ".join(f"${i + 1}" for i in range(len(V_COLUMNS)))
    execute(store, f"INSERT INTO verifications ({', '.join(V_COLUMNS)}) VALUES ({marks})", *row)


@pytest.mark.parametrize(
    ("column", "bad"), [("params", "[1]"), ("policy_ids", "{}"), ("act", '"x"')]
)
def test_postgres_json_columns_hold_their_shapes(
    pg_store: PostgresStore, column: str, bad: str
) -> None:
    import asyncpg

    with pytest.raises(asyncpg.CheckViolationError):
        _put_raw(pg_store, column, bad)


def test_indexes_for_sweeps_and_lookups(store: AnyStore) -> None:
    v = indexes(store, "verifications")
    assert v[("id",)] is True
    assert v[("request_token_hash",)] is True
    assert v[("status", "expires_at")] is False
    assert v[("client_id", "created_at")] is False  # recent_count
    a = indexes(store, "agents")
    assert a[("state", "expires_at")] is False
    for unique in ("spiffe_id", "verification_id", "svid_jti", "attestation_jti"):
        assert a[(unique,)] is True
    u = indexes(store, "one_use")
    assert u[("expires_at",)] is False
    assert u[("namespace", "key")] is True
    assert indexes(store, "audit_events")[("chain_id", "seq")] is True
    assert indexes(store, "audit_checkpoints")[("chain_id", "seq")] is True


def test_store_error_hierarchy() -> None:
    from zkattest.errors import ZkAttestError
    from zkattest.store import Conflict, IncompatibleSchema, StoreUnavailable

    for cls in (Conflict, IncompatibleSchema, StoreUnavailable):
        assert issubclass(cls, StoreError)
    assert issubclass(StoreError, ZkAttestError)
