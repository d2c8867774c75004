"""State that must survive restarts and be shared by replicas: verification sessions,
micro-agents and one-use keys.

``await open_store("sqlite:///var/lib/zkattest/zkattest.db")`` returns a :class:`Store`;
SQLite is the embedded default, PostgreSQL a later backend with the same semantics
(:mod:`.base`).  Every one-use step is atomic in the database itself, so it holds across
threads, processes, replicas and restarts.  The store keeps hashes of tokens, never
tokens, and nothing secret (no keys, holder secrets or witness data).
"""

from __future__ import annotations

import re

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

__all__ = [
    "AGENT_STATES",
    "AGENT_TRANSITIONS",
    "INITIAL_STATUSES",
    "MODES",
    "VERIFICATION_STATUSES",
    "AgentField",
    "AgentRecord",
    "AgentState",
    "Conflict",
    "IncompatibleSchema",
    "Mode",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "VerificationRecord",
    "VerificationStatus",
    "open_store",
]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://")


async def open_store(url: str) -> Store:
    """Open the store a database URL names: ``sqlite:///absolute/path.db`` or
    ``sqlite:///:memory:``.  Other schemes raise :class:`StoreError`; the message may
    name the scheme but never repeats the rest of the URL (it may hold credentials)."""
    m = _SCHEME.match(url)
    if m is None:
        raise StoreError("unsupported database URL scheme (expected sqlite:///path)")
    scheme = m.group(1).lower()
    if scheme == "sqlite":
        return await SQLiteStore.open(url)
    raise StoreError(f"unsupported database URL scheme {scheme!r} (supported: sqlite)")
