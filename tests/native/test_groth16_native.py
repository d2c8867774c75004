"""The native Groth16 prover and fixed-base batches (native/src/groth16_impl.h).

- ``g1_muls`` / ``g2_muls`` against one scalar multiplication at a time.
- ``.zkey`` bytes come from a small development setup written here with Python
  integers (known toxic waste) and a ``.zkey`` writer that follows snarkjs's
  layout: points in Montgomery form ("LEM"), infinity as zeros, coefficients
  stored as ``c * R^2 mod r`` (R = 2^256 mod r).
- The native prover is compared point for point with a pure-Python reference
  prover of snarkjs's algorithm (A, B on the constraint domain, C = A*B,
  interpolate, evaluate on the odd coset ``omega_2n * <omega_n>``, h = a*b - c,
  then the five sums), and its proofs pass the Groth16 pairing equation.
- Malformed ``.zkey`` inputs (truncation anywhere, bad container, bad sizes,
  wrong primes, bad indices, off-curve or non-canonical points) give the
  documented status and never crash (this file also runs under the sanitizer
  build).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkattest import _native as N
from zkattest import errors
from zkattest.curve import G1, G2
from zkattest.field import P, R
from zkattest.pairing import pairing_check

MONT_Q = pow(2, 256, P)  # Montgomery factor of Fq
MONT_R = pow(2, 256, R)  # Montgomery factor of Fr
R2 = MONT_R * MONT_R % R  # the coefficient scaling of section 4
GEN = 5  # ffjavascript's generator of Fr^* (roots of unity 5^((r-1)/2^k))

Row = tuple[tuple[int, int], ...]
Constraint = tuple[Row, Row, Row]


def le(v: int) -> bytes:
    return v.to_bytes(32, "little")


def root(n: int) -> int:
    """The primitive n-th root of unity of ffjavascript/snarkjs (n a power of 2)."""
    return pow(GEN, (R - 1) // n, R)


# --------------------------------------------------------------- encodings


def lem_g1(p: G1) -> bytes:
    xy = p.xy
    if xy is None:
        return bytes(64)
    return le(xy[0] * MONT_Q % P) + le(xy[1] * MONT_Q % P)


def lem_g2(p: G2) -> bytes:
    xy = p.xy
    if xy is None:
        return bytes(128)
    (x0, x1), (y0, y1) = xy
    return b"".join(le(v * MONT_Q % P) for v in (x0, x1, y0, y1))


def g1_muls(scalars: Sequence[int]) -> list[G1]:
    out = N.g1_muls(G1.generator().to_bytes(), b"".join(le(k % R) for k in scalars), 0)
    return [G1.from_bytes(out[64 * i : 64 * i + 64]) for i in range(len(scalars))]


def g2_muls(scalars: Sequence[int]) -> list[G2]:
    out = N.g2_muls(G2.generator().to_bytes(), b"".join(le(k % R) for k in scalars), 0)
    return [G2.from_bytes(out[128 * i : 128 * i + 128]) for i in range(len(scalars))]


# ------------------------------------------------------ a development setup


@dataclass(frozen=True)
class Toxic:
    tau: int
    alpha: int
    beta: int
    gamma: int
    delta: int

    @staticmethod
    def random(rng: random.Random) -> Toxic:
        return Toxic(*(rng.randrange(2, R) for _ in range(5)))


@dataclass
class DevKey:
    """A Groth16 key in snarkjs's (QAP) formulation, built from known toxic waste."""

    n_vars: int
    n_public: int
    domain: int
    alpha1: G1
    beta1: G1
    beta2: G2
    gamma2: G2
    delta1: G1
    delta2: G2
    ic: list[G1]
    coefs: list[tuple[int, int, int, int]]  # (matrix, constraint, signal, value)
    a: list[G1]
    b1: list[G1]
    b2: list[G2]
    c: list[G1]  # signals n_public+1 ..
    h: list[G1]
    extra: dict[int, bytes] = field(default_factory=dict)


def lagrange_at(n: int, x: int) -> list[int]:
    """L_k(x), k < n, over the n-th roots of unity (x not a root)."""
    w = root(n)
    zn = (pow(x, n, R) - 1) * pow(n, -1, R) % R
    out = []
    wk = 1
    for _ in range(n):
        out.append(zn * wk * pow(x - wk, -1, R) % R)
        wk = wk * w % R
    return out


