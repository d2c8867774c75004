"""verify_batch: one random-linear-combination check, and finding exactly which failed."""

from __future__ import annotations

import pytest

from zkattest import errors
from zkattest.curve import G1, G2
from zkattest.field import R
from zkattest.groth16 import BatchResult, Proof, prove, verify, verify_batch

from .conftest import Keys


@pytest.fixture(scope="module")
def proofs(toy: Keys) -> list[tuple[list[int], Proof]]:
    out = []
    for k in range(12):
        w = toy.cc.solve({"x": k, "a": k + 2, "b": 3 * k + 1, "unused": k})
        proof, public = prove(toy.pk, w)
        out.append((public, proof))
    return out


def test_all_valid(toy: Keys, proofs: list[tuple[list[int], Proof]]) -> None:
    res = verify_batch(toy.vk, proofs)
    assert res == BatchResult(True, ()) and res
    assert verify_batch(toy.vk, proofs[:1]).ok
    assert verify_batch(toy.vk, []) == BatchResult(True, ())


def _corrupt(item: tuple[list[int], Proof], how: str) -> tuple[list[int], Proof]:
    public, p = item
    if how == "signal":
        return [(public[0] + 1) % R, *public[1:]], p
    if how == "range":
        return [public[0] + R, *public[1:]], p
    if how == "a":
        return public, Proof(-p.a, p.b, p.c)
    if how == "b":
        return public, Proof(p.a, p.b + G2.generator(), p.c)
    if how == "c":
        return public, Proof(p.a, p.b, p.c + G1.generator())
    if how == "inf":
        return public, Proof(G1.identity(), p.b, p.c)
    if how == "offcurve":
        return public, Proof(G1._trusted((1).to_bytes(32, "little") * 2), p.b, p.c)
    raise AssertionError(how)


@pytest.mark.parametrize(
    "bad",
    [
        {0: "signal"},
        {11: "c"},
        {3: "a", 4: "b"},
        {0: "c", 5: "signal", 11: "b"},
        {2: "inf", 7: "c"},
        {1: "offcurve", 6: "range", 9: "a"},
        dict.fromkeys(range(12), "c"),
    ],
)
def test_finds_exactly_the_failed(
    toy: Keys, proofs: list[tuple[list[int], Proof]], bad: dict[int, str]
) -> None:
    items = [_corrupt(it, bad[j]) if j in bad else it for j, it in enumerate(proofs)]
    res = verify_batch(toy.vk, items)
    assert not res.ok
    assert res.failed == tuple(sorted(bad))
    # the same verdicts one by one
    assert [j for j, (pub, p) in enumerate(items) if not verify(toy.vk, pub, p)] == sorted(bad)


def test_cancelling_errors_are_caught(toy: Keys, proofs: list[tuple[list[int], Proof]]) -> None:
    # C_0 + G and C_1 - G would cancel in an unweighted sum; random weights catch it
    (p0, q0), (p1, q1) = proofs[0], proofs[1]
    g = G1.generator()
    items = [(p0, Proof(q0.a, q0.b, q0.c + g)), (p1, Proof(q1.a, q1.b, q1.c - g))]
    assert verify_batch(toy.vk, items).failed == (0, 1)


def test_batch_misuse(toy: Keys, proofs: list[tuple[list[int], Proof]]) -> None:
    with pytest.raises(errors.InvalidInput):
        verify_batch(toy.vk, [proofs[0][1]])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidInput):
        verify_batch(toy.vk, [(proofs[0][0][:-1], proofs[0][1])])
    with pytest.raises(errors.InvalidInput):
        verify_batch(toy.vk, "nope")  # type: ignore[arg-type]
    res = verify_batch(toy.vk, proofs[:3], expected_circuit_id="sha256:other")
    assert res == BatchResult(False, (0, 1, 2))
    assert verify_batch(toy.vk, proofs[:3], expected_circuit_id=toy.vk.circuit_id).ok


def test_age_gte_batch(age: Keys, age_yes: list[int], age_no: list[int]) -> None:
    batch: list[tuple[list[int], Proof]] = []
    for w in (age_yes, age_no, age_yes):
        proof, public = prove(age.pk, w)
        batch.append((public, proof))
    assert verify_batch(age.vk, batch).ok
    pub, p = batch[1]
    batch[1] = ([1, *pub[1:]], p)  # claim result = 1 for the "no" proof
    assert verify_batch(age.vk, batch).failed == (1,)
