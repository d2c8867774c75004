"""A relying party built only from stock libraries: PyJWT (JOSE), cryptography (keys)
and httpx — no zkattest helper makes its JWTs, so the service is tested against what
another implementation produces.

``StockRP`` holds a client key (private_key_jwt, RFC 7523) and a DPoP key (RFC 9449)
of one algorithm (ES256, ES384, PS256, RS256 or EdDSA) and builds assertions and
proofs with optional overrides for negative tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

_DROP = object()


def _key(alg: str) -> Any:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg in ("PS256", "RS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(alg)


def public_jwk(key: Any) -> dict[str, Any]:
    pub = key.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return dict(ECAlgorithm.to_jwk(pub, as_dict=True))
    if isinstance(pub, rsa.RSAPublicKey):
        return dict(RSAAlgorithm.to_jwk(pub, as_dict=True))
    return dict(OKPAlgorithm.to_jwk(pub, as_dict=True))


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638, written out here so the tests do not lean on the service's own."""
    required = {
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
        "OKP": ("crv", "kty", "x"),
    }
    members = {k: jwk[k] for k in required[jwk["kty"]]}
    raw = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()


def ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def _apply(d: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    for k, v in overrides.items():
        if v is _DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


class StockRP:
    """One OAuth client: ``client_id``, its signing key and a DPoP key."""

    DROP = _DROP

    def __init__(self, client_id: str, *, alg: str = "ES256", dpop_alg: str | None = None) -> None:
        self.client_id = client_id
        self.alg = alg
        self.dpop_alg = dpop_alg or alg
        self.key = _key(alg)
        self.dpop_key = _key(self.dpop_alg)
        self.kid = thumbprint(public_jwk(self.key))
        self.nonce: str | None = None
        self.token: str | None = None

    # -- registry material ------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**public_jwk(self.key), "kid": self.kid, "alg": self.alg, "use": "sig"}]}

    @property
    def jkt(self) -> str:
        return thumbprint(public_jwk(self.dpop_key))

    # -- JWTs ---------------------------------------------------------------------------------
    def assertion(
        self,
        aud: str,
        *,
        key: Any = None,
        alg: str | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body = _apply(
            {
                "iss": self.client_id,
                "sub": self.client_id,
                "aud": aud,
                "iat": now,
                "exp": now + 60,
                "jti": secrets.token_urlsafe(16),
            },
            claims,
        )
        hdr = _apply({"kid": self.kid}, header or {})
        return jwt.encode(body, key or self.key, algorithm=alg or self.alg, headers=hdr)

    def dpop(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        nonce: str | None = None,
        key: Any = None,
        jwk_key: Any = None,
        alg: str | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A DPoP proof; ``key`` signs, ``jwk_key``'s public key goes in the header
        (both default to the DPoP key), ``header``/``claims`` override members."""
        body: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if token is not None:
            body["ath"] = ath(token)
        n = nonce if nonce is not None else self.nonce
        if n is not None:
            body["nonce"] = n
        body = _apply(body, claims)
        hdr = _apply(
            {"typ": "dpop+jwt", "jwk": public_jwk(jwk_key or key or self.dpop_key)}, header or {}
        )
        return jwt.encode(body, key or self.dpop_key, algorithm=alg or self.dpop_alg, headers=hdr)

    # -- flows --------------------------------------------------------------------------------
    def token_request(
        self,
        http: httpx.Client,
        base: str,
        form: dict[str, str],
        *,
        dpop: str | None = None,
        assertion: str | None = None,
        path: str = "/oauth/token",
    ) -> httpx.Response:
        """POST the token endpoint (``base`` = the service's issuer/base URL used in the
        JWTs; the request itself goes to ``path`` on ``http``)."""
        body = {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion or self.assertion(base),
            **form,
        }
        proof = dpop if dpop is not None else self.dpop("POST", f"{base}/oauth/token")
        r = http.post(path, data=body, headers={"DPoP": proof})
        if "dpop-nonce" in r.headers:
            self.nonce = r.headers["dpop-nonce"]
        return r

    def get_token(
        self, http: httpx.Client, base: str, form: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A token (retrying once with the server's DPoP nonce); raises on refusal."""
        form = form or {"grant_type": "client_credentials"}
        r = self.token_request(http, base, form)
        if r.status_code == 400 and r.json().get("error") == "use_dpop_nonce":
            r = self.token_request(http, base, form)
        assert r.status_code == 200, r.text
        out = r.json()
        self.token = out["access_token"]
        return dict(out)

    def auth(self, method: str, url: str, **kw: Any) -> dict[str, str]:
        assert self.token is not None
        return {
            "Authorization": f"DPoP {self.token}",
            "DPoP": self.dpop(method, url, token=self.token, **kw),
        }
