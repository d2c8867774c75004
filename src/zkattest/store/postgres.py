"""The PostgreSQL store: one database shared by every replica of the service.

Same semantics as the SQLite store (:mod:`.base`), with the database again deciding
every race: each one-use step is one statement whose row count says who won (a
conditional ``UPDATE``, ``UPDATE ... RETURNING`` for ``claim_request``, and for
``use_once`` an ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` the stored entry has
expired, which replaces an expired entry and refuses a live one in one step).  The
statements run under READ COMMITTED, where a conditional ``UPDATE`` that finds its row
locked by a concurrent winner waits for it and re-checks the condition on the new row
version: of N racing callers, one gets a row count of 1.

Connections come from an asyncpg pool created at :meth:`PostgresStore.open`; a store
belongs to the event loop that opened it.  The calls of a request are one statement
each (one round trip; an audit write that carries a checkpoint takes four), and a
connection goes back to the pool without a reset query: the store leaves no session
state behind (``_keep_session``).  Broken connections (the server restarted, a backend
was terminated, the network dropped) fail the call in progress with
:class:`~zkattest.store.StoreUnavailable` and are replaced by the pool on the next
call; nothing half-done is committed.

URL: ``postgresql://user:password@host:port/dbname?param=value`` (``postgres://``
too).  Parameters of the store (all optional):

- ``schema``: the tables live in this schema (created at open if missing; the
  connections' ``search_path`` is set to it), else in the default search path;
- ``pool_min_size`` (default 1), ``pool_max_size`` (default 10): pool bounds;
- ``connect_timeout`` (seconds, default 10): connecting, and acquiring a pooled
  connection;
- ``command_timeout`` (seconds, default 30; ``0``: none): one statement;
- ``application_name`` (default ``zkattest``): what ``pg_stat_activity`` shows.

Every other parameter goes to asyncpg as libpq does (``sslmode``, ``sslrootcert``;
unknown ones are sent as server settings).  Error messages never
repeat the URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import re
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..audit import AuditEvent, ChainHead, Checkpoint
from . import _common as c
from . import audit as au
from .base import AgentField
from .errors import Conflict, StoreError, StoreUnavailable
from .migrations import VERSION_TABLE, SchemaState
from .records import AGENT_STATES, VERIFICATION_STATUSES, AgentRecord, VerificationRecord

__all__ = [
    "DRIVER_ERRORS",
    "PostgresSettings",
    "PostgresStore",
    "parse_postgres_url",
    "translate_postgres_error",
]

_SCHEMES: Final = ("postgresql", "postgres")
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_CLOSE_TIMEOUT: Final = 10.0

#: SQLSTATE classes and codes that mean "the database cannot be used right now".
_UNAVAILABLE_SQLSTATES: Final = ("08", "40", "53", "57", "25006", "55P03", "58")


# -- URL -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresSettings:
    """A parsed store URL: ``dsn`` is the URL without the store's own parameters."""

    dsn: str = field(repr=False)
    schema: str | None = None
    pool_min_size: int = 1
    pool_max_size: int = 10
    connect_timeout: float = 10.0
    command_timeout: float | None = 30.0
    application_name: str = "zkattest"

    def server_settings(self) -> dict[str, str]:
        settings = {"application_name": self.application_name}
        if self.schema is not None:
            settings["search_path"] = self.schema
        return settings

    async def connect(self, *, command_timeout: float | None = None) -> asyncpg.Connection:
        """One connection as the pool makes them (for the migration runner)."""
        return await asyncpg.connect(
            self.dsn,
            timeout=self.connect_timeout,
            command_timeout=command_timeout,
            server_settings=self.server_settings(),
        )


def _int_param(name: str, text: str, low: int, high: int) -> int:
    if re.fullmatch(r"[0-9]{1,6}", text) is None or not low <= int(text) <= high:
        raise StoreError(f"PostgreSQL URL parameter {name} must be an integer {low}..{high}")
    return int(text)


