"""The relying-party endpoints refuse every request without a good DPoP-bound access
token, over HTTP through the real app: ``POST /v1/verifications``, ``GET
/v1/verifications/{id}`` and ``GET /v1/approvals``.

- RFC 9449 §7: the ``DPoP`` scheme only (``Bearer`` refused), a proof for this method and
  URI, fresh, used once, with ``ath`` of this token and signed by the key the token is
  bound to (``cnf.jkt``); server nonces when they are turned on for resources.
- RFC 9068 / RFC 8707: our signature and algorithm only, unexpired, for this API.
- RFC 6750 §3.1: 401 with a ``WWW-Authenticate: DPoP`` challenge, 403
  ``insufficient_scope``.
- RFC 7636: the PKCE verifier of the verification; another client's verification does
  not exist for the caller (404, never 403).
- A refused request consumes nothing: the same proof, the same token and the same
  verification still work afterwards.

Every refusal is RFC 9457 problem details with the ``reason`` the service sets.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.oauth.clients import ClientRegistry
from zkattest.service import Resources, create_app

from .conftest import (
    BASE,
    Party,
    assert_problem,
    async_client,
    check_created,
    create_body,
    services,
)
from .stock_rp import ACCESS_TOKEN_TYPE, ASSERTION_TYPE, TOKEN_EXCHANGE, StockRP, public_jwk

TOKEN_URL = f"{BASE}/oauth/token"
DROP = StockRP.DROP
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{32}")
_OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], *, secret: bytes | None) -> str:
    """HMAC-SHA256 under ``secret``, or (None) ``alg: none`` with a junk signature."""
    h = b64(json.dumps(header, separators=(",", ":")).encode())
    p = b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = b"x" * 16 if secret is None else hmac.new(secret, f"{h}.{p}".encode(), "sha256").digest()
    return f"{h}.{p}.{b64(sig)}"


def claims_of(token: str) -> dict[str, Any]:
    out: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return out


def ath(token: str) -> str:
    return b64(hashlib.sha256(token.encode()).digest())


@contextlib.contextmanager
def labelled(case: str) -> Iterator[None]:
    """Name the case in a failure of a loop over cases."""
    try:
        yield
    except AssertionError as e:
        raise AssertionError(f"case {case!r}: {e}") from e


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    @property
    def t(self) -> int:
        return int(self.now)


@dataclasses.dataclass
class Api:
    """One app with the test's clock: tokens from its token endpoint, and requests to
    its relying-party endpoints with DPoP proofs made at the clock's time."""

    http: TestClient[Litestar]
    clock: Clock

    @property
    def app(self) -> Litestar:
        app = self.http.app
        assert isinstance(app, Litestar)
        return app

    def nonce(self) -> str:
        r = self.http.post(
            "/oauth/token",
            content=b"",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return r.headers["dpop-nonce"]

    def token(self, rp: StockRP, **form: str) -> str:
        t = self.clock.t
        body = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": rp.assertion(BASE, iat=t, exp=t + 60),
            **form,
        }
        proof = rp.dpop("POST", TOKEN_URL, nonce=self.nonce(), iat=t)
        r = self.http.post("/oauth/token", data=body, headers={"DPoP": proof})
        assert r.status_code == 200, r.text
        tok = str(r.json()["access_token"])
        rp.token = tok
        return tok

    def proof(self, rp: StockRP, method: str, path: str, token: str | None, **kw: Any) -> str:
        kw.setdefault("iat", self.clock.t)
        url = kw.pop("url", BASE + path)
        saved, rp.nonce = rp.nonce, None  # a nonce only when the test gives one
        try:
            return rp.dpop(method, url, token=token, **kw)
        finally:
            rp.nonce = saved

    def headers(
        self, rp: StockRP, method: str, path: str, token: str | None = None, **kw: Any
    ) -> dict[str, str]:
        token = token or rp.token
        assert token is not None
        return {"Authorization": f"DPoP {token}", "DPoP": self.proof(rp, method, path, token, **kw)}

    def create(self, headers: dict[str, str], verifier: str | None = None) -> httpx.Response:
        body = create_body(verifier or secrets.token_urlsafe(48))
        return self.http.post("/v1/verifications", json=body, headers=headers)

    def created(self, rp: StockRP) -> tuple[str, str]:
        """(id, verifier) of a verification ``rp`` creates with its current token."""
        verifier = secrets.token_urlsafe(48)
        r = self.create(self.headers(rp, "POST", "/v1/verifications"), verifier)
        return check_created(r, verifier).id, verifier


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _api(res: Resources, clock: Clock) -> Iterator[Api]:
    with TestClient(create_app(resources=res, clock=clock)) as http:
        yield Api(http, clock)


