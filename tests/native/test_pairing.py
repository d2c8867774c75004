"""The native optimal ate pairing against its definition and py_ecc.

py_ecc.optimized_bn128 is the reference.  It writes Fq12 as Fq[w]/(w^12 - 18 w^6 + 82)
and untwists G2 with (x, y) -> (x w^2, y w^3) where u = w^6 - 9; our tower
(Fq2[v]/(v^3 - (9+u)), w^2 = v) is the same field with the same w (w^6 = 9 + u), so
converting our 12 coefficients to py_ecc's basis is exact and the pairings must
agree coefficient for coefficient (both reduce by (p^12 - 1)/r and the Miller
functions differ only by factors in a proper subfield, which that kills).

py_ecc takes ~0.5 s per pairing, so it is used sparingly; the algebraic properties
(bilinearity, order r, product checks) run on the native side.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc import optimized_bn128 as bn

from zkattest import _native as N
from zkattest import errors
from zkattest.curve import G1, G2
from zkattest.pairing import (
    Fq12,
    PreparedG2,
    final_exponentiation,
    miller_loop,
    pairing,
    pairing_check,
)

P = bn.field_modulus
R = bn.curve_order
FQ2 = bn.FQ2

G1_INF = bytes(64)
G2_INF = bytes(128)

scalars = st.integers(min_value=1, max_value=R - 1)
FEW = settings(max_examples=4, deadline=None)


# ------------------------------------------------------------------ helpers
def le(v: int) -> bytes:
    return v.to_bytes(32, "little")


def to_py_ecc(f: Fq12) -> Any:
    """Our Fq12 in py_ecc's basis, exactly.

    Encoding index j holds the Fq2 coefficient (c0 + c1 u) of w^k, k = 2*((j//2) % 3)
    + j//6, component j % 2; with u = w^6 - 9:  (c0 + c1 u) w^k = (c0 - 9 c1) w^k +
    c1 w^(k+6).
    """
    c = f.coeffs
    out = [0] * 12
    for j in range(0, 12, 2):
        k = 2 * ((j // 2) % 3) + j // 6
        c0, c1 = c[j], c[j + 1]
        out[k] = (out[k] + c0 - 9 * c1) % P
        out[k + 6] = (out[k + 6] + c1) % P
    return bn.FQ12(out)


def py_g1(p: G1) -> Any:
    xy = p.xy
    if xy is None:
        return bn.Z1
    return (bn.FQ(xy[0]), bn.FQ(xy[1]), bn.FQ.one())


def py_g2(q: G2) -> Any:
    xy = q.xy
    if xy is None:
        return bn.Z2
    (x0, x1), (y0, y1) = xy
    return (FQ2([x0, x1]), FQ2([y0, y1]), FQ2.one())


def hash_int(tag: str, i: int, mod: int = P) -> int:
    return int.from_bytes(hashlib.sha512(f"pairing/{tag}/{i}".encode()).digest(), "little") % mod


def random_fq12(i: int) -> Fq12:
    return Fq12.from_coeffs([hash_int("fq12", 12 * i + k) for k in range(12)])


def fq_sqrt(a: int) -> int | None:
    s = pow(a, (P + 1) // 4, P)
    return s if s * s % P == a % P else None


def fq2_sqrt(a0: int, a1: int) -> tuple[int, int] | None:
    """A square root of a0 + a1 u in Fq2 (via the norm), or None."""
    n = fq_sqrt((a0 * a0 + a1 * a1) % P)
    if n is None:
        return None
    half = (P + 1) // 2
    for cand in ((a0 + n) * half % P, (a0 - n) * half % P):
        x0 = fq_sqrt(cand)
        if x0:
            x1 = a1 * pow(2 * x0, -1, P) % P
            if ((x0 * x0 - x1 * x1 - a0) % P, (2 * x0 * x1 - a1) % P) == (0, 0):
                return x0, x1
    return None


def twist_point_bytes(i: int) -> bytes:
    """An encoding of a point of E'(Fq2) from a hashed x (almost surely not in G2)."""
    b2 = bn.b2
    j = 0
    while True:
        x = FQ2([hash_int("twist", 2 * (i + j)), hash_int("twist", 2 * (i + j) + 1)])
        rhs = x * x * x + b2
        y = fq2_sqrt(int(rhs.coeffs[0]), int(rhs.coeffs[1]))
        if y is not None:
            return b"".join(le(int(c)) for c in (*x.coeffs, *y))
        j += 1


GEN1 = G1.generator()
GEN2 = G2.generator()


# ------------------------------------------------------- agreement with py_ecc
def test_generator_pairing_matches_py_ecc() -> None:
    ours = pairing(GEN1, GEN2)
    assert to_py_ecc(ours) == bn.pairing(bn.G2, bn.G1)


def test_random_pairing_matches_py_ecc() -> None:
    a, b = hash_int("a", 0, R), hash_int("b", 0, R)
    p, q = GEN1 * a, GEN2 * b
    ref = bn.pairing(py_g2(q), py_g1(p))
    assert to_py_ecc(pairing(p, q)) == ref


def test_final_exponentiation_is_the_plain_exponent() -> None:
    """The hard-part addition chain equals f^((p^12-1)/r) on arbitrary elements
    (not only on Miller loop outputs), checked in py_ecc's arithmetic."""
    for i in range(2):
        f = random_fq12(i)
        assert to_py_ecc(final_exponentiation(f)) == bn.final_exponentiate(to_py_ecc(f))


def test_fq12_basis_conversion_is_a_ring_map() -> None:
    """Sanity of to_py_ecc: products and w itself map consistently."""
    a, b = random_fq12(10), random_fq12(11)
    assert to_py_ecc(a * b) == to_py_ecc(a) * to_py_ecc(b)
    w = Fq12.from_coeffs([0] * 6 + [1] + [0] * 5)  # c1.c0.c0 = w
    assert to_py_ecc(w) == bn.FQ12([0, 1] + [0] * 10)
    u = Fq12.from_coeffs([0, 1] + [0] * 10)
    assert to_py_ecc(u) == bn.FQ12([-9 % P] + [0] * 5 + [1] + [0] * 5)


def test_final_exponentiation_of_zero_is_zero() -> None:
    zero = Fq12.from_coeffs([0] * 12)
    assert final_exponentiation(zero) == zero


# ------------------------------------------------------------ algebra (native)
@FEW
@given(scalars, scalars)
def test_bilinearity(a: int, b: int) -> None:
    e = pairing(GEN1, GEN2)
    lhs = pairing(GEN1 * a, GEN2 * b)
    assert lhs == e ** (a * b % R)
    assert lhs == pairing(GEN1 * (a * b % R), GEN2)
    assert lhs == pairing(GEN1, GEN2 * (a * b % R))
    # linear in each argument
    p2 = GEN1 * b
    assert pairing(GEN1 * a + p2, GEN2) == pairing(GEN1 * a, GEN2) * pairing(p2, GEN2)


@FEW
@given(scalars, scalars)
def test_values_have_order_r(a: int, b: int) -> None:
    e = pairing(GEN1 * a, GEN2 * b)
    assert not e.is_one()
    assert (e**R).is_one()
    assert e ** (R + 5) == e**5
    # on GT the inverse is the conjugate
    assert e.conjugate() == e.inverse()
    assert e * e.conjugate() == Fq12.one()


def test_non_degenerate() -> None:
    e = pairing(GEN1, GEN2)
    assert e != Fq12.one()
    # r is prime, so e != 1 and e^r == 1 make e a generator of GT
    assert (e**R).is_one()


def test_infinity_gives_one() -> None:
    assert pairing(G1.identity(), GEN2).is_one()
    assert pairing(GEN1, G2.identity()).is_one()
    assert pairing(G1.identity(), G2.identity()).is_one()
    assert miller_loop(G1.identity(), GEN2).is_one()


def test_miller_loop_then_final_exponentiation() -> None:
    p, q = GEN1 * 12345, GEN2 * 678
    f = miller_loop(p, q)
    assert final_exponentiation(f) == pairing(p, q)
    # Miller values multiply before one final exponentiation
    g = miller_loop(-p, q)
    assert final_exponentiation(f * g).is_one()


def test_negation() -> None:
    p, q = GEN1 * 99, GEN2 * 101
    e = pairing(p, q)
    assert pairing(-p, q) == e.conjugate()
    assert pairing(p, -q) == e.conjugate()
    assert pairing(-p, -q) == e


# -------------------------------------------------------------- product checks
def test_pairing_check_true_and_false() -> None:
    a, b = hash_int("a", 1, R), hash_int("b", 1, R)
    p, q = GEN1 * a, GEN2 * b
    ab = a * b % R
    assert pairing_check([(p, q), (-GEN1, GEN2 * ab)])
    assert pairing_check([(p, q), (GEN1 * ab, -GEN2)])
    assert not pairing_check([(p, q), (GEN1, GEN2 * ab)])
    assert not pairing_check([(p, q)])
    assert not pairing_check([(p, q), (-GEN1, GEN2 * (ab + 1))])


def test_pairing_check_with_infinity() -> None:
    p, q = GEN1 * 7, GEN2 * 11
    o1, o2 = G1.identity(), G2.identity()
    assert pairing_check([])
    assert pairing_check([(o1, q)])
    assert pairing_check([(p, o2)])
    assert pairing_check([(o1, o2), (o1, q), (p, o2)])
    assert pairing_check([(o1, q), (p, q), (p, o2), (-p, q)])
    assert not pairing_check([(o1, q), (p, q), (p, o2)])


def test_pairing_check_many_pairs() -> None:
    """More pairs than the native chunk (8): sum of a_i b_i = 0 mod r."""
    n = 11
    a = [hash_int("ma", i, R) for i in range(n)]
    b = [hash_int("mb", i, R) for i in range(n - 1)]
    last = -sum(x * y for x, y in zip(a, b, strict=False)) * pow(a[-1], -1, R) % R
    b.append(last)
    pairs = [(GEN1 * x, GEN2 * y) for x, y in zip(a, b, strict=True)]
    assert pairing_check(pairs)
    assert not pairing_check(pairs[:-1])
    pairs[3] = (pairs[3][0], pairs[3][1] + GEN2)
    assert not pairing_check(pairs)


# ------------------------------------------------------------------ prepared
def test_prepared_agrees_with_unprepared() -> None:
    a = [hash_int("pa", i, R) for i in range(4)]
    b = [hash_int("pb", i, R) for i in range(3)]
    # sum a_i b_i = 0 with b_3 chosen
    b.append(-sum(x * y for x, y in zip(a, b, strict=False)) * pow(a[3], -1, R) % R)
    ps = [GEN1 * x for x in a]
    qs = [GEN2 * y for y in b]
    preps = [PreparedG2(q) for q in qs]
    for mask in range(16):
        pairs = [(ps[i], preps[i] if mask >> i & 1 else qs[i]) for i in range(4)]
        assert pairing_check(pairs), mask
        bad = [*pairs[:3], (ps[3] + GEN1, pairs[3][1])]
        assert not pairing_check(bad), mask
    # 3 prepared + 1 plain, the Groth16 shape, and 3-pair variants
    assert pairing_check([(ps[0], preps[0]), (ps[1], preps[1]), (ps[2], preps[2]), (ps[3], qs[3])])
    assert not pairing_check([(ps[0], preps[0]), (ps[1], preps[1]), (ps[2], qs[2])])


def test_prepared_infinity_and_reuse() -> None:
    inf = PreparedG2(G2.identity())
    assert inf.point == G2.identity()
    p = GEN1 * 5
    assert pairing_check([(p, inf)])
    assert pairing_check([(p, inf), (GEN1 * 3, PreparedG2(GEN2 * 4)), (-(GEN1 * 12), GEN2)])
    prep = PreparedG2(GEN2)
    for k in range(1, 4):  # immutable: reusable any number of times
        assert pairing_check([(GEN1 * k, prep), (-(GEN1 * k), GEN2)])
    with pytest.raises(AttributeError):
        prep._point = GEN2


def test_prepared_shared_between_threads() -> None:
    prep = PreparedG2(GEN2 * 9)
    p = GEN1 * 9
    results: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        for k in range(3):
            ok = pairing_check([(p * (k + 1), prep), (-(GEN1 * (81 * (k + 1))), GEN2)])
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 9


# ------------------------------------------------------------- invalid input
OFF_CURVE_G1 = le(1) + le(1)
NONCANON_G1 = le(P) + le(2)
OFF_CURVE_G2 = le(1) + le(2) + le(3) + le(4)
NONCANON_G2 = le(P + 1) + bytes(96)


def g1b(p: G1) -> bytes:
    return p.to_bytes()


def g2b(q: G2) -> bytes:
    return q.to_bytes()


def test_out_of_subgroup_point_is_on_twist() -> None:
    bad = twist_point_bytes(0)
    N.g2_check_on_curve(bad)
    with pytest.raises(errors.NotInSubgroup):
        N.g2_check(bad)


@pytest.mark.parametrize(
    ("pb", "qb", "exc"),
    [
        (OFF_CURVE_G1, None, errors.NotOnCurve),
        (NONCANON_G1, None, errors.NonCanonicalEncoding),
        (None, OFF_CURVE_G2, errors.NotOnCurve),
        (None, NONCANON_G2, errors.NonCanonicalEncoding),
        (None, "twist", errors.NotInSubgroup),
    ],
)
def test_native_rejects_invalid_points(pb: bytes | None, qb: bytes | str | None, exc: type) -> None:
    p = pb if pb is not None else g1b(GEN1)
    q = twist_point_bytes(1) if qb == "twist" else (qb if qb is not None else g2b(GEN2))
    assert isinstance(q, bytes)
    with pytest.raises(exc):
        N.pairing(p, q)
    with pytest.raises(exc):
        N.miller_loop(p, q)
    # an invalid pair is rejected wherever it sits, even when the other pairs
    # would make the product 1 (validation happens before any Miller loop)
    good_p = g1b(GEN1 * 3) + g1b(-(GEN1 * 3))
    good_q = g2b(GEN2) * 2
    for ps, qs in ((p + good_p, q + good_q), (good_p + p, good_q + q)):
        with pytest.raises(exc):
            N.pairing_check(ps, qs)
        with pytest.raises(exc):
            N.pairing_check_prepared(ps, [qs[i : i + 128] for i in range(0, len(qs), 128)])
    if qb is not None:
        with pytest.raises(exc):
            N.G2Prepared(q)


def test_invalid_point_with_identity_partner_is_still_rejected() -> None:
    """A pair that would contribute 1 (other side at infinity) is validated too."""
    with pytest.raises(errors.NotInSubgroup):
        N.pairing(G1_INF, twist_point_bytes(2))
    with pytest.raises(errors.NotOnCurve):
        N.pairing(OFF_CURVE_G1, G2_INF)
    with pytest.raises(errors.NotInSubgroup):
        N.pairing_check(G1_INF, twist_point_bytes(2))


def test_prepared_skips_nothing_for_unprepared_pairs() -> None:
    prep = N.G2Prepared(g2b(GEN2))
    ps = g1b(GEN1) + g1b(GEN1)
    with pytest.raises(errors.NotInSubgroup):
        N.pairing_check_prepared(ps, [prep, twist_point_bytes(3)])


def test_final_exponentiation_rejects_noncanonical() -> None:
    with pytest.raises(errors.NonCanonicalEncoding):
        N.final_exponentiation(le(P) + bytes(352))
    with pytest.raises(errors.NonCanonicalEncoding):
        Fq12.from_bytes(bytes(352) + le(P))


def test_python_api_type_errors() -> None:
    with pytest.raises(errors.InvalidInput):
        pairing(GEN2, GEN1)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        pairing_check([(GEN1, GEN1)])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidInput):
        pairing_check([(GEN1,)])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidInput):
        PreparedG2(GEN1)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidLength):
        N.pairing_check(g1b(GEN1), g2b(GEN2) * 2)


