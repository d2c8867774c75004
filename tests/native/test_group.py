"""G1 and G2 of the native core against py_ecc.optimized_bn128 (the reference).

Covers the group law (add, double, neg, mul_var) on random scalars, the
exceptional cases (infinity, P + P, P + (-P)), both encodings and every
decoder's rejection status, and the G2 subgroup check (psi(Q) == [6x^2]Q)
against the slow definition [r]Q == O on points constructed inside and
outside the subgroup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_ecc import optimized_bn128 as bn

from zkattest import _native as N
from zkattest import errors

P = bn.field_modulus
R = bn.curve_order
H2 = 2 * P - R  # cofactor of the twist: #E'(Fq2) = (2p - r) * r
FQ2 = bn.FQ2

Point = Any  # py_ecc Jacobian triple

G1_INF = bytes(64)
G2_INF = bytes(128)

scalars = st.integers(min_value=0, max_value=R - 1)
nonzero = st.integers(min_value=1, max_value=R - 1)


# ------------------------------------------------------------------ encoding
def le(v: int) -> bytes:
    return v.to_bytes(32, "little")


def g1_enc(pt: Point) -> bytes:
    if bn.is_inf(pt):
        return G1_INF
    x, y = bn.normalize(pt)
    return le(x.n) + le(y.n)


def g2_enc(pt: Point) -> bytes:
    if bn.is_inf(pt):
        return G2_INF
    x, y = bn.normalize(pt)
    return le(x.coeffs[0]) + le(x.coeffs[1]) + le(y.coeffs[0]) + le(y.coeffs[1])


def g1_dec(b: bytes) -> Point:
    assert len(b) == 64
    if b == G1_INF:
        return bn.Z1
    x, y = (int.from_bytes(b[i : i + 32], "little") for i in (0, 32))
    return (bn.FQ(x), bn.FQ(y), bn.FQ.one())


def g2_dec(b: bytes) -> Point:
    assert len(b) == 128
    if b == G2_INF:
        return bn.Z2
    c = [int.from_bytes(b[i : i + 32], "little") for i in range(0, 128, 32)]
    return (FQ2([c[0], c[1]]), FQ2([c[2], c[3]]), FQ2.one())


def fr(k: int) -> bytes:
    return le(k)


class Group:
    """The per-group pieces, so each test runs on G1 and G2 alike."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gen = bn.G1 if name == "g1" else bn.G2
        self.enc = g1_enc if name == "g1" else g2_enc
        self.dec = g1_dec if name == "g1" else g2_dec
        self.inf = G1_INF if name == "g1" else G2_INF
        self.size = 64 if name == "g1" else 128
        self.csize = self.size // 2
        self.b = bn.b if name == "g1" else bn.b2

    def fn(self, op: str) -> Callable[..., Any]:
        f: Callable[..., Any] = getattr(N, f"{self.name}_{op}")
        return f


G1, G2 = Group("g1"), Group("g2")
GROUPS = pytest.mark.parametrize("g", [G1, G2], ids=["g1", "g2"])


def eq(a: Point, b: Point) -> bool:
    return bool(bn.eq(a, b))


