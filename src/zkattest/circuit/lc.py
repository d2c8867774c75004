"""Linear combinations over BN254 Fr: the values a circuit computes with for free.

An :class:`LC` is a sparse map ``wire -> coefficient`` (coefficients in ``[1, R)``),
where wire 0 is the constant one, so ``LC({0: 5})`` is the constant 5.  Addition,
subtraction, negation and multiplication by a constant fold into a new LC without
creating a constraint.  Multiplying two non-constant LCs is non-linear and needs a
constraint: use :meth:`zkattest.circuit.Circuit.mul` (``lc * lc`` raises).

Wire numbers inside an LC are the builder's numbers (creation order); the compiler
renumbers them into circom's wire order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeAlias

from ..errors import CircuitError

__all__ = ["LC", "LCLike", "R", "Signal", "as_lc", "sum_lcs"]

#: The BN254 scalar field modulus (the order of G1): every circuit value lives in F_R.
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617


class LC:
    """A linear combination ``sum(coeff * wire)``; wire 0 is the constant 1.

    Immutable by convention: every operation returns a new LC.
    """

    __slots__ = ("terms",)

    terms: dict[int, int]

    def __init__(self, terms: Mapping[int, int] | None = None) -> None:
        out: dict[int, int] = {}
        if terms:
            for w, c in terms.items():
                c %= R
                if c:
                    out[w] = c
        self.terms = out

    @classmethod
    def _raw(cls, terms: dict[int, int]) -> LC:
        """Wrap an already reduced, zero-free dict (no copy)."""
        lc = object.__new__(LC)
        lc.terms = terms
        return lc

    @staticmethod
    def const(value: int) -> LC:
        """The constant ``value mod R``."""
        v = value % R
        return LC._raw({0: v} if v else {})

    # ---------------------------------------------------------------- queries
    def is_constant(self) -> bool:
        """True if no wire other than the constant one appears."""
        t = self.terms
        return not t or (len(t) == 1 and 0 in t)

    def constant_value(self) -> int:
        """The constant term (the coefficient of wire 0)."""
        return self.terms.get(0, 0)

    def single_wire(self) -> int | None:
        """The wire if this LC is exactly ``1 * wire`` (wire != 0), else None."""
        t = self.terms
        if len(t) == 1:
            ((w, c),) = t.items()
            if w != 0 and c == 1:
                return w
        return None

    def wires(self) -> list[int]:
        """Wires with a nonzero coefficient, excluding the constant wire 0."""
        return [w for w in self.terms if w != 0]

    # ------------------------------------------------------------- arithmetic
    def __add__(self, other: LCLike) -> LC:
        out = dict(self.terms)
        if isinstance(other, LC):
            for w, c in other.terms.items():
                s = (out.get(w, 0) + c) % R
                if s:
                    out[w] = s
                else:
                    out.pop(w, None)
        elif isinstance(other, int):
            s = (out.get(0, 0) + other) % R
            if s:
                out[0] = s
            else:
                out.pop(0, None)
        else:
            return NotImplemented
        return LC._raw(out)

    __radd__ = __add__

    def __neg__(self) -> LC:
        return LC._raw({w: R - c for w, c in self.terms.items()})

    def __sub__(self, other: LCLike) -> LC:
        if isinstance(other, LC):
            return self + (-other)
        if isinstance(other, int):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: LCLike) -> LC:
        return (-self) + other

    def __mul__(self, other: LCLike) -> LC:
        if isinstance(other, LC):
            if other.is_constant():
                k = other.constant_value()
            elif self.is_constant():
                return other * self.constant_value()
            else:
                raise CircuitError(
                    "product of two non-constant linear combinations: use Circuit.mul(a, b)"
                )
        elif isinstance(other, int) and not isinstance(other, bool):
            k = other % R
        else:
            return NotImplemented
        if k == 0:
            return LC._raw({})
        if k == 1:
            return LC._raw(dict(self.terms))
        return LC._raw({w: c * k % R for w, c in self.terms.items()})

    __rmul__ = __mul__

    def __repr__(self) -> str:
        parts = []
        for w, c in sorted(self.terms.items()):
            cs = str(c) if c <= R // 2 else f"-{R - c}"
            parts.append(cs if w == 0 else f"{cs}*w{w}")
        return "LC(" + (" + ".join(parts) if parts else "0") + ")"

    def __bool__(self) -> bool:
        raise CircuitError("the truth value of a linear combination is not defined")

    # LCs are not values: == would be ambiguous (structural vs constraint).
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        raise CircuitError("use Circuit.assert_equal(a, b) to constrain, or .terms to compare")


class Signal(LC):
    """A linear combination that is exactly one wire (``1 * wire``)."""

    __slots__ = ("wire",)

    wire: int

    def __init__(self, wire: int) -> None:
        self.terms = {wire: 1}
        self.wire = wire

    def __repr__(self) -> str:
        return f"Signal(w{self.wire})"


LCLike: TypeAlias = LC | int


def as_lc(x: LCLike) -> LC:
    """Coerce an int (a constant) or an LC into an LC."""
    if isinstance(x, LC):
        return x
    if isinstance(x, int) and not isinstance(x, bool):
        return LC.const(x)
    raise CircuitError(f"expected a linear combination or an int, got {type(x).__name__}")


def sum_lcs(items: Iterable[LCLike]) -> LC:
    """Sum many LCs in one pass (faster than repeated ``+``)."""
    out: dict[int, int] = {}
    for it in items:
        if isinstance(it, LC):
            for w, c in it.terms.items():
                out[w] = out.get(w, 0) + c
        else:
            out[0] = out.get(0, 0) + it
    return LC._raw({w: c % R for w, c in out.items() if c % R})
