"""Random and malformed input into every native entry point that decodes or parses.

Every call goes through ``zkattest._native`` (the boundary) with bytes hypothesis
draws: arbitrary bytes, values next to the moduli, valid encodings with a few bits
changed.  Each call must either succeed or raise a :mod:`zkattest.errors` exception;
where the answer is simple to state it is compared with a plain Python reference
(accepted iff canonical / on the curve; values equal to Python integer arithmetic).
Nothing may crash the process: ``.ci/run`` runs this file under the ASan/UBSan build,
where an out-of-bounds read, an overflow or an oversized allocation aborts.

Covered: Fr/Fq decoding and arithmetic, ``reduce``/``pow`` with any length,
batch inversion, square roots, the towers, G1/G2 uncompressed and compressed
decoding, group operations on arbitrary points, the G2 subgroup check, MSM and
fixed-base batches with odd sizes and invalid elements, NTT domains and sizes,
Poseidon (hash, batches, permutation, parameters), pairings (prepared or not), the
``.zkey`` parser (truncation, bit flips, forged section and header sizes) and the
prover's witness checks.  (R1CS and witness files are parsed in Python, not here.)
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from py_ecc import optimized_bn128 as _bn

from zkattest import _native as N
from zkattest import errors

bn: Any = _bn  # py_ecc has no type information
P = bn.field_modulus
R = bn.curve_order
FQ2 = bn.FQ2
T = TypeVar("T")

# -- helpers ---------------------------------------------------------------------------------------


def le(v: int, n: int = 32) -> bytes:
    return v.to_bytes(n, "little")


def un(b: bytes) -> int:
    return int.from_bytes(b, "little")


def outcome(fn: Callable[..., T], *args: Any) -> T | errors.ZkAttestError:
    """The result, or the library's exception; anything else fails the test."""
    try:
        return fn(*args)
    except errors.ZkAttestError as e:
        return e


def near(modulus: int) -> st.SearchStrategy[int]:
    """Integers that fit 256 bits with weight on the boundaries of ``modulus``."""
    return st.one_of(
        st.integers(0, 2**256 - 1),
        st.integers(0, 8),
        st.integers(-8, 8).map(lambda d: modulus + d),
        st.integers(1, 8).map(lambda d: 2**256 - d),
        st.integers(0, 3).map(lambda k: k * modulus),
    ).filter(lambda v: 0 <= v < 2**256)


def elem(modulus: int) -> st.SearchStrategy[bytes]:
    """32-byte little-endian encodings, canonical or not, or arbitrary bytes."""
    return st.one_of(near(modulus).map(le), st.binary(min_size=32, max_size=32))


FR_ELEM = elem(R)
FQ_ELEM = elem(P)


def canonical_fr(n: int) -> st.SearchStrategy[bytes]:
    return st.lists(st.integers(0, R - 1), min_size=n, max_size=n).map(
        lambda vs: b"".join(le(v) for v in vs)
    )


# -- fields ----------------------------------------------------------------------------------------

FIELDS = pytest.mark.parametrize(("name", "mod"), [("fr", R), ("fq", P)], ids=["fr", "fq"])


@FIELDS
@given(data=st.data())
def test_field_decoding_and_arithmetic(name: str, mod: int, data: st.DataObject) -> None:
    a = data.draw(elem(mod))
    b = data.draw(elem(mod))
    x, y = un(a), un(b)
    ok = x < mod and y < mod
    got = outcome(getattr(N, f"{name}_check"), a)
    assert (got is None) == (x < mod)
    if x >= mod:
        assert isinstance(got, errors.NonCanonicalEncoding)
    expect: dict[str, Callable[[], int]] = {
        "add": lambda: (x + y) % mod,
        "sub": lambda: (x - y) % mod,
        "mul": lambda: x * y % mod,
    }
    for op, ref in expect.items():
        r = outcome(getattr(N, f"{name}_{op}"), a, b)
        if ok:
            assert r == le(ref()), op
        else:
            assert isinstance(r, errors.NonCanonicalEncoding), (op, r)
    unary: dict[str, Callable[[], int]] = {
        "neg": lambda: -x % mod,
        "sqr": lambda: x * x % mod,
        "inv": lambda: pow(x, -1, mod),
    }
    for op, ref1 in unary.items():
        r = outcome(getattr(N, f"{name}_{op}"), a)
        if x >= mod:
            assert isinstance(r, errors.NonCanonicalEncoding), (op, r)
        elif op == "inv" and x == 0:
            assert isinstance(r, errors.NotInvertible)
        else:
            assert r == le(ref1()), op


