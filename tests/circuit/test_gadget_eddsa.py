"""EdDSA-Poseidon verification gadget: accepts what zkattest.babyjub.verify_poseidon
accepts (signatures made by circomlibjs included) and leaves no witness otherwise."""

from __future__ import annotations

import random
from functools import lru_cache

import pytest

from zkattest import babyjub as bj
from zkattest.circuit import Circuit, CompiledCircuit
from zkattest.circuit.gadgets.eddsa import bits_le_const, eddsa_poseidon_verify
from zkattest.errors import ConstraintUnsatisfied
from zkattest.poseidon import poseidon

P = bj.FIELD_MODULUS
L = bj.SUBGROUP_ORDER
rng = random.Random(7)
ORDER8 = bj.GENERATOR * L
#: circomlibjs 0.1.7 signPoseidon(prv, 1234) for this key
CIRCOMLIBJS_PRV = bytes.fromhex("0001020304050607080900010203040506070809000102030405060708090001")
CIRCOMLIBJS_SIG = bj.Signature(
    bj.Point(
        11220723668893468001994760120794694848178115379170651044669708829805665054484,
        2367470421002446880004241260470975644531657398480773647535134774673409612366,
    ),
    2010143491207902444122668013146870263468969134090678646686512037244361350365,
)
#: the whole verifier; circomlib's EdDSAPoseidonVerifier is about 4,200
EXPECTED_CONSTRAINTS = 3088


@lru_cache(maxsize=2)
def verifier(public_message: bool) -> tuple[CompiledCircuit, int]:
    c = Circuit("sig")
    ax, ay = c.public_input("Ax"), c.public_input("Ay")
    m = c.public_input("M") if public_message else c.private_input("M")
    s, rx, ry = c.private_input("S"), c.private_input("R8x"), c.private_input("R8y")
    eddsa_poseidon_verify(c, ax, ay, s, rx, ry, m)
    return c.compile(), c.num_constraints


def inputs(msg: int, sig: bj.Signature, pub: bj.Point) -> dict[str, int]:
    return {"Ax": pub.x, "Ay": pub.y, "M": msg, "S": sig.s, "R8x": sig.r8.x, "R8y": sig.r8.y}


def accepts(msg: int, sig: bj.Signature, pub: bj.Point, public_message: bool = True) -> bool:
    cc, _ = verifier(public_message)
    w = cc.solve(inputs(msg, sig, pub), check=False)
    try:
        cc.check(w)
    except ConstraintUnsatisfied:
        return False
    return True


def test_cost() -> None:
    _, n = verifier(True)
    assert n == EXPECTED_CONSTRAINTS


def test_analysis_finds_no_free_wire() -> None:
    cc, _ = verifier(True)
    rep = cc.analyze()
    assert rep.ok, rep.describe(cc.wire_names)


@pytest.mark.parametrize("public_message", [True, False])
def test_valid_signatures(public_message: bool) -> None:
    cc, _ = verifier(public_message)
    pub = bj.private_to_public(CIRCOMLIBJS_PRV)
    assert bj.sign_poseidon(CIRCOMLIBJS_PRV, 1234) == CIRCOMLIBJS_SIG
    cases = [(1234, CIRCOMLIBJS_SIG, pub)]
    for i in range(3):
        prv = rng.randbytes(32)
        msg = [0, P - 1, rng.randrange(P)][i]
        cases.append((msg, bj.sign_poseidon(prv, msg), bj.private_to_public(prv)))
    for msg, sig, key in cases:
        assert bj.verify_poseidon(msg, sig, key)
        w = cc.solve(inputs(msg, sig, key))
        cc.check(w)


def test_tampered_inputs_have_no_witness() -> None:
    prv = rng.randbytes(32)
    pub = bj.private_to_public(prv)
    msg = 20000101
    sig = bj.sign_poseidon(prv, msg)
    assert accepts(msg, sig, pub)
    other = bj.private_to_public(rng.randbytes(32))
    for m, s, a in [
        (msg + 1, sig, pub),  # message
        (msg, bj.Signature(sig.r8 + bj.BASE8, sig.s), pub),  # R8
        (msg, bj.Signature(-sig.r8, sig.s), pub),  # R8 with the other sign
        (msg, bj.Signature(sig.r8, (sig.s + 1) % L), pub),  # S
        (msg, sig, other),  # wrong key
        (msg, sig, -pub),  # key with the other sign
    ]:
        assert not bj.verify_poseidon(m, s, a)
        assert not accepts(m, s, a)
    with pytest.raises(ConstraintUnsatisfied):
        verifier(True)[0].solve(inputs(msg + 1, sig, pub))


def test_forged_signatures_have_no_witness() -> None:
    pub = bj.private_to_public(rng.randbytes(32))
    for _ in range(3):
        forged = bj.Signature(bj.BASE8 * rng.randrange(1, L), rng.randrange(L))
        assert not accepts(5, forged, pub)


