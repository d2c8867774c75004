"""Shared Groth16 fixtures: a toy circuit and age_gte (set up once per session)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from zkattest.circuit import Circuit, CompiledCircuit, InputValue
from zkattest.circuits import age_gte
from zkattest.groth16 import ProvingKey, VerifyingKey, dev_setup

ISSUER_PRV = bytes(range(1, 33))


def toy_circuit() -> CompiledCircuit:
    """y = a*b*a + x, z = x (public), with an unused private input (zero polynomials)."""
    c = Circuit("toy")
    x = c.public_input("x")
    a = c.private_input("a")
    b = c.private_input("b")
    c.private_input("unused")
    p = c.mul(a, b)
    q = c.mul(p, a)
    c.output("y", q + x)
    c.output("z", 3 * x + 1)
    return c.compile()


TOY_INPUTS: dict[str, InputValue] = {"x": 5, "a": 3, "b": 7, "unused": 11}


@dataclass(frozen=True)
class Keys:
    cc: CompiledCircuit
    pk: ProvingKey
    vk: VerifyingKey


@pytest.fixture(scope="session")
def toy() -> Keys:
    cc = toy_circuit()
    pk, vk = dev_setup(cc.r1cs, rng=random.Random(1), progress=False)
    return Keys(cc, pk, vk)


@pytest.fixture(scope="session")
def toy_witness(toy: Keys) -> list[int]:
    return toy.cc.solve(TOY_INPUTS)


def age_inputs(*, birthdate: int = 20000229, today: int = 20250101) -> dict[str, InputValue]:
    """age_gte inputs for a credential signed by ISSUER_PRV (see tests/circuit)."""
    return age_gte.example_inputs(
        birthdate=birthdate, today=today, issuer_seed=ISSUER_PRV, holder_secret=0xC0FFEE_1234_5678
    )


@pytest.fixture(scope="session")
def age() -> Keys:
    cc = age_gte.compiled()
    pk, vk = dev_setup(cc.r1cs, progress=False)
    return Keys(cc, pk, vk)


@pytest.fixture(scope="session")
def age_yes(age: Keys) -> list[int]:
    """Witness with result = 1 (born 29 Feb 2000, 18+ on 1 Jan 2025)."""
    w = age.cc.solve(age_inputs())
    assert age.cc.output_values(w)["result"] == 1
    return w


@pytest.fixture(scope="session")
def age_no(age: Keys) -> list[int]:
    """Witness with result = 0 (born 2010)."""
    w = age.cc.solve(age_inputs(birthdate=20100101))
    assert age.cc.output_values(w)["result"] == 0
    return w
