"""AgentRuntime.handle: one verification through one agent, holder-side and delegated,
valid yes/no and every refusal; the store ends consistent whatever happens."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import msgspec
import pytest

from zkattest.agents import (
    DelegatedWork,
    Outcome,
    ProofWork,
    verify_attestation,
)
from zkattest.babyjub import SUBGROUP_ORDER, Signature
from zkattest.credentials import (
    Credential,
    Holder,
    Issuer,
    KeyStore,
    Presentation,
)
from zkattest.groth16 import Proof
from zkattest.store import VerificationRecord

from .conftest import BIRTH_YES, T0, Env, run


def circuits(env: Env) -> dict[str, object]:
    vk = env.keys.verifying_key("age_gte")
    return {env.runtime.circuit_id: vk}


async def handle(
    env: Env, work: ProofWork | DelegatedWork, **kw: object
) -> tuple[Outcome, VerificationRecord]:
    mode = "proof" if isinstance(work, ProofWork) else "delegated"
    v = await env.presented(mode=mode, **kw)  # type: ignore[arg-type]
    slot = env.pool.reserve()
    out = await env.runtime.handle(v, work, slot)
    return out, v


def assert_completed(
    env: Env, out: Outcome, v: VerificationRecord, result: bool, mode: str
) -> None:
    assert out.status == "completed" and out.result is result and out.reason is None
    assert out.attestation is not None
    stored = run(env.store.get_verification(v.id))
    assert stored is not None
    assert stored.status == "completed" and stored.result is result and stored.reason is None
    assert stored.attestation == out.attestation and stored.agent_id == out.agent_id
    agent = run(env.store.get_agent(out.agent_id))
    assert agent is not None and agent.state == "retired" and agent.verification_id == v.id
    assert agent.attestation_jti and agent.attested_at is not None
    got = verify_attestation(
        out.attestation,
        bundle=env.bundle,
        audience=v.audience,
        now=int(env.clock()),
        circuits=circuits(env),  # type: ignore[arg-type]
        nonce=v.nonce,
    )
    assert got.result is result and got.verification_id == v.id
    assert got.agent == agent.spiffe_id
    c = got.claims
    assert c["mode"] == mode and c["jti"] == agent.attestation_jti
    assert (c["nonce"], c["rp_scope"], c["today"]) == (v.nonce, v.rp_scope, v.today)
    assert c["params"] == {"min_age": 18} and c["predicate"] == "age_gte"
    assert c["public_signals"][0] == ("1" if result else "0")
    assert env.pool.stats().in_flight == 0


def assert_failed(env: Env, out: Outcome, v: VerificationRecord, reason: str) -> None:
    assert out == Outcome(out.agent_id, "failed", None, reason, None)
    stored = run(env.store.get_verification(v.id))
    assert stored is not None
    assert stored.status == "failed" and stored.reason == reason
    assert stored.result is None and stored.attestation is None
    assert stored.agent_id == out.agent_id
    agent = run(env.store.get_agent(out.agent_id))
    assert agent is not None and agent.state == "failed" and agent.failed_reason == reason
    assert agent.attestation_jti is None
    assert env.pool.stats().in_flight == 0


# ---------------------------------------------------------------- holder-side proving


def test_proof_yes(env: Env, pres_yes: Presentation) -> None:
    out, v = run(handle(env, ProofWork(pres_yes)))
    assert_completed(env, out, v, True, "proof")


def test_proof_no(env: Env, pres_no: Presentation) -> None:
    out, v = run(handle(env, ProofWork(pres_no)))
    assert_completed(env, out, v, False, "proof")


def test_proof_untrusted_issuer(
    tmp_path: Path, other_issuer: Issuer, keys: KeyStore, pres_yes: Presentation
) -> None:
    from .conftest import close_env, make_env

    env = make_env(tmp_path, other_issuer, keys)  # trusts another issuer only
    try:
        out, v = run(handle(env, ProofWork(pres_yes)))
        assert_failed(env, out, v, "untrusted_issuer")
    finally:
        close_env(env)


def test_proof_nonce_mismatch(env: Env, pres_yes: Presentation) -> None:
    out, v = run(handle(env, ProofWork(pres_yes), nonce="42"))
    assert_failed(env, out, v, "nonce_mismatch")


def test_proof_scope_mismatch(env: Env, pres_yes: Presentation) -> None:
    out, v = run(handle(env, ProofWork(pres_yes), rp_scope="43"))
    assert_failed(env, out, v, "scope_mismatch")


def test_proof_tampered_proof(env: Env, pres_yes: Presentation) -> None:
    p = pres_yes.proof
    bad = Presentation(Proof(p.c, p.b, p.a), pres_yes.public, pres_yes.circuit_id)
    out, v = run(handle(env, ProofWork(bad)))
    assert_failed(env, out, v, "invalid_proof")


def test_proof_unknown_circuit(env: Env, pres_yes: Presentation) -> None:
    bad = Presentation(pres_yes.proof, pres_yes.public, "0" * 64)
    out, v = run(handle(env, ProofWork(bad)))
    assert_failed(env, out, v, "unknown_circuit")


# ---------------------------------------------------------------- delegated proving


def test_delegated_yes(env: Env, holder: Holder, cred_yes: Credential) -> None:
    work = DelegatedWork(cred_yes, holder)
    out, v = run(handle(env, work))
    assert_completed(env, out, v, True, "delegated")
    assert work.credential is None and work.holder is None  # dropped


def test_delegated_no(env: Env, holder: Holder, cred_no: Credential) -> None:
    work = DelegatedWork(cred_no, holder)
    out, v = run(handle(env, work))
    assert_completed(env, out, v, False, "delegated")
    assert work.credential is None and work.holder is None


def test_delegated_untrusted_issuer(env: Env, other_issuer: Issuer, holder: Holder) -> None:
    cred = other_issuer.issue({"birthdate": BIRTH_YES}, holder.commitment, expires=20300101)
    work = DelegatedWork(cred, holder)
    out, v = run(handle(env, work))
    assert_failed(env, out, v, "untrusted_issuer")
    assert work.credential is None and work.holder is None


def test_delegated_wrong_holder(env: Env, cred_yes: Credential) -> None:
    work = DelegatedWork(cred_yes, Holder())
    out, v = run(handle(env, work))
    assert_failed(env, out, v, "wrong_holder")
    assert work.credential is None and work.holder is None


def test_delegated_expired_credential(env: Env, issuer: Issuer, holder: Holder) -> None:
    cred = issuer.issue({"birthdate": BIRTH_YES}, holder.commitment, expires=20260228)
    out, v = run(handle(env, DelegatedWork(cred, holder)))
    assert_failed(env, out, v, "expired_credential")


def test_delegated_tampered_signature(env: Env, holder: Holder, cred_yes: Credential) -> None:
    sig = cred_yes.signature
    bad = msgspec.structs.replace(
        cred_yes, signature=Signature(sig.r8, (sig.s + 1) % SUBGROUP_ORDER)
    )
    out, v = run(handle(env, DelegatedWork(bad, holder)))
    assert_failed(env, out, v, "invalid_credential")


def test_delegated_tampered_attribute(env: Env, holder: Holder, cred_yes: Credential) -> None:
    attrs = list(cred_yes.attrs)
    attrs[1] = 19000101  # an older birthdate under the same signature
    bad = msgspec.structs.replace(cred_yes, attrs=tuple(attrs))
    out, v = run(handle(env, DelegatedWork(bad, holder)))
    assert_failed(env, out, v, "invalid_credential")


def test_delegated_work_dropped_when_agent_cannot_start(
    env: Env, holder: Holder, cred_yes: Credential
) -> None:
    """The witness is dropped whatever the outcome, also when the agent never starts."""

    class Jumping:  # every reading of the clock is 100 s later: the agent expires at once
        def __init__(self) -> None:
            self.t = T0

        def __call__(self) -> float:
            self.t += 100
            return self.t

    v = run(env.presented(mode="delegated", deadline=T0 + 10_000))
    env.runtime.clock = Jumping()
    work = DelegatedWork(cred_yes, holder)
    out = run(env.runtime.handle(v, work, env.pool.reserve()))
    assert out.status == "failed" and out.reason == "agent_expired"
    assert env.pool.stats().in_flight == 0
    assert work.credential is None and work.holder is None, "witness kept after handle()"


# ---------------------------------------------------------------- expiry and errors


def test_verification_expired_while_agent_works(env: Env, pres_yes: Presentation) -> None:
    """The clock jumps past the verification's deadline while the agent verifies and the
    sweeper runs; the agent (still alive) attests, but nothing is released."""
    v = run(env.presented(deadline=T0 + 10))  # agent lives until T0 + 30
    real_check = env.verifier.check_public
    swept: list[dict[str, int]] = []

    def slow_check(presentation: Presentation, req: object) -> object:
        env.clock.t = T0 + 15
        # the claim checks run on the event loop: sweep from another thread, as the
        # sweeper of another replica would
        t = threading.Thread(target=lambda: swept.append(run(env.store.sweep(env.clock.t))))
        t.start()
        t.join()
        return real_check(presentation, req)  # type: ignore[arg-type]

    env.verifier.check_public = slow_check  # type: ignore[method-assign]
    out = run(env.runtime.handle(v, ProofWork(pres_yes), env.pool.reserve()))
    assert swept == [
        {"verifications_expired": 1, "agents_expired": 0, "agents_retired": 0, "one_use_purged": 0}
    ]
    assert out == Outcome(out.agent_id, "failed", None, "verification_expired", None)
    stored = run(env.store.get_verification(v.id))
    assert stored is not None and stored.status == "expired"
    assert stored.attestation is None and stored.result is None and stored.agent_id is None
    agent = run(env.store.get_agent(out.agent_id))
    assert agent is not None and agent.state in ("retired", "failed")
    assert env.pool.stats().in_flight == 0


def test_verification_and_agent_expired_while_agent_works(env: Env, pres_yes: Presentation) -> None:
    """As the service sets it up (deadline = agent expiry + 5): a long stall expires
    both; the outcome is a failure and nothing is released."""
    v = run(env.presented())
    real_check = env.verifier.check_public

    def slow_check(presentation: Presentation, req: object) -> object:
        env.clock.t = T0 + 3600
        t = threading.Thread(target=lambda: run(env.store.sweep(env.clock.t)))
        t.start()
        t.join()
        return real_check(presentation, req)  # type: ignore[arg-type]

    env.verifier.check_public = slow_check  # type: ignore[method-assign]
    out = run(env.runtime.handle(v, ProofWork(pres_yes), env.pool.reserve()))
    assert out.status == "failed" and out.attestation is None
    assert out.reason in ("agent_expired", "verification_expired")
    stored = run(env.store.get_verification(v.id))
    assert stored is not None and stored.status == "expired" and stored.attestation is None
    agent = run(env.store.get_agent(out.agent_id))
    assert agent is not None and agent.state == "expired" and agent.attestation_jti is None


def test_unexpected_error_still_finishes_the_verification(
    env: Env, tmp_path: Path, holder: Holder, cred_yes: Credential
) -> None:
    """``handle`` promises the verification is finished in the store either way: an
    error that is not a credential refusal (here: the proving key is missing) must not
    leave the agent ``running`` and the verification ``presented``."""
    env.runtime.keys = KeyStore(tmp_path / "no-keys")
    v = run(env.presented(mode="delegated"))
    work = DelegatedWork(cred_yes, holder)
    with contextlib.suppress(Exception):  # raising is fine, leaving state half-done is not
        run(env.runtime.handle(v, work, env.pool.reserve()))
    assert env.pool.stats().in_flight == 0
    assert work.credential is None and work.holder is None
    stored = run(env.store.get_verification(v.id))
    assert stored is not None
    agents = run(env.store.counts())["agents"]
    assert agents["running"] == 0 and agents["failed"] == 1
    assert stored.status == "failed" and stored.reason


def test_slot_released_when_provision_fails(env: Env, pres_yes: Presentation) -> None:
    async def main() -> None:
        v = await env.presented()
        await env.runtime.provision(v, "verify-age_gte")  # the one agent of v
        slot = env.pool.reserve()
        with pytest.raises(Exception):  # noqa: B017 (store Conflict)
            await env.runtime.handle(v, ProofWork(pres_yes), slot)
        assert env.pool.stats().in_flight == 0

    run(main())
