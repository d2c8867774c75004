"""The trust domain's signing key and its SPIFFE trust bundle.

:class:`TrustDomainKey` is the service's JWT-SVID authority: one P-256 key in a PEM
PKCS#8 file (mode 0600).  :meth:`TrustDomainKey.load_or_create` is safe when several
processes start at once on an empty data directory: the key is written completely to
a private temporary file and then *hard-linked* into place, which fails if the file
already exists, so exactly one process creates it and every other process loads that
same key (and no process ever reads a half-written file).  On a filesystem without
hard links it falls back to ``O_CREAT | O_EXCL``.  An existing file that is not a
P-256 private key, or that group/others can access, is an error and is never
overwritten.

:class:`TrustBundle` is the SPIFFE trust bundle (SPIFFE Trust Domain and Bundle §4,
JWT-SVID keys only): JWKs with ``use`` "jwt-svid", ``spiffe_sequence``,
``spiffe_refresh_hint``; it is also served as a plain JWKS (``use`` "sig").
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .. import errors
from .jose import EcKey, EcPublicKey, JoseError, json_object
from .spiffe import validate_trust_domain

__all__ = ["InsecureKeyFile", "TrustBundle", "TrustDomainKey", "load_or_create_key"]

_MAX_KEY_FILE: Final = 64 * 1024


class InsecureKeyFile(errors.ZkAttestError, PermissionError):
    """The key file is readable or writable by group or others (``chmod 600`` it)."""


def _non_negative(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise JoseError("malformed", f"{name} must be a non-negative integer")
    return value


class TrustBundle:
    """The verification keys of one trust domain, by ``kid``."""

    __slots__ = ("_keys", "refresh_hint", "sequence", "trust_domain")

    def __init__(
        self,
        trust_domain: str,
        keys: Mapping[str, EcPublicKey],
        *,
        sequence: int | None = None,
        refresh_hint: int | None = None,
    ) -> None:
        self.trust_domain = validate_trust_domain(trust_domain)
        for kid, key in keys.items():
            if not isinstance(kid, str) or not kid or not isinstance(key, EcPublicKey):
                raise JoseError("bad_key", "bundle keys map non-empty kid -> EcPublicKey")
        self._keys: Mapping[str, EcPublicKey] = MappingProxyType(dict(keys))
        self.sequence = _non_negative(sequence, "spiffe_sequence")
        self.refresh_hint = _non_negative(refresh_hint, "spiffe_refresh_hint")

    @property
    def keys(self) -> Mapping[str, EcPublicKey]:
        return self._keys

    def key(self, kid: str) -> EcPublicKey:
        """The key named ``kid``, or :class:`JoseError` ``unknown_kid``."""
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise JoseError("unknown_kid", "no key with this kid in the trust bundle")
        return key

    def resolve(self, header: Mapping[str, Any]) -> EcPublicKey:
        """A :data:`~zkattest.identity.jose.Resolver`: the key named by the header's ``kid``."""
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise JoseError("unknown_kid", "token header has no kid")
        return self.key(kid)

    def _jwks(self, extra: Mapping[str, str]) -> list[dict[str, str]]:
        out = []
        for kid, key in self._keys.items():
            j = key.jwk()
            out.append({"kty": j["kty"], "crv": j["crv"], "x": j["x"], "y": j["y"], "kid": kid})
            out[-1].update(extra)
        return out

    def to_spiffe_json(self) -> dict[str, Any]:
        """The SPIFFE bundle document (``spiffe_*`` members only when set)."""
        doc: dict[str, Any] = {"keys": self._jwks({"use": "jwt-svid"})}
        if self.sequence is not None:
            doc["spiffe_sequence"] = self.sequence
        if self.refresh_hint is not None:
            doc["spiffe_refresh_hint"] = self.refresh_hint
        return doc

    def to_jwks(self) -> dict[str, Any]:
        """A plain JWKS for stock JOSE libraries: ``use`` "sig", ``alg`` "ES256"."""
        return {"keys": self._jwks({"use": "sig", "alg": "ES256"})}

    @classmethod
    def from_spiffe_json(
        cls, trust_domain: str, data: Mapping[str, Any] | bytes | str
    ) -> TrustBundle:
        """Parse a SPIFFE bundle document (a mapping, or its JSON text).

        As the bundle specification requires, JWKs whose ``use`` is missing or not
        "jwt-svid" and JWKs of an unknown ``kty`` are ignored; so are JWT-SVID keys we
        cannot use (``kty`` other than "EC", curves other than P-256).  A JWT-SVID
        P-256 key that is malformed, lacks a ``kid`` or repeats one is an error.
        Raises :class:`JoseError`.
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        if isinstance(data, bytes | bytearray):
            data = json_object(bytes(data), "trust bundle")
        if not isinstance(data, Mapping):
            raise JoseError("malformed", "trust bundle is not a JSON object")
        entries = data.get("keys")
        if not isinstance(entries, list):
            raise JoseError("malformed", "trust bundle has no keys array")
        keys: dict[str, EcPublicKey] = {}
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise JoseError("malformed", "trust bundle key is not an object")
            if not isinstance(entry.get("kty"), str):
                raise JoseError("malformed", "trust bundle key has no kty")
            if entry.get("use") != "jwt-svid" or entry["kty"] != "EC":
                continue
            crv = entry.get("crv")
            if isinstance(crv, str) and crv != "P-256":
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                raise JoseError("malformed", "JWT-SVID key has no kid")
            if kid in keys:
                raise JoseError("malformed", "trust bundle repeats a kid")
            keys[kid] = EcPublicKey.from_jwk(entry)
        return cls(
            trust_domain,
            keys,
            sequence=_non_negative(data.get("spiffe_sequence"), "spiffe_sequence"),
            refresh_hint=_non_negative(data.get("spiffe_refresh_hint"), "spiffe_refresh_hint"),
        )

    def __repr__(self) -> str:
        return (
            f"TrustBundle({self.trust_domain!r}, kids={sorted(self._keys)!r}, "
            f"sequence={self.sequence!r})"
        )


class TrustDomainKey:
    """The trust domain's signing key (module docstring)."""

    __slots__ = ("key", "kid", "path", "trust_domain")

    def __init__(self, trust_domain: str, key: EcKey, path: Path | None = None) -> None:
        self.trust_domain = validate_trust_domain(trust_domain)
        self.key = key
        self.kid = key.public().thumbprint()
        self.path = path

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str], trust_domain: str) -> TrustDomainKey:
        """Load the key at ``path``, creating it (and its directory, mode 0700) if absent.

        Raises :class:`~zkattest.errors.MalformedFile` if the file is not an
        unencrypted P-256 private key in PEM, :class:`InsecureKeyFile` if group or
        others may access it; the file is never modified.
        """
        validate_trust_domain(trust_domain)
        path = Path(path)
        return cls(trust_domain, load_or_create_key(path), path)

    def bundle(
        self,
        sequence: int,
        refresh_hint: int,
        *,
        extra_keys: Mapping[str, EcPublicKey] | None = None,
    ) -> TrustBundle:
        """This domain's bundle: our key under :attr:`kid`, plus ``extra_keys``
        (e.g. a previous key during rotation)."""
        keys = dict(extra_keys or {})
        keys[self.kid] = self.key.public()
        return TrustBundle(self.trust_domain, keys, sequence=sequence, refresh_hint=refresh_hint)

    def __repr__(self) -> str:
        return f"TrustDomainKey({self.trust_domain!r}, kid={self.kid!r})"


