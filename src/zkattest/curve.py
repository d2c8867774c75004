"""BN254 groups G1 and G2 as immutable point objects over the native core.

A point holds its canonical uncompressed encoding (see ``native/include/zkattest.h``):
G1 = x || y (64 bytes), G2 = x.c0 || x.c1 || y.c0 || y.c1 (128 bytes), each
coordinate 32-byte little-endian; the point at infinity is all zero bytes.
Every point built from outside data is validated (canonical, on curve, and for
G2 in the prime-order subgroup) before it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

from . import _native, errors
from .field import Fr, R

__all__ = ["G1", "G2", "msm"]

Scalar = int | Fr


def _scalar_bytes(k: Scalar) -> bytes:
    if isinstance(k, Fr):
        return k.to_bytes()
    if isinstance(k, int) and not isinstance(k, bool):
        return (k % R).to_bytes(32, "little")
    raise errors.InvalidInput(f"scalar must be int or Fr, not {type(k).__name__}")


class _Point:
    SIZE: ClassVar[int]
    COMPRESSED_SIZE: ClassVar[int]
    __slots__ = ("_b",)
    _b: bytes

    def __init__(self) -> None:
        raise TypeError(f"use {type(self).__name__}.from_bytes / generator / identity")

    @classmethod
    def _trusted(cls, data: bytes) -> Self:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_b", data)
        return obj

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode and fully validate an uncompressed encoding."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise errors.InvalidInput("expected bytes")
        data = bytes(data)
        if len(data) != cls.SIZE:
            raise errors.InvalidLength(
                f"{cls.__name__}: expected {cls.SIZE} bytes, got {len(data)}"
            )
        (_native.g1_check if cls.SIZE == _native.G1_BYTES else _native.g2_check)(data)
        return cls._trusted(data)

    def to_bytes(self) -> bytes:
        return self._b

    def __bytes__(self) -> bytes:
        return self._b

    def is_identity(self) -> bool:
        return not any(self._b)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Point) and type(other) is type(self) and other._b == self._b

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._b))


class G1(_Point):
    """A point of G1 (y^2 = x^3 + 3 over Fq; prime order r, cofactor 1)."""

    SIZE: ClassVar[int] = _native.G1_BYTES
    COMPRESSED_SIZE: ClassVar[int] = _native.G1_COMPRESSED_BYTES
    __slots__ = ()

    @classmethod
    def generator(cls) -> G1:
        return cls._trusted(_native.g1_generator())

    @classmethod
    def identity(cls) -> G1:
        return cls._trusted(bytes(cls.SIZE))

    @classmethod
    def from_xy(cls, x: int, y: int) -> G1:
        for c in (x, y):
            if not isinstance(c, int) or not 0 <= c < (1 << 256):
                raise errors.InvalidInput("coordinates must be non-negative ints below 2^256")
        return cls.from_bytes(x.to_bytes(32, "little") + y.to_bytes(32, "little"))

    @property
    def xy(self) -> tuple[int, int] | None:
        """Affine coordinates, or None for the point at infinity."""
        if self.is_identity():
            return None
        return int.from_bytes(self._b[:32], "little"), int.from_bytes(self._b[32:], "little")

    @classmethod
    def decompress(cls, data: bytes) -> G1:
        return cls._trusted(_native.g1_decompress(data))

    def compress(self) -> bytes:
        return _native.g1_compress(self._b)

    def __add__(self, other: object) -> G1:
        if not isinstance(other, G1):
            return NotImplemented
        return G1._trusted(_native.g1_add(self._b, other._b))

    def __neg__(self) -> G1:
        return G1._trusted(_native.g1_neg(self._b))

    def __sub__(self, other: object) -> G1:
        if not isinstance(other, G1):
            return NotImplemented
        return self + (-other)

    def double(self) -> G1:
        return G1._trusted(_native.g1_double(self._b))

    def __mul__(self, k: object) -> G1:
        if not isinstance(k, int | Fr) or isinstance(k, bool):
            return NotImplemented
        return G1._trusted(_native.g1_mul_var(self._b, _scalar_bytes(k)))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        xy = self.xy
        return "G1(infinity)" if xy is None else f"G1(x={xy[0]}, y={xy[1]})"


Fq2Tuple = tuple[int, int]


class G2(_Point):
    """A point of G2 (the sextic twist y^2 = x^3 + 3/(9+u) over Fq2, prime-order subgroup)."""

    SIZE: ClassVar[int] = _native.G2_BYTES
    COMPRESSED_SIZE: ClassVar[int] = _native.G2_COMPRESSED_BYTES
    __slots__ = ()

    @classmethod
    def generator(cls) -> G2:
        return cls._trusted(_native.g2_generator())

    @classmethod
    def identity(cls) -> G2:
        return cls._trusted(bytes(cls.SIZE))

    @classmethod
    def from_xy(cls, x: Fq2Tuple, y: Fq2Tuple) -> G2:
        """Coordinates as (c0, c1) pairs, meaning c0 + c1*u."""
        coords = [*x, *y]
        for c in coords:
            if not isinstance(c, int) or not 0 <= c < (1 << 256):
                raise errors.InvalidInput("coordinates must be non-negative ints below 2^256")
        return cls.from_bytes(b"".join(c.to_bytes(32, "little") for c in coords))

    @property
    def xy(self) -> tuple[Fq2Tuple, Fq2Tuple] | None:
        if self.is_identity():
            return None
        c = [int.from_bytes(self._b[i : i + 32], "little") for i in range(0, 128, 32)]
        return (c[0], c[1]), (c[2], c[3])

    @classmethod
    def decompress(cls, data: bytes) -> G2:
        return cls._trusted(_native.g2_decompress(data))

    def compress(self) -> bytes:
        return _native.g2_compress(self._b)

    def __add__(self, other: object) -> G2:
        if not isinstance(other, G2):
            return NotImplemented
        return G2._trusted(_native.g2_add(self._b, other._b))

    def __neg__(self) -> G2:
        return G2._trusted(_native.g2_neg(self._b))

    def __sub__(self, other: object) -> G2:
        if not isinstance(other, G2):
            return NotImplemented
        return self + (-other)

    def double(self) -> G2:
        return G2._trusted(_native.g2_double(self._b))

    def __mul__(self, k: object) -> G2:
        if not isinstance(k, int | Fr) or isinstance(k, bool):
            return NotImplemented
        return G2._trusted(_native.g2_mul_var(self._b, _scalar_bytes(k)))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        xy = self.xy
        return "G2(infinity)" if xy is None else f"G2(x={xy[0]}, y={xy[1]})"


def msm(
    points: Sequence[G1] | Sequence[G2], scalars: Sequence[Scalar], threads: int | None = None
) -> G1 | G2:
    """sum(scalars[i] * points[i]) with the native Pippenger MSM.

    ``threads``: None = ``$ZKATTEST_THREADS`` or all cores; 0 = all cores.
    Integer scalars are reduced modulo r.
    """
    if len(points) != len(scalars):
        raise errors.InvalidLength(f"{len(points)} points but {len(scalars)} scalars")
    kinds = {type(p) for p in points}
    if len(kinds) > 1 or not kinds <= {G1, G2}:
        raise errors.InvalidInput("points must be all G1 or all G2")
    sc = b"".join(_scalar_bytes(k) for k in scalars)
    pts = b"".join(p.to_bytes() for p in points)
    if not points or G1 in kinds:
        return G1._trusted(_native.g1s_msm(pts, sc, threads))
    return G2._trusted(_native.g2s_msm(pts, sc, threads))