@FIELDS
@given(data=st.binary(max_size=100))
def test_reduce_any_length(name: str, mod: int, data: bytes) -> None:
    r = outcome(getattr(N, f"{name}_reduce"), data)
    if len(data) <= 64:
        assert r == le(un(data) % mod)
    else:
        assert isinstance(r, errors.InvalidLength), r


@FIELDS
@given(a=st.data(), e=st.binary(max_size=100))
def test_pow_any_exponent(name: str, mod: int, a: st.DataObject, e: bytes) -> None:
    base = a.draw(elem(mod))
    r = outcome(getattr(N, f"{name}_pow"), base, e)
    if un(base) >= mod:
        assert isinstance(r, errors.NonCanonicalEncoding), r
    else:
        assert r == le(pow(un(base), un(e), mod))


@FIELDS
@given(data=st.data())
def test_batch_inv_any_elements(name: str, mod: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.one_of(elem(mod), st.just(bytes(32))), max_size=20))
    raw = b"".join(values) + data.draw(st.sampled_from([b"", b"\x01", bytes(31)]))
    r = outcome(getattr(N, f"{name}_batch_inv"), raw)
    if len(raw) % 32:
        assert isinstance(r, errors.InvalidLength)
        return
    ints = [un(v) for v in values]
    if any(v >= mod for v in ints):
        assert isinstance(r, errors.NonCanonicalEncoding), r
    elif 0 in ints:
        assert isinstance(r, errors.NotInvertible), r
    else:
        assert r == b"".join(le(pow(v, -1, mod)) for v in ints)


