"""Human step-up over HTTP: a stepped-up verification waits as ``awaiting_approval``
(the holder's request URI answers 409 and is not used up; the RP polls, no faster
than ``poll_interval``, CIBA-style) until the person it concerns, or an approver of the
client, answers at ``POST /v1/approvals/{id}``; a denial or the approval deadline ends
it.  Who may approve, what they see, one answer among concurrent ones, and malformed
answers.

The app runs on a clock the tests move (``create_app(clock=...)``); every JWT the
test clients make is dated by that clock.  The policy directory is the shipped one
with step-up for every request (``context.risk >= 0``), so the shop's own requests
are stepped up too (its registry entry names bob as approver).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.credentials import Credential, Holder
from zkattest.oauth.clients import ClientRegistry, client_from_json
from zkattest.service import Resources, create_app

from .conftest import (
    BASE,
    OTHER_RP,
    RP,
    Created,
    Party,
    assert_problem,
    async_client,
    check_created,
    create_body,
    exchange_form,
    proof_body,
    prove,
    services,
)
from .stock_rp import StockRP
from .test_oauth_flow import adult, holder_present
from .test_policy_http import policy_dir, with_policy

APPROVAL_TTL = 10


class Clock:
    """The app's clock: frozen at ``t`` until a test moves it."""

    def __init__(self) -> None:
        self.t = float(int(time.time()))

    def __call__(self) -> float:
        return self.t

    @property
    def now(self) -> int:
        return int(self.t)


@dataclasses.dataclass
class Env:
    c: TestClient[Litestar]
    clock: Clock
    res: Resources
    party: Party

    # -- tokens and requests, dated by the app's clock ------------------------------------
    def token(self, rp: StockRP, form: dict[str, str] | None = None) -> dict[str, Any]:
        form = form or {"grant_type": "client_credentials"}
        r = self.token_response(rp, form)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        rp.token = out["access_token"]
        return out

    def token_response(self, rp: StockRP, form: dict[str, str]) -> httpx.Response:
        now = self.clock.now
        for _ in range(2):  # the second time with the server's DPoP nonce
            r = rp.token_request(
                self.c,
                BASE,
                form,
                dpop=rp.dpop("POST", f"{BASE}/oauth/token", iat=now),
                assertion=rp.assertion(BASE, iat=now, exp=now + 60),
            )
            if r.status_code != 400 or r.json().get("error") != "use_dpop_nonce":
                break
        return r

    def auth(self, rp: StockRP, method: str, path: str) -> dict[str, str]:
        return rp.auth(method, BASE + path, iat=self.clock.now)

    def create(self, rp: StockRP, *, audience: str = RP) -> Created:
        verifier = secrets.token_urlsafe(48)
        r = self.c.post(
            "/v1/verifications",
            json=create_body(verifier, audience=audience),
            headers=self.auth(rp, "POST", "/v1/verifications"),
        )
        return check_created(r, verifier)

    def read(self, rp: StockRP, created: Created) -> httpx.Response:
        return self.c.get(
            created.read_path,
            params=created.read_params,
            headers=self.auth(rp, "GET", created.read_path),
        )

    def approvals(self, rp: StockRP) -> httpx.Response:
        return self.c.get("/v1/approvals", headers=self.auth(rp, "GET", "/v1/approvals"))

    def listed(self, rp: StockRP) -> list[str]:
        r = self.approvals(rp)
        assert r.status_code == 200, r.text
        return sorted(a["id"] for a in r.json()["approvals"])

    def decide(self, rp: StockRP, vid: str, decision: str = "approve") -> httpx.Response:
        path = f"/v1/approvals/{vid}"
        return self.c.post(path, json={"decision": decision}, headers=self.auth(rp, "POST", path))

    # -- the delegation chains ------------------------------------------------------------
    def chain(self, depth: int) -> None:
        p = self.party
        alice = self.token(p.alice)
        asst = self.token(p.assistant, exchange_form(alice["access_token"]))
        if depth == 2:
            self.token(p.shop, exchange_form(asst["access_token"]))


