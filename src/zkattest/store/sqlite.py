"""The SQLite store: one file shared by every service process on a host.

Atomicity comes from the database, so it holds across connections and processes: each
one-use step is a single conditional ``UPDATE`` whose row count says who won, or an
``INSERT`` against a primary key; multi-statement work runs in ``BEGIN IMMEDIATE``
transactions (the write lock is taken first, so no transaction ever upgrades a stale
snapshot).  The connection runs in autocommit mode (``isolation_level=None``) with WAL,
``synchronous=NORMAL``, ``busy_timeout=5000`` and foreign keys on.

Methods are ``async`` for the :class:`~zkattest.store.base.Store` contract; they run
their statements directly (microseconds) under a lock, so one instance may also be used
from several threads.  The schema is managed by Alembic (:mod:`.migrate`); a database
already at the newest revision opens without importing it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Final, Self

from ..audit import AuditEvent, ChainHead, Checkpoint
from . import _common as c
from . import audit as au
from .base import AgentField
from .errors import Conflict, StoreError, StoreUnavailable
from .migrations import VERSION_TABLE, SchemaState
from .records import AGENT_STATES, VERIFICATION_STATUSES, AgentRecord, VerificationRecord

__all__ = ["BUSY_TIMEOUT_MS", "SQLiteStore", "schema_state", "translate_sqlite_error"]

BUSY_TIMEOUT_MS: Final = 5000
_HEAD_EVENT: Final = au.sqlite_sql(au.HEAD_EVENT)
_HEAD_CHECKPOINT: Final = au.sqlite_sql(au.HEAD_CHECKPOINT)
_HEAD_CHECKPOINT_SEQ: Final = au.sqlite_sql(au.HEAD_CHECKPOINT_SEQ)
_INSERT_EVENT: Final = au.sqlite_sql(au.INSERT_EVENT)
_INSERT_CHECKPOINT: Final = au.sqlite_sql(au.INSERT_CHECKPOINT)
MEMORY: Final = ":memory:"

#: Primary result codes (``sqlite_errorcode & 0xff``) that mean "the database cannot be
#: used right now" rather than "the statement is wrong".
_UNAVAILABLE_CODES: Final = frozenset(
    {
        5,  # SQLITE_BUSY ("database is locked" after busy_timeout)
        6,  # SQLITE_LOCKED
        7,  # SQLITE_NOMEM
        8,  # SQLITE_READONLY
        10,  # SQLITE_IOERR
        11,  # SQLITE_CORRUPT
        13,  # SQLITE_FULL
        14,  # SQLITE_CANTOPEN
        15,  # SQLITE_PROTOCOL
        26,  # SQLITE_NOTADB
    }
)


# -- errors --------------------------------------------------------------------------------


def translate_sqlite_error(e: sqlite3.Error) -> StoreError:
    """sqlite3 errors -> store errors.  sqlite messages name constraints, never values."""
    if isinstance(e, sqlite3.IntegrityError):
        return Conflict(f"constraint violated: {e}")
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _UNAVAILABLE_CODES:
        return StoreUnavailable(f"database unavailable: {e}")
    return StoreError(f"database error: {e}")


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as e:
        raise translate_sqlite_error(e) from e


# -- schema --------------------------------------------------------------------------------


def schema_state(conn: sqlite3.Connection) -> SchemaState:
    """The revision bookkeeping of the database (Alembic's table, the old runner's)."""
    names = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    revisions: tuple[str, ...] | None = None
    if VERSION_TABLE in names:
        revisions = tuple(
            str(r[0]) for r in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")
        )
    legacy: int | None = None
    if "schema_version" in names:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        legacy = 0 if row is None or row[0] is None else int(row[0])
    return SchemaState(revisions=revisions, legacy=legacy, has_tables="verifications" in names)


def _migrate(conn: sqlite3.Connection) -> None:
    state = schema_state(conn)
    if state.at_head:
        return
    state.check()  # an unknown revision is refused before Alembic is even imported
    from .migrate import migrate_sqlite

    migrate_sqlite(conn, schema_state, busy_timeout_ms=BUSY_TIMEOUT_MS)


# -- connection ----------------------------------------------------------------------------


@contextmanager
def _transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _database_path(url: str) -> str:
    """``sqlite:///abs/path.db`` -> ``/abs/path.db``; ``sqlite:///:memory:`` -> memory."""
    prefix = "sqlite://"
    if url[: len(prefix)].lower() != prefix:
        raise StoreError("not a sqlite URL (expected sqlite:///absolute/path.db)")
    path = url[len(prefix) :]
    if not path.startswith("/"):
        raise StoreError("sqlite URL must have no host: sqlite:///absolute/path.db")
    if "?" in path or "#" in path:
        raise StoreError("sqlite URL takes no query or fragment")
    if path == "/" + MEMORY:
        return MEMORY
    if path.endswith("/"):
        raise StoreError("sqlite URL must name a file: sqlite:///absolute/path.db")
    if "\x00" in path:
        raise StoreError("sqlite URL must not contain NUL")
    return path


