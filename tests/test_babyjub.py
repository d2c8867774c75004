"""Baby Jubjub (EIP-2494), BLAKE-512 and EdDSA-Poseidon in pure Python.

Cross-checks against circomlibjs run in tests/interop/test_eddsa_circomlibjs.py; the
fixed vectors here were produced by circomlibjs 0.1.7 so these tests run without node.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest import babyjub as bj
from zkattest import errors
from zkattest.poseidon import poseidon

P = bj.FIELD_MODULUS
L = bj.SUBGROUP_ORDER

scalars = st.integers(min_value=0, max_value=bj.ORDER - 1)
subgroup_scalars = st.integers(min_value=1, max_value=L - 1)
keys = st.binary(min_size=32, max_size=32)
messages = st.integers(min_value=0, max_value=P - 1)

#: a point of order 2 and one of order 4 (a = 168700 is a square: x = 1/sqrt(a))
ORDER2 = bj.Point(0, P - 1)
ORDER8 = bj.GENERATOR * L


def _sqrt_a_inv() -> int:
    r = bj.sqrt_mod(pow(bj.A, -1, P))
    assert r is not None
    return r


ORDER4 = bj.Point(_sqrt_a_inv(), 0)


# ----------------------------------------------------------------------------- BLAKE-512


def test_blake512_spec_vectors() -> None:
    # "SHA-3 proposal BLAKE" v1.3, appendix: one zero byte, and 144 zero bytes
    assert bj.blake512(b"\x00").hex() == (
        "97961587f6d970faba6d2478045de6d1fabd09b61ae50932054d52bc29d31be4"
        "ff9102b9f69e2bbdb83be13d4b9c06091e5fa0b48bd081b634058be0ec49beb3"
    )
    assert bj.blake512(bytes(144)).hex() == (
        "313717d608e9cf758dcb1eb0f0c3cf9fc150b2d500fb33f51c52afc99d358a2f"
        "1374b8a38bba7974e7f6ef79cab16f22ce1e649d6e01ad9589c213045d545dde"
    )


def test_blake512_empty_and_lengths() -> None:
    assert bj.blake512(b"").hex().startswith("a8cfbbd73726062df0c6864dda65defe")
    # every padding case gives a 64-byte digest, and different inputs differ
    digests = {bj.blake512(bytes(n)) for n in range(0, 260)}
    assert len(digests) == 260
    assert all(len(d) == 64 for d in digests)


def test_blake512_constants_from_definitions() -> None:
    # first words of frac(pi) and of SHA-512's IV
    assert bj._BLAKE_C[0] == 0x243F6A8885A308D3
    assert bj._BLAKE_C[15] == 0x636920D871574E69
    assert bj._BLAKE_IV[0] == 0x6A09E667F3BCC908
    assert bj._BLAKE_IV[7] == 0x5BE0CD19137E2179


# ------------------------------------------------------------------------------- curve


def test_constants() -> None:
    assert bj.GENERATOR.on_curve()
    assert bj.BASE8 == bj.GENERATOR * 8
    assert (
        bj.Point(
            5299619240641551281634865583518297030282874472190772894086521144482721001553,
            16950150798460657717958625567821834550301663161624707787222815936182638968203,
        )
        == bj.BASE8
    )
    # B8 has order l, G has order 8l
    assert (bj.BASE8 * L).is_identity()
    assert not bj.BASE8.is_identity()
    assert (bj.GENERATOR * bj.ORDER).is_identity()
    assert not (bj.GENERATOR * L).is_identity()
    assert not (bj.GENERATOR * (4 * L)).is_identity()
    # Montgomery form: A = 2(a+d)/(a-d), B = 4/(a-d)
    assert 2 * (bj.A + bj.D) * pow(bj.A - bj.D, -1, P) % P == bj.MONTGOMERY_A
    assert 4 * pow(bj.A - bj.D, -1, P) % P == bj.MONTGOMERY_B


def test_torsion_points() -> None:
    for pt, order in ((ORDER2, 2), (ORDER4, 4), (ORDER8, 8)):
        assert pt.on_curve()
        assert (pt * order).is_identity()
        assert not (pt * (order // 2)).is_identity()
        assert not pt.in_subgroup()
    assert bj.IDENTITY.in_subgroup()


@given(scalars, scalars, scalars)
def test_group_laws(a: int, b: int, c: int) -> None:
    p, q, r = bj.GENERATOR * a, bj.GENERATOR * b, bj.GENERATOR * c
    assert p.on_curve() and q.on_curve()
    assert p + q == q + p
    assert (p + q) + r == p + (q + r)
    assert p + bj.IDENTITY == p
    assert (p - p).is_identity()
    assert p + q == bj.GENERATOR * (a + b)
    assert p.double() == p + p
    assert q * 5 == q + q + q + q + q
    assert p * -1 == -p


@given(subgroup_scalars)
def test_projective_mul_matches_affine_adds(k: int) -> None:
    # double-and-add with the affine law, as a plain reference
    acc, base, e = bj.IDENTITY, bj.BASE8, k
    while e:
        if e & 1:
            acc = acc + base
        base = base + base
        e >>= 1
    assert bj.BASE8 * k == acc
    assert (bj.BASE8 * k).in_subgroup()


def test_complete_addition_on_torsion() -> None:
    for pt in (ORDER2, ORDER4, ORDER8, bj.IDENTITY):
        for q in (ORDER2, ORDER4, ORDER8, bj.BASE8, bj.IDENTITY):
            s = pt + q
            assert s.on_curve()
            assert s - q == pt


def test_from_xy_checks() -> None:
    assert bj.Point.from_xy(bj.BASE8.x, bj.BASE8.y) == bj.BASE8
    with pytest.raises(errors.NotOnCurve):
        bj.Point.from_xy(1, 2)
    with pytest.raises(errors.NotInSubgroup):
        bj.Point.from_xy(ORDER8.x, ORDER8.y)
    assert bj.Point.from_xy(ORDER8.x, ORDER8.y, subgroup=False) == ORDER8
    with pytest.raises(errors.NonCanonicalEncoding):
        bj.Point.from_xy(bj.BASE8.x + P, bj.BASE8.y)
    with pytest.raises(errors.InvalidInput):
        bj.Point.from_xy(True, 1)


# ----------------------------------------------------------------------------- packing


@given(subgroup_scalars)
def test_pack_roundtrip(k: int) -> None:
    pt = bj.BASE8 * k
    data = pt.to_bytes()
    assert len(data) == 32
    assert bj.Point.from_bytes(data) == pt
    assert bj.Point.from_bytes(data) != -pt  # the sign bit matters


def test_pack_layout() -> None:
    # y little-endian, top bit = x > (p-1)/2
    pt = bj.BASE8
    data = pt.to_bytes()
    assert int.from_bytes(data, "little") & ((1 << 255) - 1) == pt.y
    assert bool(data[31] & 0x80) == (pt.x > (P - 1) // 2)
    assert bool((-pt).to_bytes()[31] & 0x80) != bool(data[31] & 0x80)


def test_unpack_rejects() -> None:
    good = bytearray(bj.BASE8.to_bytes())
    with pytest.raises(errors.InvalidLength):
        bj.Point.from_bytes(bytes(good[:31]))
    # y >= p
    with pytest.raises(errors.NonCanonicalEncoding):
        bj.Point.from_bytes((P + 1).to_bytes(32, "little"))
    # x = 0 with the sign bit set: (0, 1) encoded with a sign
    ident = bytearray(bj.IDENTITY.to_bytes())
    assert bj.Point.from_bytes(bytes(ident)) == bj.IDENTITY
    ident[31] |= 0x80
    with pytest.raises(errors.MalformedEncoding):
        bj.Point.from_bytes(bytes(ident))
    # a y with no curve point
    y = next(y for y in range(2, 100) if _no_point(y))
    with pytest.raises(errors.NotOnCurve):
        bj.Point.from_bytes(y.to_bytes(32, "little"))
    # torsion: rejected unless asked for
    with pytest.raises(errors.NotInSubgroup):
        bj.Point.from_bytes(ORDER8.to_bytes())
    assert bj.Point.from_bytes(ORDER8.to_bytes(), subgroup=False) == ORDER8
    with pytest.raises(errors.NotOnCurve):
        bj.Point(1, 2).to_bytes()


def _no_point(y: int) -> bool:
    x2 = (1 - y * y) * pow(bj.A - bj.D * y * y, -1, P) % P
    return bj.sqrt_mod(x2) is None


@given(st.integers(min_value=0, max_value=P - 1))
def test_sqrt(n: int) -> None:
    r = bj.sqrt_mod(n)
    if r is None:
        assert pow(n, (P - 1) // 2, P) == P - 1
    else:
        assert r * r % P == n


# ------------------------------------------------------------------------------- EdDSA

#: circomlibjs 0.1.7: prv2pub / signPoseidon of this key and message 1234
VECTOR_PRV = bytes.fromhex("0001020304050607080900010203040506070809000102030405060708090001")
VECTOR_PUB = bj.Point(
    13277427435165878497778222415993513565335242147425444199013288855685581939618,
    13622229784656158136036771217484571176836296686641868549125388198837476602820,
)
VECTOR_SIG = bj.Signature(
    bj.Point(
        11220723668893468001994760120794694848178115379170651044669708829805665054484,
        2367470421002446880004241260470975644531657398480773647535134774673409612366,
    ),
    2010143491207902444122668013146870263468969134090678646686512037244361350365,
)
VECTOR_PACKED = bytes.fromhex(
    "4e9aa81226383a87080954af53403451580b9a942d5d56619c11b678d6f03b85"
    "dd9ca5f9dce80afec45ad6987864ddb2242b9ad35338b38e0c7776036eb37104"
)


def test_circomlibjs_vector() -> None:
    assert bj.private_to_public(VECTOR_PRV) == VECTOR_PUB
    sig = bj.sign_poseidon(VECTOR_PRV, 1234)
    assert sig == VECTOR_SIG
    assert sig.to_bytes() == VECTOR_PACKED
    assert bj.Signature.from_bytes(VECTOR_PACKED) == sig
    assert bj.verify_poseidon(1234, sig, VECTOR_PUB)


def test_private_key_scalar() -> None:
    s = bj.private_key_scalar(VECTOR_PRV)
    assert s % 8 == 0
    assert 1 << 254 <= s < 1 << 255
    assert bj.BASE8 * (s >> 3) == VECTOR_PUB


@given(keys, messages)
def test_sign_verify_roundtrip(prv: bytes, msg: int) -> None:
    pub = bj.private_to_public(prv)
    assert pub.in_subgroup()
    sig = bj.sign_poseidon(prv, msg)
    assert 0 <= sig.s < L
    assert bj.verify_poseidon(msg, sig, pub)
    assert bj.sign_poseidon(prv, msg) == sig  # deterministic
    assert bj.Signature.from_bytes(sig.to_bytes()) == sig


@given(keys, messages)
def test_tampered_signatures_rejected(prv: bytes, msg: int) -> None:
    pub = bj.private_to_public(prv)
    sig = bj.sign_poseidon(prv, msg)
    assert not bj.verify_poseidon((msg + 1) % P, sig, pub)
    assert not bj.verify_poseidon(msg, bj.Signature(sig.r8 + bj.BASE8, sig.s), pub)
    assert not bj.verify_poseidon(msg, bj.Signature(sig.r8, (sig.s + 1) % L), pub)
    assert not bj.verify_poseidon(msg, sig, pub + bj.BASE8)
    other = bj.private_to_public(bytes(b ^ 1 for b in prv))
    assert not bj.verify_poseidon(msg, sig, other)


def test_s_not_reduced_rejected() -> None:
    # S + l satisfies the group equation but is not canonical
    sig = VECTOR_SIG
    forged = bj.Signature(sig.r8, sig.s + L)
    assert bj.BASE8 * forged.s == bj.BASE8 * sig.s
    assert not bj.verify_poseidon(1234, forged, VECTOR_PUB)
    assert not bj.verify_poseidon(1234, bj.Signature(sig.r8, -1), VECTOR_PUB)
    with pytest.raises(errors.NonCanonicalEncoding):
        bj.Signature.from_bytes(sig.r8.to_bytes() + forged.s.to_bytes(32, "little"))


def test_off_curve_and_small_order_rejected() -> None:
    sig = VECTOR_SIG
    assert not bj.verify_poseidon(1234, bj.Signature(bj.Point(1, 2), sig.s), VECTOR_PUB)
    assert not bj.verify_poseidon(1234, sig, bj.Point(1, 2))
    # a small-order key: S*B8 == R8 holds for R8 = S*B8, whatever the message
    s = 12345
    r8 = bj.BASE8 * s
    for weak in (bj.IDENTITY, ORDER2, ORDER4, ORDER8):
        assert not bj.verify_poseidon(99, bj.Signature(r8, s), weak)
    # R8 = identity is rejected even when the equation holds (as in the circuit)
    s_scalar = bj.private_key_scalar(VECTOR_PRV)
    o = bj.IDENTITY
    hm = poseidon([o.x, o.y, VECTOR_PUB.x, VECTOR_PUB.y, 1234])
    sig_o = bj.Signature(o, hm * s_scalar % L)
    assert bj.BASE8 * sig_o.s == o + VECTOR_PUB * (8 * hm)
    assert not bj.verify_poseidon(1234, sig_o, VECTOR_PUB)


def test_key_with_torsion_component() -> None:
    # A + T (T of order 8) verifies like A when the signature was made for A + T:
    # 8 * (A + T) == 8 * A, and the hash binds the key as given (circomlibjs semantics)
    prv = VECTOR_PRV
    pub_t = VECTOR_PUB + ORDER8
    s_scalar = bj.private_key_scalar(prv)
    r = 777
    r8 = bj.BASE8 * r
    hm = poseidon([r8.x, r8.y, pub_t.x, pub_t.y, 5])
    sig = bj.Signature(r8, (r + hm * s_scalar) % L)
    assert bj.verify_poseidon(5, sig, pub_t)


def test_bad_arguments() -> None:
    with pytest.raises(errors.InvalidLength):
        bj.private_to_public(b"short")
    with pytest.raises(errors.InvalidInput):
        bj.sign_poseidon("not bytes", 1)  # type: ignore[arg-type]
    with pytest.raises(errors.NonCanonicalEncoding):
        bj.sign_poseidon(VECTOR_PRV, P)
    with pytest.raises(errors.NonCanonicalEncoding):
        bj.verify_poseidon(-1, VECTOR_SIG, VECTOR_PUB)
    with pytest.raises(errors.InvalidInput):
        bj.verify_poseidon(1, "sig", VECTOR_PUB)  # type: ignore[arg-type]
    assert len(bj.generate_private_key()) == 32


def test_hash_to_subgroup() -> None:
    g0 = bj.hash_to_subgroup(b"test tag")
    assert g0.in_subgroup() and not g0.is_identity()
    assert bj.hash_to_subgroup(b"test tag") == g0
    assert bj.hash_to_subgroup(b"other tag") != g0
