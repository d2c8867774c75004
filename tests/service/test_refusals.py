"""Refusals: expiry (injected clock), PKCE, presentation tokens and replay; invalid
presentations in both modes end the verification ``failed`` with the reason."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.agents import AgentError
from zkattest.credentials import Credential, Holder, Issuer
from zkattest.service import Resources, create_app

from .conftest import (
    OTHER_RP,
    assert_problem,
    bearer,
    create,
    delegated_body,
    fetch,
    in_years,
    path_of,
    present,
    proof_body,
    prove,
    read,
    scope_of,
    services,
    years_before,
)

Clocked = tuple[TestClient[Litestar], list[float]]


@pytest.fixture
def clocked(res: Resources) -> Iterator[Clocked]:
    """A client of an app whose clock the test moves (``t[0]``).  Starts at the real
    time: the verifier still checks ``today`` against the real date."""
    t = [time.time()]
    with TestClient(create_app(resources=res, clock=lambda: t[0])) as c:
        yield c, t


# -- expiry -----------------------------------------------------------------------------------


def test_expired_request_uri_refused(clocked: Clocked, res: Resources) -> None:
    c, t = clocked
    created = create(c)
    t[0] += res.config.verification_ttl + 1
    assert_problem(c.get(created.request_path), 410, "expired")
    assert read(c, created)["status"] == "expired"


def test_expired_verification_refuses_presentation(
    clocked: Clocked, res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    c, t = clocked
    created = create(c)
    hreq = fetch(c, created)
    body = proof_body(prove(res, holder, leap_cred, hreq))
    t[0] += res.config.verification_ttl + 1
    assert_problem(present(c, hreq, body), 410, "expired")
    st = read(c, created)
    assert st["status"] == "expired"
    assert st["attestation"] is None and st["result"] is None


def test_swept_verification_refuses_presentation_as_expired(
    clocked: Clocked, res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    """Once the sweeper marked it expired, a presentation is still refused as
    *expired* (410), not as a replay."""
    c, t = clocked
    created = create(c)
    hreq = fetch(c, created)
    body = proof_body(prove(res, holder, leap_cred, hreq))
    t[0] += res.config.verification_ttl + 1
    swept = c.blocking_portal.call(services(c.app).store.sweep, t[0])
    assert swept["verifications_expired"] == 1
    assert read(c, created)["status"] == "expired"
    assert_problem(present(c, hreq, body), 410, "expired")


def test_expired_agent_refused(clocked: Clocked, res: Resources) -> None:
    c, t = clocked
    created = create(c)
    svc = services(c.app)
    record = c.blocking_portal.call(svc.store.get_verification, created.id)
    assert record is not None
    agent = c.blocking_portal.call(svc.runtime.provision, record, "verify-age_gte")
    try:
        assert c.get(f"/v1/agents/{agent.id}").json()["state"] == "provisioned"
        t[0] += res.config.svid_ttl + 1
        with pytest.raises(AgentError) as e:
            asyncio.run(agent.start())
        assert e.value.reason == "agent_expired"
        assert c.get(f"/v1/agents/{agent.id}").json()["state"] == "expired"
    finally:
        agent.destroy()


# -- PKCE and tokens --------------------------------------------------------------------------


def test_code_verifier(client: TestClient[Litestar]) -> None:
    c = client
    created = create(c)
    other = create(c)
    assert read(c, created)["status"] == "pending"
    assert_problem(c.get(created.read_path), 400, "missing_code_verifier")
    assert_problem(c.get(created.read_path, params=other.read_params), 403, "pkce_mismatch")
    assert_problem(
        c.get(created.read_path, params={"code_verifier": "A" * 43}), 403, "pkce_mismatch"
    )
    for bad in ["", "short", "A" * 42, "A" * 129, "A" * 42 + "!", "A" * 42 + " ", "é" * 43]:
        assert_problem(c.get(created.read_path, params={"code_verifier": bad}), 400)


def test_replayed_presentation(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    c = client
    created = create(c)
    hreq = fetch(c, created)
    body = proof_body(prove(res, holder, leap_cred, hreq))
    assert present(c, hreq, body).status_code == 200
    assert_problem(present(c, hreq, body), 409, "replay")
    # a fresh proof, or the delegated mode, for the same verification: still used
    assert_problem(present(c, hreq, proof_body(prove(res, holder, leap_cred, hreq))), 409)
    assert_problem(present(c, hreq, delegated_body(leap_cred, holder.secret)), 409)
    assert read(c, created)["status"] == "completed"


def test_presentation_token(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    c = client
    created = create(c)
    hreq = fetch(c, created)
    other_hreq = fetch(c, create(c))
    body = proof_body(prove(res, holder, leap_cred, hreq))
    path = path_of(hreq["presentation_uri"])
    # no Authorization, or not a bearer token: 401 with a challenge
    for headers in [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer short"},
        {"Authorization": "Bearer " + "x" * 65},
        {"Authorization": "Bearer " + "a" * 30 + "!"},
    ]:
        r = c.post(path, json=body, headers=headers)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
    # a well-formed token that is not this verification's: 403
    assert_problem(present(c, hreq, body, token="A" * 43), 403, "bad_token")
    assert_problem(present(c, hreq, body, token=other_hreq["presentation_token"]), 403, "bad_token")
    # an unknown verification: 404
    r = c.post(
        "/v1/verifications/nosuchverification/presentation",
        json=body,
        headers=bearer(hreq["presentation_token"]),
    )
    assert_problem(r, 404)
    # nothing was consumed: the right token still works
    assert read(c, created)["status"] == "pending"
    r = present(c, hreq, body)
    assert r.status_code == 200, r.text
    assert r.json()["result"] is True


def test_presentation_before_fetch(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    c = client
    created = create(c)
    r = c.post(
        f"/v1/verifications/{created.id}/presentation",
        json=delegated_body(leap_cred, holder.secret),
        headers=bearer("A" * 43),
    )
    assert_problem(r, 403, "bad_token")
    assert read(c, created)["status"] == "pending"
    fetch(c, created)  # the request URI is still good


# -- invalid presentations: 422 with the reason, the verification ends failed ------------------


def _refused(
    c: TestClient[Litestar], created: Any, hreq: dict[str, Any], body: Any, reason: str
) -> None:
    r = present(c, hreq, body)
    p = assert_problem(r, 422, reason)
    assert p["type"] == "urn:zkattest:problem:presentation-refused"
    st = read(c, created)
    assert st["status"] == "failed"
    assert st["reason"] == reason
    assert st["result"] is None and st["attestation"] is None
    assert st["agent_id"]
    agent = c.get(f"/v1/agents/{st['agent_id']}").json()
    assert agent["state"] == "failed"
    assert agent["failed_reason"] == reason
    # failed is final: the same token cannot present again
    assert_problem(present(c, hreq, body), 409, "replay")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_nonce", "nonce_mismatch"),
        ("wrong_scope", "scope_mismatch"),
        ("wrong_min_age", "min_age_mismatch"),
        ("stale_today", "stale_today"),
        ("untrusted_issuer", "untrusted_issuer"),
        ("wrong_circuit", "unknown_circuit"),
        ("huge_circuit_id", "unknown_circuit"),
        ("point_at_infinity", "invalid_proof"),
        ("tampered_point", "invalid_proof"),
        ("swapped_points", "invalid_proof"),
        ("flipped_result", "invalid_proof"),
    ],
)
def test_proof_mode_refusals(
    client: TestClient[Litestar],
    res: Resources,
    holder: Holder,
    leap_cred: Credential,
    case: str,
    reason: str,
) -> None:
    c = client
    created = create(c)
    hreq = fetch(c, created)
    cred = leap_cred
    override: dict[str, Any] = {}
    if case == "wrong_nonce":
        override["nonce"] = 12345
    elif case == "wrong_scope":  # a proof made for another relying party
        override["rp_scope"] = scope_of(OTHER_RP)
    elif case == "wrong_min_age":
        override["min_age"] = 0
    elif case == "stale_today":
        override["today"] = years_before(hreq["request"]["today"], 1)
    elif case == "untrusted_issuer":
        cred = Issuer.generate().issue(
            {"birthdate": 20000229}, holder.commitment, expires=in_years(5)
        )
    pres = prove(res, holder, cred, hreq, **override)
    if case == "wrong_circuit":
        pres["circuit_id"] = "sha256:" + "0" * 64
    elif case == "huge_circuit_id":
        pres["circuit_id"] = "x" * 20000
    elif case == "point_at_infinity":
        pres["proof"]["pi_a"] = ["0", "1", "0"]
    elif case == "tampered_point":  # another point on the curve (the generator)
        pres["proof"]["pi_a"] = ["1", "2", "1"]
    elif case == "swapped_points":
        pres["proof"]["pi_a"], pres["proof"]["pi_c"] = pres["proof"]["pi_c"], pres["proof"]["pi_a"]
    elif case == "flipped_result":
        pres["public"][0] = str(1 - int(pres["public"][0]))
    _refused(c, created, hreq, proof_body(pres), reason)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_holder", "wrong_holder"),
        ("tampered_signature", "invalid_credential"),
        ("tampered_birthdate", "invalid_credential"),
        ("expired_credential", "expired_credential"),
        ("untrusted_issuer", "untrusted_issuer"),
    ],
)
def test_delegated_mode_refusals(
    client: TestClient[Litestar],
    holder: Holder,
    issuer: Issuer,
    creds: Callable[[int], Credential],
    case: str,
    reason: str,
) -> None:
    c = client
    created = create(c)
    hreq = fetch(c, created)
    cred = creds(20000229)
    secret = holder.secret
    if case == "wrong_holder":
        secret = Holder().secret
    elif case == "expired_credential":
        yesterday = years_before(hreq["request"]["today"], 0, plus_days=-1)
        cred = issuer.issue({"birthdate": 20000229}, holder.commitment, expires=yesterday)
    elif case == "untrusted_issuer":
        cred = Issuer.generate().issue(
            {"birthdate": 20000229}, holder.commitment, expires=in_years(5)
        )
    body = delegated_body(cred, secret)
    if case == "tampered_signature":
        s = int(body["credential"]["signature"]["S"])
        body["credential"]["signature"]["S"] = str(s - 1 if s > 1 else s + 1)
    elif case == "tampered_birthdate":  # the issuer signed 2000-02-29, not 1990-01-01
        body["credential"]["attrs"][1] = "19900101"
    _refused(c, created, hreq, body, reason)
    assert json.dumps(read(c, created)).find(str(secret)) == -1