@pytest.fixture
def stepped(auth_res: Resources, tmp_path: Path) -> Resources:
    """The OAuth test resources with every request stepped up."""
    d = policy_dir(tmp_path, {"step_up.cedar": ("context.risk >= 70", "context.risk >= 0")})
    # the sweeper stays out of the way: test_approval_expires sweeps itself
    return with_policy(auth_res, d, approval_ttl=APPROVAL_TTL, sweep_interval=3600)


@pytest.fixture
def env(stepped: Resources, party: Party) -> Iterator[Env]:
    clock = Clock()
    with TestClient(create_app(resources=stepped, clock=clock)) as c:
        yield Env(c, clock, stepped, party)


def shop_request(env: Env) -> Created:
    """The shop's own request, stepped up: bob (its approver) decides."""
    env.token(env.party.shop)
    created = env.create(env.party.shop)
    assert created.body["status"] == "awaiting_approval"
    return created


def alice_request(env: Env) -> Created:
    """The shop's request for alice through her assistant: alice decides."""
    env.chain(2)
    created = env.create(env.party.shop)
    assert created.body["status"] == "awaiting_approval"
    assert created.body["subject"] == "alice"
    return created


def status(env: Env, created: Created, rp: StockRP | None = None) -> dict[str, Any]:
    env.clock.t += env.res.config.poll_interval  # a polite RP
    r = env.read(rp or env.party.shop, created)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


# -- parked, approved, completed --------------------------------------------------------------


def test_approved_step_up_completes(
    env: Env, holder: Holder, creds: Callable[[int], Credential]
) -> None:
    bob, shop, c = env.party.bob, env.party.shop, env.c
    t0 = env.clock.t
    created = shop_request(env)
    body = created.body
    assert body["poll_interval"] == env.res.config.poll_interval
    assert body["policy"] == {"outcome": "step_up", "policy_ids": ["step-up-high-risk"]}
    assert "subject" not in body  # the shop's own request: nobody delegated it

    # the holder comes too early: 409, and the request URI is not used up
    r = c.get(created.request_path)
    assert_problem(r, 409, "awaiting_approval")
    assert r.headers["retry-after"] == str(env.res.config.poll_interval)
    assert_problem(c.get(created.request_path), 409, "awaiting_approval")

    st = env.read(shop, created).json()
    assert st["status"] == "awaiting_approval" and st["approved_by"] is None
    assert st["poll_interval"] == env.res.config.poll_interval

    # one second before the deadline, bob approves
    env.clock.t = t0 + APPROVAL_TTL - 1
    env.token(bob)
    assert env.listed(bob) == [created.id]
    r = env.decide(bob, created.id)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"] == "pending" and view["approved_by"] == "bob"
    assert view["client_id"] == "shop" and view["policy_ids"] == ["step-up-high-risk"]
    assert env.listed(bob) == []

    st = status(env, created)
    assert st["status"] == "pending" and st["approved_by"] == "bob"
    assert st["poll_interval"] is None
    # a fresh deadline to present: the approval deadline has passed meanwhile
    env.clock.t = t0 + APPROVAL_TTL + 5
    r = c.get(created.request_path)
    assert r.status_code == 200, r.text
    hreq = r.json()
    r = holder_present(c, hreq, proof_body(prove(env.res, holder, adult(creds), hreq)))
    assert r.status_code == 200, r.text
    st = status(env, created)
    assert st["status"] == "completed" and st["result"] is True
    assert st["approved_by"] == "bob"


