"""The micro-agent lifecycle: provision -> start -> attest -> retire, fail, expiry, and
one use enforced by the store (of many concurrent starts exactly one wins)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from zkattest import errors
from zkattest.agents import TYP, AgentError, AgentSettings, MicroAgent
from zkattest.identity import (
    EcKey,
    JoseError,
    KeyDestroyed,
    SpiffeId,
    decode_unverified,
    validate_svid,
    verify_compact,
)
from zkattest.store import Conflict, Store, open_store

from .conftest import AUD, T0, TD, Env, run

TASK = "verify-age_gte"


async def provisioned(env: Env, **kw: Any) -> MicroAgent:
    v = await env.presented(**kw)
    return await env.runtime.provision(v, TASK)


async def state(env: Env, agent: MicroAgent) -> str:
    rec = await env.store.get_agent(agent.id)
    assert rec is not None
    return rec.state


def key_of(agent: MicroAgent) -> EcKey:
    key = agent._key
    assert key is not None
    return key


def test_settings_bounds() -> None:
    AgentSettings(trust_domain=TD, svid_ttl=1)
    AgentSettings(trust_domain=TD, svid_ttl=60, attestation_ttl=86400)
    for kw in ({"svid_ttl": 0}, {"svid_ttl": 61}, {"attestation_ttl": 0}):
        with pytest.raises(errors.InvalidParameter):
            AgentSettings(trust_domain=TD, **kw)


def test_provision(env: Env) -> None:
    async def main() -> None:
        v = await env.presented(audience="https://rp.example")
        agent = await env.runtime.provision(v, TASK)
        rec = await env.store.get_agent(agent.id)
        assert rec == agent.record
        assert rec.state == "provisioned" and rec.verification_id == v.id
        assert rec.audience == "https://rp.example" and rec.task == TASK
        assert rec.created_at == T0 and rec.running_at is None
        sid = SpiffeId.parse(rec.spiffe_id)
        assert sid == SpiffeId.agent(TD, TASK, agent.id)
        assert agent.spiffe_id == rec.spiffe_id and TD in repr(agent)

        svid = validate_svid(agent.svid, env.bundle, audience="https://rp.example", at=T0)
        assert svid.spiffe_id == sid and svid.audience == "https://rp.example"
        assert 0 < svid.exp - svid.iat <= 60
        assert svid.exp - svid.iat == env.runtime.settings.svid_ttl
        assert svid.iat == int(T0) and rec.expires_at == svid.exp
        assert svid.jti == rec.svid_jti
        assert svid.agent_key.thumbprint() == rec.key_thumbprint
        assert svid.agent_key == key_of(agent).public()
        assert decode_unverified(agent.svid).header == {
            "alg": "ES256",
            "kid": env.trust.kid,
            "typ": "JWT",
        }
        # the SVID is for that audience only, and only while it lives
        with pytest.raises(JoseError) as e:
            validate_svid(agent.svid, env.bundle, audience=AUD, at=T0)
        assert e.value.reason == "bad_audience"
        with pytest.raises(JoseError) as e:
            validate_svid(agent.svid, env.bundle, audience="https://rp.example", at=svid.exp)
        assert e.value.reason == "expired"

    run(main())


def test_one_agent_per_verification(env: Env) -> None:
    async def main() -> None:
        v = await env.presented()
        first = await env.runtime.provision(v, TASK)
        with pytest.raises(Conflict):
            await env.runtime.provision(v, TASK)
        assert await state(env, first) == "provisioned"
        counts = await env.store.counts()
        assert counts["agents"]["provisioned"] == 1

    run(main())


def test_full_lifecycle(env: Env) -> None:
    async def main() -> None:
        agent = await provisioned(env)
        key = key_of(agent)
        env.clock.t = T0 + 1
        await agent.start()
        rec = await env.store.get_agent(agent.id)
        assert rec is not None and rec.state == "running" and rec.running_at == T0 + 1

        env.clock.t = T0 + 2
        token = await agent.attest({"sub": "v", "hello": "world"})
        rec = await env.store.get_agent(agent.id)
        assert rec is not None and rec.state == "attested" and rec.attested_at == T0 + 2
        jws = decode_unverified(token)
        assert jws.header == {"alg": "ES256", "kid": rec.key_thumbprint, "typ": TYP}
        svid = validate_svid(agent.svid, env.bundle, audience=AUD, at=T0 + 2)
        claims = verify_compact(token, lambda _h: svid.agent_key, typ=TYP)
        assert claims["hello"] == "world" and claims["jti"] == rec.attestation_jti
        assert rec.attestation_jti

        # one signature: the key is gone
        assert key.destroyed and agent._key is None
        with pytest.raises(KeyDestroyed):
            key.sign(b"again")
        with pytest.raises(AgentError) as e:
            await agent.attest({"sub": "v"})
        assert e.value.reason == "agent_used"
        assert await state(env, agent) == "attested"

        env.clock.t = T0 + 3
        await agent.retire()
        rec = await env.store.get_agent(agent.id)
        assert rec is not None and rec.state == "retired" and rec.retired_at == T0 + 3
        with pytest.raises(AgentError):
            await agent.retire()
        with pytest.raises(AgentError):
            await agent.start()

    run(main())


def test_steps_out_of_order_are_refused(env: Env) -> None:
    async def main() -> None:
        agent = await provisioned(env)
        with pytest.raises(AgentError) as e:
            await agent.attest({"sub": "v"})  # not running
        assert e.value.reason == "agent_used"
        with pytest.raises(AgentError):
            await agent.retire()  # not attested
        assert await state(env, agent) == "provisioned"
        await agent.start()
        with pytest.raises(AgentError) as e:
            await agent.start()  # used once already
        assert e.value.reason == "agent_used"
        assert await state(env, agent) == "running"

    run(main())


@pytest.mark.parametrize("started", [False, True])
def test_fail(env: Env, started: bool) -> None:
    async def main() -> None:
        agent = await provisioned(env)
        key = key_of(agent)
        if started:
            await agent.start()
        await agent.fail("invalid_proof")
        rec = await env.store.get_agent(agent.id)
        assert rec is not None and rec.state == "failed"
        assert rec.failed_reason == "invalid_proof"
        assert key.destroyed and agent._key is None
        with pytest.raises(AgentError):
            await agent.start()
        with pytest.raises(AgentError):
            await agent.attest({"sub": "v"})
        await agent.fail("again")  # no-op
        rec2 = await env.store.get_agent(agent.id)
        assert rec2 == rec

    run(main())


def test_fail_after_attest_is_a_no_op(env: Env) -> None:
    async def main() -> None:
        agent = await provisioned(env)
        await agent.start()
        await agent.attest({"sub": "v"})
        await agent.fail("late")
        rec = await env.store.get_agent(agent.id)
        assert rec is not None and rec.state == "attested" and rec.failed_reason is None

    run(main())


def test_start_after_expiry(env: Env) -> None:
    async def main() -> None:
        agent = await provisioned(env)
        env.clock.t = agent.record.expires_at  # expired at exactly expires_at
        with pytest.raises(AgentError) as e:
            await agent.start()
        assert e.value.reason == "agent_expired"
        assert await state(env, agent) == "provisioned"

    run(main())


def test_attest_after_expiry(env: Env) -> None:
    async def main() -> None:
        agent = await provisioned(env)
        await agent.start()
        env.clock.t = agent.record.expires_at + 1
        with pytest.raises(AgentError) as e:
            await agent.attest({"sub": "v"})
        assert e.value.reason == "agent_expired"
        assert await state(env, agent) == "running"

    run(main())


def test_start_after_sweep_says_expired(env: Env) -> None:
    """An agent the sweeper marked ``expired`` was never used: the refusal must say
    ``agent_expired``, not ``agent_used``."""

    async def main() -> None:
        agent = await provisioned(env)
        env.clock.t = agent.record.expires_at + 1
        swept = await env.store.sweep(env.clock.t)
        assert swept["agents_expired"] == 1
        assert await state(env, agent) == "expired"
        with pytest.raises(AgentError) as e:
            await agent.start()
        assert e.value.reason == "agent_expired"

    run(main())


def test_50_concurrent_starts_gather(env: Env) -> None:
    async def main() -> None:
        agent = await provisioned(env)
        results = await asyncio.gather(*(agent.start() for _ in range(50)), return_exceptions=True)
        wins = [r for r in results if r is None]
        losses = [r for r in results if isinstance(r, AgentError)]
        assert len(wins) == 1 and len(losses) == 49
        assert all(e.reason == "agent_used" for e in losses)
        assert await state(env, agent) == "running"

    run(main())


def test_50_threads_own_connections_one_transition(env: Env) -> None:
    agent = run(provisioned(env))
    stores: list[Store] = [run(open_store(f"sqlite://{env.db}")) for _ in range(50)]
    barrier = threading.Barrier(50)
    won: list[bool] = []
    lock = threading.Lock()
    problems: list[BaseException] = []

    def worker(store: Store) -> None:
        try:
            barrier.wait(10)
            ok = asyncio.run(
                store.transition_agent(
                    agent.id, "provisioned", "running", T0 + 1, require_unexpired=True
                )
            )
            with lock:
                won.append(ok)
        except BaseException as e:  # reported below
            with lock:
                problems.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert problems == []
        assert len(won) == 50 and won.count(True) == 1
        assert run(state(env, agent)) == "running"
        # the agent object sees the store's verdict
        with pytest.raises(AgentError) as e:
            run(agent.start())
        assert e.value.reason == "agent_used"
    finally:
        for s in stores:
            run(s.close())
