"""Bits: decomposition (Num2Bits), range checks, comparison of bits with a constant,
and boolean logic.

Bits are little-endian (``bits[0]`` is the least significant), as in circomlib.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import CircuitError
from ..builder import Circuit, Hint, template
from ..lc import LC, LCLike, R, as_lc, sum_lcs

__all__ = [
    "and_",
    "assert_bits_le_const",
    "assert_bits_lt_const",
    "bits2num",
    "not_",
    "num2bits",
    "num2bits_strict",
    "or_",
    "range_check",
    "xor",
]

#: Largest n for which an n-bit decomposition is unique in F_R (2^253 < R < 2^254).
MAX_UNIQUE_BITS = 253


def _bits_hint(n: int) -> Hint:
    def bits(v: list[int]) -> list[int]:
        x = v[0]
        return [(x >> i) & 1 for i in range(n)]

    return bits


def _decompose(c: Circuit, lx: LC, n: int) -> list[LC]:
    if lx.is_constant():
        v = lx.constant_value()
        if v >> n:
            raise CircuitError(f"{c.scope_name}: constant {v} does not fit in {n} bits")
        return [LC.const((v >> i) & 1) for i in range(n)]
    bits = c.hint(_bits_hint(n), [lx], n, name="bits")
    for b in bits:
        c.assert_bool(b, "bit")
    c.assert_equal(sum_lcs(b * (1 << i) for i, b in enumerate(bits)), lx, "bits sum")
    return list(bits)


@template("Num2Bits")
def num2bits(c: Circuit, x: LCLike, n: int) -> list[LC]:
    """The ``n`` bits of ``x`` (``1 <= n <= 253``), little-endian.  Also a range check:
    no witness exists unless ``x < 2^n``.  Costs ``n + 1`` constraints."""
    if not 1 <= n <= MAX_UNIQUE_BITS:
        raise CircuitError(f"Num2Bits: n = {n} not in 1..{MAX_UNIQUE_BITS} (use num2bits_strict)")
    lx = as_lc(x)
    bits = _decompose(c, lx, n)
    c.note_bits(lx, n)
    return bits


@template("Num2BitsStrict")
def num2bits_strict(c: Circuit, x: LCLike) -> list[LC]:
    """The 254 bits of any field element, with the alias check (``bits < R``) that
    makes the decomposition unique."""
    lx = as_lc(x)
    bits = _decompose(c, lx, 254)
    assert_bits_lt_const(c, bits, R)
    c.assume_determined(bits, "254-bit decomposition, unique by the alias check bits < r")
    return bits


def range_check(c: Circuit, x: LCLike, n: int) -> None:
    """Constrain ``0 <= x < 2^n`` (``n + 1`` constraints; none if already known)."""
    m = c.max_value(x)
    if m is not None and m < (1 << n):
        return
    num2bits(c, x, n)


def bits2num(bits: Sequence[LCLike]) -> LC:
    """``sum bits[i] * 2^i`` (free: a linear combination)."""
    return sum_lcs(as_lc(b) * (1 << i) for i, b in enumerate(bits))


def _require_bool(c: Circuit, bits: Sequence[LCLike]) -> None:
    for b in bits:
        if not c.is_boolean(b):
            c.assert_bool(b, "bit")


@template("BitsLeConst")
def assert_bits_le_const(c: Circuit, bits: Sequence[LCLike], m: int) -> None:
    """Constrain ``bits2num(bits) <= m`` for a constant ``m``: about one constraint
    per bit (a running "equal so far" product from the top bit).  Bits not already
    known boolean are constrained boolean."""
    n = len(bits)
    if m < 0:
        raise CircuitError("BitsLeConst: negative bound")
    if m >= (1 << n) - 1:
        _require_bool(c, bits)
        return
    _require_bool(c, bits)
    eq: LC = LC.const(1)  # 1 while bits[n-1..i+1] equal m's bits
    for i in range(n - 1, -1, -1):
        b = as_lc(bits[i])
        if (m >> i) & 1:
            if i > 0:
                eq = c.mul(eq, b, "eq")
        else:
            # equal so far and this bit is 1 while m's is 0: too big
            c.constrain(eq, b, 0, "le")


def assert_bits_lt_const(c: Circuit, bits: Sequence[LCLike], k: int) -> None:
    """Constrain ``bits2num(bits) < k`` for a constant ``k >= 1``."""
    if k < 1:
        raise CircuitError("BitsLtConst: nothing is below 0")
    assert_bits_le_const(c, bits, k - 1)


def not_(a: LCLike) -> LC:
    """``1 - a`` (free); ``a`` must be boolean."""
    return 1 - as_lc(a)


def and_(c: Circuit, a: LCLike, b: LCLike) -> LC:
    """``a AND b`` for booleans (one constraint)."""
    return c.mul(a, b, "and")


def or_(c: Circuit, a: LCLike, b: LCLike) -> LC:
    """``a OR b`` for booleans (one constraint)."""
    return as_lc(a) + as_lc(b) - c.mul(a, b, "or")


def xor(c: Circuit, a: LCLike, b: LCLike) -> LC:
    """``a XOR b`` for booleans (one constraint)."""
    return as_lc(a) + as_lc(b) - 2 * c.mul(a, b, "xor")
