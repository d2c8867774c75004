"""PostgreSQL specifics: the store URL, the pool, and what happens when the database goes
away and comes back (backends terminated, the server unreachable, a statement that
never answers): the call fails with StoreUnavailable, nothing half-done is committed,
and the pool recovers by itself."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import Awaitable, Iterator

import asyncpg
import pytest

from zkattest.audit import AuditEvent, AuditLog, MemorySink
from zkattest.identity import EcKey
from zkattest.store import (
    Conflict,
    StoreError,
    StoreUnavailable,
    open_store,
)
from zkattest.store.postgres import PostgresStore, parse_postgres_url

from .conftest import (
    PG_URL,
    T0,
    agent,
    needs_pg,
    pg_admin,
    presentation_token,
    request_token,
    run,
    verification,
    with_params,
)

SECRET = "hunter2secret"


# -- URL -------------------------------------------------------------------------------------


def test_url_defaults() -> None:
    s = parse_postgres_url("postgresql://zk:pw@db.internal:5433/zk")
    assert (s.schema, s.pool_min_size, s.pool_max_size) == (None, 1, 10)
    assert (s.connect_timeout, s.command_timeout) == (10.0, 30.0)
    assert s.dsn == "postgresql://zk:pw@db.internal:5433/zk"
    assert s.server_settings() == {"application_name": "zkattest"}
    assert "pw" not in repr(s)


def test_url_parameters() -> None:
    s = parse_postgres_url(
        "postgres://zk@db/zk?schema=zk_prod&pool_min_size=0&pool_max_size=40"
        "&connect_timeout=2.5&command_timeout=0&sslmode=require&application_name=api"
    )
    assert (s.schema, s.pool_min_size, s.pool_max_size) == ("zk_prod", 0, 40)
    assert (s.connect_timeout, s.command_timeout) == (2.5, None)
    # the store's own parameters are removed; the others go to asyncpg
    assert s.dsn == "postgresql://zk@db/zk?sslmode=require"
    assert s.server_settings() == {"application_name": "api", "search_path": "zk_prod"}


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("schema=Bad", "schema"),
        ("schema=a;drop", "schema"),
        ("schema=pg_catalog", "schema"),
        ("schema=", "schema"),
        ("schema=" + "a" * 64, "schema"),
        ("pool_min_size=-1", "pool_min_size"),
        ("pool_min_size=x", "pool_min_size"),
        ("pool_max_size=0", "pool_max_size"),
        ("pool_max_size=1001", "pool_max_size"),
        ("pool_min_size=5&pool_max_size=4", "exceed"),
        ("connect_timeout=0", "connect_timeout"),
        ("connect_timeout=nan", "connect_timeout"),
        ("command_timeout=-1", "command_timeout"),
        ("command_timeout=inf", "command_timeout"),
        ("command_timeout=1e9", "command_timeout"),
        ("schema=a&schema=b", "twice"),
    ],
)
def test_malformed_url_parameters(query: str, match: str) -> None:
    url = f"postgresql://zkuser:{SECRET}@db.internal:5432/zk?{query}"
    with pytest.raises(StoreError, match=match) as e:
        parse_postgres_url(url)
    assert SECRET not in str(e.value) and "zkuser" not in str(e.value)
    with pytest.raises(StoreError):
        run(open_store(url))


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://zk:{SECRET}@db.internal/zk#frag",
        f"postgresql://zk:{SECRET}@[::1/zk",
        f"mysql://zk:{SECRET}@db.internal/zk",
    ],
)
def test_malformed_urls_never_echo_credentials(url: str) -> None:
    with pytest.raises(StoreError) as e:
        parse_postgres_url(url)
    assert SECRET not in str(e.value)


# -- errors ----------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_nothing_listening_is_unavailable() -> None:
    url = f"postgresql://zk:{SECRET}@127.0.0.1:{closed_port()}/zk?connect_timeout=5"
    with pytest.raises(StoreUnavailable) as e:
        run(open_store(url))
    assert SECRET not in str(e.value) and "127.0.0.1" not in str(e.value)


@needs_pg
def test_unknown_database_is_a_store_error() -> None:
    url = with_params(PG_URL.rsplit("/", 1)[0] + f"/no_such_db_{secrets.token_hex(4)}")
    with pytest.raises(StoreError, match="3D000") as e:
        run(open_store(url))
    assert not isinstance(e.value, StoreUnavailable)
    assert "no_such_db" not in str(e.value)


def test_conflict_names_the_constraint_not_the_values(pg_store: PostgresStore) -> None:
    run(pg_store.create_verification(verification()))
    with pytest.raises(Conflict, match="verifications_request_token_hash") as e:
        again = verification("v2", request_token_hash=request_token("v1"))
        run(pg_store.create_verification(again))
    assert request_token("v1") not in str(e.value)
    with pytest.raises(Conflict, match="agents_verification_id_fkey"):
        run(pg_store.create_agent(agent("a1", "missing")))


# -- pool and schema -------------------------------------------------------------------------


def test_pool_sizes_come_from_the_url(pg_reused_url: str) -> None:
    s = run(open_store(with_params(pg_reused_url, pool_min_size=2, pool_max_size=3)))
    try:
        assert isinstance(s, PostgresStore)
        assert s._pool is not None
        assert (s._pool.get_min_size(), s._pool.get_max_size()) == (2, 3)
    finally:
        run(s.close())


def test_tables_live_in_the_named_schema(pg_url: str, pg_schema: str) -> None:
    s = run(open_store(pg_url))
    run(s.close())
    rows = asyncio.run(pg_admin("SELECT tablename FROM pg_tables WHERE schemaname = $1", pg_schema))
    assert {"verifications", "agents", "one_use", "zkattest_alembic_version"} <= {
        r[0] for r in rows
    }
    assert s.settings.schema == pg_schema


def test_closed_store_is_unavailable(pg_reused_url: str) -> None:
    s = run(open_store(pg_reused_url))
    run(s.close())
    run(s.close())  # idempotent
    with pytest.raises(StoreUnavailable, match="closed"):
        run(s.ping())
    with pytest.raises(StoreUnavailable):
        run(s.use_once("n", "k", T0 + 1, T0))


def test_a_released_connection_keeps_its_session(pg_reused_url: str) -> None:
    # the pool's reset does nothing (postgres._keep_session): what a call leaves in its
    # connection's session is there for the next call.  The store leaves nothing; this
    # shows that nothing would clean up after it if it did.
    s = run(PostgresStore.open(with_params(pg_reused_url, pool_min_size=1, pool_max_size=1)))

    async def go() -> str | None:
        async with s._conn() as conn:
            await conn.execute("SELECT set_config('zkattest.probe', 'left', false)")
        async with s._conn() as conn:
            value: str | None = await conn.fetchval(
                "SELECT current_setting('zkattest.probe', true)"
            )
        return value

    try:
        assert run(go()) == "left"
    finally:
        run(s.close())


@pytest.mark.parametrize("failed", [False, True])
def test_a_connection_released_mid_transaction_is_rolled_back(
    pg_reused_url: str, failed: bool
) -> None:
    # what the store relies on with its no-op reset: asyncpg rolls back a transaction
    # left open (or failed) on a released connection, with its locks and writes
    s = run(PostgresStore.open(with_params(pg_reused_url, pool_min_size=1, pool_max_size=1)))
    warnings: list[str] = []

    async def go() -> tuple[bool, int, int]:
        asyncio.get_running_loop().set_exception_handler(
            lambda _loop, ctx: warnings.append(str(ctx.get("message")))
        )
        with pytest.raises(RuntimeError):
            async with s._conn() as conn:
                await conn.execute("BEGIN")
                await conn.execute("SELECT pg_advisory_xact_lock(42)")
                await conn.execute(
                    "INSERT INTO one_use (namespace, key, created_at, expires_at)"
                    " VALUES ('n', 'k', 1, 2)"
                )
                if failed:
                    with pytest.raises(asyncpg.DivisionByZeroError):
                        await conn.execute("SELECT 1 / 0")
                raise RuntimeError("dropped mid-transaction")
        async with s._conn() as conn:
            in_transaction = conn.is_in_transaction()
            rows = await conn.fetchval("SELECT count(*) FROM one_use")
            locks = await conn.fetchval(
                "SELECT count(*) FROM pg_locks"
                " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
        return in_transaction, int(rows), int(locks)

    try:
        assert run(go()) == (False, 0, 0)
        assert any("active transaction" in w for w in warnings)
    finally:
        run(s.close())


def test_each_store_call_is_one_statement(pg_reused_url: str) -> None:
    # round trips are the cost of a call: each is one statement, and giving the
    # connection back to the pool sends none (no reset query)
    s = run(PostgresStore.open(with_params(pg_reused_url, pool_min_size=1, pool_max_size=1)))
    queries: list[str] = []
    events = events_of_a_chain("svc-a")
    warm_up = events_of_a_chain("svc-w")

    async def statements(call: Awaitable[object]) -> int:
        await asyncio.sleep(0)
        queries.clear()
        await call
        await asyncio.sleep(0)  # the query loggers are called soon, not at once
        return len(queries)

    async def go() -> dict[str, int]:
        assert s._pool is not None
        async with s._pool.acquire() as conn:  # the pool's only connection
            conn.add_query_logger(lambda record: queries.append(record.query))
        # asyncpg looks up the array types once per connection, on first use
        await s.audit_write(warm_up, None)
        v = verification()
        return {
            "create_verification": await statements(s.create_verification(v)),
            "get_verification": await statements(s.get_verification("v1")),
            "claim_request": await statements(
                s.claim_request(request_token("v1"), presentation_token("v1"), T0)
            ),
            "begin_presentation": await statements(
                s.begin_presentation("v1", presentation_token("v1"), "proof", T0, T0 + 60)
            ),
            "finish_verification": await statements(
                s.finish_verification(
                    "v1",
                    status="completed",
                    result=True,
                    reason=None,
                    attestation=None,
                    agent_id=None,
                    now=T0,
                )
            ),
            "use_once": await statements(s.use_once("dpop", "jti", T0 + 60, T0)),
            "audit_write": await statements(s.audit_write(events[:1], None)),
            "audit_write batch": await statements(s.audit_write(events[1:3], None)),
            "audit_head": await statements(s.audit_head("svc-a")),
            "sweep": await statements(s.sweep(T0)),
            "counts": await statements(s.counts()),
        }

    try:
        got = run(go())
        assert got == dict.fromkeys(got, 1)
        assert run(s.audit_head("svc-a")) is not None
    finally:
        run(s.close())


def events_of_a_chain(chain_id: str) -> list[AuditEvent]:
    async def go() -> list[AuditEvent]:
        log = AuditLog(EcKey.generate(), chain_id, MemorySink())
        return [
            await log.append("verification.created", actor="shop", outcome="ok") for _ in range(3)
        ]

    return asyncio.run(go())


# -- outages ---------------------------------------------------------------------------------


def test_terminated_backends_are_replaced(pg_reused_url: str) -> None:
    app = f"zkt_{secrets.token_hex(6)}"
    url = with_params(pg_reused_url, pool_min_size=2, pool_max_size=2, application_name=app)
    s = run(open_store(url))
    try:
        run(s.create_verification(verification()))

        async def hold_both() -> None:  # make the pool open its second connection too
            assert isinstance(s, PostgresStore)
            async with s._conn(), s._conn():
                pass

        run(hold_both())
        killed = asyncio.run(
            pg_admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = $1",
                app,
            )
        )
        assert len(killed) == 2
        for _ in range(1000):  # until the server has let them go (no clock involved)
            left = asyncio.run(
                pg_admin("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app)
            )
            if left[0][0] == 0:
                break
        failures = 0
        results = []
        for _ in range(6):
            try:
                results.append(run(s.use_once("dpop", "jti-1", T0 + 60, T0)))
            except StoreUnavailable:
                failures += 1
        assert failures <= 2  # at most once per dead connection
        assert results.count(True) == 1  # consumed exactly once, however the calls went
        assert run(s.get_verification("v1")) == verification()
        run(s.ping())
    finally:
        run(s.close())


class Proxy:
    """A TCP proxy to the test database that can be stopped (connections cut, port
    closed), restarted on the same port, and paused (bytes held back)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.running = asyncio.Event()  # set: bytes flow; clear: held back
        self.call(self._set_running())

    def call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)  # type: ignore[arg-type]

    async def _set_running(self) -> None:
        self.running.set()

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                await self.running.wait()
                w.write(data)
                await w.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    async def _client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection(*self.upstream)
        except OSError:
            w.close()
            return
        self.writers.update({w, uw})
        await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w))

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None

    async def _pause(self, on: bool) -> None:
        if on:
            self.running.clear()
        else:
            self.running.set()

    def start(self) -> None:
        self.call(self._start())

    def stop(self) -> None:
        self.call(self._stop())

    def pause(self, on: bool = True) -> None:
        self.call(self._pause(on))

    def close(self) -> None:
        if self.server is not None:
            self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    if not PG_URL:
        pytest.skip("no PostgreSQL")
    settings = parse_postgres_url(PG_URL)
    import urllib.parse

    parts = urllib.parse.urlsplit(settings.dsn)
    p = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    p.start()
    yield p
    p.close()


