"""The store against a plain model of the lifecycle: random sequences of create (pending
or awaiting approval), approval decisions, claim, begin, finish, agent transitions,
one-use keys, sweeps, restarts and clock ticks; after every step the store and the model
agree, including the approval queue and the per-client request count.  On both backends:
SQLite gets a new file per run, PostgreSQL one schema emptied between runs."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Coroutine
from typing import Any, TypeVar

import msgspec
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from zkattest.errors import InvalidParameter
from zkattest.store import AgentRecord, Conflict, VerificationRecord, open_store

from .conftest import (
    PG_URL,
    T0,
    AnyStore,
    _emptied,
    agent,
    h,
    new_schema,
    request_token,
    verification,
    with_params,
)

T = TypeVar("T")

V_IDS = ["v0", "v1", "v2", "v3"]
SUBJECTS = ["alice", "bob"]
CLIENTS = ["rp-1", "rp-2"]
A_IDS = ["a0", "a1"]
PRESENTATION_TOKENS = [h("p0"), h("p1")]
STATES = ["provisioned", "running", "attested", "retired", "expired", "failed"]
# The lifecycle, written out independently of the code's table.
EDGES = {
    ("provisioned", "running"),
    ("provisioned", "failed"),
    ("provisioned", "expired"),
    ("running", "attested"),
    ("running", "failed"),
    ("running", "expired"),
    ("attested", "retired"),
}
ENTRY_STAMP = {"running": "running_at", "attested": "attested_at", "retired": "retired_at"}

replace = msgspec.structs.replace


_PG_SCHEMA: list[str] = []  # the PostgreSQL runs' schema, made by the first run


class StoreMachine(RuleBasedStateMachine):
    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.dir = ""
        if self.backend == "sqlite":
            self.dir = tempfile.mkdtemp(prefix="zkattest-store-sm-")
            self.url = f"sqlite://{self.dir}/zkattest.db"
        else:
            if not _PG_SCHEMA:
                _PG_SCHEMA.append(new_schema())
            elif not asyncio.run(_emptied(_PG_SCHEMA[0])):
                raise AssertionError("could not empty the state machine's schema")
            self.url = with_params(PG_URL, schema=_PG_SCHEMA[0])
        self.loop = asyncio.new_event_loop()
        self.store: AnyStore = self.call(open_store(self.url))
        self.now = T0
        self.verifications: dict[str, VerificationRecord] = {}
        self.agents: dict[str, AgentRecord] = {}
        self.one_use: dict[tuple[str, str], float] = {}

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.call(self.store.close())
        finally:
            self.loop.close()
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    @initialize()
    def start(self) -> None:
        # one session and its agent exist from the start, so runs reach deep states;
        # another waits for approval
        self.create_verification("v0", 600.0)
        self.create_agent("a0", "v0", 60.0)
        self.create("v3", 600.0, "awaiting_approval", "alice", "rp-1")

    # -- clock and process life ----------------------------------------------------------

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 5.0, 30.0, 59.0, 61.0, 300.0]))
    def tick(self, dt: float) -> None:
        self.now += dt

    @rule()
    def restart(self) -> None:
        self.call(self.store.close())
        self.store = self.call(open_store(self.url))

    # -- verifications -------------------------------------------------------------------

    @rule(
        vid=st.sampled_from(V_IDS),
        ttl=st.sampled_from([1.0, 10.0, 60.0, 600.0]),
        status=st.sampled_from(["pending", "awaiting_approval"]),
        subject=st.sampled_from([None, *SUBJECTS]),
        client_id=st.sampled_from([None, *CLIENTS]),
    )
    def create(
        self, vid: str, ttl: float, status: str, subject: str | None, client_id: str | None
    ) -> None:
        rec = verification(
            vid,
            now=self.now,
            ttl=ttl,
            status=status,
            subject=subject,
            client_id=client_id,
            act=None if subject is None else {"sub": client_id or "rp-0"},
            policy_ids=("step_up",) if status == "awaiting_approval" else (),
        )
        self._create(rec)

    def create_verification(self, vid: str, ttl: float) -> None:
        self._create(verification(vid, now=self.now, ttl=ttl))

    def _create(self, rec: VerificationRecord) -> None:
        vid = rec.id
        if vid in self.verifications:
            with pytest.raises(Conflict):
                self.call(self.store.create_verification(rec))
            return
        self.call(self.store.create_verification(rec))
        self.verifications[vid] = rec

    @rule(vid=st.sampled_from([*V_IDS, "unknown"]), pt=st.sampled_from(PRESENTATION_TOKENS))
    def claim(self, vid: str, pt: str) -> None:
        got = self.call(self.store.claim_request(request_token(vid), pt, self.now))
        m = self.verifications.get(vid)
        if (
            m is not None
            and m.status == "pending"
            and m.request_fetched_at is None
            and m.expires_at > self.now
        ):
            m = replace(m, request_fetched_at=self.now, presentation_token_hash=pt)
            self.verifications[vid] = m
            assert got == m
            event("request claimed")
        else:
            assert got is None

    @rule(
        vid=st.sampled_from([*V_IDS, "unknown"]),
        pt=st.sampled_from(PRESENTATION_TOKENS),
        mode=st.sampled_from(["proof", "delegated"]),
        deadline=st.sampled_from([1.0, 30.0, 120.0]),
    )
    def begin(self, vid: str, pt: str, mode: str, deadline: float) -> None:
        self._begin(vid, pt, mode, deadline)

    @rule(vid=st.sampled_from(V_IDS), deadline=st.sampled_from([1.0, 30.0, 120.0]))
    def present(self, vid: str, deadline: float) -> None:
        """Begin with the token the claim handed out (blind guesses rarely match)."""
        m = self.verifications.get(vid)
        if m is not None and m.presentation_token_hash is not None:
            self._begin(vid, m.presentation_token_hash, "proof", deadline)

    def _begin(self, vid: str, pt: str, mode: str, deadline: float) -> None:
        ok = self.call(self.store.begin_presentation(vid, pt, mode, self.now, self.now + deadline))
        m = self.verifications.get(vid)
        allowed = (
            m is not None
            and m.status == "pending"
            and m.request_fetched_at is not None
            and m.presentation_token_hash == pt
            and m.expires_at > self.now
        )
        assert ok == allowed
        if m is not None and allowed:
            event("presentation begun")
            self.verifications[vid] = replace(
                m,
                status="presented",
                presented_at=self.now,
                mode=mode,
                expires_at=self.now + deadline,
            )

    @rule(
        vid=st.sampled_from([*V_IDS, "unknown"]),
        status=st.sampled_from(["completed", "failed"]),
        result=st.sampled_from([True, False, None]),
    )
    def finish(self, vid: str, status: str, result: bool | None) -> None:
        ok = self.call(
            self.store.finish_verification(
                vid,
                status=status,
                result=result,
                reason=None if status == "completed" else "invalid_proof",
                attestation="att" if status == "completed" else None,
                agent_id="a0",
                now=self.now,
            )
        )
        m = self.verifications.get(vid)
        allowed = m is not None and m.status == "presented" and m.expires_at > self.now
        assert ok == allowed
        if m is not None and allowed:
            event(f"verification {status}")
            self.verifications[vid] = replace(
                m,
                status=status,
                result=result,
                reason=None if status == "completed" else "invalid_proof",
                attestation="att" if status == "completed" else None,
                agent_id="a0",
                completed_at=self.now,
            )

    @rule(
        vid=st.sampled_from([*V_IDS, "unknown"]),
        approve=st.booleans(),
        approver=st.sampled_from(["carol", "dave"]),
        deadline=st.sampled_from([1.0, 30.0, 600.0]),
    )
    def decide(self, vid: str, approve: bool, approver: str, deadline: float) -> None:
        ok = self.call(
            self.store.decide_approval(
                vid,
                approve=approve,
                approver=approver,
                now=self.now,
                expires_at=self.now + deadline,
            )
        )
        m = self.verifications.get(vid)
        allowed = m is not None and m.status == "awaiting_approval" and m.expires_at > self.now
        assert ok == allowed
        if m is None or not allowed:
            return
        event(f"approval {'granted' if approve else 'denied'}")
        if approve:
            m = replace(
                m,
                status="pending",
                expires_at=self.now + deadline,
                approved_by=approver,
                approved_at=self.now,
            )
        else:
            m = replace(
                m,
                status="failed",
                reason="approval_denied",
                approved_by=approver,
                approved_at=self.now,
                completed_at=self.now,
            )
        self.verifications[vid] = m

    # -- agents --------------------------------------------------------------------------

    @rule(
        aid=st.sampled_from(A_IDS),
        vid=st.sampled_from([*V_IDS, "unknown"]),
        ttl=st.sampled_from([1.0, 10.0, 60.0]),
    )
    def create_agent(self, aid: str, vid: str, ttl: float) -> None:
        rec = agent(aid, vid, now=self.now, ttl=ttl)
        clash = (
            aid in self.agents
            or vid not in self.verifications
            or any(a.verification_id == vid for a in self.agents.values())
        )
        if clash:
            with pytest.raises(Conflict):
                self.call(self.store.create_agent(rec))
            return
        self.call(self.store.create_agent(rec))
        self.agents[aid] = rec

    @rule(
        aid=st.sampled_from([*A_IDS, "unknown"]),
        frm=st.sampled_from(STATES),
        to=st.sampled_from(STATES),
        require_unexpired=st.booleans(),
        jti=st.sampled_from(["j0", "j1"]),
    )
    def transition(self, aid: str, frm: str, to: str, require_unexpired: bool, jti: str) -> None:
        self._transition(aid, frm, to, require_unexpired, jti)

    @rule(
        aid=st.sampled_from(A_IDS),
        pick=st.sampled_from([0, 1, 2]),
        require_unexpired=st.booleans(),
        jti=st.sampled_from(["j0", "j1"]),
    )
    def advance(self, aid: str, pick: int, require_unexpired: bool, jti: str) -> None:
        """Take an edge out of the agent's current state (random pairs rarely do)."""
        m = self.agents.get(aid)
        if m is None:
            return
        nexts = sorted(to for frm, to in EDGES if frm == m.state)
        if nexts:
            self._transition(aid, m.state, nexts[pick % len(nexts)], require_unexpired, jti)

    def _transition(self, aid: str, frm: str, to: str, require_unexpired: bool, jti: str) -> None:
        fields: dict[str, Any] = {}
        if to == "attested":
            fields["attestation_jti"] = jti
        if to == "failed":
            fields["failed_reason"] = "boom"

        def attempt() -> bool:
            return self.call(
                self.store.transition_agent(
                    aid, frm, to, self.now, require_unexpired=require_unexpired, **fields
                )
            )

        if (frm, to) not in EDGES:
            with pytest.raises(InvalidParameter):
                attempt()
            return
        m = self.agents.get(aid)
        allowed = (
            m is not None and m.state == frm and (not require_unexpired or m.expires_at > self.now)
        )
        if m is None or not allowed:
            assert not attempt()
            return
        if to == "attested" and any(a.attestation_jti == jti for a in self.agents.values()):
            with pytest.raises(Conflict):
                attempt()
            return
        assert attempt()
        event(f"agent {frm} -> {to}")
        if to in ENTRY_STAMP:
            fields[ENTRY_STAMP[to]] = self.now
        self.agents[aid] = replace(m, state=to, **fields)

    # -- one-use keys and sweeps ----------------------------------------------------------

    @rule(
        ns=st.sampled_from(["dpop", "svid"]),
        key=st.sampled_from(["k0", "k1"]),
        ttl=st.sampled_from([1.0, 60.0]),
    )
    def use_once(self, ns: str, key: str, ttl: float) -> None:
        ok = self.call(self.store.use_once(ns, key, self.now + ttl, self.now))
        live = self.one_use.get((ns, key), self.now) > self.now
        assert ok == (not live)
        if ok:
            self.one_use[(ns, key)] = self.now + ttl

    @rule()
    def sweep(self) -> None:
        got = self.call(self.store.sweep(self.now))
        v = a = 0
        for vid, m in self.verifications.items():
            if (
                m.status in ("awaiting_approval", "pending", "presented")
                and m.expires_at <= self.now
            ):
                self.verifications[vid] = replace(m, status="expired")
                v += 1
        r = 0
        for aid, ma in self.agents.items():
            if ma.state in ("provisioned", "running") and ma.expires_at <= self.now:
                self.agents[aid] = replace(ma, state="expired")
                a += 1
            elif ma.state == "attested" and ma.expires_at <= self.now:
                self.agents[aid] = replace(ma, state="retired", retired_at=self.now)
                r += 1
        purged = [k for k, exp in self.one_use.items() if exp <= self.now]
        event(f"sweep expired {v} verifications, {a} agents")
        for k in purged:
            del self.one_use[k]
        assert got == {
            "verifications_expired": v,
            "agents_expired": a,
            "agents_retired": r,
            "one_use_purged": len(purged),
        }

    # -- agreement -----------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        for vid in V_IDS:
            assert self.call(self.store.get_verification(vid)) == self.verifications.get(vid)
            m = self.verifications.get(vid)
            found = self.call(self.store.find_by_request_token(request_token(vid)))
            assert found == m
        for aid in A_IDS:
            assert self.call(self.store.get_agent(aid)) == self.agents.get(aid)
        counts = self.call(self.store.counts())
        for vid_status, n in counts["verifications"].items():
            assert n == sum(m.status == vid_status for m in self.verifications.values())
        for state, n in counts["agents"].items():
            assert n == sum(a.state == state for a in self.agents.values())

    @invariant()
    def approval_queue_matches_model(self) -> None:
        for subjects, clients in [
            (["alice"], []),
            ([], ["rp-2"]),
            (SUBJECTS, ["rp-1"]),
            (["nobody"], CLIENTS),
        ]:
            got = self.call(
                self.store.awaiting_approval(
                    self.now, subjects=subjects, client_ids=clients, limit=3
                )
            )
            want = sorted(
                (
                    m
                    for m in self.verifications.values()
                    if m.status == "awaiting_approval"
                    and m.expires_at > self.now
                    and (m.subject in subjects or m.client_id in clients)
                ),
                key=lambda m: (m.created_at, m.id),
            )[:3]
            assert got == want

    @invariant()
    def recent_count_matches_model(self) -> None:
        for client in CLIENTS:
            for since in (T0, self.now - 30.0, self.now):
                want = sum(
                    m.client_id == client and m.created_at >= since
                    for m in self.verifications.values()
                )
                assert self.call(self.store.recent_count(client, since)) == want


TestStoreLifecycle = StoreMachine.TestCase
# deeper than the profile's default: lifecycles need long runs (the rest comes from the profile)
TestStoreLifecycle.settings = settings(
    max_examples=max(100, settings().max_examples), stateful_step_count=60
)
