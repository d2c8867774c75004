"""The attestation: one compact JWS (ES256) signed by a micro-agent's key.

Header ``{"alg": "ES256", "typ": "zkattest-attestation+jwt", "kid": <agent key
thumbprint>}``.  Claims::

    iss          the agent's SPIFFE ID (spiffe://<td>/agent/<task>/<agent-id>)
    sub          the verification id
    aud          the relying party (one string; also the SVID's aud)
    iat exp jti  issue time, expiry (seconds), unique id
    nonce rp_scope today   the request's public inputs (decimal strings; today int)
    predicate params       "age_gte", {"min_age": n}
    result                 true / false (a verifiable "no" is still an attestation)
    circuit_id             the circuit the proof is for
    proof public_signals   the snarkjs proof.json object and public.json list
    nullifier              the holder's pseudonym for this rp_scope (= public_signals[1])
    issuer                 {"Ax","Ay"}: the credential issuer's key (= public_signals[2:4])
    mode                   "proof" (holder-side proving) or "delegated" (the agent proved)
    svid                   the agent's JWT-SVID: signed by the trust domain, cnf.jwk = agent key
    client_id              the OAuth client that asked (absent when the service runs without auth)
    obo                    the delegating subject, when the client acted for someone (RFC 8693 sub)
    act                    the RFC 8693 delegation chain, current actor outermost
                           (client_id, obo and act equal the SVID's: the trust domain signed them)

A relying party checks it with any JOSE library and the trust bundle alone:
verify ``svid`` against the bundle (ES256, by ``kid``; ``aud`` = itself; valid at the
attestation's ``iat``), then the attestation against ``svid.cnf.jwk``; ``iss`` =
``svid.sub``; ``iat`` within the SVID's lifetime.  With the circuit's verification
key it can also re-verify ``proof`` over ``public_signals`` and compare them with
the claims.  :func:`verify_attestation` does all of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import errors
from ..groth16 import VerifyingKey, load_proof, verify
from ..identity import (
    JoseError,
    SpiffeId,
    TrustBundle,
    decode_unverified,
    validate_svid,
    verify_compact,
)

__all__ = ["TYP", "AttestationInvalid", "VerifiedAttestation", "verify_attestation"]

TYP = "zkattest-attestation+jwt"
_DEC = re.compile(r"0|[1-9][0-9]{0,77}")
#: positions in age_gte's public signals
_RESULT, _NULLIFIER, _AX, _AY, _SCHEMA, _TODAY, _MIN_AGE, _NONCE, _SCOPE = range(9)


class AttestationInvalid(errors.InvalidInput):
    """The attestation does not verify; ``reason`` is a short machine code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedAttestation:
    claims: dict[str, Any]
    result: bool
    agent: str
    verification_id: str
    #: who asked (OAuth client), for whom (the delegating subject), through whom (RFC 8693)
    client_id: str | None = None
    obo: str | None = None
    act: dict[str, Any] | None = None


def _req(claims: Mapping[str, Any], name: str, typ: type | tuple[type, ...]) -> Any:
    v = claims.get(name)
    if not isinstance(v, typ) or (isinstance(v, bool) and typ is int):
        raise AttestationInvalid("malformed", f"claim {name!r} missing or of the wrong type")
    return v


