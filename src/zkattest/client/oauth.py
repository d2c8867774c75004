"""A relying party's OAuth side: private_key_jwt (RFC 7523) and DPoP (RFC 9449).

:func:`client_assertion` and :func:`dpop_proof` build the two JWTs; :class:`OAuthSession`
gets tokens from ``/oauth/token`` (retrying once with the server's ``DPoP-Nonce`` when
asked, RFC 9449 §8) and signs a fresh DPoP proof for every request.  Keys are P-256
(ES256); the server accepts other algorithms from stock JOSE libraries too.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .. import errors
from ..identity.jose import EcKey, b64url_encode, sign_compact

__all__ = ["OAuthSession", "TokenError", "client_assertion", "dpop_proof"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class TokenError(errors.ZkAttestError):
    """The token endpoint refused: ``error`` (RFC 6749 code) and its description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"HTTP {status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def client_assertion(key: EcKey, client_id: str, audience: str, *, now: int, ttl: int = 60) -> str:
    """An RFC 7523 client authentication JWT: ``iss`` = ``sub`` = ``client_id``."""
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    return sign_compact(claims, key, typ="JWT", kid=key.public().thumbprint())


def _htu(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path or "/", "", ""))


def dpop_proof(
    key: EcKey,
    method: str,
    url: str,
    *,
    now: int,
    access_token: str | None = None,
    nonce: str | None = None,
) -> str:
    """An RFC 9449 DPoP proof for one request (``ath`` when presenting a token)."""
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method,
        "htu": _htu(url),
        "iat": now,
    }
    if access_token is not None:
        claims["ath"] = b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())
    if nonce is not None:
        claims["nonce"] = nonce
    return sign_compact(claims, key, typ="dpop+jwt", headers={"jwk": key.public().jwk()})


class OAuthSession:
    """Tokens for one client (its private_key_jwt key) bound to one DPoP key."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        client_id: str,
        client_key: EcKey,
        *,
        dpop_key: EcKey | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_key = client_key
        self.dpop_key = dpop_key or EcKey.generate()
        self.nonce: str | None = None
        self.access_token: str | None = None

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/oauth/token"

    def _post_token(self, form: dict[str, str]) -> dict[str, Any]:
        for _ in range(2):
            now = int(time.time())
            body = {
                **form,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(
                    self.client_key, self.client_id, self.base_url, now=now
                ),
            }
            proof = dpop_proof(
                self.dpop_key, "POST", self.token_endpoint, now=now, nonce=self.nonce
            )
            r = self.http.post(self.token_endpoint, data=body, headers={"DPoP": proof})
            self.nonce = r.headers.get("dpop-nonce", self.nonce)
            try:
                out = r.json()
            except ValueError:
                out = {}
            if r.status_code == 200 and isinstance(out, dict):
                return out
            err = out.get("error", "") if isinstance(out, dict) else ""
            if err != "use_dpop_nonce":
                desc = out.get("error_description", "") if isinstance(out, dict) else ""
                raise TokenError(r.status_code, str(err), str(desc))
        raise TokenError(400, "use_dpop_nonce", "the server keeps asking for a new nonce")

    def client_credentials(
        self, scope: Iterable[str] | None = None, *, may_act: str | None = None
    ) -> str:
        form = {"grant_type": "client_credentials", "resource": self.base_url}
        if scope is not None:
            form["scope"] = " ".join(scope)
        if may_act is not None:
            form["may_act"] = may_act
        self.access_token = str(self._post_token(form)["access_token"])
        return self.access_token

    def exchange(
        self,
        subject_token: str,
        *,
        actor_token: str | None = None,
        scope: Iterable[str] | None = None,
        may_act: str | None = None,
    ) -> str:
        """RFC 8693: a token to act for ``subject_token``'s subject."""
        form = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": self.base_url,
        }
        if actor_token is not None:
            form["actor_token"] = actor_token
            form["actor_token_type"] = ACCESS_TOKEN_TYPE
        if scope is not None:
            form["scope"] = " ".join(scope)
        if may_act is not None:
            form["may_act"] = may_act
        self.access_token = str(self._post_token(form)["access_token"])
        return self.access_token

    def headers(self, method: str, url: str) -> dict[str, str]:
        """``Authorization: DPoP`` and a fresh proof for one resource request."""
        if self.access_token is None:
            raise errors.InvalidParameter("no access token yet")
        proof = dpop_proof(
            self.dpop_key,
            method,
            url,
            now=int(time.time()),
            access_token=self.access_token,
            nonce=self.nonce,
        )
        return {"Authorization": f"DPoP {self.access_token}", "DPoP": proof}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A DPoP-protected request to ``base_url + path`` (one nonce retry)."""
        url = f"{self.base_url}{path}"
        extra = dict(kw.pop("headers", None) or {})
        for _ in range(2):
            headers = {**extra, **self.headers(method, url)}
            r = self.http.request(method, url, headers=headers, **kw)
            if "dpop-nonce" in r.headers:
                self.nonce = r.headers["dpop-nonce"]
            if r.status_code != 401 or "use_dpop_nonce" not in r.headers.get(
                "www-authenticate", ""
            ):
                return r
        return r
