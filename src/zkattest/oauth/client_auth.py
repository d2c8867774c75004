"""Client authentication with a signed JWT: ``private_key_jwt`` (RFC 7523 §2.2, §3;
RFC 7521 §4.2).  It is the only client authentication method: no client secrets.

The token request carries ``client_assertion_type`` (exactly
:data:`CLIENT_ASSERTION_TYPE`), ``client_assertion`` (a compact JWS) and optionally
``client_id``.  :func:`authenticate_client` checks, in this order:

1. the assertion type and a well-formed JWS (at most 16 KiB);
2. header: ``typ`` absent, ``JWT`` or ``client-authentication+jwt``; ``alg`` an
   accepted asymmetric algorithm (``none`` and HMACs never);
3. ``iss`` == ``sub`` == the client's id, equal to the form's ``client_id`` if sent;
   the client is registered;
4. the signature verifies under one of the client's keys (the key named by ``kid``, or
   every key that verifies ``alg`` when there is no ``kid``);
5. ``aud`` is exactly this server's issuer identifier, as a single string (RFC 7523
   allows the token endpoint URL or an array too; draft-ietf-oauth-rfc7523bis closes
   that: an assertion made for another server, or for several, cannot be replayed
   here — "audience injection"); ``exp`` an integer, not passed (with ``leeway``) and at
   most ``max_lifetime`` (+ ``leeway``) ahead; ``nbf`` and ``iat``, if present,
   integers not in the future beyond ``leeway``; ``jti`` a string of 1..256
   characters;
6. ``(client_id, jti)`` not used before (kept until the assertion expires).

Every failure is :class:`OAuthError` ``invalid_client``, status 401, with a
``reason``; the description never quotes the assertion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final, NoReturn

from .. import errors
from ..identity.jose import JoseError, decode_unverified
from ..identity.jwk import ASYMMETRIC_ALGS, verify_jws_with
from .base import Client, ClientLookup, ReplayCache
from .errors import OAuthError

__all__ = [
    "ASSERTION_TYPS",
    "CLIENT_ASSERTION_TYPE",
    "authenticate_client",
]

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: ``typ`` header values accepted (an absent ``typ`` is too); ``client-authentication+jwt`` is
#: the explicit type of draft-ietf-oauth-rfc7523bis
ASSERTION_TYPS: Final = ("JWT", "client-authentication+jwt")
_TYPS: Final[tuple[str, ...]] = ASSERTION_TYPS
#: longest assertion read, in characters
MAX_ASSERTION_LEN: Final = 16384
MAX_JTI_LEN: Final = 256
MAX_CLIENT_ID_LEN: Final = 256
#: replay cache namespace
REPLAY_NAMESPACE: Final = "client_assertion"


def _fail(reason: str, description: str) -> NoReturn:
    raise OAuthError("invalid_client", description, reason=reason, status=401)


def _time_claim(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if name not in claims:
        _fail(f"missing_{name}", f"the client assertion has no {name}")
    if type(value) is not int:
        _fail(f"bad_{name}", f"the client assertion {name} must be an integer")
    return value


def _optional_time_claim(claims: Mapping[str, Any], name: str) -> int | None:
    return _time_claim(claims, name) if name in claims else None


async def authenticate_client(
    form: Mapping[str, str],
    *,
    lookup: ClientLookup,
    issuer: str,
    now: float,
    replay: ReplayCache,
    max_lifetime: int = 300,
    leeway: int = 5,
) -> Client:
    """Authenticate the client of a token request by its ``private_key_jwt``
    assertion (see the module docstring); record the assertion's ``jti`` as used."""
    if type(max_lifetime) is not int or max_lifetime <= 0 or type(leeway) is not int or leeway < 0:
        raise errors.InvalidParameter("max_lifetime must be positive and leeway non-negative")

    # 1. assertion type and a well-formed JWS
    assertion_type = form.get("client_assertion_type")
    if assertion_type is None:
        _fail("missing_client_auth", "client authentication with a client_assertion is required")
    if assertion_type != CLIENT_ASSERTION_TYPE:
        _fail("bad_assertion_type", "unsupported client_assertion_type")
    assertion = form.get("client_assertion")
    if not isinstance(assertion, str) or not assertion:
        _fail("missing_assertion", "client_assertion is missing")
    try:
        jws = decode_unverified(assertion, max_len=MAX_ASSERTION_LEN)
    except JoseError as e:
        _fail(e.reason, "the client assertion is not a well-formed JWS")
    header, claims = jws.header, jws.claims

    # 2. header
    if "typ" in header and header["typ"] not in _TYPS:
        _fail("bad_typ", "the client assertion typ is not accepted")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGS:
        _fail("bad_alg", "the client assertion alg is not an accepted asymmetric algorithm")

    # 3. who: iss == sub == client_id, a registered client
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not isinstance(sub, str):
        _fail("bad_iss", "the client assertion needs iss and sub strings")
    if iss != sub:
        _fail("iss_sub_mismatch", "the client assertion iss and sub differ")
    if not 0 < len(sub) <= MAX_CLIENT_ID_LEN:
        _fail("bad_iss", "the client assertion iss is not a client id")
    form_client_id = form.get("client_id")
    if form_client_id is not None and form_client_id != sub:
        _fail("client_id_mismatch", "client_id does not match the client assertion")
    client = lookup(sub)
    if client is None:
        _fail("unknown_client", "unknown client")

    # 4. signature
    try:
        verify_jws_with(jws, client.jwks.candidates(header), typ=None)
    except JoseError as e:
        _fail(e.reason, "the client assertion signature is not valid")

    # 5. audience, lifetime, jti
    if claims.get("aud") != issuer:
        _fail("bad_aud", "the client assertion audience must be this server's issuer")
    exp = _time_claim(claims, "exp")
    if exp <= now - leeway:
        _fail("expired", "the client assertion has expired")
    if exp - now > max_lifetime + leeway:
        _fail("lifetime_too_long", "the client assertion expires too far in the future")
    nbf = _optional_time_claim(claims, "nbf")
    if nbf is not None and nbf > now + leeway:
        _fail("not_yet_valid", "the client assertion is not valid yet")
    iat = _optional_time_claim(claims, "iat")
    if iat is not None and iat > now + leeway:
        _fail("future_iat", "the client assertion is issued in the future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LEN:
        _fail(
            "bad_jti", f"the client assertion jti must be a string of 1..{MAX_JTI_LEN} characters"
        )

    # 6. one use, until the assertion can no longer be accepted (exp + leeway)
    digest = hashlib.sha256(
        f"{client.client_id}|{jti}".encode("utf-8", "surrogatepass")
    ).hexdigest()
    if not await replay.use_once(REPLAY_NAMESPACE, digest, exp + leeway, now):
        _fail("replayed_jti", "the client assertion was already used")
    return client
