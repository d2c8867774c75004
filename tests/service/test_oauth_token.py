"""The token endpoint, ``POST /oauth/token``, refuses what the RFCs say it must, over
HTTP through the real app, with JWTs made by a stock library (PyJWT, tests/service/
stock_rp.py) or by hand for the forgeries no library will produce.

- RFC 9449 DPoP: server nonces (missing, foreign, garbage, expired), the proof's header
  (typ, alg, jwk), signature, htm/htu/iat, one use of each proof, one DPoP header;
  a refused proof leaves the client assertion unused.
- RFC 7523 private_key_jwt: audience, lifetime, jti, one use, iss/sub, the key, the
  algorithm, client_assertion_type, the form's client_id, an unregistered client.
- RFC 6749 form rules: parameters at most once, the media type, UTF-8, grant_type,
  scope (RFC 6749 §3.3), resource (RFC 8707).
- RFC 8693 token exchange: the delegation chain (``act``) checked with PyJWT against
  the published JWKS, may_act, the depth (configured and by policy), actor tokens,
  bad subject tokens, revocation through the registry, requested_token_type; the
  subject token decides, with or without an actor token.

Every refusal is checked for its status, its RFC 6749 error code, ``Cache-Control:
no-store``, a ``DPoP-Nonce`` header, and (through the service's "token refused" log
record) the finer reason, so that one refusal is not mistaken for another.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.oauth.clients import ClientRegistry, client_from_json
from zkattest.oauth.nonce import NonceIssuer
from zkattest.service import Resources, create_app

from .conftest import BASE, RP, Party, async_client, exchange_form, services, with_db
from .stock_rp import (
    ACCESS_TOKEN_TYPE,
    ASSERTION_TYPE,
    TOKEN_EXCHANGE,
    StockRP,
    public_jwk,
)

TOKEN_URL = f"{BASE}/oauth/token"
FORM = "application/x-www-form-urlencoded"
DROP = StockRP.DROP
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{32}")


# -- hand-made JWS (what no JOSE library will sign) ----------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], *, secret: bytes | None) -> str:
    """A compact JWS: HMAC-SHA256 under ``secret``, or (None) an unsigned one with a
    junk signature segment (an empty segment is not even a compact JWS)."""
    h = b64(json.dumps(header, separators=(",", ":")).encode())
    p = b64(json.dumps(claims, separators=(",", ":")).encode())
    if secret is None:
        return f"{h}.{p}.{b64(b'x' * 16)}"
    return f"{h}.{p}.{b64(hmac.new(secret, f'{h}.{p}'.encode(), hashlib.sha256).digest())}"


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """``alg: none`` as RFC 7519 §6 writes it: an empty signature segment."""
    return forge(header, claims, secret=None).rsplit(".", 1)[0] + "."


def pem(key: Any) -> bytes:
    """The public key as the PEM an HS256 "key confusion" forgery uses as its secret."""
    out: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return out


def private_jwk(key: Any) -> dict[str, Any]:
    return dict(jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True))


def claims_of(token: str) -> dict[str, Any]:
    out: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return out


@contextlib.contextmanager
def labelled(case: str) -> Iterator[None]:
    """Name the case in a failure of a loop over cases."""
    try:
        yield
    except AssertionError as e:
        raise AssertionError(f"case {case!r}: {e}") from e


# -- the endpoint, with a clock the test sets --------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    @property
    def t(self) -> int:
        return int(self.now)


@dataclasses.dataclass
class Endpoint:
    """``POST /oauth/token`` of one app, its clock and the log of its refusals."""

    http: TestClient[Litestar]
    caplog: pytest.LogCaptureFixture
    clock: Clock
    last_nonce: str | None = None
    nonce_at: float | None = None

    @property
    def app(self) -> Litestar:
        app = self.http.app
        assert isinstance(app, Litestar)
        return app

    def nonce(self) -> str:
        """A nonce the server handed out (any token endpoint answer carries one) at
        the clock's current time."""
        if self.last_nonce is None or self.nonce_at != self.clock.now:
            self.post({}, dpop=None)
        assert self.last_nonce is not None
        return self.last_nonce

    def assertion(self, rp: StockRP, aud: Any = BASE, **claims: Any) -> str:
        claims.setdefault("iat", self.clock.t)
        claims.setdefault("exp", self.clock.t + 60)
        return rp.assertion(aud, **claims)

    def proof(
        self,
        rp: StockRP,
        *,
        method: str = "POST",
        url: str = TOKEN_URL,
        nonce: str | None = None,
        **kw: Any,
    ) -> str:
        kw.setdefault("iat", self.clock.t)
        return rp.dpop(method, url, nonce=nonce or self.nonce(), **kw)

    def proof_without_nonce(self, rp: StockRP, **kw: Any) -> str:
        saved, rp.nonce = rp.nonce, None
        try:
            kw.setdefault("iat", self.clock.t)
            return rp.dpop("POST", TOKEN_URL, **kw)
        finally:
            rp.nonce = saved

    def post(
        self,
        form: dict[str, str] | list[tuple[str, str]] | bytes,
        *,
        dpop: str | list[str] | None,
        content_type: str | None = FORM,
    ) -> httpx.Response:
        self.caplog.clear()
        headers: list[tuple[str, str]] = []
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        if isinstance(dpop, str):
            headers.append(("DPoP", dpop))
        elif dpop is not None:
            headers += [("DPoP", p) for p in dpop]
        content = form if isinstance(form, bytes) else urlencode(form).encode()
        r = self.http.post("/oauth/token", content=content, headers=headers)
        if "dpop-nonce" in r.headers:
            self.last_nonce = r.headers["dpop-nonce"]
            self.nonce_at = self.clock.now
        return r

    def client_form(self, rp: StockRP, assertion: str | None = None) -> dict[str, str]:
        return {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion or self.assertion(rp),
        }

    def cc(
        self,
        rp: StockRP,
        *,
        assertion: str | None = None,
        dpop: str | list[str] | object | None = DROP,
        **extra: str,
    ) -> httpx.Response:
        """A client_credentials request (``dpop`` defaults to a good proof)."""
        form = {"grant_type": "client_credentials", **self.client_form(rp, assertion), **extra}
        proof = self.proof(rp) if dpop is DROP else dpop
        assert proof is None or isinstance(proof, str | list)
        return self.post(form, dpop=proof)

    def exchange(
        self, rp: StockRP, subject: str, actor: str | None = None, **extra: str
    ) -> httpx.Response:
        form = {**exchange_form(subject, actor, **extra), **self.client_form(rp)}
        return self.post(form, dpop=self.proof(rp))

    def token(self, rp: StockRP, **extra: str) -> str:
        tok = str(self.ok(self.cc(rp, **extra))["access_token"])
        rp.token = tok
        return tok

    def reasons(self) -> list[str]:
        return [
            str(getattr(rec, "reason", None))
            for rec in self.caplog.records
            if rec.getMessage() == "token refused"
        ]

    def ok(self, r: httpx.Response) -> dict[str, Any]:
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        assert NONCE_RE.fullmatch(r.headers["dpop-nonce"])
        body: dict[str, Any] = r.json()
        assert body["token_type"] == "DPoP"
        assert isinstance(body["access_token"], str)
        assert body["expires_in"] > 0
        return body

    def refused(
        self, r: httpx.Response, error: str, reason: str | None, *, status: int | None = None
    ) -> dict[str, Any]:
        """An RFC 6749 §5.2 error answer (and the reason the service logged)."""
        status = status or (401 if error == "invalid_client" else 400)
        assert r.status_code == status, (r.status_code, r.text)
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["content-type"].split(";")[0] == "application/json"
        assert NONCE_RE.fullmatch(r.headers["dpop-nonce"]), r.headers
        body: dict[str, Any] = r.json()
        assert body["error"] == error, body
        assert set(body) == {"error", "error_description"}
        assert isinstance(body["error_description"], str) and body["error_description"]
        assert "eyJ" not in r.text  # no JWT (nor part of one) is echoed
        if reason is not None:
            assert self.reasons() == [reason], (self.reasons(), body)
        return body


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _endpoint(res: Resources, clock: Clock, caplog: pytest.LogCaptureFixture) -> Iterator[Endpoint]:
    caplog.set_level(logging.INFO, logger="zkattest.service")
    with TestClient(create_app(resources=res, clock=clock)) as http:
        yield Endpoint(http, caplog, clock)


