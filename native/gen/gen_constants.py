#!/usr/bin/env python3
"""Generate native/src/constants.h: BN254 field, tower and curve constants.

Everything is derived from the definition of BN254 (the BN curve with
parameter x = 4965661367192848881 and b = 3, tower Fq2 = Fq[u]/(u^2+1),
Fq6 = Fq2[v]/(v^3-(9+u)), Fq12 = Fq6[w]/(w^2-v)); the well-known values are
asserted, not pasted.  The output is deterministic: running

    python3 native/gen/gen_constants.py > native/src/constants.h

reproduces the committed header byte for byte (tests/native/test_field.py
checks it).  With an argument, the header is written to that path instead.
"""

import sys

# ---------------------------------------------------------------- definition
BN_X = 4965661367192848881
P = 36 * BN_X**4 + 36 * BN_X**3 + 24 * BN_X**2 + 6 * BN_X + 1
R = 36 * BN_X**4 + 36 * BN_X**3 + 18 * BN_X**2 + 6 * BN_X + 1
T = 6 * BN_X**2 + 1  # trace of Frobenius

assert P == 21888242871839275222246405745257275088696311157297823662689037894645226208583
assert R == 21888242871839275222246405745257275088548364400416034343698204186575808495617
assert P + 1 - T == R  # E(Fq) has prime order r (cofactor 1)
assert P % 4 == 3 and P % 6 == 1

MONT_R = 1 << 256
TWO_ADICITY = 28
assert (R - 1) % (1 << TWO_ADICITY) == 0 and ((R - 1) >> TWO_ADICITY) % 2 == 1
FR_GENERATOR = 5  # multiplicative generator used for roots of unity (as snarkjs/arkworks)


def is_probable_prime(n):
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)
    if n < 2:
        return False
    if n in small:
        return True
    if any(n % q == 0 for q in small):
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in small:
        y = pow(a, d, n)
        if y in (1, n - 1):
            continue
        for _ in range(s - 1):
            y = y * y % n
            if y == n - 1:
                break
        else:
            return False
    return True


assert is_probable_prime(P) and is_probable_prime(R)
# 5 generates Fr^*: check it is not a q-th power residue for each prime q | r-1.
_FR_ORDER_FACTORS = [
    2,
    3,
    13,
    29,
    983,
    11003,
    237073,
    405928799,
    1670836401704629,
    13818364434197438864469338081,
]
_n = R - 1
for _q in _FR_ORDER_FACTORS:
    assert is_probable_prime(_q)
    while _n % _q == 0:
        _n //= _q
