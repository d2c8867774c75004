"""The SQLite store: one file shared by every service process on a host.

Atomicity comes from the database, so it holds across connections and processes: each
one-use step is a single conditional ``UPDATE`` whose row count says who won, or an
``INSERT`` against a primary key; multi-statement work runs in ``BEGIN IMMEDIATE``
transactions (the write lock is taken first, so no transaction ever upgrades a stale
snapshot).  The connection runs in autocommit mode (``isolation_level=None``) with WAL,
``synchronous=NORMAL``, ``busy_timeout=5000`` and foreign keys on.

Methods are ``async`` for the :class:`~zkattest.store.base.Store` contract; they run
their statements directly (microseconds) under a lock, so one instance may also be used
from several threads.  The schema comes from the numbered SQL files in
``migrations/sqlite/`` applied at open, one transaction each (the version row is written
in the same transaction).  A file with the comment line ``-- migration:
foreign_keys=off`` runs with foreign keys off (SQLite ignores that pragma inside a
transaction, and rebuilding a referenced table needs it, see 0002) and is checked with
``PRAGMA foreign_key_check`` before its transaction commits.

The queries are plain SQL that PostgreSQL runs too, except ``BEGIN IMMEDIATE`` and the
pragmas; the schema files are SQLite's own (``GLOB`` checks, the table rebuild).
"""

from __future__ import annotations

import functools
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import msgspec

from ..errors import InvalidParameter
from .base import AgentField
from .errors import Conflict, IncompatibleSchema, StoreError, StoreUnavailable
from .records import (
    AGENT_STATES,
    AGENT_TRANSITIONS,
    INITIAL_STATUSES,
    MODES,
    VERIFICATION_STATUSES,
    AgentRecord,
    VerificationRecord,
)

__all__ = ["BUSY_TIMEOUT_MS", "Migration", "SQLiteStore", "load_migrations"]

BUSY_TIMEOUT_MS: Final = 5000
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

#: Columns ``transition_agent`` may set besides ``state``.
AGENT_UPDATABLE: Final = frozenset(
    {"running_at", "attested_at", "retired_at", "failed_reason", "attestation_jti"}
)
_AGENT_TIME_FIELDS: Final = frozenset({"running_at", "attested_at", "retired_at"})
#: The timestamp a transition sets to ``now`` unless the caller gives it.
_STAMP_ON_ENTRY: Final = {
    "running": "running_at",
    "attested": "attested_at",
    "retired": "retired_at",
}

#: Fields a new session cannot have yet: the steps after creation set them.
_OUTCOME_FIELDS: Final = (
    "request_fetched_at",
    "presentation_token_hash",
    "presented_at",
    "mode",
    "agent_id",
    "result",
    "reason",
    "attestation",
    "completed_at",
    "approved_by",
    "approved_at",
)
#: ``awaiting_approval``: at most this many subjects and as many client ids per query.
MAX_APPROVAL_KEYS: Final = 256
MAX_APPROVAL_LIMIT: Final = 1000

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_MIGRATION_OPTIONS = re.compile(r"^--\s*migration:(.*)$")
_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")


def _require_hash(value: str, what: str) -> None:
    # a bearer token passed where its hash belongs must not reach the database
    if not isinstance(value, str) or _TOKEN_HASH.fullmatch(value) is None:
        raise InvalidParameter(f"{what} must be a SHA-256 hex digest (64 lowercase hex digits)")


def _require_text(value: object, what: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"{what} must be a string")
    if not empty and not value:
        raise InvalidParameter(f"{what} must not be empty")
    return value


