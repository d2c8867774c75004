"""Groth16 key and proof objects (snarkjs ``.zkey`` semantics).

A :class:`ProvingKey` holds everything a groth16 ``.zkey`` holds.  The large point
sections (A, B1, B2, C, H) are kept as the raw section bodies of the file (affine
points, coordinates little-endian in Montgomery form, exactly as snarkjs stores
them), so reading and writing a key costs no per-point work in Python; the
``*_points()`` methods decode them when needed.  ``.native`` is the C proving-key
handle, parsed once from the ``.zkey`` bytes and cached (it also validates every
point: canonical and on its curve).

A :class:`VerifyingKey` is the verifier's part: alpha1, beta2, gamma2, delta2 and
IC (``n_public + 1`` G1 points), plus the circuit identity it was made for.
:meth:`VerifyingKey.prepared` caches a :class:`PreparedVerifyingKey` (Miller-loop
lines of beta, gamma and delta precomputed), used by every verification.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from .. import _native, errors
from ..curve import G1, G2
from ..field import P
from ..pairing import Fq12, PreparedG2, pairing

if TYPE_CHECKING:
    from ..circuit import R1CS

__all__ = [
    "Coefficient",
    "PreparedVerifyingKey",
    "Proof",
    "ProvingKey",
    "VerifyingKey",
    "circuit_id",
    "mont_to_g1",
    "mont_to_g2",
]

_RINV_Q = pow(1 << 256, -1, P)


def circuit_id(r1cs: bytes | R1CS) -> str:
    """The circuit identity: ``"sha256:" + hex(sha256(.r1cs bytes))``.

    Takes the bytes of an iden3 ``.r1cs`` file, or an :class:`~zkattest.circuit.R1CS`
    (serialized with :func:`~zkattest.circuit.dump_r1cs` first, so a compiled circuit
    and the file written from it have the same identity).
    """
    if isinstance(r1cs, bytes | bytearray | memoryview):
        data = bytes(r1cs)
    else:
        from ..circuit import R1CS, dump_r1cs

        if not isinstance(r1cs, R1CS):
            raise errors.InvalidInput("circuit_id needs .r1cs bytes or an R1CS")
        data = dump_r1cs(r1cs)
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _mont_coord(b: bytes) -> bytes:
    v = int.from_bytes(b, "little")
    if v >= P:
        raise errors.MalformedFile("zkey: point coordinate is not below q")
    return (v * _RINV_Q % P).to_bytes(32, "little")


def mont_to_g1(b: bytes) -> G1:
    """Decode a 64-byte little-endian Montgomery G1 point (zkey form); validated."""
    return G1.from_bytes(_mont_coord(b[:32]) + _mont_coord(b[32:64]))


def mont_to_g2(b: bytes, *, check_subgroup: bool = True) -> G2:
    """Decode a 128-byte little-endian Montgomery G2 point (zkey form); validated."""
    raw = b"".join(_mont_coord(b[i : i + 32]) for i in range(0, 128, 32))
    if check_subgroup:
        return G2.from_bytes(raw)
    _native.g2_check_on_curve(raw)
    return G2._trusted(raw)


class Coefficient(NamedTuple):
    """One entry of the zkey coefficient section: ``matrix`` 0 = A, 1 = B; ``value``
    as a plain field element (the file stores it scaled, see :mod:`.formats`)."""

    matrix: int
    constraint: int
    signal: int
    value: int


@dataclass(frozen=True, slots=True)
class Proof:
    """A Groth16 proof (snarkjs ``pi_a``, ``pi_b``, ``pi_c``)."""

    a: G1
    b: G2
    c: G1

    SIZE: ClassVar[int] = 256

    def to_bytes(self) -> bytes:
        """256 bytes: a || b || c, canonical uncompressed encodings (see zkattest.curve)."""
        return self.a.to_bytes() + self.b.to_bytes() + self.c.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        """Decode :meth:`to_bytes` output; every point validated (raises InvalidInput)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise errors.InvalidInput("proof: expected bytes")
        data = bytes(data)
        if len(data) != cls.SIZE:
            raise errors.InvalidLength(f"proof: expected {cls.SIZE} bytes, got {len(data)}")
        return cls(G1.from_bytes(data[:64]), G2.from_bytes(data[64:192]), G1.from_bytes(data[192:]))