@pytest.fixture
def ep(auth_res: Resources, clock: Clock, caplog: pytest.LogCaptureFixture) -> Iterator[Endpoint]:
    yield from _endpoint(auth_res, clock, caplog)


@pytest.fixture
def ep1(
    auth_res: Resources, clock: Clock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> Iterator[Endpoint]:
    """The endpoint with a hard cap of one delegation hop."""
    yield from _endpoint(
        with_db(auth_res, tmp_path / "db-depth1", max_delegation_depth=1), clock, caplog
    )


def registry(res: Resources) -> ClientRegistry:
    return ClientRegistry(res.config.clients_path)


# -- DPoP nonces (RFC 9449 §8) ---------------------------------------------------------------


def test_first_request_without_nonce_is_told_to_use_one(ep: Endpoint, party: Party) -> None:
    a = ep.assertion(party.shop)
    r = ep.cc(party.shop, assertion=a, dpop=ep.proof_without_nonce(party.shop))
    ep.refused(r, "use_dpop_nonce", "missing_nonce")
    nonce = r.headers["dpop-nonce"]
    # the refusal consumed nothing: the same assertion goes through with the nonce
    ep.ok(ep.cc(party.shop, assertion=a, dpop=ep.proof(party.shop, nonce=nonce)))


def _foreign_nonce(ep: Endpoint) -> str:
    return NonceIssuer(secrets.token_bytes(32)).issue(ep.clock())


@pytest.mark.parametrize(
    "make",
    [
        _foreign_nonce,
        lambda ep: "A" * 32,
        lambda ep: "not a nonce",
        lambda ep: ep.nonce()[:-1] + ("A" if ep.nonce()[-1] != "A" else "B"),
    ],
    ids=["other-key", "garbage-32", "garbage", "tampered"],
)
def test_nonce_not_ours_is_refused(
    ep: Endpoint, party: Party, make: Callable[[Endpoint], str]
) -> None:
    a = ep.assertion(party.shop)
    r = ep.cc(party.shop, assertion=a, dpop=ep.proof(party.shop, nonce=make(ep)))
    ep.refused(r, "use_dpop_nonce", "bad_nonce")
    ep.ok(ep.cc(party.shop, assertion=a, dpop=ep.proof(party.shop, nonce=r.headers["dpop-nonce"])))


def test_nonce_lives_two_windows_not_three(ep: Endpoint, party: Party) -> None:
    nonce = ep.nonce()
    window = services(ep.app).nonces.window
    ep.clock.now = (ep.clock.now // window + 1) * window  # the next window: still good
    ep.ok(ep.cc(party.shop, dpop=ep.proof(party.shop, nonce=nonce)))
    ep.clock.now += window  # two windows on: expired
    a = ep.assertion(party.shop)
    r = ep.cc(party.shop, assertion=a, dpop=ep.proof(party.shop, nonce=nonce))
    ep.refused(r, "use_dpop_nonce", "bad_nonce")
    fresh = r.headers["dpop-nonce"]
    assert fresh != nonce
    ep.ok(ep.cc(party.shop, assertion=a, dpop=ep.proof(party.shop, nonce=fresh)))


# -- DPoP proofs (RFC 9449 §4.3) --------------------------------------------------------------

_OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def _flip_signature(jws: str) -> str:
    """The JWS with the first character of its signature changed (6 data bits, so the
    segment stays canonical base64url)."""
    head, sig = jws.rsplit(".", 1)
    return f"{head}.{'B' if sig[0] == 'A' else 'A'}{sig[1:]}"


def _hs256_proof(ep: Endpoint, rp: StockRP) -> str:
    claims = {"jti": secrets.token_urlsafe(8), "htm": "POST", "htu": TOKEN_URL, "iat": ep.clock.t}
    claims["nonce"] = ep.nonce()
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": public_jwk(rp.dpop_key)}
    return forge(header, claims, secret=pem(rp.dpop_key))


def _none_proof(ep: Endpoint, rp: StockRP, *, empty: bool) -> str:
    claims = {"jti": secrets.token_urlsafe(8), "htm": "POST", "htu": TOKEN_URL, "iat": ep.clock.t}
    claims["nonce"] = ep.nonce()
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(rp.dpop_key)}
    return unsigned(header, claims) if empty else forge(header, claims, secret=None)


BAD_PROOFS: dict[str, tuple[Callable[[Endpoint, StockRP], Any], str]] = {
    "missing": (lambda ep, rp: None, "missing_proof"),
    "empty": (lambda ep, rp: "", "malformed"),
    "garbage": (lambda ep, rp: "a.b.c", "malformed"),
    # two DPoP fields joined into one (RFC 9110 §5.3), as the sync test client sends them
    "two-joined": (lambda ep, rp: f"{ep.proof(rp)}, {ep.proof(rp)}", "malformed"),
    "htm-get": (lambda ep, rp: ep.proof(rp, htm="GET"), "htm_mismatch"),
    "htm-lowercase": (lambda ep, rp: ep.proof(rp, htm="post"), "htm_mismatch"),
    "htm-missing": (lambda ep, rp: ep.proof(rp, htm=DROP), "htm_mismatch"),
    "htu-path": (lambda ep, rp: ep.proof(rp, url=f"{BASE}/oauth/jwks"), "htu_mismatch"),
    "htu-subpath": (lambda ep, rp: ep.proof(rp, url=f"{TOKEN_URL}/x"), "htu_mismatch"),
    "htu-host": (
        lambda ep, rp: ep.proof(rp, url="http://localhost:8080/oauth/token"),
        "htu_mismatch",
    ),
    "htu-port": (
        lambda ep, rp: ep.proof(rp, url="http://127.0.0.1:8081/oauth/token"),
        "htu_mismatch",
    ),
    "htu-scheme": (
        lambda ep, rp: ep.proof(rp, url="https://127.0.0.1:8080/oauth/token"),
        "htu_mismatch",
    ),
    "htu-ftp": (lambda ep, rp: ep.proof(rp, url="ftp://127.0.0.1:8080/oauth/token"), "bad_htu"),
    "htu-number": (lambda ep, rp: ep.proof(rp, htu=8080), "bad_htu"),
    "htu-userinfo": (
        lambda ep, rp: ep.proof(rp, url="http://u@127.0.0.1:8080/oauth/token"),
        "bad_htu",
    ),
    "iat-stale": (lambda ep, rp: ep.proof(rp, iat=ep.clock.t - 66), "stale_iat"),
    "iat-future": (lambda ep, rp: ep.proof(rp, iat=ep.clock.t + 6), "future_iat"),
    "iat-string": (lambda ep, rp: ep.proof(rp, iat=str(ep.clock.t)), "bad_iat"),
    "iat-float": (lambda ep, rp: ep.proof(rp, iat=ep.clock.t + 0.5), "bad_iat"),
    "iat-missing": (lambda ep, rp: ep.proof(rp, iat=DROP), "bad_iat"),
    "jti-missing": (lambda ep, rp: ep.proof(rp, jti=DROP), "bad_jti"),
    "jti-empty": (lambda ep, rp: ep.proof(rp, jti=""), "bad_jti"),
    "jti-long": (lambda ep, rp: ep.proof(rp, jti="j" * 257), "bad_jti"),
    "typ-missing": (lambda ep, rp: ep.proof(rp, header={"typ": DROP}), "bad_typ"),
    "typ-jwt": (lambda ep, rp: ep.proof(rp, header={"typ": "JWT"}), "bad_typ"),
    "typ-case": (lambda ep, rp: ep.proof(rp, header={"typ": "DPoP+JWT"}), "bad_typ"),
    "typ-at+jwt": (lambda ep, rp: ep.proof(rp, header={"typ": "at+jwt"}), "bad_typ"),
    "alg-none-empty-sig": (lambda ep, rp: _none_proof(ep, rp, empty=True), "malformed"),
    "alg-none": (lambda ep, rp: _none_proof(ep, rp, empty=False), "bad_alg"),
    "alg-hs256-public-key": (_hs256_proof, "bad_alg"),
    "jwk-missing": (lambda ep, rp: ep.proof(rp, header={"jwk": DROP}), "bad_jwk"),
    "jwk-private": (
        lambda ep, rp: ep.proof(rp, header={"jwk": private_jwk(rp.dpop_key)}),
        "bad_jwk",
    ),
    "jwk-symmetric": (
        lambda ep, rp: ep.proof(rp, header={"jwk": {"kty": "oct", "k": b64(b"k" * 32)}}),
        "bad_jwk",
    ),
    "signed-by-another-key": (
        lambda ep, rp: ep.proof(rp, key=_OTHER_KEY, jwk_key=rp.dpop_key),
        "bad_signature",
    ),
    "signature-flipped": (lambda ep, rp: _flip_signature(ep.proof(rp)), "bad_signature"),
    "crit": (lambda ep, rp: ep.proof(rp, header={"crit": ["exp"]}), "bad_header"),
}


def test_bad_dpop_proof_is_refused_and_burns_nothing(ep: Endpoint, party: Party) -> None:
    """Each case on one app (a case per app would cost more than the checks)."""
    shop = party.shop
    for case, (make, reason) in BAD_PROOFS.items():
        with labelled(case):
            a = ep.assertion(shop)
            ep.refused(ep.cc(shop, assertion=a, dpop=make(ep, shop)), "invalid_dpop_proof", reason)
            # a DPoP refusal does not burn the client assertion
            ep.ok(ep.cc(shop, assertion=a))


def test_htu_compares_after_normalization(ep: Endpoint, party: Party) -> None:
    for url in (
        "HTTP://127.0.0.1:8080/oauth/token",
        f"{TOKEN_URL}?query=dropped",
        f"{TOKEN_URL}#fragment",
        "http://127.0.0.1:8080/oauth/%74oken",
        "http://127.0.0.1:8080/oauth/./token",
    ):
        with labelled(url):
            ep.ok(ep.cc(party.shop, dpop=ep.proof(party.shop, url=url)))


def test_two_dpop_headers_are_refused(
    auth_res: Resources, party: Party, caplog: pytest.LogCaptureFixture
) -> None:
    """Two DPoP header fields (the in-loop client sends them apart, as a server
    would pass them on) are invalid_dpop_proof, and burn nothing."""
    caplog.set_level(logging.INFO, logger="zkattest.service")
    shop = party.shop

    async def go() -> None:
        async with async_client(create_app(resources=auth_res)) as http:
            r = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
            nonce = r.headers["dpop-nonce"]
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": shop.assertion(BASE),
            }
            proofs = [shop.dpop("POST", TOKEN_URL, nonce=nonce) for _ in range(2)]
            caplog.clear()
            r = await http.post(
                "/oauth/token", data=form, headers=[("DPoP", proofs[0]), ("DPoP", proofs[1])]
            )
            assert r.status_code == 400 and r.headers["cache-control"] == "no-store"
            assert r.json()["error"] == "invalid_dpop_proof"
            assert [
                getattr(x, "reason", None) for x in caplog.records if x.msg == "token refused"
            ] == ["repeated"]
            # neither proof nor the assertion was used
            r = await http.post("/oauth/token", data=form, headers={"DPoP": proofs[1]})
            assert r.status_code == 200, r.text

    asyncio.run(go())