def _require_time(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidParameter(f"{what} must be finite epoch seconds")
    return float(value)


def _text_list(values: object, what: str) -> list[str]:
    """A sequence of strings (not a string itself), deduplicated, at most
    ``MAX_APPROVAL_KEYS`` distinct entries."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidParameter(f"{what} must be a sequence of strings")
    out = sorted({_require_text(v, f"each of {what}") for v in values})
    if len(out) > MAX_APPROVAL_KEYS:
        raise InvalidParameter(f"{what} has more than {MAX_APPROVAL_KEYS} entries")
    return out


# -- errors --------------------------------------------------------------------------------


@contextmanager
def _translated() -> Iterator[None]:
    """sqlite3 errors -> store errors.  sqlite messages name constraints, never values."""
    try:
        yield
    except sqlite3.IntegrityError as e:
        raise Conflict(f"constraint violated: {e}") from e
    except sqlite3.Error as e:
        code = getattr(e, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _UNAVAILABLE_CODES:
            raise StoreUnavailable(f"database unavailable: {e}") from e
        raise StoreError(f"database error: {e}") from e


# -- migrations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One numbered schema step: ``NNNN_name.sql`` split into statements.

    ``foreign_keys_off``: run with ``PRAGMA foreign_keys = OFF`` (set before the
    transaction) and ``PRAGMA foreign_key_check`` before commit, as SQLite's procedure for
    rebuilding a table other tables reference requires.  A file asks for it with a
    comment line ``-- migration: foreign_keys=off``."""

    version: int
    name: str
    statements: tuple[str, ...]
    foreign_keys_off: bool = False


def _migration_options(sql: str) -> bool:
    """The ``-- migration: ...`` comment lines of a file -> ``foreign_keys_off``."""
    fk_off = False
    for line in sql.splitlines():
        m = _MIGRATION_OPTIONS.match(line.strip())
        if m is None:
            continue
        for option in m.group(1).split(","):
            if option.strip().replace(" ", "") == "foreign_keys=off":
                fk_off = True
            else:
                raise StoreError(f"unknown migration option {option.strip()!r}")
    return fk_off


def _split_statements(sql: str) -> tuple[str, ...]:
    statements: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            stmt = buf.strip()
            buf = ""
            # a statement made only of comments has nothing to run
            if any(ln.strip() and not ln.strip().startswith("--") for ln in stmt.splitlines()):
                statements.append(stmt)
    if buf.strip() and any(
        ln.strip() and not ln.strip().startswith("--") for ln in buf.splitlines()
    ):
        raise StoreError("migration ends with an incomplete SQL statement")
    return tuple(statements)


@functools.cache
def load_migrations() -> tuple[Migration, ...]:
    """The SQLite migrations shipped in the package, in order (versions 1, 2, ... N)."""
    folder = resources.files(__package__).joinpath("migrations").joinpath("sqlite")
    found: list[Migration] = []
    entries = list(folder.iterdir()) if folder.is_dir() else []
    for entry in entries:
        if not entry.name.endswith(".sql"):
            continue
        m = _MIGRATION_NAME.match(entry.name)
        if m is None:
            raise StoreError(f"badly named migration file {entry.name!r}")
        text = entry.read_text("utf-8")
        found.append(
            Migration(
                int(m.group(1)), m.group(2), _split_statements(text), _migration_options(text)
            )
        )
    if not found:
        raise StoreError(
            "no schema migrations in the package: migrations/sqlite/*.sql is missing"
            " from this install"
        )
    found.sort(key=lambda mig: mig.version)
    if [mig.version for mig in found] != list(range(1, len(found) + 1)):
        raise StoreError("migrations must be numbered 0001, 0002, ... without gaps")
    return tuple(found)


def _current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def _migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...]) -> None:
    latest = migrations[-1].version if migrations else 0

    def check(current: int) -> None:
        if current > latest:
            raise IncompatibleSchema(
                f"database schema version {current} is newer than this zkattest "
                f"supports ({latest}); upgrade zkattest"
            )

    with _transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL,"
            " applied_at DOUBLE PRECISION NOT NULL)"
        )
        check(_current_version(conn))
    for mig in migrations:
        if _current_version(conn) >= mig.version:
            continue  # applied (versions only grow): no write lock needed to know it
        if not mig.foreign_keys_off:
            _apply(conn, mig, check)
            continue
        # SQLite ignores this pragma inside a transaction: it is set around it
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            if conn.execute("PRAGMA foreign_keys").fetchone()[0] != 0:
                raise StoreError("cannot turn foreign keys off for a migration")
            _apply(conn, mig, check)
        finally:
            conn.execute("PRAGMA foreign_keys = ON")


def _apply(conn: sqlite3.Connection, mig: Migration, check: Callable[[int], None]) -> None:
    """One migration and its version row, in one write transaction."""
    with _transaction(conn):
        # re-read under the write lock: another process may have just applied it
        current = _current_version(conn)
        check(current)
        if current >= mig.version:
            return
        for stmt in mig.statements:
            conn.execute(stmt)
        if mig.foreign_keys_off:
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                tables = ", ".join(sorted({str(row[0]) for row in broken}))
                raise StoreError(
                    f"migration {mig.version:04d}_{mig.name} not applied: rows of {tables}"
                    f" reference missing rows ({len(broken)}); repair them and reopen"
                )
        conn.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
            (mig.version, mig.name, time.time()),
        )


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


