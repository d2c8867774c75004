"""Number-theoretic transforms over Fr on power-of-two domains (native, parallel).

``Domain(log_n)`` precomputes its twiddles once and may be shared between
threads.  Its generator is omega = 5^((r-1)/n), the root of unity snarkjs and
ffjavascript use for BN254, so evaluations agree with their files.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import _native, errors
from .field import Fr, R

__all__ = ["Domain"]

Values = Sequence[int | Fr]


def _encode(values: Values) -> bytes:
    out = bytearray()
    for v in values:
        if isinstance(v, Fr):
            out += v.to_bytes()
        elif isinstance(v, int) and not isinstance(v, bool):
            out += (v % R).to_bytes(32, "little")
        else:
            raise errors.InvalidInput("values must be ints or Fr")
    return bytes(out)


def _decode(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "little") for i in range(0, len(data), 32)]


class Domain:
    """The multiplicative subgroup of order n = 2^log_n of Fr."""

    __slots__ = ("_d",)

    def __init__(self, log_n: int) -> None:
        self._d = _native.NttDomain(log_n)

    @property
    def n(self) -> int:
        return self._d.n

    @property
    def log_n(self) -> int:
        return self._d.log_n

    @property
    def omega(self) -> int:
        return int.from_bytes(self._d.omega(), "little")

    def forward(self, values: Values, threads: int | None = None) -> list[int]:
        """Evaluations a_j = sum_i values[i] * omega^(i*j)."""
        return _decode(self._d.forward(_encode(values), threads))

    def inverse(self, values: Values, threads: int | None = None) -> list[int]:
        """Coefficients from evaluations (exact inverse of forward)."""
        return _decode(self._d.inverse(_encode(values), threads))

    def coset_forward(self, values: Values, shift: int, threads: int | None = None) -> list[int]:
        """Evaluations at shift * omega^j."""
        return _decode(self._d.coset_forward(_encode(values), _encode([shift]), threads))

    def coset_inverse(self, values: Values, shift: int, threads: int | None = None) -> list[int]:
        """Coefficients from evaluations at shift * omega^j."""
        return _decode(self._d.coset_inverse(_encode(values), _encode([shift]), threads))

    # raw byte interfaces for callers that already hold canonical encodings
    def forward_bytes(self, data: bytes, threads: int | None = None) -> bytes:
        return self._d.forward(data, threads)

    def inverse_bytes(self, data: bytes, threads: int | None = None) -> bytes:
        return self._d.inverse(data, threads)
