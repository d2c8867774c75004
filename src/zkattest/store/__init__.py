"""State that must survive restarts and be shared by replicas: verification sessions,
micro-agents and one-use keys.

``await open_store("sqlite:///var/lib/zkattest/zkattest.db")`` returns a :class:`Store`;
SQLite is the embedded default (:mod:`.sqlite`), PostgreSQL the backend replicas share
(``postgresql://...``, :mod:`.postgres`), with the same semantics (:mod:`.base`).  Every
one-use step is atomic in the database itself, so it holds across threads, processes,
replicas and restarts.  The store keeps hashes of tokens, never tokens, and nothing
secret (no keys, holder secrets or witness data).  Both backends also hold the audit
trail (:mod:`.audit`).  The schema is managed by Alembic (:mod:`.migrations`), applied
when a store opens (or by ``zkattest db upgrade``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .audit import AuditPage, StoreAuditSink
from .base import AgentField, Store
from .errors import Conflict, IncompatibleSchema, StoreError, StoreUnavailable
from .records import (
    AGENT_STATES,
    AGENT_TRANSITIONS,
    INITIAL_STATUSES,
    MODES,
    VERIFICATION_STATUSES,
    AgentRecord,
    AgentState,
    Mode,
    VerificationRecord,
    VerificationStatus,
)
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .postgres import PostgresStore

__all__ = [
    "AGENT_STATES",
    "AGENT_TRANSITIONS",
    "INITIAL_STATUSES",
    "MODES",
    "VERIFICATION_STATUSES",
    "AgentField",
    "AgentRecord",
    "AgentState",
    "AuditPage",
    "Conflict",
    "IncompatibleSchema",
    "Mode",
    "PostgresStore",
    "SQLiteStore",
    "Store",
    "StoreAuditSink",
    "StoreError",
    "StoreUnavailable",
    "VerificationRecord",
    "VerificationStatus",
    "open_store",
]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://")


def __getattr__(name: str) -> Any:
    # asyncpg is imported only by programs that use PostgreSQL
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def open_store(url: str) -> SQLiteStore | PostgresStore:
    """Open the store a database URL names: ``sqlite:///absolute/path.db``,
    ``sqlite:///:memory:`` or ``postgresql://user@host/dbname?schema=...`` (also
    ``postgres://``; parameters in :mod:`.postgres`), migrating its schema to this
    code's revision.  Other schemes raise :class:`StoreError`; messages may name the
    scheme but never repeat the rest of the URL (it may hold credentials)."""
    m = _SCHEME.match(url) if isinstance(url, str) else None
    if m is None:
        raise StoreError(
            "unsupported database URL scheme (expected sqlite:///path or postgresql://...)"
        )
    scheme = m.group(1).lower()
    if scheme == "sqlite":
        return await SQLiteStore.open(url)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return await PostgresStore.open(url)
    raise StoreError(f"unsupported database URL scheme {scheme!r} (supported: sqlite, postgresql)")
