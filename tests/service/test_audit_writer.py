"""The service's audit writer and what surrounds it, below HTTP: ``ServiceAudit`` on a
real SQLite store (retries when another writer moves its chain, reopening after a
failed write, refusing after close, values outside the schema dropped, the bounded
memory of each verification's latest event), the trail's exact bytes (a page, an
export, a JSON-lines file: the same), the ``instance_id`` setting, the ``admin``
client flag and the ``zkattest audit`` / ``clients add --admin`` commands; then,
through the app, an audit store that fails (503, and nothing half-done) and agents
that expire.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from zkattest import cli
from zkattest.audit import (
    AuditEvent,
    AuditLog,
    AuditRefused,
    AuditWriterFailed,
    ChainHead,
    Checkpoint,
    JsonlSink,
    iter_jsonl,
    public_jwk,
    verify_trail,
)
from zkattest.credentials import Credential, Holder
from zkattest.identity.jose import EcKey
from zkattest.oauth.clients import ClientRegistry, ClientRegistryError, client_from_json
from zkattest.service import Config, ConfigError, Resources, create_app
from zkattest.service.audit import ServiceAudit, encode_page, export_trail
from zkattest.service.state import _audit_tick
from zkattest.store import SQLiteStore, StoreUnavailable, VerificationRecord, open_store
from zkattest.store.audit import AuditPage, AuditStore

from .conftest import (
    BASE,
    Party,
    assert_problem,
    check_created,
    create_body,
    delegated_body,
    proof_body,
    prove,
    services,
)
from .stock_rp import StockRP
from .test_audit_http import BACKENDS, Graph, database, events, fresh_res, page_through, refs
from .test_oauth_flow import adult, holder_fetch, holder_present

T = TypeVar("T")
KEY = EcKey.generate()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _store(tmp: Path) -> SQLiteStore:
    return await SQLiteStore.open(f"sqlite:///{tmp / 'audit.db'}")


def _writer(store: AuditStore, chain: str = "svc-a", **kw: Any) -> ServiceAudit:
    return ServiceAudit(KEY, chain, store, clock=lambda: 1_700_000_000.0, **kw)


async def _trail(store: AuditStore) -> list[AuditEvent | Checkpoint]:
    page = await store.audit_page(None, 10_000)
    assert page.complete
    out: list[AuditEvent | Checkpoint] = []
    for r in page.records:
        assert isinstance(r, AuditEvent | Checkpoint), r
        out.append(r)
    return out


# -- the writer -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_writers_sharing_a_chain_id_never_fork(tmp_path: Path, backend: str) -> None:
    """A misconfiguration (two writers, one chain id): the loser of each
    compare-and-append re-reads the head and retries (a bounded number of times: a
    writer starved by a busy twin gives up with AuditWriterFailed, a 503); whatever
    was acknowledged is one chain, never a fork."""

    async def main(url: str) -> tuple[list[AuditEvent | Checkpoint], int, int, int]:
        store = await open_store(url)
        try:
            a, b = _writer(store), _writer(store)
            await asyncio.gather(a.open(), b.open())
            done = failed = 0

            async def burst(w: ServiceAudit, actor: str) -> None:
                nonlocal done, failed
                for i in range(20):
                    try:
                        await w.append(
                            "token.issued", actor=actor, outcome="ok", refs={"jti": f"j{i}"}
                        )
                        done += 1
                    except AuditWriterFailed:
                        failed += 1
                    await asyncio.sleep(0)

            await asyncio.gather(burst(a, "shop"), burst(b, "other"))
            await a.close()
            await b.close()
            return await _trail(store), a.reopened + b.reopened, done, failed
        finally:
            await store.close()

    with database(backend) as db:
        url = db.get("database_url", f"sqlite:///{tmp_path / 'a.db'}")
        trail, reopened, done, failed = run(main(url))
    evs = [r for r in trail if isinstance(r, AuditEvent)]
    assert done + failed == 40 and done >= 20
    if backend == "sqlite":  # statements run on the loop: a retry always wins
        assert failed == 0
    assert len(evs) == done and [e.seq for e in evs] == list(range(done))
    assert reopened > 0
    report = verify_trail(trail, KEY.public())
    assert report.ok, report.first_error


class _FlakyStore:
    """A store whose audit writes fail while ``down``."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.down = False

    async def audit_write(self, events: Sequence[AuditEvent], cp: Checkpoint | None) -> None:
        if self.down:
            raise StoreUnavailable("database unavailable (test)")
        await self.store.audit_write(events, cp)

    async def audit_head(self, chain_id: str) -> ChainHead | None:
        return await self.store.audit_head(chain_id)

    async def audit_page(
        self, after: str | tuple[str, int] | None = None, limit: int = 1000
    ) -> AuditPage:
        return await self.store.audit_page(after, limit)