def dev_setup(n_vars: int, n_public: int, constraints: Sequence[Constraint], tw: Toxic) -> DevKey:
    """snarkjs's zkey_new (with delta applied) from an R1CS and toxic waste."""
    m = len(constraints)
    n = 1
    while n < m + n_public + 1:
        n *= 2
    coefs: list[tuple[int, int, int, int]] = []
    for ci, (ra, rb, _rc) in enumerate(constraints):
        coefs += [(0, ci, s, v) for s, v in ra]
        coefs += [(1, ci, s, v) for s, v in rb]
    coefs += [(0, m + s, s, 1) for s in range(n_public + 1)]
    lag = lagrange_at(n, tw.tau)
    u = [0] * n_vars
    v = [0] * n_vars
    w = [0] * n_vars
    for mat, ci, s, val in coefs:
        if mat == 0:
            u[s] = (u[s] + val * lag[ci]) % R
        else:
            v[s] = (v[s] + val * lag[ci]) % R
    for ci, (_ra, _rb, rc) in enumerate(constraints):
        for s, val in rc:
            w[s] = (w[s] + val * lag[ci]) % R
    k = [(tw.beta * u[i] + tw.alpha * v[i] + w[i]) % R for i in range(n_vars)]
    gi, di = pow(tw.gamma, -1, R), pow(tw.delta, -1, R)
    lag2 = lagrange_at(2 * n, tw.tau)
    g1s = g1_muls(
        [tw.alpha, tw.beta, tw.delta]
        + u
        + v
        + [k[i] * gi for i in range(n_public + 1)]
        + [k[i] * di for i in range(n_public + 1, n_vars)]
        + [lag2[2 * j + 1] * di for j in range(n)]
    )
    g2s = g2_muls([tw.beta, tw.gamma, tw.delta, *v])
    it = iter(g1s)

    def take(cnt: int) -> list[G1]:
        return [next(it) for _ in range(cnt)]

    alpha1, beta1, delta1 = take(3)
    a, b1 = take(n_vars), take(n_vars)
    ic, c, h = take(n_public + 1), take(n_vars - n_public - 1), take(n)
    return DevKey(
        n_vars, n_public, n, alpha1, beta1, g2s[0], g2s[1], delta1, g2s[2],
        ic, coefs, a, b1, g2s[3:], c, h,
    )  # fmt: skip


# ------------------------------------------------------------ .zkey writer


def zkey_sections(key: DevKey) -> dict[int, bytes]:
    hdr2 = (
        struct.pack("<I", 32) + le(P) + struct.pack("<I", 32) + le(R)
        + struct.pack("<III", key.n_vars, key.n_public, key.domain)
        + lem_g1(key.alpha1) + lem_g1(key.beta1) + lem_g2(key.beta2)
        + lem_g2(key.gamma2) + lem_g1(key.delta1) + lem_g2(key.delta2)
    )  # fmt: skip
    coefs = struct.pack("<I", len(key.coefs)) + b"".join(
        struct.pack("<III", m, c, s) + le(v % R * R2 % R) for m, c, s, v in key.coefs
    )
    secs = {
        1: struct.pack("<I", 1),
        2: hdr2,
        3: b"".join(lem_g1(p) for p in key.ic),
        4: coefs,
        5: b"".join(lem_g1(p) for p in key.a),
        6: b"".join(lem_g1(p) for p in key.b1),
        7: b"".join(lem_g2(p) for p in key.b2),
        8: b"".join(lem_g1(p) for p in key.c),
        9: b"".join(lem_g1(p) for p in key.h),
        10: bytes(64) + struct.pack("<I", 0),  # csHash, no contributions
    }
    secs.update(key.extra)
    return secs


def container(
    sections: Sequence[tuple[int, bytes]], magic: bytes = b"zkey", version: int = 1
) -> bytes:
    out = [magic, struct.pack("<II", version, len(sections))]
    for t, data in sections:
        out.append(struct.pack("<IQ", t, len(data)))
        out.append(data)
    return b"".join(out)


def write_zkey(key: DevKey, order: Sequence[int] | None = None) -> bytes:
    secs = zkey_sections(key)
    return container([(t, secs[t]) for t in (order or sorted(secs))])