@pytest.fixture
def api(auth_res: Resources, clock: Clock) -> Iterator[Api]:
    yield from _api(auth_res, clock)


def refused(
    r: httpx.Response, status: int, reason: str, *, error: str | None = None
) -> dict[str, Any]:
    """Problem details with ``reason``; a 401 carries a DPoP challenge (with ``error``
    when given)."""
    body = assert_problem(r, status, reason)
    assert "eyJ" not in r.text  # no token or proof echoed
    if status == 401:
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith("DPoP "), challenge
        if error is not None:
            assert f'error="{error}"' in challenge, challenge
            assert body["type"] == f"urn:zkattest:problem:{error.replace('_', '-')}"
    return body


# -- the three endpoints, each with a request that succeeds ------------------------------------


@dataclasses.dataclass
class Target:
    method: str
    path: str
    send: Callable[[dict[str, str]], httpx.Response]
    ok: int


def target(api: Api, name: str, rp: StockRP) -> Target:
    """An endpoint ``rp`` (holding a token) may call: the request, and its success status."""
    if name == "create":
        return Target("POST", "/v1/verifications", api.create, 201)
    if name == "read":
        vid, verifier = api.created(rp)
        path = f"/v1/verifications/{vid}"
        return Target(
            "GET",
            path,
            lambda h: api.http.get(path, params={"code_verifier": verifier}, headers=h),
            200,
        )
    assert name == "approvals"
    return Target("GET", "/v1/approvals", lambda h: api.http.get("/v1/approvals", headers=h), 200)


ENDPOINTS = ["create", "read", "approvals"]


@pytest.fixture(params=ENDPOINTS)
def alice_at(request: pytest.FixtureRequest, api: Api, party: Party) -> Target:
    """Each endpoint, called by alice (a person: age_gte for RP, and approve)."""
    api.token(party.alice)
    return target(api, request.param, party.alice)


def test_the_right_request_succeeds(api: Api, party: Party, alice_at: Target) -> None:
    r = alice_at.send(api.headers(party.alice, alice_at.method, alice_at.path))
    assert r.status_code == alice_at.ok, r.text


def test_no_authorization(api: Api, alice_at: Target) -> None:
    body = refused(alice_at.send({}), 401, "no_token")
    assert 'algs="' in alice_at.send({}).headers["www-authenticate"]
    assert body["type"] == "urn:zkattest:problem:invalid-token"


def test_bearer_scheme_is_refused(api: Api, party: Party, alice_at: Target) -> None:
    h = api.headers(party.alice, alice_at.method, alice_at.path)
    h["Authorization"] = h["Authorization"].replace("DPoP ", "Bearer ", 1)
    refused(alice_at.send(h), 401, "bearer_scheme", error="invalid_token")
    # the proof was not consumed: with the right scheme it goes through
    h["Authorization"] = h["Authorization"].replace("Bearer ", "DPoP ", 1)
    assert alice_at.send(h).status_code == alice_at.ok


MALFORMED = [
    "DPoP",
    "DPoP ",
    "Basic YWxpY2U6c2VjcmV0",
    "DPoP not-a-token",
    "DPoP a.b.c.d",
    "DPoP a.b",
    "DPoP {token} extra",
    "DPoP\t{token}",
    "DPoP{token}",
    "Token {token}",
    "DPoP " + "a" * 9000 + ".b.c",
]


