"""Micro-agents: provisioned just in time, used once, retired.

Lifecycle (DESIGN.md): ``provisioned`` (ephemeral P-256 key + JWT-SVID minted,
record stored) -> ``running`` (verify or prove, on the :class:`WorkPool`) ->
``attested`` (one signature; the key is destroyed) -> ``retired``; or ``failed`` /
``expired``.  Every transition is a compare-and-set in the store, so of many
concurrent attempts to use one agent exactly one wins, across threads, processes
and replicas.  The key lives only in this process's memory: an agent that did not
finish before a crash can never sign (the sweeper marks it expired).

With an :class:`~zkattest.agents.trail.AgentAudit`, every step is also an audit
event (:mod:`.trail`), recorded after the store's transition and before the next
step: a failed audit write stops the verification (reason ``audit_unavailable``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from .. import errors
from ..audit import AuditError, AuditEvent, Link
from ..credentials import (
    Credential,
    CredentialError,
    Decision,
    ExpiredCredential,
    Holder,
    InvalidSignature,
    KeyStore,
    Presentation,
    Reason,
    Request,
    Verifier,
    WrongHolder,
)
from ..groth16 import dump_proof
from ..identity import EcKey, SpiffeId, TrustDomainKey, mint_svid, sign_compact
from ..store import AgentRecord, Store, VerificationRecord
from .attestation import TYP
from .hooks import NO_HOOKS, Hooks, span
from .pool import Slot, WorkPool
from .trail import SERVICE, AgentAudit, subject_of

__all__ = [
    "AgentError",
    "AgentRuntime",
    "AgentSettings",
    "Authorizer",
    "DelegatedWork",
    "MicroAgent",
    "Outcome",
    "ProofWork",
    "delegation_claims",
]

log = logging.getLogger("zkattest.agents")
# span attribute names (never anything secret: ids, predicate, outcome, reason)
A_VERIFICATION = "zkattest.verification.id"
A_AGENT = "zkattest.agent.id"
A_PREDICATE = "zkattest.predicate"
A_OUTCOME = "zkattest.outcome"
A_REASON = "zkattest.reason"


class AgentError(errors.ZkAttestError):
    """The agent cannot be used (already used, expired, or retired): ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AgentSettings:
    trust_domain: str
    svid_ttl: int = 30  # seconds; also the agent's lifetime (<= 60)
    attestation_ttl: int = 600

    def __post_init__(self) -> None:
        if not 1 <= self.svid_ttl <= 60:
            raise errors.InvalidParameter("svid_ttl must be 1..60 seconds")
        if not 1 <= self.attestation_ttl <= 86400:
            raise errors.InvalidParameter("attestation_ttl must be 1..86400 seconds")


@dataclass(slots=True)
class ProofWork:
    """Holder-side proving: the agent verifies this presentation."""

    presentation: Presentation


@dataclass(slots=True)
class DelegatedWork:
    """Delegated proving: the agent proves with the holder's witness, then drops it.
    (CPython ints cannot be wiped; the references are dropped as soon as the
    proof exists.)"""

    credential: Credential | None
    holder: Holder | None

    def __repr__(self) -> str:
        return "DelegatedWork(<redacted>)"

    def wipe(self) -> None:
        self.credential = None
        self.holder = None


#: ``authorize(verification, mode) -> None`` (provision the agent) or a refusal
#: reason (``policy_denied``...): the policy check made when an agent is provisioned.
Authorizer = Callable[[VerificationRecord, str], Awaitable[str | None]]


def delegation_claims(v: VerificationRecord) -> dict[str, Any]:
    """Who asked and for whom, as the SVID and the attestation carry it: the OAuth
    ``client_id``, the delegating subject ``obo`` and the RFC 8693 ``act`` chain."""
    out: dict[str, Any] = {}
    if v.client_id is not None:
        out["client_id"] = v.client_id
    if v.subject is not None:
        out["obo"] = v.subject
    if v.act is not None:
        out["act"] = v.act
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    agent_id: str | None  # None: refused before an agent was provisioned
    status: str  # "completed" | "failed"
    result: bool | None
    reason: str | None
    attestation: str | None