def section_table(z: bytes) -> list[tuple[int, int, int]]:
    """(type, offset of the section header, size) of each section."""
    (ns,) = struct.unpack_from("<I", z, 8)
    pos, out = 12, []
    for _ in range(ns):
        t, size = struct.unpack_from("<IQ", z, pos)
        out.append((t, pos, size))
        pos += 12 + size
    return out


# ------------------------------------------------------- reference prover


def naive_dft(vals: Sequence[int], w: int) -> list[int]:
    n = len(vals)
    return [sum(v * pow(w, i * j, R) for i, v in enumerate(vals)) % R for j in range(n)]


def reference_h(key: DevKey, wit: Sequence[int]) -> list[int]:
    n = key.domain
    a, b = [0] * n, [0] * n
    for mat, ci, s, v in key.coefs:
        if mat == 0:
            a[ci] = (a[ci] + v * wit[s]) % R
        else:
            b[ci] = (b[ci] + v * wit[s]) % R
    c = [x * y % R for x, y in zip(a, b, strict=True)]
    w, g, ninv = root(n), root(2 * n), pow(n, -1, R)
    odd = []
    for vals in (a, b, c):
        coeffs = [x * ninv % R for x in naive_dft(vals, pow(w, -1, R))]
        odd.append(naive_dft([x * pow(g, i, R) % R for i, x in enumerate(coeffs)], w))
    return [(x * y - z) % R for x, y, z in zip(*odd, strict=True)]


def lincomb(points: Sequence[G1] | Sequence[G2], scalars: Sequence[int], zero: G1 | G2):
    acc = zero
    for p, k in zip(points, scalars, strict=True):
        if k % R:
            acc = acc + p * (k % R)
    return acc


def reference_prove(key: DevKey, wit: Sequence[int], r: int, s: int) -> tuple[G1, G2, G1]:
    h = reference_h(key, wit)
    pi_a = key.alpha1 + lincomb(key.a, wit, G1.identity()) + key.delta1 * r
    pi_b = key.beta2 + lincomb(key.b2, wit, G2.identity()) + key.delta2 * s
    b1 = key.beta1 + lincomb(key.b1, wit, G1.identity()) + key.delta1 * s
    pi_c = (
        lincomb(key.c, wit[key.n_public + 1 :], G1.identity())
        + lincomb(key.h, h, G1.identity())
        + pi_a * s
        + b1 * r
        + key.delta1 * ((-r * s) % R)
    )
    return pi_a, pi_b, pi_c


def native_prove(
    zkey: bytes, wit: Sequence[int], r: int, s: int, threads: int = 1
) -> tuple[G1, G2, G1]:
    pk = N.Groth16ProvingKey(zkey)
    a, b, c = pk.prove(b"".join(le(x) for x in wit), le(r), le(s), threads)
    return G1.from_bytes(a), G2.from_bytes(b), G1.from_bytes(c)


def verifies(key: DevKey, public: Sequence[int], proof: tuple[G1, G2, G1]) -> bool:
    pi_a, pi_b, pi_c = proof
    acc = lincomb(key.ic, [1, *public], G1.identity())
    return pairing_check(
        [(pi_a, pi_b), (-key.alpha1, key.beta2), (-acc, key.gamma2), (-pi_c, key.delta2)]
    )


# ---------------------------------------------------------------- circuits


def _wire_value(rng: random.Random) -> int:
    t = rng.random()
    if t < 0.6:
        return 0 if t < 0.3 else 1
    return rng.randrange(2, 300) if t < 0.7 else rng.randrange(R)


def _random_row(rng: random.Random, n_vars: int, density: float) -> Row:
    sig = sorted({rng.randrange(n_vars) for _ in range(max(1, int(density * n_vars)))})
    return tuple((i, rng.choice([1, R - 1, rng.randrange(1, R)])) for i in sig)