def test_malformed_authorization(api: Api, party: Party, alice_at: Target) -> None:
    token = party.alice.token
    assert token is not None
    h = api.headers(party.alice, alice_at.method, alice_at.path)
    for value in MALFORMED:
        with labelled(value[:40]):
            bad = {**h, "Authorization": value.format(token=token)}
            refused(alice_at.send(bad), 401, "malformed", error="invalid_request")
    assert alice_at.send(h).status_code == alice_at.ok  # the proof is still unused


def test_scheme_is_case_insensitive(api: Api, party: Party, alice_at: Target) -> None:
    h = api.headers(party.alice, alice_at.method, alice_at.path)
    h["Authorization"] = h["Authorization"].replace("DPoP ", "dpop ", 1)
    assert alice_at.send(h).status_code == alice_at.ok


def _forged(api: Api, party: Party, kind: str) -> str:
    real = party.alice.token
    assert real is not None
    header, claims = jwt.get_unverified_header(real), claims_of(real)
    if kind == "foreign-signature":
        return jwt.encode(claims, _OTHER_KEY, algorithm="ES256", headers=header)
    if kind == "alg-none":
        return forge({**header, "alg": "none"}, claims, secret=None)
    if kind == "hs256-public-key":
        ours = jwt.PyJWKSet.from_dict(api.http.get("/oauth/jwks").json()).keys[0].key
        secret = ours.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return forge({**header, "alg": "HS256"}, claims, secret=secret)
    if kind == "typ-jwt":
        return jwt.encode(claims, _OTHER_KEY, algorithm="ES256", headers={**header, "typ": "JWT"})
    if kind == "scope-widened":
        raw_h, _, sig = real.split(".")
        body = b64(json.dumps({**claims, "scope": "approve verify:age_gte verify:x"}).encode())
        return f"{raw_h}.{body}.{sig}"
    tokens = services(api.app).tokens
    if kind == "other-audience":
        aud, jkt = "https://elsewhere", party.alice.jkt
    else:
        assert kind == "unbound"
        aud, jkt = BASE, None
    return tokens.mint(
        sub="alice",
        client_id="alice",
        aud=aud,
        scope=["approve", "verify:age_gte"],
        jkt=jkt,
        now=api.clock.t,
    ).raw


BAD_TOKENS = {
    "foreign-signature": "bad_signature",
    "alg-none": "bad_alg",
    "hs256-public-key": "bad_alg",
    "typ-jwt": "bad_typ",
    "scope-widened": "bad_signature",
    "other-audience": "bad_audience",
    "unbound": "unbound",
}


def test_bad_token_is_refused_and_burns_nothing(api: Api, party: Party, alice_at: Target) -> None:
    for kind, reason in BAD_TOKENS.items():
        with labelled(kind):
            good = api.headers(party.alice, alice_at.method, alice_at.path)
            bad = _forged(api, party, kind)
            # the proof is right for the forged token (ath) and signed by alice's DPoP key
            h = api.headers(party.alice, alice_at.method, alice_at.path, token=bad)
            refused(alice_at.send(h), 401, reason, error="invalid_token")
            # the good token's proof with a forged token: refused before the proof is used
            refused(alice_at.send({**good, "Authorization": f"DPoP {bad}"}), 401, reason)
            assert alice_at.send(good).status_code == alice_at.ok


def test_expired_token(api: Api, party: Party, alice_at: Target) -> None:
    ttl = services(api.app).tokens.ttl
    api.clock.now += ttl + 4  # within the 5 s leeway
    r = alice_at.send(api.headers(party.alice, alice_at.method, alice_at.path))
    assert r.status_code == alice_at.ok, r.text
    api.clock.now += 1
    h = api.headers(party.alice, alice_at.method, alice_at.path)
    refused(alice_at.send(h), 401, "expired", error="invalid_token")


