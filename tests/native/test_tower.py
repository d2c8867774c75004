"""Fq2, Fq6, Fq12 of the native core against py_ecc.fields (bn128_FQ2, bn128_FQ12).

Our tower:  Fq2 = Fq[u]/(u^2+1),  Fq6 = Fq2[v]/(v^3-(9+u)),  Fq12 = Fq6[w]/(w^2-v).
py_ecc's FQ12 is Fq[W]/(W^12 - 18 W^6 + 82), a flat degree-12 extension.  The
isomorphism used here: w -> W, v -> W^2, u -> W^6 - 9 (then u^2 = W^12 - 18W^6 + 81
= -1 and w^6 = W^6 = 9 + u).  An Fq12 element of ours is sum_k c_k w^k with c_k in
Fq2 (c0.c0, c0.c1, c0.c2 hold k = 0, 2, 4; c1.c0, c1.c1, c1.c2 hold k = 1, 3, 5);
c_k = x + y u maps to (x - 9y) W^k + y W^(k+6).  Fq6 elements are tested as Fq12
elements with c1 = 0.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_ecc.fields import bn128_FQ2 as FQ2
from py_ecc.fields import bn128_FQ12 as FQ12

from zkattest import _native as N
from zkattest import errors

P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
assert FQ2.field_modulus == P

# our coefficient slot i (0..5, storage order) holds the power w^K_OF_SLOT[i]
K_OF_SLOT = [0, 2, 4, 1, 3, 5]


def le(v: int) -> bytes:
    return v.to_bytes(32, "little")


def enc(xs: list[int]) -> bytes:
    return b"".join(le(x) for x in xs)


def dec(b: bytes) -> list[int]:
    return [int.from_bytes(b[i : i + 32], "little") for i in range(0, len(b), 32)]


def to_ecc(xs: list[int]) -> FQ12:
    """Our 12 Fq coordinates (storage order) -> py_ecc FQ12."""
    assert len(xs) == 12
    e = [0] * 12
    for slot, k in enumerate(K_OF_SLOT):
        x, y = xs[2 * slot], xs[2 * slot + 1]
        e[k] = (x - 9 * y) % P
        e[k + 6] = y
    return FQ12(e)


def from_ecc(f: FQ12) -> list[int]:
    e = [int(c) for c in f.coeffs]
    out: list[int] = []
    for k in K_OF_SLOT:
        y = e[k + 6]
        out += [(e[k] + 9 * y) % P, y]
    return out


def fq6_to_ecc(xs: list[int]) -> FQ12:
    return to_ecc(list(xs) + [0] * 6)


fq = st.one_of(st.sampled_from([0, 1, 2, P - 1, P - 2, (P - 1) // 2]), st.integers(0, P - 1))


def vec(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(fq, min_size=n, max_size=n)


# ------------------------------------------------------------ the basis map
def unit(slot: int, part: int) -> list[int]:
    xs = [0] * 12
    xs[2 * slot + part] = 1
    return xs


def test_basis_conversion() -> None:
    w = FQ12([0, 1] + [0] * 10)
    assert to_ecc(unit(0, 0)) == FQ12.one()
    assert to_ecc(unit(0, 1)) == w**6 - FQ12([9] + [0] * 11)  # u
    assert to_ecc(unit(1, 0)) == w**2  # v
    assert to_ecc(unit(3, 0)) == w  # w
    u = to_ecc(unit(0, 1))
    assert u * u == -FQ12.one()
    assert w**6 == FQ12([9] + [0] * 11) + u  # w^6 = xi
    for slot in range(6):
        for part in range(2):
            xs = unit(slot, part)
            assert from_ecc(to_ecc(xs)) == xs


@given(xs=vec(12))
def test_conversion_round_trip(xs: list[int]) -> None:
    assert from_ecc(to_ecc(xs)) == xs


# ------------------------------------------------------------ Fq2
@given(a=vec(2), b=vec(2))
def test_fq2_ops(a: list[int], b: list[int]) -> None:
    x, y = FQ2(a), FQ2(b)
    assert FQ2(dec(N.fq2_add(enc(a), enc(b)))) == x + y
    assert FQ2(dec(N.fq2_sub(enc(a), enc(b)))) == x - y
    assert FQ2(dec(N.fq2_mul(enc(a), enc(b)))) == x * y
    assert FQ2(dec(N.fq2_sqr(enc(a)))) == x * x


@given(a=vec(2))
def test_fq2_inv(a: list[int]) -> None:
    if a == [0, 0]:
        with pytest.raises(errors.NotInvertible):
            N.fq2_inv(enc(a))
        return
    inv = FQ2(dec(N.fq2_inv(enc(a))))
    assert inv * FQ2(a) == FQ2.one()


def _fq2_is_square(a: list[int]) -> bool:
    # a is a square in Fq2 iff its norm a0^2 + a1^2 is a square in Fq
    n = (a[0] * a[0] + a[1] * a[1]) % P
    return n == 0 or pow(n, (P - 1) // 2, P) == 1


@given(a=vec(2))
def test_fq2_sqrt(a: list[int]) -> None:
    if _fq2_is_square(a):
        r = FQ2(dec(N.fq2_sqrt(enc(a))))
        assert r * r == FQ2(a)
    else:
        with pytest.raises(errors.NoSquareRoot):
            N.fq2_sqrt(enc(a))


@given(a=vec(2))
def test_fq2_sqrt_of_square(a: list[int]) -> None:
    sq = FQ2(a) * FQ2(a)
    r = FQ2(dec(N.fq2_sqrt(enc([int(c) for c in sq.coeffs]))))
    assert r in (FQ2(a), -FQ2(a))


def test_fq2_edges() -> None:
    assert dec(N.fq2_sqrt(enc([0, 0]))) == [0, 0]
    # -1 is a square in Fq2 (u^2 = -1), c1-only and c0-only inputs
    r = FQ2(dec(N.fq2_sqrt(enc([P - 1, 0]))))
    assert r * r == FQ2([P - 1, 0])
    for a in ([3, 0], [0, 3], [5, 0], [0, 1], [P - 1, 0], [P - 1, P - 1], [1, 1]):
        if a[1] == 0:
            assert _fq2_is_square(a)  # every Fq element is a square in Fq2
        if _fq2_is_square(a):
            r = FQ2(dec(N.fq2_sqrt(enc(a))))
            assert r * r == FQ2(a)
        else:
            with pytest.raises(errors.NoSquareRoot):
                N.fq2_sqrt(enc(a))
    with pytest.raises(errors.NoSquareRoot):
        N.fq2_sqrt(enc([9, 1]))  # xi is a non-residue (the tower needs it)
    with pytest.raises(errors.NotInvertible):
        N.fq2_inv(enc([0, 0]))
    for bad in ([P, 0], [0, P], [2**256 - 1, 1]):
        with pytest.raises(errors.NonCanonicalEncoding):
            N.fq2_mul(enc(bad), enc([1, 0]))
        with pytest.raises(errors.NonCanonicalEncoding):
            N.fq2_sqrt(enc(bad))


# ------------------------------------------------------------ Fq6
@given(a=vec(6), b=vec(6))
def test_fq6_mul(a: list[int], b: list[int]) -> None:
    got = dec(N.fq6_mul(enc(a), enc(b)))
    assert fq6_to_ecc(got) == fq6_to_ecc(a) * fq6_to_ecc(b)


@given(a=vec(6))
def test_fq6_inv(a: list[int]) -> None:
    if not any(a):
        with pytest.raises(errors.NotInvertible):
            N.fq6_inv(enc(a))
        return
    got = dec(N.fq6_inv(enc(a)))
    assert fq6_to_ecc(got) * fq6_to_ecc(a) == FQ12.one()


def test_fq6_edges() -> None:
    with pytest.raises(errors.NotInvertible):
        N.fq6_inv(bytes(192))
    one = [1] + [0] * 5
    assert dec(N.fq6_inv(enc(one))) == one
    v = [0, 0, 1, 0, 0, 0]
    v2 = dec(N.fq6_mul(enc(v), enc(v)))
    assert v2 == [0, 0, 0, 0, 1, 0]
    v3 = dec(N.fq6_mul(enc(v2), enc(v)))
    assert v3 == [9, 1, 0, 0, 0, 0]  # v^3 = xi
    with pytest.raises(errors.NonCanonicalEncoding):
        N.fq6_mul(enc([0] * 5 + [P]), enc(one))


# ------------------------------------------------------------ Fq12
@given(a=vec(12), b=vec(12))
def test_fq12_mul_sqr(a: list[int], b: list[int]) -> None:
    x, y = to_ecc(a), to_ecc(b)
    assert to_ecc(dec(N.fq12_mul(enc(a), enc(b)))) == x * y
    assert to_ecc(dec(N.fq12_sqr(enc(a)))) == x * x


@given(a=vec(12))
def test_fq12_inv_conj(a: list[int]) -> None:
    x = to_ecc(a)
    if any(a):
        assert to_ecc(dec(N.fq12_inv(enc(a)))) * x == FQ12.one()
    else:
        with pytest.raises(errors.NotInvertible):
            N.fq12_inv(enc(a))
    # conj = a^(p^6): w -> -w
    conj = dec(N.fq12_conj(enc(a)))
    assert conj == dec(N.fq12_frobenius(enc(a), 6))
    assert conj[:6] == a[:6] and all((c + d) % P == 0 for c, d in zip(conj[6:], a[6:], strict=True))


def test_fq12_frobenius_against_pow() -> None:
    a = [(i * 0x9E3779B97F4A7C15 + 12345) ** 3 % P for i in range(12)]
    x = to_ecc(a)
    assert dec(N.fq12_frobenius(enc(a), 0)) == a
    assert to_ecc(dec(N.fq12_frobenius(enc(a), 1))) == x**P
    assert to_ecc(dec(N.fq12_frobenius(enc(a), 2))) == x ** (P * P)


@given(a=vec(12), b=vec(12))
def test_fq12_frobenius_structure(a: list[int], b: list[int]) -> None:
    """frob^k = (frob^1)^k, frob^12 = id, frob is multiplicative."""
    cur = enc(a)
    for k in range(1, 12):
        cur = N.fq12_frobenius(cur, 1)
        assert cur == N.fq12_frobenius(enc(a), k)
    assert N.fq12_frobenius(cur, 1) == enc(a)
    k = (a[0] + b[0]) % 12
    lhs = N.fq12_frobenius(N.fq12_mul(enc(a), enc(b)), k)
    rhs = N.fq12_mul(N.fq12_frobenius(enc(a), k), N.fq12_frobenius(enc(b), k))
    assert lhs == rhs


def test_fq12_frobenius_fixes_fq() -> None:
    a = [7] + [0] * 11
    for k in range(12):
        assert dec(N.fq12_frobenius(enc(a), k)) == a


def test_fq12_edges() -> None:
    one = enc([1] + [0] * 11)
    assert N.fq12_mul(one, one) == one
    assert N.fq12_inv(one) == one
    with pytest.raises(errors.NotInvertible):
        N.fq12_inv(bytes(384))
    with pytest.raises(errors.InvalidParameter):
        N.fq12_frobenius(one, 12)
    bad = enc([0] * 11 + [P])
    for f in (N.fq12_sqr, N.fq12_inv, N.fq12_conj):
        with pytest.raises(errors.NonCanonicalEncoding):
            f(bad)
    with pytest.raises(errors.NonCanonicalEncoding):
        N.fq12_mul(one, bad)
    with pytest.raises(errors.NonCanonicalEncoding):
        N.fq12_frobenius(bad, 1)
    # w^2 = v
    w = enc(unit(3, 0))
    assert dec(N.fq12_sqr(w)) == unit(1, 0)
