"""Multi-scalar multiplication of the native core (native/src/msm_impl.h).

The Pippenger MSM (signed windows, batch-affine buckets, GLV on G1, threads,
AVX-512 IFMA additions where the CPU has them) is checked against the plain
double-and-add reference ``*s_msm_naive`` on random inputs and on the inputs
that hit its special paths: zero and repeated scalars, repeated points, P and
-P, points at infinity, r - 1, sizes at the window-size boundaries, 1 thread
against several, and the portable build (ZKATTEST_NO_ASM=1) against the
accelerated one.  The reference itself is cross-checked against
py_ecc.optimized_bn128, and the GLV facts msm_impl.h relies on are re-derived
here with Python integers.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_ecc import optimized_bn128 as bn

from zkattest import _native as N
from zkattest import errors

P = bn.field_modulus
R = bn.curve_order
G1_INF = bytes(64)
G2_INF = bytes(128)


def le(v: int) -> bytes:
    return v.to_bytes(32, "little")


class Group:
    def __init__(self, name: str, size: int, pool: int) -> None:
        self.name = name
        self.size = size
        self.pool_size = pool
        self.inf = bytes(size)
        self.gen: Callable[[], bytes] = getattr(N, f"{name}_generator")
        self.mul: Callable[[bytes, bytes], bytes] = getattr(N, f"{name}_mul_var")
        self.add: Callable[[bytes, bytes], bytes] = getattr(N, f"{name}_add")
        self.neg: Callable[[bytes], bytes] = getattr(N, f"{name}_neg")
        self.msm_fn: Callable[..., bytes] = getattr(N, f"{name}s_msm")
        self.naive_fn: Callable[[bytes, bytes], bytes] = getattr(N, f"{name}s_msm_naive")

    def __repr__(self) -> str:
        return self.name

    @cache  # noqa: B019 - two instances, kept for the session
    def pool(self) -> list[bytes]:
        """Distinct random points (k * G for random k), made once."""
        rng = random.Random(f"msm-pool-{self.name}")
        g = self.gen()
        return [self.mul(g, le(rng.randrange(1, R))) for _ in range(self.pool_size)]

    def msm(self, pts: list[bytes], ks: list[int], nthreads: int = 1) -> bytes:
        return self.msm_fn(b"".join(pts), b"".join(le(k) for k in ks), nthreads)

    def naive(self, pts: list[bytes], ks: list[int]) -> bytes:
        return self.naive_fn(b"".join(pts), b"".join(le(k) for k in ks))

    def check(self, pts: list[bytes], ks: list[int], threads: tuple[int, ...] = (1, 2)) -> bytes:
        """MSM with each thread count == the naive reference; returns it."""
        want = self.naive(pts, ks)
        for t in threads:
            assert self.msm(pts, ks, t) == want, f"{self.name} n={len(pts)} nthreads={t}"
        return want


G1 = Group("g1", 64, 4096)
G2 = Group("g2", 128, 512)
GROUPS = [G1, G2]


def random_case(g: Group, n: int, seed: int) -> tuple[list[bytes], list[int]]:
    rng = random.Random(seed)
    pool = g.pool()
    pts = (
        [pool[i] for i in rng.sample(range(len(pool)), n)]
        if n <= len(pool)
        else [rng.choice(pool) for _ in range(n)]
    )
    return pts, [rng.randrange(R) for _ in range(n)]


# ------------------------------------------------------------------ reference
@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_naive_matches_py_ecc(g: Group) -> None:
    rng = random.Random(7)
    base = bn.G1 if g is G1 else bn.G2
    acc = bn.Z1 if g is G1 else bn.Z2
    pts, ks = [], []
    for _ in range(3):
        a, k = rng.randrange(1, R), rng.randrange(R)
        pts.append(g.mul(g.gen(), le(a)))
        ks.append(k)
        acc = bn.add(acc, bn.multiply(base, a * k % R))
    x, y = bn.normalize(acc)
    coords = (x.n, y.n) if g is G1 else (*x.coeffs, *y.coeffs)
    want = b"".join(le(c) for c in coords)
    assert g.naive(pts, ks) == want
    assert g.msm(pts, ks) == want


@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_naive_single_is_mul(g: Group) -> None:
    p = g.pool()[0]
    for k in (0, 1, 2, 3, R - 1, R // 2, 2**128 - 1, 2**128, 2**200 + 12345):
        assert g.naive([p], [k]) == g.mul(p, le(k))
        assert g.msm([p], [k]) == g.mul(p, le(k))


# ------------------------------------------------------------------ small n
@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_empty(g: Group) -> None:
    assert g.msm([], []) == g.inf
    assert g.msm([], [], 0) == g.inf
    assert g.naive([], []) == g.inf


@pytest.mark.parametrize("g", GROUPS, ids=repr)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 31, 32, 33])
def test_small_random(g: Group, n: int) -> None:
    g.check(*random_case(g, n, n), threads=(1, 2, 0))


@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_two_points_special(g: Group) -> None:
    p, q = g.pool()[:2]
    g.check([p, p], [5, 5])  # doubling in one bucket
    g.check([p, g.neg(p)], [5, 5])  # P + (-P)
    g.check([p, g.neg(p)], [5, R - 5])
    g.check([p, q], [0, 0])
    g.check([g.inf, q], [3, 4])
    g.check([g.inf, g.inf], [3, 4])
    g.check([p, q], [R - 1, R - 1])
    assert g.msm([p, g.neg(p)], [5, 5]) == g.inf


# ------------------------------------------------------------------ properties
MIXES = ["random", "zeros", "repeat_scalar", "small", "r_minus_1", "ones"]


@pytest.mark.parametrize("g", GROUPS, ids=repr)
@given(data=st.data())
def test_msm_matches_naive(g: Group, data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=0, max_value=96 if g is G1 else 48), label="n")
    mix = data.draw(st.sampled_from(MIXES), label="mix")
    seed = data.draw(st.integers(min_value=0, max_value=2**32), label="seed")
    rng = random.Random(seed)
    pool = g.pool()
    pts = []
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            pts.append(g.inf)
        elif r < 0.25 and pts:
            pts.append(rng.choice(pts))  # repeated point
        elif r < 0.35 and pts:
            pts.append(g.neg(rng.choice(pts)))  # -P of an earlier point
        else:
            pts.append(rng.choice(pool))
    if mix == "random":
        ks = [rng.randrange(R) for _ in range(n)]
    elif mix == "zeros":
        ks = [rng.choice([0, rng.randrange(R)]) for _ in range(n)]
    elif mix == "repeat_scalar":
        k0 = rng.randrange(R)
        ks = [k0] * n
    elif mix == "small":
        ks = [rng.randrange(8) for _ in range(n)]
    elif mix == "r_minus_1":
        ks = [rng.choice([R - 1, R - 2, 1, rng.randrange(R)]) for _ in range(n)]
    else:
        ks = [1] * n
    g.check(pts, ks, threads=(1, 2, 3))


# ------------------------------------------------------------------ large n
@pytest.mark.parametrize(("g", "n"), [(G1, 4096), (G1, 1000), (G2, 512), (G2, 300)], ids=str)
def test_large_random(g: Group, n: int) -> None:
    g.check(*random_case(g, n, 1000 + n))


@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_large_adversarial(g: Group) -> None:
    """Inputs that defeat batching: every point in one bucket."""
    n = 2048 if g is G1 else 256
    pool = g.pool()
    p = pool[0]
    g.check([p] * n, [1] * n)  # one bucket, doublings
    g.check(pool[:n], [1] * n)  # one bucket, distinct points
    g.check([p, g.neg(p)] * (n // 2), [7] * n)  # cancels to infinity
    assert g.msm([p, g.neg(p)] * (n // 2), [7] * n, 2) == g.inf
    k = random.Random(3).randrange(R)
    g.check(pool[:n], [k] * n)  # same digit in every window
    rng = random.Random(4)
    ks = [rng.randrange(R) for _ in range(n)]
    g.check([p] * n, ks)  # equal bucket sums
    small = [p, g.neg(p), g.add(p, p)]
    g.check([rng.choice(small) for _ in range(n)], ks)


def window_boundaries(limit: int) -> list[int]:
    """Smallest n of each window size, for n <= limit."""
    out, prev = [], N.msm_window(1)
    for n in range(2, limit + 1):
        c = N.msm_window(n)
        if c != prev:
            out.append(n)
            prev = c
    return out


def test_window_sizes() -> None:
    cs = [N.msm_window(n) for n in (0, 1, 2, 10, 100, 10**3, 10**4, 10**5, 10**6, 2**30, 2**62)]
    assert all(2 <= c <= 16 for c in cs)
    assert cs == sorted(cs)
    assert len(window_boundaries(4096)) >= 3


@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_window_boundaries(g: Group) -> None:
    limit = 4096 if g is G1 else 512
    for b in window_boundaries(limit):
        for n in (b - 1, b):
            pts, ks = random_case(g, n, n)
            ks[-1] = R - 1
            g.check(pts, ks)


@pytest.mark.slow
def test_chunked_large_input() -> None:
    """More points than one run takes (2^19): the chunks' sums are added."""
    n = (1 << 19) + 3
    rng = random.Random(17)
    pool = G1.pool()
    pts = [pool[rng.randrange(len(pool))] for _ in range(n)]
    ks = [rng.randrange(R) for _ in range(n)]
    whole = G1.msm(pts, ks, 0)
    parts = G1.add(G1.msm(pts[:1000], ks[:1000], 0), G1.msm(pts[1000:], ks[1000:], 0))
    assert whole == parts
    assert G1.msm(pts[-5:], ks[-5:]) == G1.naive(pts[-5:], ks[-5:])