def random_circuit(
    rng: random.Random, n_vars: int, n_public: int, n_cons: int, density: float = 0.3
) -> tuple[list[Constraint], list[int]]:
    """A random R1CS with a satisfying witness: many wires are bits (as in real
    circuits), the rest full field elements; each C row is fixed up so that the
    constraint holds."""
    wit = [1] + [_wire_value(rng) for _ in range(n_vars - 1)]
    cons: list[Constraint] = []
    for _ in range(n_cons):
        ra, rb = _random_row(rng, n_vars, density), _random_row(rng, n_vars, density)
        prod = (sum(v * wit[i] for i, v in ra) * sum(v * wit[i] for i, v in rb)) % R
        nz = [i for i in range(n_vars) if wit[i]]
        k = rng.choice(nz)
        rc = ((k, prod * pow(wit[k], -1, R) % R),) if prod else ()
        cons.append((ra, rb, rc))
    return cons, wit


@dataclass
class Case:
    key: DevKey
    zkey: bytes
    wit: list[int]


@cache
def small_case(seed: int = 1, n_vars: int = 12, n_public: int = 3, n_cons: int = 9) -> Case:
    rng = random.Random(seed)
    cons, wit = random_circuit(rng, n_vars, n_public, n_cons)
    key = dev_setup(n_vars, n_public, cons, Toxic.random(rng))
    return Case(key, write_zkey(key), wit)


# ================================================================ tests


class TestMuls:
    @pytest.mark.parametrize("n", [0, 1, 2, 7, 300])
    @pytest.mark.parametrize("threads", [1, 2, 5])
    def test_g1_muls(self, n: int, threads: int) -> None:
        rng = random.Random(n * 10 + threads)
        base = G1.generator() * rng.randrange(1, R)
        ks = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, 2**128, 2**253 + 5]
        ks = (ks + [rng.randrange(R) for _ in range(n)])[:n]
        out = N.g1_muls(base.to_bytes(), b"".join(le(k) for k in ks), threads)
        assert len(out) == 64 * n
        for i, k in enumerate(ks):
            assert out[64 * i : 64 * i + 64] == (base * k).to_bytes(), k

    @pytest.mark.parametrize("n", [0, 1, 5, 150])
    @pytest.mark.parametrize("threads", [1, 2])
    def test_g2_muls(self, n: int, threads: int) -> None:
        rng = random.Random(n * 10 + threads + 1)
        base = G2.generator() * rng.randrange(1, R)
        ks = [0, 1, R - 1, 3, 2**200]
        ks = (ks + [rng.randrange(R) for _ in range(n)])[:n]
        out = N.g2_muls(base.to_bytes(), b"".join(le(k) for k in ks), threads)
        assert len(out) == 128 * n
        for i, k in enumerate(ks):
            assert out[128 * i : 128 * i + 128] == (base * k).to_bytes(), k

    def test_large_batch_uses_wide_windows(self) -> None:
        rng = random.Random(7)
        ks = [rng.randrange(R) for _ in range(3000)]
        out = N.g1_muls(G1.generator().to_bytes(), b"".join(le(k) for k in ks), 2)
        for i in rng.sample(range(3000), 25):
            assert out[64 * i : 64 * i + 64] == (G1.generator() * ks[i]).to_bytes()

    def test_infinity_base(self) -> None:
        assert N.g1_muls(bytes(64), le(5) + le(0), 1) == bytes(128)
        assert N.g2_muls(bytes(128), le(5), 1) == bytes(128)

    def test_bad_inputs(self) -> None:
        g1, g2 = G1.generator().to_bytes(), G2.generator().to_bytes()
        with pytest.raises(errors.NonCanonicalEncoding):
            N.g1_muls(g1, le(1) + le(R), 1)
        with pytest.raises(errors.NonCanonicalEncoding):
            N.g2_muls(g2, le(2**256 - 1), 1)
        with pytest.raises(errors.NotOnCurve):
            N.g1_muls(le(1) + le(1), le(1), 1)
        bad2 = bytearray(g2)
        bad2[5] ^= 1
        with pytest.raises(errors.NotOnCurve):
            N.g2_muls(bytes(bad2), le(1), 1)
        with pytest.raises(errors.NonCanonicalEncoding):
            N.g1_muls(le(P) + le(2), le(1), 1)
        with pytest.raises(errors.InvalidLength):
            N.g1_muls(g1, b"\x01" * 33, 1)


