#!/usr/bin/env python3
"""Generate native/src/poseidon_constants.h: Poseidon over BN254 Fr, circomlib parameters.

Definition: the Poseidon paper (eprint 2019/458) and its reference parameter script
generate_parameters_grain (hadeshash), run by circomlib as
``generate_parameters_grain.sage 1 0 254 t 8 R_P r`` for t = 2..17.  This is our own
implementation of that procedure; the tests check that it reproduces circomlibjs's shipped
constants exactly.

* S-box x^5, R_F = 8 full rounds, R_P partial rounds per width t (circomlib's table).
* Grain LFSR, 80-bit state, oldest bit first: field type (1 = prime, 2 bits), S-box
  (0 = x^alpha, 4 bits), field size n = 254 (12 bits), t (12 bits), R_F (10 bits),
  R_P (10 bits), then 30 one-bits; every number big-endian.  New bit
  b[k+80] = b[k+62] ^ b[k+51] ^ b[k+38] ^ b[k+23] ^ b[k+13] ^ b[k].  The first 160 bits
  are discarded (exactly 160: the pairing below starts at bit 160).
* Self-shrinking: the following bits are read in pairs (a, b); b is output when a = 1,
  the pair is dropped when a = 0.
* A field element is the next 254 output bits read big-endian (first bit most significant).
* Round constants: (R_F + R_P) * t of them in round order; a candidate >= r is rejected
  and the next 254 bits are drawn instead.
* MDS, drawn right after the round constants from the same stream: 2t candidates, each
  reduced modulo r (no rejection here); if two are equal, or some xs[i] + ys[j] = 0, all
  2t are drawn again (never happens for these parameters); xs = the first t, ys = the
  last t; M[i][j] = 1 / (xs[i] + ys[j]), applied as state'[i] = sum_j M[i][j] state[j].
  That is circomlib's matrix as it ships it (not transposed), and for all 16 widths it is
  the first Cauchy matrix drawn.

Also emitted, derived here from those constants: the equivalent schedule with cheap
partial rounds (Poseidon paper, appendix B) that the C core runs; see optimize().  The
script checks it against the plain rounds before writing anything.

Every value is written in Montgomery form (a * 2^256 mod r) as 64-bit limbs, least
significant first, so the C core uses it without conversion.  The output is deterministic
(the tests regenerate it and compare bytes).  Takes a few seconds.

Usage: gen_poseidon.py [OUTPUT]   (default: native/src/poseidon_constants.h)
       gen_poseidon.py --json     (the plain constants as decimal strings, on stdout)
"""

from __future__ import annotations

import itertools
import json
import os
import sys

R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
N_BITS = 254
R_F = 8
PARTIAL_ROUNDS = [56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68]  # t = 2..17
T_MIN, T_MAX = 2, 17
MONT = 1 << 256

_BIT_CHARS = bytes.maketrans(b"\x00\x01", b"01")