@given(a=FQ_ELEM)
def test_fq_sqrt_any(a: bytes) -> None:
    x = un(a)
    r = outcome(N.fq_sqrt, a)
    if x >= P:
        assert isinstance(r, errors.NonCanonicalEncoding)
    elif pow(x, (P - 1) // 2, P) in (0, 1):  # Euler: a square
        assert isinstance(r, bytes) and un(r) ** 2 % P == x
    else:
        assert isinstance(r, errors.NoSquareRoot)


def fq2(b: bytes) -> Any:
    return FQ2([un(b[:32]), un(b[32:64])])


@given(c0=FQ_ELEM, c1=FQ_ELEM)
def test_fq2_sqrt_and_inv_any(c0: bytes, c1: bytes) -> None:
    a = c0 + c1
    canonical = un(c0) < P and un(c1) < P
    r = outcome(N.fq2_sqrt, a)
    if not canonical:
        assert isinstance(r, errors.NonCanonicalEncoding)
    elif isinstance(r, bytes):
        assert fq2(r) * fq2(r) == fq2(a)
    else:
        assert isinstance(r, errors.NoSquareRoot)
    r = outcome(N.fq2_inv, a)
    if not canonical:
        assert isinstance(r, errors.NonCanonicalEncoding)
    elif fq2(a) == FQ2([0, 0]):
        assert isinstance(r, errors.NotInvertible)
    else:
        assert isinstance(r, bytes) and fq2(r) * fq2(a) == FQ2([1, 0])


def tower_elem(n: int) -> st.SearchStrategy[bytes]:
    return st.lists(FQ_ELEM, min_size=n, max_size=n).map(b"".join)


@given(a=tower_elem(6), b=tower_elem(6), c=tower_elem(12), d=tower_elem(12), power=st.data())
def test_towers_any_bytes(a: bytes, b: bytes, c: bytes, d: bytes, power: st.DataObject) -> None:
    """Fq6/Fq12 operations and the Frobenius map: a result of the right size or a
    library error (non-canonical coefficients, zero inverse, power out of range)."""
    calls: list[tuple[Callable[..., Any], tuple[Any, ...], int]] = [
        (N.fq6_mul, (a, b), 192),
        (N.fq6_inv, (a,), 192),
        (N.fq12_mul, (c, d), 384),
        (N.fq12_sqr, (c,), 384),
        (N.fq12_inv, (c,), 384),
        (N.fq12_conj, (c,), 384),
        (N.final_exponentiation, (c,), 384),
        (N.fq12_frobenius, (c, power.draw(st.integers(0, 2**32 - 1))), 384),
    ]
    canonical6 = all(un(a[i : i + 32]) < P for i in range(0, 192, 32))
    canonical12 = all(un(c[i : i + 32]) < P for i in range(0, 384, 32))
    for fn, args, size in calls:
        r = outcome(fn, *args)
        if isinstance(r, bytes):
            assert len(r) == size
            assert all(un(r[i : i + 32]) < P for i in range(0, size, 32)), fn
        elif (fn in (N.fq6_mul, N.fq6_inv) and not canonical6) or (
            fn not in (N.fq6_mul, N.fq6_inv) and not canonical12
        ):
            assert isinstance(r, errors.NonCanonicalEncoding | errors.InvalidParameter), (fn, r)


# -- groups ----------------------------------------------------------------------------------------

B2 = bn.b2


def g1_status(b: bytes) -> str:
    """What a full G1 decoder must say about 64 bytes (reference)."""
    x, y = un(b[:32]), un(b[32:])
    if x >= P or y >= P:
        return "noncanonical"
    if x == 0 and y == 0:
        return "ok"  # infinity
    return "ok" if (y * y - x**3 - 3) % P == 0 else "off"


def g2_status(b: bytes) -> str:
    coords = [un(b[i : i + 32]) for i in range(0, 128, 32)]
    if any(c >= P for c in coords):
        return "noncanonical"
    if not any(coords):
        return "ok"
    x, y = FQ2(coords[:2]), FQ2(coords[2:])
    return "ok" if y * y == x * x * x + B2 else "off"


STATUS = {
    "noncanonical": errors.NonCanonicalEncoding,
    "off": errors.NotOnCurve,
}


@cache
def g1_points() -> tuple[bytes, ...]:
    rng = random.Random(7)
    scalars = b"".join(le(rng.randrange(R)) for _ in range(16))
    return split(N.g1_muls(N.g1_generator(), scalars, 1), 64)


@cache
def g2_points() -> tuple[bytes, ...]:
    rng = random.Random(8)
    scalars = b"".join(le(rng.randrange(R)) for _ in range(8))
    return split(N.g2_muls(N.g2_generator(), scalars, 1), 128)


def split(data: bytes, size: int) -> tuple[bytes, ...]:
    return tuple(data[i : i + size] for i in range(0, len(data), size))


@cache
def twist_points() -> tuple[bytes, ...]:
    """Points of the twist E'(Fq2) outside G2 (almost every point is: cofactor ~ p)."""
    out: list[bytes] = []
    rng = random.Random(9)
    while len(out) < 4:
        x = le(rng.randrange(P)) + le(rng.randrange(P))
        rhs = fq2(x) * fq2(x) * fq2(x) + B2
        rhs_b = le(int(rhs.coeffs[0]) % P) + le(int(rhs.coeffs[1]) % P)
        y = outcome(N.fq2_sqrt, rhs_b)
        if isinstance(y, bytes):
            pt = x + y
            assert g2_status(pt) == "ok"
            out.append(pt)
    return tuple(out)


def flipped(data: bytes, bits: list[int]) -> bytes:
    out = bytearray(data)
    for bit in bits:
        out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def g1_bytes() -> st.SearchStrategy[bytes]:
    valid = st.sampled_from(g1_points())
    return st.one_of(
        st.binary(min_size=64, max_size=64),
        st.tuples(near(P), near(P)).map(lambda xy: le(xy[0]) + le(xy[1])),
        valid,
        st.builds(flipped, valid, st.lists(st.integers(0, 511), min_size=1, max_size=3)),
        st.just(bytes(64)),
    )


def g2_bytes() -> st.SearchStrategy[bytes]:
    valid = st.sampled_from(g2_points())
    return st.one_of(
        st.binary(min_size=128, max_size=128),
        st.lists(near(P), min_size=4, max_size=4).map(lambda cs: b"".join(le(c) for c in cs)),
        valid,
        st.sampled_from(twist_points()),
        st.builds(flipped, valid, st.lists(st.integers(0, 1023), min_size=1, max_size=3)),
        st.just(bytes(128)),
    )


@given(p=g1_bytes(), q=g1_bytes(), k=FR_ELEM)
def test_g1_decoding_and_operations(p: bytes, q: bytes, k: bytes) -> None:
    want = g1_status(p)
    r = outcome(N.g1_check, p)
    assert (r is None) if want == "ok" else isinstance(r, STATUS[want]), (want, r)
    both_ok = want == "ok" and g1_status(q) == "ok"
    for fn, args in (
        (N.g1_add, (p, q)),
        (N.g1_double, (p,)),
        (N.g1_neg, (p,)),
        (N.g1_mul_var, (p, k)),
        (N.g1_compress, (p,)),
    ):
        out = outcome(fn, *args)
        if fn is N.g1_add or fn is N.g1_double or fn is N.g1_neg:
            if both_ok or (fn is not N.g1_add and want == "ok"):
                assert isinstance(out, bytes) and g1_status(out) == "ok", fn
            else:
                assert isinstance(out, errors.InvalidInput), (fn, out)
        elif fn is N.g1_mul_var:
            if want == "ok" and un(k) < R:
                assert isinstance(out, bytes) and g1_status(out) == "ok"
            else:
                assert isinstance(out, errors.InvalidInput), out
        elif want == "ok":  # compress: a round trip
            assert isinstance(out, bytes) and N.g1_decompress(out) == p
        else:
            assert isinstance(out, errors.InvalidInput), out


@given(p=g2_bytes(), q=g2_bytes(), k=FR_ELEM)
def test_g2_decoding_subgroup_and_operations(p: bytes, q: bytes, k: bytes) -> None:
    want = g2_status(p)
    on = outcome(N.g2_check_on_curve, p)
    assert (on is None) if want == "ok" else isinstance(on, STATUS[want]), (want, on)
    full = outcome(N.g2_check, p)
    sub = outcome(N.g2_in_subgroup, p)
    if want != "ok":
        assert isinstance(full, STATUS[want]) and isinstance(sub, errors.InvalidInput)
    elif p in g2_points() or p == bytes(128):
        assert full is None and sub is None
    elif p in twist_points():
        assert isinstance(full, errors.NotInSubgroup) and isinstance(sub, errors.NotInSubgroup)
    else:  # a flipped valid point that landed on the curve: either way a clean answer
        assert full is None or isinstance(full, errors.NotInSubgroup)
    for fn, args in (
        (N.g2_add, (p, q)),
        (N.g2_double, (p,)),
        (N.g2_neg, (p,)),
        (N.g2_mul_var, (p, k)),
        (N.g2_compress, (p,)),
    ):
        out = outcome(fn, *args)
        if isinstance(out, bytes):
            if fn is not N.g2_compress:
                assert g2_status(out) == "ok", fn
        else:
            assert isinstance(out, errors.InvalidInput), (fn, out)
    if full is None:
        c = N.g2_compress(p)
        assert N.g2_decompress(c) == p


@pytest.mark.parametrize("group", ["g1", "g2"])
@given(data=st.data())
def test_decompress_any_bytes(group: str, data: st.DataObject) -> None:
    size = 32 if group == "g1" else 64
    valid = g1_points() if group == "g1" else g2_points()
    compress = getattr(N, f"{group}_compress")
    raw = data.draw(
        st.one_of(
            st.binary(max_size=size + 8),
            st.binary(min_size=size, max_size=size),
            st.sampled_from(valid).map(compress),
            st.builds(
                flipped,
                st.sampled_from(valid).map(compress),
                st.lists(st.integers(0, size * 8 - 1), min_size=1, max_size=2),
            ),
            st.builds(
                lambda body, flags: body[:-1] + bytes([(body[-1] & 0x3F) | flags]),
                st.binary(min_size=size, max_size=size),
                st.sampled_from([0x00, 0x40, 0x80, 0xC0]),
            ),
        )
    )
    out = outcome(getattr(N, f"{group}_decompress"), raw)
    if len(raw) != size:
        assert isinstance(out, errors.InvalidLength), out
    elif isinstance(out, bytes):
        # accepted: a valid point whose canonical encoding is exactly the input
        status = g1_status(out) if group == "g1" else g2_status(out)
        assert status == "ok"
        assert compress(out) == raw
    else:
        assert isinstance(out, errors.InvalidInput), out


# -- MSM and fixed-base batches --------------------------------------------------------------------

ODD_SIZES = [0, 1, 2, 3, 5, 7, 8, 9, 15, 17, 31, 33, 64, 65, 127, 129, 257]


@given(
    n=st.sampled_from(ODD_SIZES),
    seed=st.integers(0, 2**32 - 1),
    threads=st.sampled_from([0, 1, 2, 3, 5]),
    corrupt=st.sampled_from(["none", "point", "scalar", "length", "count"]),
)
@settings(max_examples=40)
def test_g1_msm_odd_sizes_and_bad_elements(n: int, seed: int, threads: int, corrupt: str) -> None:
    rng = random.Random(seed)
    pts = [rng.choice(g1_points()) for _ in range(n)]
    scal = [le(rng.choice([0, 1, R - 1, rng.randrange(R)])) for _ in range(n)]
    if corrupt == "point" and n:
        pts[rng.randrange(n)] = le(1) + le(3)  # (1, 3): y^2 = 9 != 1 + 3
    if corrupt == "scalar" and n:
        scal[rng.randrange(n)] = le(R + rng.randrange(2**250))
    points, scalars = b"".join(pts), b"".join(scal)
    if corrupt == "length":
        points += b"\x00" * rng.randrange(1, 64)
    if corrupt == "count":
        scalars += le(1)
    got = outcome(N.g1s_msm, points, scalars, threads)
    ref = outcome(N.g1s_msm_naive, points, scalars)
    if corrupt == "none" or (corrupt in ("point", "scalar") and n == 0):
        assert isinstance(got, bytes) and got == ref
    elif corrupt == "point":
        assert isinstance(got, errors.NotOnCurve) and isinstance(ref, errors.NotOnCurve)
    elif corrupt == "scalar":
        assert isinstance(got, errors.NonCanonicalEncoding), got
    else:
        assert isinstance(got, errors.InvalidLength) and isinstance(ref, errors.InvalidLength)
    fixed = outcome(N.g1_muls, N.g1_generator(), scalars, threads)
    if corrupt != "scalar" or n == 0:
        assert isinstance(fixed, bytes) and len(fixed) == len(scalars) // 32 * 64
    elif corrupt == "scalar":
        assert isinstance(fixed, errors.NonCanonicalEncoding), fixed


@given(
    n=st.sampled_from([0, 1, 2, 3, 5, 9, 17, 33]),
    seed=st.integers(0, 2**32 - 1),
    twist=st.booleans(),
)
@settings(max_examples=20)
def test_g2_msm_odd_sizes(n: int, seed: int, twist: bool) -> None:
    rng = random.Random(seed)
    pts = [rng.choice(g2_points()) for _ in range(n)]
    if twist and n:
        pts[rng.randrange(n)] = rng.choice(twist_points())
    scalars = b"".join(le(rng.randrange(R)) for _ in range(n))
    got = outcome(N.g2s_msm, b"".join(pts), scalars, rng.choice([0, 1, 3]))
    if twist and n:
        # the MSM's contract is points of G2 (validated by the caller, as the verifier
        # does); a twist point outside it may give any point, or be refused -- cleanly
        assert isinstance(got, bytes | errors.InvalidInput), got
        base = outcome(N.g2_muls, rng.choice(twist_points()), scalars, 1)
        assert isinstance(base, bytes | errors.InvalidInput), base
    else:
        assert got == N.g2s_msm_naive(b"".join(pts), scalars)


def test_msm_window_any_size() -> None:
    for n in (0, 1, 2, 3, 1000, 2**20, 2**40, 2**64 - 1):
        assert N.msm_window(n) >= 1


# -- NTT -------------------------------------------------------------------------------------------


@given(
    log_n=st.integers(0, 11),
    data=st.data(),
    bad=st.sampled_from(["none", "element", "length", "shift_zero", "shift_big"]),
)
@settings(max_examples=40)
def test_ntt_sizes_and_bad_data(log_n: int, data: st.DataObject, bad: str) -> None:
    n = 1 << log_n
    dom = N.NttDomain(log_n)
    values = data.draw(st.lists(st.integers(0, R - 1), min_size=n, max_size=n))
    raw = b"".join(le(v) for v in values)
    shift = le(data.draw(st.integers(1, R - 1)))
    if bad == "element":
        i = data.draw(st.integers(0, n - 1))
        raw = raw[: 32 * i] + le(R + data.draw(st.integers(0, 2**250))) + raw[32 * (i + 1) :]
    if bad == "length":
        raw += data.draw(st.sampled_from([le(1), b"\x00" * 7]))
    if bad == "shift_zero":
        shift = bytes(32)
    if bad == "shift_big":
        shift = le(R)
    fwd = outcome(dom.forward, raw)
    cf = outcome(dom.coset_forward, raw, shift)
    if bad == "none":
        assert isinstance(fwd, bytes) and dom.inverse(fwd) == raw
        assert isinstance(cf, bytes) and dom.coset_inverse(cf, shift) == raw
    elif bad == "element":
        assert isinstance(fwd, errors.NonCanonicalEncoding)
        assert isinstance(cf, errors.NonCanonicalEncoding)
    elif bad == "length":
        assert isinstance(fwd, errors.InvalidLength) and isinstance(cf, errors.InvalidLength)
    elif bad == "shift_zero":
        assert isinstance(fwd, bytes)
        assert isinstance(outcome(dom.coset_inverse, raw, shift), errors.NotInvertible)
    else:
        assert isinstance(cf, errors.NonCanonicalEncoding)


@pytest.mark.parametrize("log_n", [-1, N.NTT_MAX_LOG + 1, 64, 2**40])
def test_ntt_domain_out_of_range(log_n: int) -> None:
    with pytest.raises(errors.InvalidParameter):
        N.NttDomain(log_n)


# -- Poseidon --------------------------------------------------------------------------------------


@given(
    n=st.integers(0, 20),
    data=st.data(),
    noncanonical=st.booleans(),
)
@settings(max_examples=50)
def test_poseidon_any_width(n: int, data: st.DataObject, noncanonical: bool) -> None:
    values = data.draw(st.lists(st.integers(0, R - 1), min_size=n, max_size=n))
    if noncanonical and n:
        values[data.draw(st.integers(0, n - 1))] = R + data.draw(st.integers(0, 2**250))
    raw = b"".join(le(v) for v in values)
    h = outcome(N.poseidon_hash, raw)
    p = outcome(N.poseidon_permute, raw)
    if noncanonical and n:
        assert isinstance(h, errors.InvalidInput) and isinstance(p, errors.InvalidInput)
    else:
        if 1 <= n <= 16:
            assert isinstance(h, bytes) and un(h) < R
        else:
            assert isinstance(h, errors.InvalidInput), h
        if N.POSEIDON_MIN_T <= n <= N.POSEIDON_MAX_T:
            assert isinstance(p, bytes) and len(p) == len(raw)
        else:
            assert isinstance(p, errors.InvalidInput), p
    arity = data.draw(st.integers(1, 20))
    hs = outcome(N.poseidon_hashes, raw, arity)
    if n % arity == 0 and n and arity <= 16 and not noncanonical:
        assert isinstance(hs, bytes) and len(hs) == n // arity * 32
        if n == arity and isinstance(h, bytes):
            assert hs == h
    else:
        assert isinstance(hs, errors.InvalidInput | bytes), hs


@given(t=st.integers(0, 2**32 - 1))
@settings(max_examples=60)
def test_poseidon_parameters_any_width(t: int) -> None:
    rounds = outcome(N.poseidon_rounds, t)
    consts = outcome(N.poseidon_constants, t)
    if N.POSEIDON_MIN_T <= t <= N.POSEIDON_MAX_T:
        assert isinstance(rounds, tuple) and isinstance(consts, tuple)
    else:
        assert isinstance(rounds, errors.InvalidInput), rounds
        assert isinstance(consts, errors.InvalidInput), consts


# -- pairing ---------------------------------------------------------------------------------------


@given(p=g1_bytes(), q=g2_bytes(), n=st.integers(0, 3))
@settings(max_examples=30)
def test_pairing_any_points(p: bytes, q: bytes, n: int) -> None:
    q_ok = g2_status(q) == "ok" and (q in g2_points() or q == bytes(128))
    p_ok = g1_status(p) == "ok"
    for fn in (N.pairing, N.miller_loop):
        out = outcome(fn, p, q)
        if p_ok and q_ok:
            assert isinstance(out, bytes) and len(out) == 384
        elif not p_ok or g2_status(q) != "ok" or q in twist_points():
            assert isinstance(out, errors.InvalidInput), (fn, out)
    check = outcome(N.pairing_check, p * n, q * n)
    if n == 0 or (p_ok and q_ok):
        assert isinstance(check, bool)
    elif not p_ok or g2_status(q) != "ok" or q in twist_points():
        assert isinstance(check, errors.InvalidInput), check
    prep = outcome(N.G2Prepared, q)
    if q_ok:
        assert isinstance(prep, N.G2Prepared)
        mixed = outcome(N.pairing_check_prepared, p * 2, [prep, q])
        assert isinstance(mixed, bool) if p_ok else isinstance(mixed, errors.InvalidInput)
    elif g2_status(q) != "ok" or q in twist_points():
        assert isinstance(prep, errors.InvalidInput), prep


# -- the .zkey parser and the prover ---------------------------------------------------------------


@cache
def toy_zkey() -> tuple[bytes, list[int]]:
    """A small proving key (x*y = z + 1, z public) and a satisfying witness."""
    from zkattest.circuit import Circuit
    from zkattest.groth16 import dev_setup
    from zkattest.groth16.formats import dump_zkey

    c = Circuit("fuzz")
    z = c.public_input("z")
    x = c.private_input("x")
    y = c.private_input("y")
    c.output("out", c.mul(x, y) + z)
    cc = c.compile()
    pk, _ = dev_setup(cc.r1cs, rng=random.Random(3), progress=False)
    return dump_zkey(pk), cc.solve({"z": 4, "x": 6, "y": 7})


def sections(zkey: bytes) -> list[tuple[int, int, int]]:
    """(type, offset of the size field, body size) of each section."""
    out = []
    pos = 12
    (count,) = struct.unpack_from("<I", zkey, 8)
    for _ in range(count):
        stype, size = struct.unpack_from("<IQ", zkey, pos)
        out.append((stype, pos + 4, size))
        pos += 12 + size
    return out


def _prove_if_parsed(zkey: bytes, witness: bytes) -> None:
    pk = outcome(N.Groth16ProvingKey, zkey)
    if isinstance(pk, errors.ZkAttestError):
        return
    out = outcome(pk.prove, witness, le(5), le(6), 1)
    if isinstance(out, tuple):
        a, b, c = out
        assert g1_status(a) == "ok" and g2_status(b) == "ok" and g1_status(c) == "ok"


def _witness(w: list[int]) -> bytes:
    return b"".join(le(v) for v in w)


def test_toy_zkey_proves() -> None:
    zkey, w = toy_zkey()
    a, b, c = N.Groth16ProvingKey(zkey).prove(_witness(w), le(5), le(6), 1)
    assert g1_status(a) == g2_status(b) == g1_status(c) == "ok"


@given(cut=st.integers(0, 10**6))
@settings(max_examples=60)
def test_zkey_truncated_anywhere(cut: int) -> None:
    zkey, _ = toy_zkey()
    cut %= len(zkey)
    pk = outcome(N.Groth16ProvingKey, zkey[:cut])
    assert isinstance(pk, errors.InvalidInput), cut


@given(bits=st.lists(st.integers(0, 10**9), min_size=1, max_size=8))
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
def test_zkey_bit_flips(bits: list[int]) -> None:
    zkey, w = toy_zkey()
    mutated = flipped(zkey, [b % (len(zkey) * 8) for b in bits])
    _prove_if_parsed(mutated, _witness(w))


SIZE_VALUES = [
    0,
    1,
    31,
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**32,
    2**48,
    2**63 - 1,
    2**63,
    2**64 - 1,
]


@given(which=st.integers(0, 50), value=st.sampled_from(SIZE_VALUES) | st.integers(0, 2**64 - 1))
@settings(max_examples=60)
def test_zkey_forged_section_sizes(which: int, value: int) -> None:
    """A section size (u64) that is not the truth: too large, huge, zero, off by one."""
    zkey, w = toy_zkey()
    secs = sections(zkey)
    _stype, at, size = secs[which % len(secs)]
    for v in (value, size + 1, max(size - 1, 0)):
        forged = zkey[:at] + struct.pack("<Q", v) + zkey[at + 8 :]
        _prove_if_parsed(forged, _witness(w))


@given(
    field=st.sampled_from(["n_vars", "n_public", "domain_size", "count", "version"]),
    value=st.sampled_from([0, 1, 2, 3, 2**16, 2**28, 2**31, 2**32 - 1]) | st.integers(0, 2**32 - 1),
)
@settings(max_examples=60)
def test_zkey_forged_header_counts(field: str, value: int) -> None:
    """Counts the parser sizes its work by (variables, public inputs, domain size,
    sections, version) set to anything: refused or parsed, never a wild allocation."""
    zkey, w = toy_zkey()
    if field in ("count", "version"):
        at = 8 if field == "count" else 4
    else:
        body = next(s for s in sections(zkey) if s[0] == 2)[1] + 8
        at = body + 72 + {"n_vars": 0, "n_public": 4, "domain_size": 8}[field]
    forged = zkey[:at] + struct.pack("<I", value) + zkey[at + 4 :]
    _prove_if_parsed(forged, _witness(w))


@given(data=st.data())
@settings(max_examples=40)
def test_prover_witness_checks(data: st.DataObject) -> None:
    zkey, w = toy_zkey()
    pk = N.Groth16ProvingKey(zkey)
    kind = data.draw(st.sampled_from(["short", "long", "ragged", "noncanonical", "first", "rs"]))
    wit = list(w)
    r, s = le(5), le(6)
    raw: bytes
    if kind == "short":
        raw = _witness(wit[: data.draw(st.integers(0, len(wit) - 1))])
    elif kind == "long":
        raw = _witness(wit + [0] * data.draw(st.integers(1, 5)))
    elif kind == "ragged":
        raw = _witness(wit) + b"\x00" * data.draw(st.integers(1, 31))
    elif kind == "noncanonical":
        wit[data.draw(st.integers(0, len(wit) - 1))] = R + data.draw(st.integers(0, 2**250))
        raw = _witness(wit)
    elif kind == "first":
        wit[0] = data.draw(st.integers(0, R - 1))
        assume(wit[0] != 1)
        raw = _witness(wit)
    else:
        raw = _witness(wit)
        r = le(R + data.draw(st.integers(0, 2**250)))
    out = outcome(pk.prove, raw, r, s, 1)
    expected = {
        "short": errors.InvalidLength,
        "long": errors.InvalidLength,
        "ragged": errors.InvalidLength,
        "noncanonical": errors.NonCanonicalEncoding,
        "first": errors.InvalidParameter,
        "rs": errors.NonCanonicalEncoding,
    }[kind]
    assert isinstance(out, expected), (kind, out)


# -- integers out of the C types' range ------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda v: N.poseidon_rounds(v),
        lambda v: N.poseidon_constants(v),
        lambda v: N.fq12_frobenius(bytes(384), v),
        lambda v: N.msm_window(v),
        lambda v: N.fq_mul_loop(le(1), le(1), v),
        lambda v: N.poseidon_hashes(b"", v),
    ],
    ids=[
        "poseidon_rounds",
        "poseidon_constants",
        "fq12_frobenius",
        "msm_window",
        "fq_mul_loop",
        "poseidon_hashes",
    ],
)
@pytest.mark.parametrize("value", [-1, 2**64, 2**200])
def test_integers_out_of_range_are_library_errors(
    call: Callable[[int], object], value: int
) -> None:
    with pytest.raises(errors.InvalidParameter):
        call(value)
