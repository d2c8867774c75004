"""Multiplexers: choose between values with boolean selectors.

Selectors are constrained boolean unless the circuit already knows they are (for
example bits from :func:`~zkattest.circuit.gadgets.bits.num2bits`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import CircuitError
from ..builder import Circuit, template
from ..lc import LC, LCLike, as_lc

__all__ = ["mux", "mux1", "mux1_many"]


def _bool(c: Circuit, s: LCLike) -> LC:
    ls = as_lc(s)
    if not c.is_boolean(ls):
        c.assert_bool(ls, "selector")
    return ls


@template("Mux1")
def mux1(c: Circuit, s: LCLike, a0: LCLike, a1: LCLike) -> LC:
    """``a1 if s else a0`` (one constraint: ``a0 + s * (a1 - a0)``)."""
    ls = _bool(c, s)
    l0 = as_lc(a0)
    return l0 + c.mul(ls, as_lc(a1) - l0, "sel")


@template("Mux1")
def mux1_many(c: Circuit, s: LCLike, a0: Sequence[LCLike], a1: Sequence[LCLike]) -> list[LC]:
    """Element-wise :func:`mux1` of two equal-length vectors with one selector."""
    if len(a0) != len(a1):
        raise CircuitError("Mux1: vectors of different lengths")
    ls = _bool(c, s)
    out = []
    for x0, x1 in zip(a0, a1, strict=True):
        l0 = as_lc(x0)
        out.append(l0 + c.mul(ls, as_lc(x1) - l0, "sel"))
    return out


@template("Mux")
def mux(c: Circuit, sel_bits: Sequence[LCLike], values: Sequence[LCLike]) -> LC:
    """``values[sum sel_bits[i] * 2^i]`` for ``len(values) == 2^len(sel_bits)``
    (a tree of 2-way muxes: ``len(values) - 1`` constraints)."""
    k = len(sel_bits)
    if k < 1 or len(values) != 1 << k:
        raise CircuitError(f"Mux: need 2^{k} values, got {len(values)}")
    layer = [as_lc(v) for v in values]
    for bit in sel_bits:  # least significant selector bit first
        lb = _bool(c, bit)
        layer = [
            layer[2 * j] + c.mul(lb, layer[2 * j + 1] - layer[2 * j], "sel")
            for j in range(len(layer) // 2)
        ]
    return layer[0]
