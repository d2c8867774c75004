"""The OAuth authorization server: ``POST /oauth/token``, metadata and keys.

Grants (every one needs ``private_key_jwt`` client authentication, RFC 7523, and a DPoP
proof, RFC 9449; every token is an RFC 9068 ``at+jwt`` bound to the proof's key):

- ``client_credentials``: a token for the client itself (``sub`` = ``client_id``),
  with the scopes it asks among those it may have; ``may_act`` names the one client
  that may later act for it (its ``delegates``; form parameter ``may_act`` picks one
  when there are several).
- ``urn:ietf:params:oauth:grant-type:token-exchange`` (RFC 8693): the authenticated
  client acts for the subject of ``subject_token``.  The subject token's own claims
  decide (its ``may_act`` must name this client); ``actor_token``, if sent, must be
  this client's; the new token nests the chain in ``act`` and the ``delegate`` policy
  decides the depth.

Errors are RFC 6749 §5.2 JSON (``error``, ``error_description``) with ``Cache-Control:
no-store``; a missing or stale DPoP nonce answers ``use_dpop_nonce`` with a fresh
``DPoP-Nonce`` header.  Nothing is consumed before every stateless check passed: the
DPoP ``jti`` and the client assertion ``jti`` are the last steps of their checks.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Controller, Request, Response, get, post
from opentelemetry import trace

from ..audit import AuditEvent
from ..identity.jwk import ASYMMETRIC_ALGS
from ..oauth.base import Client
from ..oauth.client_auth import authenticate_client
from ..oauth.dpop import check_dpop
from ..oauth.errors import OAuthError
from ..oauth.exchange import (
    ACCESS_TOKEN_TYPE,
    JWT_TOKEN_TYPE,
    TOKEN_EXCHANGE,
    delegate,
    may_act_for,
)
from ..oauth.tokens import AccessToken
from ..policy import PolicyInput
from .auth import revoked_delegation
from .policy import chain_of, decide, principal_of
from .schemas import TokenResponse
from .state import Services, services
from .tracing import span

__all__ = ["WELL_KNOWN_AS", "OAuthController"]

log = logging.getLogger("zkattest.service")
WELL_KNOWN_AS = "/.well-known/oauth-authorization-server"
_CLIENT_CREDENTIALS = "client_credentials"
_MAX_FIELDS = 32
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_SUBJECT_TYPES = frozenset({ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE})
#: grant names as the audit trail records them (``refs.task``)
_GRANT_NAMES = {_CLIENT_CREDENTIALS: "client_credentials", TOKEN_EXCHANGE: "token_exchange"}
_NOT_CODE = re.compile(r"[^a-z0-9_.-]")


def _form(body: bytes) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` with each parameter at most once (RFC 6749
    §3.1-3.2); empty values count as omitted."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=_MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    out: dict[str, str] = {}
    for k, v in pairs:
        if k in out:
            raise OAuthError("invalid_request", f"parameter {k!r} repeated", reason="repeated")
        out[k] = v
    return {k: v for k, v in out.items() if v != ""}


def _scope(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    parts = text.split(" ")
    if "" in parts or any(not 0x21 <= ord(c) <= 0x7E or c in '"\\' for p in parts for c in p):
        raise OAuthError("invalid_scope", "scope is space-separated scope tokens")
    return frozenset(parts)


def _resource(svc: Services, form: dict[str, str]) -> str:
    """RFC 8707: the one resource our tokens are for is this API (its base URL)."""
    res = form.get("resource")
    if res is not None and res.rstrip("/") != svc.config.base_url:
        raise OAuthError("invalid_target", "unknown resource", reason="resource")
    return svc.config.base_url


def _issued(svc: Services, client_id: str, grant: str) -> None:
    svc.metrics.token_issued(grant)
    sp = trace.get_current_span()  # oauth.token
    sp.set_attribute("zkattest.client.id", client_id)
    sp.set_attribute("zkattest.oauth.grant", grant)


async def _audit_issued(
    svc: Services, tok: AccessToken, grant: str, links: tuple[AuditEvent, ...] = ()
) -> None:
    """``token.issued``: durable before the token is handed out."""
    await svc.audit.append(
        "token.issued",
        actor=tok.client_id,
        outcome="ok",
        subject=tok.sub,
        act=tok.act,
        refs={
            "client_id": tok.client_id,
            "scope": " ".join(sorted(tok.scope)),
            "jti": tok.jti,
            "exp": tok.exp,
            "jkt": tok.jkt,
            "audience": tok.aud,
            "task": _GRANT_NAMES[grant],
        },
        links=links,
    )


def _code(text: str) -> str | None:
    """A refusal reason as an audit reason code (``subject_token:expired`` ->
    ``subject_token.expired``); None if nothing code-like is left."""
    code = _NOT_CODE.sub(".", text.lower())[:64]
    return code if code[:1].isalpha() else None


def _error(exc: OAuthError) -> Response[bytes]:
    body: dict[str, Any] = {"error": exc.error, "error_description": exc.description}
    status = 401 if exc.error == "invalid_client" else 400
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type="application/json",
        headers={**_NO_STORE, **exc.headers},
    )


class OAuthController(Controller):
    path = "/oauth"
    tags = ["oauth"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @post(
        "/token",
        status_code=200,
        summary="Token endpoint (client_credentials, token exchange; private_key_jwt + DPoP)",
        include_in_schema=True,
    )
    async def token(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        svc = services(request.app)
        nonce_hdr = {"DPoP-Nonce": svc.nonces.issue(svc.clock())} if svc.config.dpop_nonce else {}
        try:
            body = await self._traced_issue(request, svc)
        except OAuthError as e:
            log.info("token refused", extra={"error": e.error, "reason": e.reason})
            if e.error != "use_dpop_nonce":
                e.headers = {**nonce_hdr, **e.headers}
            return _error(e)
        return Response(
            msgspec.json.encode(body),
            status_code=200,
            media_type="application/json",
            headers={**_NO_STORE, **nonce_hdr},
        )

    async def _traced_issue(self, request: Request[Any, Any, Any], svc: Services) -> TokenResponse:
        with span(svc.tracer, "oauth.token") as sp:
            try:
                return await self._issue(request, svc)
            except OAuthError as e:
                svc.metrics.refused("token", e.error, e.reason)
                sp.set_attribute("zkattest.oauth.error", e.error)
                sp.set_attribute("zkattest.reason", e.reason or "")
                raise

    async def _issue(self, request: Request[Any, Any, Any], svc: Services) -> TokenResponse:
        cfg = svc.config
        form = _form(await request.body())
        grant = form.get("grant_type") or ""
        if grant not in _GRANT_NAMES:
            raise OAuthError(
                "unsupported_grant_type" if grant else "invalid_request",
                "grant_type must be client_credentials or token-exchange",
            )
        proofs = request.headers.getall("dpop", [])
        if len(proofs) > 1:
            raise OAuthError("invalid_dpop_proof", "more than one DPoP header", reason="repeated")
        now = svc.clock()
        # the client assertion's stateless checks happen inside authenticate_client, but
        # a DPoP refusal (e.g. use_dpop_nonce) must not burn the assertion: DPoP first
        proof = await check_dpop(
            proofs[0] if proofs else None,
            method="POST",
            url=cfg.token_endpoint,
            now=now,
            replay=svc.store,
            nonces=svc.nonces if cfg.dpop_nonce else None,
            max_age=cfg.dpop_max_age,
        )
        client = await authenticate_client(
            form,
            lookup=svc.res.clients.get,
            issuer=cfg.base_url,
            now=now,
            replay=svc.store,
        )
        try:
            return await self._grant(svc, form, client, grant, proof.jkt, now)
        except OAuthError as e:
            # an authenticated client was refused: audited (unauthenticated refusals
            # are only counted, so that nobody can fill the trail)
            await svc.audit.append(
                "token.refused",
                actor=client.client_id,
                outcome=e.error,
                refs={
                    "client_id": client.client_id,
                    "task": _GRANT_NAMES[grant],
                    "reason": _code(e.reason or e.error),
                },
            )
            raise

    async def _grant(
        self,
        svc: Services,
        form: dict[str, str],
        client: Client,
        grant: str,
        jkt: str,
        now: float,
    ) -> TokenResponse:
        aud = _resource(svc, form)
        requested = _scope(form.get("scope"))
        if grant == _CLIENT_CREDENTIALS:
            allowed = client.scopes()
            scope = allowed if requested is None else requested
            if not scope <= allowed or not scope:
                raise OAuthError("invalid_scope", "the client may not have that scope")
            tok = svc.tokens.mint(
                sub=client.client_id,
                client_id=client.client_id,
                aud=aud,
                scope=sorted(scope),
                jkt=jkt,
                now=int(now),
                may_act=may_act_for(client, form.get("may_act"), issuer=svc.tokens.issuer),
            )
            await _audit_issued(svc, tok, grant)
            log.info("token issued", extra={"client": client.client_id, "grant": "cc"})
            _issued(svc, client.client_id, _CLIENT_CREDENTIALS)
            return self._response(tok, None)
        return await self._exchange(svc, form, client, aud, requested, jkt, now)

    async def _exchange(
        self,
        svc: Services,
        form: dict[str, str],
        client: Client,
        aud: str,
        requested: frozenset[str] | None,
        jkt: str,
        now: float,
    ) -> TokenResponse:
        cfg = svc.config
        rtt = form.get("requested_token_type")
        if rtt is not None and rtt != ACCESS_TOKEN_TYPE:
            raise OAuthError("invalid_request", "only access tokens are issued", reason="rtt")
        subject = self._token_param(svc, form, "subject_token", now, required=True)
        assert subject is not None
        actor = self._token_param(svc, form, "actor_token", now, required=False)
        d = delegate(
            subject,
            actor=client,
            actor_token=actor,
            requested_scope=requested,
            max_depth=cfg.max_delegation_depth,
        )
        # may_act was true when the subject token was minted (from its holder's registry
        # entry); the registry says whether it still is, for this hop and every earlier
        # one of the chain: removing a delegate revokes at once
        if revoked_delegation(svc, subject, client.client_id):
            raise OAuthError(
                "invalid_grant",
                "the subject no longer lets this client act for it",
                reason="may_act_revoked",
            )
        chain = chain_of(d.act)
        decision = decide(
            svc,
            PolicyInput(
                principal=principal_of(client),
                action="delegate",
                audience=aud,
                stage="exchange",
                subject=d.sub,
                chain=chain,
                depth=d.depth,
            ),
        )
        decided = await svc.audit.append(
            "policy.decided",
            actor=client.client_id,
            outcome=decision.outcome,
            subject=d.sub,
            act=d.act,
            refs={
                "client_id": client.client_id,
                "policy_ids": list(decision.policy_ids),
                "predicate": "delegate",
                "audience": aud,
                "task": "exchange",
            },
        )
        if decision.outcome != "allow":
            raise OAuthError(
                "invalid_grant",
                f"policy does not allow this delegation ({', '.join(decision.policy_ids)})",
                reason="policy_denied",
            )
        tok = svc.tokens.mint(
            sub=d.sub,
            client_id=client.client_id,
            aud=aud,
            scope=sorted(d.scope),
            jkt=jkt,
            now=int(now),
            act=d.act,
            may_act=may_act_for(client, form.get("may_act"), issuer=svc.tokens.issuer),
        )
        await _audit_issued(svc, tok, TOKEN_EXCHANGE, (decided,))
        log.info("token issued", extra={"client": client.client_id, "grant": "exchange"})
        _issued(svc, client.client_id, "token_exchange")
        return self._response(tok, ACCESS_TOKEN_TYPE)

    @staticmethod
    def _token_param(
        svc: Services, form: dict[str, str], name: str, now: float, *, required: bool
    ) -> AccessToken | None:
        raw = form.get(name)
        kind = form.get(f"{name}_type")
        if raw is None:
            if required or kind is not None:
                raise OAuthError("invalid_request", f"{name} is required", reason=name)
            return None
        if kind not in _SUBJECT_TYPES:
            raise OAuthError(
                "invalid_request", f"{name}_type must be an access_token or jwt token type"
            )
        try:
            return svc.tokens.validate(raw, now=now, audience=svc.config.base_url)
        except OAuthError as e:
            raise OAuthError(
                "invalid_grant", f"{name}: {e.description}", reason=f"{name}:{e.reason}"
            ) from None

    def _response(self, tok: AccessToken, issued: str | None) -> TokenResponse:
        return TokenResponse(
            access_token=tok.raw,
            token_type="DPoP",
            expires_in=tok.exp - tok.iat,
            scope=" ".join(sorted(tok.scope)),
            issued_token_type=issued,
        )

    @get("/jwks", summary="The keys our access tokens are signed with (JWKS)")
    async def jwks(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        return services(request.app).tokens.jwks()


@get(WELL_KNOWN_AS, summary="RFC 8414 authorization server metadata", tags=["oauth"])
async def as_metadata(request: Request[Any, Any, Any]) -> dict[str, Any]:
    cfg = services(request.app).config
    algs = sorted(ASYMMETRIC_ALGS)
    return {
        "issuer": cfg.base_url,
        "token_endpoint": cfg.token_endpoint,
        "jwks_uri": f"{cfg.base_url}/oauth/jwks",
        "grant_types_supported": [_CLIENT_CREDENTIALS, TOKEN_EXCHANGE],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "dpop_signing_alg_values_supported": algs,
        "scopes_supported": ["verify:age_gte", "approve", "audit"],
    }