def test_denied_step_up_fails(env: Env) -> None:
    alice, shop, c = env.party.alice, env.party.shop, env.c
    created = alice_request(env)
    env.token(alice)
    r = env.decide(alice, created.id, "deny")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "failed" and r.json()["approved_by"] == "alice"
    st = status(env, created)
    assert st["status"] == "failed" and st["reason"] == "approval_denied"
    assert st["approved_by"] == "alice" and st["attestation"] is None
    assert_problem(c.get(created.request_path), 410, "ended")
    assert_problem(env.decide(alice, created.id, "approve"), 409, "already_decided")
    assert_problem(env.decide(alice, created.id, "deny"), 409, "already_decided")
    assert env.listed(alice) == []
    assert status(env, created, shop)["status"] == "failed"


# -- polling ----------------------------------------------------------------------------------


def test_polling_faster_than_the_interval_slows_down(env: Env) -> None:
    shop, bob = env.party.shop, env.party.bob
    interval = env.res.config.poll_interval
    created = shop_request(env)
    other = env.create(shop)
    t0 = env.clock.t
    assert env.read(shop, created).status_code == 200
    r = env.read(shop, created)
    body = assert_problem(r, 429, "slow_down")
    assert body["type"] == "urn:zkattest:problem:slow-down"
    assert r.headers["retry-after"] == str(interval)
    # each verification has its own pace
    assert env.read(shop, other).status_code == 200
    # CIBA: a too-early poll restarts the interval
    env.clock.t = t0 + interval - 1
    assert_problem(env.read(shop, created), 429, "slow_down")
    env.clock.t = t0 + interval  # 2 s after the last answered poll, 1 s after the last
    assert_problem(env.read(shop, created), 429, "slow_down")
    env.clock.t = t0 + 2 * interval
    r = env.read(shop, created)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "awaiting_approval"
    # once decided, reads are not paced
    env.token(bob)
    assert env.decide(bob, created.id).status_code == 200
    for _ in range(3):
        r = env.read(shop, created)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending" and r.json()["poll_interval"] is None


# -- expiry -----------------------------------------------------------------------------------


def test_approval_expires(env: Env) -> None:
    alice, c = env.party.alice, env.c
    created = alice_request(env)
    t0 = env.clock.t
    env.token(alice)
    assert env.listed(alice) == [created.id]
    env.clock.t = t0 + APPROVAL_TTL
    env.token(alice)
    assert env.listed(alice) == []
    assert_problem(env.decide(alice, created.id), 410, "expired")
    st = env.read(env.party.shop, created).json()
    assert st["status"] == "expired" and st["poll_interval"] is None
    assert_problem(c.get(created.request_path), 410, "expired")
    swept = c.blocking_portal.call(services(c.app).store.sweep, env.clock())
    assert swept["verifications_expired"] == 1
    rec = c.blocking_portal.call(services(c.app).store.get_verification, created.id)
    assert rec is not None and rec.status == "expired" and rec.approved_by is None
    assert_problem(env.decide(alice, created.id, "deny"), 410, "expired")
    assert env.read(env.party.shop, created).json()["status"] == "expired"


# -- who may approve --------------------------------------------------------------------------


def test_approvals_need_a_dpop_token_with_approve_scope(env: Env) -> None:
    c, p = env.c, env.party
    created = shop_request(env)
    path = f"/v1/approvals/{created.id}"
    for r in (c.get("/v1/approvals"), c.post(path, json={"decision": "approve"})):
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("DPoP ")
    env.token(p.bob)
    assert p.bob.token is not None
    r = c.get("/v1/approvals", headers={"Authorization": f"Bearer {p.bob.token}"})
    assert_problem(r, 401, "bearer_scheme")
    # the shop's token has no approve scope; neither has alice's when she asks without it
    for rp, form in (
        (p.shop, None),
        (p.alice, {"grant_type": "client_credentials", "scope": "verify:age_gte"}),
    ):
        tok = env.token(rp, form)
        assert "approve" not in tok["scope"].split()
        assert_problem(env.approvals(rp), 403, "insufficient_scope")
        assert_problem(env.decide(rp, created.id), 403, "insufficient_scope")
    assert status(env, created)["status"] == "awaiting_approval"


