"""Restarts: state lives in the database, one-time things stay used, and an agent
caught mid-flight by a stop is never usable again (the sweeper expires it)."""

from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from zkattest.agents import AgentError, MicroAgent
from zkattest.credentials import Credential, Holder
from zkattest.identity import EcKey
from zkattest.service import Resources, bootstrap, create_app

from .conftest import (
    RP,
    assert_problem,
    create,
    fetch,
    present,
    proof_body,
    prove,
    read,
    services,
    with_db,
)


def _agent_state(c: TestClient[Litestar], agent_id: str) -> str:
    """The agent's state as stored (not as the API computes it)."""
    rec = c.blocking_portal.call(services(c.app).store.get_agent, agent_id)
    assert rec is not None
    return rec.state


def _status(c: TestClient[Litestar], vid: str) -> str:
    rec = c.blocking_portal.call(services(c.app).store.get_verification, vid)
    assert rec is not None
    return rec.status


def test_restart_between_steps(
    resources: Resources, tmp_path: Path, holder: Holder, leap_cred: Credential
) -> None:
    res = with_db(resources, tmp_path / "db")
    with TestClient(create_app(resources=res)) as c:
        created = create(c)
        hreq = fetch(c, created)
    body = proof_body(prove(res, holder, leap_cred, hreq))

    # a real restart: everything from disk again (trust-domain key, issuers, keys)
    res2 = bootstrap(res.config, progress=False)
    assert res2.trust.kid == res.trust.kid
    with TestClient(create_app(resources=res2)) as c:
        assert read(c, created)["status"] == "pending"
        assert_problem(c.get(created.request_path), 410, "used")
        r = present(c, hreq, body)
        assert r.status_code == 200, r.text
        agent_id = r.json()["agent_id"]
        st = read(c, created)
        assert st["status"] == "completed" and st["result"] is True
        attestation = st["attestation"]

    with TestClient(create_app(resources=bootstrap(res.config, progress=False))) as c:
        st = read(c, created)
        assert st["status"] == "completed"
        assert st["attestation"] == attestation
        assert st["agent_id"] == agent_id
        # consumed things stay consumed
        assert_problem(c.get(created.request_path), 410, "used")
        assert_problem(present(c, hreq, body), 409, "replay")
        assert c.get(f"/v1/agents/{agent_id}").json()["state"] == "retired"
        # and the attestation still verifies against the (same) published bundle
        r = c.post("/v1/attestations/verify", json={"attestation": attestation, "audience": RP})
        assert r.json()["valid"] is True


def test_agent_running_at_stop_is_never_usable(
    resources: Resources, tmp_path: Path, holder: Holder, leap_cred: Credential
) -> None:
    """Simulate a stop in the middle of a presentation: the verification is
    'presented', its agent 'running' (its key only in the dead process's memory)."""
    res = with_db(resources, tmp_path / "db", sweep_interval=0.1)
    t = [time.time()]
    with TestClient(create_app(resources=res, clock=lambda: t[0])) as c:
        created = create(c)
        hreq = fetch(c, created)
        svc = services(c.app)
        call = c.blocking_portal.call
        token_hash = hashlib.sha256(hreq["presentation_token"].encode()).hexdigest()
        deadline = t[0] + res.config.svid_ttl + 5
        assert call(svc.store.begin_presentation, created.id, token_hash, "proof", t[0], deadline)
        record = call(svc.store.get_verification, created.id)
        assert record is not None
        agent = call(svc.runtime.provision, record, "verify-age_gte")
        call(agent.start)
        svid = agent.svid
        agent_rec = agent.record
    agent.destroy()  # the process is gone, and its memory with it
    body = proof_body(prove(res, holder, leap_cred, hreq))

    with TestClient(create_app(resources=res, clock=lambda: t[0])) as c:
        svc = services(c.app)
        call = c.blocking_portal.call
        assert c.get(f"/v1/agents/{agent_rec.id}").json()["state"] == "running"
        # the verification cannot take another presentation while its agent is out
        assert_problem(present(c, hreq, body), 409)
        # another process holding the record (but never the key) cannot use the agent
        ghost = MicroAgent(svc.runtime, agent_rec, EcKey.generate(), svid)
        try:
            try:
                call(ghost.start)
            except AgentError as e:
                assert e.reason == "agent_used"
            else:
                raise AssertionError("a running agent was started again")
        finally:
            ghost.destroy()
        # time passes: the periodic sweeper marks agent and verification expired
        t[0] += res.config.svid_ttl + 6
        give_up = time.monotonic() + 30
        while _agent_state(c, agent_rec.id) != "expired":
            assert time.monotonic() < give_up, "the sweeper did not expire the agent"
            time.sleep(0.05)
        assert _status(c, created.id) == "expired"
        assert c.get(f"/v1/agents/{agent_rec.id}").json()["state"] == "expired"
        assert read(c, created)["status"] == "expired"
        r = present(c, hreq, body)
        assert r.status_code in (409, 410), r.text
        assert_problem(r, r.status_code)
        # an expired agent can neither start nor attest
        for state_from, state_to in [("provisioned", "running"), ("running", "attested")]:
            cas = functools.partial(svc.store.transition_agent, require_unexpired=False)
            assert not call(cas, agent_rec.id, state_from, state_to, t[0])

    with TestClient(create_app(resources=res)) as c:  # and it stays that way
        assert c.get(f"/v1/agents/{agent_rec.id}").json()["state"] == "expired"
        assert read(c, created)["status"] == "expired"


def test_startup_sweeps_what_a_stop_left(resources: Resources, tmp_path: Path) -> None:
    """An app started after the agent's lifetime finds it already expired (the
    lifespan sweeps before serving)."""
    res = with_db(resources, tmp_path / "db")
    t = [time.time()]
    with TestClient(create_app(resources=res, clock=lambda: t[0])) as c:
        created = create(c)
        svc = services(c.app)
        call = c.blocking_portal.call
        record = call(svc.store.get_verification, created.id)
        assert record is not None
        agent = call(svc.runtime.provision, record, "verify-age_gte")
        call(agent.start)
        agent_id = agent.id
    agent.destroy()
    t[0] += res.config.verification_ttl + 1
    with TestClient(create_app(resources=res, clock=lambda: t[0])) as c:
        svc = services(c.app)
        assert _agent_state(c, agent_id) == "expired"
        assert _status(c, created.id) == "expired"
        assert_problem(c.get(created.request_path), 410, "expired")
