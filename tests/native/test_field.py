"""Fq and Fr of the native core against plain Python integers (and py_ecc's FQ).

Covers every exported field function on random and edge inputs (0, 1, m-1,
(m-1)/2, ...), the rejection of non-canonical encodings, inverse of zero,
square roots of residues and non-residues, pow with exponents of any length,
batch inversion against single inversion (including its "out untouched on
error" and "out may alias in" contract), both multiplication paths (the
portable one is compared through a subprocess with ZKATTEST_NO_ASM=1), and
that native/src/constants.h is exactly what native/gen/gen_constants.py
produces.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_ecc.fields import bn128_FQ as PyFQ

from zkattest import _native as N
from zkattest import errors

ROOT = Path(__file__).resolve().parents[2]
P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
assert PyFQ.field_modulus == P

FIELDS = {"fq": P, "fr": R}


def le(v: int, n: int = 32) -> bytes:
    return v.to_bytes(n, "little")


def num(b: bytes) -> int:
    return int.from_bytes(b, "little")


def fn(field: str, op: str) -> Callable[..., Any]:
    f: Callable[..., Any] = getattr(N, f"{field}_{op}")
    return f


def edge_values(m: int) -> list[int]:
    return [0, 1, 2, 3, m - 1, m - 2, (m - 1) // 2, (m + 1) // 2, 2**64 - 1, 2**64, 2**192, 2**253]


def elements(m: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(edge_values(m)), st.integers(min_value=0, max_value=m - 1))


both = pytest.mark.parametrize("field", ["fq", "fr"])


def cbuf(data: bytes) -> Any:
    """A C buffer of exactly len(data) bytes holding data."""
    buf = N.ffi.new(f"uint8_t[{len(data)}]")
    N.ffi.memmove(buf, data, len(data))
    return buf


# ------------------------------------------------------------ arithmetic
@both
@given(data=st.data())
def test_ring_ops_match_python(field: str, data: st.DataObject) -> None:
    m = FIELDS[field]
    a = data.draw(elements(m))
    b = data.draw(elements(m))
    assert num(fn(field, "add")(le(a), le(b))) == (a + b) % m
    assert num(fn(field, "sub")(le(a), le(b))) == (a - b) % m
    assert num(fn(field, "mul")(le(a), le(b))) == a * b % m
    assert num(fn(field, "sqr")(le(a))) == a * a % m
    assert num(fn(field, "neg")(le(a))) == (-a) % m


@given(a=elements(P), b=elements(P))
def test_fq_mul_matches_py_ecc(a: int, b: int) -> None:
    assert num(N.fq_mul(le(a), le(b))) == (PyFQ(a) * PyFQ(b)).n


@both
def test_edge_products(field: str) -> None:
    m = FIELDS[field]
    vals = edge_values(m)
    for a in vals:
        for b in vals:
            assert num(fn(field, "mul")(le(a), le(b))) == a * b % m
            assert num(fn(field, "add")(le(a), le(b))) == (a + b) % m
            assert num(fn(field, "sub")(le(a), le(b))) == (a - b) % m


@both
@given(data=st.data())
def test_inverse(field: str, data: st.DataObject) -> None:
    m = FIELDS[field]
    a = data.draw(st.integers(min_value=1, max_value=m - 1))
    assert num(fn(field, "inv")(le(a))) == pow(a, -1, m)


@both
def test_inverse_edges(field: str) -> None:
    m = FIELDS[field]
    for a in edge_values(m)[1:]:
        assert num(fn(field, "inv")(le(a))) == pow(a, -1, m)
    with pytest.raises(errors.NotInvertible):
        fn(field, "inv")(le(0))


# ------------------------------------------------------------ encodings
@both
def test_noncanonical_rejected(field: str) -> None:
    m = FIELDS[field]
    fn(field, "check")(le(m - 1))
    fn(field, "check")(le(0))
    for bad in (m, m + 1, 2 * m, 2**255, 2**256 - 1):
        with pytest.raises(errors.NonCanonicalEncoding):
            fn(field, "check")(le(bad))
        with pytest.raises(errors.NonCanonicalEncoding):
            fn(field, "mul")(le(1), le(bad))
        with pytest.raises(errors.NonCanonicalEncoding):
            fn(field, "add")(le(bad), le(1))
        with pytest.raises(errors.NonCanonicalEncoding):
            fn(field, "inv")(le(bad))
        with pytest.raises(errors.NonCanonicalEncoding):
            fn(field, "pow")(le(bad), b"\x01")
        with pytest.raises(errors.NonCanonicalEncoding):
            fn(field, "batch_inv")(le(1) + le(bad))


@both
@given(data=st.data())
def test_reduce(field: str, data: st.DataObject) -> None:
    m = FIELDS[field]
    raw = data.draw(st.binary(min_size=0, max_size=64))
    assert num(fn(field, "reduce")(raw)) == num(raw) % m


@both
def test_reduce_edges(field: str) -> None:
    m = FIELDS[field]
    for n in range(65):
        for v in (2 ** (8 * n) - 1, 0, (m * 5 + 3) % 2 ** (8 * n) if n else 0):
            assert num(fn(field, "reduce")(le(v, n))) == v % m
    for v in (m, 2 * m, 5 * m + 1, 2**256 - 1, m * m, 2**512 - 1, m * 2**256 + m - 1):
        assert num(fn(field, "reduce")(le(v, 64))) == v % m
    with pytest.raises(errors.InvalidLength):
        fn(field, "reduce")(bytes(65))


# ------------------------------------------------------------ pow
@both
@given(data=st.data())
def test_pow_matches_python(field: str, data: st.DataObject) -> None:
    m = FIELDS[field]
    a = data.draw(elements(m))
    e = data.draw(st.binary(min_size=0, max_size=80))
    assert num(fn(field, "pow")(le(a), e)) == pow(a, num(e), m)


@both
def test_pow_edges(field: str) -> None:
    m = FIELDS[field]
    a = 0x1234567890ABCDEF % m
    assert num(fn(field, "pow")(le(a), b"")) == 1
    assert num(fn(field, "pow")(le(0), b"")) == 1  # 0^0 = 1 like Python
    assert num(fn(field, "pow")(le(0), b"\x00\x00")) == 1
    assert num(fn(field, "pow")(le(0), b"\x05")) == 0
    assert num(fn(field, "pow")(le(a), le(m - 1))) == 1
    assert num(fn(field, "pow")(le(a), le(m - 2))) == pow(a, -1, m)
    big = 3**700  # a long exponent (> 1000 bits)
    eb = le(big, (big.bit_length() + 7) // 8 + 5)  # with leading zero bytes
    assert num(fn(field, "pow")(le(a), eb)) == pow(a, big, m)


# ------------------------------------------------------------ batch inverse
@both
@given(data=st.data())
def test_batch_inv_matches_single(field: str, data: st.DataObject) -> None:
    m = FIELDS[field]
    vals = data.draw(st.lists(st.integers(min_value=1, max_value=m - 1), min_size=0, max_size=40))
    out = fn(field, "batch_inv")(b"".join(le(v) for v in vals))
    assert [num(out[32 * i : 32 * i + 32]) for i in range(len(vals))] == [
        num(fn(field, "inv")(le(v))) for v in vals
    ]


@both
def test_batch_inv_zero_leaves_out_untouched(field: str) -> None:
    ffi, lib = N.ffi, N.lib
    m = FIELDS[field]
    cfn = getattr(lib, f"zka_{field}_batch_inv")
    ctype = f"zka_{field}"
    for zero_at in (0, 3, 6):
        vals = [(i * 7919 + 1) % m for i in range(7)]
        vals[zero_at] = 0
        src = cbuf(b"".join(le(v) for v in vals))
        out = cbuf(b"\xab" * (32 * 7))
        st_ = cfn(ffi.cast(ctype + " *", out), ffi.cast(ctype + " *", src), 7)
        assert st_ == lib.ZKA_ERR_NOT_INVERTIBLE
        assert bytes(ffi.buffer(out)) == b"\xab" * (32 * 7)
    with pytest.raises(errors.NotInvertible):
        fn(field, "batch_inv")(le(5) + le(0))


@both
def test_batch_inv_in_place(field: str) -> None:
    ffi, lib = N.ffi, N.lib
    m = FIELDS[field]
    vals = [1, 2, m - 1, (m - 1) // 2, 12345, 2**200 % m]
    buf = cbuf(b"".join(le(v) for v in vals))
    p = ffi.cast(f"zka_{field} *", buf)
    assert getattr(lib, f"zka_{field}_batch_inv")(p, p, len(vals)) == lib.ZKA_OK
    got = bytes(ffi.buffer(buf))
    assert [num(got[32 * i : 32 * i + 32]) for i in range(len(vals))] == [
        pow(v, -1, m) for v in vals
    ]
    assert fn(field, "batch_inv")(b"") == b""


# ------------------------------------------------------------ square roots
@given(a=elements(P))
def test_fq_sqrt(a: int) -> None:
    is_qr = a == 0 or pow(a, (P - 1) // 2, P) == 1
    if is_qr:
        r = num(N.fq_sqrt(le(a)))
        assert r * r % P == a
    else:
        with pytest.raises(errors.NoSquareRoot):
            N.fq_sqrt(le(a))


@given(a=elements(P))
def test_fq_sqrt_of_square(a: int) -> None:
    r = num(N.fq_sqrt(le(a * a % P)))
    assert r in (a, (P - a) % P)


def test_fq_sqrt_edges() -> None:
    assert num(N.fq_sqrt(le(0))) == 0
    assert num(N.fq_sqrt(le(1))) in (1, P - 1)
    with pytest.raises(errors.NoSquareRoot):
        N.fq_sqrt(le(P - 1))  # -1 is a non-residue (p = 3 mod 4)
    with pytest.raises(errors.NoSquareRoot):
        N.fq_sqrt(le(3))  # 3 is a non-residue mod p
    with pytest.raises(errors.NonCanonicalEncoding):
        N.fq_sqrt(le(P))


# ------------------------------------------------------------ mul paths
def _mul_loop_cases() -> list[tuple[int, int, int]]:
    return [
        (1, 2, 1000),
        (P - 1, P - 1, 3),
        (0x1234, P - 2, 20000),
        (2**253 + 12345, (P - 1) // 2, 777),
        (5, 0, 4),
    ]


def test_mul_loop_matches_python() -> None:
    for x, y, n in _mul_loop_cases():
        assert num(N.fq_mul_loop(le(x), le(y), n)) == x * pow(y, n, P) % P
    assert N.fq_mul_loop(le(7), le(9), 0) == le(7)


_SUBPROCESS = """
import sys
from zkattest import _native as N
P = {P}
cases = {cases}
def le(v):
    return v.to_bytes(32, "little")