_CRED_REASONS: dict[type[CredentialError], str] = {
    WrongHolder: "wrong_holder",
    InvalidSignature: "invalid_credential",
    ExpiredCredential: "expired_credential",
}


def request_of(v: VerificationRecord) -> Request:
    return Request(
        predicate=v.predicate,
        min_age=int(v.params["min_age"]),
        nonce=int(v.nonce),
        rp_scope=int(v.rp_scope),
        today=v.today,
        schema=int(v.schema),
    )


class MicroAgent:
    """One agent: its record's id, SPIFFE ID and SVID, and its private key (memory only)."""

    def __init__(
        self,
        runtime: AgentRuntime,
        record: AgentRecord,
        key: EcKey,
        svid: str,
        verification: VerificationRecord | None = None,
    ) -> None:
        self._rt = runtime
        self.record = record
        self.id = record.id
        self.spiffe_id = record.spiffe_id
        self.svid = svid
        self.verification = verification
        self._key: EcKey | None = key
        self._retired = False
        #: the agent's latest audit event (the next one links to it)
        self.last_event: Link | None = None
        #: its final audit event (retired, failed, expired) is recorded or being recorded
        self.audit_ended = False

    def __repr__(self) -> str:
        return f"MicroAgent({self.spiffe_id!r})"

    async def _cas(self, frm: str, to: str, *, fresh: bool, **fields: Any) -> None:
        now = self._rt.clock()
        if not await self._rt.store.transition_agent(
            self.id, frm, to, now, require_unexpired=fresh, **fields
        ):
            rec = await self._rt.store.get_agent(self.id)
            if rec is not None and (
                rec.state == "expired" or (rec.state == frm and rec.expires_at <= now)
            ):
                raise AgentError("agent_expired", f"agent {self.id} expired")
            state = rec.state if rec is not None else "unknown"
            raise AgentError("agent_used", f"agent {self.id} is {state}, not {frm}")
        self._rt.hooks.agent_transition(frm, to)

    async def audit_event(
        self,
        kind: str,
        *,
        outcome: str = "ok",
        actor: str | None = None,
        refs: Mapping[str, Any] | None = None,
        links: Iterable[AuditEvent | Link] = (),
        final: bool = False,
    ) -> AuditEvent | None:
        """Append this agent's next audit event (linked to its previous one); None
        without an audit writer.  ``final``: the last event of its life."""
        audit = self._rt.audit
        if audit is None:
            return None
        if final:
            self.audit_ended = True
            self._rt.live.pop(self.id, None)
        v = self.verification
        prev = (self.last_event,) if self.last_event is not None else ()
        ev = await audit.append(
            kind,
            actor=self.spiffe_id if actor is None else actor,
            outcome=outcome,
            act=v.act if v is not None else None,
            subject=subject_of(v) if v is not None else None,
            refs={
                "agent_id": self.id,
                "verification_id": self.record.verification_id,
                **(refs or {}),
            },
            links=(*prev, *links),
        )
        self.last_event = ev.link()
        return ev

    async def start(self) -> None:
        """provisioned -> running (once; refused after expiry)."""
        await self._cas("provisioned", "running", fresh=True, running_at=self._rt.clock())
        await self.audit_event("agent.running")

    async def attest(self, claims: dict[str, Any]) -> str:
        """running -> attested, then the one signature; the key is destroyed."""
        key = self._key
        if key is None:
            raise AgentError("agent_used", f"agent {self.id} has no key any more")
        jti = secrets.token_urlsafe(16)
        await self._cas(
            "running", "attested", fresh=True, attested_at=self._rt.clock(), attestation_jti=jti
        )
        try:
            token = sign_compact(
                {**claims, "jti": jti}, key, typ=TYP, kid=self.record.key_thumbprint
            )
        finally:
            self.destroy()
        refs: dict[str, Any] = {"jti": jti}
        if isinstance(claims.get("circuit_id"), str):
            refs["circuit_id"] = claims["circuit_id"]
        if isinstance(claims.get("exp"), int):
            refs["exp"] = claims["exp"]
        await self.audit_event("agent.attested", refs=refs)
        return token

    async def retire(self) -> None:
        """attested -> retired.  The sweeper retires attested agents past their expiry
        (a crash between the steps must not leave one attested for good); finding it
        already retired is fine."""
        if self._retired:
            raise AgentError("agent_used", f"agent {self.id} is retired, not attested")
        now = self._rt.clock()
        if await self._rt.store.transition_agent(
            self.id, "attested", "retired", now, require_unexpired=False, retired_at=now
        ):
            self._rt.hooks.agent_transition("attested", "retired")
        else:
            rec = await self._rt.store.get_agent(self.id)
            if rec is None or rec.state != "retired":
                state = rec.state if rec is not None else "unknown"
                raise AgentError("agent_used", f"agent {self.id} is {state}, not attested")
        self._retired = True
        await self.audit_event("agent.retired", actor=SERVICE, final=True)

    async def fail(self, reason: str) -> None:
        """provisioned/running -> failed (no-op if it already left those states).  An
        agent found expired instead is recorded as ``agent.expired`` (once)."""
        self.destroy()
        for frm in ("running", "provisioned"):
            if await self._rt.store.transition_agent(
                self.id,
                frm,
                "failed",
                self._rt.clock(),
                require_unexpired=False,
                failed_reason=reason,
            ):
                self._rt.hooks.agent_transition(frm, "failed")
                await self.audit_event(
                    "agent.failed",
                    actor=SERVICE,
                    outcome="failed",
                    refs={"reason": reason},
                    final=True,
                )
                return
        if self._rt.audit is not None and not self.audit_ended:
            rec = await self._rt.store.get_agent(self.id)
            if rec is not None and rec.state == "expired":
                await self.record_expired()

    async def record_expired(self) -> None:
        """``agent.expired``, once: the store's sweep expired this agent."""
        if not self.audit_ended:
            self.destroy()
            await self.audit_event("agent.expired", actor=SERVICE, outcome="expired", final=True)

    def destroy(self) -> None:
        if self._key is not None:
            self._key.destroy()
            self._key = None


