"""Keys of the built-in circuits, on disk and loaded once per process.

A key store is a directory holding, per circuit ``<name>``: ``<name>.r1cs`` (iden3),
``<name>.zkey`` (proving key, snarkjs format) and ``<name>.verification_key.json``
(snarkjs format plus ``circuit_id``).  Its location, first match wins: the ``path``
argument, ``$ZKATTEST_KEY_DIR``, ``$XDG_DATA_HOME/zkattest``,
``~/.local/share/zkattest``.  ``zkattest setup age_gte`` (without ``--out``) or
:meth:`KeyStore.dev_setup` fills it with DEVELOPMENT keys; production keys come
from a ceremony (copy the ``.zkey`` and its verification key in under these names).

Keys are parsed lazily, once per process per (directory, circuit), under a lock
(thread-safe); the circuit id is ``sha256`` of the ``.r1cs`` file and must match
the one the verification key records.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from functools import cache
from pathlib import Path
from typing import Any

from .. import errors
from ..groth16 import ProvingKey, VerifyingKey

__all__ = ["KeyStore", "MissingKeys", "builtin_circuit_id", "default_key_dir"]

log = logging.getLogger("zkattest.credentials")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_LOCK = threading.Lock()
#: (directory, circuit, kind) -> parsed key; one parse per process
_CACHE: dict[tuple[str, str, str], object] = {}


class MissingKeys(errors.ZkAttestError, FileNotFoundError):
    """The key store has no keys for this circuit (run ``zkattest setup <circuit>``)."""


@cache
def builtin_circuit_id(circuit: str) -> str:
    """The circuit id of this version's built-in ``circuit`` (compiled once)."""
    from ..circuit import dump_r1cs
    from ..groth16 import circuit_id

    return circuit_id(dump_r1cs(_builtin(circuit).compiled().r1cs))


def _builtin(circuit: str) -> Any:
    import importlib

    if not isinstance(circuit, str) or not _NAME.fullmatch(circuit):
        raise errors.InvalidInput(f"not a circuit name: {circuit!r}")
    try:
        return importlib.import_module(f"zkattest.circuits.{circuit}")
    except ImportError:
        raise errors.InvalidInput(f"no built-in circuit {circuit!r}") from None


def default_key_dir() -> Path:
    """``$ZKATTEST_KEY_DIR``, else ``$XDG_DATA_HOME/zkattest``, else
    ``~/.local/share/zkattest``."""
    env = os.environ.get("ZKATTEST_KEY_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "zkattest"


class KeyStore:
    """A directory of circuit keys (module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_key_dir()

    def __repr__(self) -> str:
        return f"KeyStore({str(self.path)!r})"

    def files(self, circuit: str) -> tuple[Path, Path, Path]:
        """The ``.r1cs``, ``.zkey`` and verification key paths of ``circuit``."""
        if not isinstance(circuit, str) or not _NAME.fullmatch(circuit):
            raise errors.InvalidInput(f"not a circuit name: {circuit!r}")
        d = self.path
        return (
            d / f"{circuit}.r1cs",
            d / f"{circuit}.zkey",
            d / f"{circuit}.verification_key.json",
        )

    def has(self, circuit: str) -> bool:
        return all(p.is_file() for p in self.files(circuit))

    def _key(self, circuit: str, kind: str) -> tuple[str, str, str]:
        return (str(self.path.resolve()), circuit, kind)

    def _need(self, circuit: str) -> None:
        if not self.has(circuit):
            raise MissingKeys(
                f"no keys for {circuit} in {self.path} (run: zkattest setup {circuit}"
                + ("" if "ZKATTEST_KEY_DIR" in os.environ else f" --keystore {self.path}")
                + ")"
            )

    def circuit_id(self, circuit: str) -> str:
        """sha256 of the stored ``.r1cs`` (checked against the verification key)."""
        return self.verifying_key(circuit).circuit_id or ""

    def verifying_key(self, circuit: str) -> VerifyingKey:
        """The verification key of ``circuit``, with its circuit id (cached)."""
        from ..groth16 import circuit_id, read_verification_key

        k = self._key(circuit, "vk")
        with _LOCK:
            got = _CACHE.get(k)
            if got is None:
                self._need(circuit)
                r1cs_path, _, vk_path = self.files(circuit)
                cid = circuit_id(r1cs_path.read_bytes())
                vk = read_verification_key(vk_path)
                if vk.circuit_id not in (None, cid):
                    raise errors.MalformedFile(
                        f"{vk_path} records circuit {vk.circuit_id}, but {r1cs_path} is {cid}"
                    )
                got = vk.with_circuit_id(cid)
                _CACHE[k] = got
                log.debug("loaded verification key of %s (%s)", circuit, cid)
        assert isinstance(got, VerifyingKey)
        return got

    def proving_key(self, circuit: str) -> ProvingKey:
        """The proving key of ``circuit`` (parsed once per process)."""
        from ..groth16 import read_zkey

        k = self._key(circuit, "pk")
        vk = self.verifying_key(circuit)
        with _LOCK:
            got = _CACHE.get(k)
            if got is None:
                got = read_zkey(self.files(circuit)[1], circuit_id=vk.circuit_id)
                _CACHE[k] = got
                log.debug("loaded proving key of %s", circuit)
        assert isinstance(got, ProvingKey)
        return got

    def dev_setup(
        self, circuit: str = "age_gte", *, force: bool = False, progress: bool | None = False
    ) -> VerifyingKey:
        """Fill the store with DEVELOPMENT keys for a built-in circuit (a
        single-party setup: never for production).  Does nothing when the store
        already has keys for this version of the circuit, unless ``force``; keys for
        another version (the circuit changed) are replaced.  ``progress``: None draws
        a bar on a terminal (see :func:`zkattest.groth16.dev_setup`).  Returns the
        verification key."""
        from ..circuit import dump_r1cs
        from ..groth16 import circuit_id, dev_setup, write_verification_key, write_zkey

        r1cs_path, zkey_path, vk_path = self.files(circuit)
        mod = _builtin(circuit)
        if self.has(circuit) and not force:
            vk = self.verifying_key(circuit)
            if vk.circuit_id == builtin_circuit_id(circuit):
                return vk
            log.warning(
                "replacing %s keys in %s: made for another circuit version", circuit, self.path
            )
        r1cs = mod.compiled().r1cs
        data = dump_r1cs(r1cs)
        pk, vk = dev_setup(r1cs, progress=progress)
        vk = vk.with_circuit_id(circuit_id(data))
        self.path.mkdir(parents=True, exist_ok=True)
        # write to temporary names, then rename: readers never see half a key set
        tmp = [p.with_name(p.name + f".tmp{os.getpid()}") for p in (r1cs_path, zkey_path, vk_path)]
        tmp[0].write_bytes(data)
        write_zkey(tmp[1], pk)
        write_verification_key(tmp[2], vk)
        for t, p in zip(tmp, (r1cs_path, zkey_path, vk_path), strict=True):
            os.replace(t, p)
        with _LOCK:
            for kind in ("vk", "pk"):
                _CACHE.pop(self._key(circuit, kind), None)
        log.info("development keys for %s written to %s", circuit, self.path)
        return vk