def test_token_issued_in_the_future(api: Api, party: Party, alice_at: Target) -> None:
    api.clock.now += 60
    api.token(party.alice)
    api.clock.now -= 60
    h = api.headers(party.alice, alice_at.method, alice_at.path)
    refused(alice_at.send(h), 401, "future_iat", error="invalid_token")


def test_removed_client_token_is_refused(
    api: Api, party: Party, alice_at: Target, auth_res: Resources
) -> None:
    assert ClientRegistry(auth_res.config.clients_path).remove("alice")
    h = api.headers(party.alice, alice_at.method, alice_at.path)
    refused(alice_at.send(h), 401, "no_client", error="invalid_token")


def _exchange(api: Api, actor: StockRP, subject: str) -> str:
    return api.token(
        actor,
        grant_type=TOKEN_EXCHANGE,
        subject_token=subject,
        subject_token_type=ACCESS_TOKEN_TYPE,
    )


@pytest.mark.parametrize(
    ("revoke", "depth"),
    [("alice", 1), ("alice", 2), ("assistant", 2)],
    ids=["alice-assistant", "alice-assistant-under-shop", "assistant-shop"],
)
def test_revoked_delegation_revokes_delegated_tokens(
    api: Api, party: Party, auth_res: Resources, revoke: str, depth: int
) -> None:
    """A delegated token stops working as soon as the registry drops any hop of its
    chain (alice -> assistant -> shop), and works again when the hop comes back."""
    token = _exchange(api, party.assistant, api.token(party.alice))
    holder = party.assistant
    if depth == 2:
        token = _exchange(api, party.shop, token)
        holder = party.shop
    assert len(api.created(holder)) == 2  # works before
    reg = ClientRegistry(auth_res.config.clients_path)
    entry = reg.get(revoke)
    assert entry is not None
    reg.add(dataclasses.replace(entry, delegates=frozenset()), replace=True)
    h = api.headers(holder, "POST", "/v1/verifications", token=token)
    refused(api.create(h), 401, "delegation_revoked", error="invalid_token")
    reg.add(entry, replace=True)
    assert len(api.created(holder)) == 2


def test_removed_subject_revokes_delegated_tokens(
    api: Api, party: Party, auth_res: Resources
) -> None:
    _exchange(api, party.assistant, api.token(party.alice))
    assert ClientRegistry(auth_res.config.clients_path).remove("alice")
    h = api.headers(party.assistant, "POST", "/v1/verifications")
    refused(api.create(h), 401, "delegation_revoked", error="invalid_token")


# -- the DPoP proof at a resource (RFC 9449 §4.3, §7) ------------------------------------------


_OTHER_ED_KEY = ed25519.Ed25519PrivateKey.generate()