@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_thread_counts_agree(g: Group) -> None:
    pts, ks = random_case(g, 2000 if g is G1 else 400, 5)
    want = g.msm(pts, ks, 1)
    for t in (2, 3, 4, 7, 0):
        assert g.msm(pts, ks, t) == want


# ------------------------------------------------------------------ rejection
@pytest.mark.parametrize("g", GROUPS, ids=repr)
@pytest.mark.parametrize("bad", [R, R + 1, 2**256 - 1])
def test_rejects_noncanonical_scalar(g: Group, bad: int) -> None:
    pts, ks = random_case(g, 40, 11)
    sc = b"".join(le(k) for k in ks[:-1]) + bad.to_bytes(32, "little")
    for fn in (lambda: g.msm_fn(b"".join(pts), sc, 1), lambda: g.naive_fn(b"".join(pts), sc)):
        with pytest.raises(errors.NonCanonicalEncoding):
            fn()
    # the scalar check comes first, even with an invalid point in the input
    bad_pts = b"".join(pts[:-1]) + b"\x01" * g.size
    with pytest.raises(errors.NonCanonicalEncoding):
        g.msm_fn(bad_pts, sc, 2)


@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_rejects_invalid_points(g: Group) -> None:
    pts, ks = random_case(g, 50, 12)
    half = g.size // 2
    off_curve = bytearray(pts[10])
    off_curve[0] ^= 1
    noncanon = bytearray(pts[20])
    noncanon[half - 32 : half] = le(P)  # a coordinate component = p
    for bad, exc in (
        (bytes(off_curve), errors.NotOnCurve),
        (bytes(noncanon), errors.NonCanonicalEncoding),
    ):
        for pos in (0, 25, 49):
            q = list(pts)
            q[pos] = bad
            for t in (1, 2):
                with pytest.raises(exc):
                    g.msm(q, ks, t)
            with pytest.raises(exc):
                g.naive(q, ks)