class TestProver:
    def test_matches_reference_and_verifies(self) -> None:
        case = small_case()
        k = case.key
        for r, s in [(0, 0), (1, 2), (12345, R - 1), (R - 1, 7)]:
            nat = native_prove(case.zkey, case.wit, r, s)
            ref = reference_prove(k, case.wit, r, s)
            assert nat == ref
            assert verifies(k, case.wit[1 : 1 + k.n_public], nat)

    def test_threads_agree(self) -> None:
        case = small_case(seed=3, n_vars=40, n_public=5, n_cons=50)
        proofs = {native_prove(case.zkey, case.wit, 99, 100, t) for t in (1, 2, 3, 4, 7, 0)}
        assert len(proofs) == 1
        assert proofs == {reference_prove(case.key, case.wit, 99, 100)}

    def test_one_key_many_callers(self) -> None:
        """A key handle is immutable: concurrent proofs (GIL released) agree."""
        from concurrent.futures import ThreadPoolExecutor

        case = small_case(seed=3, n_vars=40, n_public=5, n_cons=50)
        pk = N.Groth16ProvingKey(case.zkey)
        wb = b"".join(le(x) for x in case.wit)
        with ThreadPoolExecutor(4) as ex:
            got = list(ex.map(lambda t: pk.prove(wb, le(7), le(8), t % 3), range(12)))
        assert len(set(got)) == 1

    def test_wrong_public_input_fails_pairing(self) -> None:
        case = small_case()
        proof = native_prove(case.zkey, case.wit, 5, 6)
        pub = case.wit[1 : 1 + case.key.n_public]
        pub[0] = (pub[0] + 1) % R
        assert not verifies(case.key, pub, proof)

    def test_unsatisfying_witness_still_matches_reference(self) -> None:
        """The prover does not check the witness (contract); the algorithm is the
        same, so the points still agree, and the proof does not verify."""
        case = small_case()
        wit = list(case.wit)
        wit[-1] = (wit[-1] + 3) % R
        nat = native_prove(case.zkey, wit, 8, 9)
        assert nat == reference_prove(case.key, wit, 8, 9)
        assert not verifies(case.key, wit[1 : 1 + case.key.n_public], nat)

    @settings(max_examples=12)
    @given(st.randoms(use_true_random=False), st.integers(2, 14), st.integers(0, 13),
           st.integers(1, 12))  # fmt: skip
    def test_random_circuits(
        self, rng: random.Random, n_vars: int, n_public: int, n_cons: int
    ) -> None:
        n_public = min(n_public, n_vars - 1)
        cons, wit = random_circuit(rng, n_vars, n_public, n_cons)
        key = dev_setup(n_vars, n_public, cons, Toxic.random(rng))
        zk = write_zkey(key)
        r, s = rng.randrange(R), rng.randrange(R)
        nat = native_prove(zk, wit, r, s, rng.choice([1, 2]))
        assert nat == reference_prove(key, wit, r, s)
        assert verifies(key, wit[1 : 1 + n_public], nat)

    def test_medium_circuit_verifies(self) -> None:
        """Domain 2^10 (parallel NTTs) and a few hundred wires."""
        rng = random.Random(11)
        cons, wit = random_circuit(rng, 300, 4, 700, density=0.01)
        key = dev_setup(300, 4, cons, Toxic.random(rng))
        assert key.domain == 1024
        zk = write_zkey(key)
        p1 = native_prove(zk, wit, 3, 4, 1)
        assert p1 == native_prove(zk, wit, 3, 4, 2)
        assert p1 == native_prove(zk, wit, 3, 4, 3)
        assert verifies(key, wit[1:5], p1)

    def test_dsl_circuit(self) -> None:
        from zkattest.circuit import Circuit
        from zkattest.circuit.gadgets.bits import range_check

        c = Circuit("t")
        x = c.public_input("x")
        y = c.private_input("y")
        p = c.mul(x, y)
        range_check(c, y, 16)
        c.output("out", p + 1)
        cc = c.compile()
        rc = cc.r1cs
        wit = cc.solve({"x": 7, "y": 40000})
        key = dev_setup(rc.n_wires, rc.n_public, rc.constraints, Toxic.random(random.Random(5)))
        proof = native_prove(write_zkey(key), wit, 77, 88, 2)
        assert proof == reference_prove(key, wit, 77, 88)
        assert verifies(key, rc.public_signals(wit), proof)

    def test_info_and_section_order(self) -> None:
        case = small_case()
        order = [9, 3, 10, 1, 7, 2, 5, 8, 4, 6]
        zk = write_zkey(case.key, order)
        pk = N.Groth16ProvingKey(zk)
        assert (pk.n_vars, pk.n_public) == (case.key.n_vars, case.key.n_public)
        assert 1 << pk.log_domain == case.key.domain
        assert native_prove(zk, case.wit, 1, 1) == native_prove(case.zkey, case.wit, 1, 1)

    def test_unknown_sections_and_no_contributions(self) -> None:
        case = small_case()
        secs = zkey_sections(case.key)
        items = [(t, secs[t]) for t in range(1, 10)] + [(77, b"xyz"), (0, b"")]
        zk = container(items)
        assert native_prove(zk, case.wit, 2, 3) == native_prove(case.zkey, case.wit, 2, 3)

    def test_witness_checks(self) -> None:
        case = small_case()
        pk = N.Groth16ProvingKey(case.zkey)
        w = [le(x) for x in case.wit]
        with pytest.raises(errors.InvalidLength):
            pk.prove(b"".join(w[:-1]), le(1), le(1))
        with pytest.raises(errors.InvalidLength):
            pk.prove(b"".join(w) + le(0), le(1), le(1))
        with pytest.raises(errors.NonCanonicalEncoding):
            pk.prove(b"".join([*w[:-1], le(R)]), le(1), le(1))
        with pytest.raises(errors.InvalidParameter):
            pk.prove(b"".join([le(2), *w[1:]]), le(1), le(1))
        with pytest.raises(errors.NonCanonicalEncoding):
            pk.prove(b"".join(w), le(R), le(1))
        with pytest.raises(errors.NonCanonicalEncoding):
            pk.prove(b"".join(w), le(1), le(R + 5))

    @pytest.mark.parametrize(
        ("n_vars", "n_public", "cons"),
        [
            (1, 0, []),  # domain 1, no C points
            (2, 1, []),  # every wire public: no C points
            (3, 0, [(((1, 1),), ((2, 1),), ())]),  # 0 * 0 = 0
        ],
    )
    def test_degenerate_keys(self, n_vars: int, n_public: int, cons: list[Constraint]) -> None:
        wit = [1] + [0] * (n_vars - 1)
        key = dev_setup(n_vars, n_public, cons, Toxic.random(random.Random(n_vars)))
        proof = native_prove(write_zkey(key), wit, 5, 6, 2)
        assert proof == reference_prove(key, wit, 5, 6)
        assert verifies(key, wit[1 : 1 + n_public], proof)

    def test_all_zero_and_all_one_witness_wires(self) -> None:
        """Witnesses whose wires are all 0/1 (no full scalar) or all full."""
        rng = random.Random(21)
        for kind in ("bits", "full"):
            n_vars, n_pub = 10, 2
            lo, hi = (0, 2) if kind == "bits" else (2, R)
            wit = [1] + [rng.randrange(lo, hi) for _ in range(n_vars - 1)]
            cons: list[Constraint] = []
            for _ in range(6):
                ra = ((rng.randrange(n_vars), 1),)
                rb = ((rng.randrange(n_vars), 3),)
                prod = wit[ra[0][0]] * wit[rb[0][0]] * 3 % R
                cons.append((ra, rb, ((0, prod),) if prod else ()))
            key = dev_setup(n_vars, n_pub, cons, Toxic.random(rng))
            nat = native_prove(write_zkey(key), wit, 4, 5, 2)
            assert nat == reference_prove(key, wit, 4, 5)
            assert verifies(key, wit[1 : 1 + n_pub], nat)