def _bad_proofs(
    api: Api, party: Party, t: Target
) -> dict[str, tuple[Callable[[], str | None], str]]:
    """Proofs that must not pass at ``t`` for alice's current token (made on demand)."""
    alice, shop = party.alice, party.shop
    m, p = t.method, t.path
    tok = alice.token
    assert tok is not None

    def proof(rp: StockRP = alice, method: str = m, token: str | None = tok, **kw: Any) -> str:
        return api.proof(rp, method, p, token, **kw)

    def hs256() -> str:
        header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": public_jwk(alice.dpop_key)}
        claims = {"jti": "j", "htm": m, "htu": BASE + p, "iat": api.clock.t, "ath": ath(tok)}
        secret = alice.dpop_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return forge(header, claims, secret=secret)

    shop_private = jwt.algorithms.ECAlgorithm.to_jwk(shop.dpop_key, as_dict=True)
    return {
        "missing": (lambda: None, "missing_proof"),
        "garbage": (lambda: "x.y.z", "malformed"),
        "htm": (lambda: proof(method="GET" if m == "POST" else "POST"), "htm_mismatch"),
        "htm-lowercase": (lambda: proof(method=m.lower()), "htm_mismatch"),
        "htu-path": (lambda: proof(url=BASE + p + "/x"), "htu_mismatch"),
        "htu-token-endpoint": (lambda: proof(url=TOKEN_URL), "htu_mismatch"),
        "htu-host": (lambda: proof(url="http://localhost:8080" + p), "htu_mismatch"),
        "htu-scheme": (lambda: proof(url="https://127.0.0.1:8080" + p), "htu_mismatch"),
        "iat-stale": (lambda: proof(iat=api.clock.t - 66), "stale_iat"),
        "iat-future": (lambda: proof(iat=api.clock.t + 6), "future_iat"),
        "typ": (lambda: proof(header={"typ": "JWT"}), "bad_typ"),
        "ath-missing": (lambda: proof(token=None), "missing_ath"),
        "ath-other-token": (
            lambda: proof(token=_forged(api, party, "unbound")),
            "ath_mismatch",
        ),
        "ath-not-a-string": (lambda: proof(ath=7), "ath_mismatch"),
        "other-key": (lambda: proof(rp=shop), "jkt_mismatch"),
        "other-key-same-jwk": (
            lambda: proof(key=_OTHER_ED_KEY, jwk_key=alice.dpop_key),
            "bad_signature",
        ),
        "private-jwk": (lambda: proof(rp=shop, header={"jwk": shop_private}), "bad_jwk"),
        "hs256": (hs256, "bad_alg"),
    }


def test_bad_proof_is_refused(api: Api, party: Party, alice_at: Target) -> None:
    token = party.alice.token
    for case, (make, reason) in _bad_proofs(api, party, alice_at).items():
        with labelled(case):
            h = {"Authorization": f"DPoP {token}"}
            proof = make()
            if proof is not None:
                h["DPoP"] = proof
            r = alice_at.send(h)
            refused(r, 401, reason, error="invalid_dpop_proof")
            assert r.headers["www-authenticate"] == 'DPoP error="invalid_dpop_proof"'
            # nothing is spent
            h = api.headers(party.alice, alice_at.method, alice_at.path)
            assert alice_at.send(h).status_code == alice_at.ok


def test_replayed_proof_is_refused(api: Api, party: Party, alice_at: Target) -> None:
    h = api.headers(party.alice, alice_at.method, alice_at.path)
    assert alice_at.send(h).status_code == alice_at.ok
    refused(alice_at.send(h), 401, "replayed_jti", error="invalid_dpop_proof")


def test_proof_edges(api: Api, party: Party, alice_at: Target) -> None:
    """iat at the window's edges; htu compared after normalization (the query dropped)."""
    age = services(api.app).config.dpop_max_age
    for kw in (
        {"iat": api.clock.t - age - 5},
        {"iat": api.clock.t + 5},
        {"url": f"HTTP://127.0.0.1:8080{alice_at.path}?code_verifier=x"},
    ):
        h = api.headers(party.alice, alice_at.method, alice_at.path, **kw)
        assert alice_at.send(h).status_code == alice_at.ok, kw


@pytest.mark.parametrize("name", ["authorization", "dpop"])
def test_two_headers_are_refused(auth_res: Resources, party: Party, name: str) -> None:
    """Two Authorization or DPoP fields (sent apart by the in-loop client, as a server
    passes them on) are refused, and consume nothing."""
    alice = party.alice

    async def go() -> None:
        async with async_client(create_app(resources=auth_res)) as http:
            r = await http.post(
                "/oauth/token",
                content=b"",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": alice.assertion(BASE),
            }
            proof = alice.dpop("POST", TOKEN_URL, nonce=r.headers["dpop-nonce"])
            r = await http.post("/oauth/token", data=form, headers={"DPoP": proof})
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            h = {
                "Authorization": f"DPoP {token}",
                "DPoP": alice.dpop("GET", f"{BASE}/v1/approvals", token=token),
            }
            twice = [(k, v) for k, v in h.items()] + [
                (k, v) for k, v in h.items() if k.lower() == name
            ]
            r = await http.get("/v1/approvals", headers=twice)
            refused(r, 401, "duplicate_header", error="invalid_request")
            r = await http.get("/v1/approvals", headers=h)
            assert r.status_code == 200, r.text

    asyncio.run(go())


