"""The optimal ate pairing on BN254 over the native core.

``pairing(P, Q)`` maps a :class:`~zkattest.curve.G1` point and a
:class:`~zkattest.curve.G2` point to an :class:`Fq12` element of the order-r
subgroup GT; ``pairing_check(pairs)`` decides whether a product of pairings is 1
with one shared final exponentiation (the Groth16 verification equation).
:class:`PreparedG2` holds the precomputed Miller-loop lines of a fixed G2 point
(a verifying key's beta, gamma, delta) so repeated checks skip that work.

Fq12 = Fq6[w]/(w^2 - v), Fq6 = Fq2[v]/(v^3 - (9 + u)), Fq2 = Fq[u]/(u^2 + 1).
An element's canonical encoding is 384 bytes: c0 || c1 over Fq6, each
c0 || c1 || c2 over Fq2, each c0 || c1 over Fq, every Fq coefficient 32-byte
little-endian below p (exactly the C core's ``zka_fq12``).

The pairing is e(P, Q) = f^((p^12 - 1)/r) where f is the Miller function of
6x + 2 with the two Frobenius lines, so e(G1, G2) equals
``py_ecc.optimized_bn128.pairing(G2, G1)`` as an element of Fq12 (only the
coordinates differ: py_ecc writes Fq12 = Fq[w]/(w^12 - 18 w^6 + 82)).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from . import _native, errors
from .curve import G1, G2
from .field import P

__all__ = [
    "Fq12",
    "PreparedG2",
    "final_exponentiation",
    "miller_loop",
    "pairing",
    "pairing_check",
]

_COEFFS = 12


class Fq12:
    """An immutable element of Fq12 (a pairing value lives in its subgroup GT)."""

    SIZE: ClassVar[int] = _native.FQ12_BYTES
    __slots__ = ("_b",)
    _b: bytes

    def __init__(self) -> None:
        raise TypeError("use Fq12.from_bytes / Fq12.one / from_coeffs, or pairing()")

    @classmethod
    def _trusted(cls, data: bytes) -> Fq12:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_b", data)
        return obj

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Fq12 is immutable")

    # -- construction and encoding
    @classmethod
    def from_bytes(cls, data: bytes) -> Fq12:
        """Decode 384 canonical bytes (every coefficient below p)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise errors.InvalidInput("expected bytes")
        data = bytes(data)
        if len(data) != cls.SIZE:
            raise errors.InvalidLength(f"Fq12: expected {cls.SIZE} bytes, got {len(data)}")
        for i in range(0, cls.SIZE, 32):
            if int.from_bytes(data[i : i + 32], "little") >= P:
                raise errors.NonCanonicalEncoding("Fq12 coefficient is not below p")
        return cls._trusted(data)

    @classmethod
    def from_coeffs(cls, coeffs: Iterable[int]) -> Fq12:
        """From the 12 Fq coefficients in encoding order
        (c0.c0.c0, c0.c0.c1, c0.c1.c0, ..., c1.c2.c1); ints are reduced mod p."""
        cs = list(coeffs)
        if len(cs) != _COEFFS:
            raise errors.InvalidLength(f"Fq12 needs {_COEFFS} coefficients, got {len(cs)}")
        for c in cs:
            if not isinstance(c, int) or isinstance(c, bool):
                raise errors.InvalidInput("Fq12 coefficients must be ints")
        return cls._trusted(b"".join((c % P).to_bytes(32, "little") for c in cs))

    @classmethod
    def one(cls) -> Fq12:
        return cls.from_coeffs([1] + [0] * (_COEFFS - 1))

    def to_bytes(self) -> bytes:
        return self._b

    def __bytes__(self) -> bytes:
        return self._b

    @property
    def coeffs(self) -> tuple[int, ...]:
        """The 12 Fq coefficients in encoding order."""
        b = self._b
        return tuple(int.from_bytes(b[i : i + 32], "little") for i in range(0, self.SIZE, 32))

    def is_one(self) -> bool:
        return self == _ONE

    # -- arithmetic (native tower)
    def __mul__(self, other: object) -> Fq12:
        if not isinstance(other, Fq12):
            return NotImplemented
        return Fq12._trusted(_native.fq12_mul(self._b, other._b))

    def square(self) -> Fq12:
        return Fq12._trusted(_native.fq12_sqr(self._b))

    def inverse(self) -> Fq12:
        """Multiplicative inverse; raises NotInvertible for zero."""
        return Fq12._trusted(_native.fq12_inv(self._b))

    def __truediv__(self, other: object) -> Fq12:
        if not isinstance(other, Fq12):
            return NotImplemented
        return self * other.inverse()

    def conjugate(self) -> Fq12:
        """c0 - c1 w, i.e. the p^6-power Frobenius (the inverse on GT)."""
        return Fq12._trusted(_native.fq12_conj(self._b))

    def frobenius(self, power: int = 1) -> Fq12:
        """self^(p^power)."""
        if not isinstance(power, int) or isinstance(power, bool):
            raise errors.InvalidInput("power must be an int")
        return Fq12._trusted(_native.fq12_frobenius(self._b, power % 12))

    def __pow__(self, e: object) -> Fq12:
        """self^e for any int e (negative exponents invert first)."""
        if not isinstance(e, int) or isinstance(e, bool):
            return NotImplemented
        base = self
        if e < 0:
            base, e = self.inverse(), -e
        acc = _ONE._b
        b = base._b
        for bit in bin(e)[2:] if e else "":
            acc = _native.fq12_sqr(acc)
            if bit == "1":
                acc = _native.fq12_mul(acc, b)
        return Fq12._trusted(acc)

    # -- value semantics
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fq12) and other._b == self._b

    def __hash__(self) -> int:
        return hash(("Fq12", self._b))

    def __repr__(self) -> str:
        return f"Fq12({self._b.hex()})"


