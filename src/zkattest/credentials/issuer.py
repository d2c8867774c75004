"""The issuer: a Baby Jubjub EdDSA-Poseidon key that signs v1 credentials.

Signatures are circomlibjs ``signPoseidon`` signatures on
``h = Poseidon(attrs, expires, holder_commitment, salt)`` (see :mod:`zkattest.babyjub`),
so credentials signed with circomlibjs verify here and ours verify there.

Key files are JSON that say what they hold::

    {"kty": "zkattest-babyjub-eddsa-poseidon", "v": 1, "Ax": "...", "Ay": "...",
     "seed": "<64 hex digits>"}        # private key file (omit "seed": public key file)

The seed is the 32-byte circomlibjs private key.  Keep private key files private
(:meth:`Issuer.save` creates them with mode 0600).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import babyjub, errors
from ..field import R
from .credential import Credential, IssuerKey, check_date
from .schemas import PERSON, Schema

__all__ = ["KTY", "Issuer", "read_public_key", "verify_credential"]

log = logging.getLogger("zkattest.credentials")
KTY = "zkattest-babyjub-eddsa-poseidon"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DEC = re.compile(r"0|[1-9][0-9]{0,77}")


def verify_credential(credential: Credential) -> bool:
    """True iff the issuer's signature on ``credential`` verifies (outside any circuit)."""
    if not isinstance(credential, Credential):
        raise errors.InvalidInput("expected a Credential")
    return babyjub.verify_poseidon(
        credential.message(), credential.signature, credential.issuer.point()
    )


def _key_from_obj(obj: object, what: str) -> tuple[IssuerKey, bytes | None]:
    if not isinstance(obj, dict) or obj.get("kty") != KTY or obj.get("v") != 1:
        raise errors.MalformedFile(f"{what}: not a {KTY} v1 key file")
    extra = set(obj) - {"kty", "v", "Ax", "Ay", "seed"}
    if extra:
        raise errors.MalformedFile(f"{what}: unknown field(s) {', '.join(sorted(extra))}")
    try:
        ax, ay = (obj.get(k) for k in ("Ax", "Ay"))
        if not (isinstance(ax, str) and _DEC.fullmatch(ax)):
            raise ValueError
        if not (isinstance(ay, str) and _DEC.fullmatch(ay)):
            raise ValueError
        key = IssuerKey(int(ax), int(ay))
    except (ValueError, errors.InvalidInput):
        raise errors.MalformedFile(f"{what}: Ax/Ay are not a valid public key") from None
    seed = obj.get("seed")
    if seed is None:
        return key, None
    if not isinstance(seed, str) or not _HEX64.fullmatch(seed):
        raise errors.MalformedFile(f"{what}: seed must be 64 lowercase hex digits")
    raw = bytes.fromhex(seed)
    if Issuer(raw).public_key != key:
        raise errors.MalformedFile(f"{what}: the seed does not match Ax/Ay")
    return key, raw


def _read(path: str | os.PathLike[str], what: str) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise errors.MalformedFile(f"{what}: cannot read {path}: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError):
        raise errors.MalformedFile(f"{what}: {path} is not JSON") from None


def read_public_key(path: str | os.PathLike[str]) -> IssuerKey:
    """An issuer's public key from a key file (public or private)."""
    return _key_from_obj(_read(path, "issuer key"), "issuer key")[0]


class Issuer:
    """An issuer key pair.  ``Issuer(seed)`` from a 32-byte seed (the circomlibjs
    private key), :meth:`generate` from fresh randomness, :meth:`load` from a key
    file.  ``repr`` shows the public key only."""

    __slots__ = ("_public", "_seed")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes | bytearray) or len(seed) != babyjub.PRIVATE_KEY_BYTES:
            raise errors.InvalidLength(f"an issuer seed is {babyjub.PRIVATE_KEY_BYTES} bytes")
        self._seed = bytes(seed)
        a = babyjub.private_to_public(self._seed)
        self._public = IssuerKey(a.x, a.y)

    @classmethod
    def generate(cls) -> Issuer:
        return cls(babyjub.generate_private_key())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Issuer:
        """From a private key file written by :meth:`save`."""
        _, seed = _key_from_obj(_read(path, "issuer key"), "issuer key")
        if seed is None:
            raise errors.MalformedFile("issuer key: this is a public key file (no seed)")
        return cls(seed)

    def __repr__(self) -> str:
        return f"Issuer(public_key=IssuerKey(Ax={self._public.Ax}, Ay={self._public.Ay}))"

    def __reduce__(self) -> Any:
        raise TypeError("an Issuer (it holds a private key) is not picklable")

    @property
    def public_key(self) -> IssuerKey:
        return self._public

    @property
    def seed(self) -> bytes:
        """The 32-byte private key (handle with care)."""
        return self._seed

    def key_file(self, *, private: bool) -> dict[str, object]:
        """The key file's JSON object (private: with the seed)."""
        obj: dict[str, object] = {"kty": KTY, "v": 1, **self._public.to_dict()}
        if private:
            obj["seed"] = self._seed.hex()
        return obj

    def save(self, path: str | os.PathLike[str], *, private: bool = True) -> None:
        """Write the key file (mode 0600 when it holds the seed); refuses to
        overwrite an existing file."""
        text = json.dumps(self.key_file(private=private), indent=1) + "\n"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = os.open(path, flags, 0o600 if private else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)

    def issue(
        self,
        attributes: Mapping[str, int] | Sequence[int],
        holder_commitment: int,
        expires: int,
        *,
        schema: Schema = PERSON,
        salt: int | None = None,
    ) -> Credential:
        """Sign a v1 credential: ``attributes`` by slot name of ``schema`` (or all 8
        slot values), bound to ``holder_commitment`` (:attr:`Holder.commitment`),
        valid until ``expires`` (YYYYMMDD).  ``salt``: fresh randomness unless given."""
        attrs = schema.attrs(attributes)
        check_date(expires, "expires")
        if salt is None:
            salt = secrets.randbelow(R)
        cred_unsigned = Credential(
            attrs=attrs,
            expires=expires,
            holder_commitment=holder_commitment,
            salt=salt,
            issuer=self._public,
            signature=babyjub.Signature(babyjub.BASE8, 0),
        )
        sig = babyjub.sign_poseidon(self._seed, cred_unsigned.message())
        cred = Credential(
            attrs=attrs,
            expires=expires,
            holder_commitment=holder_commitment,
            salt=salt,
            issuer=self._public,
            signature=sig,
        )
        log.debug("issued a %s credential (expires %d)", schema.name, expires)
        return cred

    def verify(self, credential: Credential) -> bool:
        """True iff ``credential`` carries this issuer's key and a valid signature."""
        return credential.issuer == self._public and verify_credential(credential)