# -- scope, ownership, PKCE --------------------------------------------------------------------


def test_insufficient_scope_to_create(api: Api, party: Party) -> None:
    api.token(party.alice, scope="approve")
    h = api.headers(party.alice, "POST", "/v1/verifications")
    r = api.create(h)
    refused(r, 403, "insufficient_scope")
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("DPoP ") and 'error="insufficient_scope"' in challenge
    assert 'scope="verify:age_gte"' in challenge


def test_insufficient_scope_to_read(api: Api, party: Party) -> None:
    api.token(party.alice)
    vid, verifier = api.created(party.alice)
    api.token(party.alice, scope="approve")
    path = f"/v1/verifications/{vid}"
    h = api.headers(party.alice, "GET", path)
    r = api.http.get(path, params={"code_verifier": verifier}, headers=h)
    refused(r, 403, "insufficient_scope")
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("DPoP ") and 'error="insufficient_scope"' in challenge
    assert 'scope="verify:age_gte"' in challenge


def test_insufficient_scope_for_approvals(api: Api, party: Party) -> None:
    api.token(party.shop)
    r = api.http.get("/v1/approvals", headers=api.headers(party.shop, "GET", "/v1/approvals"))
    refused(r, 403, "insufficient_scope")
    api.token(party.alice, scope="verify:age_gte")
    r = api.http.get("/v1/approvals", headers=api.headers(party.alice, "GET", "/v1/approvals"))
    refused(r, 403, "insufficient_scope")


def test_another_clients_verification_does_not_exist(api: Api, party: Party) -> None:
    api.token(party.shop)
    vid, verifier = api.created(party.shop)
    api.token(party.alice)

    def read(who: StockRP, path: str) -> httpx.Response:
        h = api.headers(who, "GET", path)
        return api.http.get(path, params={"code_verifier": verifier}, headers=h)

    theirs = assert_problem(read(party.alice, f"/v1/verifications/{vid}"), 404)
    missing = assert_problem(read(party.alice, f"/v1/verifications/{'A' * len(vid)}"), 404)
    # indistinguishable from a verification that does not exist
    assert {k: v for k, v in theirs.items() if k != "instance"} == {
        k: v for k, v in missing.items() if k != "instance"
    }
    assert read(party.shop, f"/v1/verifications/{vid}").status_code == 200


def test_pkce(api: Api, party: Party) -> None:
    api.token(party.shop)
    vid, verifier = api.created(party.shop)
    path = f"/v1/verifications/{vid}"

    def read(params: dict[str, str]) -> httpx.Response:
        return api.http.get(path, params=params, headers=api.headers(party.shop, "GET", path))

    refused(read({"code_verifier": secrets.token_urlsafe(48)}), 403, "pkce_mismatch")
    refused(
        read({"code_verifier": verifier[:-1] + ("A" if verifier[-1] != "A" else "B")}),
        403,
        "pkce_mismatch",
    )
    refused(read({}), 400, "missing_code_verifier")
    assert_problem(read({"code_verifier": "short"}), 400)
    # the refusals consumed nothing: the right verifier still reads it
    r = read({"code_verifier": verifier})
    assert r.status_code == 200 and r.json()["id"] == vid and r.json()["status"] == "pending"


def test_refusals_consume_nothing(api: Api, party: Party) -> None:
    """A run of refused requests (each stopped at a different check) leaves the token,
    the proof and the verification as they were."""
    api.token(party.shop)
    vid, verifier = api.created(party.shop)
    path = f"/v1/verifications/{vid}"
    good = api.headers(party.shop, "GET", path)
    forged = _forged_shop(api, party)
    attempts: list[tuple[dict[str, str], dict[str, str], int]] = [
        ({**good, "Authorization": f"DPoP {forged}"}, {"code_verifier": verifier}, 401),
        ({k: v for k, v in good.items() if k != "DPoP"}, {"code_verifier": verifier}, 401),
        (
            {**good, "DPoP": api.proof(party.shop, "POST", path, party.shop.token)},
            {"code_verifier": verifier},
            401,
        ),
    ]
    for headers, params, status in attempts:
        assert api.http.get(path, params=params, headers=headers).status_code == status
    r = api.http.get(path, params={"code_verifier": verifier}, headers=good)
    assert r.status_code == 200, r.text


