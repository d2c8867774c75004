"""ES256 compact JWS over P-256, strict on everything it reads.

One algorithm, ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4), in the JWS Compact
Serialization (RFC 7515 §3.1).  Decoding is strict:

- base64url without padding, only the URL-safe alphabet, canonical (the unused low
  bits of the last character are zero), no whitespace;
- header and payload are UTF-8 JSON *objects* with no duplicate member names at any
  depth (msgspec decodes; a second pass with :mod:`json` only detects duplicates, a
  few microseconds against the ~100 µs of a signature check);
- ``alg`` must be exactly ``"ES256"`` (``none``, ``HS256``, ``RS256``, ``ES384``...
  are refused before any key is looked up), ``crit`` and ``b64`` are refused, the
  signature is exactly 64 bytes ``r || s`` with ``0 < r, s < n``;
- tokens longer than ``max_len`` characters are refused before any decoding.

ECDSA signatures are malleable: ``(r, s)`` and ``(r, n - s)`` both verify.  We *sign*
with low ``s`` (``s <= n/2``) but *accept* both, because stock JOSE libraries (PyJWT,
joserfc, OpenSSL underneath) emit high ``s`` half of the time.  So a token's bytes
(or their hash) are not a unique name for it: replay protection keys on ``jti``.

Every failure raises :class:`JoseError` (an :class:`~zkattest.errors.InvalidInput`,
so also a ``ValueError``) with a short machine-readable ``reason``; messages never
contain tokens or key material.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import msgspec
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .. import errors

__all__ = [
    "DEFAULT_MAX_LEN",
    "EcKey",
    "EcPublicKey",
    "JoseError",
    "Jws",
    "KeyDestroyed",
    "Resolver",
    "b64url_decode",
    "b64url_encode",
    "decode_unverified",
    "json_object",
    "sign_compact",
    "verify_compact",
    "verify_jws",
]

#: field prime of P-256 (SEC 2 §2.4.2 / FIPS 186-4 D.1.2.3)
P256_P: Final = 2**256 - 2**224 + 2**192 + 2**96 - 1
#: order of the P-256 base point (same sources)
P256_N: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: longest token :func:`decode_unverified` reads, in characters
DEFAULT_MAX_LEN: Final = 16384

_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE: Final = {c: i for i, c in enumerate(_ALPHABET)}
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
_COMPACT: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_ECDSA: Final = ec.ECDSA(hashes.SHA256())
_CURVE: Final = ec.SECP256R1()
_DECODER: Final = msgspec.json.Decoder()
_ENCODE: Final = msgspec.json.encode
#: JWK members that carry private key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1)
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: header members the caller of :func:`sign_compact` may not set through ``headers``
_RESERVED_HEADER: Final = frozenset({"alg", "kid", "typ", "crit", "b64"})


class JoseError(errors.InvalidInput):
    """A token, key or claim set is not acceptable.

    ``reason`` is a short code: ``malformed``, ``oversize``, ``bad_alg``,
    ``bad_header``, ``bad_typ``, ``bad_signature``, ``unknown_kid``, ``bad_key``,
    ``bad_claims``, and in JWT-SVID validation ``expired``, ``not_yet_valid``,
    ``bad_lifetime``, ``bad_audience``, ``bad_subject``, ``wrong_trust_domain``,
    ``missing_jti``, ``bad_cnf``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{detail} [{reason}]")
        self.reason = reason


class KeyDestroyed(errors.ZkAttestError, RuntimeError):
    """The private key was destroyed; it cannot sign or be exported any more."""


def _fail(reason: str, detail: str) -> NoReturn:
    raise JoseError(reason, detail)