def test_iat_window_edges(ep: Endpoint, party: Party) -> None:
    """max_age 60 s plus 5 s leeway either way, inclusive (the clock is the test's)."""
    age = services(ep.app).config.dpop_max_age
    ep.ok(ep.cc(party.shop, dpop=ep.proof(party.shop, iat=ep.clock.t - age - 5)))
    ep.ok(ep.cc(party.shop, dpop=ep.proof(party.shop, iat=ep.clock.t + 5)))
    r = ep.cc(party.shop, dpop=ep.proof(party.shop, iat=ep.clock.t - age - 6))
    ep.refused(r, "invalid_dpop_proof", "stale_iat")


def test_replayed_proof_is_refused(ep: Endpoint, party: Party) -> None:
    proof = ep.proof(party.shop)
    ep.ok(ep.cc(party.shop, dpop=proof))
    a = ep.assertion(party.shop)
    ep.refused(ep.cc(party.shop, assertion=a, dpop=proof), "invalid_dpop_proof", "replayed_jti")
    ep.ok(ep.cc(party.shop, assertion=a))  # the assertion survived the refusal


def test_proof_jti_is_per_key(ep: Endpoint, party: Party) -> None:
    """The replay cache keys on (key, jti): another client's proof with the same jti
    is its own proof, not a replay of the first."""
    ep.ok(ep.cc(party.shop, dpop=ep.proof(party.shop, jti="same-jti")))
    ep.ok(ep.cc(party.other, dpop=ep.proof(party.other, jti="same-jti")))