# -- records <-> rows (the one place) -----------------------------------------------------

_R = TypeVar("_R", VerificationRecord, AgentRecord)

_V_COLUMNS: Final = tuple(f.name for f in msgspec.structs.fields(VerificationRecord))
_A_COLUMNS: Final = tuple(f.name for f in msgspec.structs.fields(AgentRecord))
_JSON_COLUMNS: Final = frozenset({"params", "act", "policy_ids"})
_BOOL_COLUMNS: Final = frozenset({"result"})


def _columns(cls: type[VerificationRecord | AgentRecord]) -> tuple[str, ...]:
    return _V_COLUMNS if cls is VerificationRecord else _A_COLUMNS


def _select(cls: type[VerificationRecord | AgentRecord]) -> str:
    table = "verifications" if cls is VerificationRecord else "agents"
    return f"SELECT {', '.join(_columns(cls))} FROM {table}"


def _to_row(rec: VerificationRecord | AgentRecord) -> tuple[Any, ...]:
    row: list[Any] = []
    for name in _columns(type(rec)):
        value = getattr(rec, name)
        if name in _JSON_COLUMNS and value is not None:
            value = msgspec.json.encode(value, order="sorted").decode()
        elif name in _BOOL_COLUMNS and value is not None:
            value = int(value)
        row.append(value)
    return tuple(row)


def _from_row(cls: type[_R], row: tuple[Any, ...]) -> _R:
    data: dict[str, Any] = {}
    try:
        for name, value in zip(_columns(cls), row, strict=True):
            if name in _JSON_COLUMNS and value is not None:
                value = msgspec.json.decode(value)
            elif name in _BOOL_COLUMNS and value is not None:
                value = bool(value)
            data[name] = value
        return msgspec.convert(data, type=cls)
    except (msgspec.MsgspecError, TypeError) as e:
        raise StoreError(f"stored {cls.__name__} is malformed: {e}") from None