@pytest.mark.parametrize("g", GROUPS, ids=repr)
def test_rejects_length_mismatch(g: Group) -> None:
    pts, ks = random_case(g, 3, 13)
    with pytest.raises(errors.InvalidLength):
        g.msm_fn(b"".join(pts), b"".join(le(k) for k in ks[:2]), 1)
    with pytest.raises(errors.InvalidLength):
        g.msm_fn(b"".join(pts)[:-1], b"".join(le(k) for k in ks), 1)


# ------------------------------------------------------------------ GLV (G1)
BN_X = 4965661367192848881


def glv_split(k: int) -> tuple[int, int]:
    """The decomposition of msm_impl.h, with the same rounding."""
    x = BN_X
    a1, b1, a2 = 2 * x + 1, 6 * x * x + 2 * x, 6 * x * x + 4 * x + 1
    g1 = (a1 << 256) // R
    g2 = (b1 << 256) // R
    c1 = (k * g1) >> 256
    c2 = (k * g2) >> 256
    return k - c1 * a1 - c2 * a2, c1 * b1 - c2 * a1


def test_glv_facts() -> None:
    x = BN_X
    beta = 18 * x**3 + 18 * x**2 + 9 * x + 1
    lam = 36 * x**3 + 18 * x**2 + 6 * x + 1
    assert beta < P and (beta * beta + beta + 1) % P == 0 and beta != 1
    assert lam < R and (lam * lam + lam + 1) % R == 0
    # the basis: both vectors in the lattice, determinant r
    v1, v2 = (2 * x + 1, -(6 * x * x + 2 * x)), (6 * x * x + 4 * x + 1, 2 * x + 1)
    assert (v1[0] + v1[1] * lam) % R == 0 and (v2[0] + v2[1] * lam) % R == 0
    assert v1[0] * v2[1] - v1[1] * v2[0] == R
    # phi(G) = (beta x, y) = [lambda] G
    gx, gy = bn.normalize(bn.multiply(bn.G1, lam))
    assert (gx.n, gy.n) == (beta * 1 % P, 2)
    # the bound used to size the digits
    m = 6 * x * x + 6 * x + 2
    bound = m + m // 4 + 1
    assert bound < 2**127.2
    rng = random.Random(9)
    ks = [0, 1, 2, R - 1, R - 2, R // 2, (R * 7) // 11] + [rng.randrange(R) for _ in range(2000)]
    for k in ks:
        k1, k2 = glv_split(k)
        assert (k1 + k2 * lam - k) % R == 0
        assert abs(k1) <= bound and abs(k2) <= bound


# ------------------------------------------------------------------ portable vs accelerated
_CHILD = """
import json, sys
from zkattest import _native as N
out = []
for case in json.load(sys.stdin):
    out.append(N.g1s_msm(bytes.fromhex(case[0]), bytes.fromhex(case[1]), case[2]).hex())
    out.append(N.g2s_msm(bytes.fromhex(case[3]), bytes.fromhex(case[4]), case[2]).hex())
print(json.dumps([N.cpu_features(), out]))
"""


def test_portable_build_agrees() -> None:
    """ZKATTEST_NO_ASM=1 (portable field, no IFMA) gives the same MSMs."""
    rng = random.Random(21)
    cases, want = [], []
    sizes = ((40, 20, "random"), (700, 60, "random"), (300, 40, "same"), (2000, 80, "small"))
    for n1, n2, mode in sizes:
        pts: dict[str, list[bytes]] = {}
        ks: dict[str, list[int]] = {}
        for g, n in ((G1, n1), (G2, n2)):
            pool = g.pool()
            if mode == "same":
                pts[g.name] = [pool[0]] * n
            else:
                pts[g.name] = [rng.choice(pool) for _ in range(n)]
            top = 16 if mode == "small" else R
            ks[g.name] = [rng.randrange(top) for _ in range(n)]
        threads = rng.choice([1, 2])
        enc = [
            b"".join(pts["g1"]).hex(),
            b"".join(le(k) for k in ks["g1"]).hex(),
            threads,
            b"".join(pts["g2"]).hex(),
            b"".join(le(k) for k in ks["g2"]).hex(),
        ]
        cases.append(enc)
        want.append(G1.msm(pts["g1"], ks["g1"], threads).hex())
        want.append(G2.msm(pts["g2"], ks["g2"], threads).hex())
    env = dict(os.environ, ZKATTEST_NO_ASM="1")
    res = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(cases),
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    features, got = json.loads(res.stdout)
    assert features == 0
    assert got == want