def load_or_create_key(path: str | os.PathLike[str]) -> EcKey:
    """The P-256 private key in the PEM file ``path``, created (0600, its directory
    0700) if absent; concurrent first calls in several processes end with one key.
    Raises :class:`~zkattest.errors.MalformedFile` or :class:`InsecureKeyFile`."""
    path = Path(path)
    for _ in range(3):
        try:
            return _load(path)
        except FileNotFoundError:
            pass
        key = EcKey.generate()
        if _create(path, key.to_pem()):
            return key
        key.destroy()  # another process won the race: load its key
    raise errors.MalformedFile(f"{path}: appears and disappears; cannot load the key")


def _load(path: Path) -> EcKey:
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)  # FileNotFoundError -> create
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise errors.MalformedFile(f"{path}: not a regular file")
        if os.name == "posix" and st.st_mode & 0o077:
            raise InsecureKeyFile(
                f"{path}: group/others may access the trust-domain key (mode "
                f"{stat.S_IMODE(st.st_mode):04o}); run chmod 600 on it"
            )
        if st.st_size > _MAX_KEY_FILE:
            raise errors.MalformedFile(f"{path}: too large for a key file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(_MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    try:
        return EcKey.from_pem(data)
    except JoseError:
        raise errors.MalformedFile(
            f"{path}: not an unencrypted P-256 private key in PEM; refusing to overwrite it"
        ) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _create(path: Path, pem: bytes) -> bool:
    """Create ``path`` holding ``pem`` (mode 0600) unless it exists; True if we did."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, pem)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            return _create_exclusive(path, pem, flags)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _sync_dir(path.parent)
    return True


def _create_exclusive(path: Path, pem: bytes, flags: int) -> bool:
    # no hard links here: a peer starting in the same instant may see a partial file
    # (and fail loudly rather than overwrite it); a restart then loads the complete key
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)
        _write_all(fd, pem)
    finally:
        os.close(fd)
    _sync_dir(path.parent)
    return True


def _sync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