def _checked(rec: object, cls: type[_R]) -> _R:
    """Type-check a record built by a caller (Struct construction does not validate)."""
    if type(rec) is not cls:
        raise InvalidParameter(f"expected a {cls.__name__}")
    try:
        # asdict, not to_builtins: that would quietly turn bytes into base64 text
        return msgspec.convert(msgspec.structs.asdict(rec), type=cls)
    except msgspec.ValidationError as e:
        raise InvalidParameter(f"invalid {cls.__name__}: {e}") from None


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
        migrations = load_migrations()
        with _translated():
            conn = _connect(path)
        try:
            with _translated():
                _migrate(conn, migrations)
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
            db.execute("SELECT max(version) FROM schema_version").fetchone()

    async def schema_version(self) -> int:
        """The version recorded in ``schema_version`` (the latest migration applied)."""
        with self._db() as db:
            return _current_version(db)

    # -- verifications ---------------------------------------------------------------------

    async def create_verification(self, rec: VerificationRecord) -> None:
        rec = _checked(rec, VerificationRecord)
        if rec.status not in INITIAL_STATUSES:
            raise InvalidParameter(
                f"a new verification is {' or '.join(INITIAL_STATUSES)}, not {rec.status}"
            )
        early = [name for name in _OUTCOME_FIELDS if getattr(rec, name) is not None]
        if early:
            raise InvalidParameter(f"a new verification has no {', '.join(early)} yet")
        cols = ", ".join(_V_COLUMNS)
        marks = ", ".join("?" * len(_V_COLUMNS))
        with self._db() as db:
            db.execute(f"INSERT INTO verifications ({cols}) VALUES ({marks})", _to_row(rec))

    async def get_verification(self, id: str) -> VerificationRecord | None:
        _require_text(id, "id")
        with self._db() as db:
            row = db.execute(f"{_select(VerificationRecord)} WHERE id = ?", (id,)).fetchone()
        return None if row is None else _from_row(VerificationRecord, row)

    async def find_by_request_token(self, request_token_hash: str) -> VerificationRecord | None:
        _require_hash(request_token_hash, "request_token_hash")
        with self._db() as db:
            row = db.execute(
                f"{_select(VerificationRecord)} WHERE request_token_hash = ?",
                (request_token_hash,),
            ).fetchone()
        return None if row is None else _from_row(VerificationRecord, row)

    async def claim_request(
        self, request_token_hash: str, presentation_token_hash: str, now: float
    ) -> VerificationRecord | None:
        _require_hash(request_token_hash, "request_token_hash")
        _require_hash(presentation_token_hash, "presentation_token_hash")
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
        return _from_row(VerificationRecord, row)

    async def begin_presentation(
        self,
        id: str,
        presentation_token_hash: str,
        mode: str,
        now: float,
        agent_deadline: float,
    ) -> bool:
        _require_text(id, "id")
        _require_hash(presentation_token_hash, "presentation_token_hash")
        if mode not in MODES:
            raise InvalidParameter(f"mode must be one of {', '.join(MODES)}")
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
        _require_text(id, "id")
        if status not in ("completed", "failed"):
            raise InvalidParameter("a verification finishes as completed or failed")
        if result is not None and not isinstance(result, bool):
            raise InvalidParameter("result must be a bool or None")
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
        _require_text(id, "id")
        if not isinstance(approve, bool):
            raise InvalidParameter("approve must be a bool")
        _require_text(approver, "approver", empty=False)
        now = _require_time(now, "now")
        expires_at = _require_time(expires_at, "expires_at")
        if approve and expires_at <= now:
            raise InvalidParameter("an approved verification needs a deadline after now")
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
        now = _require_time(now, "now")
        subs = _text_list(subjects, "subjects")
        clients = _text_list(client_ids, "client_ids")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidParameter("limit must be an integer")
        if not 1 <= limit <= MAX_APPROVAL_LIMIT:
            raise InvalidParameter(f"limit must be 1..{MAX_APPROVAL_LIMIT}")
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
        return [_from_row(VerificationRecord, row) for row in rows]

    async def recent_count(self, client_id: str, since: float) -> int:
        _require_text(client_id, "client_id")
        since = _require_time(since, "since")
        with self._db() as db:
            row = db.execute(
                "SELECT count(*) FROM verifications WHERE client_id = ? AND created_at >= ?",
                (client_id, since),
            ).fetchone()
        return int(row[0])

    # -- agents ----------------------------------------------------------------------------

    async def create_agent(self, rec: AgentRecord) -> None:
        rec = _checked(rec, AgentRecord)
        cols = ", ".join(_A_COLUMNS)
        marks = ", ".join("?" * len(_A_COLUMNS))
        with self._db() as db:
            db.execute(f"INSERT INTO agents ({cols}) VALUES ({marks})", _to_row(rec))

    async def get_agent(self, id: str) -> AgentRecord | None:
        _require_text(id, "id")
        with self._db() as db:
            row = db.execute(f"{_select(AgentRecord)} WHERE id = ?", (id,)).fetchone()
        return None if row is None else _from_row(AgentRecord, row)

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
        _require_text(id, "id")
        if frm not in AGENT_STATES or to not in AGENT_STATES:
            raise InvalidParameter(f"agent states are {', '.join(AGENT_STATES)}")
        if to not in AGENT_TRANSITIONS[frm]:
            raise InvalidParameter(f"no agent transition from {frm} to {to}")
        values = _agent_fields(fields)
        stamp = _STAMP_ON_ENTRY.get(to)
        if stamp is not None and stamp not in values:
            values[stamp] = now
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
        _require_text(namespace, "namespace")
        _require_text(key, "key")
        with self._db() as db, _transaction(db):
            # an expired entry is as good as absent (sweep may not have run yet)
            db.execute(
                "DELETE FROM one_use WHERE namespace = ? AND key = ? AND expires_at <= ?",
                (namespace, key, now),
            )
            try:
                db.execute(
                    "INSERT INTO one_use (namespace, key, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?)",
                    (namespace, key, now, expires_at),
                )
            except sqlite3.IntegrityError:
                return False
            return True

    # -- housekeeping ----------------------------------------------------------------------

    async def sweep(self, now: float) -> dict[str, int]:
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
            o = db.execute("DELETE FROM one_use WHERE expires_at <= ?", (now,)).rowcount
        return {"verifications_expired": v, "agents_expired": a, "one_use_purged": o}

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


def _agent_fields(fields: Mapping[str, AgentField]) -> dict[str, AgentField]:
    unknown = sorted(set(fields) - AGENT_UPDATABLE)
    if unknown:
        raise InvalidParameter(
            f"transition_agent cannot set {', '.join(unknown)} "
            f"(only {', '.join(sorted(AGENT_UPDATABLE))})"
        )
    for name, value in fields.items():
        if value is None:
            continue
        if name in _AGENT_TIME_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidParameter(f"{name} must be epoch seconds or None")
        elif not isinstance(value, str):
            raise InvalidParameter(f"{name} must be a string or None")
    return dict(fields)