def test_a_delegate_cannot_approve(env: Env) -> None:
    """The assistant acting for alice: the exchange cannot give it alice's approve
    scope (it is not an approver: the scopes intersect) and, registered as an approver
    so that it can, the delegated token is still refused."""
    p = env.party
    created = alice_request(env)
    alice = env.token(p.alice)
    assert "approve" in alice["scope"].split()
    r = env.token_response(p.assistant, exchange_form(alice["access_token"], scope="approve"))
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text
    tok = env.token(p.assistant, exchange_form(alice["access_token"]))
    assert tok["scope"] == "verify:age_gte"
    assert_problem(env.approvals(p.assistant), 403, "insufficient_scope")

    ClientRegistry(env.res.config.clients_path).add(
        client_from_json(
            {
                "client_id": "assistant",
                "name": "Alice's assistant",
                "jwks": p.assistant.jwks(),
                "predicates": ["age_gte"],
                "audiences": [RP],
                "delegates": ["shop"],
                "approver": True,
            }
        ),
        replace=True,
    )
    alice = env.token(p.alice)
    tok = env.token(p.assistant, exchange_form(alice["access_token"], scope="approve"))
    assert tok["scope"] == "approve"
    assert_problem(env.approvals(p.assistant), 403, "delegated_approver")
    assert_problem(env.decide(p.assistant, created.id), 403, "delegated_approver")
    assert status(env, created)["status"] == "awaiting_approval"
    assert env.listed(p.alice) == [created.id]


def test_only_the_right_person_decides(env: Env) -> None:
    """alice decides what was asked for her, bob what the shop asked for itself; each
    sees only theirs, and the other's is "not found" (it does not exist for them)."""
    p = env.party
    mine_alice = alice_request(env)
    env.chain(1)
    via_assistant = env.create(p.assistant)
    assert via_assistant.body["status"] == "awaiting_approval"
    mine_bob = shop_request(env)
    env.token(p.other)
    r = env.c.post(
        "/v1/verifications",
        json=create_body("o" * 43, audience=OTHER_RP),
        headers=env.auth(p.other, "POST", "/v1/verifications"),
    )
    assert_problem(r, 403, "policy_denied")  # no approver for "other": refused outright

    env.token(p.alice)
    env.token(p.bob)
    assert env.listed(p.alice) == sorted([mine_alice.id, via_assistant.id])
    assert env.listed(p.bob) == [mine_bob.id]
    view = {a["id"]: a for a in env.approvals(p.alice).json()["approvals"]}
    assert view[via_assistant.id]["act"] == {"sub": "assistant"}
    assert view[mine_alice.id]["act"] == {"sub": "shop", "act": {"sub": "assistant"}}

    assert_problem(env.decide(p.bob, mine_alice.id), 404)
    assert_problem(env.decide(p.bob, via_assistant.id, "deny"), 404)
    assert_problem(env.decide(p.alice, mine_bob.id), 404)
    assert env.listed(p.alice) == sorted([mine_alice.id, via_assistant.id])

    assert env.decide(p.bob, mine_bob.id).status_code == 200
    assert env.decide(p.alice, via_assistant.id).status_code == 200
    assert env.listed(p.bob) == []
    assert env.listed(p.alice) == [mine_alice.id]
    st = status(env, via_assistant, p.assistant)
    assert st["status"] == "pending" and st["approved_by"] == "alice"


def test_approver_removed_from_the_registry_loses_the_right(env: Env) -> None:
    """The registry decides at the time of the answer: the shop stops naming bob."""
    p = env.party
    created = shop_request(env)
    env.token(p.bob)
    assert env.listed(p.bob) == [created.id]
    ClientRegistry(env.res.config.clients_path).add(
        client_from_json(
            {
                "client_id": "shop",
                "name": "Shop",
                "jwks": p.shop.jwks(),
                "predicates": ["age_gte"],
                "audiences": [RP],
            }
        ),
        replace=True,
    )
    assert env.listed(p.bob) == []
    assert_problem(env.decide(p.bob, created.id), 404)


