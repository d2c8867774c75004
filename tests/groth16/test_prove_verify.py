"""prove -> verify round trips, the reference prover, and tampered proofs/signals."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkattest import _native, errors
from zkattest.circuit import LC, Circuit
from zkattest.curve import G1, G2
from zkattest.field import P, R
from zkattest.groth16 import Proof, dev_setup, prove, verify
from zkattest.groth16.prove import prove_reference

from .conftest import Keys


def _fq2_mul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return ((a[0] * b[0] - a[1] * b[1]) % P, (a[0] * b[1] + a[1] * b[0]) % P)


def g2_outside_subgroup() -> bytes:
    """A point on the twist y^2 = x^3 + 3/(9+u) that is not in the order-r subgroup."""
    inv82 = pow(82, -1, P)
    b2 = (3 * 9 * inv82 % P, -3 * inv82 % P)  # 3 / (9 + u) = 3 (9 - u) / 82
    x = (1, 0)
    while True:
        rhs = _fq2_mul(_fq2_mul(x, x), x)
        rhs = ((rhs[0] + b2[0]) % P, (rhs[1] + b2[1]) % P)
        enc = rhs[0].to_bytes(32, "little") + rhs[1].to_bytes(32, "little")
        try:
            y = _native.fq2_sqrt(enc)
        except errors.NoSquareRoot:
            x = (x[0] + 1, 0)
            continue
        raw = x[0].to_bytes(32, "little") + x[1].to_bytes(32, "little") + y
        _native.g2_check_on_curve(raw)
        return raw


def _trusted_proof(a: bytes, b: bytes, c: bytes) -> Proof:
    return Proof(G1._trusted(a), G2._trusted(b), G1._trusted(c))


# ------------------------------------------------------------------ round trips
def test_toy_round_trip(toy: Keys, toy_witness: list[int]) -> None:
    proof, public = prove(toy.pk, toy_witness)
    assert public == toy.cc.public_signals(toy_witness) == toy_witness[1:4]
    assert verify(toy.vk, public, proof)
    assert verify(toy.vk, public, proof, expected_circuit_id=toy.vk.circuit_id)
    assert not verify(toy.vk, public, proof, expected_circuit_id="sha256:00")
    assert not verify(toy.vk.with_circuit_id(None), public, proof, expected_circuit_id="x")


def test_native_prover_matches_reference(toy: Keys, toy_witness: list[int]) -> None:
    proof, _ = prove(toy.pk, toy_witness, rng=random.Random(99))
    rr = random.Random(99)
    r, s = rr.randrange(1, R), rr.randrange(1, R)
    assert prove_reference(toy.pk, toy_witness, r, s) == proof


def test_fresh_blinding_per_proof(toy: Keys, toy_witness: list[int]) -> None:
    p1, pub1 = prove(toy.pk, toy_witness)
    p2, pub2 = prove(toy.pk, toy_witness)
    assert pub1 == pub2 and p1.a != p2.a and p1.b != p2.b and p1.c != p2.c
    assert verify(toy.vk, pub1, p2)


def test_unsatisfying_witness_gives_invalid_proof(toy: Keys, toy_witness: list[int]) -> None:
    bad = list(toy_witness)
    bad[toy.cc.wire("y")] = (bad[toy.cc.wire("y")] + 1) % R
    proof, public = prove(toy.pk, bad)
    assert not verify(toy.vk, public, proof)


def test_age_gte_result_1_and_0(age: Keys, age_yes: list[int], age_no: list[int]) -> None:
    for w, result in ((age_yes, 1), (age_no, 0)):
        proof, public = prove(age.pk, w)
        assert public[0] == result
        assert verify(age.vk, public, proof)
        flipped = [1 - result, *public[1:]]
        assert not verify(age.vk, flipped, proof)


def test_prove_input_checks(toy: Keys, toy_witness: list[int]) -> None:
    with pytest.raises(errors.InvalidInput, match="wires"):
        prove(toy.pk, toy_witness[:-1])
    with pytest.raises(errors.InvalidInput, match="constant"):
        prove(toy.pk, [2, *toy_witness[1:]])
    with pytest.raises(errors.InvalidInput, match=r"\[0, r\)"):
        prove(toy.pk, [*toy_witness[:-1], R])
    with pytest.raises(errors.InvalidInput):
        prove(toy.pk, "123")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        prove(object(), toy_witness)  # type: ignore[arg-type]


# ------------------------------------------------------------------ tampering
@pytest.fixture(scope="module")
def valid(toy: Keys, toy_witness: list[int]) -> tuple[Proof, list[int]]:
    return prove(toy.pk, toy_witness)


COORDS = [  # (point, byte offset of the coordinate) for A.x ... C.y
    ("a", 0),
    ("a", 32),
    ("b", 0),
    ("b", 32),
    ("b", 64),
    ("b", 96),
    ("c", 0),
    ("c", 32),
]


@pytest.mark.parametrize(("which", "off"), COORDS)
@pytest.mark.parametrize("delta", [1, P - 1, 12345])
def test_tampered_coordinate(
    toy: Keys, valid: tuple[Proof, list[int]], which: str, off: int, delta: int
) -> None:
    proof, public = valid
    raw = {"a": proof.a.to_bytes(), "b": proof.b.to_bytes(), "c": proof.c.to_bytes()}
    b = raw[which]
    v = (int.from_bytes(b[off : off + 32], "little") + delta) % P
    raw[which] = b[:off] + v.to_bytes(32, "little") + b[off + 32 :]
    # the point types refuse to hold it ...
    cls = G2 if which == "b" else G1
    with pytest.raises(errors.InvalidInput):
        cls.from_bytes(raw[which])
    # ... and the verifier rejects it even when smuggled past them
    assert not verify(toy.vk, public, _trusted_proof(raw["a"], raw["b"], raw["c"]))


def test_other_valid_points_rejected(toy: Keys, valid: tuple[Proof, list[int]]) -> None:
    proof, public = valid
    a, b, c = proof.a, proof.b, proof.c
    g1, g2 = G1.generator(), G2.generator()
    for bad in (
        *(Proof(x, b, c) for x in (-a, a.double(), a + g1)),
        *(Proof(a, x, c) for x in (-b, b.double(), b + g2)),
        *(Proof(a, b, x) for x in (-c, c.double(), c + g1)),
        Proof(c, b, a),
    ):
        assert not verify(toy.vk, public, bad)


def test_tampered_public_signals(toy: Keys, valid: tuple[Proof, list[int]]) -> None:
    proof, public = valid
    assert verify(toy.vk, public, proof)
    for i in range(len(public)):
        for new in (public[i] + 1, public[i] - 1, 0, R - 1):
            changed = list(public)
            changed[i] = new % R
            if changed[i] != public[i]:
                assert not verify(toy.vk, changed, proof)
        # an alias of the same value modulo r is not accepted
        alias = list(public)
        alias[i] = public[i] + R
        assert not verify(toy.vk, alias, proof)
        neg = list(public)
        neg[i] = -1
        assert not verify(toy.vk, neg, proof)


def test_misuse_raises(toy: Keys, valid: tuple[Proof, list[int]]) -> None:
    proof, public = valid
    with pytest.raises(errors.InvalidInput, match="expects 3"):
        verify(toy.vk, public[:-1], proof)
    with pytest.raises(errors.InvalidInput, match="expects 3"):
        verify(toy.vk, [*public, 0], proof)
    with pytest.raises(errors.InvalidInput):
        verify(toy.vk, [str(x) for x in public], proof)  # type: ignore[misc]
    with pytest.raises(errors.InvalidInput):
        verify(toy.vk, [True, *public[1:]], proof)
    with pytest.raises(errors.InvalidInput):
        verify(toy.vk, public, (proof.a, proof.b, proof.c))  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        verify(object(), public, proof)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        verify(toy.vk, public, Proof(proof.b, proof.a, proof.c))  # type: ignore[arg-type]


def test_points_at_infinity_rejected(toy: Keys, valid: tuple[Proof, list[int]]) -> None:
    proof, public = valid
    g1i, g2i = G1.identity(), G2.identity()
    for p in (
        Proof(g1i, proof.b, proof.c),
        Proof(proof.a, g2i, proof.c),
        Proof(proof.a, proof.b, g1i),
        Proof(g1i, g2i, g1i),
    ):
        assert not verify(toy.vk, public, p)


def test_g2_outside_subgroup(toy: Keys, valid: tuple[Proof, list[int]]) -> None:
    proof, public = valid
    raw = g2_outside_subgroup()
    with pytest.raises(errors.NotInSubgroup):
        G2.from_bytes(raw)
    assert not verify(toy.vk, public, _trusted_proof(proof.a.to_bytes(), raw, proof.c.to_bytes()))


def test_off_curve_and_non_canonical(toy: Keys, valid: tuple[Proof, list[int]]) -> None:
    proof, public = valid
    a = proof.a.to_bytes()
    x = int.from_bytes(a[:32], "little")
    if x + P < 1 << 256:  # the same x written non-canonically (x + p)
        nc = (x + P).to_bytes(32, "little") + a[32:]
        with pytest.raises(errors.NonCanonicalEncoding):
            G1.from_bytes(nc)
        assert not verify(
            toy.vk, public, _trusted_proof(nc, proof.b.to_bytes(), proof.c.to_bytes())
        )
    off = (1).to_bytes(32, "little") + (1).to_bytes(32, "little")
    with pytest.raises(errors.NotOnCurve):
        G1.from_bytes(off)
    assert not verify(toy.vk, public, _trusted_proof(off, proof.b.to_bytes(), proof.c.to_bytes()))
    b = proof.b.to_bytes()
    c1 = int.from_bytes(b[32:64], "little")
    if c1 + P < 1 << 256:
        nc_b = b[:32] + (c1 + P).to_bytes(32, "little") + b[64:]
        assert not verify(toy.vk, public, _trusted_proof(a, nc_b, proof.c.to_bytes()))


def test_proof_bytes_round_trip(valid: tuple[Proof, list[int]]) -> None:
    proof, _ = valid
    assert Proof.from_bytes(proof.to_bytes()) == proof
    with pytest.raises(errors.InvalidLength):
        Proof.from_bytes(proof.to_bytes()[:-1])
    bad = bytearray(proof.to_bytes())
    bad[0] ^= 1
    with pytest.raises(errors.InvalidInput):
        Proof.from_bytes(bytes(bad))


# ------------------------------------------------------------------ property
@settings(max_examples=8, deadline=None)
@given(
    n_pub=st.integers(0, 3),
    n_prv=st.integers(1, 4),
    ops=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 50), st.integers(0, 50)), max_size=12),
    values=st.lists(st.integers(0, R - 1), min_size=7, max_size=7),
)
def test_random_circuits_round_trip(
    n_pub: int, n_prv: int, ops: list[tuple[int, int, int]], values: list[int]
) -> None:
    """Random circuits: setup, native proof == reference proof, verify, tamper."""
    c = Circuit("rand")
    sigs: list[LC] = [c.public_input(f"p{i}") for i in range(n_pub)]
    sigs += [c.private_input(f"s{i}") for i in range(n_prv)]
    for kind, i, j in ops:
        x, y = sigs[i % len(sigs)], sigs[j % len(sigs)]
        sigs.append(c.mul(x, y) if kind == 0 else c.wire(x + 3 * y + kind))
    c.output("out", sigs[-1] + 1)
    cc = c.compile()
    inputs = {f"p{i}": values[i] for i in range(n_pub)}
    inputs |= {f"s{i}": values[3 + i] for i in range(n_prv)}
    w = cc.solve(inputs)
    pk, vk = dev_setup(cc.r1cs, rng=random.Random(len(ops)), progress=False)
    proof, public = prove(pk, w, rng=random.Random(5))
    rr = random.Random(5)
    assert prove_reference(pk, w, rr.randrange(1, R), rr.randrange(1, R)) == proof
    assert verify(vk, public, proof)
    assert not verify(vk, [(public[0] + 1) % R, *public[1:]], proof)
