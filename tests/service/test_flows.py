"""Full flows over HTTP, both modes, yes and no around the min_age boundary (29 Feb
included); every attestation checked three ways: with a stock JOSE library (PyJWT)
and the SPIFFE bundle alone, by POST /v1/attestations/verify, and by re-verifying the
Groth16 proof inside against the published verification key."""

from __future__ import annotations

import base64
import calendar
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from zkattest import groth16
from zkattest.credentials import Credential, Holder
from zkattest.service import Resources

from .conftest import (
    OTHER_RP,
    RP,
    create,
    delegated_body,
    fetch,
    present,
    proof_body,
    prove,
    read,
    years_before,
)

ATTESTATION_TYP = "zkattest-attestation+jwt"


def _leap_year_at_most(year: int) -> int:
    while not calendar.isleap(year):
        year -= 1
    return year


def _case(name: str, today: int) -> tuple[int, int, bool]:
    """(min_age, birthdate, expected result) of a boundary case, for ``today``."""
    year = today // 10000
    if name == "exact_birthday":  # turns 18 today: yes
        return 18, years_before(today, 18), True
    if name == "one_day_short":  # turns 18 tomorrow: no
        return 18, years_before(today, 18, plus_days=1), False
    leap = _leap_year_at_most(year - 18)
    born = leap * 10000 + 229
    if name == "leap_day_boundary":
        # born 29 Feb: min_age years are reached on 1 Mar of a common year (and on 29 Feb
        # of a leap year): YYYYMMDD arithmetic, born + min_age*10000 <= today
        return year - leap, born, today % 10000 >= 229
    assert name == "leap_day_one_year_short"
    return year - leap + 1, born, False


CASES = ["exact_birthday", "one_day_short", "leap_day_boundary", "leap_day_one_year_short"]


# -- the three ways of checking an attestation ------------------------------------------------


def check_with_pyjwt(
    c: TestClient[Litestar], token: str, *, audience: str, nonce: str, trust_domain: str
) -> dict[str, Any]:
    """The relying party's check with a stock JOSE library and the bundle from
    /.well-known/spiffe-bundle alone; returns the attestation's claims."""
    bundle = c.get("/.well-known/spiffe-bundle").json()
    # where the SVID is: read before any signature is trusted (then verified below)
    unverified = jwt.decode(token, options={"verify_signature": False})
    svid_token = unverified["svid"]
    att_iat = unverified["iat"]
    svid_header = jwt.get_unverified_header(svid_token)
    assert svid_header["alg"] == "ES256"
    keys = [
        k for k in bundle["keys"] if k.get("kid") == svid_header["kid"] and k["use"] == "jwt-svid"
    ]
    assert len(keys) == 1
    # The SVID lives <= 60 s but the attestation may be checked later: it must be
    # valid *at the attestation's iat*.  PyJWT checks exp against "now", so we give
    # it a leeway of (now - att_iat) -- i.e. "exp > att_iat" -- and check
    # iat <= att_iat < exp explicitly below.
    leeway = max(0, int(time.time()) - att_iat)
    svid = jwt.decode(
        svid_token,
        key=jwt.PyJWK(keys[0], algorithm="ES256"),
        algorithms=["ES256"],
        audience=audience,
        leeway=leeway,
        options={"require": ["sub", "aud", "exp", "iat", "jti"]},
    )
    assert svid["sub"].startswith(f"spiffe://{trust_domain}/agent/")
    assert svid["aud"] == audience
    assert 0 < svid["exp"] - svid["iat"] <= 60
    assert svid["iat"] <= att_iat < svid["exp"]
    assert isinstance(svid["jti"], str) and svid["jti"]
    agent_jwk = svid["cnf"]["jwk"]
    assert agent_jwk["kty"] == "EC" and agent_jwk["crv"] == "P-256"
    assert "d" not in agent_jwk
    # then the attestation, against the SVID's confirmation key
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["typ"] == ATTESTATION_TYP
    claims: dict[str, Any] = jwt.decode(
        token,
        key=jwt.PyJWK(agent_jwk, algorithm="ES256"),
        algorithms=["ES256"],
        audience=audience,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
    )
    assert claims["iss"] == svid["sub"]
    assert claims["nonce"] == nonce
    assert claims["svid"] == svid_token
    return claims