def via(proxy: Proxy, url: str, **params: str | int) -> str:
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    netloc_new = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
    return with_params(urllib.parse.urlunsplit(parts._replace(netloc=netloc_new)), **params)


def test_database_down_then_back(proxy: Proxy, pg_reused_url: str) -> None:
    url = via(proxy, pg_reused_url, pool_min_size=1, pool_max_size=1, connect_timeout=5)
    s = run(open_store(url))
    try:
        run(s.create_verification(verification()))
        proxy.stop()  # the server is gone: connections cut, nothing listening
        for _ in range(3):
            with pytest.raises(StoreUnavailable) as e:
                run(s.claim_request(request_token("v1"), request_token("p"), T0 + 1))
            assert PG_URL not in str(e.value)
        with pytest.raises(StoreUnavailable):
            run(s.ping())
        proxy.start()  # back, on the same address: the pool reconnects by itself
        run(s.ping())
        got = run(s.claim_request(request_token("v1"), request_token("p"), T0 + 1))
        assert got is not None  # the failed attempts consumed nothing
        assert run(s.claim_request(request_token("v1"), request_token("p"), T0 + 2)) is None
    finally:
        run(s.close())


def test_a_statement_that_never_answers_times_out(proxy: Proxy, pg_reused_url: str) -> None:
    url = via(
        proxy, pg_reused_url, pool_min_size=1, pool_max_size=1, command_timeout=0.2,
        connect_timeout=2,
    )  # fmt: skip
    s = run(open_store(url))
    try:
        proxy.pause()
        with pytest.raises(StoreUnavailable, match="Timeout"):
            run(s.use_once("dpop", "slow", T0 + 60, T0))
        proxy.pause(False)
        for _ in range(3):  # the timed-out connection may be discarded on the way
            try:
                run(s.ping())
                break
            except StoreUnavailable:
                continue
        run(s.ping())
        # the statement that timed out may or may not have reached the server; either
        # way the key is consumed at most once
        outcomes = {run(s.use_once("dpop", "slow", T0 + 60, T0)) for _ in range(2)}
        assert outcomes == {False} or outcomes == {True, False}
    finally:
        proxy.pause(False)
        run(s.close())