# ------------------------------------------------------- malformed .zkey


def status_of(z: bytes) -> type[Exception] | None:
    try:
        N.Groth16ProvingKey(z)
    except errors.ZkAttestError as e:
        return type(e)
    return None


def patched(z: bytes, t: int, off: int, data: bytes) -> bytes:
    """z with bytes at offset off of section t's data replaced by data."""
    for typ, pos, _size in section_table(z):
        if typ == t:
            at = pos + 12 + off
            return z[:at] + data + z[at + len(data) :]
    raise KeyError(t)


@pytest.fixture(scope="module")
def case() -> Case:
    return small_case()


class TestMalformed:
    def test_valid(self, case: Case) -> None:
        assert status_of(case.zkey) is None

    def test_truncated_everywhere(self, case: Case) -> None:
        z = case.zkey
        cuts = {0, 1, 4, 8, 11, 12, len(z) - 1}
        for _t, pos, size in section_table(z):
            cuts |= {pos, pos + 1, pos + 4, pos + 11, pos + 12, pos + 13, pos + 12 + size - 1}
        rng = random.Random(3)
        cuts |= {rng.randrange(len(z)) for _ in range(150)}
        for cut in sorted(cuts):
            assert status_of(z[:cut]) is errors.MalformedEncoding, cut

    def test_container(self, case: Case) -> None:
        z = case.zkey
        assert status_of(b"zkez" + z[4:]) is errors.MalformedEncoding
        assert status_of(b"r1cs" + z[4:]) is errors.MalformedEncoding
        for v in (0, 2, 2**32 - 1):
            assert status_of(z[:4] + struct.pack("<I", v) + z[8:]) is errors.MalformedEncoding
        for ns in (9, 11, 2**32 - 1):
            assert status_of(z[:8] + struct.pack("<I", ns) + z[12:]) is errors.MalformedEncoding
        assert status_of(z + b"\x00") is errors.MalformedEncoding  # trailing bytes
        assert status_of(b"") is errors.MalformedEncoding
        # a section size running past the end, or past 2^63
        t0 = section_table(z)[0][1]
        for size in (len(z), 2**63, 2**64 - 1):
            bad = z[: t0 + 4] + struct.pack("<Q", size) + z[t0 + 12 :]
            assert status_of(bad) is errors.MalformedEncoding

    def test_missing_and_duplicated_sections(self, case: Case) -> None:
        secs = zkey_sections(case.key)
        for t in range(1, 10):
            items = [(u, secs[u]) for u in sorted(secs) if u != t]
            assert status_of(container(items)) is errors.MalformedEncoding, t
        for t in range(1, 11):
            items = [(u, secs[u]) for u in sorted(secs)] + [(t, secs[t])]
            assert status_of(container(items)) is errors.MalformedEncoding, t

    def test_header_values(self, case: Case) -> None:
        z = case.zkey
        assert status_of(patched(z, 1, 0, struct.pack("<I", 2))) is errors.MalformedEncoding
        assert status_of(patched(z, 2, 0, struct.pack("<I", 48))) is errors.MalformedEncoding
        assert status_of(patched(z, 2, 36, struct.pack("<I", 31))) is errors.MalformedEncoding
        # wrong primes: the other BN254 prime, BLS12-381's r, off by one
        assert status_of(patched(z, 2, 4, le(R))) is errors.MalformedEncoding
        assert status_of(patched(z, 2, 40, le(P))) is errors.MalformedEncoding
        bls_r = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
        assert status_of(patched(z, 2, 40, le(bls_r))) is errors.MalformedEncoding
        assert status_of(patched(z, 2, 4, le(P + 2))) is errors.MalformedEncoding

    def test_counts(self, case: Case) -> None:
        k = case.key
        secs = zkey_sections(k)

        def with_header(n_vars: int, n_pub: int, dom: int) -> bytes:
            h = secs[2][:72] + struct.pack("<III", n_vars, n_pub, dom) + secs[2][84:]
            return container([(t, h if t == 2 else secs[t]) for t in sorted(secs)])

        # counts that disagree with the section sizes
        assert status_of(with_header(k.n_vars + 1, k.n_public, k.domain)) is errors.InvalidLength
        assert status_of(with_header(k.n_vars, k.n_public + 1, k.domain)) is errors.InvalidLength
        assert status_of(with_header(k.n_vars, k.n_public, 2 * k.domain)) is errors.InvalidLength
        # impossible values
        enc = errors.MalformedEncoding
        assert status_of(with_header(0, 0, k.domain)) is enc
        assert status_of(with_header(k.n_vars, k.n_vars, k.domain)) is enc
        assert status_of(with_header(k.n_vars, k.n_public, 0)) is enc
        assert status_of(with_header(k.n_vars, k.n_public, k.domain + 1)) is enc
        assert status_of(with_header(k.n_vars, k.n_public, 1 << 28)) is enc
        assert status_of(with_header(2**32 - 1, 0, k.domain)) is errors.InvalidLength

    def test_section_sizes(self, case: Case) -> None:
        secs = zkey_sections(case.key)
        for t in range(1, 10):
            for delta in (-1, 1, -64, 64):
                data = secs[t][:delta] if delta < 0 else secs[t] + bytes(delta)
                items = [(u, data if u == t else secs[u]) for u in sorted(secs)]
                got = status_of(container(items))
                assert got in (errors.InvalidLength, errors.MalformedEncoding), (t, delta)
                if t not in (1, 2) or delta != -1:
                    assert got is errors.InvalidLength, (t, delta, got)
        # the coefficient count field itself
        bad4 = struct.pack("<I", len(case.key.coefs) + 1) + secs[4][4:]
        items = [(u, bad4 if u == 4 else secs[u]) for u in sorted(secs)]
        assert status_of(container(items)) is errors.InvalidLength

    def test_coefficients(self, case: Case) -> None:
        k = case.key

        def with_coef(i: int, m: int, c: int, s: int, v: bytes | None = None) -> bytes:
            coefs = list(k.coefs)
            coefs[i] = (m, c, s, coefs[i][3])
            z = write_zkey(replace(k, coefs=coefs))
            if v is not None:
                z = patched(z, 4, 4 + 44 * i + 12, v)
            return z

        m0, c0, s0, _ = k.coefs[0]
        assert status_of(with_coef(0, 2, c0, s0)) is errors.MalformedEncoding
        assert status_of(with_coef(0, 2**32 - 1, c0, s0)) is errors.MalformedEncoding
        assert status_of(with_coef(0, m0, k.domain, s0)) is errors.MalformedEncoding
        assert status_of(with_coef(0, m0, 2**32 - 1, s0)) is errors.MalformedEncoding
        assert status_of(with_coef(0, m0, c0, k.n_vars)) is errors.MalformedEncoding
        assert status_of(with_coef(0, m0, c0, 2**32 - 1)) is errors.MalformedEncoding
        assert status_of(with_coef(0, m0, k.domain - 1, k.n_vars - 1)) is None
        assert status_of(with_coef(0, m0, c0, s0, le(R))) is errors.NonCanonicalEncoding
        assert status_of(with_coef(0, m0, c0, s0, b"\xff" * 32)) is errors.NonCanonicalEncoding
        assert status_of(with_coef(0, m0, c0, s0, le(R - 1))) is None

    def test_points(self, case: Case) -> None:
        z = case.zkey
        # (section, offset of a point, G2?) for every point kind
        where = [(2, 84, False), (2, 148, False), (2, 212, True), (2, 340, True),
                 (2, 468, False), (2, 532, True), (3, 0, False), (5, 64, False),
                 (6, 0, False), (7, 128, True), (8, 0, False), (9, 64 * 3, False)]  # fmt: skip
        for t, off, g2 in where:
            coords = 4 if g2 else 2
            for ci in range(coords):
                # non-canonical coordinate: q itself and 2^256 - 1
                for v in (le(P), b"\xff" * 32):
                    got = status_of(patched(z, t, off + 32 * ci, v))
                    assert got is errors.NonCanonicalEncoding, (t, off, ci)
                # off the curve: change one coordinate by one
                secs_off = next(p for p in section_table(z) if p[0] == t)[1] + 12 + off + 32 * ci
                cur = int.from_bytes(z[secs_off : secs_off + 32], "little")
                got = status_of(patched(z, t, off + 32 * ci, le((cur + 1) % P)))
                assert got is errors.NotOnCurve, (t, off, ci)
            # (0, y) with y != 0 is not infinity and not on the curve
            half = 32 * (coords // 2)
            y = le(5 * MONT_Q % P) + bytes(half - 32)
            got = status_of(patched(z, t, off, bytes(half) + y))
            assert got is errors.NotOnCurve, (t, off)

    def test_infinity_points_accepted(self, case: Case) -> None:
        """Key points at infinity are legal (a wire in no A row has A_i = 0)."""
        k = case.key
        k2 = replace(k, a=[G1.identity(), *k.a[1:]], b2=[G2.identity(), *k.b2[1:]])
        assert status_of(write_zkey(k2)) is None

    def test_random_corruption_never_crashes(self, case: Case) -> None:
        z = bytearray(case.zkey)
        rng = random.Random(9)
        for _ in range(300):
            b = bytearray(z)
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            got = status_of(bytes(b))
            assert got is None or issubclass(got, errors.InvalidInput)
