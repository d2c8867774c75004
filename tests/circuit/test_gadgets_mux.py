"""Mux1 and the 2^k-way selector."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.circuit import Circuit, R, check
from zkattest.circuit.gadgets.bits import num2bits
from zkattest.circuit.gadgets.mux import mux, mux1, mux1_many
from zkattest.errors import CircuitError, ConstraintUnsatisfied

felt = st.integers(0, R - 1)


@given(felt, felt)
def test_mux1(a0: int, a1: int) -> None:
    c = Circuit("m")
    s = c.private_input("s")
    x0, x1 = c.private_input("a0"), c.private_input("a1")
    c.output("o", mux1(c, s, x0, x1))
    cc = c.compile()
    assert cc.n_constraints == 3  # selector boolean, the product, the output wire
    for sv, want in ((0, a0), (1, a1)):
        assert cc.output_values(cc.solve({"s": sv, "a0": a0, "a1": a1}))["o"] == want


def test_mux1_rejects_non_boolean_selector() -> None:
    c = Circuit("m")
    s = c.private_input("s")
    c.output("o", mux1(c, s, 10, 20))
    cc = c.compile()
    with pytest.raises(ConstraintUnsatisfied, match=r"Mux1\[0\]: selector"):
        cc.solve({"s": 2})  # would output 30: neither input
    w = cc.solve({"s": 1})
    w[cc.wire("o")] = 10  # flipped output
    with pytest.raises(ConstraintUnsatisfied):
        check(cc.r1cs, w)


def test_mux1_skips_boolean_check_for_known_bits() -> None:
    c = Circuit("m")
    x = c.private_input("x")
    bits = num2bits(c, x, 2)
    n = c.num_constraints
    out = mux1_many(c, bits[0], [1, 2], [3, 4])
    assert c.num_constraints == n  # bits are known boolean; constant arms fold for free
    c.output("o0", out[0])
    c.output("o1", out[1])
    cc = c.compile()
    assert cc.output_values(cc.solve({"x": 1})) == {"o0": 3, "o1": 4}
    with pytest.raises(CircuitError):
        mux1_many(c, bits[0], [1], [1, 2])


def test_mux_selects_every_index() -> None:
    values = [11, 22, 33, 44, 55, 66, 77, 88]
    c = Circuit("mux")
    sel = c.private_inputs("s", 3)
    vs = c.private_inputs("v", 8)
    c.output("o", mux(c, sel, vs))
    cc = c.compile()
    assert cc.n_constraints == 3 + 7 + 1  # selector bits, 2-way muxes, output
    for idx, bits in enumerate(itertools.product([0, 1], repeat=3)):
        s = [bits[2], bits[1], bits[0]]  # little-endian selector
        k = s[0] + 2 * s[1] + 4 * s[2]
        out = cc.output_values(cc.solve({"s": s, "v": values}))
        assert out["o"] == values[k], idx
    with pytest.raises(ConstraintUnsatisfied):
        cc.solve({"s": [2, 0, 0], "v": values})
    with pytest.raises(CircuitError):
        mux(Circuit("z"), [], [1])
