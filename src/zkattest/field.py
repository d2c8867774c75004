"""Prime fields of BN254: :class:`Fr` (scalars) and :class:`Fq` (coordinates).

Elements are immutable value objects.  Single operations use Python integers
(an FFI round trip costs more than one 254-bit multiplication); batch work
(inversions of many elements, MSM, NTT, Poseidon) goes to the native core.
Encodings are 32-byte canonical little-endian, exactly as the C core's; decoding
rejects values at or above the modulus.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Self

from . import _native, errors

R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
P = 21888242871839275222246405745257275088696311157297823662689037894645226208583

__all__ = ["FieldElement", "Fq", "Fr", "P", "R"]

IntLike = int


class FieldElement:
    """Common behaviour of Fr and Fq; subclasses set MODULUS."""

    MODULUS: ClassVar[int]
    __slots__ = ("_v",)
    _v: int

    def __init__(self, value: int | FieldElement = 0) -> None:
        if isinstance(value, FieldElement):
            if type(value) is not type(self):
                raise errors.InvalidInput(
                    f"cannot convert {type(value).__name__} to {type(self).__name__}"
                )
            v = value._v
        elif isinstance(value, int) and not isinstance(value, bool):
            v = value % self.MODULUS
        else:
            raise errors.InvalidInput(
                f"{type(self).__name__} needs an int, got {type(value).__name__}"
            )
        object.__setattr__(self, "_v", v)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    # -- encoding
    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode 32 canonical little-endian bytes (rejects values >= modulus)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise errors.InvalidInput("expected bytes")
        if len(data) != 32:
            raise errors.InvalidLength(f"expected 32 bytes, got {len(data)}")
        v = int.from_bytes(bytes(data), "little")
        if v >= cls.MODULUS:
            raise errors.NonCanonicalEncoding(f"{cls.__name__} encoding is not below the modulus")
        return cls(v)

    @classmethod
    def canonical(cls, value: int) -> Self:
        """Like the constructor, but reject instead of reducing out-of-range ints."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise errors.InvalidInput("expected an int")
        if not 0 <= value < cls.MODULUS:
            raise errors.NonCanonicalEncoding(f"value is not in [0, {cls.__name__}.MODULUS)")
        return cls(value)

    def to_bytes(self) -> bytes:
        return self._v.to_bytes(32, "little")

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def __int__(self) -> int:
        return self._v

    def __index__(self) -> int:
        return self._v

    # -- arithmetic
    def _coerce(self, other: object) -> int | None:
        if type(other) is type(self):
            assert isinstance(other, FieldElement)
            return other._v
        if isinstance(other, int) and not isinstance(other, bool):
            return other % self.MODULUS
        return None

    def __add__(self, other: object) -> Self:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return type(self)((self._v + o) % self.MODULUS)

    __radd__ = __add__

    def __sub__(self, other: object) -> Self:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return type(self)((self._v - o) % self.MODULUS)

    def __rsub__(self, other: object) -> Self:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return type(self)((o - self._v) % self.MODULUS)

    def __mul__(self, other: object) -> Self:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return type(self)((self._v * o) % self.MODULUS)

    __rmul__ = __mul__

    def __neg__(self) -> Self:
        return type(self)(-self._v)

    def inverse(self) -> Self:
        if self._v == 0:
            raise errors.NotInvertible(f"{type(self).__name__}: zero has no inverse")
        return type(self)(pow(self._v, -1, self.MODULUS))

    def __truediv__(self, other: object) -> Self:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return self * type(self)(o).inverse()

    def __pow__(self, e: int) -> Self:
        if not isinstance(e, int):
            return NotImplemented
        if e < 0:
            return self.inverse() ** (-e)
        return type(self)(pow(self._v, e, self.MODULUS))

    def __eq__(self, other: object) -> bool:
        o = self._coerce(other)
        return o is not None and o == self._v

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._v))

    def __bool__(self) -> bool:
        return self._v != 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._v})"

    @classmethod
    def batch_inverse(cls, values: Sequence[Self]) -> list[Self]:
        """Invert many elements with one native inversion (Montgomery's trick)."""
        if not values:
            return []
        data = b"".join(cls(v).to_bytes() for v in values)
        fn = _native.fr_batch_inv if cls.MODULUS == R else _native.fq_batch_inv
        out = fn(data)
        return [cls.from_bytes(out[i : i + 32]) for i in range(0, len(out), 32)]

    @classmethod
    def encode_many(cls, values: Iterable[int | FieldElement]) -> bytes:
        """Concatenate canonical encodings (ints are reduced modulo the field)."""
        return b"".join(cls(v).to_bytes() for v in values)

    @classmethod
    def decode_many(cls, data: bytes) -> list[Self]:
        if len(data) % 32:
            raise errors.InvalidLength("length is not a multiple of 32")
        return [cls.from_bytes(data[i : i + 32]) for i in range(0, len(data), 32)]


class Fr(FieldElement):
    """An element of the BN254 scalar field (order of G1/G2)."""

    MODULUS: ClassVar[int] = R
    __slots__ = ()


class Fq(FieldElement):
    """An element of the BN254 base field."""

    MODULUS: ClassVar[int] = P
    __slots__ = ()

    def sqrt(self) -> Fq:
        """A square root (native); raises NoSquareRoot for non-residues."""
        return Fq.from_bytes(_native.fq_sqrt(self.to_bytes()))
