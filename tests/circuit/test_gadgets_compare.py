"""LessThan / LessEqThan / GreaterThan / GreaterEqThan, hard comparisons, IsZero,
IsEqual: correctness, and soundness against cheating witnesses."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.circuit import LC, Circuit, CompiledCircuit, R, check, find_unsatisfied
from zkattest.circuit.gadgets.compare import (
    assert_greater_eq,
    assert_less_eq,
    assert_less_than,
    greater_eq_than,
    greater_than,
    is_equal,
    is_zero,
    less_eq_than,
    less_than,
)
from zkattest.errors import CircuitError, ConstraintUnsatisfied

Cmp = Callable[[Circuit, LC, LC, int], LC]
CASES: list[tuple[Cmp, Callable[[int, int], bool]]] = [
    (less_than, lambda a, b: a < b),
    (less_eq_than, lambda a, b: a <= b),
    (greater_than, lambda a, b: a > b),
    (greater_eq_than, lambda a, b: a >= b),
]


def _cmp_circuit(fn: Cmp, n: int) -> CompiledCircuit:
    c = Circuit("cmp")
    a, b = c.private_input("a"), c.private_input("b")
    c.output("out", c.wire(fn(c, a, b, n)))
    return c.compile()


@pytest.mark.parametrize("case", CASES, ids=["lt", "le", "gt", "ge"])
@given(data=st.data())
def test_comparators_agree_with_python(
    case: tuple[Cmp, Callable[[int, int], bool]], data: st.DataObject
) -> None:
    fn, ref = case
    n = data.draw(st.sampled_from([1, 8, 27, 64, 252]))
    val = st.one_of(st.integers(0, 2**n - 1), st.sampled_from([0, 2**n - 1]))
    a, b = data.draw(val), data.draw(val)
    cc = _cmp_circuit(fn, n)
    w = cc.solve({"a": a, "b": b})
    assert w[cc.wire("out")] == int(ref(a, b))


@pytest.mark.parametrize("case", CASES, ids=["lt", "le", "gt", "ge"])
def test_comparators_reject_out_of_range_inputs(case: tuple[Cmp, object]) -> None:
    """Wrap-around inputs such as r - k (i.e. -k) or 2^n have no witness."""
    fn, _ = case
    cc = _cmp_circuit(fn, 8)
    for a, b in [(R - 1, 5), (5, R - 1), (256, 3), (3, 256), (R - 256, 0)]:
        w = cc.solve({"a": a, "b": b}, check=False)
        with pytest.raises(ConstraintUnsatisfied, match="Num2Bits"):
            check(cc.r1cs, w)


def test_less_than_exhaustive_soundness() -> None:
    """n = 2: for every input pair and EVERY boolean assignment of the hint wires
    (range-check bits and comparison bits), only the honest one satisfies, so the
    output cannot be flipped."""
    cc = _cmp_circuit(less_than, 2)
    honest0 = cc.solve({"a": 0, "b": 0})
    hint_wires = [i for i, nm in enumerate(cc.wire_names) if ".bits[" in nm]
    # range-check bits of a and b, the two low comparison bits; the top one is "out"
    assert len(hint_wires) == 2 + 2 + 2
    out = cc.wire("out")
    for a, b in itertools.product(range(4), repeat=2):
        honest = cc.solve({"a": a, "b": b})
        assert honest[out] == int(a < b)
        n_ok = 0
        for bits in itertools.product([0, 1], repeat=len(hint_wires)):
            for out_v in (0, 1):
                w = list(honest)
                for wi, v in zip(hint_wires, bits, strict=True):
                    w[wi] = v
                w[out] = out_v
                if find_unsatisfied(cc.r1cs, w) is None:
                    n_ok += 1
                    assert w == honest
        assert n_ok == 1
    assert honest0[out] == 0


@pytest.mark.parametrize("case", CASES, ids=["lt", "le", "gt", "ge"])
def test_flipped_result_is_rejected(case: tuple[Cmp, object]) -> None:
    fn, _ = case
    cc = _cmp_circuit(fn, 27)
    for a, b in [(19990101, 20240101), (20240101, 19990101), (5, 5)]:
        honest = cc.solve({"a": a, "b": b})
        bad = list(honest)
        bad[cc.wire("out")] = 1 - honest[cc.wire("out")]
        assert find_unsatisfied(cc.r1cs, bad) is not None
        # forcing the sign bit of the comparison (the output wire) during solving
        sign = cc.wire("out")
        forced = cc.solve({"a": a, "b": b}, check=False, overrides={sign: 1 - honest[sign]})
        assert forced[cc.wire("out")] != honest[cc.wire("out")]
        with pytest.raises(ConstraintUnsatisfied, match="bits sum"):
            check(cc.r1cs, forced)


def test_comparator_bounds() -> None:
    c = Circuit("b")
    a = c.private_input("a")
    for n in (0, 253):
        with pytest.raises(CircuitError):
            less_than(c, a, a, n)


def test_comparators_reuse_range_checks() -> None:
    c = Circuit("reuse")
    a, b = c.private_input("a"), c.private_input("b")
    less_than(c, a, b, 27)
    n1 = c.num_constraints
    assert n1 == 28 + 28 + 29  # two 27-bit range checks, then 28 comparison bits
    less_eq_than(c, a, b, 27)
    assert c.num_constraints - n1 == 29  # only the comparison bits
    # an LC whose bound follows from recorded ranges needs no new range check
    less_eq_than(c, a + 100 * b, b * 2**10, 40)
    assert c.num_constraints - n1 == 29 + 42


def test_hard_comparisons() -> None:
    c = Circuit("hard")
    a, b = c.private_input("a"), c.private_input("b")
    assert_less_eq(c, a, b, 16)
    cc = c.compile()
    assert cc.solve({"a": 3, "b": 3})
    for a_v, b_v in [(4, 3), (R - 1, 3), (3, 2**16 + 3), (0, R - 1), (2**16, 2**16)]:
        w = cc.solve({"a": a_v, "b": b_v}, check=False)
        assert find_unsatisfied(cc.r1cs, w) is not None
    # b is not range-checked on its own: b = a + d with small a, d cannot wrap
    assert cc.solve({"a": 5, "b": 2**16 + 4})
    c = Circuit("hard2")
    a, b = c.private_input("a"), c.private_input("b")
    assert_less_than(c, a, b, 16)
    assert_greater_eq(c, b, a, 16)
    cc = c.compile()
    cc.solve({"a": 2, "b": 3})
    for a_v, b_v in [(3, 3), (4, 3), (R - 1, 0), (0, 2**16 + 1), (2**16, 2**16 + 1)]:
        w = cc.solve({"a": a_v, "b": b_v}, check=False)
        assert find_unsatisfied(cc.r1cs, w) is not None


def _iz() -> CompiledCircuit:
    c = Circuit("iz")
    x, y = c.private_input("x"), c.private_input("y")
    c.output("z", c.wire(is_zero(c, x)))
    c.output("e", c.wire(is_equal(c, x, y)))
    return c.compile()


@given(st.integers(0, R - 1), st.integers(0, R - 1), st.booleans())
def test_is_zero_is_equal(x: int, y: int, same: bool) -> None:
    cc = _iz()
    if same:
        y = x
    out = cc.output_values(cc.solve({"x": x, "y": y}))
    assert out == {"z": int(x == 0), "e": int(x == y)}
    assert _iz().solve({"x": 0, "y": 0})[cc.wire("z")] == 1


def test_is_zero_soundness_exhaustive_over_hints() -> None:
    """Whatever the prover puts in the inverse hint and the product wire, the output
    is forced: try many values for both on zero and nonzero inputs."""
    c = Circuit("iz1")
    x = c.private_input("x")
    c.output("z", c.wire(is_zero(c, x)))
    cc = c.compile()
    inv = cc.wire("iz1.IsZero[0].inv")
    m = cc.wire("iz1.IsZero[0].x_inv")
    z = cc.wire("z")
    cands = [0, 1, 2, R - 1, pow(7, -1, R), 12345]
    for xv in [0, 7, R - 1]:
        honest = cc.solve({"x": xv})
        for iv, mv in itertools.product(cands, repeat=2):
            w = list(honest)
            w[inv], w[m] = iv, mv
            w[z] = (1 - mv) % R
            if find_unsatisfied(cc.r1cs, w) is None:
                assert w[z] == int(xv == 0)
