"""Who asks: DPoP-bound OAuth access tokens on the relying-party endpoints.

``authenticate()`` checks, in this order, and answers 401 with a ``WWW-Authenticate:
DPoP`` challenge (RFC 9449 §7.1) or 403 ``insufficient_scope``:

1. exactly one ``Authorization: DPoP <token>`` header (``Bearer`` is refused: every
   token we issue is DPoP-bound, and a bound token presented as a bearer token is
   exactly what RFC 9449 §7.2 forbids accepting);
2. the token is ours (RFC 9068 ``at+jwt``, ES256 by our OAuth key), unexpired, for
   this API (``aud`` = our base URL, RFC 8707) and bound (``cnf.jkt``);
3. its client is still registered (removing a client revokes its tokens), and so is
   every delegation its ``act`` chain relies on (:func:`revoked_delegation`);
4. exactly one ``DPoP`` proof for this method and URL, signed by the key the token is
   bound to, with ``ath`` = the token's hash, fresh, and never seen before (the
   replay cache is the store, so it holds across replicas);
5. the scope the endpoint needs.

Nothing is consumed before the token checks pass; the proof's ``jti`` is consumed
last.  Messages carry no token or key material.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Request

from ..identity.jwk import ASYMMETRIC_ALGS
from ..oauth.base import Client
from ..oauth.dpop import check_dpop
from ..oauth.errors import OAuthError
from ..oauth.tokens import AccessToken
from .policy import revoked_chain
from .state import Services
from .tracing import span

__all__ = ["Caller", "authenticate", "challenge", "revoked_delegation"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_TOKEN = 8192
_ALGS = " ".join(sorted(ASYMMETRIC_ALGS))


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request: the token and the client it was issued to."""

    token: AccessToken
    client: Client

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def delegated(self) -> bool:
        return self.token.act is not None

    @property
    def subject(self) -> str | None:
        """The delegating subject (the token's ``sub``) when someone acts for them."""
        return self.token.sub if self.delegated else None


def challenge(error: str | None = None, **params: str) -> str:
    """A ``WWW-Authenticate`` value for the DPoP scheme (RFC 9449 §7.1)."""
    parts = [f'algs="{_ALGS}"']
    if error:
        parts.insert(0, f'error="{error}"')
    parts += [f'{k}="{v}"' for k, v in params.items()]
    return "DPoP " + ", ".join(parts)


def revoked_delegation(svc: Services, token: AccessToken, actor: str | None = None) -> bool:
    """Whether a hop of ``token``'s delegation chain is no longer granted: subject ->
    first actor -> ... -> current actor (-> ``actor``, a client about to act with it)."""
    tail = (actor,) if actor is not None else ()
    return revoked_chain(svc, (token.sub, *reversed(token.chain), *tail))


def _unauthorized(error: str | None, description: str, reason: str) -> OAuthError:
    return OAuthError(
        error or "invalid_token",
        description,
        reason=reason,
        status=401,
        headers={"WWW-Authenticate": challenge(error)},
    )


def _one(request: Request[Any, Any, Any], name: str) -> str | None:
    values = request.headers.getall(name, [])
    if len(values) > 1:
        raise _unauthorized("invalid_request", f"more than one {name} header", "duplicate_header")
    return values[0] if values else None


def _raw_path(request: Request[Any, Any, Any]) -> str:
    """The path as the client sent it (percent-encoding intact): what its proof's
    ``htu`` names.  The decoded ``request.url.path`` would re-encode differently."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return request.url.path


async def authenticate(
    request: Request[Any, Any, Any], svc: Services, *, scope: str | None
) -> Caller:
    """The caller of a relying-party endpoint, or :class:`OAuthError` (401/403)."""
    with span(svc.tracer, "oauth.authenticate") as sp:
        try:
            caller = await _authenticate(request, svc, scope=scope)
        except OAuthError as e:
            svc.metrics.refused("resource", e.error, e.reason)
            sp.set_attribute("zkattest.oauth.error", e.error)
            sp.set_attribute("zkattest.reason", e.reason or "")
            raise
        sp.set_attribute("zkattest.client.id", caller.client_id)
        if caller.token.act is not None:
            sp.set_attribute("zkattest.delegation.chain", list(caller.token.chain))
        return caller


async def _authenticate(
    request: Request[Any, Any, Any], svc: Services, *, scope: str | None
) -> Caller:
    cfg = svc.config
    auth = _one(request, "authorization")
    if auth is None:
        raise _unauthorized(None, "this endpoint needs a DPoP-bound access token", "no_token")
    scheme, _, raw = auth.partition(" ")
    raw = raw.strip()
    if scheme.lower() == "bearer":
        raise _unauthorized(
            "invalid_token",
            "access tokens here are DPoP-bound: use 'Authorization: DPoP <token>' with a proof",
            "bearer_scheme",
        )
    if scheme.lower() != "dpop" or len(raw) > _MAX_TOKEN or not _TOKEN.fullmatch(raw):
        raise _unauthorized("invalid_request", "malformed Authorization header", "malformed")
    now = svc.clock()
    try:
        token = svc.tokens.validate(raw, now=now, audience=cfg.base_url)
    except OAuthError as e:
        raise _unauthorized("invalid_token", e.description, e.reason) from None
    if token.jkt is None:
        raise _unauthorized("invalid_token", "the token is not DPoP-bound", "unbound")
    client = svc.res.clients.get(token.client_id)
    if client is None:
        raise _unauthorized("invalid_token", "the token's client is not registered", "no_client")
    if revoked_delegation(svc, token):
        raise _unauthorized(
            "invalid_token", "a delegation the token relies on was revoked", "delegation_revoked"
        )
    await check_dpop(
        _one(request, "dpop"),
        method=request.method,
        url=cfg.base_url + _raw_path(request),
        now=now,
        replay=svc.store,
        nonces=svc.nonces if cfg.dpop_nonce_resource else None,
        access_token=raw,
        jkt=token.jkt,
        max_age=cfg.dpop_max_age,
        resource=True,
    )
    if scope is not None and scope not in token.scope:
        raise OAuthError(
            "insufficient_scope",
            f"the token lacks the scope {scope!r}",
            reason="insufficient_scope",
            status=403,
            headers={"WWW-Authenticate": challenge("insufficient_scope", scope=scope)},
        )
    return Caller(token, client)