def test_native_misuse_statuses() -> None:
    ffi, lib = N.ffi, N.lib
    g1 = ffi.new("zka_g1 *")
    g2 = ffi.new("zka_g2 *")
    lib.zka_g1_generator(g1)
    lib.zka_g2_generator(g2)
    out = ffi.new("zka_fq12 *")
    ok = ffi.new("int *")
    assert lib.zka_pairing(ffi.NULL, g1, g2) == lib.ZKA_ERR_NULL
    assert lib.zka_pairing(out, ffi.NULL, g2) == lib.ZKA_ERR_NULL
    assert lib.zka_miller_loop(out, g1, ffi.NULL) == lib.ZKA_ERR_NULL
    assert lib.zka_final_exponentiation(out, ffi.NULL) == lib.ZKA_ERR_NULL
    assert lib.zka_pairing_check(ffi.NULL, g1, g2, 1) == lib.ZKA_ERR_NULL
    assert lib.zka_pairing_check(ok, ffi.NULL, g2, 1) == lib.ZKA_ERR_NULL
    assert lib.zka_pairing_check(ok, g1, ffi.NULL, 1) == lib.ZKA_ERR_NULL
    ok[0] = 7
    assert lib.zka_pairing_check(ok, ffi.NULL, ffi.NULL, 0) == lib.ZKA_OK
    assert ok[0] == 1
    assert lib.zka_pairing_check_prepared(ok, g1, g2, ffi.NULL, 1) == lib.ZKA_ERR_NULL
    preps = ffi.new("zka_g2_prepared *[1]")
    assert lib.zka_pairing_check_prepared(ok, g1, ffi.NULL, preps, 1) == lib.ZKA_ERR_NULL
    pp = ffi.new("zka_g2_prepared **")
    assert lib.zka_g2_prepare(ffi.NULL, g2) == lib.ZKA_ERR_NULL
    assert lib.zka_g2_prepare(pp, ffi.NULL) == lib.ZKA_ERR_NULL
    assert pp[0] == ffi.NULL
    assert lib.zka_g2_prepare(pp, g2) == lib.ZKA_OK
    preps[0] = pp[0]
    assert lib.zka_pairing_check_prepared(ok, g1, ffi.NULL, preps, 1) == lib.ZKA_OK
    assert ok[0] == 0
    lib.zka_g2_prepared_free(pp[0])
    lib.zka_g2_prepared_free(ffi.NULL)


