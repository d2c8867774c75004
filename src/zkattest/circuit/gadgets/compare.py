"""Comparators and equality tests.

The n-bit comparators are sound on their own: each input is range-checked to ``n``
bits (``n + 1`` constraints) unless earlier constraints recorded on the circuit
already bound it (:meth:`Circuit.max_value`), so no input can wrap around the field.
``n`` is at most 252, so ``b - a + 2^n`` fits in ``n + 1 <= 253`` bits; its top bit
is the answer, returned as a wire.  The hard assertions (``assert_less_eq``...) only
need the smaller side range-checked.
"""

from __future__ import annotations

from ...errors import CircuitError
from ..builder import Circuit, template
from ..lc import LC, LCLike, R, as_lc
from .bits import num2bits, range_check

__all__ = [
    "MAX_COMPARE_BITS",
    "assert_greater_eq",
    "assert_less_eq",
    "assert_less_than",
    "greater_eq_than",
    "greater_than",
    "is_equal",
    "is_zero",
    "less_eq_than",
    "less_than",
]

MAX_COMPARE_BITS = 252


def _check_n(n: int, what: str) -> None:
    if not 1 <= n <= MAX_COMPARE_BITS:
        raise CircuitError(f"{what}: n = {n} not in 1..{MAX_COMPARE_BITS}")


def _ranged(c: Circuit, a: LCLike, b: LCLike, n: int) -> tuple[LC, LC]:
    la, lb = as_lc(a), as_lc(b)
    range_check(c, la, n)
    range_check(c, lb, n)
    return la, lb


@template("LessThan")
def less_than(c: Circuit, a: LCLike, b: LCLike, n: int) -> LC:
    """``[a < b]`` for ``a, b < 2^n`` (enforced): bit ``n`` of ``b - a - 1 + 2^n``
    (a wire: free to make it a public output).  ``n + 2`` constraints beyond the
    range checks."""
    _check_n(n, "LessThan")
    la, lb = _ranged(c, a, b, n)
    bits = num2bits(c, lb - la + ((1 << n) - 1), n + 1)
    return bits[n]


@template("LessEqThan")
def less_eq_than(c: Circuit, a: LCLike, b: LCLike, n: int) -> LC:
    """``[a <= b]`` for ``a, b < 2^n`` (enforced): bit ``n`` of ``b - a + 2^n``."""
    _check_n(n, "LessEqThan")
    la, lb = _ranged(c, a, b, n)
    bits = num2bits(c, lb - la + (1 << n), n + 1)
    return bits[n]


def greater_than(c: Circuit, a: LCLike, b: LCLike, n: int) -> LC:
    """``[a > b]`` (``[b < a]``)."""
    return less_than(c, b, a, n)


def greater_eq_than(c: Circuit, a: LCLike, b: LCLike, n: int) -> LC:
    """``[a >= b]`` (``[b <= a]``)."""
    return less_eq_than(c, b, a, n)


@template("AssertLessEq")
def assert_less_eq(c: Circuit, a: LCLike, b: LCLike, n: int) -> None:
    """Hard constraint ``a <= b``: ``a < 2^n`` (enforced) and ``b - a`` in ``n`` bits.

    Sound for any ``b``: ``b = a + d`` with ``a, d < 2^n`` cannot wrap, so ``b``
    itself is then below ``2^(n+1)`` and at least ``a`` (no separate range check of
    ``b`` is needed).  Complete when ``b - a < 2^n``."""
    _check_n(n, "AssertLessEq")
    la = as_lc(a)
    range_check(c, la, n)
    num2bits(c, as_lc(b) - la, n)


@template("AssertLessThan")
def assert_less_than(c: Circuit, a: LCLike, b: LCLike, n: int) -> None:
    """Hard constraint ``a < b``: ``a < 2^n`` (enforced) and ``b - a - 1`` in ``n``
    bits (sound for any ``b``, as :func:`assert_less_eq`)."""
    _check_n(n, "AssertLessThan")
    la = as_lc(a)
    range_check(c, la, n)
    num2bits(c, as_lc(b) - la - 1, n)


def assert_greater_eq(c: Circuit, a: LCLike, b: LCLike, n: int) -> None:
    """Hard constraint ``a >= b``."""
    assert_less_eq(c, b, a, n)


def _inv_or_zero(v: list[int]) -> int:
    return pow(v[0], -1, R) if v[0] else 0


@template("IsZero")
def is_zero(c: Circuit, x: LCLike) -> LC:
    """``[x == 0]`` (two constraints: ``x * inv = m``, ``x * (1 - m) = 0``; the
    result is ``1 - m``)."""
    lx = as_lc(x)
    if lx.is_constant():
        return LC.const(0 if lx.constant_value() else 1)
    inv = c.hint1(_inv_or_zero, [lx], "inv")
    m = c.mul(lx, inv, "x_inv")
    out = 1 - m
    c.constrain(lx, out, 0, "x_out")
    c.note_bits(m, 1)  # m in {0, 1} is forced by the two constraints
    return out


@template("IsEqual")
def is_equal(c: Circuit, a: LCLike, b: LCLike) -> LC:
    """``[a == b]`` (two constraints)."""
    return is_zero(c, as_lc(a) - as_lc(b))