def test_token_is_bound_to_the_proof_key(ep: Endpoint, party: Party) -> None:
    tok = ep.token(party.shop)
    assert claims_of(tok)["cnf"] == {"jkt": party.shop.jkt}


def test_every_client_algorithm_works(ep: Endpoint, party: Party) -> None:
    for rp in (party.shop, party.other, party.alice, party.assistant, party.bob):
        body = ep.ok(ep.cc(rp))
        c = claims_of(body["access_token"])
        assert (c["sub"], c["client_id"], c["aud"]) == (rp.client_id, rp.client_id, BASE)


def test_dpop_key_may_differ_from_client_key(ep: Endpoint, party: Party) -> None:
    rp = StockRP("shop", alg="ES256", dpop_alg="EdDSA")
    rp.key, rp.kid = party.shop.key, party.shop.kid  # shop's registered client key
    tok = str(ep.ok(ep.cc(rp))["access_token"])
    assert claims_of(tok)["cnf"] == {"jkt": rp.jkt} != {"jkt": party.shop.jkt}


# -- private_key_jwt (RFC 7523) ----------------------------------------------------------------


def _hs256_assertion(ep: Endpoint, rp: StockRP) -> str:
    claims = {
        "iss": rp.client_id,
        "sub": rp.client_id,
        "aud": BASE,
        "iat": ep.clock.t,
        "exp": ep.clock.t + 60,
        "jti": secrets.token_urlsafe(8),
    }
    return forge({"alg": "HS256", "kid": rp.kid}, claims, secret=pem(rp.key))


def _raw_assertion(ep: Endpoint, rp: StockRP, **override: Any) -> str:
    """An assertion signed with PyJWT from claims written here (``DROP`` removes one)."""
    claims = {
        "iss": rp.client_id,
        "sub": rp.client_id,
        "aud": BASE,
        "iat": ep.clock.t,
        "exp": ep.clock.t + 60,
        "jti": secrets.token_urlsafe(8),
        **override,
    }
    claims = {k: v for k, v in claims.items() if v is not DROP}
    return jwt.encode(claims, rp.key, algorithm=rp.alg, headers={"kid": rp.kid})


def _none_assertion(ep: Endpoint, rp: StockRP) -> str:
    claims = {
        "iss": rp.client_id,
        "sub": rp.client_id,
        "aud": BASE,
        "iat": ep.clock.t,
        "exp": ep.clock.t + 60,
        "jti": secrets.token_urlsafe(8),
    }
    return forge({"alg": "none", "kid": rp.kid}, claims, secret=None)


BAD_ASSERTIONS: dict[str, tuple[Callable[[Endpoint, Party], str], str]] = {
    "aud-token-endpoint": (lambda ep, p: ep.assertion(p.shop, TOKEN_URL), "bad_aud"),
    "aud-other-server": (lambda ep, p: ep.assertion(p.shop, "https://as.example"), "bad_aud"),
    "aud-array": (lambda ep, p: ep.assertion(p.shop, [BASE]), "bad_aud"),
    "aud-array-two": (lambda ep, p: ep.assertion(p.shop, [BASE, "https://x.example"]), "bad_aud"),
    "aud-trailing-slash": (lambda ep, p: ep.assertion(p.shop, BASE + "/"), "bad_aud"),
    "aud-missing": (lambda ep, p: _raw_assertion(ep, p.shop, aud=DROP), "bad_aud"),
    "expired": (lambda ep, p: ep.assertion(p.shop, exp=ep.clock.t - 6), "expired"),
    "exp-too-far": (lambda ep, p: ep.assertion(p.shop, exp=ep.clock.t + 306), "lifetime_too_long"),
    "exp-missing": (lambda ep, p: ep.assertion(p.shop, exp=DROP), "missing_exp"),
    "exp-string": (lambda ep, p: ep.assertion(p.shop, exp=str(ep.clock.t + 60)), "bad_exp"),
    "iat-future": (lambda ep, p: ep.assertion(p.shop, iat=ep.clock.t + 60), "future_iat"),
    "nbf-future": (lambda ep, p: ep.assertion(p.shop, nbf=ep.clock.t + 60), "not_yet_valid"),
    "jti-missing": (lambda ep, p: ep.assertion(p.shop, jti=DROP), "bad_jti"),
    "jti-empty": (lambda ep, p: ep.assertion(p.shop, jti=""), "bad_jti"),
    "jti-number": (lambda ep, p: ep.assertion(p.shop, jti=7), "bad_jti"),
    "iss-not-sub": (lambda ep, p: ep.assertion(p.shop, iss="other"), "iss_sub_mismatch"),
    "sub-other-client": (
        lambda ep, p: ep.assertion(p.shop, iss="other", sub="other"),
        "unknown_kid",
    ),
    "iss-missing": (lambda ep, p: ep.assertion(p.shop, iss=DROP), "bad_iss"),
    "unknown-client": (lambda ep, p: ep.assertion(StockRP("mallory")), "unknown_client"),
    "signed-by-another-key": (
        lambda ep, p: ep.assertion(p.shop, key=_OTHER_KEY),
        "bad_signature",
    ),
    "signed-by-other-client": (
        lambda ep, p: ep.assertion(p.other, iss="shop", sub="shop"),
        "unknown_kid",
    ),
    "unknown-kid": (lambda ep, p: ep.assertion(p.shop, header={"kid": "nope"}), "unknown_kid"),
    "alg-none": (lambda ep, p: _none_assertion(ep, p.shop), "bad_alg"),
    "alg-hs256-public-key": (lambda ep, p: _hs256_assertion(ep, p.shop), "bad_alg"),
    "typ-dpop": (
        lambda ep, p: ep.assertion(p.shop, header={"typ": "dpop+jwt"}),
        "bad_typ",
    ),
    "garbage": (lambda ep, p: "not.a.jwt", "malformed"),
}


def test_bad_client_assertion_is_invalid_client(ep: Endpoint, party: Party) -> None:
    for case, (make, reason) in BAD_ASSERTIONS.items():
        with labelled(case):
            ep.refused(ep.cc(party.shop, assertion=make(ep, party)), "invalid_client", reason)


def test_assertion_lifetime_edges(ep: Endpoint, party: Party) -> None:
    ep.ok(ep.cc(party.shop, assertion=ep.assertion(party.shop, exp=ep.clock.t + 305)))
    ep.ok(ep.cc(party.shop, assertion=ep.assertion(party.shop, exp=ep.clock.t - 4)))
    r = ep.cc(party.shop, assertion=ep.assertion(party.shop, exp=ep.clock.t - 5))
    ep.refused(r, "invalid_client", "expired")


