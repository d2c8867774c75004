"""The whole OAuth flow from the relying party's side, driven by a client made only of
stock libraries (``stock_rp.StockRP``: PyJWT, cryptography, httpx): private_key_jwt +
DPoP token (with the server's nonce), a verification with PKCE, the holder's wallet
fetching the request and presenting, the RP reading with PKCE + DPoP, and the
attestation checked with PyJWT against the published keys alone.

Then delegation (RFC 8693): alice -> her assistant -> the shop, two hops, stepped up
by the default policy until alice approves; the attestation and the SVID inside name
who asked (``client_id``), for whom (``obo``) and through whom (``act``).  A forged
chain is refused; the check that the attestation's chain equals the SVID's is shown
with a trust domain the test controls (the real agent key never leaves the service).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.agents import AttestationInvalid, verify_attestation
from zkattest.credentials import Credential, Holder
from zkattest.identity import TrustBundle
from zkattest.oauth.clients import ClientRegistry
from zkattest.service import Resources

from .conftest import (
    BASE,
    RP,
    Created,
    Party,
    assert_problem,
    check_created,
    create_body,
    delegated_body,
    exchange_form,
    path_of,
    proof_body,
    prove,
    today_int,
    years_before,
)
from .stock_rp import StockRP, public_jwk, thumbprint

ATTESTATION_TYP = "zkattest-attestation+jwt"
CHAIN2 = {"sub": "shop", "act": {"sub": "assistant"}}


# -- the relying party's side, with stock libraries only (test_policy_http and
# test_approvals use these helpers too) -------------------------------------------------------


def adult(creds: Callable[[int], Credential]) -> Credential:
    return creds(years_before(today_int(), 30))


def rp_create(
    c: TestClient[Litestar],
    rp: StockRP,
    *,
    min_age: int = 18,
    audience: str = RP,
    **dpop: Any,
) -> tuple[httpx.Response, str]:
    """POST /v1/verifications as ``rp`` (``dpop``: claim overrides for its proof, e.g.
    ``iat`` on an injected clock): (the response, the PKCE verifier)."""
    verifier = secrets.token_urlsafe(48)
    r = c.post(
        "/v1/verifications",
        json=create_body(verifier, min_age=min_age, audience=audience),
        headers=rp.auth("POST", f"{BASE}/v1/verifications", **dpop),
    )
    return r, verifier


def rp_created(c: TestClient[Litestar], rp: StockRP, **kw: Any) -> Created:
    return check_created(*rp_create(c, rp, **kw))


def rp_read(c: TestClient[Litestar], rp: StockRP, created: Created, **dpop: Any) -> httpx.Response:
    return c.get(
        created.read_path,
        params=created.read_params,
        headers=rp.auth("GET", f"{BASE}{created.read_path}", **dpop),
    )


def holder_fetch(c: TestClient[Litestar], created: Created) -> dict[str, Any]:
    """The holder's wallet: no OAuth, just the request URI it was handed."""
    r = c.get(created.request_path)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def holder_present(c: TestClient[Litestar], hreq: dict[str, Any], body: Any) -> httpx.Response:
    return c.post(
        path_of(hreq["presentation_uri"]),
        json=body,
        headers={"Authorization": f"Bearer {hreq['presentation_token']}"},
    )


