"""Num2Bits, range checks, strict decomposition, bits-vs-constant, boolean logic."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.circuit import Circuit, R, check, find_unsatisfied
from zkattest.circuit.gadgets.bits import (
    and_,
    assert_bits_le_const,
    assert_bits_lt_const,
    bits2num,
    not_,
    num2bits,
    num2bits_strict,
    or_,
    range_check,
    xor,
)
from zkattest.errors import CircuitError, ConstraintUnsatisfied


def _n2b(n: int):  # type: ignore[no-untyped-def]
    c = Circuit("n2b")
    x = c.private_input("x")
    bits = num2bits(c, x, n)
    for i, b in enumerate(bits):
        c.output(f"b{i}", b)
    return c.compile()


@given(st.integers(1, 253).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, 2**n - 1))))
def test_num2bits_gives_the_bits(nx: tuple[int, int]) -> None:
    n, x = nx
    cc = _n2b(n)
    assert cc.n_constraints == n + 1
    w = cc.solve({"x": x})
    assert [w[cc.wire(f"b{i}")] for i in range(n)] == [(x >> i) & 1 for i in range(n)]


@pytest.mark.parametrize("x", [256, 2**200, R - 1, R - 256])
def test_num2bits_rejects_values_out_of_range(x: int) -> None:
    cc = _n2b(8)
    with pytest.raises(ConstraintUnsatisfied, match=r"Num2Bits\[0\]: bits sum"):
        cc.solve({"x": x})


def test_num2bits_exhaustive_soundness_small() -> None:
    """For every x < 16 and EVERY assignment of the 3 bit wires (plus non-bit values),
    only the true decomposition of an in-range x satisfies the system."""
    cc = _n2b(3)
    bit_wires = [cc.wire(f"b{i}") for i in range(3)]
    for x in range(16):
        honest = cc.solve({"x": x}, check=False)
        for cand in itertools.product([0, 1, 2, R - 1], repeat=3):
            w = list(honest)
            for wi, v in zip(bit_wires, cand, strict=True):
                w[wi] = v
            ok = find_unsatisfied(cc.r1cs, w) is None
            assert ok == (x < 8 and list(cand) == [(x >> i) & 1 for i in range(3)])


def test_num2bits_rejects_forged_hint() -> None:
    """Forcing the bit hint to another value during solving is caught."""
    cc = _n2b(8)
    b3 = cc.wire("b3")
    w = cc.solve({"x": 5}, check=False, overrides={b3: 1})
    with pytest.raises(ConstraintUnsatisfied, match="bits sum"):
        check(cc.r1cs, w)


def test_num2bits_bounds_and_constants() -> None:
    c = Circuit("k")
    with pytest.raises(CircuitError):
        num2bits(c, c.private_input("x"), 254)
    with pytest.raises(CircuitError):
        num2bits(c, 5, 0)
    assert [b.constant_value() for b in num2bits(c, 5, 4)] == [1, 0, 1, 0]
    with pytest.raises(CircuitError, match="does not fit"):
        num2bits(c, 16, 4)
    assert c.num_constraints == 0


def test_range_check_is_skipped_when_already_known() -> None:
    c = Circuit("rc")
    x = c.private_input("x")
    range_check(c, x, 10)
    n = c.num_constraints
    range_check(c, x, 12)  # x < 2^10 already proven
    assert c.num_constraints == n
    assert c.max_value(x + 3 * x) == 4 * (2**10 - 1)
    range_check(c, x, 5)  # tighter: a new check
    assert c.num_constraints == n + 6


@given(st.integers(0, R - 1))
def test_num2bits_strict_any_field_element(x: int) -> None:
    c = Circuit("strict")
    v = c.private_input("x")
    bits = num2bits_strict(c, v)
    c.output("back", c.wire(bits2num(bits)))
    cc = c.compile()
    w = cc.solve({"x": x})
    assert w[cc.wire("back")] == x
    assert [w[cc.wire(f"strict.Num2BitsStrict[0].bits[{i}]")] for i in range(254)] == [
        (x >> i) & 1 for i in range(254)
    ]


@pytest.mark.parametrize("x", [0, 1, 5, 2**250])
def test_num2bits_strict_rejects_the_alias(x: int) -> None:
    """x + r < 2^254 is the other 254-bit decomposition of x: the alias check kills it."""
    c = Circuit("strict")
    v = c.private_input("x")
    num2bits_strict(c, v)
    cc = c.compile()
    honest = cc.solve({"x": x})
    alias = x + R
    assert alias < 2**254
    forged = {cc.wire(f"strict.Num2BitsStrict[0].bits[{i}]"): (alias >> i) & 1 for i in range(254)}
    w = cc.solve({"x": x}, check=False, overrides=forged)
    assert w != honest
    with pytest.raises(ConstraintUnsatisfied, match="BitsLeConst"):
        check(cc.r1cs, w)


def test_bits_vs_constant_exhaustive() -> None:
    for k in range(0, 17):
        c = Circuit("le")
        bits = c.private_inputs("b", 4)
        assert_bits_le_const(c, bits, k)
        cc = c.compile()
        for v in range(16):
            w = cc.solve({"b": [(v >> i) & 1 for i in range(4)]}, check=False)
            assert (find_unsatisfied(cc.r1cs, w) is None) == (v <= k), (k, v)
    c = Circuit("lt")
    bits = c.private_inputs("b", 4)
    assert_bits_lt_const(c, bits, 11)
    cc = c.compile()
    for v in range(16):
        w = cc.solve({"b": [(v >> i) & 1 for i in range(4)]}, check=False)
        assert (find_unsatisfied(cc.r1cs, w) is None) == (v < 11)
    with pytest.raises(CircuitError):
        assert_bits_lt_const(Circuit("z"), [], 0)


def test_bits_vs_constant_rejects_non_bits() -> None:
    c = Circuit("nb")
    bits = c.private_inputs("b", 4)
    assert_bits_le_const(c, bits, 15)  # no ordering constraint, but bits must be bits
    cc = c.compile()
    with pytest.raises(ConstraintUnsatisfied, match="bit"):
        cc.solve({"b": [2, 0, 0, 0]})


def test_boolean_logic_truth_tables() -> None:
    c = Circuit("logic")
    a, b = c.private_input("a"), c.private_input("b")
    c.assert_bool(a)
    c.assert_bool(b)
    c.output("and_", and_(c, a, b))
    c.output("or_", or_(c, a, b))
    c.output("xor", xor(c, a, b))
    c.output("not_", not_(a))
    cc = c.compile()
    for x, y in itertools.product([0, 1], repeat=2):
        out = cc.output_values(cc.solve({"a": x, "b": y}))
        assert out == {"and_": x & y, "or_": x | y, "xor": x ^ y, "not_": 1 - x}