def test_client_assertion_typ_accepted(ep: Endpoint, party: Party) -> None:
    for typ in ("JWT", "client-authentication+jwt"):
        a = ep.assertion(party.shop, header={"typ": typ})
        ep.ok(ep.cc(party.shop, assertion=a))


def test_replayed_assertion_is_invalid_client(ep: Endpoint, party: Party) -> None:
    a = ep.assertion(party.shop)
    ep.ok(ep.cc(party.shop, assertion=a))
    ep.refused(ep.cc(party.shop, assertion=a), "invalid_client", "replayed_jti")


def test_assertion_jti_is_per_client(ep: Endpoint, party: Party) -> None:
    ep.ok(ep.cc(party.shop, assertion=ep.assertion(party.shop, jti="j1")))
    ep.ok(ep.cc(party.other, assertion=ep.assertion(party.other, jti="j1")))
    r = ep.cc(party.shop, assertion=ep.assertion(party.shop, jti="j1"))
    ep.refused(r, "invalid_client", "replayed_jti")


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"client_assertion_type": ""}, "missing_client_auth"),
        (
            {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
            "bad_assertion_type",
        ),
        ({"client_assertion": ""}, "missing_assertion"),
        ({"client_id": "other"}, "client_id_mismatch"),
        ({"client_id": "SHOP"}, "client_id_mismatch"),
    ],
    ids=["no-type", "saml-type", "no-assertion", "client-id-other", "client-id-case"],
)
def test_client_auth_form_fields(
    ep: Endpoint, party: Party, form: dict[str, str], reason: str
) -> None:
    body = {"grant_type": "client_credentials", **ep.client_form(party.shop), **form}
    ep.refused(ep.post(body, dpop=ep.proof(party.shop)), "invalid_client", reason)


def test_matching_client_id_form_parameter_is_fine(ep: Endpoint, party: Party) -> None:
    ep.ok(ep.cc(party.shop, client_id="shop"))


def test_client_secret_is_not_a_client_authentication(ep: Endpoint, party: Party) -> None:
    form = {"grant_type": "client_credentials", "client_id": "shop", "client_secret": "s3cret"}
    ep.refused(ep.post(form, dpop=ep.proof(party.shop)), "invalid_client", "missing_client_auth")
    r = ep.post(
        {"grant_type": "client_credentials"},
        dpop=ep.proof(party.shop),
    )
    ep.refused(r, "invalid_client", "missing_client_auth")


def test_removed_client_is_invalid_client(ep: Endpoint, party: Party, auth_res: Resources) -> None:
    ep.ok(ep.cc(party.shop))
    assert registry(auth_res).remove("shop")
    ep.refused(ep.cc(party.shop), "invalid_client", "unknown_client")


def test_replaced_client_key_is_refused(ep: Endpoint, party: Party, auth_res: Resources) -> None:
    """Rotating a client's key in the registry takes effect at the next request."""
    reg = registry(auth_res)
    new = StockRP("shop")
    old = reg.get("shop")
    assert old is not None
    entry = {
        "client_id": "shop",
        "name": old.name,
        "jwks": new.jwks(),
        "predicates": sorted(old.predicates),
        "audiences": sorted(old.audiences),
    }
    reg.add(client_from_json(entry), replace=True)
    ep.refused(ep.cc(party.shop), "invalid_client", "unknown_kid")
    ep.ok(ep.cc(new))


def test_nonces_can_be_turned_off(
    auth_res: Resources,
    party: Party,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.INFO, logger="zkattest.service")
    res = with_db(auth_res, tmp_path / "db-no-nonce", dpop_nonce=False)
    with TestClient(create_app(resources=res, clock=clock)) as http:
        ep = Endpoint(http, caplog, clock)
        r = ep.cc(party.shop, dpop=ep.proof_without_nonce(party.shop))
        assert r.status_code == 200, r.text
        assert "dpop-nonce" not in r.headers
        r = ep.cc(party.shop, dpop=None)  # the proof itself is still required
        assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof", r.text
        assert "dpop-nonce" not in r.headers and ep.reasons() == ["missing_proof"]


# -- form rules (RFC 6749 §3.1-3.2, §3.3; RFC 8707) -------------------------------------------


def _pairs(ep: Endpoint, rp: StockRP) -> list[tuple[str, str]]:
    return [("grant_type", "client_credentials"), *ep.client_form(rp).items()]


@pytest.mark.parametrize("name", ["grant_type", "client_assertion", "scope", "resource"])
def test_repeated_parameter_is_invalid_request(ep: Endpoint, party: Party, name: str) -> None:
    pairs = _pairs(ep, party.shop)
    value = {"scope": "verify:age_gte", "resource": BASE}.get(name) or dict(pairs)[name]
    if name in ("scope", "resource"):
        pairs.append((name, value))
    pairs.append((name, value))
    a = dict(pairs)["client_assertion"]
    ep.refused(ep.post(pairs, dpop=ep.proof(party.shop)), "invalid_request", "repeated")
    ep.ok(ep.cc(party.shop, assertion=a))  # refused before the assertion was looked at


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "multipart/form-data; boundary=x", None],
)
def test_body_must_be_a_form(ep: Endpoint, party: Party, content_type: str | None) -> None:
    body = urlencode(_pairs(ep, party.shop)).encode()
    r = ep.post(body, dpop=ep.proof(party.shop), content_type=content_type)
    assert r.status_code == 415, r.text
    assert r.headers["content-type"].split(";")[0] == "application/problem+json"
    assert r.json()["status"] == 415


def test_form_media_type_parameters_are_fine(ep: Endpoint, party: Party) -> None:
    body = urlencode(_pairs(ep, party.shop)).encode()
    r = ep.post(body, dpop=ep.proof(party.shop), content_type=f"{FORM}; charset=UTF-8")
    ep.ok(r)


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&scope=\xff\xfe",
        b"grant_type=client_credentials&scope=%FF",
        b"grant_type=client_credentials&novalue",
        b"grant_type=client_credentials&&",
        b"=client_credentials",
        b"&".join(b"p%d=v" % i for i in range(40)),
    ],
    ids=["raw-non-utf8", "pct-non-utf8", "no-equals", "empty-field", "empty-name", "40-fields"],
)
def test_malformed_form_is_invalid_request(ep: Endpoint, party: Party, body: bytes) -> None:
    ep.refused(ep.post(body, dpop=ep.proof(party.shop)), "invalid_request", "invalid_request")


@pytest.mark.parametrize(
    "grant",
    [
        "password",
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "CLIENT_CREDENTIALS",
    ],
)
def test_unsupported_grant_type(ep: Endpoint, party: Party, grant: str) -> None:
    r = ep.cc(party.shop, grant_type=grant)
    ep.refused(r, "unsupported_grant_type", "unsupported_grant_type")


@pytest.mark.parametrize("grant", [None, ""])
def test_missing_grant_type(ep: Endpoint, party: Party, grant: str | None) -> None:
    form = ep.client_form(party.shop)
    if grant is not None:
        form["grant_type"] = grant
    ep.refused(ep.post(form, dpop=ep.proof(party.shop)), "invalid_request", "invalid_request")