def test_a_failed_write_raises_and_the_chain_resumes(tmp_path: Path) -> None:
    async def main() -> list[AuditEvent | Checkpoint]:
        store = await _store(tmp_path)
        flaky = _FlakyStore(store)
        w = ServiceAudit(KEY, "svc-a", flaky, clock=lambda: 1.0)
        first = await w.append("token.issued", actor="shop", outcome="ok")
        flaky.down = True
        with pytest.raises(AuditWriterFailed) as info:
            await w.append("token.issued", actor="shop", outcome="ok")
        assert isinstance(info.value.__cause__, StoreUnavailable)
        assert w.reopened == 1
        assert await w.checkpoint() is None  # logged, not raised
        flaky.down = False
        second = await w.append("token.issued", actor="other", outcome="ok", links=[first])
        assert second.seq == first.seq + 1 and second.prev == first.hash
        await w.close()
        with pytest.raises(AuditWriterFailed):
            await w.append("token.issued", actor="shop", outcome="ok")
        trail = await _trail(store)
        await store.close()
        return trail

    trail = run(main())
    assert [r.actor for r in trail if isinstance(r, AuditEvent)] == ["shop", "other"]
    assert verify_trail(trail, KEY.public()).signed


def test_values_outside_the_schema_are_dropped_unknown_keys_refused(tmp_path: Path) -> None:
    async def main() -> AuditEvent:
        store = await _store(tmp_path)
        w = _writer(store)
        with pytest.raises(AuditRefused):
            await w.append("token.issued", actor="shop", outcome="ok", refs={"birthdate": 1})
        with pytest.raises(AuditRefused):  # a token is never an identifier
            await w.append(
                "token.issued", actor="shop", outcome="ok", refs={"jti": "eyJhbGc.eyJzdWI.c2ln"}
            )
        ev = await w.append(
            "verification.created",
            actor="anonymous",
            outcome="pending",
            refs={
                "verification_id": "v1",
                "audience": "not a uri",  # what an open service may be asked for
                "client_id": None,
                "min_age": 18,
            },
        )
        await store.close()
        return ev

    ev = run(main())
    assert msgspec.to_builtins(ev.refs) == {"verification_id": "v1", "min_age": 18}


def test_latest_event_of_each_verification_is_bounded(tmp_path: Path) -> None:
    async def main() -> None:
        store = await _store(tmp_path)
        w = _writer(store, max_threads=3)
        evs = [await w.append("token.issued", actor="shop", outcome="ok") for _ in range(5)]
        for i, ev in enumerate(evs):
            w.note(f"v{i}", ev, until=100.0 + i)
        assert w.follows("v0") == () and w.follows("v1") == ()  # the oldest forgotten
        assert w.follows("v4") == (evs[4].link(),)
        w.note("v2", evs[0], until=200.0)  # a newer event of v2: it is young again
        assert w.follows("v2") == (evs[0].link(),)
        assert w.purge(104.0) == 2  # v3 (103) and v4 (104); v2 lives until 200
        assert w.follows("v2") and not w.follows("v3")
        w.end("v2")
        assert w.follows("v2") == ()
        await store.close()

    run(main())