def test_s_not_below_l_has_no_witness() -> None:
    prv = rng.randbytes(32)
    pub = bj.private_to_public(prv)
    sig = bj.sign_poseidon(prv, 42)
    for s in (sig.s + k * L for k in range(1, 8) if sig.s + k * L < P):
        forged = bj.Signature(sig.r8, s)
        # the group equation holds for S + k*l, the range check must reject it
        assert bj.BASE8 * s == bj.BASE8 * sig.s
        assert not accepts(42, forged, pub)


def test_s_bits_alias_rejected() -> None:
    """A cheating witness that decomposes S + l into 251 bits cannot exist: the bits
    of S + l need 252 bits, and 251 bits above l - 1 fail the bound."""
    cc, _ = verifier(True)
    prv = rng.randbytes(32)
    pub = bj.private_to_public(prv)
    sig = bj.sign_poseidon(prv, 9)
    base = inputs(9, sig, pub)
    w = cc.solve(base)
    s_wires = cc.wires_in_scope("sig.EdDSAPoseidonVerifier[0].BitsLeConst[0].bits")
    assert len(s_wires) == 251
    # bits of a value >= l: fails the bound (or the sum)
    big = L + 5
    forged = dict(zip(s_wires, [(big >> i) & 1 for i in range(251)], strict=True))
    cheat = cc.solve(base | {"S": big}, check=False, overrides=forged)
    with pytest.raises(ConstraintUnsatisfied):
        cc.check(cheat)
    assert w  # the honest witness exists


def test_bits_le_const_rejects_alias() -> None:
    c = Circuit("alias")
    x = c.private_input("x")
    bits = bits_le_const(c, x, 254, P - 1)
    assert len(bits) == 254
    cc = c.compile()
    for v in (0, 1, P - 1, rng.randrange(P)):
        cc.check(cc.solve({"x": v}))
    # x = 7 has the alias x + p < 2^254: its bits satisfy the sum mod p, not the bound
    wires = cc.wires_in_scope("alias.BitsLeConst[0].bits")
    alias = 7 + P
    assert alias < 1 << 254
    forged = dict(zip(wires, [(alias >> i) & 1 for i in range(254)], strict=True))
    cheat = cc.solve({"x": 7}, check=False, overrides=forged)
    with pytest.raises(ConstraintUnsatisfied, match="bit<=bound"):
        cc.check(cheat)


def test_small_order_keys_have_no_witness() -> None:
    # with 8A = O the equation reduces to S*B8 == R8, for any message
    s = rng.randrange(1, L)
    sig = bj.Signature(bj.BASE8 * s, s)
    for weak in (ORDER8, ORDER8 * 2, ORDER8 * 4, bj.IDENTITY):
        assert bj.BASE8 * sig.s == sig.r8 + weak * (8 * 12345)
        assert not bj.verify_poseidon(3, sig, weak)
        assert not accepts(3, sig, weak)


def test_off_curve_inputs_have_no_witness() -> None:
    prv = rng.randbytes(32)
    pub = bj.private_to_public(prv)
    sig = bj.sign_poseidon(prv, 11)
    assert not accepts(11, sig, bj.Point(pub.x, (pub.y + 1) % P))
    assert not accepts(11, bj.Signature(bj.Point(sig.r8.x, (sig.r8.y + 1) % P), sig.s), pub)


def test_r8_identity_has_no_witness() -> None:
    prv = rng.randbytes(32)
    pub = bj.private_to_public(prv)
    o = bj.IDENTITY
    hm = poseidon([o.x, o.y, pub.x, pub.y, 77])
    sig = bj.Signature(o, hm * bj.private_key_scalar(prv) % L)
    assert bj.BASE8 * sig.s == o + pub * (8 * hm)
    assert not bj.verify_poseidon(77, sig, pub)
    assert not accepts(77, sig, pub)


def test_key_with_torsion_component_matches_python() -> None:
    prv = rng.randbytes(32)
    pub_t = bj.private_to_public(prv) + ORDER8
    r = rng.randrange(1, L)
    r8 = bj.BASE8 * r
    hm = poseidon([r8.x, r8.y, pub_t.x, pub_t.y, 5])
    sig = bj.Signature(r8, (r + hm * bj.private_key_scalar(prv)) % L)
    assert bj.verify_poseidon(5, sig, pub_t)
    assert accepts(5, sig, pub_t)


def test_forcing_the_final_check_fails() -> None:
    """For a forged signature, force the difference point to map onto R8: the
    Montgomery subtraction it came from no longer holds."""
    cc, _ = verifier(True)
    pub = bj.private_to_public(rng.randbytes(32))
    forged = bj.Signature(bj.BASE8 * 99, 1234567)
    base = inputs(8, forged, pub)
    wires = cc.wires_in_scope("sig.EdDSAPoseidonVerifier[0].check.madd")
    assert len(wires) == 3
    u = (1 + forged.r8.y) * pow(1 - forged.r8.y, -1, P) % P
    v = u * pow(forged.r8.x, -1, P) % P
    cheat = cc.solve(base, check=False, overrides={wires[1]: u, wires[2]: v})
    with pytest.raises(ConstraintUnsatisfied):
        cc.check(cheat)
