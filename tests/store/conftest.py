"""Store fixtures: one fresh database per test on each backend, record factories, a fixed
clock origin.

Backends: ``sqlite`` always; ``postgres`` when ``ZKATTEST_TEST_DATABASE_URL`` names a
PostgreSQL database (``postgresql://postgres@127.0.0.1:5432/test``), else its tests are
skipped.  Each PostgreSQL test gets its own schema (``?schema=zkt_<random>``: the
store creates it, the fixture drops it), so runs can repeat and overlap.

Store methods are async; tests drive them with :func:`run`, on one event loop per
thread that lives for the test (an asyncpg pool belongs to the loop that made it)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import threading
import urllib.parse
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import pytest

from zkattest.store import AgentRecord, SQLiteStore, VerificationRecord, open_store
from zkattest.store._common import V_COLUMNS, encode_row

if TYPE_CHECKING:
    from zkattest.store.postgres import PostgresStore

T = TypeVar("T")
AnyStore: TypeAlias = "SQLiteStore | PostgresStore"

T0 = 1_800_000_000.0  # the tests' "now"

PG_URL = os.environ.get("ZKATTEST_TEST_DATABASE_URL", "")
NO_PG = "ZKATTEST_TEST_DATABASE_URL is not set: no PostgreSQL to test against"
needs_pg = pytest.mark.skipif(not PG_URL, reason=NO_PG)
BACKENDS = ["sqlite", pytest.param("postgres", marks=needs_pg)]

_local = threading.local()


def loop() -> asyncio.AbstractEventLoop:
    """This thread's event loop (made on first use, closed by :func:`close_loop`)."""
    lp: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if lp is None or lp.is_closed():
        lp = asyncio.new_event_loop()
        _local.loop = lp
    return lp


def close_loop() -> None:
    lp: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    _local.loop = None
    if lp is not None and not lp.is_closed():
        lp.run_until_complete(lp.shutdown_asyncgens())
        lp.close()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return loop().run_until_complete(coro)


@pytest.fixture(autouse=True)
def _event_loop() -> Iterator[None]:
    # autouse: set up before, torn down after every other fixture of the test
    yield
    close_loop()


def h(text: str) -> str:
    """The stored form of a token: its SHA-256 hex digest."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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


def execute(store: AnyStore, sql: str, *params: Any) -> None:
    """White box: run one statement (``$n`` placeholders) on the store's database."""
    if isinstance(store, SQLiteStore):
        assert store._conn is not None
        store._conn.execute(sql.replace("$", "?"), params)
        return

    async def go() -> None:
        assert store._pool is not None
        async with store._pool.acquire() as conn:  # raw: asyncpg's own errors
            await conn.execute(sql, *params)

    run(go())


def fetch(store: AnyStore, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """White box: the rows of one query (``$n`` placeholders) on the store's database."""
    if isinstance(store, SQLiteStore):
        assert store._conn is not None
        return [tuple(r) for r in store._conn.execute(sql.replace("$", "?"), params)]

    async def go() -> list[tuple[Any, ...]]:
        assert store._pool is not None
        async with store._pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(sql, *params)]

    return run(go())


def put(store: AnyStore, rec: VerificationRecord) -> None:
    """White box: store a session in any state (``create_verification`` only takes new
    ones), to set up states the lifecycle would take several steps to reach."""
    marks = ", ".join(f"${i + 1}" for i in range(len(V_COLUMNS)))
    row = encode_row(rec, bool_as_int=isinstance(store, SQLiteStore))
    execute(store, f"INSERT INTO verifications ({', '.join(V_COLUMNS)}) VALUES ({marks})", *row)


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


# -- PostgreSQL schemas ----------------------------------------------------------------------


def with_params(url: str, **params: str | int) -> str:
    """``url`` with query parameters added (or replaced)."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update({k: str(v) for k, v in params.items()})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def new_schema() -> str:
    return f"zkt_{secrets.token_hex(8)}"


async def pg_admin(sql: str, *params: Any) -> Any:
    """Run one statement on the test database outside any store; its result rows."""
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        return await conn.fetch(sql, *params)
    finally:
        await conn.close()


def drop_schema(schema: str) -> None:
    asyncio.run(pg_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


_TABLES = ("audit_checkpoints", "audit_events", "agents", "verifications", "one_use")


async def _emptied(schema: str) -> bool:
    """Empty a used test schema for the next test, if it is still at HEAD (a test that
    changed its schema gets it dropped instead)."""
    import asyncpg

    from zkattest.store.migrations import HEAD, VERSION_TABLE

    conn = await asyncpg.connect(PG_URL)
    try:
        async with conn.transaction():
            rows = await conn.fetch(f'SELECT version_num FROM "{schema}".{VERSION_TABLE}')
            if [r[0] for r in rows] != [HEAD]:
                return False
            for table in _TABLES:
                await conn.execute(f'DELETE FROM "{schema}".{table}')
        return True
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def _pg_schemas() -> Iterator[list[str]]:
    """Migrated schemas emptied by the tests that used them, for the next ones (making and
    migrating a schema costs more than most tests); dropped at the end of the session."""
    free: list[str] = []
    yield free
    for schema in free:
        drop_schema(schema)


@pytest.fixture
def pg_reused_url(_pg_schemas: list[str]) -> Iterator[str]:
    """A PostgreSQL database of this test's own, empty, maybe already migrated."""
    if not PG_URL:
        pytest.skip(NO_PG)
    schema = _pg_schemas.pop() if _pg_schemas else new_schema()
    yield with_params(PG_URL, schema=schema)
    if asyncio.run(_emptied(schema)):
        _pg_schemas.append(schema)
    else:
        drop_schema(schema)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A schema name of this test's own (created by the store on open), dropped after."""
    if not PG_URL:
        pytest.skip(NO_PG)
    schema = new_schema()
    yield schema
    drop_schema(schema)


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """A brand-new PostgreSQL database (schema) of this test's own."""
    return with_params(PG_URL, schema=pg_schema)


# -- per-backend fixtures --------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "zkattest.db"


@pytest.fixture
def sqlite_url(db_path: Path) -> str:
    return f"sqlite://{db_path}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of the test's backend, maybe already migrated."""
    fixture = "sqlite_url" if backend == "sqlite" else "pg_reused_url"
    value: str = request.getfixturevalue(fixture)
    return value


@pytest.fixture
def fresh_url(backend: str, request: pytest.FixtureRequest) -> str:
    """A brand-new database of the test's backend (nothing in it, not even tables)."""
    fixture = "sqlite_url" if backend == "sqlite" else "pg_url"
    value: str = request.getfixturevalue(fixture)
    return value


@pytest.fixture
def store(url: str) -> Iterator[AnyStore]:
    s = run(open_store(url))
    yield s
    run(s.close())


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SQLiteStore]:
    s = run(SQLiteStore.open(sqlite_url))
    yield s
    run(s.close())


@pytest.fixture
def pg_store(pg_reused_url: str) -> Iterator[PostgresStore]:
    from zkattest.store.postgres import PostgresStore

    s = run(PostgresStore.open(pg_reused_url))
    yield s
    run(s.close())
