"""SIGKILL with verifications in flight, then a restart on the same state.

A real server (SQLite; PostgreSQL when ``$ZKATTEST_TEST_DATABASE_URL`` is set) runs
verifications from several concurrent clients, half delegated (the agent proves: a
long window in which agents are ``provisioned``/``running``), half holder-side
proofs.  The test watches the store and sends SIGKILL as soon as agents are
provisioned or running, then restarts the server on the same data directory and
database and waits for the sweeper (short ``sweep_interval``, ``verification_ttl``
and ``svid_ttl``).  Afterwards:

- nothing is in flight any more: no verification ``pending``/``presented``, no agent
  ``provisioned``/``running`` -- and the killed agents ended ``expired``;
- no consumed identity is reusable: every request URI answers 410, every
  presentation token 409/410 (and the verification is unchanged);
- nothing is half-done: every ``completed`` verification has exactly one agent,
  ``retired`` after ``attested``, and an attestation that verifies against the
  server's trust bundle (SVID, signature, proof, nonce, verification id) with the
  result the holder's birthdate implies; an agent is ``attested``/``retired`` only for
  a completed verification (retired agents = completed verifications); every answer
  the clients got before the kill agrees with the stored outcome.

A kill between an agent's ``attested`` step and the end of its verification / its
``retired`` step leaves it ``attested`` until the sweeper retires it (its key died
with the process; its attestation, if the verification was not completed, is never
released).  The in-process test at the end makes both windows deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from zkattest.agents import verify_attestation
from zkattest.audit import AuditEvent, TrailReport, verify_trail
from zkattest.credentials import KeyStore
from zkattest.groth16 import VerifyingKey
from zkattest.identity import TrustBundle, decode_unverified
from zkattest.identity.trust import load_or_create_key
from zkattest.service import Config, bootstrap, create_app
from zkattest.store import Store, StoreUnavailable, open_store
from zkattest.store.audit import iter_audit

from .conftest import (
    RP,
    AsyncRP,
    Database,
    Flow,
    Server,
    Wallet,
    create_body,
    path_of,
    prepare_data_dir,
    serve,
    step_create,
    step_fetch,
    step_present,
    step_read,
)

CLIENTS = 10
#: kill once this many verifications completed and this many agents are mid-way
MIN_COMPLETED = 12
MIN_IN_FLIGHT_AGENTS = 2
VERIFICATION_TTL = 10
SVID_TTL = 8
#: Was a known bug (an agent left "attested" for good by a kill between its last
#: steps; see test_no_agent_left_attested_after_a_failure_between_steps): the sweeper
#: now retires such agents, so none may be tolerated.
TOLERATE_ATTESTED_WINDOW = False
#: every request and every wait of the test is bounded by these
REQUEST_TIMEOUT = 60.0
KILL_WITHIN = 90.0
SWEEP_WITHIN = 60.0


def _config(db: Database, data: Path) -> dict[str, object]:
    return {
        "database_url": db.url,
        "verification_ttl": VERIFICATION_TTL,
        "svid_ttl": SVID_TTL,
        "sweep_interval": 0.5,
        "policy_dir": data / "policies",
        "rate_soft_limit": 1_000_000,
        "queue": 64,
        "log_level": "info",
    }


async def _client(
    i: int,
    http: httpx.AsyncClient,
    rp: AsyncRP,
    wallets: list[Wallet],
    keys: KeyStore,
    flows: list[Flow],
) -> None:
    """Verifications one after the other, alternating delegated and holder-side proving,
    until the server dies (a transport error ends the loop)."""
    n = 0
    while True:
        mode = "delegated" if (i + n) % 2 == 0 else "proof"
        flow = Flow(wallet=(i + n) % len(wallets), mode=mode)
        n += 1
        flows.append(flow)
        r = await step_create(http, rp, flow)
        assert r.status_code == 201, r.text[:300]
        r = await step_fetch(http, flow, wallets)
        assert r.status_code == 200, r.text[:300]
        assert flow.hreq is not None
        w = wallets[flow.wallet]
        flow.body = (
            w.delegated_body()
            if mode == "delegated"
            else await asyncio.to_thread(w.proof_body, flow.hreq, keys)
        )
        r = await step_present(http, flow)
        assert r.status_code == 200, r.text[:300]
        r = await step_read(http, rp, flow)
        assert r.status_code == 200, r.text[:300]


async def _load_then_kill(
    srv: Server, db: Database, wallets: list[Wallet], keys: KeyStore
) -> tuple[list[Flow], dict[str, dict[str, int]]]:
    """Run the clients; SIGKILL the server once verifications completed and agents are
    provisioned/running (read from the store); return the flows and the counts seen
    just before the kill."""
    flows: list[Flow] = []
    rp = AsyncRP(srv.url)
    rp.register(srv.data)
    limits = httpx.Limits(max_connections=CLIENTS + 2)
    store: Store = await open_store(db.url)
    try:
        async with httpx.AsyncClient(
            base_url=srv.url, timeout=REQUEST_TIMEOUT, limits=limits
        ) as http:
            await rp.get_token(http)
            tasks = [
                asyncio.create_task(_client(i, http, rp, wallets, keys, flows))
                for i in range(CLIENTS)
            ]
            deadline = time.monotonic() + KILL_WITHIN
            seen: dict[str, dict[str, int]] = {}
            while time.monotonic() < deadline:
                for t in tasks:  # a client that failed before the kill is a failure
                    if t.done():
                        t.result()
                        raise AssertionError("a client stopped before the kill")
                seen = await store.counts()
                agents = seen["agents"]
                if (
                    seen["verifications"]["completed"] >= MIN_COMPLETED
                    and agents["provisioned"] + agents["running"] >= MIN_IN_FLIGHT_AGENTS
                ):
                    os.kill(srv.pid, signal.SIGKILL)
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError(f"no moment to kill within {KILL_WITHIN} s: {seen}")
            srv.proc.wait(30)  # type: ignore[union-attr]
            for t in tasks:
                with contextlib.suppress(httpx.TransportError, AssertionError):
                    await t
    finally:
        await store.close()
    return flows, seen


async def _wait_swept(db: Database) -> dict[str, dict[str, int]]:
    """Poll the store until nothing is in flight (the restarted server's sweeper)."""
    store: Store = await open_store(db.url)
    try:
        deadline = time.monotonic() + SWEEP_WITHIN
        while True:
            counts = await store.counts()
            v, a = counts["verifications"], counts["agents"]
            if v["pending"] + v["presented"] + v["awaiting_approval"] == 0 and (
                a["provisioned"] + a["running"] + a["attested"] == 0
            ):
                return counts
            assert time.monotonic() < deadline, f"still in flight after the sweep: {counts}"
            await asyncio.sleep(0.25)
    finally:
        await store.close()


async def _audit_after(db: Database, data: Path) -> tuple[TrailReport, set[str]]:
    key = load_or_create_key(data / "audit.key.pem").public()
    store: Store = await open_store(db.url)
    try:
        records = [r async for r in iter_audit(store)]  # type: ignore[arg-type]
    finally:
        await store.close()
    completed = {
        str(r.refs.verification_id)
        for r in records
        if isinstance(r, AuditEvent) and r.kind == "verification.completed"
    }
    return verify_trail(records, key), completed


async def _check_after_restart(
    srv: Server,
    db: Database,
    flows: list[Flow],
    vk: VerifyingKey,
    circuit_id: str,
) -> int:
    """Check every verification the clients know; returns how many completed ones
    have their agent left "attested" (the known window, see above)."""
    left_attested = 0
    async with httpx.AsyncClient(base_url=srv.url, timeout=REQUEST_TIMEOUT) as http:
        bundle_doc = (await http.get("/.well-known/spiffe-bundle")).json()
        rp = AsyncRP(srv.url)  # a new port is a new issuer: a new client session
        rp.register(srv.data)
        await rp.get_token(http)
        store: Store = await open_store(db.url)
        try:
            bundle: TrustBundle | None = None
            for flow in flows:
                if not flow.vid:
                    continue  # its create was never answered: covered by the counts
                v = await store.get_verification(flow.vid)
                assert v is not None, flow
                where = f"{flow.vid} ({flow.mode}, sent {flow.sent}, answers {flow.answers})"
                assert v.status in ("completed", "failed", "expired"), (where, v.status)
                if flow.presented is not None:  # the client was told: it happened
                    assert v.status == "completed", where
                    assert flow.presented["result"] is flow.expected, where
                if v.status == "completed":
                    assert v.attestation is not None and v.agent_id is not None, where
                    agent = await store.get_agent(v.agent_id)
                    assert agent is not None, where
                    assert agent.verification_id == v.id, where
                    assert agent.attested_at is not None, where
                    if agent.state == "attested" and TOLERATE_ATTESTED_WINDOW:
                        left_attested += 1  # killed between "completed" and "retired"
                    else:
                        assert agent.state == "retired", (where, agent.state)
                        assert agent.retired_at is not None, where
                    claims = decode_unverified(v.attestation).claims
                    if bundle is None:
                        bundle = TrustBundle.from_spiffe_json(
                            str(claims["iss"]).split("/")[2], bundle_doc
                        )
                    got = verify_attestation(
                        v.attestation,
                        bundle=bundle,
                        audience=RP,
                        now=int(claims["iat"]),
                        circuits={circuit_id: vk},
                        nonce=v.nonce,
                        verification_id=v.id,
                    )
                    assert got.agent == agent.spiffe_id, where
                    assert flow.expected is not None, where
                    assert got.result is flow.expected is v.result, where
                else:
                    assert v.attestation is None and v.result is None, where
                    if v.agent_id is not None:
                        agent = await store.get_agent(v.agent_id)
                        assert agent is not None and agent.state in ("failed", "expired"), where

                # the RP reads the same outcome after the restart
                path = f"/v1/verifications/{flow.vid}"
                r = await http.get(
                    path, params={"code_verifier": flow.verifier}, headers=rp.auth("GET", path)
                )
                assert r.status_code == 200, (where, r.text[:300])
                assert r.json()["status"] == v.status, where
                assert r.json()["attestation"] == v.attestation, where

                # no consumed identity is reusable
                r = await http.get(flow.request_path)
                assert r.status_code == 410, (where, r.status_code, r.text[:300])
                if flow.hreq is not None and flow.body is not None:
                    r = await http.post(
                        path_of(flow.hreq["presentation_uri"]),
                        json=flow.body,
                        headers={"Authorization": f"Bearer {flow.hreq['presentation_token']}"},
                    )
                    assert r.status_code in (409, 410), (where, r.status_code, r.text[:300])
                    after = await store.get_verification(flow.vid)
                    assert after == v, where
        finally:
            await store.close()
    return left_attested


def test_kill9_then_restart(
    database: Database,
    tmp_path: Path,
    issuer_file: Path,
    wallets: list[Wallet],
    keys: tuple[KeyStore, VerifyingKey, str],
) -> None:
    keystore, vk, circuit_id = keys
    data = prepare_data_dir(tmp_path / "data", issuer_file, raise_rate_limit=True)
    config = _config(database, data)

    with serve(data, tmp_path / "before.log", config) as srv:
        flows, at_kill = asyncio.run(_load_then_kill(srv, database, wallets, keystore))
        assert not srv.alive()
    known = [f for f in flows if f.vid]
    in_flight = [f for f in known if f.sent == "present" and "present" not in f.answers]
    assert sum(1 for f in known if f.presented) >= 1, "nothing completed before the kill"
    assert in_flight, "no presentation was in flight at the kill"

    with serve(data, tmp_path / "after.log", config) as srv2:
        counts = asyncio.run(_wait_swept(database))
        v, a = counts["verifications"], counts["agents"]
        # the agents caught mid-way by the kill can never sign: expired by the sweeper
        assert a["expired"] >= 1, (at_kill, counts)
        left = asyncio.run(_check_after_restart(srv2, database, flows, vk, circuit_id))
        # an agent is attested only on the way to retired, and only for a completed
        # verification; one agent per completed verification.  (Known window: an agent
        # killed between "attested" and "finished" stays attested with its verification
        # expired -- at most one per presentation in flight at the kill.)
        assert a["attested"] == 0, counts  # the sweeper retires what a kill left attested
        # one retired agent per completed verification, plus at most one per presentation
        # in flight whose agent had signed when the kill came (its attestation was never
        # released: the verification expired)
        assert v["completed"] <= a["retired"] + left <= v["completed"] + len(in_flight), counts
        assert srv2.failures() == []
    # the audit trail after the kill and the restart (the second server signed its head on
    # shutdown): every chain verifies, and every verification a client was told had
    # completed has its verification.completed event -- nothing acknowledged was lost
    report, completed_events = asyncio.run(_audit_after(database, data))
    assert report.ok, report.first_error
    told = {f.vid for f in known if f.presented is not None}
    assert told <= completed_events, told - completed_events
    print(
        json.dumps(
            {
                "db": database.kind,
                "flows": len(flows),
                "created": len(known),
                "in_flight_presentations": len(in_flight),
                "at_kill": at_kill,
                "left_attested_known_bug": a["attested"],
                "after": counts,
            }
        )
    )


# -- the windows a kill can hit, made deterministic -----------------------------------------------


class _FailOnce:
    """The app's store, except that one step raises ``StoreUnavailable`` once: what a
    database blip -- or a kill, for everything after it -- does at that moment."""

    def __init__(self, inner: Any, step: str) -> None:
        self._inner = inner
        self._step = step
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _hit(self, step: str) -> None:
        if step == self._step and not self.fired:
            self.fired = True
            raise StoreUnavailable("injected")

    async def finish_verification(self, id: str, **kw: Any) -> bool:
        if kw.get("status") == "completed":
            self._hit("finish")
        return bool(await self._inner.finish_verification(id, **kw))

    async def transition_agent(self, id: str, frm: str, to: str, *a: Any, **kw: Any) -> bool:
        if (frm, to) == ("attested", "retired"):
            self._hit("retire")
        return bool(await self._inner.transition_agent(id, frm, to, *a, **kw))


@pytest.mark.parametrize("step", ["finish", "retire"])
def test_no_agent_left_attested_after_a_failure_between_steps(
    tmp_path: Path, issuer_file: Path, wallets: list[Wallet], step: str
) -> None:
    data = prepare_data_dir(tmp_path / "data", issuer_file)
    res = bootstrap(
        Config(
            data_dir=str(data),
            key_dir=os.environ["ZKATTEST_KEY_DIR"],
            require_auth=False,
            database_url=f"sqlite:///{(tmp_path / 'zkattest.db').resolve()}",
        ),
        progress=False,
    )
    app = create_app(resources=res)
    with TestClient(app) as c:
        svc = app.state.zk
        flaky = _FailOnce(svc.runtime.store, step)
        svc.runtime.store = flaky
        flow = Flow(wallet=0, mode="delegated")
        r = c.post("/v1/verifications", json=create_body(flow.verifier))
        assert r.status_code == 201, r.text
        hreq = c.get(path_of(r.json()["request_uri"])).json()
        r = c.post(
            path_of(hreq["presentation_uri"]),
            json=wallets[0].delegated_body(),
            headers={"Authorization": f"Bearer {hreq['presentation_token']}"},
        )
        assert flaky.fired
        assert r.status_code in (200, 503), r.text  # a clean answer either way
        vid = hreq["verification_id"]

        async def settle() -> tuple[str, str]:
            store = svc.store
            await store.sweep(time.time() + 3600)  # everything in flight is overdue now
            v = await store.get_verification(vid)
            assert v is not None
            counts = await store.counts()
            return v.status, json.dumps(counts["agents"])

        status, agents = asyncio.run(settle())  # SQLite: usable from any event loop
    assert status in ("completed", "expired", "failed")
    assert json.loads(agents)["attested"] == 0, (status, agents)
