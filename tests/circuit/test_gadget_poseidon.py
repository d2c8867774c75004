"""Poseidon gadget: equals the native Poseidon for every width, costs 3 constraints
per S-box, and has no other satisfying output."""

from __future__ import annotations

import random

import pytest

from zkattest.circuit import Circuit, CompiledCircuit
from zkattest.circuit.gadgets.poseidon import poseidon, poseidon_constraints
from zkattest.errors import CircuitError, ConstraintUnsatisfied
from zkattest.poseidon import constants
from zkattest.poseidon import poseidon as native_poseidon

R = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def build(n: int) -> tuple[CompiledCircuit, int]:
    c = Circuit("pos")
    xs = c.private_inputs("x", n)
    before = c.num_constraints
    h = poseidon(c, xs)
    cost = c.num_constraints - before
    c.output("h", h)
    return c.compile(), cost


@pytest.mark.parametrize("n", range(1, 17))
def test_matches_native_and_cost(n: int) -> None:
    cc, cost = build(n)
    rng = random.Random(n)
    params = constants(n + 1)
    # 3 per S-box, minus the constant capacity S-box of the first round; never more
    # than circomlib's (R_F * t + R_P) * 3
    assert cost == poseidon_constraints(n) == 3 * (8 * (n + 1) + params.partial_rounds) - 3
    for vals in ([0] * n, [R - 1] * n, [rng.randrange(R) for _ in range(n)]):
        w = cc.solve({"x": vals})
        cc.check(w)
        assert cc.output_values(w)["h"] == native_poseidon(vals)


def test_known_costs() -> None:
    # circomlib: 240 constraints for Poseidon(2)
    assert poseidon_constraints(2) == 240
    assert poseidon_constraints(5) == 321
    assert poseidon_constraints(11) == 465


def test_wrong_output_has_no_witness() -> None:
    cc, _ = build(2)
    vals = [3, 4]
    w = cc.solve({"x": vals})
    out = cc.wire("h")
    bad = list(w)
    bad[out] = (w[out] + 1) % R
    with pytest.raises(ConstraintUnsatisfied):
        cc.check(bad)
    # forcing any internal S-box wire breaks a constraint too
    for wire in (len(w) - 1, len(w) // 2):
        forged = cc.solve({"x": vals}, check=False, overrides={wire: w[wire] + 1})
        with pytest.raises(ConstraintUnsatisfied):
            cc.check(forged)


def test_constant_inputs_fold() -> None:
    c = Circuit("k")
    h = poseidon(c, [1, 2])
    assert c.num_constraints == 0
    assert h.is_constant() and h.constant_value() == native_poseidon([1, 2])


def test_arity_limits() -> None:
    c = Circuit("lim")
    xs = c.private_inputs("x", 17)
    with pytest.raises(CircuitError):
        poseidon(c, [])
    with pytest.raises(CircuitError):
        poseidon(c, xs)
    with pytest.raises(CircuitError):
        poseidon_constraints(0)