def _seconds_param(name: str, text: str, *, zero: bool) -> float | None:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value > 86_400 or (value == 0 and not zero):
        raise StoreError(f"PostgreSQL URL parameter {name} must be seconds in (0, 86400]")
    return None if value == 0 else value


def parse_postgres_url(url: str) -> PostgresSettings:
    """Split a store URL (module docstring) into the DSN and the store's settings;
    ``StoreError`` naming the parameter (never echoing the URL) if malformed."""
    try:
        parts = urllib.parse.urlsplit(url)
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        raise StoreError("malformed PostgreSQL URL") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise StoreError("not a PostgreSQL URL (expected postgresql://...)")
    if parts.fragment:
        raise StoreError("PostgreSQL URL takes no fragment")
    seen: set[str] = set()
    rest: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise StoreError(f"PostgreSQL URL parameter {name[:40]!r} given twice")
        seen.add(name)
        if name == "schema":
            if _SCHEMA_NAME.fullmatch(value) is None or value.startswith("pg_"):
                raise StoreError("PostgreSQL URL parameter schema must match [a-z_][a-z0-9_]*")
            values["schema"] = value
        elif name == "pool_min_size":
            values[name] = _int_param(name, value, 0, 1000)
        elif name == "pool_max_size":
            values[name] = _int_param(name, value, 1, 1000)
        elif name == "connect_timeout":
            values[name] = _seconds_param(name, value, zero=False)
        elif name == "command_timeout":
            values[name] = _seconds_param(name, value, zero=True)
        elif name == "application_name":
            values[name] = value
        else:
            rest.append((name, value))
    if values.get("pool_min_size", 1) > values.get("pool_max_size", 10):
        raise StoreError("PostgreSQL URL: pool_min_size must not exceed pool_max_size")
    dsn = urllib.parse.urlunsplit(
        ("postgresql", parts.netloc, parts.path, urllib.parse.urlencode(rest), "")
    )
    return PostgresSettings(dsn=dsn, **values)


# -- errors --------------------------------------------------------------------------------


def translate_postgres_error(e: BaseException) -> StoreError:
    """asyncpg / socket errors -> store errors.  The message names the error class, the
    SQLSTATE and for a constraint its name, never the values of a row."""
    if isinstance(e, asyncpg.IntegrityConstraintViolationError):
        where = getattr(e, "constraint_name", None) or e.sqlstate
        table = getattr(e, "table_name", None)
        return Conflict(f"constraint violated: {where}" + (f" on {table}" if table else ""))
    if isinstance(e, asyncpg.PostgresError):
        state = str(e.sqlstate or "")
        if state.startswith(_UNAVAILABLE_SQLSTATES):
            return StoreUnavailable(f"database unavailable: {type(e).__name__} ({state})")
        if state.startswith("28"):
            return StoreError(f"the database refused the login ({state})")
        return StoreError(f"database error: {type(e).__name__} ({state})")
    if isinstance(e, asyncpg.ConnectionDoesNotExistError | TimeoutError):
        return StoreUnavailable(f"database unavailable: {type(e).__name__}")
    if isinstance(e, OSError):
        # asyncpg's strerror may name the address: only the errno's own text
        why = os.strerror(e.errno) if isinstance(e.errno, int) else type(e).__name__
        return StoreUnavailable(f"database unavailable: {why}")
    if isinstance(e, asyncpg.InterfaceError) and "closed" in str(e):
        return StoreUnavailable(f"database unavailable: {type(e).__name__}")
    return StoreError(f"database error: {type(e).__name__}")