@dataclass(frozen=True, slots=True, eq=False)
class PreparedVerifyingKey:
    """A verifying key ready for pairing checks: the Miller-loop lines of beta,
    gamma and delta precomputed, and IC as one buffer for the native MSM."""

    vk: VerifyingKey
    beta2: PreparedG2
    gamma2: PreparedG2
    delta2: PreparedG2
    ic_bytes: bytes  # IC points concatenated (for the native MSM)


@dataclass(frozen=True, eq=False)
class VerifyingKey:
    """The verifier's key: e(A, B) = e(alpha1, beta2) * e(L, gamma2) * e(C, delta2)
    with L = IC[0] + sum(public[i] * IC[i + 1])."""

    alpha1: G1
    beta2: G2
    gamma2: G2
    delta2: G2
    ic: tuple[G1, ...]
    circuit_id: str | None = None
    _cache: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name, pt, kind in (
            ("alpha1", self.alpha1, G1),
            ("beta2", self.beta2, G2),
            ("gamma2", self.gamma2, G2),
            ("delta2", self.delta2, G2),
        ):
            if not isinstance(pt, kind):
                raise errors.InvalidInput(f"VerifyingKey.{name} must be a {kind.__name__}")
        object.__setattr__(self, "ic", tuple(self.ic))
        if not self.ic or not all(isinstance(p, G1) for p in self.ic):
            raise errors.InvalidInput("VerifyingKey.ic must be a non-empty sequence of G1")
        if self.circuit_id is not None and not isinstance(self.circuit_id, str):
            raise errors.InvalidInput("VerifyingKey.circuit_id must be a str or None")

    @property
    def n_public(self) -> int:
        """Number of public signals (outputs + public inputs)."""
        return len(self.ic) - 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyingKey):
            return NotImplemented
        return (
            self.alpha1 == other.alpha1
            and self.beta2 == other.beta2
            and self.gamma2 == other.gamma2
            and self.delta2 == other.delta2
            and self.ic == other.ic
            and self.circuit_id == other.circuit_id
        )

    def __hash__(self) -> int:
        return hash((self.alpha1, self.beta2, self.gamma2, self.delta2, self.ic))

    def with_circuit_id(self, cid: str | None) -> VerifyingKey:
        """A copy recording another circuit identity."""
        return VerifyingKey(self.alpha1, self.beta2, self.gamma2, self.delta2, self.ic, cid)

    def prepared(self) -> PreparedVerifyingKey:
        """The prepared key (computed once, then cached; thread-safe)."""
        got = self._cache.get("prepared")
        if got is None:
            with self._lock:
                got = self._cache.get("prepared")
                if got is None:
                    got = PreparedVerifyingKey(
                        vk=self,
                        beta2=PreparedG2(self.beta2),
                        gamma2=PreparedG2(self.gamma2),
                        delta2=PreparedG2(self.delta2),
                        ic_bytes=b"".join(p.to_bytes() for p in self.ic),
                    )
                    self._cache["prepared"] = got
        assert isinstance(got, PreparedVerifyingKey)
        return got

    def alphabeta(self) -> Fq12:
        """e(alpha1, beta2) (snarkjs ``vk_alphabeta_12``), cached."""
        got = self._cache.get("alphabeta")
        if got is None:
            got = pairing(self.alpha1, self.beta2)
            self._cache["alphabeta"] = got
        assert isinstance(got, Fq12)
        return got


