"""Shared Groth16 fixtures: a toy circuit and age_gte (set up once per session)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from zkattest import babyjub as bj
from zkattest.circuit import Circuit, CompiledCircuit, InputValue
from zkattest.circuits import age_gte
from zkattest.groth16 import ProvingKey, VerifyingKey, dev_setup
from zkattest.poseidon import poseidon

ISSUER_PRV = bytes(range(1, 33))
SCHEMA = 0x5A4B_0001


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
    holder_secret = 0xC0FFEE_1234_5678
    salt = 987654321
    expires = 20300101
    attrs = [SCHEMA, birthdate, 1, 2, 0, 0, 0, 0]
    h = poseidon([*attrs, expires, poseidon([holder_secret]), salt])
    sig = bj.sign_poseidon(ISSUER_PRV, h)
    a = bj.private_to_public(ISSUER_PRV)
    return age_gte.make_inputs(
        issuer_key=(a.x, a.y),
        signature=(sig.r8.x, sig.r8.y, sig.s),
        attrs=attrs,
        expires=expires,
        holder_secret=holder_secret,
        salt=salt,
        today=today,
        min_age=18,
        nonce=4242,
        rp_scope=77,
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
