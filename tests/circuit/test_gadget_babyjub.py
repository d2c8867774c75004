"""Baby Jubjub gadgets against the pure-Python curve (zkattest.babyjub)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from zkattest import babyjub as bj
from zkattest.circuit import LC, Circuit, CompiledCircuit
from zkattest.circuit.gadgets import babyjub as g
from zkattest.circuit.gadgets.bits import num2bits
from zkattest.circuit.gadgets.eddsa import bits_le_const
from zkattest.errors import CircuitError, ConstraintUnsatisfied

P = bj.FIELD_MODULUS
L = bj.SUBGROUP_ORDER
rng = random.Random(4)
ORDER8 = bj.GENERATOR * L
TORSION = [bj.IDENTITY, ORDER8, ORDER8 * 2, ORDER8 * 4]


def rand_point() -> bj.Point:
    return bj.BASE8 * rng.randrange(1, L)


def point_inputs(c: Circuit, name: str) -> g.EdPoint:
    return g.EdPoint(c.private_input(name + "x"), c.private_input(name + "y"))


def values(name: str, p: bj.Point) -> dict[str, int]:
    return {name + "x": p.x, name + "y": p.y}


def out_point(cc: CompiledCircuit, w: list[int]) -> bj.Point:
    o = cc.output_values(w)
    return bj.Point(o["ox"], o["oy"])


def emit(c: Circuit, p: g.EdPoint) -> None:
    c.output("ox", p.x)
    c.output("oy", p.y)


def build(fn: Callable[[Circuit], g.EdPoint | None]) -> tuple[CompiledCircuit, int]:
    c = Circuit("bjj")
    before = c.num_constraints
    res = fn(c)
    cost = c.num_constraints - before
    if res is not None:
        emit(c, res)
    return c.compile(), cost


def no_witness(cc: CompiledCircuit, inputs: dict[str, int]) -> None:
    w = cc.solve(inputs, check=False)
    with pytest.raises(ConstraintUnsatisfied):
        cc.check(w)


# ------------------------------------------------------------------------------ Edwards


def test_add() -> None:
    def f(c: Circuit) -> g.EdPoint:
        a, b = point_inputs(c, "a"), point_inputs(c, "b")
        return g.add(c, a, b)

    cc, cost = build(f)
    assert cost == 6
    cases = [(rand_point(), rand_point()) for _ in range(5)]
    cases += [(p, q) for p in TORSION for q in (*TORSION, bj.BASE8)]
    p0 = rand_point()
    cases += [(p0, p0), (p0, -p0)]
    for p, q in cases:
        w = cc.solve(values("a", p) | values("b", q))
        cc.check(w)
        assert out_point(cc, w) == p + q
    # a wrong sum has no witness
    w = cc.solve(values("a", p0) | values("b", p0))
    w[cc.wire("ox")] = (w[cc.wire("ox")] + 1) % P
    with pytest.raises(ConstraintUnsatisfied):
        cc.check(w)


def test_add_constant() -> None:
    k = rand_point()

    def f(c: Circuit) -> g.EdPoint:
        return g.add(c, point_inputs(c, "a"), g.const_point(k))

    cc, cost = build(f)
    assert cost == 3
    for p in [rand_point(), *TORSION]:
        w = cc.solve(values("a", p))
        assert out_point(cc, w) == p + k


def test_double_and_on_curve() -> None:
    def f(c: Circuit) -> g.EdPoint:
        a = point_inputs(c, "a")
        g.assert_on_curve(c, a)
        return g.double(c, a)

    cc, cost = build(f)
    assert cost == 3 + 5
    for p in [rand_point(), rand_point(), *TORSION]:
        w = cc.solve(values("a", p))
        cc.check(w)
        assert out_point(cc, w) == p.double()
    no_witness(cc, {"ax": 1, "ay": 2})


def test_montgomery_roundtrip() -> None:
    def f(c: Circuit) -> g.EdPoint:
        m = g.to_montgomery(c, point_inputs(c, "a"))
        c.output("u", m.u)
        c.output("v", m.v)
        return g.from_montgomery(c, m)

    cc, cost = build(f)
    assert cost == 4
    for _ in range(4):
        p = rand_point()
        w = cc.solve(values("a", p))
        cc.check(w)
        assert out_point(cc, w) == p
        u, v = cc.output_values(w)["u"], cc.output_values(w)["v"]
        assert (v * v - (u * u * u + bj.MONTGOMERY_A * u * u + u)) % P == 0
    # the identity has no Montgomery image
    no_witness(cc, values("a", bj.IDENTITY))


# --------------------------------------------------------------------------- fixed base


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 64, 251, 253])
def test_fixed_base(n: int) -> None:
    def f(c: Circuit) -> g.EdPoint:
        bits = num2bits(c, c.private_input("k"), n)
        return g.fixed_base_mul(c, bj.BASE8, bits)

    cc, _ = build(f)
    ks = {0, 1, (1 << n) - 1, rng.randrange(1 << n)} | ({L - 1, L - 2} if n >= 251 else set())
    for k in sorted(ks):
        w = cc.solve({"k": k})
        cc.check(w)
        assert out_point(cc, w) == bj.BASE8 * k, k


def test_fixed_base_cost() -> None:
    c = Circuit("fb")
    bits = num2bits(c, c.private_input("k"), 251)
    before = c.num_constraints
    g.fixed_base_mul_montgomery(c, bj.BASE8, bits, 1 << 253)
    # 84 windows: 3 (first lookup) + 82 * (3 + 3) + (1 + 3) for the 2-bit last window
    assert c.num_constraints - before == 3 + 82 * 6 + 4


def test_fixed_base_rejects_bad_base() -> None:
    c = Circuit("fb")
    bits = c.private_inputs("b", 4)
    with pytest.raises(CircuitError):
        g.fixed_base_mul(c, ORDER8, bits)
    with pytest.raises(CircuitError):
        g.fixed_base_mul(c, bj.IDENTITY, bits)


def test_fixed_base_wrong_result_has_no_witness() -> None:
    def f(c: Circuit) -> g.EdPoint:
        bits = num2bits(c, c.private_input("k"), 16)
        return g.fixed_base_mul(c, bj.BASE8, bits)

    cc, _ = build(f)
    w = cc.solve({"k": 777})
    for wire in cc.wires_in_scope("bjj.EscalarMulFixEd[0].EscalarMulFix[0].window"):
        forged = cc.solve({"k": 777}, check=False, overrides={wire: w[wire] + 1})
        with pytest.raises(ConstraintUnsatisfied):
            cc.check(forged)


# ------------------------------------------------------------------------ variable base


def _var_circuit(
    n: int, gadget: Callable[[Circuit, g.EdPoint, list[LC]], g.EdPoint]
) -> tuple[CompiledCircuit, int]:
    """The circuit and the cost of the gadget alone (bits excluded)."""
    cost = 0

    def f(c: Circuit) -> g.EdPoint:
        nonlocal cost
        a = point_inputs(c, "a")
        k = c.private_input("k")
        bits = num2bits(c, k, n) if n <= 253 else bits_le_const(c, k, n, P - 1)
        before = c.num_constraints
        out = gadget(c, a, bits)
        cost = c.num_constraints - before
        return out

    cc, _ = build(f)
    return cc, cost


@pytest.mark.parametrize("n", [1, 2, 16, 254])
def test_var_base_trusted(n: int) -> None:
    cc, cost = _var_circuit(n, g.var_base_mul_trusted)
    # to Montgomery 2, G0 + P 3, 6 per bit after the first, last bit 5, back 2 + 3
    assert cost == 2 + 3 + 6 * (n - 1) + 5 + 2 + 3
    top = (1 << n) - 1 if n < 254 else P - 1
    for k in sorted({0, 1, top, rng.randrange(top + 1)}):
        p = rand_point()
        w = cc.solve(values("a", p) | {"k": k})
        cc.check(w)
        assert out_point(cc, w) == p * k
    # the identity and points of small order have no Montgomery image: no witness
    no_witness(cc, values("a", bj.IDENTITY) | {"k": 1})


def test_var_base_trusted_forged_steps() -> None:
    cc, _ = _var_circuit(12, g.var_base_mul_trusted)
    inputs = values("a", rand_point()) | {"k": 2345}
    w = cc.solve(inputs)
    wires = cc.wires_in_scope("bjj.EscalarMulAnyTrustedEd[0].EscalarMulAnyTrusted[0].ladder")
    assert len(wires) == 3 + 5 * 11 + 3
    for wire in wires:
        forged = cc.solve(inputs, check=False, overrides={wire: w[wire] + 1})
        with pytest.raises(ConstraintUnsatisfied):
            cc.check(forged)


@pytest.mark.parametrize("n", [1, 3, 20])
def test_var_base_complete(n: int) -> None:
    cc, cost = _var_circuit(n, g.var_base_mul)
    assert cost == 2 + 13 * (n - 1)
    for p in [rand_point(), *TORSION]:
        for k in sorted({0, 1, (1 << n) - 1, rng.randrange(1 << n)}):
            w = cc.solve(values("a", p) | {"k": k})
            cc.check(w)
            assert out_point(cc, w) == p * k
