"""DPoP proof validation (RFC 9449).

:func:`check_dpop` checks one ``DPoP`` header value in the order of RFC 9449 §4.3, with
every check that needs no state first, then the server nonce (§8, §9), then the
``jti`` replay cache last, so a refused proof consumes nothing:

1. present, at most 8 KiB, a compact JWS with strict base64url and JSON;
2. header: ``typ`` exactly ``dpop+jwt``; ``alg`` an accepted asymmetric algorithm
   (never ``none`` nor an HMAC); ``jwk`` a *public* key (:class:`PublicJwk`: private
   and symmetric keys refused) that verifies ``alg``; no ``crit``; the signature
   verifies under that ``jwk``;
3. claims: ``jti`` a string of 1..256 characters; ``htm`` equal to the request method
   (exact); ``htu`` equal to the request URI after :func:`normalize_htu` of both;
   ``iat`` an integer with ``now - max_age - leeway <= iat <= now + leeway``;
4. with an access token: ``ath`` = base64url(SHA-256(token)); with a bound key
   (``cnf.jkt``): the ``jwk``'s RFC 7638 thumbprint equals it;
5. with a :class:`NonceIssuer`: a ``nonce`` claim it accepts, else ``use_dpop_nonce``
   with a fresh nonce in the ``DPoP-Nonce`` header;
6. ``(thumbprint, jti)`` not seen before (the replay cache entry lives as long as the
   proof would be accepted).

Every failure is an :class:`OAuthError` ``invalid_dpop_proof`` (or ``use_dpop_nonce``)
with a ``reason``: status 400 at the token endpoint; with ``resource=True`` status 401
and ``WWW-Authenticate: DPoP error="..."`` (RFC 9449 §7.1, §9).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

from .. import errors
from ..identity.jose import JoseError, b64url_encode, decode_unverified
from ..identity.jwk import ASYMMETRIC_ALGS, PublicJwk, verify_jws_with
from .base import ReplayCache
from .errors import OAuthError
from .nonce import NonceIssuer

__all__ = [
    "DPOP_TYP",
    "MAX_PROOF_LEN",
    "DpopProof",
    "check_dpop",
    "normalize_htu",
]

DPOP_TYP: Final = "dpop+jwt"
#: longest DPoP header value read, in characters
MAX_PROOF_LEN: Final = 8192
#: longest URI normalized
MAX_URL_LEN: Final = 8192
MAX_JTI_LEN: Final = 256
#: replay cache namespace
REPLAY_NAMESPACE: Final = "dpop"

# RFC 3986 §2: the characters a URI may contain (unreserved, reserved, "%")
_URI_CHARS: Final = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
_HEX: Final = frozenset("0123456789abcdefABCDEF")
# RFC 3986 §3.2.2 reg-name / IP literal characters (after the brackets are removed)
_REG_NAME: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]+")
_IP_LITERAL: Final = re.compile(r"\[[A-Za-z0-9:.]+\]")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class DpopProof:
    """A DPoP proof that passed :func:`check_dpop`.  ``jkt`` is the RFC 7638
    thumbprint of ``key``; ``htu`` is the normalized form of the ``htu`` claim."""

    key: PublicJwk
    jkt: str
    jti: str
    iat: int
    htm: str
    htu: str
    nonce: str | None


class _BadUrl(Exception):
    pass


def _pct_normalize(text: str, *, lower: bool) -> str:
    """RFC 3986 §6.2.2.1-2: decode percent-encoded unreserved characters, uppercase
    the hex digits of the others; ``lower`` lowercases literal characters too."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "%":
            hx = text[i + 1 : i + 3]
            if len(hx) != 2 or not set(hx) <= _HEX:
                raise _BadUrl("bad percent-encoding")
            byte = int(hx, 16)
            if byte in _UNRESERVED:
                ch = chr(byte)
                out.append(ch.lower() if lower else ch)
            else:
                out.append("%" + hx.upper())
            i += 3
        else:
            out.append(c.lower() if lower else c)
            i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path (starts with "/")."""
    segments = path.split("/")[1:]
    out: list[str] = []
    for seg in segments:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments and segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _normalize(url: object) -> str:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LEN:
        raise _BadUrl("not a URI")
    if _URI_CHARS.fullmatch(url) is None:
        raise _BadUrl("characters not allowed in a URI")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _BadUrl("not a URI") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _BadUrl("scheme is not http or https")
    netloc = parts.netloc
    if not url[len(parts.scheme) :].startswith("://") or not netloc:
        raise _BadUrl("no authority")
    if "@" in netloc:
        raise _BadUrl("userinfo is not allowed")
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if end < 0 or _IP_LITERAL.fullmatch(host) is None:
            raise _BadUrl("bad IP literal")
        if rest and not rest.startswith(":"):
            raise _BadUrl("bad authority")
        port_text = rest[1:] if rest else None
        host = host.lower()
    else:
        host, sep, port_text_ = netloc.partition(":")
        port_text = port_text_ if sep else None
        if _REG_NAME.fullmatch(host) is None:
            raise _BadUrl("bad host")
        host = _pct_normalize(host, lower=True)
    port = ""
    if port_text:  # RFC 3986 §6.2.3: an empty port is the same as none
        if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
            raise _BadUrl("bad port")
        number = int(port_text)
        if number > 65535:
            raise _BadUrl("bad port")
        if number != _DEFAULT_PORTS[scheme]:
            port = f":{number}"
    path = _remove_dot_segments(_pct_normalize(parts.path or "/", lower=False))
    return f"{scheme}://{host}{port}{path}"


def normalize_htu(url: str) -> str:
    """The form of an ``http``/``https`` URI that DPoP ``htu`` comparison uses (RFC 9449
    §4.3 with RFC 3986 §6.2.2 and §6.2.3): scheme and host lowercased, default port
    dropped, empty path "/", percent-encoding normalized (unreserved characters
    decoded, hex digits uppercase), dot segments removed, query and fragment dropped.
    Userinfo, other schemes and characters outside RFC 3986 are refused
    (:class:`OAuthError` ``invalid_dpop_proof``, reason ``bad_htu``)."""
    try:
        return _normalize(url)
    except _BadUrl as e:
        raise OAuthError("invalid_dpop_proof", f"htu: {e}", reason="bad_htu") from None


def _ath(access_token: str) -> str:
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


async def check_dpop(
    proof: str | None,
    *,
    method: str,
    url: str,
    now: float,
    replay: ReplayCache,
    nonces: NonceIssuer | None,
    access_token: str | None = None,
    jkt: str | None = None,
    max_age: int = 60,
    leeway: int = 5,
    algs: frozenset[str] = ASYMMETRIC_ALGS,
    resource: bool = False,
) -> DpopProof:
    """Validate the DPoP proof of one request (see the module docstring); record its
    ``jti`` as used.  ``url`` is the request's absolute URI; ``access_token`` and
    ``jkt`` (the token's ``cnf.jkt``) are given at a protected resource."""
    if type(max_age) is not int or max_age < 0 or type(leeway) is not int or leeway < 0:
        raise errors.InvalidParameter("max_age and leeway must be non-negative integers")

    def fail(reason: str, description: str) -> NoReturn:
        if resource:
            raise OAuthError(
                "invalid_dpop_proof",
                description,
                reason=reason,
                status=401,
                headers={"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"'},
            )
        raise OAuthError("invalid_dpop_proof", description, reason=reason, status=400)

    # 1. one well-formed JWS
    if proof is None:
        fail("missing_proof", "a DPoP proof is required")
    if not isinstance(proof, str):
        fail("malformed", "the DPoP proof is not a string")
    if len(proof) > MAX_PROOF_LEN:
        fail("oversize", f"the DPoP proof is longer than {MAX_PROOF_LEN} characters")
    try:
        jws = decode_unverified(proof, max_len=MAX_PROOF_LEN)
    except JoseError as e:
        fail(e.reason, "the DPoP proof is not a well-formed JWS")
    header: Mapping[str, Any] = jws.header
    claims: Mapping[str, Any] = jws.claims

    # 2. header and signature
    if header.get("typ") != DPOP_TYP:
        fail("bad_typ", f"the DPoP proof typ must be {DPOP_TYP!r}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs or alg not in ASYMMETRIC_ALGS:
        fail("bad_alg", "the DPoP proof alg is not an accepted asymmetric algorithm")
    jwk = header.get("jwk")
    if not isinstance(jwk, Mapping):
        fail("bad_jwk", "the DPoP proof header has no jwk")
    try:
        key = PublicJwk.from_jwk(jwk)
    except JoseError:
        fail("bad_jwk", "the DPoP proof jwk is not an acceptable public key")
    if alg not in key.algs():
        fail("bad_alg", "the DPoP proof alg does not match its jwk")
    try:
        verify_jws_with(jws, [key], typ=DPOP_TYP, algs=algs)
    except JoseError as e:
        fail(e.reason, "the DPoP proof signature is not valid")

    # 3. claims
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LEN:
        fail("bad_jti", f"the DPoP proof jti must be a string of 1..{MAX_JTI_LEN} characters")
    htm = claims.get("htm")
    if not isinstance(htm, str) or htm != method:
        fail("htm_mismatch", "the DPoP proof htm does not match the request method")
    htu = claims.get("htu")
    try:
        htu_norm = _normalize(htu)
    except _BadUrl:
        fail("bad_htu", "the DPoP proof htu is not an http(s) URI")
    try:
        url_norm = _normalize(url)
    except _BadUrl:
        fail("bad_url", "the request URI cannot be normalized")
    if htu_norm != url_norm:
        fail("htu_mismatch", "the DPoP proof htu does not match the request URI")
    iat = claims.get("iat")
    if type(iat) is not int:
        fail("bad_iat", "the DPoP proof iat must be an integer")
    if iat < now - max_age - leeway:
        fail("stale_iat", "the DPoP proof is too old")
    if iat > now + leeway:
        fail("future_iat", "the DPoP proof is issued in the future")

    # 4. binding to an access token and its key
    if access_token is not None:
        ath = claims.get("ath")
        if ath is None:
            fail("missing_ath", "the DPoP proof has no ath")
        if (
            not isinstance(ath, str)
            or not ath.isascii()
            or not access_token.isascii()
            or not hmac.compare_digest(ath, _ath(access_token))
        ):
            fail("ath_mismatch", "the DPoP proof ath does not match the access token")
    thumbprint = key.thumbprint()
    if jkt is not None and thumbprint != jkt:
        fail("jkt_mismatch", "the DPoP proof key is not the key the token is bound to")

    # 5. server nonce
    nonce = claims.get("nonce")
    if nonces is not None and (nonce is None or not nonces.check(nonce, now)):
        headers = {"DPoP-Nonce": nonces.issue(now)}
        if resource:
            headers["WWW-Authenticate"] = 'DPoP error="use_dpop_nonce"'
        raise OAuthError(
            "use_dpop_nonce",
            "a fresh DPoP nonce is required",
            reason="missing_nonce" if nonce is None else "bad_nonce",
            status=401 if resource else 400,
            headers=headers,
        )

    # 6. one use: the entry outlives the last instant the proof is accepted
    # (iat + max_age + leeway, inclusive); an entry counts as expired at expires_at
    digest = hashlib.sha256(f"{thumbprint}|{jti}".encode("utf-8", "surrogatepass")).hexdigest()
    if not await replay.use_once(REPLAY_NAMESPACE, digest, iat + max_age + leeway + 1, now):
        fail("replayed_jti", "the DPoP proof was already used")
    return DpopProof(
        key=key,
        jkt=thumbprint,
        jti=jti,
        iat=iat,
        htm=htm,
        htu=htu_norm,
        nonce=nonce if isinstance(nonce, str) else None,
    )