_ONE = Fq12.from_coeffs([1] + [0] * (_COEFFS - 1))


class PreparedG2:
    """A G2 point with its Miller-loop line coefficients precomputed.

    Immutable and safe to share between threads; build it once per fixed point
    (e.g. per verifying key) and pass it to :func:`pairing_check` in place of
    the G2 point.
    """

    __slots__ = ("_point", "_prep")
    _point: G2
    _prep: _native.G2Prepared

    def __init__(self, q: G2) -> None:
        if not isinstance(q, G2):
            raise errors.InvalidInput(f"PreparedG2 needs a G2 point, not {type(q).__name__}")
        object.__setattr__(self, "_point", q)
        object.__setattr__(self, "_prep", _native.G2Prepared(q.to_bytes()))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PreparedG2 is immutable")

    @property
    def point(self) -> G2:
        return self._point

    def __repr__(self) -> str:
        return f"PreparedG2({self._point!r})"


def _check_g1(p: object) -> G1:
    if not isinstance(p, G1):
        raise errors.InvalidInput(f"expected a G1 point, got {type(p).__name__}")
    return p


def _check_g2(q: object) -> G2:
    if not isinstance(q, G2):
        raise errors.InvalidInput(f"expected a G2 point, got {type(q).__name__}")
    return q


def pairing(p: G1, q: G2) -> Fq12:
    """e(p, q), the reduced optimal ate pairing (infinity on either side gives 1)."""
    return Fq12._trusted(_native.pairing(_check_g1(p).to_bytes(), _check_g2(q).to_bytes()))


def miller_loop(p: G1, q: G2) -> Fq12:
    """The Miller-loop value before the final exponentiation.

    Only defined up to factors the final exponentiation removes; use it with
    :func:`final_exponentiation` (e.g. to multiply several loops first).
    """
    return Fq12._trusted(_native.miller_loop(_check_g1(p).to_bytes(), _check_g2(q).to_bytes()))


def final_exponentiation(f: Fq12) -> Fq12:
    """f^((p^12 - 1)/r) (zero maps to zero)."""
    if not isinstance(f, Fq12):
        raise errors.InvalidInput(f"expected an Fq12, got {type(f).__name__}")
    return Fq12._trusted(_native.final_exponentiation(f.to_bytes()))


def pairing_check(pairs: Iterable[tuple[G1, G2 | PreparedG2]]) -> bool:
    """True iff prod e(P_i, Q_i) == 1 (one shared final exponentiation).

    Each Q_i is a :class:`G2` point or a :class:`PreparedG2`.  An empty product
    is 1; pairs with a point at infinity contribute 1.
    """
    ps: list[bytes] = []
    qs: list[bytes | _native.G2Prepared] = []
    prepared = False
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise errors.InvalidInput("pairs must be (G1, G2 | PreparedG2) tuples")
        p, q = pair
        ps.append(_check_g1(p).to_bytes())
        if isinstance(q, PreparedG2):
            qs.append(q._prep)
            prepared = True
        else:
            qs.append(_check_g2(q).to_bytes())
    if prepared:
        return _native.pairing_check_prepared(b"".join(ps), qs)
    return _native.pairing_check(b"".join(ps), b"".join(q for q in qs if isinstance(q, bytes)))