class AgentRuntime:
    """Provisions agents and runs one verification through one agent."""

    def __init__(
        self,
        *,
        store: Store,
        trust: TrustDomainKey,
        verifier: Verifier,
        keys: KeyStore,
        circuit_id: str,
        pool: WorkPool,
        settings: AgentSettings,
        clock: Callable[[], float] = time.time,
        authorize: Authorizer | None = None,
        hooks: Hooks = NO_HOOKS,
        tracer: trace.Tracer | None = None,
        audit: AgentAudit | None = None,
    ) -> None:
        self.store = store
        self.trust = trust
        self.verifier = verifier
        self.keys = keys
        self.circuit_id = circuit_id
        self.pool = pool
        self.settings = settings
        self.clock = clock
        self.authorize = authorize
        self.hooks = hooks
        #: spans: the service passes its own (a no-op one when tracing is off)
        self.tracer = tracer or trace.get_tracer("zkattest.agents")
        #: the audit trail (:mod:`.trail`); None: no audit events
        self.audit = audit
        #: agents of this process whose final audit event is not recorded yet
        self.live: dict[str, MicroAgent] = {}

    async def provision(self, v: VerificationRecord, task: str) -> MicroAgent:
        """A new agent for verification ``v`` (its audience is the SVID's ``aud``)."""
        attrs: dict[str, AttributeValue] = {
            A_VERIFICATION: v.id,
            A_PREDICATE: v.predicate,
            "zkattest.task": task,
        }
        with span(self.tracer, "agent.provision", attrs) as sp:
            agent = await self._provision(v, task)
            sp.set_attribute(A_AGENT, agent.id)
            sp.set_attribute("zkattest.agent.spiffe_id", agent.spiffe_id)
            return agent

    async def _provision(self, v: VerificationRecord, task: str) -> MicroAgent:
        now = self.clock()
        agent_id = secrets.token_urlsafe(16)
        spiffe = SpiffeId.agent(self.settings.trust_domain, task, agent_id)
        key = EcKey.generate()
        pub = key.public()
        jti = secrets.token_urlsafe(16)
        svid = mint_svid(
            self.trust.key,
            self.trust.kid,
            spiffe_id=spiffe,
            audience=v.audience,
            agent_jwk=pub,
            ttl=self.settings.svid_ttl,
            now=int(now),
            jti=jti,
            extra=delegation_claims(v),
        )
        rec = AgentRecord(
            id=agent_id,
            spiffe_id=str(spiffe),
            verification_id=v.id,
            task=task,
            state="provisioned",
            audience=v.audience,
            svid_jti=jti,
            key_thumbprint=pub.thumbprint(),
            created_at=now,
            expires_at=float(int(now) + self.settings.svid_ttl),
            running_at=None,
            attested_at=None,
            retired_at=None,
            failed_reason=None,
            attestation_jti=None,
        )
        try:
            await self.store.create_agent(rec)
        except BaseException:
            key.destroy()
            raise
        self.hooks.agent_transition("none", "provisioned")
        log.info("agent provisioned", extra={"agent": agent_id, "task": task})
        agent = MicroAgent(self, rec, key, svid, v)
        if self.audit is not None:
            self.live[agent_id] = agent
            try:
                await agent.audit_event(
                    "agent.provisioned",
                    actor=SERVICE,
                    refs={
                        "task": task,
                        "audience": v.audience,
                        "jti": jti,
                        "jkt": rec.key_thumbprint,
                        "exp": int(rec.expires_at),
                    },
                    links=self.audit.follows(v.id),
                )
            except BaseException:
                # not recorded: the agent must never act; it ends failed
                with contextlib.suppress(Exception):
                    await agent.fail("audit_unavailable")
                raise
        return agent

    async def audit_expired(self, now: float) -> int:
        """Record ``agent.expired`` for this process's agents that the store's sweep
        expired (call it after :meth:`~zkattest.store.Store.sweep`); returns how many.
        Agents left by a previous process are swept without an event (their ids are
        known only to the store)."""
        n = 0
        for agent in [a for a in self.live.values() if a.record.expires_at <= now]:
            if agent.audit_ended:
                self.live.pop(agent.id, None)
                continue
            rec = await self.store.get_agent(agent.id)
            if rec is None or rec.state not in ("provisioned", "running", "expired"):
                self.live.pop(agent.id, None)  # past what a sweep expires: its own path ends it
                continue
            if rec.state == "expired" and not agent.audit_ended:
                await agent.record_expired()
                n += 1
        return n

    async def _verification_event(
        self,
        v: VerificationRecord,
        kind: str,
        outcome: str,
        *,
        agent: MicroAgent | None = None,
        reason: str | None = None,
    ) -> None:
        """``verification.completed`` / ``verification.failed`` (linked to the agent's
        last event, else to the verification's latest)."""
        audit = self.audit
        if audit is None:
            return
        refs: dict[str, Any] = {"verification_id": v.id}
        if agent is not None:
            refs["agent_id"] = agent.id
        if reason is not None:
            refs["reason"] = reason
        last = agent.last_event if agent is not None else None
        await audit.append(
            kind,
            actor=SERVICE,
            outcome=outcome,
            act=v.act,
            subject=subject_of(v),
            refs=refs,
            links=(last,) if last is not None else audit.follows(v.id),
        )
        audit.end(v.id)

    def _run(self, req: Request, work: ProofWork | DelegatedWork) -> tuple[Decision, Presentation]:
        """On a worker thread: (decision, presentation checked)."""
        if isinstance(work, ProofWork):
            return self.verifier.check(work.presentation, req), work.presentation
        cred, holder = work.credential, work.holder
        work.wipe()
        assert cred is not None and holder is not None
        t0 = time.perf_counter()
        ok = False
        try:
            # each worker proves on its share of the cores: no oversubscription
            share = max(1, (os.cpu_count() or 1) // self.pool.workers)
            pres = holder.present(cred, req, keys=self.keys, nthreads=share)
            ok = True
        finally:
            del holder
            self.hooks.proved(time.perf_counter() - t0, ok)
        return self.verifier.check(pres, req), pres

    async def handle(
        self, v: VerificationRecord, work: ProofWork | DelegatedWork, slot: Slot
    ) -> Outcome:
        """Provision an agent for ``v`` (already moved to ``presented`` by the caller),
        run ``work`` in the pool on ``slot``, attest, retire; the verification is
        finished in the store either way."""
        mode = "proof" if isinstance(work, ProofWork) else "delegated"
        try:
            refused = await self.authorize(v, mode) if self.authorize is not None else None
            if refused is not None:
                slot.release()
                if isinstance(work, DelegatedWork):
                    work.wipe()
                await self.store.finish_verification(
                    v.id,
                    status="failed",
                    result=None,
                    reason=refused,
                    attestation=None,
                    agent_id=None,
                    now=self.clock(),
                )
                log.info("agent not provisioned", extra={"reason": refused})
                self.hooks.verification_finished(mode, "failed", None, refused)
                await self._verification_event(v, "verification.failed", "failed", reason=refused)
                return Outcome(None, "failed", None, refused, None)
            agent = await self.provision(
                v, f"{'verify' if mode == 'proof' else 'prove'}-{v.predicate}"
            )
        except BaseException as exc:
            slot.release()
            if isinstance(work, DelegatedWork):
                work.wipe()
            if isinstance(exc, AuditError):
                # never half-done: without its audit events the verification ends failed
                with contextlib.suppress(Exception):
                    await self.store.finish_verification(
                        v.id,
                        status="failed",
                        result=None,
                        reason="audit_unavailable",
                        attestation=None,
                        agent_id=None,
                        now=self.clock(),
                    )
            raise
        try:
            out = await self._handle(agent, v, work, slot, mode)
        except Exception:
            self.hooks.verification_finished(mode, "failed", None, "internal_error")
            raise
        else:
            self.hooks.verification_finished(mode, out.status, out.result, out.reason)
            return out
        finally:
            agent.destroy()
            if agent.audit_ended:
                self.live.pop(agent.id, None)
            slot.release_unless_submitted()
            if isinstance(work, DelegatedWork):
                work.wipe()

    async def _handle(
        self,
        agent: MicroAgent,
        v: VerificationRecord,
        work: ProofWork | DelegatedWork,
        slot: Slot,
        mode: str,
    ) -> Outcome:
        req = request_of(v)
        reason: str | None = None
        try:
            await agent.start()
            cred = work.credential if isinstance(work, DelegatedWork) else None
            if cred is not None and not self.verifier.trusts(cred.issuer):
                assert isinstance(work, DelegatedWork)
                work.wipe()
                reason = Reason.UNTRUSTED_ISSUER.value
            if reason is None and isinstance(work, ProofWork):
                pres = work.presentation
                vk = self.verifier.check_public(pres, req)
                if isinstance(vk, Decision):
                    decision = vk
                else:
                    with self._span("agent.verify", agent, v) as sp:
                        ok = await self.pool.verify(slot, vk, list(pres.public), pres.proof)
                        sp.set_attribute(A_OUTCOME, "valid" if ok else "invalid")
                    decision = Verifier.decide(pres, ok)
                if not decision.valid:
                    reason = decision.reason.value if decision.reason else "invalid_proof"
                await agent.audit_event(
                    "agent.verified",
                    outcome="valid" if reason is None else "invalid",
                    refs=_check_refs(pres.circuit_id, reason),
                )
            elif reason is None:
                with self._span("agent.prove", agent, v) as sp:
                    try:
                        decision, pres = await self.pool.run(slot, self._run, req, work)
                    except CredentialError as e:
                        reason = next(
                            (r for t, r in _CRED_REASONS.items() if isinstance(e, t)),
                            "schema_mismatch",
                        )
                        sp.set_attribute(A_OUTCOME, "refused")
                        sp.set_attribute(A_REASON, reason)
                        await agent.audit_event(
                            "agent.proved", outcome="refused", refs={"reason": reason}
                        )
                    else:
                        sp.set_attribute(A_OUTCOME, "valid" if decision.valid else "invalid")
                        if not decision.valid:
                            reason = decision.reason.value if decision.reason else "invalid_proof"
                        await agent.audit_event(
                            "agent.proved",
                            outcome="valid" if reason is None else "invalid",
                            refs=_check_refs(pres.circuit_id, reason),
                        )
            if reason is not None:
                return await self._fail(agent, v, reason)
            now = int(self.clock())
            assert decision.result is not None
            pub = pres.public
            claims = {
                "iss": agent.spiffe_id,
                "sub": v.id,
                "aud": v.audience,
                "iat": now,
                "exp": now + self.settings.attestation_ttl,
                "nonce": v.nonce,
                "rp_scope": v.rp_scope,
                "today": v.today,
                "predicate": v.predicate,
                "params": dict(v.params),
                "result": decision.result,
                "circuit_id": pres.circuit_id,
                "proof": dump_proof(pres.proof),
                "public_signals": [str(x) for x in pub],
                "nullifier": str(pub[1]),
                "issuer": {"Ax": str(pub[2]), "Ay": str(pub[3])},
                "mode": mode,
                "svid": agent.svid,
                **delegation_claims(v),
            }
            with self._span("agent.attest", agent, v) as sp:
                token = await agent.attest(claims)
                sp.set_attribute("zkattest.result", bool(decision.result))
        except AgentError as e:
            return await self._fail(agent, v, e.reason)
        except AuditError:
            # never half-done: the agent and the verification end failed (unaudited:
            # the trail cannot be written) -- unless _fail already ended them
            if not agent.audit_ended:
                await self._fail(agent, v, "audit_unavailable", quiet=True)
                # it may have signed already: that attestation is never released
                with contextlib.suppress(AgentError, AuditError):
                    await agent.retire()
            raise
        except Exception:
            # never half-done: the agent and the verification end failed
            await self._fail(agent, v, "internal_error", quiet=True)
            raise
        ok = await self.store.finish_verification(
            v.id,
            status="completed",
            result=decision.result,
            reason=None,
            attestation=token,
            agent_id=agent.id,
            now=self.clock(),
        )
        try:
            if ok:
                outcome = "yes" if decision.result else "no"
                await self._verification_event(v, "verification.completed", outcome, agent=agent)
            else:
                await self._verification_event(
                    v, "verification.failed", "expired", agent=agent, reason="verification_expired"
                )
        finally:
            await agent.retire()
        if not ok:  # swept as expired while the agent worked: the attestation is not released
            log.warning("verification expired while its agent worked", extra={"agent": agent.id})
            return Outcome(agent.id, "failed", None, "verification_expired", None)
        log.info("agent attested and retired", extra={"agent": agent.id})
        return Outcome(agent.id, "completed", decision.result, None, token)

    def _span(
        self, name: str, agent: MicroAgent, v: VerificationRecord
    ) -> contextlib.AbstractContextManager[trace.Span]:
        attrs: dict[str, AttributeValue] = {
            A_AGENT: agent.id,
            A_VERIFICATION: v.id,
            A_PREDICATE: v.predicate,
        }
        return span(self.tracer, name, attrs)

    async def _fail(
        self, agent: MicroAgent, v: VerificationRecord, reason: str, *, quiet: bool = False
    ) -> Outcome:
        """End the agent and the verification failed: both in the store first, then
        their audit events (a failed audit write is raised at the end, or with
        ``quiet`` -- the caller is already raising -- only logged)."""
        unaudited: AuditError | None = None
        try:
            await agent.fail(reason)
        except AuditError as e:
            unaudited = e
        await self.store.finish_verification(
            v.id,
            status="failed",
            result=None,
            reason=reason,
            attestation=None,
            agent_id=agent.id,
            now=self.clock(),
        )
        if unaudited is None:
            try:
                await self._verification_event(
                    v, "verification.failed", "failed", agent=agent, reason=reason
                )
            except AuditError as e:
                unaudited = e
        log.info("agent failed", extra={"agent": agent.id, "reason": reason})
        if unaudited is not None:
            if not quiet:
                raise unaudited
            log.error("audit events of a failed agent not recorded (%s)", type(unaudited).__name__)
        return Outcome(agent.id, "failed", None, reason, None)


def _check_refs(circuit_id: str, reason: str | None) -> dict[str, Any]:
    refs: dict[str, Any] = {"circuit_id": circuit_id}
    if reason is not None:
        refs["reason"] = reason
    return refs
