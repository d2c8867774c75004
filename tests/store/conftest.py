"""Store fixtures: a fresh SQLite file per test, record factories, a fixed clock origin.

Store methods are async; tests drive them with ``asyncio.run`` (no asyncio plugin)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from zkattest.store import AgentRecord, SQLiteStore, VerificationRecord
from zkattest.store.sqlite import _V_COLUMNS, _to_row

T = TypeVar("T")

T0 = 1_800_000_000.0  # the tests' "now"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def h(text: str) -> str:
    """The stored form of a token: its SHA-256 hex digest."""
    return hashlib.sha256(text.encode()).hexdigest()


def verification(
    id: str = "v1", *, now: float = T0, ttl: float = 300.0, **kw: Any
) -> VerificationRecord:
    fields: dict[str, Any] = {
        "id": id,
        "status": "pending",
        "predicate": "age_gte",
        "params": {"min_age": 18},
        "audience": "https://shop.example",
        "nonce": "123456789",
        "rp_scope": "987654321",
        "today": 20260301,
        "schema": "person/v1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "request_token_hash": h(f"request-token-{id}"),
        "created_at": now,
        "expires_at": now + ttl,
    }
    fields.update(kw)
    return VerificationRecord(**fields)


def awaiting(
    id: str = "v1",
    *,
    subject: str | None = "alice",
    client_id: str | None = "rp-1",
    now: float = T0,
    ttl: float = 600.0,
    **kw: Any,
) -> VerificationRecord:
    """A session parked for human step-up: ``expires_at`` is the approval deadline."""
    fields: dict[str, Any] = {
        "status": "awaiting_approval",
        "subject": subject,
        "client_id": client_id,
        "policy_ids": ("step_up_minor_risk",),
        "act": {"sub": "agent-7", "act": {"sub": "agent-3"}},
    }
    fields.update(kw)
    return verification(id, now=now, ttl=ttl, **fields)


def put(store: SQLiteStore, rec: VerificationRecord) -> None:
    """White box: store a session in any state (``create_verification`` only takes new
    ones), to set up states the lifecycle would take several steps to reach."""
    assert store._conn is not None
    cols = ", ".join(_V_COLUMNS)
    marks = ", ".join("?" * len(_V_COLUMNS))
    store._conn.execute(f"INSERT INTO verifications ({cols}) VALUES ({marks})", _to_row(rec))


def agent(
    id: str = "a1", verification_id: str = "v1", *, now: float = T0, ttl: float = 60.0, **kw: Any
) -> AgentRecord:
    fields: dict[str, Any] = {
        "id": id,
        "spiffe_id": f"spiffe://zkattest.local/agent/verify/{id}",
        "verification_id": verification_id,
        "task": "verify",
        "state": "provisioned",
        "audience": "https://shop.example",
        "svid_jti": f"svid-{id}",
        "key_thumbprint": f"thumb-{id}",
        "created_at": now,
        "expires_at": now + ttl,
    }
    fields.update(kw)
    return AgentRecord(**fields)


def request_token(id: str) -> str:
    return h(f"request-token-{id}")


def presentation_token(id: str) -> str:
    return h(f"presentation-token-{id}")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "zkattest.db"


@pytest.fixture
def url(db_path: Path) -> str:
    return f"sqlite://{db_path}"


@pytest.fixture
def store(url: str) -> Iterator[SQLiteStore]:
    s = run(SQLiteStore.open(url))
    yield s
    run(s.close())