# --------------------------------------------------------------------------- base64url


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`: URL-safe alphabet only, no padding,
    no whitespace, canonical trailing bits.  Raises :class:`JoseError` ``malformed``."""
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None:
        _fail("malformed", "not base64url (alphabet A-Z a-z 0-9 - _, no padding)")
    return _b64_checked(text)


def _b64_checked(text: str) -> bytes:
    # ``text`` is known to be in the alphabet
    rem = len(text) % 4
    if rem == 1:
        _fail("malformed", "base64url length is impossible")
    if rem:
        mask = 0x0F if rem == 2 else 0x03
        if _VALUE[text[-1]] & mask:
            _fail("malformed", "base64url is not canonical (trailing bits set)")
        text += "==" if rem == 2 else "="
    return base64.urlsafe_b64decode(text)


# --------------------------------------------------------------------------- JSON


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate member")
    return d


#: deepest nesting of objects/arrays accepted in a header or claims set (a fixed
#: limit: the interpreter's recursion limit varies with the caller)
MAX_DEPTH = 32


def within_depth(obj: object, limit: int) -> bool:
    """Whether ``obj`` nests at most ``limit`` containers deep (iterative)."""
    level: list[object] = [obj]
    for _ in range(limit):
        nxt: list[object] = []
        for o in level:
            if type(o) is dict:
                nxt.extend(v for v in o.values() if type(v) in (dict, list))
            elif type(o) is list:
                nxt.extend(v for v in o if type(v) in (dict, list))
        if not nxt:
            return True
        level = nxt
    return False


def json_object(raw: bytes, what: str = "JSON") -> dict[str, Any]:
    """``raw`` (UTF-8 JSON) as an object with unique member names at every depth, or
    :class:`JoseError` ``malformed``."""
    try:
        obj = _DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        raise JoseError("malformed", f"{what} is not UTF-8 JSON") from None
    if type(obj) is not dict:
        _fail("malformed", f"{what} is not a JSON object")
    if not within_depth(obj, MAX_DEPTH):
        _fail("malformed", f"{what} nests deeper than {MAX_DEPTH} levels")
    # msgspec keeps the last of duplicate names; parsers disagree on which one wins,
    # so a token with duplicates means different things to different readers: refuse.
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise JoseError("malformed", f"{what} has duplicate member names") from None
    return obj


def _encode_object(obj: Mapping[str, Any], what: str) -> bytes:
    if not isinstance(obj, Mapping):
        _fail("bad_claims", f"{what} is not a mapping")
    if not all(type(k) is str for k in obj):
        _fail("bad_claims", f"{what} has a non-string member name")
    try:
        return _ENCODE(obj if type(obj) is dict else dict(obj))
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        raise JoseError("bad_claims", f"{what} is not JSON-encodable") from None


# --------------------------------------------------------------------------- keys


def _coordinate(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        _fail("bad_key", f"JWK member {name!r} missing or not a string")
    if _B64URL.fullmatch(value) is None or len(value) != 43:
        _fail("bad_key", f"JWK member {name!r} is not 32 bytes of base64url")
    try:
        raw = _b64_checked(value)
    except JoseError:
        raise JoseError("bad_key", f"JWK member {name!r} is not canonical base64url") from None
    if int.from_bytes(raw, "big") >= P256_P:
        _fail("bad_key", f"JWK member {name!r} is not below the field prime")
    return raw


class EcPublicKey:
    """A P-256 public key, validated once (on the curve, canonical coordinates).

    Parsed once and kept: the ``cryptography`` key object, the public JWK and the
    RFC 7638 thumbprint are computed at most once per instance.
    """

    __slots__ = ("_jwk", "_key", "_thumbprint", "_x", "_y")

    def __init__(self, x: bytes, y: bytes, key: ec.EllipticCurvePublicKey) -> None:
        # internal: use from_jwk / from_point / EcKey.public()
        self._x = x
        self._y = y
        self._key = key
        self._jwk: dict[str, str] | None = None
        self._thumbprint: str | None = None

    @classmethod
    def from_point(cls, x: bytes | bytearray, y: bytes | bytearray) -> EcPublicKey:
        """From 32-byte big-endian affine coordinates; the point must be on P-256."""
        if not isinstance(x, bytes | bytearray) or not isinstance(y, bytes | bytearray):
            _fail("bad_key", "coordinates must be bytes")
        if len(x) != 32 or len(y) != 32:
            _fail("bad_key", "coordinates must be 32 bytes each")
        x, y = bytes(x), bytes(y)
        if int.from_bytes(x, "big") >= P256_P or int.from_bytes(y, "big") >= P256_P:
            _fail("bad_key", "coordinate not below the field prime")
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, b"\x04" + x + y)
        except ValueError:
            raise JoseError("bad_key", "point is not on P-256") from None
        return cls(x, y, key)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> EcPublicKey:
        """Strict: ``kty`` "EC", ``crv`` "P-256", ``x``/``y`` 32 bytes each, on the
        curve; no private member (``d`` ...); ``alg``, if present, "ES256".  Other
        members (``kid``, ``use``...) are ignored.  Raises :class:`JoseError` ``bad_key``."""
        if not isinstance(jwk, Mapping):
            _fail("bad_key", "JWK is not an object")
        if not _PRIVATE_MEMBERS.isdisjoint(jwk.keys()):
            _fail("bad_key", "JWK carries private key material; only public keys accepted")
        if jwk.get("kty") != "EC":
            _fail("bad_key", 'JWK kty is not "EC"')
        if jwk.get("crv") != "P-256":
            _fail("bad_key", 'JWK crv is not "P-256"')
        if "alg" in jwk and jwk["alg"] != "ES256":
            _fail("bad_key", 'JWK alg is not "ES256"')
        return cls.from_point(_coordinate(jwk, "x"), _coordinate(jwk, "y"))

    @property
    def x(self) -> bytes:
        return self._x

    @property
    def y(self) -> bytes:
        return self._y

    def jwk(self) -> dict[str, str]:
        """The public JWK ``{"crv", "kty", "x", "y"}`` (a fresh dict each call)."""
        if self._jwk is None:
            self._jwk = {
                "crv": "P-256",
                "kty": "EC",
                "x": b64url_encode(self._x),
                "y": b64url_encode(self._y),
            }
        return dict(self._jwk)

    def thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint (SHA-256, base64url): the key's ``kid``."""
        if self._thumbprint is None:
            # RFC 7638 §3.2: required members only, lexicographic order, no whitespace
            j = self.jwk()
            canonical = (f'{{"crv":"P-256","kty":"EC","x":"{j["x"]}","y":"{j["y"]}"}}').encode(
                "ascii"
            )
            self._thumbprint = b64url_encode(hashlib.sha256(canonical).digest())
        return self._thumbprint

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Check a 64-byte ``r || s`` ES256 signature over ``data``.  False for any
        malformed signature (wrong length, ``r`` or ``s`` zero or ``>= n``)."""
        if len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < P256_N and 0 < s < P256_N):
            return False
        try:
            self._key.verify(encode_dss_signature(r, s), data, _ECDSA)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EcPublicKey):
            return NotImplemented
        return self._x == other._x and self._y == other._y

    def __hash__(self) -> int:
        return hash((self._x, self._y))

    def __repr__(self) -> str:
        return f"EcPublicKey(thumbprint={self.thumbprint()!r})"


class EcKey:
    """A P-256 private key.  Never printed, never pickled; exported only by
    :meth:`to_pem`.  :meth:`destroy` drops the key object (OpenSSL clears the
    scalar when it frees it); any later use raises :class:`KeyDestroyed`."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        # internal: use generate() / from_pem()
        if not isinstance(key.curve, ec.SECP256R1):
            _fail("bad_key", "not a P-256 key")
        self._key: ec.EllipticCurvePrivateKey | None = key
        raw = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self._public = EcPublicKey(raw[1:33], raw[33:65], key.public_key())

    @classmethod
    def generate(cls) -> EcKey:
        return cls(ec.generate_private_key(_CURVE))

    @classmethod
    def from_pem(cls, data: bytes) -> EcKey:
        """An unencrypted PEM private key (PKCS#8, or SEC 1 "EC PRIVATE KEY") on
        P-256.  Raises :class:`JoseError` ``bad_key`` (the message never quotes the input)."""
        if not isinstance(data, bytes | bytearray):
            _fail("bad_key", "PEM data must be bytes")
        try:
            key = serialization.load_pem_private_key(bytes(data), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise JoseError("bad_key", "not an unencrypted PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            _fail("bad_key", "not an EC private key")
        return cls(key)

    def _live(self) -> ec.EllipticCurvePrivateKey:
        if self._key is None:
            raise KeyDestroyed("this key was destroyed")
        return self._key

    @property
    def destroyed(self) -> bool:
        return self._key is None

    def public(self) -> EcPublicKey:
        """The public half (still available after :meth:`destroy`)."""
        return self._public

    def sign(self, data: bytes) -> bytes:
        """ES256 signature over ``data``: 64 bytes ``r || s`` with low ``s``."""
        r, s = decode_dss_signature(self._live().sign(data, _ECDSA))
        if s > P256_N // 2:
            s = P256_N - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def to_pem(self) -> bytes:
        """PEM PKCS#8, unencrypted: the caller protects it (file mode 0600)."""
        return self._live().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def destroy(self) -> None:
        self._key = None

    def __repr__(self) -> str:
        state = "destroyed" if self._key is None else "live"
        return f"EcKey({state}, thumbprint={self._public.thumbprint()!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("EcKey is not picklable; export it explicitly with to_pem()")


# --------------------------------------------------------------------------- JWS


@dataclass(frozen=True, slots=True)
class Jws:
    """A decoded compact JWS.  From :func:`decode_unverified` nothing in it is
    authenticated; :func:`verify_jws` checks it."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


#: ``resolve(header) -> key``: find the verification key for a header (by ``kid``);
#: raise :class:`JoseError` ``unknown_kid`` when there is none.  Never trust a key the
#: header itself carries (``jwk``, ``jku``, ``x5c``...).
Resolver = Callable[[dict[str, Any]], EcPublicKey]


def sign_compact(
    claims: Mapping[str, Any],
    key: EcKey,
    *,
    typ: str,
    kid: str | None = None,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``claims`` (any JSON object) as an ES256 compact JWS.

    Values are encoded by msgspec (compact JSON): plain JSON types as themselves,
    tuples as arrays; beware that msgspec also maps ``bytes`` to base64 strings and
    non-finite floats to ``null``, so keep claims to JSON types.

    The header is ``{"alg": "ES256", "kid": kid (if not None), "typ": typ, **headers}``;
    ``headers`` may not set ``alg``, ``kid``, ``typ``, ``crit`` or ``b64``.
    """
    if not isinstance(typ, str) or not typ:
        _fail("bad_header", "typ must be a non-empty string")
    header: dict[str, Any] = {"alg": "ES256"}
    if kid is not None:
        if not isinstance(kid, str) or not kid:
            _fail("bad_header", "kid must be a non-empty string")
        header["kid"] = kid
    header["typ"] = typ
    if headers:
        if not _RESERVED_HEADER.isdisjoint(headers.keys()):
            _fail("bad_header", "headers may not set alg, kid, typ, crit or b64")
        header.update(headers)
    signing_input = (
        b64url_encode(_encode_object(header, "header"))
        + "."
        + b64url_encode(_encode_object(claims, "claims"))
    )
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode("ascii")))


def decode_unverified(token: str, *, max_len: int = DEFAULT_MAX_LEN) -> Jws:
    """Split and decode a compact JWS *without* checking anything cryptographic.
    Raises :class:`JoseError` (``oversize``, ``malformed``)."""
    if not isinstance(token, str):
        _fail("malformed", "a token is a str")
    if len(token) > max_len:
        _fail("oversize", f"token longer than {max_len} characters")
    if _COMPACT.fullmatch(token) is None:
        _fail("malformed", "not a JWS compact serialization (three base64url segments)")
    h, p, s = token.split(".")
    header = json_object(_b64_checked(h), "header")
    claims = json_object(_b64_checked(p), "payload")
    signature = _b64_checked(s)
    return Jws(header, claims, f"{h}.{p}".encode("ascii"), signature)


def verify_jws(jws: Jws, resolve: Resolver, *, typ: str | None) -> Jws:
    """Check a decoded JWS: ``alg`` "ES256", no ``crit``/``b64``, ``typ`` equal to
    ``typ`` (exact, case-sensitive; ``None`` skips the check), a 64-byte signature
    that verifies under ``resolve(header)``.  Returns ``jws``; raises :class:`JoseError`."""
    header = jws.header
    alg = header.get("alg")
    if alg != "ES256":
        _fail("bad_alg", "alg must be ES256")
    if "crit" in header or "b64" in header:
        _fail("bad_header", "crit and b64 header parameters are not supported")
    if typ is not None and header.get("typ") != typ:
        _fail("bad_typ", f"typ must be {typ!r}")
    if len(jws.signature) != 64:
        _fail("bad_signature", "an ES256 signature is 64 bytes")
    key = resolve(header)
    if not key.verify(jws.signature, jws.signing_input):
        _fail("bad_signature", "signature does not verify")
    return jws


def verify_compact(
    token: str,
    resolve: Resolver,
    *,
    typ: str | None,
    max_len: int = DEFAULT_MAX_LEN,
) -> dict[str, Any]:
    """Decode and verify an ES256 compact JWS; return its claims (a JSON object).
    See :func:`decode_unverified` and :func:`verify_jws` for what is refused."""
    return verify_jws(decode_unverified(token, max_len=max_len), resolve, typ=typ).claims
