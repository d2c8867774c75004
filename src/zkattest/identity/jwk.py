"""Public JWKs of *client* keys, in every algorithm a client may sign with.

Our own tokens stay ES256 (:mod:`.jose`).  OAuth clients (RFC 7523 ``private_key_jwt``
assertions, RFC 9449 DPoP proofs) may sign with:

=========  ==========================================  ===========================
alg        key                                         signature (RFC 7518 / 8037)
=========  ==========================================  ===========================
ES256      EC P-256                                    ``r || s``, 32 + 32 bytes
ES384      EC P-384                                    ``r || s``, 48 + 48 bytes
RS256      RSA, 2048..8192 bits                        PKCS #1 v1.5, SHA-256
PS256      RSA, 2048..8192 bits                        PSS, SHA-256, MGF1-SHA-256,
                                                       32-byte salt
EdDSA      OKP Ed25519                                 64 bytes (RFC 8032)
Ed25519    OKP Ed25519 (RFC 9864's fully-specified     64 bytes (RFC 8032)
           name for the same signature)
=========  ==========================================  ===========================

:meth:`PublicJwk.from_jwk` validates a key once, strictly: no private member, no
symmetric (``oct``) key, known ``kty``/``crv`` only, canonical base64url of the exact
length (RSA integers without leading zero octets), EC points on their curve, Ed25519
points canonical, on the curve and not of small order, RSA moduli odd and 2048..8192
bits with an odd exponent ``3 <= e < 2**32``; ``use`` (if present) "sig", ``alg`` (if
present) one this key type can verify, ``key_ops`` (if present) containing "verify".
Everything is parsed into a ``cryptography`` key object once.

:meth:`PublicJwk.verify` never raises on a bad signature: it answers ``False``.
:func:`verify_jws_with` checks a decoded JWS (:func:`.jose.decode_unverified`) against
a list of candidate keys and raises :class:`~.jose.JoseError` with reasons
``bad_alg``, ``bad_header``, ``bad_typ``, ``unknown_kid``, ``bad_signature``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, NoReturn

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .jose import JoseError, Jws, b64url_decode, b64url_encode

__all__ = [
    "ASYMMETRIC_ALGS",
    "MAX_JWKS_KEYS",
    "Jwks",
    "PublicJwk",
    "verify_jws_with",
]

#: JWS algorithms a client key may use (never ``none`` nor an HMAC)
ASYMMETRIC_ALGS: Final[frozenset[str]] = frozenset(
    {"ES256", "ES384", "PS256", "RS256", "EdDSA", "Ed25519"}
)
#: most keys one JWK Set may hold
MAX_JWKS_KEYS: Final = 32
#: RSA modulus sizes accepted, in bits
RSA_MIN_BITS: Final = 2048
RSA_MAX_BITS: Final = 8192
#: longest ``kid`` accepted
MAX_KID_LEN: Final = 256

#: JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2,
#: §6.4.1; RFC 8037 §2 uses ``d`` for OKP too)
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

_Kind = Literal["EC", "RSA", "OKP"]


class _Curve:
    """An EC curve a JWK may name: its coordinate size, field prime, JWS alg, hash."""

    __slots__ = ("alg", "curve", "hash", "name", "prime", "size")

    def __init__(
        self,
        name: str,
        size: int,
        prime: int,
        alg: str,
        curve: ec.EllipticCurve,
        hash_: hashes.HashAlgorithm,
    ) -> None:
        self.name = name
        self.size = size
        self.prime = prime
        self.alg = alg
        self.curve = curve
        self.hash = hash_


# field primes from their definitions (FIPS 186-4 D.1.2.3, D.1.2.4)
_EC_CURVES: Final[dict[str, _Curve]] = {
    "P-256": _Curve(
        "P-256",
        32,
        2**256 - 2**224 + 2**192 + 2**96 - 1,
        "ES256",
        ec.SECP256R1(),
        hashes.SHA256(),
    ),
    "P-384": _Curve(
        "P-384",
        48,
        2**384 - 2**128 - 2**96 + 2**32 - 1,
        "ES384",
        ec.SECP384R1(),
        hashes.SHA384(),
    ),
}
_RSA_ALGS: Final = frozenset({"PS256", "RS256"})
_PSS: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_PKCS1: Final = padding.PKCS1v15()
_SHA256: Final = hashes.SHA256()

# Ed25519 (RFC 8032 §5.1): p = 2^255 - 19, d = -121665/121666 mod p
_ED_P: Final = 2**255 - 19
_ED_D: Final = (-121665 * pow(121666, _ED_P - 2, _ED_P)) % _ED_P
_ED_SQRT_M1: Final = pow(2, (_ED_P - 1) // 4, _ED_P)


def _fail(reason: str, detail: str) -> NoReturn:
    raise JoseError(reason, detail)


def _member(jwk: Mapping[str, Any], name: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str):
        _fail("bad_key", f"JWK member {name!r} missing or not a string")
    return value


def _b64_member(jwk: Mapping[str, Any], name: str) -> bytes:
    try:
        return b64url_decode(_member(jwk, name))
    except JoseError:
        raise JoseError("bad_key", f"JWK member {name!r} is not canonical base64url") from None


def _uint_member(jwk: Mapping[str, Any], name: str) -> int:
    """An RSA integer: base64url of its minimal big-endian octets (RFC 7518 §6.3.1)."""
    raw = _b64_member(jwk, name)
    if not raw or raw[0] == 0:
        _fail("bad_key", f"JWK member {name!r} is not a minimal big-endian integer")
    return int.from_bytes(raw, "big")


def _ed25519_check(raw: bytes) -> None:
    """Refuse an Ed25519 public key that is non-canonical, off the curve or of small
    order (RFC 8032 §5.1.3 decoding; ``8 * A`` must not be the identity)."""
    y = int.from_bytes(raw, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _ED_P:
        _fail("bad_key", "Ed25519 point encoding is not canonical")
    p = _ED_P
    u = (y * y - 1) % p
    v = (_ED_D * y * y + 1) % p
    x2 = u * pow(v, p - 2, p) % p
    x = pow(x2, (p + 3) // 8, p)
    if (x * x - x2) % p != 0:
        x = x * _ED_SQRT_M1 % p
    if (x * x - x2) % p != 0:
        _fail("bad_key", "Ed25519 point is not on the curve")
    if x == 0 and sign:
        _fail("bad_key", "Ed25519 point encoding is not canonical")
    # three doublings (affine, a = -1; the formulas are complete on edwards25519)
    for _ in range(3):
        xy = x * y % p
        t = _ED_D * xy * xy % p
        x, y = (
            2 * xy * pow(1 + t, p - 2, p) % p,
            (y * y + x * x) * pow(1 - t, p - 2, p) % p,
        )
    if x == 0 and y == 1:
        _fail("bad_key", "Ed25519 point has small order")


class PublicJwk:
    """A validated public JWK of an asymmetric signing key (EC P-256/P-384, RSA,
    Ed25519).  Immutable; equal when key material, ``kid`` and ``alg`` are equal;
    hashed by its RFC 7638 thumbprint."""

    __slots__ = ("_alg", "_algs", "_hash", "_key", "_kid", "_kind", "_public", "_thumbprint")

    _key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    _hash: hashes.HashAlgorithm | None
    _kind: _Kind
    _public: dict[str, str]
    _algs: frozenset[str]
    _kid: str | None
    _alg: str | None
    _thumbprint: str

    def __init__(self) -> None:
        raise TypeError("use PublicJwk.from_jwk()")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PublicJwk is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("PublicJwk is immutable")

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> PublicJwk:
        """Validate a public JWK (see the module docstring).  Members other than the
        key's own, ``kid``, ``alg``, ``use`` and ``key_ops`` are ignored.  Raises
        :class:`JoseError` ``bad_key``; the message never quotes key material."""
        if not isinstance(jwk, Mapping):
            _fail("bad_key", "JWK is not an object")
        if not all(isinstance(k, str) for k in jwk):
            _fail("bad_key", "JWK has a non-string member name")
        if not _PRIVATE_MEMBERS.isdisjoint(jwk.keys()):
            _fail("bad_key", "JWK carries private or symmetric key material")
        kty = jwk.get("kty")
        if kty == "oct":
            _fail("bad_key", "symmetric (oct) keys are not accepted")
        kid = jwk.get("kid")
        if "kid" in jwk and (not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LEN):
            _fail("bad_key", f"JWK kid must be a string of 1..{MAX_KID_LEN} characters")
        if "use" in jwk and jwk["use"] != "sig":
            _fail("bad_key", 'JWK use is not "sig"')
        if "key_ops" in jwk:
            ops = jwk["key_ops"]
            if (
                not isinstance(ops, list)
                or not all(isinstance(o, str) for o in ops)
                or "verify" not in ops
            ):
                _fail("bad_key", 'JWK key_ops does not allow "verify"')
        alg = jwk.get("alg")
        if "alg" in jwk and (not isinstance(alg, str) or alg not in ASYMMETRIC_ALGS):
            _fail("bad_key", "JWK alg is not a supported asymmetric JWS algorithm")

        key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
        hash_: hashes.HashAlgorithm | None = None
        kind: _Kind
        if kty == "EC":
            crv = jwk.get("crv")
            curve = _EC_CURVES.get(crv) if isinstance(crv, str) else None
            if curve is None:
                _fail("bad_key", "JWK crv is not a supported EC curve (P-256, P-384)")
            x, y = _b64_member(jwk, "x"), _b64_member(jwk, "y")
            if len(x) != curve.size or len(y) != curve.size:
                _fail("bad_key", f"EC coordinates must be {curve.size} bytes each")
            if int.from_bytes(x, "big") >= curve.prime or int.from_bytes(y, "big") >= curve.prime:
                _fail("bad_key", "EC coordinate is not below the field prime")
            try:
                key = ec.EllipticCurvePublicKey.from_encoded_point(curve.curve, b"\x04" + x + y)
            except ValueError:
                raise JoseError("bad_key", f"point is not on {curve.name}") from None
            kind, hash_, algs = "EC", curve.hash, frozenset({curve.alg})
            public = {"crv": curve.name, "kty": "EC", "x": b64url_encode(x), "y": b64url_encode(y)}
        elif kty == "RSA":
            n, e = _uint_member(jwk, "n"), _uint_member(jwk, "e")
            if not RSA_MIN_BITS <= n.bit_length() <= RSA_MAX_BITS or n % 2 == 0:
                _fail("bad_key", f"RSA modulus must be odd, {RSA_MIN_BITS}..{RSA_MAX_BITS} bits")
            if e < 3 or e % 2 == 0 or e.bit_length() > 32:
                _fail("bad_key", "RSA exponent must be odd, 3 <= e < 2**32")
            try:
                key = rsa.RSAPublicNumbers(e, n).public_key()
            except (ValueError, UnsupportedAlgorithm):
                raise JoseError("bad_key", "not a usable RSA public key") from None
            kind, algs = "RSA", _RSA_ALGS
            public = {"e": _member(jwk, "e"), "kty": "RSA", "n": _member(jwk, "n")}
        elif kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                _fail("bad_key", "JWK crv is not a supported OKP curve (Ed25519)")
            raw = _b64_member(jwk, "x")
            if len(raw) != 32:
                _fail("bad_key", "an Ed25519 public key is 32 bytes")
            _ed25519_check(raw)
            try:
                key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            except (ValueError, UnsupportedAlgorithm):
                raise JoseError("bad_key", "not a usable Ed25519 public key") from None
            kind, algs = "OKP", frozenset({"EdDSA", "Ed25519"})
            public = {"crv": "Ed25519", "kty": "OKP", "x": _member(jwk, "x")}
        else:
            _fail("bad_key", "JWK kty is not a supported key type (EC, RSA, OKP)")

        if alg is not None:
            if alg not in algs:
                _fail("bad_key", "JWK alg does not match the key type")
            algs = frozenset({alg})
        # RFC 7638 §3.2: required members only, lexicographic order, no whitespace
        canonical = json.dumps(public, sort_keys=True, separators=(",", ":")).encode("ascii")
        self = object.__new__(cls)
        for name, value in (
            ("_key", key),
            ("_hash", hash_),
            ("_kind", kind),
            ("_public", public),
            ("_algs", algs),
            ("_kid", kid),
            ("_alg", alg),
            ("_thumbprint", b64url_encode(hashlib.sha256(canonical).digest())),
        ):
            object.__setattr__(self, name, value)
        return self

    @property
    def kid(self) -> str | None:
        """The JWK's ``kid`` member, if any."""
        return self._kid

    @property
    def alg(self) -> str | None:
        """The JWK's own ``alg`` member, if any."""
        return self._alg

    @property
    def kty(self) -> str:
        return self._kind

    def algs(self) -> frozenset[str]:
        """The JWS algorithms this key verifies (just its ``alg`` if the JWK has one)."""
        return self._algs

    def verify(self, alg: str, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` (JWS encoding) over ``data`` verifies under this key
        with ``alg``.  ``False`` for an algorithm this key does not verify, a
        malformed signature or a wrong one; never raises on bad signatures."""
        if not isinstance(alg, str) or alg not in self._algs:
            return False
        if not isinstance(signature, bytes | bytearray) or not isinstance(data, bytes | bytearray):
            return False
        signature, data = bytes(signature), bytes(data)
        key = self._key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                size = (key.curve.key_size + 7) // 8
                if len(signature) != 2 * size or self._hash is None:
                    return False
                r = int.from_bytes(signature[:size], "big")
                s = int.from_bytes(signature[size:], "big")
                if r == 0 or s == 0:
                    return False
                # OpenSSL refuses r, s >= n as an invalid signature
                key.verify(encode_dss_signature(r, s), data, ec.ECDSA(self._hash))
            elif isinstance(key, rsa.RSAPublicKey):
                if len(signature) != (key.key_size + 7) // 8:
                    return False
                pad = _PSS if alg == "PS256" else _PKCS1
                key.verify(signature, data, pad, _SHA256)
            else:
                if len(signature) != 64:
                    return False
                key.verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint: SHA-256 over the required members, base64url."""
        return self._thumbprint

    def jwk(self) -> dict[str, str]:
        """The public JWK: the key's required members, plus ``kid`` and ``alg`` if
        the JWK had them (a fresh dict each call)."""
        out = dict(self._public)
        if self._kid is not None:
            out["kid"] = self._kid
        if self._alg is not None:
            out["alg"] = self._alg
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicJwk):
            return NotImplemented
        return (self._thumbprint, self._kid, self._alg) == (
            other._thumbprint,
            other._kid,
            other._alg,
        )

    def __hash__(self) -> int:
        return hash(self._thumbprint)

    def __repr__(self) -> str:
        return f"PublicJwk(kty={self._kind!r}, kid={self._kid!r}, thumbprint={self._thumbprint!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PublicJwk.from_jwk, (self.jwk(),))


class Jwks:
    """A JWK Set of client keys: 1..32 validated public keys, ``kid``\\ s unique."""

    __slots__ = ("_keys",)

    _keys: tuple[PublicJwk, ...]

    def __init__(self, keys: Iterable[PublicJwk]) -> None:
        ks = tuple(keys)
        if not 0 < len(ks) <= MAX_JWKS_KEYS:
            _fail("bad_key", f"a JWK Set holds 1..{MAX_JWKS_KEYS} keys")
        if not all(isinstance(k, PublicJwk) for k in ks):
            _fail("bad_key", "a JWK Set holds PublicJwk keys")
        kids = [k.kid for k in ks if k.kid is not None]
        if len(kids) != len(set(kids)):
            _fail("bad_key", "duplicate kid in the JWK Set")
        object.__setattr__(self, "_keys", ks)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Jwks is immutable")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Jwks:
        """From ``{"keys": [jwk, ...]}``; every key via :meth:`PublicJwk.from_jwk`.
        Raises :class:`JoseError` ``bad_key``."""
        if not isinstance(obj, Mapping):
            _fail("bad_key", "a JWK Set is an object")
        keys = obj.get("keys")
        if not isinstance(keys, list):
            _fail("bad_key", 'a JWK Set has a "keys" array')
        if not 0 < len(keys) <= MAX_JWKS_KEYS:
            _fail("bad_key", f"a JWK Set holds 1..{MAX_JWKS_KEYS} keys")
        return cls(PublicJwk.from_jwk(k) for k in keys)

    @property
    def keys(self) -> tuple[PublicJwk, ...]:
        return self._keys

    def candidates(self, header: Mapping[str, Any]) -> list[PublicJwk]:
        """The keys that may have signed a JWS with this header: with a ``kid``, the
        key with that ``kid`` if it verifies the header's ``alg`` (else none);
        without, every key that verifies ``alg``."""
        alg = header.get("alg")
        if not isinstance(alg, str):
            return []
        if "kid" in header:
            kid = header["kid"]
            if not isinstance(kid, str):
                return []
            return [k for k in self._keys if k.kid == kid and alg in k.algs()]
        return [k for k in self._keys if alg in k.algs()]

    def to_json(self) -> dict[str, Any]:
        """``{"keys": [public JWK, ...]}``."""
        return {"keys": [k.jwk() for k in self._keys]}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Jwks):
            return NotImplemented
        return self._keys == other._keys

    def __hash__(self) -> int:
        return hash(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Jwks, (self._keys,))

    def __repr__(self) -> str:
        return f"Jwks({len(self._keys)} keys)"


def verify_jws_with(
    jws: Jws,
    keys: Sequence[PublicJwk],
    *,
    typ: str | None,
    algs: frozenset[str] = ASYMMETRIC_ALGS,
) -> PublicJwk:
    """Check a decoded JWS against candidate keys; return the key that verifies it.

    ``alg`` must be in ``algs`` (and asymmetric: ``none``, ``HS256``... are always
    ``bad_alg``); ``crit`` and ``b64`` are refused (``bad_header``); ``typ``, when not
    ``None``, must equal the header's exactly (``bad_typ``).  No keys:
    ``unknown_kid``; no key verifies: ``bad_signature``.
    """
    header = jws.header
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs or alg not in ASYMMETRIC_ALGS:
        _fail("bad_alg", "alg is not an accepted asymmetric JWS algorithm")
    if "crit" in header or "b64" in header:
        _fail("bad_header", "crit and b64 header parameters are not supported")
    if typ is not None and header.get("typ") != typ:
        _fail("bad_typ", f"typ must be {typ!r}")
    if not keys:
        _fail("unknown_kid", "no key to verify this JWS")
    for key in keys:
        if key.verify(alg, jws.signature, jws.signing_input):
            return key
    _fail("bad_signature", "signature does not verify")