def check_proof_inside(c: TestClient[Litestar], claims: dict[str, Any]) -> None:
    """The Groth16 proof in the attestation verifies against the published key, and
    its public signals are the claims."""
    cid = claims["circuit_id"]
    r = c.get(f"/v1/circuits/{cid}/verification_key")
    assert r.status_code == 200
    vk = groth16.load_verification_key(r.json())
    assert vk.circuit_id == cid
    public = [int(x) for x in claims["public_signals"]]
    proof = groth16.load_proof(claims["proof"])
    assert groth16.verify(vk, public, proof, expected_circuit_id=cid)
    assert public[0] == int(claims["result"])
    assert public[1] == int(claims["nullifier"])
    assert public[2:4] == [int(claims["issuer"]["Ax"]), int(claims["issuer"]["Ay"])]
    assert public[5] == claims["today"]
    assert public[6] == claims["params"]["min_age"]
    assert public[7] == int(claims["nonce"])
    assert public[8] == int(claims["rp_scope"])
    # a different public signal (the other answer) does not verify
    flipped = [1 - public[0], *public[1:]]
    assert not groth16.verify(vk, flipped, proof, expected_circuit_id=cid)


def check_with_service(
    c: TestClient[Litestar], token: str, *, audience: str, nonce: str, result: bool, vid: str
) -> None:
    r = c.post(
        "/v1/attestations/verify", json={"attestation": token, "audience": audience, "nonce": nonce}
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["valid"] is True
    assert got["result"] is result
    assert got["verification_id"] == vid
    assert got["agent"].startswith("spiffe://")
    assert "proof" not in got["claims"] and "svid" not in got["claims"]
    assert got["claims"]["nonce"] == nonce


# -- the flows --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["proof", "delegated"])
@pytest.mark.parametrize("case", CASES)
def test_full_flow(
    client: TestClient[Litestar],
    res: Resources,
    holder: Holder,
    creds: Callable[[int], Credential],
    mode: str,
    case: str,
) -> None:
    c = client
    probe = create(c)  # the server's today: min_age of the leap-day cases depends on it
    min_age, _, _ = _case(case, probe.body["today"])
    created = create(c, min_age=min_age)
    # the boundary is computed against the verification's own today
    again, birthdate, expected = _case(case, created.body["today"])
    assert again == min_age
    cred = creds(birthdate)
    assert created.body["status"] == "pending"
    assert created.body["params"] == {"min_age": min_age}
    assert created.body["audience"] == RP
    assert created.body["expires_at"].endswith("Z")
    hreq = fetch(c, created)
    assert hreq["verification_id"] == created.id
    assert hreq["request"]["nonce"] == created.body["nonce"]
    assert hreq["request"]["rp_scope"] == created.body["rp_scope"]
    assert hreq["request"]["min_age"] == min_age
    assert hreq["circuit_id"] == res.circuit_id
    assert {"Ax": str(cred.issuer.Ax), "Ay": str(cred.issuer.Ay)} in hreq["trusted_issuers"]
    if mode == "proof":
        body = proof_body(prove(res, holder, cred, hreq))
    else:
        body = delegated_body(cred, holder.secret)
    r = present(c, hreq, body)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["verification_id"] == created.id
    assert done["status"] == "completed"
    assert done["result"] is expected

    st = read(c, created)
    assert st["status"] == "completed"
    assert st["result"] is expected
    assert st["reason"] is None
    assert st["agent_id"] == done["agent_id"]
    assert st["completed_at"].endswith("Z")
    token = st["attestation"]

    claims = check_with_pyjwt(
        c,
        token,
        audience=RP,
        nonce=created.body["nonce"],
        trust_domain=res.config.trust_domain,
    )
    assert claims["result"] is expected
    assert claims["sub"] == created.id
    assert claims["mode"] == mode
    assert claims["params"] == {"min_age": min_age}
    assert claims["predicate"] == "age_gte"
    task = "verify-age_gte" if mode == "proof" else "prove-age_gte"
    assert claims["iss"].endswith(f"/agent/{task}/{done['agent_id']}")
    assert claims["rp_scope"] == created.body["rp_scope"]
    check_with_service(
        c, token, audience=RP, nonce=created.body["nonce"], result=expected, vid=created.id
    )
    check_proof_inside(c, claims)

    agent = c.get(f"/v1/agents/{done['agent_id']}").json()
    assert agent["state"] == "retired"
    assert agent["verification_id"] == created.id


def test_pyjwt_rejects_forgeries(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    """The stock-library check is a real check: another audience, an altered claim or
    an SVID signed by a key outside the bundle fail."""
    c = client
    created = create(c)
    hreq = fetch(c, created)
    assert present(c, hreq, proof_body(prove(res, holder, leap_cred, hreq))).status_code == 200
    token = read(c, created)["attestation"]
    td = res.config.trust_domain
    nonce = created.body["nonce"]
    with pytest.raises(jwt.InvalidAudienceError):
        check_with_pyjwt(c, token, audience=OTHER_RP, nonce=nonce, trust_domain=td)
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["result"] = not claims["result"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        check_with_pyjwt(c, f"{head}.{forged}.{sig}", audience=RP, nonce=nonce, trust_domain=td)
    # an SVID whose signature is not the bundle key's
    svid_head, svid_payload, svid_sig = claims["svid"].split(".")
    bad_sig = svid_sig[:-4] + ("AAAA" if svid_sig[-4:] != "AAAA" else "BBBB")
    claims["result"] = not claims["result"]
    claims["svid"] = f"{svid_head}.{svid_payload}.{bad_sig}"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        check_with_pyjwt(c, f"{head}.{forged}.{sig}", audience=RP, nonce=nonce, trust_domain=td)


def test_verify_endpoint_refusals(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    """POST /v1/attestations/verify says why an attestation is not valid."""
    c = client
    created = create(c)
    hreq = fetch(c, created)
    assert present(c, hreq, proof_body(prove(res, holder, leap_cred, hreq))).status_code == 200
    token = read(c, created)["attestation"]
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["result"] = not claims["result"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    cases = [
        ({"attestation": token, "audience": OTHER_RP}, "wrong_audience"),
        ({"attestation": token, "audience": RP, "nonce": "12345"}, "nonce_mismatch"),
        ({"attestation": f"{head}.{forged}.{sig}", "audience": RP}, "bad_signature"),
        ({"attestation": "a.b.c", "audience": RP}, "malformed"),
    ]
    for body, reason in cases:
        r = c.post("/v1/attestations/verify", json=body)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["valid"] is False
        assert got["reason"] == reason, (reason, got)
        assert "claims" not in got


def test_rp_scopes_differ_per_audience(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    """The same holder gets unlinkable nullifiers at two relying parties."""
    c = client
    nullifiers = []
    for audience in (RP, OTHER_RP):
        created = create(c, audience=audience)
        hreq = fetch(c, created)
        r = present(c, hreq, proof_body(prove(res, holder, leap_cred, hreq)))
        assert r.status_code == 200
        token = read(c, created)["attestation"]
        claims = check_with_pyjwt(
            c,
            token,
            audience=audience,
            nonce=created.body["nonce"],
            trust_domain=res.config.trust_domain,
        )
        nullifiers.append(claims["nullifier"])
    assert nullifiers[0] != nullifiers[1]