class _Tee:
    """A sink writing to the store and to a JSON-lines file."""

    def __init__(self, store: SQLiteStore, jsonl: JsonlSink) -> None:
        self.store, self.jsonl = store, jsonl

    async def write(self, events: Sequence[AuditEvent], cp: Checkpoint | None) -> None:
        await self.store.audit_write(events, cp)
        await self.jsonl.write(events, cp)

    async def head(self, chain_id: str) -> ChainHead | None:
        return await self.store.audit_head(chain_id)


def test_page_and_export_bytes_are_the_trail_file(tmp_path: Path) -> None:
    async def main() -> tuple[bytes, bytes, list[bytes]]:
        store = await _store(tmp_path)
        jsonl = JsonlSink(tmp_path / "trail.jsonl", fsync=False)
        log = AuditLog(KEY, "svc-a", _Tee(store, jsonl), checkpoint_every=4)
        prev = None
        for i in range(10):
            prev = await log.append(
                "agent.running",
                actor=f"spiffe://zk.example/agent/verify-age_gte/a{i}",
                outcome="ok",
                act={"sub": "shop", "act": {"sub": "assistant"}},
                subject="alice",
                refs={"agent_id": f"a{i}", "scope": "verify:age_gte approve"},
                links=[prev] if prev is not None else [],
            )
        await log.close()
        jsonl.close()
        out = io.BytesIO()
        n, bad = await export_trail(store, out, page_size=3)
        assert (n, bad) == (13, 0)  # 10 events, checkpoints at 3, 7 and 9
        bodies = []
        after = None
        while True:
            page = await store.audit_page(after, 4)
            bodies.append(encode_page(page))
            if page.complete:
                break
            after = page.cursor
        await store.close()
        return out.getvalue(), (tmp_path / "trail.jsonl").read_bytes(), bodies

    exported, written, bodies = run(main())
    assert exported == written
    paged = [
        json.dumps(rec, separators=(",", ":")).encode() + b"\n"
        for body in bodies
        for rec in json.loads(body)["records"]
    ]
    assert b"".join(paged) == written
    assert [json.loads(b)["next"] is None for b in bodies] == [False] * (len(bodies) - 1) + [True]
    assert verify_trail(iter_jsonl(io.BytesIO(exported)), KEY.public()).signed


# -- configuration and clients ----------------------------------------------------------------


def test_instance_id_default_and_validation() -> None:
    cid = Config(port=9123).chain_id
    assert cid.endswith("-9123") and len(cid) <= 64
    assert re.fullmatch(r"[A-Za-z0-9._~-]{1,64}", cid)
    assert Config(instance_id="replica-1.eu_west~2").chain_id == "replica-1.eu_west~2"
    for bad in ("a:b", "x" * 65, "two words", "é"):
        with pytest.raises(ConfigError, match="instance_id"):
            Config(instance_id=bad)


def test_admin_client_flag(tmp_path: Path) -> None:
    jwk = EcKey.generate().public().jwk()
    c = client_from_json({"client_id": "ops", "jwks": {"keys": [jwk]}, "admin": True})
    assert c.admin and c.scopes() == {"audit"}
    assert not client_from_json({"client_id": "rp", "jwks": {"keys": [jwk]}}).admin
    with pytest.raises(ClientRegistryError, match="admin"):
        client_from_json({"client_id": "ops", "jwks": {"keys": [jwk]}, "admin": "yes"})
    key = tmp_path / "ops.jwk"
    key.write_text(json.dumps(jwk))
    reg = tmp_path / "clients.json"
    assert (
        cli.main(["clients", "add", "ops", "--jwk", str(key), "--admin", "--file", str(reg)]) == 0
    )
    assert cli.main(["clients", "add", "rp", "--jwk", str(key), "--file", str(reg)]) == 0
    doc = json.loads(reg.read_text())
    assert {e["client_id"]: e["admin"] for e in doc["clients"]} == {"ops": True, "rp": False}
    assert ClientRegistry(reg).get("ops") == client_from_json(doc["clients"][0])


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            code = cli.main(list(argv))
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue()