def pyjwt_check(
    c: TestClient[Litestar], attestation: str, *, audience: str, nonce: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What any RP can do with PyJWT and /.well-known/spiffe-bundle: the SVID's
    signature by the trust domain key, then the attestation's by the SVID's cnf.jwk.
    Returns (svid claims, attestation claims)."""
    bundle = c.get("/.well-known/spiffe-bundle").json()
    unverified = jwt.decode(attestation, options={"verify_signature": False})
    svid_token = unverified["svid"]
    kid = jwt.get_unverified_header(svid_token)["kid"]
    [td_key] = [k for k in bundle["keys"] if k["kid"] == kid and k["use"] == "jwt-svid"]
    # the SVID lives seconds; what matters is that it was valid when the agent signed
    svid: dict[str, Any] = jwt.decode(
        svid_token,
        key=jwt.PyJWK(td_key, algorithm="ES256"),
        algorithms=["ES256"],
        audience=audience,
        options={"verify_exp": False, "require": ["sub", "aud", "exp", "iat", "jti"]},
    )
    assert svid["iat"] <= unverified["iat"] < svid["exp"]
    assert jwt.get_unverified_header(attestation)["typ"] == ATTESTATION_TYP
    claims: dict[str, Any] = jwt.decode(
        attestation,
        key=jwt.PyJWK(svid["cnf"]["jwk"], algorithm="ES256"),
        algorithms=["ES256"],
        audience=audience,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
    )
    assert claims["iss"] == svid["sub"]
    assert claims["nonce"] == nonce
    # the JWKS view of the same trust domain names the same key
    jwks = c.get("/.well-known/jwks.json").json()
    assert any(k["kid"] == kid and k["x"] == td_key["x"] for k in jwks["keys"])
    return svid, claims


def check_access_token(
    c: TestClient[Litestar], token: str, rp: StockRP, *, sub: str
) -> dict[str, Any]:
    """An RFC 9068 token, verified with PyJWT against /oauth/jwks."""
    meta = c.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == BASE
    jwks = c.get(path_of(meta["jwks_uri"])).json()
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    [key] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token,
        key=jwt.PyJWK(key, algorithm="ES256"),
        algorithms=["ES256"],
        audience=BASE,
        issuer=BASE,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]},
    )
    assert claims["sub"] == sub
    assert claims["client_id"] == rp.client_id
    assert claims["cnf"] == {"jkt": rp.jkt}
    return claims


def nonce_dance(c: TestClient[Litestar], rp: StockRP) -> dict[str, Any]:
    """client_credentials the long way: no nonce -> use_dpop_nonce + DPoP-Nonce, retry."""
    rp.nonce = None
    form = {"grant_type": "client_credentials"}
    r = rp.token_request(c, BASE, form)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "use_dpop_nonce"
    assert r.headers["cache-control"] == "no-store"
    assert rp.nonce is not None and rp.nonce == r.headers["dpop-nonce"]
    r = rp.token_request(c, BASE, form)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["token_type"] == "DPoP"
    assert body["scope"] == "verify:age_gte"
    rp.token = body["access_token"]
    return body


def chain_token(c: TestClient[Litestar], party: Party, depth: int) -> None:
    """alice's token, exchanged by her assistant (depth 1) and then by the shop (2)."""
    alice = party.alice.get_token(c, BASE)
    assert set(alice["scope"].split()) == {"approve", "verify:age_gte"}
    asst = party.assistant.get_token(c, BASE, exchange_form(alice["access_token"]))
    assert asst["scope"] == "verify:age_gte"  # approve is alice's own: not delegated
    assert asst["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    if depth == 2:
        party.shop.get_token(c, BASE, exchange_form(asst["access_token"]))


# -- direct: the shop asks for itself ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["proof", "delegated"])
def test_stock_rp_whole_flow(
    mode: str,
    auth_client: TestClient[Litestar],
    auth_res: Resources,
    party: Party,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    c, shop = auth_client, party.shop
    tok = nonce_dance(c, shop)
    at = check_access_token(c, tok["access_token"], shop, sub="shop")
    assert "act" not in at and at["scope"] == "verify:age_gte"

    created = rp_created(c, shop)
    assert created.body["status"] == "pending"
    assert created.body["client_id"] == "shop"
    assert created.body["policy"] == {"outcome": "allow", "policy_ids": ["registered-age-gte"]}
    assert "subject" not in created.body and "act" not in created.body

    hreq = holder_fetch(c, created)
    cred = adult(creds)
    if mode == "proof":
        body = proof_body(prove(auth_res, holder, cred, hreq))
    else:
        body = delegated_body(cred, holder.secret)
    r = holder_present(c, hreq, body)
    assert r.status_code == 200, r.text
    assert r.json()["result"] is True

    r = rp_read(c, shop, created)
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["status"] == "completed" and st["result"] is True
    assert st["approved_by"] is None
    svid, claims = pyjwt_check(c, st["attestation"], audience=RP, nonce=created.body["nonce"])
    assert claims["sub"] == created.id
    assert claims["mode"] == mode
    assert claims["result"] is True
    assert claims["client_id"] == "shop" and svid["client_id"] == "shop"
    for name in ("obo", "act"):
        assert name not in claims and name not in svid


def test_read_needs_the_creators_dpop_token(
    auth_client: TestClient[Litestar], party: Party
) -> None:
    """PKCE alone is not enough: the reader must be the creating client, with a proof
    of its DPoP key (a proof by another key is refused)."""
    c, shop = auth_client, party.shop
    shop.get_token(c, BASE)
    created = rp_created(c, shop)
    party.other.get_token(c, BASE)
    assert rp_read(c, party.other, created).status_code == 404
    intruder = ec.generate_private_key(ec.SECP256R1())
    path = f"{BASE}{created.read_path}"
    assert shop.token is not None
    stolen = {
        "Authorization": f"DPoP {shop.token}",
        "DPoP": shop.dpop("GET", path, token=shop.token, key=intruder, alg="ES256"),
    }
    r = c.get(created.read_path, params=created.read_params, headers=stolen)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("DPoP ")
    assert rp_read(c, shop, created).status_code == 200


# -- delegation --------------------------------------------------------------------------------


def test_delegation_chain_with_approval(
    auth_client: TestClient[Litestar],
    auth_res: Resources,
    party: Party,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    c = auth_client
    chain_token(c, party, 2)
    assert party.shop.token is not None
    at = check_access_token(c, party.shop.token, party.shop, sub="alice")
    assert at["act"] == CHAIN2
    assert at["scope"] == "verify:age_gte"

    created = rp_created(c, party.shop)
    assert created.body["status"] == "awaiting_approval"
    assert created.body["policy"] == {
        "outcome": "step_up",
        "policy_ids": ["step-up-delegation-depth"],
    }
    assert created.body["subject"] == "alice" and created.body["act"] == CHAIN2
    assert created.body["poll_interval"] == auth_res.config.poll_interval

    # alice (her own token, not a delegate's) sees and approves it
    alice = party.alice
    alice.get_token(c, BASE)
    r = c.get("/v1/approvals", headers=alice.auth("GET", f"{BASE}/v1/approvals"))
    assert r.status_code == 200, r.text
    [pending] = r.json()["approvals"]
    assert pending["id"] == created.id
    assert pending["subject"] == "alice" and pending["client_id"] == "shop"
    assert pending["act"] == CHAIN2
    assert pending["policy_ids"] == ["step-up-delegation-depth"]
    path = f"/v1/approvals/{created.id}"
    r = c.post(path, json={"decision": "approve"}, headers=alice.auth("POST", BASE + path))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and r.json()["approved_by"] == "alice"

    # the holder proves on their own device (delegated proving is refused this deep)
    hreq = holder_fetch(c, created)
    r = holder_present(c, hreq, proof_body(prove(auth_res, holder, adult(creds), hreq)))
    assert r.status_code == 200, r.text

    st = rp_read(c, party.shop, created).json()
    assert st["status"] == "completed" and st["result"] is True
    assert st["approved_by"] == "alice"
    token = st["attestation"]
    svid, claims = pyjwt_check(c, token, audience=RP, nonce=created.body["nonce"])
    for doc in (claims, svid):
        assert doc["client_id"] == "shop"
        assert doc["obo"] == "alice"
        assert doc["act"] == CHAIN2

    # the library's verifier agrees, from the published bundle alone
    td = auth_res.config.trust_domain
    bundle = TrustBundle.from_spiffe_json(td, c.get("/.well-known/spiffe-bundle").json())
    ok = verify_attestation(
        token,
        bundle=bundle,
        audience=RP,
        now=int(time.time()),
        circuits={auth_res.circuit_id: auth_res.vk},
        nonce=created.body["nonce"],
        verification_id=created.id,
    )
    assert (ok.client_id, ok.obo, ok.act) == ("shop", "alice", CHAIN2)
    forged_chain_refused(token, bundle, td)


def test_depth_one_delegation_needs_no_approval(
    auth_client: TestClient[Litestar],
    auth_res: Resources,
    party: Party,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    """The assistant acting for alice (one hop): allowed at once, delegated proving
    allowed, and the attestation says for whom."""
    c, asst = auth_client, party.assistant
    chain_token(c, party, 1)
    assert asst.token is not None
    at = check_access_token(c, asst.token, asst, sub="alice")
    assert at["act"] == {"sub": "assistant"}
    assert at["may_act"]["sub"] == "shop"

    created = rp_created(c, asst)
    assert created.body["status"] == "pending"
    assert created.body["policy"]["outcome"] == "allow"
    assert "poll_interval" not in created.body
    assert created.body["subject"] == "alice"
    hreq = holder_fetch(c, created)
    r = holder_present(c, hreq, delegated_body(adult(creds), holder.secret))
    assert r.status_code == 200, r.text
    st = rp_read(c, asst, created).json()
    assert st["status"] == "completed" and st["approved_by"] is None
    svid, claims = pyjwt_check(c, st["attestation"], audience=RP, nonce=created.body["nonce"])
    for doc in (claims, svid):
        assert doc["client_id"] == "assistant"
        assert doc["obo"] == "alice"
        assert doc["act"] == {"sub": "assistant"}
    assert claims["mode"] == "delegated"


# -- forgeries ---------------------------------------------------------------------------------


def _forge_svid(td_key: Any, kid: str, td: str, agent_key: Any, *, iat: int, **extra: Any) -> str:
    claims = {
        **extra,
        "sub": f"spiffe://{td}/agent/verify-age_gte/{secrets.token_urlsafe(8)}",
        "aud": RP,
        "iat": iat,
        "exp": iat + 30,
        "jti": secrets.token_urlsafe(8),
        "cnf": {"jwk": public_jwk(agent_key)},
    }
    return jwt.encode(claims, td_key, algorithm="ES256", headers={"kid": kid})


def _forge_attestation(claims: dict[str, Any], agent_key: Any) -> str:
    return jwt.encode(
        claims,
        agent_key,
        algorithm="ES256",
        headers={"typ": ATTESTATION_TYP, "kid": thumbprint(public_jwk(agent_key))},
    )


def _reason(token: str, bundle: TrustBundle) -> str | None:
    try:
        verify_attestation(token, bundle=bundle, audience=RP, now=int(time.time()))
    except AttestationInvalid as e:
        return e.reason
    return None


def forged_chain_refused(genuine: str, bundle: TrustBundle, td: str) -> None:
    """Rewriting the chain of a genuine attestation needs a key the attacker lacks."""
    real = jwt.decode(genuine, options={"verify_signature": False})
    svid_claims = jwt.decode(real["svid"], options={"verify_signature": False})
    td_kid = jwt.get_unverified_header(real["svid"])["kid"]
    short = {"sub": "shop"}  # hide the assistant
    mine = ec.generate_private_key(ec.SECP256R1())
    assert _reason(genuine, bundle) is None

    # 1. the genuine SVID, the claims re-signed with the attacker's key: not the agent's
    resigned = _forge_attestation({**real, "act": short}, mine)
    assert _reason(resigned, bundle) == "bad_signature"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            resigned,
            key=jwt.PyJWK(svid_claims["cnf"]["jwk"], algorithm="ES256"),
            algorithms=["ES256"],
            audience=RP,
        )

    # 2. an SVID of the attacker's own making, claiming the trust domain's kid
    fake_td = ec.generate_private_key(ec.SECP256R1())
    iat = real["iat"]
    svid = _forge_svid(fake_td, td_kid, td, mine, iat=iat, client_id="shop", obo="alice", act=short)
    iss = jwt.decode(svid, options={"verify_signature": False})["sub"]
    forged = _forge_attestation({**real, "iss": iss, "svid": svid, "act": short}, mine)
    assert _reason(forged, bundle) == "invalid_svid"

    # 3. the consistency rule itself, in a trust domain the test controls (so it can
    # sign SVIDs): the chain in the attestation must be the one its SVID was minted for
    own_kid = "test-td-key"
    own = TrustBundle.from_spiffe_json(
        td, {"keys": [{**public_jwk(fake_td), "kid": own_kid, "use": "jwt-svid"}]}
    )
    svid = _forge_svid(
        fake_td, own_kid, td, mine, iat=iat, client_id="shop", obo="alice", act=CHAIN2
    )
    iss = jwt.decode(svid, options={"verify_signature": False})["sub"]
    base = {**real, "iss": iss, "svid": svid}
    assert _reason(_forge_attestation(base, mine), own) is None  # the control: consistent
    assert _reason(_forge_attestation({**base, "act": short}, mine), own) == "delegation_mismatch"
    assert _reason(_forge_attestation({**base, "obo": "bob"}, mine), own) == "delegation_mismatch"
    no_client = {k: v for k, v in base.items() if k != "client_id"}
    assert _reason(_forge_attestation(no_client, mine), own) == "delegation_mismatch"
    # ... and such a token is worthless against the real trust domain
    assert _reason(_forge_attestation(base, mine), bundle) == "invalid_svid"


def test_revoked_delegation_gets_no_agent(
    auth_client: TestClient[Litestar],
    auth_res: Resources,
    party: Party,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    """alice withdraws the assistant between the request and the presentation: the
    agent is not provisioned (403 delegation_revoked), the verification ends failed,
    and the assistant's token stops working at once."""
    c, asst = auth_client, party.assistant
    chain_token(c, party, 1)
    created = rp_created(c, asst)
    assert created.body["status"] == "pending"
    reg = ClientRegistry(auth_res.config.clients_path)
    alice = reg.get("alice")
    assert alice is not None and "assistant" in alice.delegates
    reg.add(dataclasses.replace(alice, delegates=frozenset()), replace=True)
    hreq = holder_fetch(c, created)
    r = holder_present(c, hreq, delegated_body(adult(creds), holder.secret))
    assert_problem(r, 403, "delegation_revoked")
    assert_problem(rp_read(c, asst, created), 401, "delegation_revoked")
    # the record, read through the store: failed for that reason, no agent
    v = asyncio.run(_read_record(auth_res, created.id))
    assert v.status == "failed" and v.reason == "delegation_revoked" and v.agent_id is None


async def _read_record(res: Resources, vid: str) -> Any:
    from zkattest.store import open_store

    async with await open_store(res.config.db_url) as store:
        return await store.get_verification(vid)