class Grain:
    """The Grain LFSR in self-shrinking mode, as used by the Poseidon reference script."""

    # Bits computed per step: the newest tap is b[k+62], so the next 18 bits depend only
    # on the current 80-bit window (b[k+62+17] is its last bit).
    _CHUNK = 18

    def __init__(self, field: int, sbox: int, n: int, t: int, r_f: int, r_p: int) -> None:
        bits = (
            format(field, "02b")
            + format(sbox, "04b")
            + format(n, "012b")
            + format(t, "012b")
            + format(r_f, "010b")
            + format(r_p, "010b")
            + "1" * 30
        )
        assert len(bits) == 80
        # state bit i = i-th oldest bit of the 80-bit window
        self._s = int(bits[::-1], 2)
        self._raw = bytearray()  # raw LFSR bits (0/1 bytes) not yet consumed
        self._out = bytearray()  # self-shrunk output bits (0/1 bytes) not yet consumed
        self._pos = 0
        self._raw_bits(160)
        del self._raw[:160]  # discard exactly 160 (chunks may overshoot)

    def _raw_bits(self, count: int) -> None:
        s = self._s
        mask = (1 << self._CHUNK) - 1
        chunks = []
        for _ in range((count + self._CHUNK - 1) // self._CHUNK):
            new = ((s >> 62) ^ (s >> 51) ^ (s >> 38) ^ (s >> 23) ^ (s >> 13) ^ s) & mask
            s = (s >> self._CHUNK) | (new << (80 - self._CHUNK))
            chunks.append(format(new, "018b")[::-1])
        self._s = s
        self._raw += "".join(chunks).encode().translate(bytes.maketrans(b"01", b"\x00\x01"))

    def _refill(self, need: int) -> None:
        while len(self._out) - self._pos < need:
            want = 4 * (need - (len(self._out) - self._pos)) + 64
            want += want & 1
            self._raw_bits(want)
            usable = len(self._raw) & ~1
            pairs = self._raw[:usable]
            del self._raw[:usable]
            self._out = self._out[self._pos :] + bytearray(
                itertools.compress(pairs[1::2], pairs[0::2])
            )
            self._pos = 0

    def bits(self, n: int) -> int:
        """The next n output bits as an integer, first bit most significant."""
        self._refill(n)
        chunk = bytes(self._out[self._pos : self._pos + n])
        self._pos += n
        return int(chunk.translate(_BIT_CHARS), 2)


def generate(t: int) -> tuple[list[int], list[list[int]]]:
    """Plain constants of width t: round constants (round order) and circomlib's MDS."""
    r_p = PARTIAL_ROUNDS[t - 2]
    g = Grain(1, 0, N_BITS, t, R_F, r_p)
    rc = []
    for _ in range((R_F + r_p) * t):
        v = g.bits(N_BITS)
        while v >= R:
            v = g.bits(N_BITS)
        rc.append(v)
    while True:
        cand = [g.bits(N_BITS) % R for _ in range(2 * t)]
        while len(set(cand)) != len(cand):
            cand = [g.bits(N_BITS) % R for _ in range(2 * t)]
        xs, ys = cand[:t], cand[t:]
        if any((x + y) % R == 0 for x in xs for y in ys):
            continue
        break
    mds = [[pow(xs[i] + ys[j], R - 2, R) for j in range(t)] for i in range(t)]
    return rc, mds


# ---- plain matrix helpers over Fr ----


def _inv(a: int) -> int:
    assert a % R
    return pow(a, R - 2, R)


def mat_mul(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    n = len(a)
    return [[sum(a[i][k] * b[k][j] for k in range(n)) % R for j in range(n)] for i in range(n)]


def mat_vec(a: list[list[int]], v: list[int]) -> list[int]:
    return [sum(a[i][j] * v[j] for j in range(len(v))) % R for i in range(len(a))]


def mat_inv(a: list[list[int]]) -> list[list[int]]:
    n = len(a)
    m = [row[:] + [int(i == j) for j in range(n)] for i, row in enumerate(a)]
    for c in range(n):
        p = next(i for i in range(c, n) if m[i][c])
        m[c], m[p] = m[p], m[c]
        iv = _inv(m[c][c])
        m[c] = [x * iv % R for x in m[c]]
        for i in range(n):
            if i != c and m[i][c]:
                f = m[i][c]
                m[i] = [(x - f * y) % R for x, y in zip(m[i], m[c], strict=True)]
    return [row[n:] for row in m]


def optimize(t: int, rc: list[int], mds: list[list[int]]):
    """Equivalent schedule with cheap partial rounds (Poseidon paper, appendix B).

    Plain round r:  s <- M * sbox_r(s + c_r)   (sbox_r on every cell in full rounds, on
    cell 0 only in partial rounds).  Rounds 0..3 and R_P+4..R_P+7 are full.

    Optimized schedule (same permutation):
      full r = 0..3:   s += c_r; sbox all; s <- (r == 3 ? PRE : M) s
      partial k:       s[0] += K_k; s[0] <- s[0]^5; s <- S_k s
      full r = 4..7 of the second half: s += L_r; sbox all; s <- M s

    Constants: a partial round only needs cell 0 of its constant before the S-box; cells
    1.. pass through the S-box unchanged, so with q = c_r + pending, K_r = q[0] and the
    pending vector becomes M (0, q[1..]).  What is pending after the last partial round is
    folded into the first constant vector of the second half (L).

    Matrices: M = S D with D = diag(1, M_hat) (M_hat = M without row/column 0) and
    S = [[m00, v],[w, I]], v = M[0][1..] * M_hat^-1, w = M[1..][0].  D commutes with a
    partial round's S-box and constant (it neither reads nor writes cell 0), so it moves
    into the previous round's matrix: working backwards from the last partial round,
    m <- D m_prev ... and the product left over replaces the M of the last first-half full
    round (PRE).

    Returns (L[4][t], K[R_P], PRE[t][t], S[R_P][2t-1]); S_k = [m00, v_1.., w_1..].
    """
    r_p = PARTIAL_ROUNDS[t - 2]
    half = R_F // 2
    c = [rc[i * t : (i + 1) * t] for i in range(R_F + r_p)]

    pending = [0] * t
    ks = []
    for r in range(half, half + r_p):
        q = [(a + b) % R for a, b in zip(c[r], pending, strict=True)]
        ks.append(q[0])
        pending = mat_vec(mds, [0, *q[1:]])
    last = [row[:] for row in c[half + r_p :]]
    last[0] = [(a + b) % R for a, b in zip(last[0], pending, strict=True)]

    sparse = []
    m = mds
    for _ in range(r_p):
        m_hat = [row[1:] for row in m[1:]]
        m_hat_inv = mat_inv(m_hat)
        v = [sum(m[0][1 + k] * m_hat_inv[k][j] for k in range(t - 1)) % R for j in range(t - 1)]
        w = [m[i][0] for i in range(1, t)]
        sparse.append([m[0][0], *v, *w])
        d = [
            [int(i == j == 0) if (i == 0 or j == 0) else m_hat[i - 1][j - 1] for j in range(t)]
            for i in range(t)
        ]
        m = mat_mul(d, mds)
    sparse.reverse()
    return last, ks, m, sparse


def permute_plain(t: int, rc: list[int], mds: list[list[int]], s: list[int]) -> list[int]:
    """The plain permutation (reference)."""
    r_p = PARTIAL_ROUNDS[t - 2]
    s = list(s)
    for r in range(R_F + r_p):
        s = [(x + rc[r * t + i]) % R for i, x in enumerate(s)]
        if r < R_F // 2 or r >= R_F // 2 + r_p:
            s = [pow(x, 5, R) for x in s]
        else:
            s[0] = pow(s[0], 5, R)
        s = mat_vec(mds, s)
    return s


def permute_opt(t: int, rc: list[int], mds: list[list[int]], opt, s: list[int]) -> list[int]:
    """The optimized schedule, in Python (checks optimize() at generation time)."""
    last, ks, pre, sparse = opt
    half = R_F // 2
    s = list(s)
    for r in range(half):
        s = [pow((x + rc[r * t + i]) % R, 5, R) for i, x in enumerate(s)]
        s = mat_vec(pre if r == half - 1 else mds, s)
    for k, sp in enumerate(sparse):
        x0 = pow((s[0] + ks[k]) % R, 5, R)
        s0 = (sp[0] * x0 + sum(sp[j] * s[j] for j in range(1, t))) % R
        s = [s0] + [(sp[t - 1 + i] * x0 + s[i]) % R for i in range(1, t)]
    for r in range(half):
        s = [pow((x + last[r][i]) % R, 5, R) for i, x in enumerate(s)]
        s = mat_vec(mds, s)
    return s


# ---- output ----


def mont_limbs(v: int) -> list[int]:
    m = v * MONT % R
    return [(m >> (64 * i)) & 0xFFFFFFFFFFFFFFFF for i in range(4)]


def fe_init(v: int) -> str:
    return "{{" + ", ".join(f"0x{x:016x}ULL" for x in mont_limbs(v)) + "}}"


def emit_array(lines: list[str], name: str, values: list[int]) -> None:
    lines.append(f"static const fe {name}[{len(values)}] = {{")
    for v in values:
        lines.append("    " + fe_init(v) + ",")
    lines.append("};")


def build_header() -> str:
    lines = [
        "/* poseidon_constants.h - GENERATED by native/gen/gen_poseidon.py; do not edit.",
        " *",
        " * Poseidon over BN254 Fr with circomlib's parameters: x^5, R_F = 8, R_P per t below,",
        " * round constants and MDS from the reference Grain LFSR procedure (see the script).",
        " * Every fe is in Montgomery form (a * 2^256 mod r), little-endian 64-bit limbs.",
        " *",
        " * Per width t (2..17), R_P = partial rounds:",
        " *   zka_pos_rc_T     (8 + R_P) * t plain round constants, round order",
        " *   zka_pos_mds_T    t * t MDS, row-major: state'[i] = sum_j mds[i][j] * state[j]",
        " * and the optimized schedule derived from them (see optimize() in the script):",
        " *   zka_pos_k_T      R_P     scalar added to state[0] before each partial S-box",
        " *   zka_pos_last_T   4 * t   constants of the last 4 full rounds",
        " *   zka_pos_pre_T    t * t   dense matrix replacing the MDS of full round 3",
        " *   zka_pos_sparse_T R_P * (2t - 1) per partial round [m00, v_1..v_{t-1},",
        " *                    w_1..w_{t-1}]: s'[0] = m00 s[0] + sum_j v_j s[j],",
        " *                    s'[i] = w_i s[0] + s[i]",
        " */",
        "#ifndef ZKA_POSEIDON_CONSTANTS_H",
        "#define ZKA_POSEIDON_CONSTANTS_H",
        "",
        f"#define ZKA_POSEIDON_RF {R_F}",
        "",
    ]
    table = []
    for t in range(T_MIN, T_MAX + 1):
        rc, mds = generate(t)
        opt = optimize(t, rc, mds)
        last, ks, pre, sparse = opt
        # self-check of the derivation on a few states
        for seed in range(3):
            st = [pow(7 + seed, 11 * (i + 1) + seed, R) for i in range(t)]
            assert permute_plain(t, rc, mds, st) == permute_opt(t, rc, mds, opt, st)
        lines.append(f"/* ---- t = {t}, R_P = {PARTIAL_ROUNDS[t - 2]} ---- */")
        emit_array(lines, f"zka_pos_rc_{t}", rc)
        emit_array(lines, f"zka_pos_mds_{t}", [x for row in mds for x in row])
        emit_array(lines, f"zka_pos_k_{t}", ks)
        emit_array(lines, f"zka_pos_last_{t}", [x for row in last for x in row])
        emit_array(lines, f"zka_pos_pre_{t}", [x for row in pre for x in row])
        emit_array(lines, f"zka_pos_sparse_{t}", [x for row in sparse for x in row])
        lines.append("")
        table.append(t)
    lines.append("typedef struct {")
    lines.append("    uint32_t t, rp;")
    lines.append("    const fe *rc, *mds, *k, *last, *pre, *sparse;")
    lines.append("} zka_poseidon_params;")
    lines.append("")
    lines.append(f"static const zka_poseidon_params zka_poseidon_table[{len(table)}] = {{")
    for t in table:
        names = ", ".join(
            f"zka_pos_{kind}_{t}" for kind in ("rc", "mds", "k", "last", "pre", "sparse")
        )
        lines.append(f"    {{{t}, {PARTIAL_ROUNDS[t - 2]}, {names}}},")
    lines.append("};")
    lines.append("")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--json":
        out = {}
        for t in range(T_MIN, T_MAX + 1):
            rc, mds = generate(t)
            out[str(t)] = {
                "rc": [str(x) for x in rc],
                "mds": [[str(x) for x in row] for row in mds],
            }
        json.dump(out, sys.stdout)
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    path = argv[1] if len(argv) > 1 else os.path.join(here, "..", "src", "poseidon_constants.h")
    text = build_header()
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
