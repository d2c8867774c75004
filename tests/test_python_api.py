"""The user-facing classes over the native core: Fr, Fq, G1, G2, msm, Domain, poseidon."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_ecc import optimized_bn128 as bn

from zkattest import _native, errors
from zkattest.curve import G1, G2, msm
from zkattest.field import Fq, Fr, P, R
from zkattest.ntt import Domain
from zkattest.poseidon import constants, permute, poseidon, poseidon_many

ROOT = Path(__file__).resolve().parent.parent
scalars = st.integers(min_value=0, max_value=R - 1)


def _pyecc_g2(p: G2) -> tuple[object, object, object]:
    xy = p.xy
    if xy is None:
        return bn.Z2
    (x0, x1), (y0, y1) = xy
    return (bn.FQ2([x0, x1]), bn.FQ2([y0, y1]), bn.FQ2.one())


# ------------------------------------------------------------------ fields
@given(scalars, scalars)
def test_fr_arithmetic_matches_native(a: int, b: int) -> None:
    fa, fb = Fr(a), Fr(b)
    ab, bb = fa.to_bytes(), fb.to_bytes()
    assert (fa + fb).to_bytes() == _native.fr_add(ab, bb)
    assert (fa - fb).to_bytes() == _native.fr_sub(ab, bb)
    assert (fa * fb).to_bytes() == _native.fr_mul(ab, bb)
    assert (-fa).to_bytes() == _native.fr_neg(ab)
    if a:
        assert fa.inverse().to_bytes() == _native.fr_inv(ab)


def test_field_encoding_rejects_noncanonical() -> None:
    with pytest.raises(errors.NonCanonicalEncoding):
        Fr.from_bytes(R.to_bytes(32, "little"))
    with pytest.raises(errors.NonCanonicalEncoding):
        Fq.from_bytes(P.to_bytes(32, "little"))
    with pytest.raises(errors.InvalidLength):
        Fr.from_bytes(b"\x00" * 31)
    with pytest.raises(errors.NonCanonicalEncoding):
        Fr.canonical(R)
    assert Fr.from_bytes((R - 1).to_bytes(32, "little")) == R - 1
    assert isinstance(errors.NonCanonicalEncoding("x"), ValueError)


def test_field_misc() -> None:
    assert Fr(R + 5) == 5
    assert Fr(-1) == R - 1
    assert Fr(7) / Fr(7) == 1
    assert Fr(3) ** -1 * 3 == 1
    with pytest.raises(errors.NotInvertible):
        Fr(0).inverse()
    with pytest.raises(ZeroDivisionError):
        Fr(5) / 0
    with pytest.raises(AttributeError):
        Fr(1)._v = 3  # type: ignore[misc]
    with pytest.raises(errors.InvalidInput):
        Fr("1")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        Fr(Fq(1))
    vals = [Fr(i) for i in range(1, 50)]
    assert Fr.batch_inverse(vals) == [v.inverse() for v in vals]
    with pytest.raises(errors.NotInvertible):
        Fr.batch_inverse([Fr(1), Fr(0)])
    r = Fq(4).sqrt()
    assert r * r == 4
    with pytest.raises(errors.NoSquareRoot):
        Fq(P - 1).sqrt()  # -1 is a non-residue mod p (p = 3 mod 4)


# ------------------------------------------------------------------ groups
@given(scalars, scalars)
def test_g1_ops_match_py_ecc(a: int, b: int) -> None:
    g = G1.generator()
    pa, pb = g * a, g * b
    expect = bn.add(bn.multiply(bn.G1, a), bn.multiply(bn.G1, b))
    got = (pa + pb).xy
    if bn.is_inf(expect):
        assert got is None
    else:
        ex, ey = bn.normalize(expect)
        assert got == (ex.n, ey.n)
    assert pa - pa == G1.identity()
    assert pa.double() == pa + pa
    assert G1.decompress(pa.compress()) == pa
    assert G1.from_bytes(pa.to_bytes()) == pa


@given(st.integers(min_value=1, max_value=R - 1))
def test_g2_mul_matches_py_ecc(a: int) -> None:
    got = G2.generator() * a
    assert bn.eq(_pyecc_g2(got), bn.multiply(bn.G2, a))
    assert G2.decompress(got.compress()) == got
    assert got + (-got) == G2.identity()


def test_point_validation() -> None:
    with pytest.raises(errors.NotOnCurve):
        G1.from_xy(1, 3)
    with pytest.raises(errors.NonCanonicalEncoding):
        G1.from_xy(1 + P, 2)
    with pytest.raises(errors.InvalidLength):
        G1.from_bytes(b"\x00" * 63)
    with pytest.raises(errors.NotOnCurve):
        G2.from_xy((1, 0), (2, 0))
    assert G1.from_xy(1, 2) == G1.generator()
    assert G1.from_bytes(bytes(64)).is_identity()
    with pytest.raises(TypeError):
        G1()
    assert hash(G1.generator()) == hash(G1.from_xy(1, 2))
    assert repr(G1.identity()) == "G1(infinity)"


def test_msm_wrapper() -> None:
    g1, g2 = G1.generator(), G2.generator()
    assert msm([g1, g1 * 2], [3, Fr(4)]) == g1 * 11
    assert msm([g2, g2], [R - 1, 1]) == G2.identity()
    assert msm([], []) == G1.identity()
    with pytest.raises(errors.InvalidLength):
        msm([g1], [1, 2])
    with pytest.raises(errors.InvalidInput):
        msm([g1, g2], [1, 2])  # type: ignore[list-item]


# ------------------------------------------------------------------ NTT, Poseidon
def test_domain_wrapper() -> None:
    d = Domain(3)
    assert d.n == 8
    assert pow(d.omega, 8, R) == 1 and pow(d.omega, 4, R) != 1
    vals = [5, 1, 0, 7, R - 1, 3, 3, 9]
    ev = d.forward(vals)
    assert ev[1] == sum(v * pow(d.omega, i, R) for i, v in enumerate(vals)) % R
    assert d.inverse(ev) == vals
    assert d.coset_inverse(d.coset_forward(vals, 7), 7) == vals
    with pytest.raises(errors.InvalidParameter):
        Domain(29)
    with pytest.raises(errors.InvalidLength):
        d.forward([1, 2, 3])


def test_poseidon_wrapper() -> None:
    assert poseidon([1, 2]) == (
        7853200120776062878684798364095072458815029376092732009249414926327459813530
    )
    assert poseidon_many([[1, 2], [3, 4]]) == [poseidon([1, 2]), poseidon([3, 4])]
    assert permute([0, 1, 2])[0] == poseidon([1, 2])
    p = constants(3)
    assert (p.full_rounds, p.partial_rounds) == (8, 57)
    assert len(p.round_constants) == 65 * 3 and len(p.mds) == 3
    with pytest.raises(errors.InvalidParameter):
        poseidon([])
    with pytest.raises(errors.InvalidParameter):
        poseidon(list(range(17)))
    with pytest.raises(errors.NonCanonicalEncoding):
        poseidon([R])


def test_native_wrapper_checks_lengths_and_types() -> None:
    with pytest.raises(errors.InvalidLength):
        _native.fr_add(b"\x00" * 31, b"\x00" * 32)
    with pytest.raises(errors.InvalidInput):
        _native.fr_add("x" * 32, b"\x00" * 32)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidLength):
        _native.g1s_msm(b"\x00" * 64, b"\x00" * 64, 1)
    with pytest.raises(errors.InvalidParameter):
        _native.g1s_msm(b"", b"", 1000)


def test_readme_snippet_runs() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no python snippet"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
