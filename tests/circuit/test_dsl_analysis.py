"""The generic analyses: unused public inputs, unconstrained and undetermined wires."""

from __future__ import annotations

from zkattest.circuit import Circuit, R, analyze
from zkattest.circuit.gadgets.bits import num2bits, num2bits_strict
from zkattest.circuit.gadgets.compare import is_zero, less_than
from zkattest.circuit.gadgets.mux import mux1


def test_clean_circuit_is_ok() -> None:
    c = Circuit("ok")
    a, b = c.public_input("a"), c.private_input("b")
    lt = less_than(c, a, b, 16)
    c.output("o", mux1(c, lt, a, b))
    cc = c.compile()
    rep = cc.analyze()
    assert rep.ok, rep.describe(cc.wire_names)
    assert rep.conditional == {}
    assert rep.describe() == "ok"


def test_unused_public_input_and_unconstrained_wires() -> None:
    c = Circuit("bad")
    a = c.public_input("a")
    c.public_input("unused")
    c.private_input("ignored")
    c.hint1(lambda v: v[0], [a], name="dangling")
    c.output("o", c.mul(a, a))
    cc = c.compile()
    rep = analyze(cc.r1cs)
    assert rep.unused_public_inputs == [cc.wire("unused")]
    assert set(rep.unconstrained) == {cc.wire("ignored"), cc.wire("bad.dangling")}
    assert not rep.ok
    text = rep.describe(cc.wire_names)
    assert "unused" in text and "bad.dangling" in text


def test_square_root_hint_is_not_determined() -> None:
    """y*y = x has two solutions: the analysis must not claim y is determined."""
    c = Circuit("sqrt")
    x = c.public_input("x")
    y = c.hint1(lambda v: 0, [x], name="root")
    c.constrain(y, y, x)
    c.output("o", y + 1)
    cc = c.compile()
    rep = cc.analyze()
    # the root, and the output computed from it
    assert set(rep.undetermined) == {cc.wire("sqrt.root"), cc.wire("o")}


def test_bits_rule_and_its_limits() -> None:
    c = Circuit("bits")
    x = c.private_input("x")
    num2bits(c, x, 253)  # unique decomposition: determined
    cc = c.compile()
    assert cc.analyze().ok
    # 254 unconstrained-by-alias bits: NOT provably determined (x and x + r)
    c = Circuit("bits254")
    x = c.private_input("x")
    bits = c.hint(lambda v: [(v[0] >> i) & 1 for i in range(254)], [x], 254, name="b")
    for b in bits:
        c.assert_bool(b)
    c.assert_equal(sum((b * (1 << i) for i, b in enumerate(bits)), start=c.one * 0), x)
    cc = c.compile()
    assert len(cc.analyze().undetermined) == 254
    # the strict gadget declares them determined (alias check): reported as assumed
    c = Circuit("strict")
    num2bits_strict(c, c.private_input("x"))
    cc = c.compile()
    rep = cc.analyze()
    assert rep.ok and len(rep.assumed) == 254
    assert all("alias" in why for why in rep.assumed.values())
    # a weighted sum that is not a binary decomposition (two equal weights)
    c = Circuit("dup")
    x = c.private_input("x")
    two = c.hint(lambda v: [0, 0], [x], 2, name="b")
    c.assert_bool(two[0])
    c.assert_bool(two[1])
    c.assert_equal(two[0] + two[1], x)
    assert c.compile().analyze().undetermined != []


def test_division_is_conditional_and_is_zero_pattern() -> None:
    c = Circuit("cond")
    x, y = c.private_input("x"), c.private_input("y")
    q = c.div(x, y)
    z = is_zero(c, x)
    c.output("q", q)
    c.output("z", z)
    cc = c.compile()
    rep = cc.analyze()
    assert rep.ok, rep.describe(cc.wire_names)
    # q needs y != 0; IsZero's inverse needs x != 0; IsZero's output is determined
    assert set(rep.conditional) == {cc.wire("q"), cc.wire("cond.IsZero[0].inv")}
    assert "divisor" in rep.describe()


def test_linear_chain_and_constant_coefficients() -> None:
    c = Circuit("lin")
    x = c.private_input("x")
    w = c.wire(3 * x + 1)  # determined through a linear constraint
    h = c.hint1(lambda v: v[0] * pow(5, -1, R) % R, [w], name="fifth")
    c.constrain(5, h, w)  # 5*h = w: constant factor, determined
    c.output("o", c.mul(h, h))
    cc = c.compile()
    assert cc.analyze().ok