def _prepare_file(path: str) -> None:
    """Create the directory (0700) and the file (0600) if missing."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except OSError as e:
        raise StoreUnavailable(f"cannot create database file {path}: {e.strerror}") from e


def _set_wal(conn: sqlite3.Connection) -> None:
    # Switching a fresh file to WAL needs an exclusive lock, for which SQLite does not
    # always wait; several processes opening one new file at once retry here.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as e:
            code = getattr(e, "sqlite_errorcode", 0)
            if code & 0xFF not in (5, 6) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if path != MEMORY:
            _set_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _select(cls: type[VerificationRecord | AgentRecord]) -> str:
    table = "verifications" if cls is VerificationRecord else "agents"
    return f"SELECT {', '.join(c.columns(cls))} FROM {table}"


def _to_row(rec: VerificationRecord | AgentRecord) -> tuple[Any, ...]:
    return c.encode_row(rec, bool_as_int=True)


# -- the store -----------------------------------------------------------------------------


class SQLiteStore:
    """The :class:`~zkattest.store.base.Store` on one SQLite file (or ``:memory:``)."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        """Wrap an open, migrated connection; use :meth:`open`."""
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, url: str) -> SQLiteStore:
        """Open ``sqlite:///absolute/path.db`` (created if missing, directory mode 0700,
        file mode 0600) or ``sqlite:///:memory:``, and apply pending migrations."""
        path = _database_path(url)
        if path != MEMORY:
            _prepare_file(path)
        with _translated():
            conn = _connect(path)
        try:
            with _translated():
                _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"

    @property
    def path(self) -> str:
        """The database file (or ``:memory:``)."""
        return self._path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock, _translated():
            if self._conn is None:
                raise StoreUnavailable("store is closed")
            yield self._conn

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
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    async def ping(self) -> None:
        with self._db() as db:
            db.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (``HEAD`` once open)."""
        with self._db() as db:
            return schema_state(db).current()

    # -- verifications ---------------------------------------------------------------------

    async def create_verification(self, rec: VerificationRecord) -> None:
        rec = c.new_verification(rec)
        cols = ", ".join(c.V_COLUMNS)
        marks = ", ".join("?" * len(c.V_COLUMNS))
        with self._db() as db:
            db.execute(f"INSERT INTO verifications ({cols}) VALUES ({marks})", _to_row(rec))

    async def get_verification(self, id: str) -> VerificationRecord | None:
        c.require_text(id, "id")
        with self._db() as db:
            row = db.execute(f"{_select(VerificationRecord)} WHERE id = ?", (id,)).fetchone()
        return None if row is None else c.decode_row(VerificationRecord, row)

    async def find_by_request_token(self, request_token_hash: str) -> VerificationRecord | None:
        c.require_hash(request_token_hash, "request_token_hash")
        with self._db() as db:
            row = db.execute(
                f"{_select(VerificationRecord)} WHERE request_token_hash = ?",
                (request_token_hash,),
            ).fetchone()
        return None if row is None else c.decode_row(VerificationRecord, row)

    async def claim_request(
        self, request_token_hash: str, presentation_token_hash: str, now: float
    ) -> VerificationRecord | None:
        c.require_hash(request_token_hash, "request_token_hash")
        c.require_hash(presentation_token_hash, "presentation_token_hash")
        now = c.require_time(now, "now")
        with self._db() as db, _transaction(db):
            cur = db.execute(
                "UPDATE verifications"
                " SET request_fetched_at = ?, presentation_token_hash = ?"
                " WHERE request_token_hash = ? AND status = 'pending'"
                " AND request_fetched_at IS NULL AND expires_at > ?",
                (now, presentation_token_hash, request_token_hash, now),
            )
            if cur.rowcount != 1:
                return None
            row = db.execute(
                f"{_select(VerificationRecord)} WHERE request_token_hash = ?",
                (request_token_hash,),
            ).fetchone()
        return c.decode_row(VerificationRecord, row)

    async def begin_presentation(
        self,
        id: str,
        presentation_token_hash: str,
        mode: str,
        now: float,
        agent_deadline: float,
    ) -> bool:
        now, agent_deadline = c.check_begin(id, presentation_token_hash, mode, now, agent_deadline)
        with self._db() as db:
            cur = db.execute(
                "UPDATE verifications"
                " SET status = 'presented', presented_at = ?, mode = ?, expires_at = ?"
                " WHERE id = ? AND status = 'pending' AND request_fetched_at IS NOT NULL"
                " AND presentation_token_hash = ? AND expires_at > ?",
                (now, mode, agent_deadline, id, presentation_token_hash, now),
            )
            return cur.rowcount == 1

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
        with self._db() as db:
            cur = db.execute(
                "UPDATE verifications"
                " SET status = ?, result = ?, reason = ?, attestation = ?, agent_id = ?,"
                " completed_at = ?"
                " WHERE id = ? AND status = 'presented' AND expires_at > ?",
                (
                    status,
                    None if result is None else int(result),
                    reason,
                    attestation,
                    agent_id,
                    now,
                    id,
                    now,
                ),
            )
            return cur.rowcount == 1

    # -- step-up approval and policy inputs ------------------------------------------------

    async def decide_approval(
        self, id: str, *, approve: bool, approver: str, now: float, expires_at: float
    ) -> bool:
        now, expires_at = c.check_decision(id, approve, approver, now, expires_at)
        if approve:
            sql = (
                "UPDATE verifications"
                " SET status = 'pending', expires_at = ?, approved_by = ?, approved_at = ?"
                " WHERE id = ? AND status = 'awaiting_approval' AND expires_at > ?"
            )
            params: tuple[Any, ...] = (expires_at, approver, now, id, now)
        else:
            sql = (
                "UPDATE verifications"
                " SET status = 'failed', reason = 'approval_denied', approved_by = ?,"
                " approved_at = ?, completed_at = ?"
                " WHERE id = ? AND status = 'awaiting_approval' AND expires_at > ?"
            )
            params = (approver, now, now, id, now)
        with self._db() as db:
            return db.execute(sql, params).rowcount == 1

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
        matches: list[str] = []
        params: list[Any] = [now]
        for column, values in (("subject", subs), ("client_id", clients)):
            if values:
                matches.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        params.append(limit)
        sql = (
            f"{_select(VerificationRecord)}"
            " WHERE status = 'awaiting_approval' AND expires_at > ?"
            f" AND ({' OR '.join(matches)})"
            " ORDER BY created_at, id LIMIT ?"
        )
        with self._db() as db:
            rows = db.execute(sql, params).fetchall()
        return [c.decode_row(VerificationRecord, row) for row in rows]

    async def recent_count(self, client_id: str, since: float) -> int:
        c.require_text(client_id, "client_id")
        since = c.require_time(since, "since")
        with self._db() as db:
            row = db.execute(
                "SELECT count(*) FROM verifications WHERE client_id = ? AND created_at >= ?",
                (client_id, since),
            ).fetchone()
        return int(row[0])

    # -- agents ----------------------------------------------------------------------------

    async def create_agent(self, rec: AgentRecord) -> None:
        rec = c.checked(rec, AgentRecord)
        cols = ", ".join(c.A_COLUMNS)
        marks = ", ".join("?" * len(c.A_COLUMNS))
        with self._db() as db:
            db.execute(f"INSERT INTO agents ({cols}) VALUES ({marks})", _to_row(rec))

    async def get_agent(self, id: str) -> AgentRecord | None:
        c.require_text(id, "id")
        with self._db() as db:
            row = db.execute(f"{_select(AgentRecord)} WHERE id = ?", (id,)).fetchone()
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
        sets = "".join(f", {name} = ?" for name in names)
        sql = f"UPDATE agents SET state = ?{sets} WHERE id = ? AND state = ?"
        params: list[Any] = [to, *(values[n] for n in names), id, frm]
        if require_unexpired:
            sql += " AND expires_at > ?"
            params.append(now)
        with self._db() as db:
            return db.execute(sql, params).rowcount == 1

    # -- one-use keys ----------------------------------------------------------------------

    async def use_once(self, namespace: str, key: str, expires_at: float, now: float) -> bool:
        c.require_text(namespace, "namespace")
        c.require_text(key, "key")
        expires_at = c.require_time(expires_at, "expires_at")
        now = c.require_time(now, "now")
        with self._db() as db, _transaction(db):
            # an expired entry is as good as absent (sweep may not have run yet)
            db.execute(
                "DELETE FROM one_use WHERE namespace = ? AND key = ? AND expires_at <= ?",
                (namespace, key, now),
            )
            cur = db.execute(
                "INSERT INTO one_use (namespace, key, created_at, expires_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (namespace, key) DO NOTHING",
                (namespace, key, now, expires_at),
            )
            return cur.rowcount == 1

    # -- housekeeping ----------------------------------------------------------------------

    async def sweep(self, now: float) -> dict[str, int]:
        now = c.require_time(now, "now")
        with self._db() as db, _transaction(db):
            v = db.execute(
                "UPDATE verifications SET status = 'expired'"
                " WHERE status IN ('awaiting_approval', 'pending', 'presented')"
                " AND expires_at <= ?",
                (now,),
            ).rowcount
            a = db.execute(
                "UPDATE agents SET state = 'expired'"
                " WHERE state IN ('provisioned', 'running') AND expires_at <= ?",
                (now,),
            ).rowcount
            # an attested agent has signed and destroyed its key: past its expiry (a
            # crash between its last steps) it is retired, never left attested
            r = db.execute(
                "UPDATE agents SET state = 'retired', retired_at = ?"
                " WHERE state = 'attested' AND expires_at <= ?",
                (now, now),
            ).rowcount
            o = db.execute("DELETE FROM one_use WHERE expires_at <= ?", (now,)).rowcount
        return {
            "verifications_expired": v,
            "agents_expired": a,
            "agents_retired": r,
            "one_use_purged": o,
        }

    async def counts(self) -> dict[str, dict[str, int]]:
        verifications = dict.fromkeys(VERIFICATION_STATUSES, 0)
        agents = dict.fromkeys(AGENT_STATES, 0)
        with self._db() as db, _transaction(db, write=False):
            for status, n in db.execute(
                "SELECT status, count(*) FROM verifications GROUP BY status"
            ):
                verifications[status] = n
            for state, n in db.execute("SELECT state, count(*) FROM agents GROUP BY state"):
                agents[state] = n
        return {"verifications": verifications, "agents": agents}

    # -- audit trail (:mod:`.audit`) -------------------------------------------------------

    async def audit_write(
        self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None
    ) -> None:
        batch, chain_id = au.checked_write(events, checkpoint)
        if chain_id is None:
            return
        after = au.precheck(batch, checkpoint)
        with self._db() as db, _transaction(db):
            # under the write lock: the head cannot move before the inserts
            row = db.execute(_HEAD_EVENT, (chain_id,)).fetchone()
            head = None if row is None else (int(row[0]), str(row[1]))
            cp_seq: int | None = None
            if checkpoint is not None:
                cp_row = db.execute(_HEAD_CHECKPOINT_SEQ, (chain_id,)).fetchone()
                cp_seq = None if cp_row is None else int(cp_row[0])
            if not au.fits(after, head, cp_seq, batch, checkpoint):
                stored = au.chain_head(row, db.execute(_HEAD_CHECKPOINT, (chain_id,)).fetchone())
                raise au.refusal(stored, batch, checkpoint)  # nothing written
            try:
                db.executemany(_INSERT_EVENT, au.event_rows(batch))
                if checkpoint is not None:
                    db.execute(_INSERT_CHECKPOINT, au.checkpoint_row(checkpoint))
            except sqlite3.IntegrityError:
                raise au.conflict(chain_id) from None

    async def audit_head(self, chain_id: str) -> ChainHead | None:
        chain_id = au.require_chain_id(chain_id)
        with self._db() as db, _transaction(db, write=False):
            return au.chain_head(
                db.execute(_HEAD_EVENT, (chain_id,)).fetchone(),
                db.execute(_HEAD_CHECKPOINT, (chain_id,)).fetchone(),
            )

    async def audit_page(
        self, after: str | tuple[str, int] | None = None, limit: int = 1000
    ) -> au.AuditPage:
        position = au.decode_cursor(after)
        limit = au.require_page_limit(limit)
        sql, params = au.page_query(position)
        with self._db() as db:
            rows = db.execute(au.sqlite_sql(sql), (*params, limit)).fetchall()
        return au.page(rows, position, limit)

    def audit_records(self, *, page_size: int = 1000) -> AsyncIterator[au.AuditRecord]:
        """The whole trail in order (:func:`.audit.iter_audit`)."""
        return au.iter_audit(self, page_size=page_size)

    def audit_sink(self) -> au.StoreAuditSink:
        """This store as an :class:`~zkattest.audit.AuditSink`."""
        return au.StoreAuditSink(self)