@dataclass(frozen=True, eq=False)
class ProvingKey:
    """Everything a groth16 ``.zkey`` holds (see the module docstring).

    ``a``, ``b1``, ``c``, ``h``: concatenated 64-byte G1 points, ``b2``: 128-byte G2
    points, all in the file's form (affine, little-endian Montgomery coordinates,
    infinity = all zero).  Counts: ``a``, ``b1``, ``b2`` have ``n_vars`` points, ``c``
    ``n_vars - n_public - 1``, ``h`` ``domain_size``.  ``coefs`` is the raw body of
    the coefficient section; :meth:`coefficients` decodes it into the A and B matrix
    entries the prover evaluates (including snarkjs's extra A rows ``m + i`` for the
    public signals).  ``mpc_params`` is the raw body of section 10
    (circuit hash + contributions), kept for round trips.
    """

    n_vars: int
    n_public: int
    log_domain: int
    alpha1: G1
    beta1: G1
    beta2: G2
    gamma2: G2
    delta1: G1
    delta2: G2
    ic: tuple[G1, ...]
    coefs: bytes
    a: bytes
    b1: bytes
    b2: bytes
    c: bytes
    h: bytes
    mpc_params: bytes = bytes(68)
    circuit_id: str | None = None
    _cache: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        n, npub = self.n_vars, self.n_public
        if not 0 <= npub < n:
            raise errors.InvalidInput("ProvingKey: need 0 <= n_public < n_vars")
        if not 1 <= self.log_domain <= 28:
            raise errors.InvalidInput("ProvingKey: log_domain out of range")
        object.__setattr__(self, "ic", tuple(self.ic))
        if len(self.ic) != npub + 1:
            raise errors.InvalidInput("ProvingKey: IC must have n_public + 1 points")
        sizes = {
            "a": (self.a, 64 * n),
            "b1": (self.b1, 64 * n),
            "b2": (self.b2, 128 * n),
            "c": (self.c, 64 * (n - npub - 1)),
            "h": (self.h, 64 * self.domain_size),
        }
        for name, (buf, size) in sizes.items():
            if not isinstance(buf, bytes) or len(buf) != size:
                raise errors.InvalidInput(f"ProvingKey.{name} must be {size} bytes")

    @property
    def domain_size(self) -> int:
        return 1 << self.log_domain

    # ---------------------------------------------------------------- derived
    def verifying_key(self, circuit_id: str | None = None) -> VerifyingKey:
        """The matching verifying key (``circuit_id`` defaults to the key's own)."""
        cid = self.circuit_id if circuit_id is None else circuit_id
        return VerifyingKey(self.alpha1, self.beta2, self.gamma2, self.delta2, self.ic, cid)

    def to_zkey_bytes(self) -> bytes:
        """The ``.zkey`` file content (cached)."""
        got = self._cache.get("zkey")
        if got is None:
            from .formats import dump_zkey

            got = dump_zkey(self)
            self._cache["zkey"] = got
        assert isinstance(got, bytes)
        return got

    @property
    def native(self) -> _native.Groth16ProvingKey:
        """The C proving-key handle, parsed from the ``.zkey`` bytes once (thread-safe).

        Raises :class:`~zkattest.errors.MalformedFile` if the native parser rejects
        the key (a point not canonical or not on its curve)."""
        got = self._cache.get("native")
        if got is None:
            with self._lock:
                got = self._cache.get("native")
                if got is None:
                    try:
                        got = _native.Groth16ProvingKey(self.to_zkey_bytes())
                    except errors.InvalidInput as e:
                        msg = f"zkey rejected by the native parser: {e}"
                        raise errors.MalformedFile(msg) from e
                    self._cache["native"] = got
        assert isinstance(got, _native.Groth16ProvingKey)
        return got

    # ---------------------------------------------------------------- decoded
    def coefficients(self) -> list[Coefficient]:
        """The A and B matrix entries, values as plain field elements."""
        from .formats import decode_coefficients

        return decode_coefficients(self.coefs)

    def a_points(self) -> list[G1]:
        return [mont_to_g1(self.a[i : i + 64]) for i in range(0, len(self.a), 64)]

    def b1_points(self) -> list[G1]:
        return [mont_to_g1(self.b1[i : i + 64]) for i in range(0, len(self.b1), 64)]

    def b2_points(self, *, check_subgroup: bool = False) -> list[G2]:
        return [
            mont_to_g2(self.b2[i : i + 128], check_subgroup=check_subgroup)
            for i in range(0, len(self.b2), 128)
        ]

    def c_points(self) -> list[G1]:
        return [mont_to_g1(self.c[i : i + 64]) for i in range(0, len(self.c), 64)]

    def h_points(self) -> list[G1]:
        return [mont_to_g1(self.h[i : i + 64]) for i in range(0, len(self.h), 64)]