@pytest.mark.parametrize(
    ("who", "scope"),
    [
        ("shop", "approve"),
        ("shop", "verify:age_gte approve"),
        ("shop", "verify:age_lt"),
        ("bob", "verify:age_gte"),
        ("shop", "verify:age_gte  verify:age_gte"),
        ("shop", " verify:age_gte"),
        ("shop", 'verify:"age'),
    ],
)
def test_scope_not_allowed_is_invalid_scope(
    ep: Endpoint, party: Party, who: str, scope: str
) -> None:
    rp = getattr(party, who)
    ep.refused(ep.cc(rp, scope=scope), "invalid_scope", "invalid_scope")


def test_scope_narrows(ep: Endpoint, party: Party) -> None:
    both = ep.ok(ep.cc(party.alice))
    assert set(both["scope"].split(" ")) == {"verify:age_gte", "approve"}
    only = ep.ok(ep.cc(party.alice, scope="approve"))
    assert only["scope"] == "approve"
    assert claims_of(only["access_token"])["scope"] == "approve"


@pytest.mark.parametrize(
    "resource",
    [
        "https://elsewhere.example",
        f"{BASE}/v1",
        "http://localhost:8080",
        RP,
        "urn:zkattest:api",
    ],
)
def test_unknown_resource_is_invalid_target(ep: Endpoint, party: Party, resource: str) -> None:
    ep.refused(ep.cc(party.shop, resource=resource), "invalid_target", "resource")


@pytest.mark.parametrize("resource", [BASE, BASE + "/"])
def test_our_resource_is_the_audience(ep: Endpoint, party: Party, resource: str) -> None:
    assert claims_of(ep.ok(ep.cc(party.shop, resource=resource))["access_token"])["aud"] == BASE


def test_may_act_must_be_a_registered_delegate(ep: Endpoint, party: Party) -> None:
    ep.refused(ep.cc(party.alice, may_act="shop"), "invalid_request", "may_act_not_delegate")
    tok = str(ep.ok(ep.cc(party.alice, may_act="assistant"))["access_token"])
    assert claims_of(tok)["may_act"] == {"sub": "assistant", "iss": BASE}


# -- token exchange (RFC 8693) -----------------------------------------------------------------


