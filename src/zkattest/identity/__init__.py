"""Agent identity: ES256 JOSE, SPIFFE IDs, JWT-SVIDs and the trust-domain key.

- :mod:`.jose`: strict ES256 compact JWS over P-256 (``cryptography``), JWK and
  RFC 7638 thumbprints;
- :mod:`.spiffe`: SPIFFE ID parsing and validation;
- :mod:`.svid`: minting and validating micro-agent JWT-SVIDs;
- :mod:`.trust`: the trust-domain signing key (file, race-safe creation) and its
  SPIFFE trust bundle / JWKS.

Every error is a :class:`JoseError` (an :class:`~zkattest.errors.InvalidInput`) with
a short ``reason`` code, except misuse (:class:`KeyDestroyed`) and key-file problems
(:class:`~zkattest.errors.MalformedFile`, :class:`InsecureKeyFile`).
"""

from __future__ import annotations

from .jose import (
    EcKey,
    EcPublicKey,
    JoseError,
    Jws,
    KeyDestroyed,
    Resolver,
    b64url_decode,
    b64url_encode,
    decode_unverified,
    json_object,
    sign_compact,
    verify_compact,
    verify_jws,
)
from .spiffe import SpiffeId, SpiffeIdError, validate_trust_domain
from .svid import MAX_SVID_TTL, SvidClaims, mint_svid, validate_svid
from .trust import InsecureKeyFile, TrustBundle, TrustDomainKey

__all__ = [
    "MAX_SVID_TTL",
    "EcKey",
    "EcPublicKey",
    "InsecureKeyFile",
    "JoseError",
    "Jws",
    "KeyDestroyed",
    "Resolver",
    "SpiffeId",
    "SpiffeIdError",
    "SvidClaims",
    "TrustBundle",
    "TrustDomainKey",
    "b64url_decode",
    "b64url_encode",
    "decode_unverified",
    "json_object",
    "mint_svid",
    "sign_compact",
    "validate_svid",
    "validate_trust_domain",
    "verify_compact",
    "verify_jws",
]