# -- one answer among many --------------------------------------------------------------------


def test_concurrent_answers_one_wins(env: Env) -> None:
    bob = env.party.bob
    created = shop_request(env)
    env.token(bob)
    path = f"/v1/approvals/{created.id}"
    decisions = ["approve" if i % 2 else "deny" for i in range(20)]

    async def race() -> list[httpx.Response]:
        app = create_app(resources=env.res, clock=env.clock)
        async with async_client(app) as ac:
            return await asyncio.gather(
                *(
                    ac.post(path, json={"decision": d}, headers=env.auth(bob, "POST", path))
                    for d in decisions
                )
            )

    answers = asyncio.run(race())
    won = [i for i, r in enumerate(answers) if r.status_code == 200]
    assert len(won) == 1, [r.status_code for r in answers]
    for i, r in enumerate(answers):
        if i != won[0]:
            assert_problem(r, 409)
            assert r.json()["reason"] in ("already_decided", "conflict")
    st = status(env, created)
    if decisions[won[0]] == "approve":
        assert st["status"] == "pending"
    else:
        assert st["status"] == "failed" and st["reason"] == "approval_denied"
    assert st["approved_by"] == "bob"


# -- malformed answers ------------------------------------------------------------------------


MALFORMED: list[tuple[str, bytes, str, int]] = [
    ("unknown-decision", b'{"decision": "maybe"}', "application/json", 400),
    ("decision-case", b'{"decision": "Approve"}', "application/json", 400),
    ("extra-field", b'{"decision": "approve", "by": "alice"}', "application/json", 400),
    ("no-decision", b"{}", "application/json", 400),
    ("null-decision", b'{"decision": null}', "application/json", 400),
    ("array", b'["approve"]', "application/json", 400),
    ("string", b'"approve"', "application/json", 400),
    ("not-json", b"{decision: approve", "application/json", 400),
    ("empty", b"", "application/json", 400),
    ("bad-utf8", b'{"decision": "\xff"}', "application/json", 400),
    ("deep", b'{"decision": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400),
    ("text", b"approve", "text/plain", 415),
    ("form", b"decision=approve", "application/x-www-form-urlencoded", 415),
]


@pytest.mark.parametrize(
    ("body", "ctype", "expect"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_answer_is_refused(env: Env, body: bytes, ctype: str, expect: int) -> None:
    bob = env.party.bob
    created = shop_request(env)
    env.token(bob)
    path = f"/v1/approvals/{created.id}"
    r = env.c.post(
        path, content=body, headers={**env.auth(bob, "POST", path), "Content-Type": ctype}
    )
    assert_problem(r, expect)
    assert status(env, created)["status"] == "awaiting_approval"
    assert env.listed(bob) == [created.id]


@pytest.mark.parametrize("vid", ["x", "A" * 200, "..%2F..%2Fetc", "AAAAAAAAAAAAAAAAAAAAAA"])
def test_unknown_approval_is_not_found(env: Env, vid: str) -> None:
    bob = env.party.bob
    env.token(bob)
    path = f"/v1/approvals/{vid}"
    r = env.c.post(path, json={"decision": "approve"}, headers=env.auth(bob, "POST", path))
    assert_problem(r, 404)


def test_no_approvals_without_auth(client: TestClient[Litestar]) -> None:
    """require_auth = false: there is no person to ask, the endpoints do not exist."""
    assert_problem(client.get("/v1/approvals"), 404)
    assert_problem(
        client.post("/v1/approvals/AAAAAAAAAAAAAAAAAAAAAA", json={"decision": "deny"}), 404
    )