def test_audit_key_and_export_commands(resources: Resources, tmp_path: Path) -> None:
    data = str(resources.config.data_path)
    code, text = _cli("audit", "key", "--data-dir", data, "--format", "jwk")
    assert code == 0 and json.loads(text) == public_jwk(resources.audit_key)
    code, text = _cli("audit", "key", "--data-dir", data)
    assert code == 0 and text.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in text
    # no key, no database: usage errors (exit 2), nothing created
    empty = tmp_path / "empty"
    assert _cli("audit", "key", "--data-dir", str(empty))[0] == 2
    assert _cli("audit", "export", "--data-dir", str(empty))[0] == 2
    assert not empty.exists()
    # an empty trail exports as an empty file
    db = tmp_path / "x.db"
    run(_close(_store_at(db)))
    out = tmp_path / "out.jsonl"
    assert _cli("audit", "export", "--database-url", f"sqlite:///{db}", "--out", str(out))[0] == 0
    assert out.read_bytes() == b""


async def _store_at(db: Path) -> SQLiteStore:
    return await SQLiteStore.open(f"sqlite:///{db}")


async def _close(opening: Coroutine[Any, Any, SQLiteStore]) -> None:
    await (await opening).close()


# -- through the app: failures, expiry --------------------------------------------------------


@pytest.fixture(scope="module")
def auditor() -> StockRP:
    return StockRP("auditor")


@pytest.fixture
def app_res(resources: Resources, tmp_path: Path, party: Party, auditor: StockRP) -> Resources:
    return fresh_res(resources, tmp_path, party, auditor, require_auth=False)


@pytest.fixture
def app(app_res: Resources) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(resources=app_res)) as c:
        yield c


def _failing(svc: Any, kind: str) -> None:
    """Make ``svc.audit`` fail on events of ``kind`` (the others still written)."""
    real = svc.audit.append

    async def append(k: str, **kw: Any) -> AuditEvent:
        if k == kind:
            raise AuditWriterFailed("the audit trail cannot be written (test)")
        ev: AuditEvent = await real(k, **kw)
        return ev

    svc.audit.append = append


def _trail_events(c: TestClient[Litestar], auditor: StockRP) -> Graph:
    auditor.get_token(c, BASE)
    return Graph(events(page_through(c, auditor, 1000)))