# ---------------------------------------------------- field helpers (Python)
def fq_sqrt(a: int) -> int | None:
    s = pow(a, (P + 1) // 4, P)
    return s if s * s % P == a % P else None


def fq2_sqrt(a: FQ2) -> FQ2 | None:
    """A square root in Fq2 = Fq[u]/(u^2+1) via the norm, or None."""
    a0, a1 = (int(c) % P for c in a.coeffs)
    if a0 == 0 and a1 == 0:
        return FQ2([0, 0])
    s = fq_sqrt((a0 * a0 + a1 * a1) % P)
    if s is None:
        return None
    half = pow(2, P - 2, P)
    x0 = fq_sqrt((a0 + s) * half % P)
    if x0 is None:
        x0 = fq_sqrt((a0 - s) * half % P)
    if x0 is None:
        return None
    if x0 == 0:
        x1 = fq_sqrt(-a0 % P)
        if x1 is None:
            return None
    else:
        x1 = a1 * pow(2 * x0, P - 2, P) % P
    y = FQ2([x0, x1])
    return y if y * y == a else None


def hash_int(tag: str, i: int) -> int:
    return int.from_bytes(hashlib.sha512(f"{tag}/{i}".encode()).digest(), "little") % P


def twist_point(i: int) -> Point:
    """A point of E'(Fq2) from a hashed x (almost surely outside G2)."""
    j = 0
    while True:
        x = FQ2([hash_int("tx0", i * 1000 + j), hash_int("tx1", i * 1000 + j)])
        y = fq2_sqrt(x * x * x + bn.b2)
        if y is not None:
            pt = (x, y, FQ2.one())
            assert bn.is_on_curve(pt, bn.b2)
            return pt
        j += 1


def g1_off_curve_x(i: int) -> int:
    """An x with x^3 + 3 a non-residue (no G1 point has it)."""
    j = 0
    while True:
        x = hash_int("g1x", i * 1000 + j)
        if fq_sqrt((x**3 + 3) % P) is None:
            return x
        j += 1


def g2_off_curve_x(i: int) -> FQ2:
    j = 0
    while True:
        x = FQ2([hash_int("g2x0", i * 1000 + j), hash_int("g2x1", i * 1000 + j)])
        if fq2_sqrt(x * x * x + bn.b2) is None:
            return x
        j += 1


def lex_largest_fq(v: int) -> bool:
    return v > (P - 1) // 2


def lex_largest_fq2(c0: int, c1: int) -> bool:
    return lex_largest_fq(c1) if c1 else lex_largest_fq(c0)


# ------------------------------------------------------------- group law
def test_generators() -> None:
    assert N.g1_generator() == g1_enc(bn.G1)
    assert N.g2_generator() == g2_enc(bn.G2)
    assert N.g1_generator() == le(1) + le(2)
    N.g1_check(N.g1_generator())
    N.g2_check(N.g2_generator())


@GROUPS
@given(a=scalars, b=scalars)
def test_add_double_neg_match_py_ecc(g: Group, a: int, b: int) -> None:
    pa, pb = bn.multiply(g.gen, a), bn.multiply(g.gen, b)
    ea, eb = g.enc(pa), g.enc(pb)
    assert g.fn("mul_var")(g.enc(g.gen), fr(a)) == ea
    assert g.fn("add")(ea, eb) == g.enc(bn.add(pa, pb))
    assert g.fn("double")(ea) == g.enc(bn.double(pa))
    assert g.fn("neg")(ea) == g.enc(bn.neg(pa))
    # the group law itself: (a + b) G
    assert g.fn("add")(ea, eb) == g.fn("mul_var")(g.enc(g.gen), fr((a + b) % R))


@GROUPS
@given(a=nonzero, k=scalars)
def test_mul_var_matches_py_ecc(g: Group, a: int, k: int) -> None:
    pa = bn.multiply(g.gen, a)
    assert g.fn("mul_var")(g.enc(pa), fr(k)) == g.enc(bn.multiply(pa, k))


@GROUPS
def test_mul_var_special_scalars(g: Group) -> None:
    pt = g.enc(bn.multiply(g.gen, 0xC0FFEE))
    mul = g.fn("mul_var")
    assert mul(pt, fr(0)) == g.inf
    assert mul(pt, fr(1)) == pt
    assert mul(pt, fr(2)) == g.fn("double")(pt)
    assert mul(pt, fr(R - 1)) == g.fn("neg")(pt)
    assert mul(g.inf, fr(12345)) == g.inf
    # digits of every sign and length: small and all-ones-like scalars
    for k in [3, 15, 16, 17, 31, 32, 33, (1 << 128) - 1, (1 << 253) - 1, R - 2, R // 2]:
        assert mul(pt, fr(k)) == g.enc(bn.multiply(g.dec(pt), k)), k
    # r is not a canonical Fr: rejected, not reduced
    for k in [R, R + 1, (1 << 256) - 1]:
        with pytest.raises(errors.NonCanonicalEncoding):
            mul(pt, k.to_bytes(32, "little"))


@GROUPS
def test_infinity_and_exceptional_cases(g: Group) -> None:
    pt = g.enc(bn.multiply(g.gen, 987654321))
    add, dbl, neg = g.fn("add"), g.fn("double"), g.fn("neg")
    g.fn("check")(g.inf)
    assert add(pt, neg(pt)) == g.inf
    assert add(neg(pt), pt) == g.inf
    assert add(pt, pt) == dbl(pt)
    assert add(g.inf, pt) == pt
    assert add(pt, g.inf) == pt
    assert add(g.inf, g.inf) == g.inf
    assert dbl(g.inf) == g.inf
    assert neg(g.inf) == g.inf
    assert neg(neg(pt)) == pt


# ------------------------------------------------------------- encodings
@GROUPS
@given(a=scalars)
def test_compress_round_trip_and_sign_flag(g: Group, a: int) -> None:
    pt = g.enc(bn.multiply(g.gen, a))
    c = g.fn("compress")(pt)
    assert len(c) == g.csize
    assert g.fn("decompress")(c) == pt
    if pt == g.inf:
        assert c == bytes(g.csize - 1) + b"\x80"
        return
    # x bytes are the x coordinate; flag bit 6 is "y lexicographically largest"
    cs = g.csize
    assert c[: cs - 1] == pt[: cs - 1]
    assert c[cs - 1] & 0x3F == pt[cs - 1]
    ys = [int.from_bytes(pt[i : i + 32], "little") for i in range(cs, 2 * cs, 32)]
    big = lex_largest_fq(ys[0]) if g is G1 else lex_largest_fq2(ys[0], ys[1])
    assert bool(c[cs - 1] & 0x40) == big
    assert not c[cs - 1] & 0x80
    # the other sign decodes to the negation
    flipped = c[: cs - 1] + bytes([c[cs - 1] ^ 0x40])
    assert g.fn("decompress")(flipped) == g.fn("neg")(pt)


def test_compress_known_values() -> None:
    # G1 generator: x = 1, y = 2 (the smaller root) -> no flags
    assert N.g1_compress(N.g1_generator()) == le(1)
    assert N.g1_decompress(le(1)) == N.g1_generator()
    assert N.g1_decompress(le(1)[:31] + b"\x40") == g1_enc(bn.neg(bn.G1))


@GROUPS
def test_decoders_reject_wrong_lengths(g: Group) -> None:
    pt = g.enc(g.gen)
    c = g.fn("compress")(pt)
    for bad in [b"", c[:-1], c + b"\x00", pt]:
        with pytest.raises(errors.InvalidLength):
            g.fn("decompress")(bad)
    for op in ["check", "double", "neg", "compress"]:
        with pytest.raises(errors.InvalidLength):
            g.fn(op)(pt[:-1])
    with pytest.raises(errors.InvalidLength):
        g.fn("add")(pt, pt + b"\x00")
    with pytest.raises(errors.InvalidLength):
        g.fn("mul_var")(pt, b"\x01" * 31)


def _all_point_ops(g: Group) -> list[Callable[[bytes], Any]]:
    gen = g.enc(g.gen)
    return [
        g.fn("check"),
        g.fn("double"),
        g.fn("neg"),
        g.fn("compress"),
        lambda p: g.fn("add")(p, gen),
        lambda p: g.fn("add")(gen, p),
        lambda p: g.fn("mul_var")(p, fr(5)),
    ]


@GROUPS
def test_uncompressed_rejects_off_curve(g: Group) -> None:
    pt = bytearray(g.enc(bn.multiply(g.gen, 77)))
    pt[g.size // 2] ^= 1  # perturb y
    bad_points = [bytes(pt)]
    half = g.size // 2
    bad_points.append(bytes(half - 1) + b"\x01" + bytes(half))  # (x = 2^k, y = 0)
    bad_points.append(bytes(half) + le(1) + bytes(half - 32))  # (0, 1)
    for bad in bad_points:
        for op in _all_point_ops(g):
            with pytest.raises(errors.NotOnCurve):
                op(bad)
    if g is G2:
        with pytest.raises(errors.NotOnCurve):
            N.g2_check_on_curve(bad_points[0])
        with pytest.raises(errors.NotOnCurve):
            N.g2_in_subgroup(bad_points[0])


@GROUPS
def test_uncompressed_rejects_noncanonical(g: Group) -> None:
    pt = g.enc(bn.multiply(g.gen, 1234567))
    for off in range(0, g.size, 32):  # each coordinate (limb group) + p
        v = int.from_bytes(pt[off : off + 32], "little") + P
        bad = pt[:off] + le(v) + pt[off + 32 :]
        for op in _all_point_ops(g):
            with pytest.raises(errors.NonCanonicalEncoding):
                op(bad)
        if g is G2:
            with pytest.raises(errors.NonCanonicalEncoding):
                N.g2_check_on_curve(bad)
    # a coordinate equal to p (i.e. "0 + p") is non-canonical too, even for infinity
    bad = le(P) + bytes(g.size - 32)
    with pytest.raises(errors.NonCanonicalEncoding):
        g.fn("check")(bad)


@GROUPS
def test_compressed_rejects_bad_flags(g: Group) -> None:
    cs = g.csize
    inf = bytes(cs - 1) + b"\x80"
    assert g.fn("decompress")(inf) == g.inf
    c = g.fn("compress")(g.enc(bn.multiply(g.gen, 4242)))
    bads = [
        bytes(cs - 1) + b"\xc0",  # both flags
        c[: cs - 1] + bytes([(c[cs - 1] & 0x3F) | 0x80]),  # infinity with x
        c[: cs - 1] + bytes([(c[cs - 1] & 0x3F) | 0xC0]),
        b"\x01" + bytes(cs - 2) + b"\x80",  # infinity with a low bit
        bytes(cs - 1) + b"\x81",  # infinity with a low bit of the last byte
    ]
    for bad in bads:
        with pytest.raises(errors.MalformedEncoding):
            g.fn("decompress")(bad)


@GROUPS
def test_compressed_rejects_noncanonical_and_off_curve(g: Group) -> None:
    cs = g.csize
    pt = g.enc(bn.multiply(g.gen, 99))
    c = g.fn("compress")(pt)
    # a coordinate of x in [p, 2^254) (the flag bits stay free), with each flag
    for off in range(0, cs, 32):
        for v in [P, P + 5, int.from_bytes(pt[off : off + 32], "little") + P, (1 << 254) - 1]:
            if v >= 1 << 254:
                continue
            for fl in (0x00, 0x40):
                body = bytearray(c[:off] + le(v) + c[off + 32 :])
                body[cs - 1] = (body[cs - 1] & 0x3F) | fl
                with pytest.raises(errors.NonCanonicalEncoding):
                    g.fn("decompress")(bytes(body))
    # x whose x^3 + b has no square root
    for i in range(3):
        if g is G1:
            xb = le(g1_off_curve_x(i))
        else:
            x = g2_off_curve_x(i)
            xb = le(x.coeffs[0]) + le(x.coeffs[1])
        for fl in (0x00, 0x40):
            bad = xb[:-1] + bytes([xb[-1] | fl])
            with pytest.raises(errors.NotOnCurve):
                g.fn("decompress")(bad)


# ------------------------------------------------------------ G2 subgroup
def _in_g2_reference(pt: Point) -> bool:
    return bool(bn.is_inf(bn.multiply(pt, R)))


def test_psi_criterion_constants() -> None:
    """6x^2 is p mod r, the eigenvalue of psi on G2 (what the C check uses)."""
    x = 4965661367192848881
    assert 6 * x * x == P % R
    assert P + 1 - (6 * x * x + 1) == R  # BN: #E(Fq) = p + 1 - t = r


@pytest.mark.parametrize("i", range(6))
def test_g2_subgroup_check_on_twist_points(i: int) -> None:
    q = twist_point(i)
    enc = g2_enc(q)
    N.g2_check_on_curve(enc)
    assert not _in_g2_reference(q)
    for op in [N.g2_in_subgroup, *_all_point_ops(G2)]:
        with pytest.raises(errors.NotInSubgroup):
            op(enc)
    c = bytearray(le(int(q[0].coeffs[0])) + le(int(q[0].coeffs[1])))
    if lex_largest_fq2(int(q[1].coeffs[0]), int(q[1].coeffs[1])):
        c[-1] |= 0x40
    with pytest.raises(errors.NotInSubgroup):
        N.g2_decompress(bytes(c))

    # cofactor clearing lands in G2 (slow reference agrees)
    cleared = bn.multiply(q, H2)
    assert _in_g2_reference(cleared)
    ce = g2_enc(cleared)
    N.g2_in_subgroup(ce)
    N.g2_check(ce)
    assert N.g2_decompress(N.g2_compress(ce)) == ce

    # [r]Q has order dividing the cofactor: on the curve, outside G2
    torsion = bn.multiply(q, R)
    assert not bn.is_inf(torsion)
    te = g2_enc(torsion)
    N.g2_check_on_curve(te)
    with pytest.raises(errors.NotInSubgroup):
        N.g2_in_subgroup(te)
    # G2 point + cofactor-torsion point: outside G2
    mixed = bn.add(cleared, torsion)
    assert not _in_g2_reference(mixed)
    with pytest.raises(errors.NotInSubgroup):
        N.g2_check(g2_enc(mixed))


@given(k=scalars)
def test_g2_subgroup_accepts_multiples_of_generator(k: int) -> None:
    N.g2_in_subgroup(g2_enc(bn.multiply(bn.G2, k)))


@pytest.mark.parametrize("i", range(6, 10))
def test_g2_subgroup_agrees_with_slow_reference(i: int) -> None:
    q = twist_point(i)
    for cand in [q, bn.multiply(q, H2), bn.multiply(q, R), bn.multiply(q, 3 * H2)]:
        enc = g2_enc(cand)
        try:
            N.g2_in_subgroup(enc)
            fast = True
        except errors.NotInSubgroup:
            fast = False
        assert fast == _in_g2_reference(cand)


# ------------------------------------------------------------- misuse (C)
def test_null_and_length_statuses() -> None:
    lib, ffi = N.lib, N.ffi
    g1 = ffi.new("zka_g1 *")
    g2 = ffi.new("zka_g2 *")
    assert lib.zka_g1_generator(g1) == lib.ZKA_OK
    assert lib.zka_g2_generator(g2) == lib.ZKA_OK
    k = ffi.new("zka_fr *")
    buf = ffi.new("uint8_t[64]")
    null = ffi.NULL
    assert lib.zka_g1_generator(null) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_generator(null) == lib.ZKA_ERR_NULL
    assert lib.zka_g1_check(null) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_check(null) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_check_on_curve(null) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_in_subgroup(null) == lib.ZKA_ERR_NULL
    assert lib.zka_g1_add(null, g1, g1) == lib.ZKA_ERR_NULL
    assert lib.zka_g1_add(g1, null, g1) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_add(g2, g2, null) == lib.ZKA_ERR_NULL
    assert lib.zka_g1_double(g1, null) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_neg(null, g2) == lib.ZKA_ERR_NULL
    assert lib.zka_g1_mul_var(g1, g1, null) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_mul_var(g2, null, k) == lib.ZKA_ERR_NULL
    assert lib.zka_g1_compress(null, 32, g1) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_compress(buf, 64, null) == lib.ZKA_ERR_NULL
    assert lib.zka_g1_decompress(g1, null, 32) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_decompress(null, buf, 64) == lib.ZKA_ERR_NULL
    assert lib.zka_g1_compress(buf, 31, g1) == lib.ZKA_ERR_LENGTH
    assert lib.zka_g1_compress(buf, 64, g1) == lib.ZKA_ERR_LENGTH
    assert lib.zka_g2_compress(buf, 32, g2) == lib.ZKA_ERR_LENGTH
    assert lib.zka_g2_decompress(g2, buf, 63) == lib.ZKA_ERR_LENGTH
    # outputs are untouched on failure
    before = bytes(ffi.buffer(g1))
    bad = ffi.new("zka_g1 *")
    ffi.buffer(bad)[0:1] = b"\x05"  # (5, 0) is not on the curve
    assert lib.zka_g1_double(g1, bad) == lib.ZKA_ERR_NOT_ON_CURVE
    assert bytes(ffi.buffer(g1)) == before


@GROUPS
def test_outputs_may_alias_inputs(g: Group) -> None:
    """The C functions accept out == input (checked through the raw cffi API)."""
    lib, ffi = N.lib, N.ffi
    ctype = f"zka_{g.name} *"
    pt = g.enc(bn.multiply(g.gen, 31337))
    want = g.enc(bn.multiply(g.gen, 2 * 31337))
    buf = ffi.new(ctype)
    ffi.buffer(buf)[:] = pt
    assert getattr(lib, f"zka_{g.name}_add")(buf, buf, buf) == lib.ZKA_OK
    assert bytes(ffi.buffer(buf)) == want
    k = ffi.new("zka_fr *")
    ffi.buffer(k)[:] = fr(3)
    assert getattr(lib, f"zka_{g.name}_mul_var")(buf, buf, k) == lib.ZKA_OK
    assert bytes(ffi.buffer(buf)) == g.enc(bn.multiply(g.gen, 6 * 31337))
