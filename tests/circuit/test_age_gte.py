"""The age_gte statement: honest behaviour, and soundness against cheating witnesses.

Every cheating test builds the witness a dishonest prover would hand to the prover
(solve honestly, then overwrite wires, or force hint values during solving) and
shows that ``check()`` rejects it: no satisfying witness, hence no proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest

from zkattest import babyjub as bj
from zkattest.circuit import CompiledCircuit, InputValue, R, WireKind, check, find_unsatisfied
from zkattest.circuits import age_gte
from zkattest.errors import ConstraintUnsatisfied
from zkattest.poseidon import poseidon

ISSUER_PRV = bytes(range(1, 33))
OTHER_PRV = bytes(range(101, 133))
SCHEMA = 0x5A4B_0001


@dataclass(frozen=True)
class Cred:
    birthdate: int = 20000229
    expires: int = 20300101
    holder_secret: int = 0xC0FFEE_1234_5678
    salt: int = 987654321
    other: tuple[int, ...] = (1, 2, 0, 0, 0, 0)  # attrs[2..7]
    prv: bytes = ISSUER_PRV

    @property
    def attrs(self) -> list[int]:
        return [SCHEMA, self.birthdate, *self.other]

    def hash(self) -> int:
        return poseidon([*self.attrs, self.expires, poseidon([self.holder_secret]), self.salt])

    def signature(self) -> bj.Signature:
        return bj.sign_poseidon(self.prv, self.hash())


def _inputs(
    cred: Cred,
    *,
    today: int = 20250101,
    min_age: int = 18,
    nonce: int = 4242,
    rp_scope: int = 77,
    key_prv: bytes = ISSUER_PRV,
    sig: bj.Signature | None = None,
    **changes: Any,
) -> dict[str, InputValue]:
    """Inputs for a credential signed as ``cred`` says; ``changes`` then alter
    credential fields AFTER signing (what a cheater would try)."""
    s = sig or cred.signature()
    a = bj.private_to_public(key_prv)
    held = replace(cred, **changes) if changes else cred
    return age_gte.make_inputs(
        issuer_key=(a.x, a.y),
        signature=(s.r8.x, s.r8.y, s.s),
        attrs=held.attrs,
        expires=held.expires,
        holder_secret=held.holder_secret,
        salt=held.salt,
        today=today,
        min_age=min_age,
        nonce=nonce,
        rp_scope=rp_scope,
    )


@pytest.fixture(scope="module")
def cc() -> CompiledCircuit:
    return age_gte.compiled()


@pytest.fixture(scope="module")
def cred() -> Cred:
    return Cred()


@pytest.fixture(scope="module")
def honest(cc: CompiledCircuit, cred: Cred) -> list[int]:
    return cc.solve(_inputs(cred))


def _rejected(cc: CompiledCircuit, w: list[int], where: str | None = None) -> None:
    k = find_unsatisfied(cc.r1cs, w)
    assert k is not None, "a cheating witness satisfied every constraint"
    if where is not None:
        assert where in cc.r1cs.constraint_name(k), cc.r1cs.constraint_name(k)


def _solve_anyway(cc: CompiledCircuit, inputs: Mapping[str, InputValue], **kw: object) -> list[int]:
    return cc.solve(inputs, check=False, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------- shape
def test_shape_and_constraint_budget(cc: CompiledCircuit) -> None:
    r = cc.r1cs
    assert [s.name for s in cc.outputs()] == list(age_gte.PUBLIC_OUTPUTS)
    assert [s.name for s in cc.inputs() if s.kind == WireKind.PUBLIC_INPUT] == list(
        age_gte.PUBLIC_INPUTS
    )
    assert (r.n_pub_out, r.n_pub_in, r.n_prv_in) == (2, 7, 8 + 3 + 3)
    assert r.n_constraints <= 5600


def test_generic_analyses(cc: CompiledCircuit) -> None:
    rep = cc.analyze()
    assert rep.unused_public_inputs == []
    assert rep.unconstrained == []
    assert rep.undetermined == [], rep.describe(cc.wire_names)
    # what the analysis could not prove by itself is reported, not hidden
    assert rep.assumed and all("decomposition" in why for why in rep.assumed.values())
    assert rep.conditional, "the curve arithmetic divides: reported as conditional"


# ----------------------------------------------------------------- honest
def test_honest_proof_of_age(cc: CompiledCircuit, cred: Cred, honest: list[int]) -> None:
    check(cc.r1cs, honest)
    out = cc.output_values(honest)
    assert out["result"] == 1
    assert out["nullifier"] == poseidon([cred.holder_secret, 77])
    pub = cc.public_signals(honest)
    a = bj.private_to_public(ISSUER_PRV)
    assert pub == [1, out["nullifier"], a.x, a.y, SCHEMA, 20250101, 18, 4242, 77]


@pytest.mark.parametrize(
    ("birthdate", "today", "min_age", "want"),
    [
        (20000229, 20180228, 18, 0),  # born on a leap day: not yet 18 on 28 Feb
        (20000229, 20180301, 18, 1),  # 18 on 1 Mar
        (20070101, 20250101, 18, 1),  # the birthday itself
        (20070102, 20250101, 18, 0),  # one day short
        (20070102, 20250101, 17, 1),
        (19000101, 20250101, 125, 1),
        (20250101, 20250101, 0, 1),
        (20250101, 20250101, 255, 0),
    ],
)
def test_result_is_the_predicate(
    cc: CompiledCircuit, birthdate: int, today: int, min_age: int, want: int
) -> None:
    c = Cred(birthdate=birthdate)
    w = cc.solve(_inputs(c, today=today, min_age=min_age))
    assert cc.output_values(w)["result"] == want
    assert want == int(birthdate + min_age * 10000 <= today)


def test_a_no_is_provable_too(cc: CompiledCircuit) -> None:
    w = cc.solve(_inputs(Cred(birthdate=20100101)))
    check(cc.r1cs, w)
    assert cc.output_values(w)["result"] == 0


def test_nullifier_is_scoped(cc: CompiledCircuit, cred: Cred) -> None:
    n1 = cc.output_values(cc.solve(_inputs(cred, rp_scope=1)))["nullifier"]
    n2 = cc.output_values(cc.solve(_inputs(cred, rp_scope=2)))["nullifier"]
    assert n1 != n2
    assert n1 == poseidon([cred.holder_secret, 1])


# ---------------------------------------------------------------- soundness
def test_forged_signature(cc: CompiledCircuit, cred: Cred) -> None:
    sig = cred.signature()
    for bad in (
        bj.Signature(sig.r8, (sig.s + 1) % bj.SUBGROUP_ORDER),
        bj.Signature(sig.r8, sig.s + bj.SUBGROUP_ORDER),  # S >= l (malleability)
        bj.Signature(sig.r8 + bj.BASE8, sig.s),
    ):
        inputs = _inputs(cred, sig=bad)
        with pytest.raises(ConstraintUnsatisfied, match="sig"):
            cc.solve(inputs)
        _rejected(cc, _solve_anyway(cc, inputs), "sig")


def test_wrong_issuer_key(cc: CompiledCircuit, cred: Cred) -> None:
    # signed by another issuer, presented under the trusted issuer's key
    other = replace(cred, prv=OTHER_PRV)
    _rejected(cc, _solve_anyway(cc, _inputs(other, key_prv=ISSUER_PRV)), "sig")
    # a valid signature, but the public key input swapped after solving
    w = cc.solve(_inputs(other, key_prv=OTHER_PRV))
    a = bj.private_to_public(ISSUER_PRV)
    w[cc.wire("Ax")], w[cc.wire("Ay")] = a.x, a.y
    _rejected(cc, w)


def test_birthdate_altered_after_signing(cc: CompiledCircuit) -> None:
    young = Cred(birthdate=20100101)
    inputs = _inputs(young, birthdate=19900101)  # the holder edits the signed value
    w = _solve_anyway(cc, inputs)
    assert cc.output_values(w)["result"] == 1  # what the cheater wants...
    _rejected(cc, w, "sig")  # ...but the hash no longer matches the signature
    # overwriting the birthdate wire of an honest witness: same story
    w = cc.solve(_inputs(young))
    w[cc.wire("attrs[1]")] = 19900101
    _rejected(cc, w)


@pytest.mark.parametrize("k", [1, 5, 10000 * 18, 2**27])
def test_wrap_around_values_have_no_witness(cc: CompiledCircuit, k: int) -> None:
    # an issuer (careless or colluding) signs p - k as the birthdate: birthdate +
    # min_age*10000 would wrap to a small number; the range check stops it
    w = _solve_anyway(cc, _inputs(Cred(birthdate=R - k)))
    _rejected(cc, w, "range")
    # expiry p - k: "never expires" by wrap-around (expires - today is not small)
    w = _solve_anyway(cc, _inputs(Cred(expires=R - k)))
    _rejected(cc, w, "expiry")
    # the verifier's today p - k
    w = _solve_anyway(cc, _inputs(Cred(), today=R - k))
    _rejected(cc, w, "range")
    # min_age p - k (makes birthdate + min_age*10000 smaller)
    w = _solve_anyway(cc, _inputs(Cred(), min_age=R - k))
    _rejected(cc, w, "range")


def test_result_flipped(cc: CompiledCircuit) -> None:
    for cred in (Cred(birthdate=20100101), Cred(birthdate=19800101)):
        w = cc.solve(_inputs(cred))
        w[cc.wire("result")] ^= 1
        _rejected(cc, w)
        # forcing the comparison's top bit during solving instead (that bit is the
        # result wire itself; its bit decomposition no longer adds up)
        sign = cc.wire("result")
        honest = cc.solve(_inputs(cred))
        forged = _solve_anyway(cc, _inputs(cred), overrides={sign: 1 - honest[sign]})
        assert forged[cc.wire("result")] == 1 - honest[cc.wire("result")]
        _rejected(cc, forged, "age.LessEqThan")


def test_expired_credential(cc: CompiledCircuit) -> None:
    cred = Cred(expires=20241231)
    with pytest.raises(ConstraintUnsatisfied, match="expiry"):
        cc.solve(_inputs(cred, today=20250101))
    _rejected(cc, _solve_anyway(cc, _inputs(cred, today=20250101)), "expiry")
    # expiring today is still valid
    check(cc.r1cs, cc.solve(_inputs(cred, today=20241231)))


def test_wrong_holder_secret(cc: CompiledCircuit, cred: Cred) -> None:
    inputs = _inputs(cred, holder_secret=cred.holder_secret + 1)
    _rejected(cc, _solve_anyway(cc, inputs), "sig")
    # forcing the commitment wire back to the signed value does not help either
    good = cc.solve(_inputs(cred))
    w = _solve_anyway(cc, inputs)
    w[cc.wire("holder_secret")] = cred.holder_secret + 1
    w[cc.wire("nullifier")] = good[cc.wire("nullifier")]
    _rejected(cc, w)


def test_nullifier_for_another_scope(cc: CompiledCircuit, cred: Cred, honest: list[int]) -> None:
    w = list(honest)
    w[cc.wire("nullifier")] = poseidon([cred.holder_secret, 78])  # valid for scope 78
    _rejected(cc, w)
    w = list(honest)
    w[cc.wire("rp_scope")] = 78  # reuse scope 77's nullifier at scope 78
    _rejected(cc, w)


@pytest.mark.parametrize("name", age_gte.PUBLIC_INPUTS)
def test_public_input_changed_after_solving(
    cc: CompiledCircuit, honest: list[int], name: str
) -> None:
    for delta in (1, R - 1):
        w = list(honest)
        i = cc.wire(name)
        w[i] = (w[i] + delta) % R
        _rejected(cc, w)


def test_every_public_signal_is_bound(cc: CompiledCircuit, honest: list[int]) -> None:
    """The generic form of the previous test: any single public signal moved."""
    for i in range(1, 1 + cc.r1cs.n_public):
        w = list(honest)
        w[i] = (w[i] + 12345) % R
        _rejected(cc, w)