def verified(http: TestClient[Litestar], token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of one of our tokens, checked by PyJWT against GET /oauth/jwks."""
    jwks = jwt.PyJWKSet.from_dict(http.get("/oauth/jwks").json())
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    (key,) = [k for k in jwks.keys if k.key_id == header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["ES256"],
        audience=BASE,
        issuer=BASE,
        options={"require": ["exp", "iat", "jti", "sub", "iss", "aud"]},
    )
    return header, claims


def test_delegation_chain(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    _, c = verified(ep.http, alice)
    assert c["may_act"] == {"sub": "assistant", "iss": BASE}
    assert "act" not in c

    body = ep.ok(ep.exchange(party.assistant, alice))
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    _, c = verified(ep.http, body["access_token"])
    assert c["sub"] == "alice" and c["client_id"] == "assistant"
    assert c["act"] == {"sub": "assistant"}
    assert c["cnf"] == {"jkt": party.assistant.jkt}
    assert c["may_act"] == {"sub": "shop", "iss": BASE}
    assert c["scope"] == "verify:age_gte"  # alice's approve is not the assistant's to hold

    body = ep.ok(ep.exchange(party.shop, body["access_token"]))
    _, c = verified(ep.http, body["access_token"])
    assert c["sub"] == "alice" and c["client_id"] == "shop"
    assert c["act"] == {"sub": "shop", "act": {"sub": "assistant"}}
    assert c["cnf"] == {"jkt": party.shop.jkt}
    assert "may_act" not in c  # shop lets nobody act after it
    assert c["scope"] == "verify:age_gte"


def test_jwks_verifies_nothing_forged(ep: Endpoint, party: Party) -> None:
    """The PyJWT check above can fail: a token signed by another key does not verify."""
    tok = ep.token(party.shop)
    forged = jwt.encode(
        claims_of(tok), _OTHER_KEY, algorithm="ES256", headers=jwt.get_unverified_header(tok)
    )
    with pytest.raises(jwt.InvalidSignatureError):
        verified(ep.http, forged)


def test_jwt_token_type_is_accepted_for_the_subject(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    ep.ok(ep.exchange(party.assistant, alice, subject_token_type=JWT_TOKEN_TYPE))


def test_depth_cap_from_config(ep1: Endpoint, party: Party) -> None:
    alice = ep1.token(party.alice)
    asst = str(ep1.ok(ep1.exchange(party.assistant, alice))["access_token"])
    ep1.refused(ep1.exchange(party.shop, asst), "invalid_grant", "depth")


def test_depth_limit_from_policy(ep: Endpoint, party: Party, auth_res: Resources) -> None:
    """The shipped policy permits delegation up to depth 2; the config cap is 4."""
    deep = StockRP("deep")
    reg = registry(auth_res)
    reg.add(
        client_from_json(
            {
                "client_id": "deep",
                "name": "Deep",
                "jwks": deep.jwks(),
                "predicates": ["age_gte"],
                "audiences": [RP],
            }
        )
    )
    shop = reg.get("shop")
    assert shop is not None
    reg.add(dataclasses.replace(shop, delegates=frozenset({"deep"})), replace=True)
    alice = ep.token(party.alice)
    asst = str(ep.ok(ep.exchange(party.assistant, alice))["access_token"])
    shop_tok = str(ep.ok(ep.exchange(party.shop, asst))["access_token"])
    assert claims_of(shop_tok)["may_act"] == {"sub": "deep", "iss": BASE}
    ep.refused(ep.exchange(deep, shop_tok), "invalid_grant", "policy_denied")


def test_may_act_names_another_client(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    ep.refused(ep.exchange(party.other, alice), "invalid_grant", "may_act")
    ep.refused(ep.exchange(party.shop, alice), "invalid_grant", "may_act")


def test_subject_token_without_may_act(ep: Endpoint, party: Party) -> None:
    bob = ep.token(party.bob)
    assert "may_act" not in claims_of(bob)
    ep.refused(ep.exchange(party.assistant, bob), "invalid_grant", "may_act")


def test_own_token_cannot_be_exchanged_to_act_for_oneself(ep: Endpoint, party: Party) -> None:
    asst = ep.token(party.assistant)  # may_act: shop
    ep.refused(ep.exchange(party.assistant, asst), "invalid_grant", "may_act")


def test_actor_token_of_another_client(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    shop = ep.token(party.shop)
    ep.refused(ep.exchange(party.assistant, alice, shop), "invalid_grant", "actor_mismatch")
    # alice's own token is not the assistant's either
    ep.refused(ep.exchange(party.assistant, alice, alice), "invalid_grant", "actor_mismatch")
    # the assistant's own token is
    ep.ok(ep.exchange(party.assistant, alice, ep.token(party.assistant)))


def test_delegated_token_is_not_an_actor_token(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    asst = str(ep.ok(ep.exchange(party.assistant, alice))["access_token"])  # sub alice
    ep.refused(ep.exchange(party.assistant, alice, asst), "invalid_grant", "actor_mismatch")


def _token_forgeries(ep: Endpoint, party: Party) -> dict[str, tuple[str, str]]:
    """Subject tokens that must not validate: (token, validation reason)."""
    real = ep.token(party.alice)
    header, claims = jwt.get_unverified_header(real), claims_of(real)
    ours = jwt.PyJWKSet.from_dict(ep.http.get("/oauth/jwks").json()).keys[0].key
    our_pem = ours.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    elsewhere = services(ep.app).tokens.mint(
        sub="alice",
        client_id="alice",
        aud="https://elsewhere.example",
        scope=["verify:age_gte"],
        jkt=party.alice.jkt,
        now=ep.clock.t,
        may_act={"sub": "assistant", "iss": BASE},
    )
    return {
        "garbage": ("garbage", "malformed"),
        "three-garbage-segments": ("a.b.c", "malformed"),
        "foreign-signature": (
            jwt.encode(claims, _OTHER_KEY, algorithm="ES256", headers=header),
            "bad_signature",
        ),
        "alg-none": (
            forge({**header, "alg": "none"}, claims, secret=None),
            "bad_alg",
        ),
        "alg-none-empty-sig": (unsigned({**header, "alg": "none"}, claims), "malformed"),
        "hs256-public-key": (
            forge({**header, "alg": "HS256"}, claims, secret=our_pem),
            "bad_alg",
        ),
        "typ-jwt": (
            jwt.encode(claims, _OTHER_KEY, algorithm="ES256", headers={**header, "typ": "JWT"}),
            "bad_typ",
        ),
        "other-audience": (elsewhere.raw, "bad_audience"),
        "truncated": (real[:-2], "bad_signature"),
    }


FORGERIES = [
    "garbage",
    "three-garbage-segments",
    "foreign-signature",
    "alg-none",
    "alg-none-empty-sig",
    "hs256-public-key",
    "typ-jwt",
    "other-audience",
    "truncated",
]


def test_bad_subject_token_is_invalid_grant(ep: Endpoint, party: Party) -> None:
    forgeries = _token_forgeries(ep, party)
    assert sorted(forgeries) == sorted(FORGERIES)
    for name, (token, why) in forgeries.items():
        with labelled(name):
            r = ep.exchange(party.assistant, token)
            ep.refused(r, "invalid_grant", f"subject_token:{why}")


def test_bad_actor_token_is_invalid_grant(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    for name, (token, why) in _token_forgeries(ep, party).items():
        with labelled(name):
            r = ep.exchange(party.assistant, alice, token)
            ep.refused(r, "invalid_grant", f"actor_token:{why}")
    ep.ok(ep.exchange(party.assistant, alice))  # alice's token took no harm


def test_expired_subject_token(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    ttl = services(ep.app).tokens.ttl
    ep.clock.now += ttl + 4  # within the 5 s leeway
    ep.ok(ep.exchange(party.assistant, alice))
    ep.clock.now += 1
    ep.refused(ep.exchange(party.assistant, alice), "invalid_grant", "subject_token:expired")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"actor_token_type": ACCESS_TOKEN_TYPE}, "actor_token"),
        ({"subject_token_type": ""}, "invalid_request"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}, "invalid_request"),
        ({"requested_token_type": JWT_TOKEN_TYPE}, "rtt"),
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}, "rtt"),
    ],
    ids=[
        "actor-type-without-actor",
        "no-subject-type",
        "id-token-type",
        "rtt-jwt",
        "rtt-refresh",
    ],
)
def test_exchange_form_rules(
    ep: Endpoint, party: Party, extra: dict[str, str], reason: str
) -> None:
    alice = ep.token(party.alice)
    ep.refused(ep.exchange(party.assistant, alice, **extra), "invalid_request", reason)


def test_subject_token_is_required(ep: Endpoint, party: Party) -> None:
    ep.refused(ep.exchange(party.assistant, ""), "invalid_request", "subject_token")


def test_actor_token_without_its_type(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    form = {**exchange_form(alice), "actor_token": ep.token(party.assistant)}
    form.update(ep.client_form(party.assistant))
    r = ep.post(form, dpop=ep.proof(party.assistant))
    ep.refused(r, "invalid_request", "invalid_request")


def test_requested_access_token_type_is_fine(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    ep.ok(ep.exchange(party.assistant, alice, requested_token_type=ACCESS_TOKEN_TYPE))


def test_exchange_scope_only_narrows(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    ep.refused(
        ep.exchange(party.assistant, alice, scope="approve"), "invalid_scope", "scope_not_granted"
    )
    only_approve = ep.token(party.alice, scope="approve")
    ep.refused(ep.exchange(party.assistant, only_approve), "invalid_scope", "empty_scope")


def test_exchange_resource_is_checked(ep: Endpoint, party: Party) -> None:
    alice = ep.token(party.alice)
    r = ep.exchange(party.assistant, alice, resource="https://elsewhere.example")
    ep.refused(r, "invalid_target", "resource")


def test_removing_the_delegate_revokes_may_act(
    ep: Endpoint, party: Party, auth_res: Resources
) -> None:
    alice = ep.token(party.alice)
    reg = registry(auth_res)
    entry = reg.get("alice")
    assert entry is not None
    reg.add(dataclasses.replace(entry, delegates=frozenset()), replace=True)
    ep.refused(ep.exchange(party.assistant, alice), "invalid_grant", "may_act_revoked")
    reg.add(entry, replace=True)  # put back: the same token works again
    ep.ok(ep.exchange(party.assistant, alice))


def test_removing_the_subject_client_revokes_may_act(
    ep: Endpoint, party: Party, auth_res: Resources
) -> None:
    alice = ep.token(party.alice)
    assert registry(auth_res).remove("alice")
    ep.refused(ep.exchange(party.assistant, alice), "invalid_grant", "may_act_revoked")


@pytest.mark.parametrize("how", ["delegate-dropped", "subject-removed"])
def test_revoking_an_earlier_hop_stops_the_next_exchange(
    ep: Endpoint, party: Party, auth_res: Resources, how: str
) -> None:
    """alice -> assistant was granted when the assistant's token was minted; once alice
    revokes it, the shop cannot build on that token to get a fresh one for alice."""
    alice = ep.token(party.alice)
    asst = str(ep.ok(ep.exchange(party.assistant, alice))["access_token"])
    reg = registry(auth_res)
    entry = reg.get("alice")
    assert entry is not None
    if how == "subject-removed":
        assert reg.remove("alice")
    else:
        reg.add(dataclasses.replace(entry, delegates=frozenset()), replace=True)
    ep.refused(ep.exchange(party.shop, asst), "invalid_grant", "may_act_revoked")
    reg.add(entry, replace=True)
    ep.ok(ep.exchange(party.shop, asst))


def test_removed_actor_cannot_exchange(ep: Endpoint, party: Party, auth_res: Resources) -> None:
    alice = ep.token(party.alice)
    assert registry(auth_res).remove("assistant")
    ep.refused(ep.exchange(party.assistant, alice), "invalid_client", "unknown_client")


SCENARIOS = ["allowed", "may_act-other", "no-may_act", "depth"]


def _scenario(
    ep: Endpoint, ep1: Endpoint, party: Party, name: str
) -> tuple[Endpoint, StockRP, str]:
    """(endpoint, actor, subject token) of one exchange scenario."""
    if name == "allowed":
        return ep, party.assistant, ep.token(party.alice)
    if name == "may_act-other":
        return ep, party.other, ep.token(party.alice)
    if name == "no-may_act":
        return ep, party.assistant, ep.token(party.bob)
    alice = ep1.token(party.alice)
    return ep1, party.shop, str(ep1.ok(ep1.exchange(party.assistant, alice))["access_token"])


@pytest.mark.parametrize("name", SCENARIOS)
def test_subject_token_decides_with_or_without_actor_token(
    ep: Endpoint, ep1: Endpoint, party: Party, name: str
) -> None:
    outcomes = []
    for with_actor in (False, True):
        e, actor, subject = _scenario(ep, ep1, party, name)
        own = e.token(actor) if with_actor else None
        r = e.exchange(actor, subject, own)
        outcomes.append((r.status_code, r.json().get("error"), tuple(e.reasons())))
    assert outcomes[0] == outcomes[1]
    expected = {
        "allowed": (200, None, ()),
        "may_act-other": (400, "invalid_grant", ("may_act",)),
        "no-may_act": (400, "invalid_grant", ("may_act",)),
        "depth": (400, "invalid_grant", ("depth",)),
    }
    assert outcomes[0] == expected[name]


# -- the endpoint never fails on input (hypothesis) -------------------------------------------

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_KEYS = st.sampled_from(
    [
        "grant_type",
        "client_assertion",
        "client_assertion_type",
        "client_id",
        "scope",
        "resource",
        "subject_token",
        "subject_token_type",
        "actor_token",
        "actor_token_type",
        "requested_token_type",
        "may_act",
    ]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)


def _mutate_jws(data: st.DataObject, token: str) -> str:
    """One mutation of a compact JWS (or of whatever an earlier mutation left)."""
    kind = data.draw(st.sampled_from(["flip", "truncate", "segments", "swap", "text"]))
    parts = token.split(".")
    if kind == "flip" and token:
        i = data.draw(st.integers(0, len(token) - 1))
        c = data.draw(st.sampled_from("AZaz09-_.=+/ é"))
        return token[:i] + c + token[i + 1 :]
    if kind == "truncate":
        return token[: data.draw(st.integers(0, len(token)))]
    if kind == "segments":
        return ".".join(data.draw(st.permutations(parts)))
    if kind == "swap" and len(parts) == 3:
        i = data.draw(st.integers(0, 2))
        parts[i] = b64(json.dumps(data.draw(_JSON), allow_nan=True).encode())
        return ".".join(parts)
    return data.draw(_TEXT)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_form_never_fails(ep: Endpoint, party: Party, data: st.DataObject) -> None:
    rp = data.draw(st.sampled_from([party.shop, party.alice, party.assistant]))
    pairs = _pairs(ep, rp)
    if data.draw(st.booleans()):
        pairs[0] = ("grant_type", TOKEN_EXCHANGE)
        pairs += [("subject_token", "x.y.z"), ("subject_token_type", ACCESS_TOKEN_TYPE)]
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["drop", "dup", "value", "key", "jws", "add"]))
        if op == "drop" and pairs:
            pairs.pop(data.draw(st.integers(0, len(pairs) - 1)))
        elif op == "dup" and pairs:
            pairs.append(pairs[data.draw(st.integers(0, len(pairs) - 1))])
        elif op == "value" and pairs:
            i = data.draw(st.integers(0, len(pairs) - 1))
            pairs[i] = (pairs[i][0], data.draw(_TEXT))
        elif op == "key" and pairs:
            i = data.draw(st.integers(0, len(pairs) - 1))
            pairs[i] = (data.draw(_TEXT), pairs[i][1])
        elif op == "jws":
            a = dict(pairs).get("client_assertion", ep.assertion(rp))
            pairs = [(k, v) for k, v in pairs if k != "client_assertion"]
            pairs.append(("client_assertion", _mutate_jws(data, a)))
        else:
            pairs.append((data.draw(_KEYS), data.draw(_TEXT)))
    body = urlencode(pairs).encode()
    if data.draw(st.booleans()):
        body = data.draw(st.sampled_from([body[:-1], body + b"\xff", body.replace(b"=", b"", 1)]))
    r = ep.post(body, dpop=ep.proof(rp))
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        ep.ok(r)
    else:
        assert r.headers["cache-control"] == "no-store"
        assert r.json()["error"] in {
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "invalid_scope",
            "invalid_target",
            "unsupported_grant_type",
            "invalid_dpop_proof",
            "use_dpop_nonce",
        }


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_dpop_header_never_fails(ep: Endpoint, party: Party, data: st.DataObject) -> None:
    rp = data.draw(st.sampled_from([party.shop, party.other, party.alice, party.bob]))
    kind = data.draw(st.sampled_from(["jws", "claims", "header", "bytes"]))
    if kind == "jws":
        proof: str | bytes = _mutate_jws(data, ep.proof(rp))
    elif kind == "claims":
        name = data.draw(st.sampled_from(["jti", "htm", "htu", "iat", "nonce", "ath", "x"]))
        claim: dict[str, Any] = {name: data.draw(_JSON)}
        try:
            proof = ep.proof(rp, **claim)
        except (jwt.exceptions.PyJWTError, TypeError, ValueError):
            return  # PyJWT will not encode it: nothing to send
    elif kind == "header":
        name = data.draw(st.sampled_from(["typ", "alg", "jwk", "kid", "crit", "b64", "x5c"]))
        value = data.draw(_JSON | st.just(public_jwk(_OTHER_KEY)))
        try:
            proof = ep.proof(rp, header={name: value})
        except (jwt.exceptions.PyJWTError, NotImplementedError, TypeError, ValueError):
            return  # PyJWT will not sign it (an unknown alg...): nothing to send
    else:
        proof = data.draw(st.binary(max_size=200))
    # header bytes as a server would pass them on: no line breaks, no NUL
    raw = (proof.encode() if isinstance(proof, str) else proof).translate(None, b"\r\n\0")
    form = {"grant_type": "client_credentials", **ep.client_form(rp)}
    ep.caplog.clear()
    r = ep.http.post(
        "/oauth/token",
        content=urlencode(form).encode(),
        headers=[(b"Content-Type", FORM.encode()), (b"DPoP", raw)],
    )
    assert r.status_code < 500, r.text
    assert r.headers["cache-control"] == "no-store"
    if r.status_code != 200:
        assert r.json()["error"] in {"invalid_dpop_proof", "use_dpop_nonce"}, r.text
