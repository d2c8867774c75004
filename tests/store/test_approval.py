"""Delegation fields, human step-up approval and the policy's rate input: new sessions,
``decide_approval``, ``awaiting_approval``, ``recent_count``, their refusals and expiry
edges (``now == expires_at`` is expired)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from zkattest.errors import InvalidParameter
from zkattest.store import INITIAL_STATUSES, VERIFICATION_STATUSES, SQLiteStore, open_store
from zkattest.store._common import MAX_APPROVAL_KEYS, MAX_APPROVAL_LIMIT

from .conftest import (
    T0,
    AnyStore,
    awaiting,
    fetch,
    h,
    presentation_token,
    put,
    request_token,
    run,
    verification,
)


def get(store: AnyStore, id: str) -> Any:
    rec = run(store.get_verification(id))
    assert rec is not None
    return rec


def decide(
    store: AnyStore,
    id: str = "v1",
    *,
    approve: bool = True,
    approver: str = "bob",
    now: float = T0 + 10,
    expires_at: float = T0 + 310,
) -> bool:
    return run(
        store.decide_approval(
            id, approve=approve, approver=approver, now=now, expires_at=expires_at
        )
    )


# -- new sessions ----------------------------------------------------------------------------


def test_new_fields_default_to_empty() -> None:
    rec = verification()
    assert (rec.subject, rec.act, rec.policy_ids, rec.approved_by, rec.approved_at) == (
        None,
        None,
        (),
        None,
        None,
    )


def test_awaiting_session_round_trip(store: AnyStore) -> None:
    rec = awaiting()
    run(store.create_verification(rec))
    got = get(store, "v1")
    assert got == rec
    assert got.status == "awaiting_approval"
    assert got.act == {"sub": "agent-7", "act": {"sub": "agent-3"}}
    assert got.policy_ids == ("step_up_minor_risk",)
    assert run(store.find_by_request_token(request_token("v1"))) == rec


def test_delegation_fields_on_a_pending_session(store: AnyStore) -> None:
    rec = verification(client_id="rp-1", subject="alice", act={"sub": "rp-1"}, policy_ids=("a",))
    run(store.create_verification(rec))
    assert get(store, "v1") == rec


def test_policy_ids_and_act_are_json_text(store: AnyStore) -> None:
    run(store.create_verification(awaiting(policy_ids=("b", "a"))))
    [(act, policy_ids)] = fetch(store, "SELECT act, policy_ids FROM verifications")
    assert act == '{"act":{"sub":"agent-3"},"sub":"agent-7"}'  # verbatim (PostgreSQL: json)
    assert json.loads(policy_ids) == ["b", "a"]  # order kept (PostgreSQL: jsonb)


def test_only_initial_statuses_are_created(store: AnyStore) -> None:
    assert set(INITIAL_STATUSES) == {"pending", "awaiting_approval"}
    for status in VERIFICATION_STATUSES:
        if status in INITIAL_STATUSES:
            continue
        with pytest.raises(InvalidParameter, match="new verification"):
            run(store.create_verification(verification(f"v-{status}", status=status)))
        assert run(store.get_verification(f"v-{status}")) is None
    with pytest.raises(InvalidParameter):
        run(store.create_verification(verification(status="approved")))


@pytest.mark.parametrize(
    "early",
    [
        {"request_fetched_at": T0},
        {"presentation_token_hash": h("p")},
        {"presented_at": T0},
        {"mode": "proof"},
        {"agent_id": "a1"},
        {"result": True},
        {"reason": "x"},
        {"attestation": "eyJ.eyJ.sig"},
        {"completed_at": T0},
        {"approved_by": "bob"},
        {"approved_at": T0},
    ],
)
@pytest.mark.parametrize("status", ["pending", "awaiting_approval"])
def test_a_new_session_has_no_outcome(store: AnyStore, early: dict[str, Any], status: str) -> None:
    # e.g. a "pending" row already fetched would skip the one-time claim
    with pytest.raises(InvalidParameter, match="has no"):
        run(store.create_verification(verification(status=status, **early)))
    assert run(store.get_verification("v1")) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"subject": 7},
        {"act": ["sub", "x"]},
        {"act": "agent-1"},
        {"act": {1: "x"}},
        {"policy_ids": "p1"},
        {"policy_ids": (1, 2)},
        {"policy_ids": None},
        {"client_id": b"rp"},
    ],
)
def test_malformed_delegation_fields_are_refused(store: AnyStore, bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter):
        run(store.create_verification(verification(**bad)))
    assert run(store.get_verification("v1")) is None


# -- decide_approval -------------------------------------------------------------------------


def test_approve(store: AnyStore) -> None:
    run(store.create_verification(awaiting(ttl=600)))
    assert decide(store, approve=True, approver="bob", now=T0 + 10, expires_at=T0 + 310)
    rec = get(store, "v1")
    assert (rec.status, rec.expires_at, rec.approved_by, rec.approved_at) == (
        "pending",
        T0 + 310,
        "bob",
        T0 + 10,
    )
    assert (rec.completed_at, rec.reason, rec.request_fetched_at) == (None, None, None)
    assert rec.act == awaiting().act and rec.subject == "alice"  # the request is unchanged
    # and the ordinary lifecycle continues: one claim, one presentation
    claimed = run(store.claim_request(request_token("v1"), presentation_token("v1"), T0 + 11))
    assert claimed is not None and claimed.approved_by == "bob"
    assert run(store.begin_presentation("v1", presentation_token("v1"), "proof", T0 + 12, T0 + 70))


def test_approval_may_shorten_or_extend_the_deadline(store: AnyStore) -> None:
    run(store.create_verification(awaiting("short", ttl=600)))
    run(store.create_verification(awaiting("long", ttl=20)))
    assert decide(store, "short", now=T0 + 10, expires_at=T0 + 11)
    assert decide(store, "long", now=T0 + 10, expires_at=T0 + 10_000)
    assert get(store, "short").expires_at == T0 + 11
    assert get(store, "long").expires_at == T0 + 10_000
    # the new deadline is what counts from now on
    assert run(store.claim_request(request_token("short"), h("p"), T0 + 11)) is None
    assert run(store.claim_request(request_token("long"), h("p"), T0 + 9_999)) is not None


def test_deny(store: AnyStore) -> None:
    run(store.create_verification(awaiting(ttl=600)))
    assert decide(store, approve=False, approver="carol", now=T0 + 20, expires_at=0.0)
    rec = get(store, "v1")
    assert (rec.status, rec.reason, rec.approved_by, rec.approved_at, rec.completed_at) == (
        "failed",
        "approval_denied",
        "carol",
        T0 + 20,
        T0 + 20,
    )
    assert rec.expires_at == T0 + 600  # a denial leaves the deadline alone
    assert run(store.claim_request(request_token("v1"), h("p"), T0 + 21)) is None


def test_decided_once(store: AnyStore) -> None:
    run(store.create_verification(awaiting("a")))
    run(store.create_verification(awaiting("d")))
    assert decide(store, "a", approve=True, approver="bob")
    assert decide(store, "d", approve=False, approver="bob")
    after = (get(store, "a"), get(store, "d"))
    for id in ("a", "d"):
        for approve in (True, False):
            assert not decide(store, id, approve=approve, approver="mallory", now=T0 + 11)
    assert (get(store, "a"), get(store, "d")) == after


def test_decide_refusals(store: AnyStore) -> None:
    run(store.create_verification(verification("pending")))
    put(store, verification("presented", status="presented"))
    put(store, verification("expired", status="expired"))
    before = {id: get(store, id) for id in ("pending", "presented", "expired")}
    for id in ("unknown", "pending", "presented", "expired", ""):
        for approve in (True, False):
            assert not decide(store, id, approve=approve)
    assert {id: get(store, id) for id in before} == before


@pytest.mark.parametrize("approve", [True, False])
def test_decide_expiry_edges(store: AnyStore, approve: bool) -> None:
    for id in ("at", "after", "before"):
        run(store.create_verification(awaiting(id, ttl=100)))
    deadline = T0 + 100
    assert not decide(store, "at", approve=approve, now=deadline, expires_at=deadline + 60)
    assert not decide(store, "after", approve=approve, now=deadline + 1, expires_at=deadline + 60)
    assert decide(store, "before", approve=approve, now=deadline - 0.001, expires_at=deadline + 60)
    for id in ("at", "after"):
        rec = get(store, id)
        assert (rec.status, rec.approved_by) == ("awaiting_approval", None)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"id": 1}, "id"),
        ({"id": None}, "id"),
        ({"approve": 1}, "approve"),
        ({"approve": "yes"}, "approve"),
        ({"approve": None}, "approve"),
        ({"approver": ""}, "approver"),
        ({"approver": None}, "approver"),
        ({"approver": 42}, "approver"),
        ({"now": "now"}, "now"),
        ({"now": math.nan}, "now"),
        ({"now": math.inf}, "now"),
        ({"now": True}, "now"),
        ({"expires_at": None}, "expires_at"),
        ({"expires_at": -math.inf}, "expires_at"),
        ({"expires_at": T0 + 10}, "deadline after now"),  # == now
        ({"expires_at": T0 + 9}, "deadline after now"),  # in the past
    ],
)
def test_decide_malformed(store: AnyStore, kw: dict[str, Any], match: str) -> None:
    run(store.create_verification(awaiting()))
    args: dict[str, Any] = {
        "id": "v1",
        "approve": True,
        "approver": "bob",
        "now": T0 + 10,
        "expires_at": T0 + 310,
    }
    args.update(kw)
    id = args.pop("id")
    with pytest.raises(InvalidParameter, match=match):
        run(store.decide_approval(id, **args))
    assert get(store, "v1") == awaiting()


def test_a_denial_needs_no_future_deadline(store: AnyStore) -> None:
    run(store.create_verification(awaiting()))
    assert decide(store, approve=False, now=T0 + 10, expires_at=T0)


# -- awaiting_approval is not claimable ------------------------------------------------------


def test_awaiting_request_cannot_be_claimed_or_presented(store: AnyStore) -> None:
    run(store.create_verification(awaiting("v1")))
    assert run(store.claim_request(request_token("v1"), presentation_token("v1"), T0 + 1)) is None
    # even a row that somehow holds a fetched request and a presentation token: status decides
    put(
        store,
        awaiting(
            "v2",
            request_fetched_at=T0,
            presentation_token_hash=presentation_token("v2"),
        ),
    )
    assert not run(
        store.begin_presentation("v2", presentation_token("v2"), "proof", T0 + 1, T0 + 60)
    )
    assert not run(
        store.finish_verification(
            "v2",
            status="completed",
            result=True,
            reason=None,
            attestation="a",
            agent_id=None,
            now=T0 + 1,
        )
    )
    assert get(store, "v1") == awaiting("v1")
    assert get(store, "v2").status == "awaiting_approval"


# -- awaiting_approval -----------------------------------------------------------------------


def ids(recs: list[Any]) -> list[str]:
    return [r.id for r in recs]


def test_awaiting_approval_lists_by_subject_or_client(store: AnyStore) -> None:
    run(store.create_verification(awaiting("alice-rp1", subject="alice", client_id="rp-1")))
    run(store.create_verification(awaiting("bob-rp2", subject="bob", client_id="rp-2", now=T0 + 1)))
    run(store.create_verification(awaiting("none-rp3", subject=None, client_id="rp-3", now=T0 + 2)))
    run(
        store.create_verification(
            awaiting("alice-none", subject="alice", client_id=None, now=T0 + 3)
        )
    )
    run(store.create_verification(verification("pending-alice", subject="alice", client_id="rp-1")))
    now = T0 + 5
    q = store.awaiting_approval
    assert ids(run(q(now, subjects=["alice"]))) == ["alice-rp1", "alice-none"]
    assert ids(run(q(now, client_ids=["rp-2", "rp-3"]))) == ["bob-rp2", "none-rp3"]
    assert ids(run(q(now, subjects=["alice"], client_ids=["rp-3"]))) == [
        "alice-rp1",
        "none-rp3",
        "alice-none",
    ]
    # a row matching both is listed once
    assert ids(run(q(now, subjects=["bob"], client_ids=["rp-2"]))) == ["bob-rp2"]
    assert ids(run(q(now, subjects=["alice", "alice"], client_ids=("rp-1",)))) == [
        "alice-rp1",
        "alice-none",
    ]
    assert run(q(now, subjects=["nobody"], client_ids=["rp-9"])) == []
    assert run(q(now)) == []  # nothing asked for, nothing listed
    assert run(q(now, subjects=[], client_ids=[])) == []
    # subject/client_id NULL never matches
    assert run(q(now, subjects=[""], client_ids=[""])) == []
    got = run(q(now, subjects=["alice"]))[0]
    assert got == awaiting("alice-rp1", subject="alice", client_id="rp-1")


def test_awaiting_approval_skips_expired_and_decided(store: AnyStore) -> None:
    run(store.create_verification(awaiting("short", ttl=10)))
    run(store.create_verification(awaiting("long", ttl=100, now=T0 + 1)))
    run(store.create_verification(awaiting("approved", now=T0 + 2)))
    run(store.create_verification(awaiting("denied", now=T0 + 3)))
    assert decide(store, "approved", approve=True, now=T0 + 4)
    assert decide(store, "denied", approve=False, now=T0 + 4)
    q = store.awaiting_approval
    assert ids(run(q(T0 + 9.5, subjects=["alice"]))) == ["short", "long"]
    assert ids(run(q(T0 + 10, subjects=["alice"]))) == ["long"]  # expires_at == now: expired
    assert ids(run(q(T0 + 100.5, subjects=["alice"]))) == ["long"]
    assert ids(run(q(T0 + 101, subjects=["alice"]))) == []


def test_awaiting_approval_order_and_limit(store: AnyStore) -> None:
    # created out of order; equal created_at falls back to id
    for id, created in [("c", T0 + 2), ("b", T0 + 1), ("a2", T0), ("a1", T0), ("d", T0 + 3)]:
        run(store.create_verification(awaiting(id, now=created)))
    q = store.awaiting_approval
    assert ids(run(q(T0 + 5, client_ids=["rp-1"]))) == ["a1", "a2", "b", "c", "d"]
    assert ids(run(q(T0 + 5, client_ids=["rp-1"], limit=2))) == ["a1", "a2"]
    assert ids(run(q(T0 + 5, client_ids=["rp-1"], limit=1))) == ["a1"]
    assert len(run(q(T0 + 5, client_ids=["rp-1"], limit=MAX_APPROVAL_LIMIT))) == 5


def test_awaiting_approval_takes_many_keys(store: AnyStore) -> None:
    run(store.create_verification(awaiting("v1", subject="s-255", client_id="c-0")))
    subjects = [f"s-{i}" for i in range(MAX_APPROVAL_KEYS)]
    clients = [f"c-{i}" for i in range(MAX_APPROVAL_KEYS)]
    assert ids(run(store.awaiting_approval(T0, subjects=subjects, client_ids=clients))) == ["v1"]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": MAX_APPROVAL_LIMIT + 1}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 1.5}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"limit": None}, "limit"),
        ({"subjects": "alice"}, "subjects"),  # a str is a Sequence[str]: not split
        ({"subjects": b"alice"}, "subjects"),
        ({"subjects": None}, "subjects"),
        ({"subjects": {"alice"}}, "subjects"),  # not a sequence
        ({"subjects": [1]}, "subjects"),
        ({"subjects": ["alice", None]}, "subjects"),
        ({"client_ids": "rp-1"}, "client_ids"),
        ({"client_ids": [b"rp-1"]}, "client_ids"),
        ({"subjects": [f"s{i}" for i in range(MAX_APPROVAL_KEYS + 1)]}, "more than"),
        ({"client_ids": [f"c{i}" for i in range(MAX_APPROVAL_KEYS + 1)]}, "more than"),
        ({"now": "now"}, "now"),
        ({"now": math.nan}, "now"),
        ({"now": None}, "now"),
    ],
)
def test_awaiting_approval_malformed(store: AnyStore, kw: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"now": T0, "subjects": ["alice"], "client_ids": ["rp-1"], "limit": 10}
    args.update(kw)
    now = args.pop("now")
    with pytest.raises(InvalidParameter, match=match):
        run(store.awaiting_approval(now, **args))


def test_awaiting_approval_with_empty_keys_still_checks_limit(store: AnyStore) -> None:
    with pytest.raises(InvalidParameter, match="limit"):
        run(store.awaiting_approval(T0, limit=0))


# -- recent_count ----------------------------------------------------------------------------


def test_recent_count(store: AnyStore) -> None:
    for i in range(5):
        run(store.create_verification(verification(f"r1-{i}", now=T0 + 10 * i, client_id="rp-1")))
    run(store.create_verification(awaiting("r1-aw", now=T0 + 45, client_id="rp-1")))
    run(store.create_verification(verification("r2", now=T0 + 40, client_id="rp-2")))
    run(store.create_verification(verification("anon", now=T0 + 40)))
    put(store, verification("r1-done", now=T0 + 41, client_id="rp-1", status="completed"))
    c = store.recent_count
    assert run(c("rp-1", T0)) == 7  # every status counts
    assert run(c("rp-1", T0 + 20)) == 5  # created_at == since counts
    assert run(c("rp-1", T0 + 20.001)) == 4
    assert run(c("rp-1", T0 + 46)) == 0
    assert run(c("rp-2", T0)) == 1
    assert run(c("rp-3", T0)) == 0
    assert run(c("", T0)) == 0  # NULL client ids are nobody's
    assert run(c("rp-1", 0)) == 7  # an int is epoch seconds too


@pytest.mark.parametrize(
    ("client_id", "since"),
    [(None, T0), (1, T0), (b"rp-1", T0), ("rp-1", "T0"), ("rp-1", math.nan), ("rp-1", None)],
)
def test_recent_count_malformed(store: AnyStore, client_id: Any, since: Any) -> None:
    with pytest.raises(InvalidParameter):
        run(store.recent_count(client_id, since))


def test_recent_count_uses_the_index(sqlite_store: SQLiteStore) -> None:
    # SQLite-specific white box: the (client_id, created_at) index of migration 0002
    assert sqlite_store._conn is not None
    plan = sqlite_store._conn.execute(
        "EXPLAIN QUERY PLAN"
        " SELECT count(*) FROM verifications WHERE client_id = ? AND created_at >= ?",
        ("rp-1", T0),
    ).fetchall()
    assert any("verifications_client_created" in str(row[-1]) for row in plan), plan


# -- sweep and restart -----------------------------------------------------------------------


def test_sweep_expires_undecided_sessions(store: AnyStore) -> None:
    run(store.create_verification(awaiting("due", ttl=10)))
    run(store.create_verification(awaiting("live", ttl=100)))
    run(store.create_verification(awaiting("approved", ttl=10)))
    run(store.create_verification(awaiting("denied", ttl=10)))
    assert decide(store, "approved", now=T0 + 1, expires_at=T0 + 50)
    assert decide(store, "denied", approve=False, now=T0 + 1)
    assert run(store.sweep(T0 + 9.9))["verifications_expired"] == 0
    assert run(store.sweep(T0 + 10))["verifications_expired"] == 1  # == expires_at
    assert get(store, "due").status == "expired"
    assert get(store, "live").status == "awaiting_approval"
    assert get(store, "approved").status == "pending"  # its new deadline is later
    assert get(store, "denied").status == "failed"
    assert not decide(store, "due", now=T0 + 5)  # expired is final, whatever the clock says
    assert run(store.sweep(T0 + 50))["verifications_expired"] == 1  # the approved one
    assert run(store.sweep(T0 + 100))["verifications_expired"] == 1  # live
    counts = run(store.counts())["verifications"]
    assert counts["awaiting_approval"] == 0 and counts["expired"] == 3


def test_awaiting_survives_restart(url: str) -> None:
    s = run(open_store(url))
    run(s.create_verification(awaiting()))
    run(s.close())
    s = run(open_store(url))
    try:
        assert ids(run(s.awaiting_approval(T0, subjects=["alice"]))) == ["v1"]
        assert decide(s)
        assert not decide(s, approve=False)
    finally:
        run(s.close())
    s = run(open_store(url))
    try:
        assert get(s, "v1").status == "pending"
    finally:
        run(s.close())


# -- ids of the older methods ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [1, None, b"v1", ("v1",)])
def test_non_str_ids_are_refused(store: AnyStore, bad: Any) -> None:
    run(store.create_verification(verification()))
    calls: list[Callable[[], Coroutine[Any, Any, object]]] = [
        lambda: store.get_verification(bad),
        lambda: store.get_agent(bad),
        lambda: store.begin_presentation(bad, presentation_token("v1"), "proof", T0, T0 + 1),
        lambda: store.finish_verification(
            bad,
            status="failed",
            result=None,
            reason="x",
            attestation=None,
            agent_id=None,
            now=T0,
        ),
        lambda: store.transition_agent(bad, "provisioned", "running", T0, require_unexpired=True),
        lambda: store.use_once(bad, "k", T0 + 1, T0),
        lambda: store.use_once("n", bad, T0 + 1, T0),
    ]
    for call in calls:
        with pytest.raises(InvalidParameter):
            run(call())