#: What asyncpg raises when the database fails (translated by translate_postgres_error).
DRIVER_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _lock_key(kind: bytes, name: str) -> int:
    digest = hashlib.sha256(b"zkattest.store." + kind + b"\x00" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _count(status: str) -> int:
    """The row count of a command status (``UPDATE 1``, ``INSERT 0 1``, ``DELETE 3``)."""
    return int(status.rsplit(" ", 1)[-1])


async def schema_state(
    conn: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record],
) -> SchemaState:
    row = await conn.fetchrow(
        "SELECT to_regclass($1) IS NOT NULL, to_regclass('verifications') IS NOT NULL",
        VERSION_TABLE,
    )
    assert row is not None
    revisions: tuple[str, ...] | None = None
    if row[0]:
        versions = await conn.fetch(f"SELECT version_num FROM {VERSION_TABLE}")
        revisions = tuple(str(r[0]) for r in versions)
    return SchemaState(revisions=revisions, legacy=None, has_tables=bool(row[1]))


def _select(cls: type[VerificationRecord | AgentRecord]) -> str:
    table = "verifications" if cls is VerificationRecord else "agents"
    return f"SELECT {', '.join(c.columns(cls))} FROM {table}"


def _marks(n: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + n))


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's ``reset``: nothing (one round trip saved on every release).

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` when a connection goes back to the pool.  This store leaves none of that
    behind: its only advisory lock is ``pg_advisory_xact_lock`` (released at the end of
    its transaction), it opens no cursors (``WITH HOLD`` or otherwise), never
    ``LISTEN`` s and never ``SET`` s a session setting (``application_name`` and
    ``search_path`` come in the startup packet and never change).  What asyncpg still
    does on release with a custom reset (``PoolConnectionHolder.release``: it waits
    for a query being cancelled, then runs ``Connection._reset`` before this function)
    covers the rest: a transaction left open or failed (an error, a timeout or a
    cancellation mid-transaction) is rolled back with its transaction-level locks,
    listeners are dropped, and a connection that is closed or whose reset fails is
    terminated instead of reused.  Prepared statements stay: they are asyncpg's own
    cache, kept across releases either way.  Anything that adds session state to a
    pooled connection must undo it before release or bring back the default reset;
    tests/store/test_postgres.py checks that session state survives a release (so this
    function is what runs) and that an open transaction does not."""


#: :meth:`PostgresStore.sweep` in one statement (the tables are independent).
_SWEEP: Final = """\
WITH v AS (
    UPDATE verifications SET status = 'expired'
    WHERE status IN ('awaiting_approval', 'pending', 'presented') AND expires_at <= $1
    RETURNING 1
), a AS (
    UPDATE agents SET state = 'expired'
    WHERE state IN ('provisioned', 'running') AND expires_at <= $1
    RETURNING 1
), r AS (
    UPDATE agents SET state = 'retired', retired_at = $1
    WHERE state = 'attested' AND expires_at <= $1
    RETURNING 1
), o AS (
    DELETE FROM one_use WHERE expires_at <= $1 RETURNING 1
)
SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM a), (SELECT count(*) FROM o),
       (SELECT count(*) FROM r)"""

#: :meth:`PostgresStore.audit_head`: the head event and the latest checkpoint's JWS (no
#: row for a chain without events).
_HEAD: Final = f"""\
SELECT h.seq, h.hash, h.ts, c.jws
FROM ({au.HEAD_EVENT}) AS h
LEFT JOIN ({au.HEAD_CHECKPOINT}) AS c ON true"""

#: :meth:`PostgresStore.audit_write` in one statement, all in one snapshot (.audit):
#: ``verdict`` is :func:`.audit.fits` for the stored head event and checkpoint, and
#: only if it holds are the events (``unnest`` of the column arrays) and the checkpoint
#: inserted.  Parameters: $1 chain_id; $2, $3 the (seq, hash) the first event follows
#: (NULL: it starts the chain); $4..$8 the events' seq, ts, kind, hash, event text; $9..$12
#: the checkpoint's seq, ts, head, jws (NULL: no checkpoint).
#:
#: Racing writers of one chain: each batch inserts the successor of the head it saw, and
#: the primary key lets one of them do so (the other waits for it, then fails with a
#: unique violation: AuditConflict); a batch that saw a head already moved fails the
#: verdict.  A write with a checkpoint runs under the chain's advisory lock, so
#: checkpoints are checked against every earlier one and stored in seq order; a
#: concurrent batch without one only moves the head forward, past the checkpoint's
#: event (whose row the foreign key holds).  The row returned says whether it held, and
#: if not the head it saw (``jws``: the latest checkpoint), for the error.
_APPEND: Final = """\
WITH head AS (
    SELECT seq, hash, ts FROM audit_events WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1
), cp AS (
    SELECT seq, jws FROM audit_checkpoints WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1
), verdict AS (
    SELECT (
        cardinality($4::bigint[]) = 0
        OR CASE WHEN $2::bigint IS NULL THEN NOT EXISTS (SELECT FROM head)
            ELSE EXISTS (SELECT FROM head WHERE seq = $2 AND hash = $3::text) END
    ) AND (
        $9::bigint IS NULL
        OR (
            NOT EXISTS (SELECT FROM cp WHERE seq >= $9)
            AND (cardinality($4) > 0 OR EXISTS (SELECT FROM head WHERE seq >= $9))
        )
    ) AS ok
), new_events AS (
    INSERT INTO audit_events (chain_id, seq, ts, kind, hash, event)
    SELECT $1, e.seq, e.ts, e.kind, e.hash, e.event
    FROM unnest($4, $5::bigint[], $6::text[], $7::text[], $8::text[])
        AS e (seq, ts, kind, hash, event)
    WHERE (SELECT ok FROM verdict)
), new_checkpoint AS (
    INSERT INTO audit_checkpoints (chain_id, seq, ts, head, jws)
    SELECT $1, $9, $10::bigint, $11::text, $12::text
    WHERE $9 IS NOT NULL AND (SELECT ok FROM verdict)
)
SELECT v.ok, h.seq, h.hash, h.ts, CASE WHEN v.ok THEN NULL ELSE (SELECT jws FROM cp) END AS jws
FROM verdict AS v LEFT JOIN head AS h ON true"""


# -- the store -----------------------------------------------------------------------------


class PostgresStore:
    """The :class:`~zkattest.store.base.Store` on a PostgreSQL database (module
    docstring)."""

    def __init__(self, pool: asyncpg.Pool, settings: PostgresSettings) -> None:
        """Wrap an open pool on a migrated database; use :meth:`open`."""
        self._pool: asyncpg.Pool | None = pool
        self._settings = settings

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        """Connect (a pool), create the schema if the URL names one that is missing,
        and apply pending migrations (under an advisory lock)."""
        settings = parse_postgres_url(url)
        try:
            pool = await asyncpg.create_pool(
                settings.dsn,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                timeout=settings.connect_timeout,
                command_timeout=settings.command_timeout,
                server_settings=settings.server_settings(),
                reset=_keep_session,
            )
        except DRIVER_ERRORS as e:
            raise translate_postgres_error(e) from e
        except ValueError:  # asyncpg's DSN parser; its message may quote the URL
            raise StoreError("malformed PostgreSQL URL") from None
        store = cls(pool, settings)
        try:
            async with store._conn() as conn:
                state = await schema_state(conn)
            if not state.at_head:
                state.check()
                from .migrate import migrate_postgres

                await migrate_postgres(settings.connect, settings.schema)
        except BaseException:
            pool.terminate()
            raise
        return store

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self._settings.schema!r})"

    @property
    def settings(self) -> PostgresSettings:
        return self._settings

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[PoolConnectionProxy[asyncpg.Record]]:
        pool = self._pool
        if pool is None:
            raise StoreUnavailable("store is closed")
        try:
            async with pool.acquire(timeout=self._settings.connect_timeout) as conn:
                yield conn
        except DRIVER_ERRORS as e:
            if self._pool is None:
                raise StoreUnavailable("store is closed") from e
            raise translate_postgres_error(e) from e

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT)
        except (TimeoutError, *DRIVER_ERRORS):
            pool.terminate()

    async def ping(self) -> None:
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (``HEAD`` once open)."""
        async with self._conn() as conn:
            return (await schema_state(conn)).current()

    # -- verifications ---------------------------------------------------------------------

    async def create_verification(self, rec: VerificationRecord) -> None:
        rec = c.new_verification(rec)
        sql = (
            f"INSERT INTO verifications ({', '.join(c.V_COLUMNS)})"
            f" VALUES ({_marks(len(c.V_COLUMNS))})"
        )
        async with self._conn() as conn:
            await conn.execute(sql, *c.encode_row(rec, bool_as_int=False))

    async def get_verification(self, id: str) -> VerificationRecord | None:
        c.require_text(id, "id")
        async with self._conn() as conn:
            row = await conn.fetchrow(f"{_select(VerificationRecord)} WHERE id = $1", id)
        return None if row is None else c.decode_row(VerificationRecord, row)

    async def find_by_request_token(self, request_token_hash: str) -> VerificationRecord | None:
        c.require_hash(request_token_hash, "request_token_hash")
        async with self._conn() as conn:
            row = await conn.fetchrow(
                f"{_select(VerificationRecord)} WHERE request_token_hash = $1",
                request_token_hash,
            )
        return None if row is None else c.decode_row(VerificationRecord, row)

    async def claim_request(
        self, request_token_hash: str, presentation_token_hash: str, now: float
    ) -> VerificationRecord | None:
        c.require_hash(request_token_hash, "request_token_hash")
        c.require_hash(presentation_token_hash, "presentation_token_hash")
        now = c.require_time(now, "now")
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "UPDATE verifications"
                " SET request_fetched_at = $1, presentation_token_hash = $2"
                " WHERE request_token_hash = $3 AND status = 'pending'"
                " AND request_fetched_at IS NULL AND expires_at > $1"
                f" RETURNING {', '.join(c.V_COLUMNS)}",
                now,
                presentation_token_hash,
                request_token_hash,
            )
        return None if row is None else c.decode_row(VerificationRecord, row)

    async def begin_presentation(
        self,
        id: str,
        presentation_token_hash: str,
        mode: str,
        now: float,
        agent_deadline: float,
    ) -> bool:
        now, agent_deadline = c.check_begin(id, presentation_token_hash, mode, now, agent_deadline)
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE verifications"
                " SET status = 'presented', presented_at = $1, mode = $2, expires_at = $3"
                " WHERE id = $4 AND status = 'pending' AND request_fetched_at IS NOT NULL"
                " AND presentation_token_hash = $5 AND expires_at > $1",
                now,
                mode,
                agent_deadline,
                id,
                presentation_token_hash,
            )
        return _count(status) == 1

    async def finish_verification(
        self,
        id: str,
        *,
        status: str,
        result: bool | None,
        reason: str | None,
        attestation: str | None,
        agent_id: str | None,
        now: float,
    ) -> bool:
        now = c.check_finish(id, status, result, reason, attestation, agent_id, now)
        async with self._conn() as conn:
            done = await conn.execute(
                "UPDATE verifications"
                " SET status = $1, result = $2, reason = $3, attestation = $4, agent_id = $5,"
                " completed_at = $6"
                " WHERE id = $7 AND status = 'presented' AND expires_at > $6",
                status,
                result,
                reason,
                attestation,
                agent_id,
                now,
                id,
            )
        return _count(done) == 1

    # -- step-up approval and policy inputs ------------------------------------------------

    async def decide_approval(
        self, id: str, *, approve: bool, approver: str, now: float, expires_at: float
    ) -> bool:
        now, expires_at = c.check_decision(id, approve, approver, now, expires_at)
        async with self._conn() as conn:
            if approve:
                status = await conn.execute(
                    "UPDATE verifications"
                    " SET status = 'pending', expires_at = $1, approved_by = $2,"
                    " approved_at = $3"
                    " WHERE id = $4 AND status = 'awaiting_approval' AND expires_at > $3",
                    expires_at,
                    approver,
                    now,
                    id,
                )
            else:
                status = await conn.execute(
                    "UPDATE verifications"
                    " SET status = 'failed', reason = 'approval_denied', approved_by = $1,"
                    " approved_at = $2, completed_at = $2"
                    " WHERE id = $3 AND status = 'awaiting_approval' AND expires_at > $2",
                    approver,
                    now,
                    id,
                )
        return _count(status) == 1

    async def awaiting_approval(
        self,
        now: float,
        *,
        subjects: Sequence[str] = (),
        client_ids: Sequence[str] = (),
        limit: int = 100,
    ) -> list[VerificationRecord]:
        now = c.require_time(now, "now")
        subs = c.text_list(subjects, "subjects")
        clients = c.text_list(client_ids, "client_ids")
        limit = c.require_limit(limit)
        if not subs and not clients:
            return []
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"{_select(VerificationRecord)}"
                " WHERE status = 'awaiting_approval' AND expires_at > $1"
                " AND (subject = ANY($2::text[]) OR client_id = ANY($3::text[]))"
                # bytewise, as SQLite orders text
                ' ORDER BY created_at, id COLLATE "C" LIMIT $4',
                now,
                subs,
                clients,
                limit,
            )
        return [c.decode_row(VerificationRecord, row) for row in rows]

    async def recent_count(self, client_id: str, since: float) -> int:
        c.require_text(client_id, "client_id")
        since = c.require_time(since, "since")
        async with self._conn() as conn:
            n = await conn.fetchval(
                "SELECT count(*) FROM verifications WHERE client_id = $1 AND created_at >= $2",
                client_id,
                since,
            )
        return int(n)

    # -- agents ----------------------------------------------------------------------------

    async def create_agent(self, rec: AgentRecord) -> None:
        rec = c.checked(rec, AgentRecord)
        sql = f"INSERT INTO agents ({', '.join(c.A_COLUMNS)}) VALUES ({_marks(len(c.A_COLUMNS))})"
        async with self._conn() as conn:
            await conn.execute(sql, *c.encode_row(rec, bool_as_int=False))

    async def get_agent(self, id: str) -> AgentRecord | None:
        c.require_text(id, "id")
        async with self._conn() as conn:
            row = await conn.fetchrow(f"{_select(AgentRecord)} WHERE id = $1", id)
        return None if row is None else c.decode_row(AgentRecord, row)

    async def transition_agent(
        self,
        id: str,
        frm: str,
        to: str,
        now: float,
        *,
        require_unexpired: bool,
        **fields: AgentField,
    ) -> bool:
        id, frm, to, now, require_unexpired, values = c.agent_update(
            id, frm, to, now, require_unexpired, fields
        )
        names = sorted(values)  # whitelisted column names only
        params: list[Any] = [to, *(values[n] for n in names), id, frm]
        sets = "".join(f", {name} = ${i}" for i, name in enumerate(names, start=2))
        k = len(names) + 2
        sql = f"UPDATE agents SET state = $1{sets} WHERE id = ${k} AND state = ${k + 1}"
        if require_unexpired:
            sql += f" AND expires_at > ${k + 2}"
            params.append(now)
        async with self._conn() as conn:
            return _count(await conn.execute(sql, *params)) == 1

    # -- one-use keys ----------------------------------------------------------------------

    async def use_once(self, namespace: str, key: str, expires_at: float, now: float) -> bool:
        c.require_text(namespace, "namespace")
        c.require_text(key, "key")
        expires_at = c.require_time(expires_at, "expires_at")
        now = c.require_time(now, "now")
        async with self._conn() as conn:
            status = await conn.execute(
                "INSERT INTO one_use (namespace, key, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (namespace, key) DO UPDATE"
                " SET created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at"
                # an expired entry is as good as absent (sweep may not have run yet)
                " WHERE one_use.expires_at <= $3",
                namespace,
                key,
                now,
                expires_at,
            )
        return _count(status) == 1

    # -- housekeeping ----------------------------------------------------------------------

    async def sweep(self, now: float) -> dict[str, int]:
        now = c.require_time(now, "now")
        async with self._conn() as conn:
            row = await conn.fetchrow(_SWEEP, now)
        assert row is not None
        return {
            "verifications_expired": int(row[0]),
            "agents_expired": int(row[1]),
            "agents_retired": int(row[3]),
            "one_use_purged": int(row[2]),
        }

    async def counts(self) -> dict[str, dict[str, int]]:
        verifications = dict.fromkeys(VERIFICATION_STATUSES, 0)
        agents = dict.fromkeys(AGENT_STATES, 0)
        async with self._conn() as conn:  # one statement: one snapshot of both tables
            rows = await conn.fetch(
                "SELECT 0, status, count(*) FROM verifications GROUP BY status"
                " UNION ALL SELECT 1, state, count(*) FROM agents GROUP BY state"
            )
        for table, status, n in rows:
            (agents if table else verifications)[status] = int(n)
        return {"verifications": verifications, "agents": agents}

    # -- audit trail (:mod:`.audit`) -------------------------------------------------------

    async def audit_write(
        self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None
    ) -> None:
        batch, chain_id = au.checked_write(events, checkpoint)
        if chain_id is None:
            return
        after = au.precheck(batch, checkpoint)  # a write that fits no head: no I/O
        params = (
            chain_id,
            *((None, None) if after is None else after),
            *au.event_columns(batch),
            *((None,) * 4 if checkpoint is None else au.checkpoint_row(checkpoint)[1:]),
        )
        async with self._conn() as conn:
            try:
                if checkpoint is None:
                    # one statement: the primary key decides between racing writers
                    row = await conn.fetchrow(_APPEND, *params)
                else:
                    # checkpoints (one per many events) also queue on the chain's lock,
                    # so they are stored in the order of their seq (_APPEND)
                    async with conn.transaction():
                        key = _lock_key(b"audit", chain_id)
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", key)
                        row = await conn.fetchrow(_APPEND, *params)
            except asyncpg.UniqueViolationError:
                raise au.conflict(chain_id) from None
        assert row is not None
        if not row["ok"]:  # nothing was written; say why as advance_head would
            head = au.chain_head(
                None if row["seq"] is None else (row["seq"], row["hash"], row["ts"]),
                None if row["jws"] is None else (row["jws"],),
            )
            raise au.refusal(head, batch, checkpoint)

    async def audit_head(self, chain_id: str) -> ChainHead | None:
        chain_id = au.require_chain_id(chain_id)
        async with self._conn() as conn:  # one statement: one snapshot of both tables
            row = await conn.fetchrow(_HEAD, chain_id)
        if row is None:
            return None
        return au.chain_head(row[:3], None if row[3] is None else row[3:])

    async def audit_page(
        self, after: str | tuple[str, int] | None = None, limit: int = 1000
    ) -> au.AuditPage:
        position = au.decode_cursor(after)
        limit = au.require_page_limit(limit)
        sql, params = au.page_query(position)
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *params, limit)
        return au.page(rows, position, limit)

    def audit_records(self, *, page_size: int = 1000) -> AsyncIterator[au.AuditRecord]:
        """The whole trail in order (:func:`.audit.iter_audit`)."""
        return au.iter_audit(self, page_size=page_size)

    def audit_sink(self) -> au.StoreAuditSink:
        """This store as an :class:`~zkattest.audit.AuditSink`."""
        return au.StoreAuditSink(self)
