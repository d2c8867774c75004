"""What anyone may read: keys, bundle, circuits, agents, health, the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from zkattest import groth16
from zkattest.credentials import Credential, Holder
from zkattest.identity import EcPublicKey, TrustBundle
from zkattest.service import Resources

from .conftest import (
    assert_problem,
    create,
    delegated_body,
    fetch,
    present,
    proof_body,
    prove,
)

V1_PATHS = {
    "/v1/verifications",
    "/v1/verifications/{vid}",
    "/v1/verifications/{vid}/presentation",
    "/v1/requests/{token}",
    "/v1/attestations/verify",
    "/v1/circuits",
    "/v1/circuits/{cid}/verification_key",
    "/v1/agents/{aid}",
    "/v1/approvals",
    "/v1/approvals/{vid}",
    "/v1/audit",
    "/v1/audit/key",
}
SECRETISH = ("d", "key", "private", "secret", "token", "svid", "seed", "witness", "holder_secret")


def _public_jwk(k: dict[str, Any]) -> None:
    assert k["kty"] == "EC" and k["crv"] == "P-256"
    assert isinstance(k["kid"], str) and k["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(k)
    pub = EcPublicKey.from_jwk({m: k[m] for m in ("kty", "crv", "x", "y")})
    assert pub.thumbprint() == k["kid"]


def test_jwks(client: TestClient[Litestar], res: Resources) -> None:
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert set(doc) == {"keys"}
    assert len(doc["keys"]) >= 1
    for k in doc["keys"]:
        _public_jwk(k)
        assert k["use"] == "sig" and k["alg"] == "ES256"
    assert res.trust.kid in {k["kid"] for k in doc["keys"]}


def test_spiffe_bundle(client: TestClient[Litestar], res: Resources) -> None:
    r = client.get("/.well-known/spiffe-bundle")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert set(doc) == {"keys", "spiffe_sequence", "spiffe_refresh_hint"}
    assert isinstance(doc["spiffe_sequence"], int) and doc["spiffe_sequence"] >= 1
    assert isinstance(doc["spiffe_refresh_hint"], int) and doc["spiffe_refresh_hint"] > 0
    for k in doc["keys"]:
        _public_jwk(k)
        assert k["use"] == "jwt-svid"
        assert "alg" not in k or k["alg"] == "ES256"
    bundle = TrustBundle.from_spiffe_json(res.config.trust_domain, r.content)
    assert res.trust.kid in bundle.keys
    # the JWKS and the bundle publish the same keys
    jwks = client.get("/.well-known/jwks.json").json()
    strip = lambda k: (k["kid"], k["x"], k["y"])  # noqa: E731
    assert sorted(map(strip, jwks["keys"])) == sorted(map(strip, doc["keys"]))


def test_circuits(client: TestClient[Litestar], res: Resources) -> None:
    r = client.get("/v1/circuits")
    assert r.status_code == 200
    (circuit,) = r.json()
    assert circuit["id"] == res.circuit_id
    assert circuit["id"].startswith("sha256:")
    assert circuit["name"] == "age_gte"
    assert circuit["predicates"] == ["age_gte"]
    assert circuit["n_public"] == 9 == len(circuit["public_signals"])
    assert circuit["public_signals"][:2] == ["result", "nullifier"]
    path = f"/v1/circuits/{circuit['id']}/verification_key"
    assert circuit["verification_key_uri"].endswith(path)
    r = client.get(path)
    assert r.status_code == 200
    vk = groth16.load_verification_key(r.json())
    assert vk.circuit_id == res.circuit_id
    assert vk.n_public == 9
    assert r.json()["protocol"] == "groth16" and r.json()["curve"] == "bn128"


def test_verification_key_unknown(client: TestClient[Litestar]) -> None:
    for cid in [
        "sha256:" + "0" * 64,
        "sha256:" + "F" * 64,
        "sha256:abc",
        "age_gte",
        "x" * 3000,
        "sha256:" + "0" * 64 + "0",
    ]:
        assert_problem(client.get(f"/v1/circuits/{cid}/verification_key"), 404)


def _assert_no_secrets(view: dict[str, Any]) -> None:
    for k in view:
        assert k not in SECRETISH, k
        assert "secret" not in k and "private" not in k and "token" not in k
    assert "eyJ" not in repr(view)  # no JWS (an SVID or attestation)


def test_agent_views(
    client: TestClient[Litestar], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    c = client
    # a completed flow: the agent is retired
    created = create(c)
    hreq = fetch(c, created)
    done = present(c, hreq, proof_body(prove(res, holder, leap_cred, hreq))).json()
    r = c.get(f"/v1/agents/{done['agent_id']}")
    assert r.status_code == 200
    view = r.json()
    _assert_no_secrets(view)
    assert view["id"] == done["agent_id"]
    assert view["state"] == "retired"
    assert view["verification_id"] == created.id
    assert view["task"] == "verify-age_gte"
    assert view["spiffe_id"] == (
        f"spiffe://{res.config.trust_domain}/agent/verify-age_gte/{done['agent_id']}"
    )
    assert view["audience"] == created.body["audience"]
    for stamp in ("created_at", "running_at", "attested_at", "retired_at", "expires_at"):
        assert view[stamp].endswith("Z"), stamp
    assert view["created_at"] <= view["running_at"] <= view["attested_at"] <= view["retired_at"]
    assert view["failed_reason"] is None
    assert len(view["key_thumbprint"]) == 43

    # a refused delegated flow: the agent failed, with the reason
    created = create(c)
    hreq = fetch(c, created)
    r = present(c, hreq, delegated_body(leap_cred, Holder().secret))
    assert r.status_code == 422
    agent_id = c.get(created.read_path, params=created.read_params).json()["agent_id"]
    view = c.get(f"/v1/agents/{agent_id}").json()
    _assert_no_secrets(view)
    assert view["state"] == "failed"
    assert view["failed_reason"] == "wrong_holder"
    assert view["task"] == "prove-age_gte"
    assert view["attested_at"] is None and view["retired_at"] is None

    for odd in ["nosuchagent", "x" * 65, "%00"]:
        assert_problem(c.get(f"/v1/agents/{odd}"), 404)


def test_health(client: TestClient[Litestar]) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "ready"
    assert doc["store"] == "ok"
    assert doc["pool"]["in_flight"] == 0
    assert doc["pool"]["capacity"] >= 1


def test_openapi(client: TestClient[Litestar]) -> None:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] == "zkattest"
    paths = set(doc["paths"])
    v1 = {p for p in paths if p.startswith("/v1")}
    assert v1 == V1_PATHS, v1 ^ V1_PATHS
    assert {
        "/.well-known/jwks.json",
        "/.well-known/spiffe-bundle",
        "/.well-known/oauth-authorization-server",
        "/oauth/token",
        "/oauth/jwks",
        "/healthz",
        "/readyz",
    } <= paths
    # every /v1 route of the app is documented
    routes = {re.sub(r":\w+}", "}", route.path) for route in client.app.routes}
    assert {p for p in routes if p.startswith("/v1")} == V1_PATHS
    ops = doc["paths"]
    assert "post" in ops["/v1/verifications"]
    assert "get" in ops["/v1/verifications/{vid}"]
    assert "post" in ops["/v1/verifications/{vid}/presentation"]
    assert "post" in ops["/v1/attestations/verify"]
    # the request bodies are described by their schemas
    body = ops["/v1/verifications"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]