def _forged_shop(api: Api, party: Party) -> str:
    real = party.shop.token
    assert real is not None
    return jwt.encode(
        claims_of(real), _OTHER_KEY, algorithm="ES256", headers=jwt.get_unverified_header(real)
    )


# -- server nonces at the resource (RFC 9449 §9) -----------------------------------------------


@pytest.fixture
def nonce_api(auth_res: Resources, clock: Clock) -> Iterator[Api]:
    cfg = msgspec.structs.replace(auth_res.config, dpop_nonce_resource=True)
    yield from _api(dataclasses.replace(auth_res, config=cfg), clock)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_resource_nonce(nonce_api: Api, party: Party, endpoint: str) -> None:
    api = nonce_api
    api.token(party.alice)
    t = target(api, endpoint, party.alice) if endpoint != "read" else None
    if t is None:  # creating the verification to read needs a nonce too
        r = api.create(api.headers(party.alice, "POST", "/v1/verifications"))
        refused(r, 401, "missing_nonce", error="use_dpop_nonce")
        n = r.headers["dpop-nonce"]
        verifier = secrets.token_urlsafe(48)
        h = api.headers(party.alice, "POST", "/v1/verifications", nonce=n)
        vid = check_created(api.create(h, verifier), verifier).id
        path = f"/v1/verifications/{vid}"
        t = Target(
            "GET",
            path,
            lambda h: api.http.get(path, params={"code_verifier": verifier}, headers=h),
            200,
        )
    r = t.send(api.headers(party.alice, t.method, t.path))
    refused(r, 401, "missing_nonce", error="use_dpop_nonce")
    nonce = r.headers["dpop-nonce"]
    assert NONCE_RE.fullmatch(nonce)
    assert r.headers["www-authenticate"] == 'DPoP error="use_dpop_nonce"'
    r = t.send(api.headers(party.alice, t.method, t.path, nonce="A" * 32))
    refused(r, 401, "bad_nonce", error="use_dpop_nonce")
    r = t.send(api.headers(party.alice, t.method, t.path, nonce=nonce))
    assert r.status_code == t.ok, r.text


def test_resource_nonce_expires(nonce_api: Api, party: Party) -> None:
    api = nonce_api
    api.token(party.alice)
    path = "/v1/approvals"
    r = api.http.get(path, headers=api.headers(party.alice, "GET", path))
    nonce = r.headers["dpop-nonce"]
    window = services(api.app).nonces.window
    api.clock.now += 2 * window
    api.token(party.alice)
    r = api.http.get(path, headers=api.headers(party.alice, "GET", path, nonce=nonce))
    refused(r, 401, "bad_nonce", error="use_dpop_nonce")
    fresh = r.headers["dpop-nonce"]
    assert fresh != nonce
    r = api.http.get(path, headers=api.headers(party.alice, "GET", path, nonce=fresh))
    assert r.status_code == 200, r.text


def test_percent_encoded_path_is_compared_as_sent(
    auth_client: TestClient[Litestar], party: Party
) -> None:
    """The proof names the URL the client used, percent-encoding and all: a correctly
    signed proof for an encoded path reaches the handler (404: no such verification)
    instead of failing the htu comparison."""
    c, shop = auth_client, party.shop
    shop.get_token(c, BASE)
    path = "/v1/verifications/a%20b?code_verifier=" + "v" * 43
    r = c.get(path, headers=shop.auth("GET", BASE + path.split("?")[0]))
    assert r.status_code == 404, r.text