def test_token_endpoint_refuses_without_audit(
    app: TestClient[Litestar], party: Party, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(app.app)
    store = svc.audit.store

    async def down(*_: Any) -> None:
        raise StoreUnavailable("database unavailable (test)")

    with monkeypatch.context() as m:
        m.setattr(store, "audit_write", down)
        r = party.shop.token_request(app, BASE, {"grant_type": "client_credentials"})
        if r.status_code == 400:  # the DPoP nonce first
            r = party.shop.token_request(app, BASE, {"grant_type": "client_credentials"})
        body = assert_problem(r, 503, "audit_unavailable")
        assert "access_token" not in body
    party.shop.get_token(app, BASE)  # the store is back: the chain resumes
    assert svc.audit.reopened >= 1


@pytest.mark.parametrize("kind", ["agent.provisioned", "agent.running", "agent.attested"])
def test_presentation_without_audit_ends_failed(
    app: TestClient[Litestar],
    app_res: Resources,
    auditor: StockRP,
    holder: Holder,
    creds: Callable[[int], Credential],
    kind: str,
) -> None:
    """An agent step that cannot be recorded stops the verification: 503, and the
    verification ends failed (never half-done), its agent never acts again, and an
    attestation already signed is never released.  (Delegated proving for the first
    two: the failure comes before the proof, the witness is not used.)"""
    c = app
    svc = services(c.app)
    verifier = "v" * 43
    created = check_created(c.post("/v1/verifications", json=create_body(verifier)), verifier)
    hreq = holder_fetch(c, created)
    if kind == "agent.attested":
        body = proof_body(prove(app_res, holder, adult(creds), hreq))
    else:
        body = delegated_body(adult(creds), holder.secret)
    _failing(svc, kind)
    r = holder_present(c, hreq, body)
    assert_problem(r, 503, "audit_unavailable")
    st = c.get(created.read_path, params=created.read_params).json()
    assert st["status"] == "failed" and st["reason"] == "audit_unavailable"
    assert st["attestation"] is None and st["result"] is None
    agents = c.blocking_portal.call(svc.store.counts)["agents"]
    stopped = "retired" if kind == "agent.attested" else "failed"  # never left attested
    assert {k: n for k, n in agents.items() if n} == {stopped: 1}
    assert svc.runtime.live == {}
    g = _trail_events(c, auditor)
    assert not g.of("agent.proved") and not g.of("verification.completed")
    assert not g.of(kind)
    if kind != "agent.provisioned":  # the failure itself is on record
        (failed,) = g.of("verification.failed")
        assert refs(failed)["reason"] == "audit_unavailable"
        before = (
            ["agent.verified", "agent.running"]  # signed, never released (then retired)
            if kind == "agent.attested"
            else ["agent.failed", "agent.provisioned"]
        )
        assert [e.kind for e in g.back(failed)][:3] == ["verification.failed", *before]
    if kind == "agent.attested":
        assert [e.kind for e in g.back(g.one("agent.retired"))][:2] == [
            "agent.retired",
            "agent.verified",
        ]


class _Clock:
    def __init__(self) -> None:
        self.t = float(int(time.time()))

    def __call__(self) -> float:
        return self.t


def _provisioned(c: TestClient[Litestar], svc: Any) -> Any:
    verifier = "w" * 43
    created = check_created(c.post("/v1/verifications", json=create_body(verifier)), verifier)
    v = c.blocking_portal.call(svc.store.get_verification, created.id)
    assert isinstance(v, VerificationRecord)
    return c.blocking_portal.call(svc.runtime.provision, v, "verify-age_gte")


def test_swept_agents_are_audited_expired_once(app_res: Resources, auditor: StockRP) -> None:
    clock = _Clock()
    with TestClient(create_app(resources=app_res, clock=clock)) as c:
        svc = services(c.app)
        idle = _provisioned(c, svc)  # never used: the sweeper expires it
        started = _provisioned(c, svc)  # stuck running: the sweeper expires it
        c.blocking_portal.call(started.start)
        raced = _provisioned(c, svc)  # its own path finds it swept, before the sweeper's
        c.blocking_portal.call(raced.start)
        assert set(svc.runtime.live) == {idle.id, started.id, raced.id}
        clock.t += app_res.config.svid_ttl + 1
        c.blocking_portal.call(svc.store.sweep, clock())
        c.blocking_portal.call(raced.fail, "agent_expired")
        assert raced.id not in svc.runtime.live  # its agent.expired is recorded
        c.blocking_portal.call(_audit_tick, svc)
        assert svc.runtime.live == {}
        # the started one's own path finds it expired too late: no second event
        c.blocking_portal.call(started.fail, "agent_expired")
        c.blocking_portal.call(_audit_tick, svc)
        g = _trail_events(c, auditor)  # (its tokens are dated svid_ttl + 1 s early: fine)
    for agent, kinds in (
        (idle, ["agent.provisioned"]),
        (started, ["agent.running", "agent.provisioned"]),
        (raced, ["agent.running", "agent.provisioned"]),
    ):
        (ev,) = g.of("agent.expired", agent_id=agent.id)
        assert ev.actor == "service" and ev.outcome == "expired"
        assert [e.kind for e in g.back(ev)][1 : 1 + len(kinds)] == kinds
    assert not g.of("agent.failed")
