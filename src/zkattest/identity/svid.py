"""JWT-SVIDs for micro-agents (SPIFFE JWT-SVID specification, profiled).

An agent's SVID is an ES256 compact JWS signed by the trust-domain key:

- header exactly ``{"alg": "ES256", "kid": <trust-domain key thumbprint>, "typ": "JWT"}``
  (JWT-SVID §2 forbids any other header member; on validation ``typ`` may also be
  absent or "JOSE", as that section allows);
- claims ``{"sub": <agent SPIFFE ID>, "aud": <one audience>, "exp", "iat", "jti",
  "cnf": {"jwk": <agent public key>}}`` with ``0 < exp - iat <= 60``: proof of
  possession (RFC 7800 ``cnf``) of the agent key, which signs the attestation.

:func:`validate_svid` needs a :class:`~zkattest.identity.trust.TrustBundle` of the
subject's trust domain; times are integer seconds (``iat``/``exp`` must be JSON
integers).  It does not track ``jti``: one use is the store's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .. import errors
from .jose import EcKey, EcPublicKey, JoseError, decode_unverified, sign_compact, verify_jws
from .spiffe import SpiffeId, SpiffeIdError
from .trust import TrustBundle

__all__ = ["MAX_SVID_TTL", "SvidClaims", "mint_svid", "validate_svid"]

#: the longest lifetime (``exp - iat``, seconds) an agent SVID may have
MAX_SVID_TTL: Final = 60
_HEADER_MEMBERS: Final = frozenset({"alg", "kid", "typ"})
_TYPES: Final = frozenset({"JWT", "JOSE"})
_RESERVED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf"})


@dataclass(frozen=True, slots=True)
class SvidClaims:
    """The validated content of a JWT-SVID."""

    spiffe_id: SpiffeId
    audience: str
    iat: int
    exp: int
    jti: str
    agent_key: EcPublicKey


def _int(value: object) -> bool:
    return type(value) is int


def mint_svid(
    signer: EcKey,
    kid: str,
    *,
    spiffe_id: SpiffeId,
    audience: str,
    agent_jwk: Mapping[str, Any] | EcPublicKey,
    ttl: int,
    now: int,
    jti: str,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Mint an agent's JWT-SVID valid from ``now`` for ``ttl`` (1..60) seconds.

    ``extra`` adds claims (e.g. the delegation chain the agent works for: ``client_id``,
    ``obo``, RFC 8693 ``act``); it may not set a registered or SVID claim.

    ``agent_jwk`` must be a public P-256 JWK (it is re-emitted in canonical form,
    ``{"crv", "kty", "x", "y"}``), or an :class:`EcPublicKey` (already validated).
    Bad arguments raise :class:`~zkattest.errors.InvalidParameter`, a bad JWK
    :class:`JoseError`.
    """
    if not isinstance(spiffe_id, SpiffeId):
        raise errors.InvalidParameter("spiffe_id must be a SpiffeId")
    if not isinstance(kid, str) or not kid:
        raise errors.InvalidParameter("kid must be a non-empty string")
    if not isinstance(audience, str) or not audience:
        raise errors.InvalidParameter("audience must be a non-empty string")
    if not isinstance(jti, str) or not jti:
        raise errors.InvalidParameter("jti must be a non-empty string")
    if not _int(ttl) or not 1 <= ttl <= MAX_SVID_TTL:
        raise errors.InvalidParameter(f"ttl must be an integer in 1..{MAX_SVID_TTL}")
    if not _int(now) or now < 0:
        raise errors.InvalidParameter("now must be a non-negative integer (epoch seconds)")
    if extra and not _RESERVED_CLAIMS.isdisjoint(extra):
        raise errors.InvalidParameter("extra may not set a registered JWT or SVID claim")
    claims = {
        **(extra or {}),
        "sub": str(spiffe_id),
        "aud": audience,
        "exp": now + ttl,
        "iat": now,
        "jti": jti,
        "cnf": {"jwk": _agent_key(agent_jwk).jwk()},
    }
    return sign_compact(claims, signer, typ="JWT", kid=kid)


def _agent_key(k: Mapping[str, Any] | EcPublicKey) -> EcPublicKey:
    return k if isinstance(k, EcPublicKey) else EcPublicKey.from_jwk(k)


def validate_svid(
    token: str,
    bundle: TrustBundle,
    *,
    audience: str,
    at: float,
    leeway: int = 0,
) -> SvidClaims:
    """Validate a JWT-SVID at time ``at`` (epoch seconds) for ``audience``.

    Checks, in order: the JWS (see :func:`~zkattest.identity.jose.verify_jws`; header
    members only ``alg``/``kid``/``typ``, ``typ`` absent, "JWT" or "JOSE"), signature
    by the bundle key named by ``kid``; ``sub`` a SPIFFE ID of the bundle's trust
    domain; ``aud`` equal to ``audience`` (a string or a one-element list: a token
    for several audiences is refused); ``0 < exp - iat <= 60``; ``iat <= at + leeway``;
    ``at < exp + leeway``; ``nbf`` (if present) ``<= at + leeway``; ``jti`` a
    non-empty string; ``cnf.jwk`` a public P-256 JWK.  Raises :class:`JoseError`.
    """
    if not _int(leeway) or leeway < 0:
        raise errors.InvalidParameter("leeway must be a non-negative integer")
    jws = decode_unverified(token)
    header = jws.header
    if not _HEADER_MEMBERS.issuperset(header):
        raise JoseError("bad_header", "a JWT-SVID header has only alg, kid and typ")
    if header.get("typ", "JWT") not in _TYPES:
        raise JoseError("bad_typ", "a JWT-SVID typ is JWT or JOSE")
    claims = verify_jws(jws, bundle.resolve, typ=None).claims

    sub = claims.get("sub")
    if not isinstance(sub, str):
        raise JoseError("bad_subject", "sub missing or not a string")
    try:
        spiffe_id = SpiffeId.parse(sub)
    except SpiffeIdError:
        raise JoseError("bad_subject", "sub is not a SPIFFE ID") from None
    if spiffe_id.trust_domain != bundle.trust_domain:
        raise JoseError("wrong_trust_domain", "sub is outside the bundle's trust domain")

    aud = claims.get("aud")
    if type(aud) is list and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str) or aud != audience:
        raise JoseError("bad_audience", "aud is not exactly this audience")

    iat, exp = claims.get("iat"), claims.get("exp")
    if not _int(iat) or not _int(exp):
        raise JoseError("malformed", "iat and exp must be integers")
    assert isinstance(iat, int) and isinstance(exp, int)  # for mypy
    if not 0 < exp - iat <= MAX_SVID_TTL:
        raise JoseError("bad_lifetime", f"exp - iat must be in 1..{MAX_SVID_TTL} seconds")
    if iat > at + leeway:
        raise JoseError("not_yet_valid", "iat is in the future")
    if at >= exp + leeway:
        raise JoseError("expired", "the SVID has expired")
    if "nbf" in claims:
        nbf = claims["nbf"]
        if not _int(nbf):
            raise JoseError("malformed", "nbf must be an integer")
        if nbf > at + leeway:
            raise JoseError("not_yet_valid", "nbf is in the future")

    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise JoseError("missing_jti", "jti missing or empty")

    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise JoseError("bad_cnf", "cnf.jwk missing")
    try:
        agent_key = EcPublicKey.from_jwk(jwk)
    except JoseError:
        raise JoseError("bad_cnf", "cnf.jwk is not a public P-256 key") from None
    return SvidClaims(spiffe_id, aud, iat, exp, jti, agent_key)
