"""The DSL core: linear combinations, signals, constraints, hints, templates, solving."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.circuit import (
    LC,
    Circuit,
    InputValue,
    R,
    WireKind,
    check,
    find_unsatisfied,
    sum_lcs,
    template,
)
from zkattest.errors import CircuitError, ConstraintUnsatisfied, WitnessError

felt = st.integers(min_value=0, max_value=R - 1)
small = st.integers(min_value=-(2**70), max_value=2**70)


# ------------------------------------------------------------------ LC algebra
def _value(lc: LC, w: dict[int, int]) -> int:
    return sum(c * w[i] for i, c in lc.terms.items()) % R


@given(
    st.lists(felt, min_size=4, max_size=4),
    st.lists(st.tuples(st.sampled_from("+-*n"), st.integers(0, 3), small), max_size=20),
)
def test_lc_arithmetic_matches_plain_integers(
    vals: list[int], ops: list[tuple[str, int, int]]
) -> None:
    w = {0: 1, 1: vals[0], 2: vals[1], 3: vals[2], 4: vals[3]}
    sigs = [LC({i: 1}) for i in range(1, 5)]
    acc: LC = LC.const(0)
    ref = 0
    for op, i, k in ops:
        if op == "+":
            acc = acc + sigs[i] + k
            ref = ref + w[i + 1] + k
        elif op == "-":
            acc = k - (acc - sigs[i])
            ref = k - (ref - w[i + 1])
        elif op == "*":
            acc = k * acc
            ref = k * ref
        else:
            acc = -acc
            ref = -ref
        assert all(0 < c < R for c in acc.terms.values())
        assert _value(acc, w) == ref % R


def test_lc_cancellation_removes_terms() -> None:
    a = LC({1: 5, 2: 7})
    assert (a - a).terms == {}
    assert (a * R).terms == {}
    assert (a + (-5) * LC({1: 1})).terms == {2: 7}
    assert sum_lcs([a, 3, -a, LC({3: 1})]).terms == {0: 3, 3: 1}


def test_lc_misuse_raises() -> None:
    a, b = LC({1: 1}), LC({2: 1})
    with pytest.raises(CircuitError, match=r"Circuit\.mul"):
        _ = a * b
    with pytest.raises(CircuitError):
        bool(a)
    with pytest.raises(CircuitError):
        _ = a == b
    # constant LCs multiply freely
    assert (a * LC.const(3)).terms == {1: 3}
    assert (LC.const(3) * a).terms == {1: 3}


# --------------------------------------------------------------- wire order
def test_wire_order_is_circoms() -> None:
    c = Circuit("order")
    p1 = c.private_input("p1")
    x = c.public_input("x")
    t = c.mul(p1, x)  # internal, created before the other declarations
    ys = c.public_inputs("ys", 2)
    p2 = c.private_input("p2")
    u = c.mul(t, p2)
    c.output("o2", u + 1)  # not a bare wire: new output wire + 1 constraint
    c.output("o1", c.mul(ys[0], ys[1]))  # bare fresh wire: promoted, free
    cc = c.compile()
    r = cc.r1cs
    assert (r.n_pub_out, r.n_pub_in, r.n_prv_in) == (2, 3, 2)
    assert cc.wire_names[:8] == ["one", "o2", "o1", "x", "ys[0]", "ys[1]", "p1", "p2"]
    assert [s.name for s in cc.inputs()] == ["x", "ys", "p1", "p2"]
    assert [s.name for s in cc.outputs()] == ["o2", "o1"]
    assert cc.signals["ys"].kind == WireKind.PUBLIC_INPUT
    assert r.n_constraints == 4  # three products + the o2 output
    w = cc.solve({"x": 3, "ys": [4, 5], "p1": 6, "p2": 7})
    assert w[:8] == [1, 3 * 6 * 7 + 1, 20, 3, 4, 5, 6, 7]
    assert cc.public_signals(w) == [127, 20, 3, 4, 5]
    assert cc.output_values(w) == {"o2": 127, "o1": 20}
    check(r, w)


def test_constant_products_and_trivial_assertions_are_free() -> None:
    c = Circuit("free")
    x = c.public_input("x")
    y = c.mul(3, x + 1)
    y = c.mul(y, LC.const(2))
    c.assert_equal(y - 6 * x, 6)  # trivially true -> no constraint
    c.assert_bool(1)
    c.assert_zero(x - x)
    assert c.num_constraints == 0
    with pytest.raises(CircuitError, match="never satisfiable"):
        c.assert_equal(x + 1, x)
    with pytest.raises(CircuitError):
        c.assert_bool(2)


def test_names_are_unique_identifiers() -> None:
    c = Circuit("n")
    c.public_input("a")
    with pytest.raises(CircuitError, match="twice"):
        c.private_input("a")
    with pytest.raises(CircuitError):
        c.public_input("a b")
    with pytest.raises(CircuitError):
        c.private_inputs("v", 0)
    with pytest.raises(CircuitError):
        Circuit("1bad")


def test_no_building_after_compile() -> None:
    c = Circuit("frozen")
    x = c.public_input("x")
    c.mul(x, x)
    c.compile()
    with pytest.raises(CircuitError, match="compiled"):
        c.mul(x, x)


# ------------------------------------------------------ templates and naming
@template("mulAny")
def _mul_any(c: Circuit, a: LC, b: LC) -> LC:
    return c.mul(a, b, "p")


@template
def square_sum(c: Circuit, xs: Sequence[LC]) -> LC:
    return sum_lcs(_mul_any(c, x, x) for x in xs)


def test_template_scopes_name_constraints_and_wires() -> None:
    c = Circuit("age_gte")
    xs = c.private_inputs("xs", 4)
    with c.scope("sig"):
        for i in range(4):
            _mul_any(c, xs[i], xs[(i + 1) % 4])
        s = square_sum(c, xs[:2])
    c.output("s", s)
    cc = c.compile()
    names = cc.constraint_names
    assert names[3] == "age_gte.sig.mulAny[3]: p"
    assert names[4] == "age_gte.sig.square_sum[0].mulAny[0]: p"
    assert "age_gte.sig.mulAny[3].p" in cc.wire_names
    assert cc.wire("age_gte.sig.mulAny[3].p") == cc.wire_names.index("age_gte.sig.mulAny[3].p")
    assert square_sum.template_name == "square_sum"  # type: ignore[attr-defined]


def test_check_names_first_unsatisfied_constraint_and_template() -> None:
    c = Circuit("age_gte")
    xs = c.private_inputs("xs", 4)
    with c.scope("sig"):
        ps = [_mul_any(c, xs[i], xs[i]) for i in range(4)]
    c.output("o", sum_lcs(ps))
    cc = c.compile()
    w = cc.solve({"xs": [1, 2, 3, 4]})
    check(cc.r1cs, w)
    assert find_unsatisfied(cc.r1cs, w) is None
    bad = list(w)
    bad[cc.wire("age_gte.sig.mulAny[3].p")] += 1
    assert find_unsatisfied(cc.r1cs, bad) == 3
    with pytest.raises(ConstraintUnsatisfied, match=r"#3 age_gte\.sig\.mulAny\[3\]: p"):
        check(cc.r1cs, bad)


def test_check_rejects_malformed_witness() -> None:
    c = Circuit("w")
    x = c.public_input("x")
    c.output("y", c.mul(x, x))
    cc = c.compile()
    w = cc.solve({"x": 3})
    with pytest.raises(WitnessError, match="wires"):
        check(cc.r1cs, w[:-1])
    with pytest.raises(WitnessError, match="constant"):
        check(cc.r1cs, [0, *w[1:]])
    with pytest.raises(WitnessError, match="canonical"):
        check(cc.r1cs, [1, w[1] + R, *w[2:]])


# ----------------------------------------------------------------- solving
def _demo() -> Circuit:
    c = Circuit("demo")
    x = c.public_input("x")
    ys = c.private_inputs("ys", 3)
    s = ys[0] + 2 * ys[1] - 5
    p = c.mul(s, ys[2])
    c.assert_equal(p, x, "p equals x")
    c.output("out", p + 1)
    return c


def test_solve_validates_inputs() -> None:
    cc = _demo().compile()
    ok: dict[str, InputValue] = {"x": 0, "ys": [1, 2, 7]}
    assert cc.solve(ok)[1] == 1
    assert cc.solve({"x": "0", "ys": ["1", "0x2", 7]}) == cc.solve(ok)
    cases: list[tuple[Any, str]] = [
        ({"ys": [1, 2, 7]}, "missing"),
        ({**ok, "z": 1}, "unknown"),
        ({"x": 0, "ys": [1, 2]}, "expected 3"),
        ({"x": 0, "ys": 5}, "list"),
        ({"x": [0], "ys": [1, 2, 7]}, "single"),
        ({"x": R, "ys": [1, 2, 7]}, r"\[0, r\)"),
        ({"x": -1, "ys": [1, 2, 7]}, r"\[0, r\)"),
        ({"x": True, "ys": [1, 2, 7]}, "boolean"),
        ({"x": "12a", "ys": [1, 2, 7]}, "not an integer"),
        ({"x": 1.0, "ys": [1, 2, 7]}, "single value"),
    ]
    for inputs, msg in cases:
        with pytest.raises(WitnessError, match=msg):
            cc.solve(inputs)


def test_failed_assertion_named_and_check_false_returns_witness() -> None:
    cc = _demo().compile()
    bad: dict[str, InputValue] = {"x": 5, "ys": [1, 2, 7]}
    with pytest.raises(ConstraintUnsatisfied, match="demo: p equals x"):
        cc.solve(bad)
    w = cc.solve(bad, check=False)
    with pytest.raises(ConstraintUnsatisfied, match="demo: p equals x"):
        cc.check(w)


def test_hints_errors_are_witness_errors() -> None:
    c = Circuit("h")
    x = c.public_input("x")
    a = c.hint(lambda v: [v[0], v[0]], [x], 3, name="short")
    c.assert_equal(a[0] + a[1] + a[2], x)
    with pytest.raises(WitnessError, match=r"h\.short returned 2 values"):
        c.compile().solve({"x": 1})
    c2 = Circuit("h2")
    x2 = c2.public_input("x")
    b = c2.hint1(lambda v: 1 // v[0], [x2], name="boom")
    c2.assert_equal(b, 1)
    cc2 = c2.compile()
    with pytest.raises(WitnessError, match=r"hint h2\.boom failed: ZeroDivisionError"):
        cc2.solve({"x": 0})
    assert cc2.solve({"x": 1})[-1] == 1


def test_inv_and_div() -> None:
    c = Circuit("d")
    x, y = c.public_input("x"), c.public_input("y")
    q = c.div(x, y)
    i = c.inv(y)
    c.output("q", q)
    c.output("i", i)
    cc = c.compile()
    w = cc.solve({"x": 10, "y": 4})
    assert cc.output_values(w) == {"q": 10 * pow(4, -1, R) % R, "i": pow(4, -1, R)}
    with pytest.raises(ConstraintUnsatisfied, match="div"):
        cc.solve({"x": 10, "y": 0})  # 0 * q = 10 has no solution
    with pytest.raises(ConstraintUnsatisfied, match="inv"):
        cc.solve({"x": 0, "y": 0})  # 0 * q = 0 holds, but 0 has no inverse
    assert c.inv(5).terms == {0: pow(5, -1, R)}


def test_overrides_force_values_for_cheating_witnesses() -> None:
    c = Circuit("o")
    x = c.public_input("x")
    sq = c.hint1(lambda v: 3, [x], name="root")  # a lying hint, then constrained
    c.constrain(sq, sq, x, "root squared")
    c.output("r", sq)
    cc = c.compile()
    w = cc.solve({"x": 9})
    root = cc.wire("r")  # the hint output became the public output
    assert w[root] == 3
    forged = cc.solve({"x": 9}, check=False, overrides={root: R - 3})
    check(cc.r1cs, forged)  # the other root also satisfies: two witnesses
    forged = cc.solve({"x": 9}, check=False, overrides={root: 4})
    with pytest.raises(ConstraintUnsatisfied, match="root squared"):
        check(cc.r1cs, forged)


# ----------------------------------------- generated solver vs the interpreter
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["mul", "add", "lin", "inv", "div", "hint", "wire", "big"]), felt, felt
    ),
    min_size=1,
    max_size=25,
)


@given(_OPS, st.lists(felt, min_size=3, max_size=3))
def test_generated_solver_matches_interpreter_and_model(
    ops: list[tuple[str, int, int]], inputs: list[int]
) -> None:
    c = Circuit("rand")
    sigs: list[LC] = [c.public_input("a"), c.private_input("b"), c.private_input("d")]
    vals = list(inputs)
    for op, k1, k2 in ops:
        i, j = k1 % len(sigs), k2 % len(sigs)
        x, y, vx, vy = sigs[i], sigs[j], vals[i], vals[j]
        if op == "mul":
            sigs.append(c.mul(x + k1, y))
            vals.append((vx + k1) * vy % R)
        elif op == "add":
            sigs.append(x + y * k2)
            vals.append((vx + vy * k2) % R)
        elif op == "lin":
            sigs.append(k1 - x)
            vals.append((k1 - vx) % R)
        elif op == "inv":
            d = x + 1
            if (vx + 1) % R == 0:
                continue
            sigs.append(c.inv(d))
            vals.append(pow(vx + 1, -1, R))
        elif op == "div":
            if (vy + 2) % R == 0:
                continue
            sigs.append(c.div(x, y + 2))
            vals.append(vx * pow(vy + 2, -1, R) % R)
        elif op == "big":  # long LCs take the table-driven path of the generated solver
            lc = sum_lcs(s * (k1 + j) for j, s in enumerate(sigs))
            v = sum(x * (k1 + j) for j, x in enumerate(vals)) % R
            sigs.append(c.mul(lc, lc))
            vals.append(v * v % R)
            sigs.append(c.mul(lc, y))
            vals.append(v * vy % R)
        elif op == "wire":
            sigs.append(c.wire(x * 3 + y))
            vals.append((3 * vx + vy) % R)
        else:
            h = c.hint(lambda v: [v[0] * v[1] % R, v[0] + 1], [x, y], 2, name="h")
            c.constrain(x, y, h[0])
            c.assert_equal(h[1], x + 1)
            sigs.append(h[0] + h[1])
            vals.append((vx * vy + vx + 1) % R)
    c.output("out", sigs[-1])
    cc = c.compile()
    feed = {"a": inputs[0], "b": inputs[1], "d": inputs[2]}
    w = cc.solve(feed)
    assert w == cc.solve_reference(feed)
    assert cc.output_values(w)["out"] == vals[-1]
    check(cc.r1cs, w)