def verify_attestation(
    token: str,
    *,
    bundle: TrustBundle,
    audience: str,
    now: int,
    circuits: Mapping[str, VerifyingKey] | None = None,
    nonce: str | None = None,
    verification_id: str | None = None,
    leeway: int = 5,
) -> VerifiedAttestation:
    """Check ``token`` for ``audience`` at time ``now`` (see the module docstring).

    ``circuits`` (circuit id -> key): when given, the proof is re-verified and its
    public signals compared with the claims; an unknown circuit is refused.
    ``nonce`` / ``verification_id``: when given, must equal the ``nonce`` / ``sub``
    claim.  Raises :class:`AttestationInvalid`.
    """
    if not isinstance(token, str):
        raise AttestationInvalid("malformed", "an attestation is a compact JWS string")
    try:
        jws = decode_unverified(token)
    except JoseError as e:
        raise AttestationInvalid("malformed", f"attestation: {e}") from None
    svid_tok = jws.claims.get("svid")
    iat = jws.claims.get("iat")
    if not isinstance(svid_tok, str) or not isinstance(iat, int) or isinstance(iat, bool):
        raise AttestationInvalid("malformed", "attestation: svid or iat missing")
    try:
        svid = validate_svid(svid_tok, bundle, audience=audience, at=iat, leeway=0)
    except JoseError as e:
        reason = "wrong_audience" if e.reason == "bad_audience" else "invalid_svid"
        raise AttestationInvalid(reason, f"agent SVID: {e}") from None
    try:
        claims = verify_compact(token, lambda _h: svid.agent_key, typ=TYP)
    except JoseError as e:
        raise AttestationInvalid("bad_signature", f"attestation: {e}") from None
    if jws.header.get("kid") not in (None, svid.agent_key.thumbprint()):
        raise AttestationInvalid("malformed", "attestation kid is not the agent key")
    if _req(claims, "iss", str) != str(svid.spiffe_id):
        raise AttestationInvalid("wrong_issuer", "attestation iss is not the SVID's subject")
    if not isinstance(svid.spiffe_id, SpiffeId) or not svid.spiffe_id.path.startswith("/agent/"):
        raise AttestationInvalid("invalid_svid", "the SVID is not a micro-agent's")
    if _req(claims, "aud", str) != audience:
        raise AttestationInvalid("wrong_audience", "attestation is for another audience")
    exp = _req(claims, "exp", int)
    if exp + leeway <= now:
        raise AttestationInvalid("expired", "attestation expired")
    if iat > now + leeway or exp <= iat:
        raise AttestationInvalid("malformed", "attestation iat/exp out of order")
    if not svid.iat <= iat <= svid.exp:
        raise AttestationInvalid("invalid_svid", "attestation signed outside the SVID's lifetime")
    _req(claims, "jti", str)
    result = _req(claims, "result", bool)
    if nonce is not None and _req(claims, "nonce", str) != nonce:
        raise AttestationInvalid("nonce_mismatch", "attestation nonce is not the expected one")
    sub = _req(claims, "sub", str)
    if verification_id is not None and sub != verification_id:
        raise AttestationInvalid("wrong_verification", "attestation is for another verification")
    # the chain the agent was provisioned for (in its SVID, signed by the trust domain)
    # must be the chain the attestation states
    svid_claims = decode_unverified(svid_tok).claims
    for name, typ in (("client_id", str), ("obo", str), ("act", dict)):
        if svid_claims.get(name) != claims.get(name):
            raise AttestationInvalid(
                "delegation_mismatch", f"attestation {name} differs from the agent SVID's"
            )
        if name in claims:
            _req(claims, name, typ)
    if circuits is not None:
        _check_proof(claims, circuits)
    return VerifiedAttestation(
        claims,
        result,
        str(svid.spiffe_id),
        sub,
        claims.get("client_id"),
        claims.get("obo"),
        claims.get("act"),
    )


def _check_proof(claims: Mapping[str, Any], circuits: Mapping[str, VerifyingKey]) -> None:
    vk = circuits.get(_req(claims, "circuit_id", str))
    if vk is None:
        raise AttestationInvalid("unknown_circuit", "attestation names an unknown circuit")
    pub_raw = _req(claims, "public_signals", list)
    if len(pub_raw) != vk.n_public or len(pub_raw) != 9:
        raise AttestationInvalid("invalid_proof", "wrong number of public signals")
    try:
        pub = [int(x) for x in pub_raw if isinstance(x, str) and _DEC.fullmatch(x)]
        proof = load_proof(_req(claims, "proof", dict))
    except errors.InvalidInput:
        raise AttestationInvalid("invalid_proof", "malformed proof") from None
    if len(pub) != len(pub_raw):
        raise AttestationInvalid("invalid_proof", "public signals are not decimal strings")
    params = _req(claims, "params", dict)
    issuer = _req(claims, "issuer", dict)
    expect = {
        _AX: _dec(issuer.get("Ax")),
        _AY: _dec(issuer.get("Ay")),
        _RESULT: int(_req(claims, "result", bool)),
        _NULLIFIER: _dec(_req(claims, "nullifier", str)),
        _TODAY: _req(claims, "today", int),
        _MIN_AGE: params.get("min_age"),
        _NONCE: _dec(_req(claims, "nonce", str)),
        _SCOPE: _dec(_req(claims, "rp_scope", str)),
    }
    if any(pub[i] != v for i, v in expect.items()):
        raise AttestationInvalid("claims_mismatch", "claims differ from the proof's public signals")
    try:
        ok = verify(vk, pub, proof, expected_circuit_id=vk.circuit_id)
    except errors.InvalidInput:
        ok = False
    if not ok:
        raise AttestationInvalid("invalid_proof", "the proof does not verify")


def _dec(s: object) -> int:
    if not isinstance(s, str) or not _DEC.fullmatch(s):
        raise AttestationInvalid("malformed", "a decimal claim is malformed")
    return int(s)