assert _n == 1, "factorisation of r-1 is incomplete"
for _q in _FR_ORDER_FACTORS:
    assert pow(FR_GENERATOR, (R - 1) // _q, R) != 1


# ------------------------------------------------------------ Fq2 arithmetic
def f2add(a, b):
    return ((a[0] + b[0]) % P, (a[1] + b[1]) % P)


def f2sub(a, b):
    return ((a[0] - b[0]) % P, (a[1] - b[1]) % P)


def f2mul(a, b):
    return ((a[0] * b[0] - a[1] * b[1]) % P, (a[0] * b[1] + a[1] * b[0]) % P)


def f2inv(a):
    n = (a[0] * a[0] + a[1] * a[1]) % P
    ni = pow(n, P - 2, P)
    return (a[0] * ni % P, (-a[1]) * ni % P)


def f2pow(a, e):
    r = (1, 0)
    while e:
        if e & 1:
            r = f2mul(r, a)
        a = f2mul(a, a)
        e >>= 1
    return r


def f2conj(a):
    return (a[0], (-a[1]) % P)


XI = (9, 1)
# xi is neither a square nor a cube in Fq2, so both extensions are fields.
assert f2pow(XI, (P * P - 1) // 2) != (1, 0)
assert f2pow(XI, (P * P - 1) // 3) != (1, 0)
# u^2 + 1 irreducible over Fq since p = 3 mod 4.

G1_B = 3
G2_B = f2mul((3, 0), f2inv(XI))
assert f2mul(G2_B, XI) == (3, 0)


# ------------------------------------------------------------ curves
def on_g1(pt):
    x, y = pt
    return (y * y - x * x * x - G1_B) % P == 0


def on_g2(pt):
    x, y = pt
    return f2sub(f2mul(y, y), f2add(f2mul(f2mul(x, x), x), G2_B)) == (0, 0)


def g2_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if f2add(y1, y2) == (0, 0):
            return None
        lam = f2mul(f2mul((3, 0), f2mul(x1, x1)), f2inv(f2add(y1, y1)))
    else:
        lam = f2mul(f2sub(y2, y1), f2inv(f2sub(x2, x1)))
    x3 = f2sub(f2sub(f2mul(lam, lam), x1), x2)
    y3 = f2sub(f2mul(lam, f2sub(x1, x3)), y1)
    return (x3, y3)


def g2_mul(pt, k):
    acc = None
    while k:
        if k & 1:
            acc = g2_add(acc, pt)
        pt = g2_add(pt, pt)
        k >>= 1
    return acc


G1_GEN = (1, 2)
assert on_g1(G1_GEN)

G2_GEN = (
    (
        10857046999023057135944570762232829481370756359578518086990519993285655852781,
        11559732032986387107991004021392285783925812861821192530917403151452391805634,
    ),
    (
        8495653923123431417604973247489272438418190587263600148770280649306958101930,
        4082367875863433681332203403145435568316851327593401208105741076214120093531,
    ),
)
assert on_g2(G2_GEN)
assert g2_mul(G2_GEN, R) is None

# Frobenius coefficients: gamma[i][k] = xi^(k (p^i - 1) / 6), i = 0..11, k = 0..5.
# For a in Fq2 and the Fq12 basis element w^k (w^6 = xi):
#   (a w^k)^(p^i) = frob^i(a) * gamma[i][k] * w^k,  frob^i(a) = conj^i(a).
GAMMA = [[f2pow(XI, k * (P**i - 1) // 6) for k in range(6)] for i in range(12)]
for i in range(12):
    assert GAMMA[i][0] == (1, 0)
    if i % 2 == 0:
        assert all(g[1] == 0 for g in GAMMA[i])  # even powers: coefficients in Fq

PSI_X = f2pow(XI, (P - 1) // 3)
PSI_Y = f2pow(XI, (P - 1) // 2)
assert GAMMA[1][2] == PSI_X and GAMMA[1][3] == PSI_Y


def psi(pt):
    x, y = pt
    return (f2mul(f2conj(x), PSI_X), f2mul(f2conj(y), PSI_Y))


SIX_X2 = 6 * BN_X * BN_X
assert SIX_X2 % R == P % R
assert psi(G2_GEN) == g2_mul(G2_GEN, SIX_X2)
assert on_g2(psi(G2_GEN))
SIX_X_PLUS_2 = 6 * BN_X + 2

FR_ROOT_OF_UNITY = pow(FR_GENERATOR, (R - 1) >> TWO_ADICITY, R)
assert pow(FR_ROOT_OF_UNITY, 1 << TWO_ADICITY, R) == 1
assert pow(FR_ROOT_OF_UNITY, 1 << (TWO_ADICITY - 1), R) == R - 1


# ------------------------------------------------------------ output helpers
def limbs(v, n=4):
    assert 0 <= v < (1 << (64 * n))
    return [(v >> (64 * i)) & 0xFFFFFFFFFFFFFFFF for i in range(n)]


def lit(w):
    return f"UINT64_C(0x{w:016x})"


def arr1(name, v, comment=None, n=4):
    out = []
    if comment:
        out.append(f"/* {comment} */")
    body = ", ".join(lit(w) for w in limbs(v, n))
    out.append(f"static const uint64_t {name}[{n}] = {{{body}}};")
    return out


def row(v):
    return "{" + ", ".join(lit(w) for w in limbs(v)) + "}"


def fq2_init(a):
    return "{" + row(a[0]) + ",\n     " + row(a[1]) + "}"


def arr_fq2(name, a, comment=None):
    out = []
    if comment:
        out.append(f"/* {comment} */")
    c0, c1 = row(mont_q(a[0])), row(mont_q(a[1]))
    out.append(f"static const uint64_t {name}[2][4] = {{\n    {c0},\n    {c1}}};")
    return out


def mont_q(v):
    return v * MONT_R % P


def mont_r(v):
    return v * MONT_R % R


def field_block(pfx, m, name):
    inv = (-pow(m, -1, 1 << 64)) % (1 << 64)
    assert (inv * m) % (1 << 64) == (1 << 64) - 1
    out = [f"/* ---- {name} ---- */"]
    out += arr1(pfx + "MODULUS", m, "the modulus m (plain limbs)")
    r2_doc = "R^2 mod m, R = 2^256 (to_mont(a) = mont_mul(a, R2))"
    r3_doc = "R^3 mod m (mont_mul(hi, R3) = hi * 2^256 in Montgomery form)"
    out += arr1(pfx + "R2", MONT_R * MONT_R % m, r2_doc)
    out += arr1(pfx + "R3", pow(MONT_R, 3, m), r3_doc)
    out += arr1(pfx + "ONE", MONT_R % m, "R mod m = Montgomery form of 1")
    out.append("/* -m^-1 mod 2^64 */")
    out.append(f"#define {pfx}INV {lit(inv)}")
    out += arr1(pfx + "MODULUS_MINUS_2", m - 2, "m - 2 (Fermat inversion exponent)")
    half_doc = "(m - 1) / 2: a > this <=> a is lexicographically largest"
    out += arr1(pfx + "HALF_MODULUS", (m - 1) // 2, half_doc)
    return out


def header():
    L = []
    L.append("/* constants.h - BN254 constants.  GENERATED FILE, DO NOT EDIT.")
    L.append(" *")
    L.append(" * Generated by native/gen/gen_constants.py from the definition of BN254")
    L.append(f" * (x = {BN_X}, p = 36x^4+36x^3+24x^2+6x+1,")
    L.append(" * r = 36x^4+36x^3+18x^2+6x+1).  Regenerate with")
    L.append(" *     python3 native/gen/gen_constants.py > native/src/constants.h")
    L.append(" * (tests/native/test_field.py checks the file is reproduced byte for byte).")
    L.append(" *")
    L.append(" * Every multi-limb value is little-endian uint64 limbs.  Names ending in _MONT")
    L.append(" * are Montgomery form (a * 2^256 mod p, or mod r for FR_*); others are plain.")
    L.append(" * An Fq2 value is uint64_t[2][4] = {c0, c1} (c0 + c1*u), layout-compatible")
    L.append(" * with fq2 (memcpy into an fe / fq2).")
    L.append(" *")
    L.append(" * Fields (prefix FQ_ = base field p, FR_ = scalar field r):")
    L.append(" *   *_MODULUS[4]          m")
    L.append(" *   *_R2[4], *_R3[4]      R^2 mod m, R^3 mod m (R = 2^256)")
    L.append(" *   *_ONE[4]              R mod m (Montgomery 1)")
    L.append(" *   *_INV                 -m^-1 mod 2^64 (a macro)")
    L.append(" *   *_MODULUS_MINUS_2[4]  m - 2")
    L.append(" *   *_HALF_MODULUS[4]     (m - 1) / 2")
    L.append(" *   FQ_SQRT_EXP[4]        (p + 1) / 4        (sqrt in Fq, p = 3 mod 4)")
    L.append(" *   FQ_P_MINUS_3_DIV_4[4] (p - 3) / 4        (sqrt in Fq2)")
    L.append(" *   FQ_P_MINUS_1_DIV_2[4] (p - 1) / 2        (Euler criterion; = FQ_HALF_MODULUS)")
    L.append(" *   FR_TWO_ADICITY        28 (2^28 | r - 1)")
    L.append(" *   FR_GENERATOR          5 (generator of Fr^*, plain small integer)")
    L.append(" *   FR_GENERATOR_MONT[4]  5 in Montgomery form")
    L.append(" *   FR_ROOT_OF_UNITY_MONT[4]  5^((r-1)/2^28), a primitive 2^28-th root of unity")
    L.append(" * Curve parameter:")
    L.append(f" *   BN_X                  x = 0x{BN_X:x} (a macro, uint64)")
    L.append(" *   BN_6X2[4]             6x^2 (plain; psi(Q) = [6x^2]Q on G2, = p mod r)")
    L.append(" *   BN_6X_PLUS_2[4]       6x + 2 (plain; optimal ate loop count)")
    L.append(" * Curves (G1: y^2 = x^3 + 3 over Fq; G2: y^2 = x^3 + 3/(9+u) over Fq2):")
    L.append(" *   G1_B_MONT[4]          3")
    L.append(" *   G1_GEN_X_MONT[4], G1_GEN_Y_MONT[4]             (1, 2)")
    L.append(" *   G2_B_MONT[2][4]       3/(9+u)")
    L.append(" *   G2_GEN_X_MONT[2][4], G2_GEN_Y_MONT[2][4]       the EIP-197 generator")
    L.append(" *   G2_PSI_X_MONT[2][4]   xi^((p-1)/3)  psi(x, y) = (conj(x)*PSI_X, conj(y)*PSI_Y)")
    L.append(" *   G2_PSI_Y_MONT[2][4]   xi^((p-1)/2)")
    L.append(" * Tower (xi = 9 + u):")
    L.append(" *   FQ2_XI_MONT[2][4]     9 + u")
    L.append(" *   FQ12_FROB_GAMMA_MONT[12][6][2][4]")
    L.append(" *       [i][k] = gamma_{i,k} = xi^(k (p^i - 1) / 6), so for a in Fq2 and the")
    L.append(" *       Fq12 basis element w^k (w^6 = xi, v = w^2):")
    L.append(" *       (a w^k)^(p^i) = conj^i(a) * gamma_{i,k} * w^k.")
    L.append(" *       Fq6 Frobenius uses k = 2 (v) and k = 4 (v^2); Fq12's c1 (w) part")
    L.append(" *       uses k = 1, 3, 5.  For even i every gamma is in Fq (c1 = 0).")
    L.append(" *       G2 Frobenius pi(Q) = (conj(x) gamma_{1,2}, conj(y) gamma_{1,3});")
    L.append(" *       pi^2(Q) = (x gamma_{2,2}, y gamma_{2,3}).")
    L.append(" */")
    L.append("#ifndef ZKA_CONSTANTS_H")
    L.append("#define ZKA_CONSTANTS_H")
    L.append("#include <stdint.h>")
    L.append("")
    L += field_block("FQ_", P, f"Fq, p = {P}")
    L += arr1("FQ_SQRT_EXP", (P + 1) // 4, "(p + 1) / 4")
    L += arr1("FQ_P_MINUS_3_DIV_4", (P - 3) // 4, "(p - 3) / 4")
    L += arr1("FQ_P_MINUS_1_DIV_2", (P - 1) // 2, "(p - 1) / 2")
    L.append("")
    L += field_block("FR_", R, f"Fr, r = {R}")
    L.append(f"#define FR_TWO_ADICITY {TWO_ADICITY}")
    L.append(f"#define FR_GENERATOR {FR_GENERATOR}")
    L += arr1("FR_GENERATOR_MONT", mont_r(FR_GENERATOR))
    L += arr1("FR_ROOT_OF_UNITY_MONT", mont_r(FR_ROOT_OF_UNITY), "5^((r-1)/2^28)")
    L.append("")
    L.append("/* ---- curve parameter ---- */")
    L.append(f"#define BN_X {lit(BN_X)}")
    L += arr1("BN_6X2", SIX_X2)
    L += arr1("BN_6X_PLUS_2", SIX_X_PLUS_2)
    L.append("")
    L.append("/* ---- curves ---- */")
    L += arr1("G1_B_MONT", mont_q(G1_B))
    L += arr1("G1_GEN_X_MONT", mont_q(G1_GEN[0]))
    L += arr1("G1_GEN_Y_MONT", mont_q(G1_GEN[1]))
    L += arr_fq2("G2_B_MONT", G2_B, "3 / (9 + u)")
    L += arr_fq2("G2_GEN_X_MONT", G2_GEN[0])
    L += arr_fq2("G2_GEN_Y_MONT", G2_GEN[1])
    L += arr_fq2("G2_PSI_X_MONT", PSI_X, "xi^((p-1)/3)")
    L += arr_fq2("G2_PSI_Y_MONT", PSI_Y, "xi^((p-1)/2)")
    L.append("")
    L.append("/* ---- tower ---- */")
    L += arr_fq2("FQ2_XI_MONT", XI, "9 + u")
    L.append("static const uint64_t FQ12_FROB_GAMMA_MONT[12][6][2][4] = {")
    for i in range(12):
        L.append(f"  {{ /* i = {i} */")
        for k in range(6):
            g = GAMMA[i][k]
            sep = "," if k < 5 else ""
            c0, c1 = row(mont_q(g[0])), row(mont_q(g[1]))
            L.append(f"    {{{c0},\n     {c1}}}{sep}")
        L.append("  }" + ("," if i < 11 else ""))
    L.append("};")
    L.append("")
    L.append("#endif /* ZKA_CONSTANTS_H */")
    return "\n".join(L) + "\n"


def main(argv):
    text = header()
    if len(argv) > 1:
        with open(argv[1], "w", encoding="ascii", newline="\n") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