# ------------------------------------------------------------------- Fq12 class
def test_fq12_value_semantics() -> None:
    a, b = random_fq12(20), random_fq12(21)
    assert Fq12.from_bytes(a.to_bytes()) == a
    assert bytes(a) == a.to_bytes() and len(bytes(a)) == 384
    assert hash(Fq12.from_bytes(a.to_bytes())) == hash(a)
    assert a != b and a != a.to_bytes()
    assert a * b == b * a
    assert (a / b) * b == a
    assert a.square() == a * a
    assert a**0 == Fq12.one() and a**1 == a and a**3 == a * a * a
    assert a**-2 == (a * a).inverse()
    assert a.frobenius(12) == a and a.frobenius(6) == a.conjugate()
    assert a.frobenius(1).frobenius(1) == a.frobenius(2)
    assert Fq12.one().is_one() and not a.is_one()
    with pytest.raises(AttributeError):
        a._b = b""
    with pytest.raises(TypeError):
        Fq12()
    with pytest.raises(errors.InvalidLength):
        Fq12.from_bytes(bytes(383))
    with pytest.raises(errors.InvalidLength):
        Fq12.from_coeffs([1, 2])
    with pytest.raises(errors.NotInvertible):
        Fq12.from_coeffs([0] * 12).inverse()