def num(b):
    return int.from_bytes(b, "little")
out = [num(N.fq_mul_loop(le(x), le(y), n)) for x, y, n in cases]
for a, b in [(P - 1, P - 2), (2**200 + 1, 3**150 % P)]:
    out.append(num(N.fr_mul(le(a % {R}), le(b % {R}))))
print(N.cpu_features(), *out)
"""


def _run_paths(no_asm: bool) -> list[int]:
    env = dict(os.environ)
    env.pop("ZKATTEST_NO_ASM", None)
    if no_asm:
        env["ZKATTEST_NO_ASM"] = "1"
    code = _SUBPROCESS.format(P=P, R=R, cases=_mul_loop_cases())
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return [int(w) for w in res.stdout.split()]


def test_portable_and_asm_paths_agree() -> None:
    """Both multiplication paths give the Python answer (on a CPU without ADX
    both runs use the portable path, and the comparison still holds)."""
    portable = _run_paths(no_asm=True)
    native = _run_paths(no_asm=False)
    assert portable[0] == 0
    expected = [x * pow(y, n, P) % P for x, y, n in _mul_loop_cases()]
    expected += [(P - 1) % R * ((P - 2) % R) % R, (2**200 + 1) % R * (3**150 % P % R) % R]
    assert portable[1:] == expected
    assert native[1:] == expected


# ------------------------------------------------------------ generated constants
def test_constants_header_is_reproducible(tmp_path: Path) -> None:
    out = tmp_path / "constants.h"
    subprocess.run(
        [sys.executable, str(ROOT / "native" / "gen" / "gen_constants.py"), str(out)],
        check=True,
    )
    assert out.read_bytes() == (ROOT / "native" / "src" / "constants.h").read_bytes()
    # and the same text on stdout
    res = subprocess.run(
        [sys.executable, str(ROOT / "native" / "gen" / "gen_constants.py")],
        check=True,
        capture_output=True,
    )
    assert res.stdout == out.read_bytes()


def test_constants_header_values() -> None:
    """Spot-check generated values against independent Python arithmetic."""
    text = (ROOT / "native" / "src" / "constants.h").read_text()

    def limbs(name: str) -> int:
        line = next(ln for ln in text.splitlines() if f" {name}[4] = " in ln)
        words = [
            int(w.split("(")[1].rstrip(")"), 16)
            for w in line.split("{")[1].split("}")[0].split(", ")
        ]
        return sum(w << (64 * i) for i, w in enumerate(words))

    assert limbs("FQ_MODULUS") == P
    assert limbs("FR_MODULUS") == R
    assert limbs("FQ_R2") == pow(2, 512, P)
    assert limbs("FR_R2") == pow(2, 512, R)
    assert limbs("FQ_ONE") == pow(2, 256, P)
    assert limbs("FQ_SQRT_EXP") == (P + 1) // 4
    x = 4965661367192848881
    assert limbs("BN_6X2") == 6 * x * x
    assert "#define FR_TWO_ADICITY 28" in text
    root = limbs("FR_ROOT_OF_UNITY_MONT") * pow(2, -256, R) % R
    assert pow(root, 2**28, R) == 1 and pow(root, 2**27, R) == R - 1
