"""The audit public key on disk: PEM (SubjectPublicKeyInfo), JWK or JWKS.

``zkattest audit verify`` needs only the public key.  :func:`write_public_key`
exports it (atomically, mode 0644: it is public); :func:`load_public_keys` reads
one or more keys (several PEM blocks, or a JWKS, for a trail spanning a key
rotation).  A private key is refused outright: the verifier never needs one, and
asking for the public file keeps the private one where it belongs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .. import errors
from ..identity.jose import EcKey, EcPublicKey, JoseError, json_object

__all__ = [
    "MAX_KEY_FILE",
    "load_public_keys",
    "parse_public_keys",
    "public_jwk",
    "public_pem",
    "write_public_key",
]

MAX_KEY_FILE: Final = 64 * 1024
_PEM_BLOCK: Final = re.compile(
    rb"-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----"
)


def _public(key: EcKey | EcPublicKey) -> EcPublicKey:
    if isinstance(key, EcKey):
        return key.public()
    if isinstance(key, EcPublicKey):
        return key
    raise errors.InvalidParameter("an EcKey or EcPublicKey")


def public_pem(key: EcKey | EcPublicKey) -> bytes:
    """The public key as PEM SubjectPublicKeyInfo ("BEGIN PUBLIC KEY")."""
    pub = _public(key)
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + pub.x + pub.y)
    return point.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_jwk(key: EcKey | EcPublicKey) -> dict[str, str]:
    """The public JWK with ``kid`` (its RFC 7638 thumbprint, as in checkpoint
    headers), ``use`` "sig" and ``alg`` "ES256"."""
    pub = _public(key)
    return {**pub.jwk(), "kid": pub.thumbprint(), "use": "sig", "alg": "ES256"}


def write_public_key(
    path: str | os.PathLike[str],
    key: EcKey | EcPublicKey,
    *,
    fmt: Literal["pem", "jwk", "jwks"] = "pem",
) -> Path:
    """Write the public key to ``path`` (replacing it atomically); returns the path."""
    if fmt == "pem":
        data = public_pem(key)
    elif fmt in ("jwk", "jwks"):
        jwk = public_jwk(key)
        data = (json.dumps({"keys": [jwk]} if fmt == "jwks" else jwk, indent=2) + "\n").encode()
    else:
        raise errors.InvalidParameter('fmt is "pem", "jwk" or "jwks"')
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".audit-key-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _from_pem(block: bytes) -> EcPublicKey:
    try:
        key = serialization.load_pem_public_key(block)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise errors.MalformedFile("not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise errors.MalformedFile("the audit key is a P-256 (ES256) key")
    raw = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return EcPublicKey.from_point(raw[1:33], raw[33:65])


def _from_jwk(jwk: Any) -> EcPublicKey:
    if not isinstance(jwk, dict):
        raise errors.MalformedFile("a JWK is a JSON object")
    if "use" in jwk and jwk["use"] != "sig":
        raise errors.MalformedFile('the audit key\'s JWK "use" is not "sig"')
    try:
        return EcPublicKey.from_jwk(jwk)
    except JoseError as exc:
        raise errors.MalformedFile(f"not a P-256 public JWK: {exc}") from None


def parse_public_keys(data: bytes) -> tuple[EcPublicKey, ...]:
    """Keys from the bytes of a PEM file (one or more PUBLIC KEY blocks), a JWK or a
    JWKS (``{"keys": [...]}``, 1..32 keys).  Raises
    :class:`~zkattest.errors.MalformedFile`."""
    if len(data) > MAX_KEY_FILE:
        raise errors.MalformedFile(f"a key file is at most {MAX_KEY_FILE} bytes")
    if b"PRIVATE KEY" in data:
        raise errors.MalformedFile("this is a private key: give the audit PUBLIC key")
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        blocks = _PEM_BLOCK.findall(data)
        if not blocks:
            raise errors.MalformedFile("no PEM PUBLIC KEY block")
        return tuple(_from_pem(b) for b in blocks)
    try:
        doc = json_object(stripped, "key file")
    except JoseError:
        raise errors.MalformedFile("neither PEM nor a JSON JWK / JWKS") from None
    if "keys" in doc:
        keys = doc["keys"]
        if not isinstance(keys, list) or not 1 <= len(keys) <= 32:
            raise errors.MalformedFile("a JWKS holds 1..32 keys")
        return tuple(_from_jwk(k) for k in keys)
    return (_from_jwk(doc),)


def load_public_keys(path: str | os.PathLike[str]) -> tuple[EcPublicKey, ...]:
    """Read :func:`parse_public_keys` from a file.  ``OSError`` propagates."""
    with open(path, "rb") as f:
        data = f.read(MAX_KEY_FILE + 1)
    return parse_public_keys(data)
