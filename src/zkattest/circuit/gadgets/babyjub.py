"""Baby Jubjub (EIP-2494) arithmetic in circuits.

Points are pairs of linear combinations: :class:`EdPoint` (twisted Edwards ``x, y``,
the form of keys and signatures) and :class:`MontPoint` (the birationally equivalent
Montgomery curve ``v^2 = u^3 + 168698 u^2 + u``, where addition is cheaper).

=====================================  ===========  =================================
gadget                                 constraints  notes
=====================================  ===========  =================================
:func:`assert_on_curve`                3
:func:`add` (complete, BabyAdd)        6            3 when one point is a constant
:func:`double`                         5            input must be on the curve
:func:`to_montgomery`                  2            input in the subgroup, not zero
:func:`from_montgomery`                2
:func:`fixed_base_mul` (n bits)        ~2n + 5      3-bit windows, precomputed tables
:func:`var_base_mul` (n bits)          13n          complete, any point on the curve
:func:`var_base_mul_trusted` (n bits)  6n + 9       point not chosen by the prover
=====================================  ===========  =================================

Montgomery formulas are incomplete: adding ``P + Q`` needs ``P != +-Q``.  When
``P == -Q`` the constraints have no solution (a completeness loss, never a soundness
one); ``P == Q`` would leave the slope free, so the fast gadgets make it impossible
to reach.  They add multiples of a fixed point ``G0`` of unknown discrete logarithm
(:func:`offset_point`, hashed to the curve) to every intermediate value and remove
them at the end, so that every exceptional case implies a discrete-log relation
between ``G0`` and the base point: infeasible for a constant base point, for a
public key the verifier trusts, or for a base point derived from a hash.  A prover
who may pick the base point freely could pick one related to ``G0``: use the
complete :func:`var_base_mul` for such points.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from ... import babyjub as bj
from ...errors import CircuitError
from ..builder import Circuit, Hint, template
from ..lc import LC, LCLike, R, as_lc, sum_lcs

__all__ = [
    "EdPoint",
    "MontPoint",
    "add",
    "assert_on_curve",
    "const_point",
    "double",
    "fixed_base_mul",
    "fixed_base_mul_montgomery",
    "from_montgomery",
    "mont_add",
    "mont_const",
    "offset_point",
    "to_montgomery",
    "var_base_mul",
    "var_base_mul_trusted",
    "var_base_mul_trusted_montgomery",
]

_A, _D, _MA = bj.A, bj.D, bj.MONTGOMERY_A
_D_INV = pow(_D, -1, R)
_L = bj.SUBGROUP_ORDER
_OFFSET_TAG = b"zkattest/babyjub/offset-point/v1"


class EdPoint(NamedTuple):
    """A twisted Edwards point in a circuit."""

    x: LC
    y: LC


class MontPoint(NamedTuple):
    """A Montgomery point ``(u, v)`` in a circuit (never the point at infinity)."""

    u: LC
    v: LC


def _mont_of(p: bj.Point) -> tuple[int, int]:
    if p.x == 0:
        raise CircuitError("point of order 1 or 2 has no affine Montgomery image")
    u = (1 + p.y) * pow(1 - p.y, -1, R) % R
    return u, u * pow(p.x, -1, R) % R


def _ed_of_mont(u: int, v: int) -> bj.Point:
    return bj.Point(u * pow(v, -1, R) % R, (u - 1) * pow(u + 1, -1, R) % R)


def const_point(p: bj.Point) -> EdPoint:
    """A constant Edwards point."""
    return EdPoint(LC.const(p.x), LC.const(p.y))


def mont_const(p: bj.Point) -> MontPoint:
    """The Montgomery image of a constant point (not of order 1 or 2)."""
    u, v = _mont_of(p)
    return MontPoint(LC.const(u), LC.const(v))


@lru_cache(maxsize=1)
def offset_point() -> bj.Point:
    """``G0``: a point of order l hashed to the curve; nobody knows its discrete
    logarithm to any other point."""
    return bj.hash_to_subgroup(_OFFSET_TAG)


def _require_bits(c: Circuit, bits: Sequence[LCLike]) -> list[LC]:
    out = []
    for b in bits:
        lb = as_lc(b)
        if not c.is_boolean(lb):
            c.assert_bool(lb, "bit")
        out.append(lb)
    return out


# Witness computation for the fast gadgets: the points are computed in projective
# Edwards coordinates (no inversion), then mapped to affine Montgomery coordinates
# and slopes with two batched inversions (Montgomery's trick), instead of two modular
# inversions per step.

_Proj = tuple[int, int, int]


def _batch_inv(xs: list[int]) -> list[int]:
    """Inverses mod r of many values (0 maps to 0) with one modular inversion."""
    prefix = []
    acc = 1
    for x in xs:
        prefix.append(acc)
        if x:
            acc = acc * x % R
    inv = pow(acc, -1, R)
    out = [0] * len(xs)
    for i in range(len(xs) - 1, -1, -1):
        x = xs[i]
        if x:
            out[i] = inv * prefix[i] % R
            inv = inv * x % R
    return out


def _proj_to_mont(points: list[_Proj]) -> list[tuple[int, int]]:
    """Affine Montgomery ``(u, v)`` of projective Edwards points ``(X : Y : Z)``:
    ``u = (Z + Y) / (Z - Y)``, ``v = u Z / X`` (0, 0 for the exceptional points)."""
    dens = [(z - y) * x % R for x, y, z in points]
    invs = _batch_inv(dens)
    out = []
    for (x, y, z), di in zip(points, invs, strict=True):
        zy = (z + y) % R
        out.append((zy * x % R * di % R, zy * z % R * di % R))
    return out


def _proj_of_mont(u: int, v: int) -> _Proj:
    """Projective Edwards ``(u (u + 1) : (u - 1) v : v (u + 1))`` of a Montgomery point."""
    return u * (u + 1) % R, (u - 1) * v % R, v * (u + 1) % R


def _slopes(pairs: list[tuple[tuple[int, int], tuple[int, int]]]) -> list[int]:
    """Slopes ``(v2 - v1) / (u2 - u1)`` of many point pairs (0 where undefined)."""
    invs = _batch_inv([(q[0] - p[0]) % R for p, q in pairs])
    return [(q[1] - p[1]) * i % R for (p, q), i in zip(pairs, invs, strict=True)]


# ----------------------------------------------------------------------------- Edwards


@template("BabyCheck")
def assert_on_curve(c: Circuit, p: EdPoint) -> None:
    """Constrain ``a x^2 + y^2 = 1 + d x^2 y^2`` (3 constraints)."""
    x2 = c.square(p.x, "x2")
    y2 = c.square(p.y, "y2")
    c.constrain(x2, y2, (_A * x2 + y2 - 1) * _D_INV, "on curve")


@template("BabyAdd")
def add(c: Circuit, p: EdPoint, q: EdPoint) -> EdPoint:
    """``p + q`` with the complete twisted Edwards law: correct for every pair of
    points on the curve.  6 constraints, 3 if ``q`` (or ``p``) is a constant."""
    beta = c.mul(p.x, q.y, "beta")
    gamma = c.mul(p.y, q.x, "gamma")
    delta = c.mul(p.y - _A * p.x, q.x + q.y, "delta")
    tau = c.mul(beta, gamma, "tau")
    x = c.div(beta + gamma, 1 + _D * tau, "x")
    y = c.div(delta + _A * beta - gamma, 1 - _D * tau, "y")
    return EdPoint(x, y)


@template("BabyDbl")
def double(c: Circuit, p: EdPoint) -> EdPoint:
    """``2p`` for ``p`` on the curve (5 constraints; the denominators
    ``a x^2 + y^2 = 1 + d x^2 y^2`` and ``2 - a x^2 - y^2`` never vanish there)."""
    x2 = c.square(p.x, "x2")
    y2 = c.square(p.y, "y2")
    return _double_from_squares(c, p, x2, y2)


def _double_from_squares(c: Circuit, p: EdPoint, x2: LC, y2: LC) -> EdPoint:
    xy = c.mul(p.x, p.y, "xy")
    x = c.div(2 * xy, _A * x2 + y2, "x")
    y = c.div(y2 - _A * x2, 2 - _A * x2 - y2, "y")
    return EdPoint(x, y)


# -------------------------------------------------------------------------- Montgomery


@template("Edwards2Montgomery")
def to_montgomery(c: Circuit, p: EdPoint) -> MontPoint:
    """The Montgomery image of ``p`` (2 constraints).  ``p`` must be in the
    prime-order subgroup; the identity has no image and leaves no witness."""
    u = c.div(1 + p.y, 1 - p.y, "u")
    v = c.div(u, p.x, "v")
    return MontPoint(u, v)


@template("Montgomery2Edwards")
def from_montgomery(c: Circuit, m: MontPoint) -> EdPoint:
    """The Edwards image of a Montgomery point (2 constraints)."""
    x = c.div(m.u, m.v, "x")
    y = c.div(m.u - 1, m.u + 1, "y")
    return EdPoint(x, y)


def _add_hint(v: list[int]) -> list[int]:
    u1, v1, u2, v2 = v
    lam = (v2 - v1) * pow(u2 - u1, -1, R) % R if (u2 - u1) % R else 0
    u3 = (lam * lam - _MA - u1 - u2) % R
    return [lam, u3, (lam * (u1 - u3) - v1) % R]


def _constrain_add(c: Circuit, p: MontPoint, q: MontPoint, wit: Sequence[LC]) -> MontPoint:
    """Constrain ``wit = [slope, u, v]`` to be ``p + q`` (3 constraints)."""
    lam, u3, v3 = wit
    c.constrain(lam, q.u - p.u, q.v - p.v, "slope")
    c.constrain(lam, lam, u3 + _MA + p.u + q.u, "u")
    c.constrain(lam, p.u - u3, v3 + p.v, "v")
    return MontPoint(u3, v3)


def mont_add(c: Circuit, p: MontPoint, q: MontPoint) -> MontPoint:
    """``p + q`` on the Montgomery curve (3 constraints) for ``p != +-q``: no witness
    if ``p == -q``; the slope is free if ``p == q``, so callers must rule that out."""
    return _constrain_add(c, p, q, c.hint(_add_hint, [p.u, p.v, q.u, q.v], 3, "madd"))


def _constrain_double_add(c: Circuit, p: MontPoint, q: MontPoint, wit: Sequence[LC]) -> MontPoint:
    """Constrain ``wit = [slope1, u3, slope2, u4, v4]`` to be ``2p + q = (p + q) + p``,
    without the middle ``v`` (5 constraints)."""
    lam1, u3, lam2, u4, v4 = wit
    c.constrain(lam1, q.u - p.u, q.v - p.v, "slope1")
    c.constrain(lam1, lam1, u3 + _MA + p.u + q.u, "u3")
    c.constrain(lam1 + lam2, p.u - u3, 2 * p.v, "slope2")
    c.constrain(lam2, lam2, u4 + _MA + u3 + p.u, "u4")
    c.constrain(lam2, p.u - u4, v4 + p.v, "v4")
    return MontPoint(u4, v4)


def _ladder_hint(n: int) -> Hint:
    """Witness of :func:`var_base_mul_trusted_montgomery`: inputs ``[u, v, bits...]``;
    outputs ``[slope, u, v]`` of ``G0 + q``, ``[slope1, u3, slope2, u4, v4]`` per
    step, ``[slope, u, v]`` of the final ``acc - q``."""
    g0 = offset_point()
    g0m = _mont_of(g0)

    def run(vals: list[int]) -> list[int]:
        uq, vq = vals[0], vals[1]
        bits = vals[2:]
        q = _proj_of_mont(uq, vq)
        neg_q = ((-q[0]) % R, q[1], q[2])
        acc = bj._proj_add((g0.x, g0.y, 1), q)
        pts: list[_Proj] = [acc]
        steps = range(n - 1, 0, -1)
        for i in steps:
            acc = bj._proj_add(bj._proj_double(acc), q if bits[i] else neg_q)
            pts.append(acc)
        pts.append(bj._proj_add(acc, neg_q))
        ms = _proj_to_mont(pts)
        qm, nqm = (uq, vq), (uq, (-vq) % R)
        pairs = [(g0m, qm)]
        pairs += [(ms[k], qm if bits[i] else nqm) for k, i in enumerate(steps)]
        pairs.append((ms[n - 1], nqm))
        lams = _slopes(pairs)
        # (acc + q') + acc: u3 from the first slope, then the second slope
        u3s = [(lams[1 + k] * lams[1 + k] - _MA - ms[k][0] - uq) % R for k in range(n - 1)]
        inv2 = _batch_inv([(ms[k][0] - u3s[k]) % R for k in range(n - 1)])
        out = [lams[0], *ms[0]]
        for k in range(n - 1):
            lam1 = lams[1 + k]
            lam2 = (2 * ms[k][1] * inv2[k] - lam1) % R
            out += [lam1, u3s[k], lam2, *ms[k + 1]]
        out += [lams[-1], *ms[-1]]
        return out

    return run


# -------------------------------------------------------------------------- fixed base

_Table = tuple[tuple[tuple[int, int], ...], ...]


@lru_cache(maxsize=16)
def _fixed_tables(base: bj.Point, n: int, offset: int) -> tuple[_Table, _Table]:
    """Tables for 3-bit windows: window ``j`` holds ``w * 8^j * base + c_j * G0`` for
    ``w < 2^width_j``, with ``c_j = 2^j`` except in the last window, where ``c_j``
    makes the sum of all ``c_j`` equal ``offset``.  Returns (Montgomery, Edwards)."""
    g0 = offset_point()
    nwin = (n + 2) // 3
    coeffs = [1 << j for j in range(nwin - 1)]
    coeffs.append((offset - ((1 << (nwin - 1)) - 1)) % _L)
    # an exceptional addition would need (sum of earlier c_i) == +-c_j mod l
    partial = 0
    for j, cj in enumerate(coeffs):
        if j > 0 and ((partial - cj) % _L == 0 or (partial + cj) % _L == 0):
            raise CircuitError("fixed-base offset leads to an exceptional addition")
        partial += cj
    mont, ed = [], []
    step = base
    for j in range(nwin):
        width = min(3, n - 3 * j)
        pt = g0 * coeffs[j]
        mrow, erow = [], []
        for _ in range(1 << width):
            if pt.x == 0:
                raise CircuitError("fixed-base table entry of order 1 or 2")
            mrow.append(_mont_of(pt))
            erow.append((pt.x, pt.y))
            pt = pt + step
        mont.append(tuple(mrow))
        ed.append(tuple(erow))
        step = step * 8
    return tuple(mont), tuple(ed)


def _fixed_hint(tables: _Table, ed_tables: _Table) -> Hint:
    """Witness of the window additions: ``[slope, u, v]`` per window after the first."""

    def run(bits: list[int]) -> list[int]:
        accs: list[_Proj] = []
        entries: list[tuple[int, int]] = []
        acc: _Proj | None = None
        for j, (row, erow) in enumerate(zip(tables, ed_tables, strict=True)):
            w = sum(b << i for i, b in enumerate(bits[3 * j : 3 * j + 3]))
            ex, ey = erow[w]
            acc = (ex, ey, 1) if acc is None else bj._proj_add(acc, (ex, ey, 1))
            accs.append(acc)
            entries.append(row[w])
        ms = _proj_to_mont(accs)
        lams = _slopes([(ms[j - 1], entries[j]) for j in range(1, len(ms))])
        out: list[int] = []
        for j in range(1, len(ms)):
            out += [lams[j - 1], ms[j][0], ms[j][1]]
        return out

    return run


def _lookup(c: Circuit, bits: list[LC], entries: Sequence[tuple[int, int]]) -> MontPoint:
    """Select ``entries[sum bits[i] 2^i]`` for 1..3 bits: 0, 1 or 3 constraints."""
    k = len(bits)

    def low(vals: Sequence[int], s01: LC | None) -> LC:
        # multilinear interpolation over bits[0], bits[1]
        if len(vals) == 2:
            return vals[0] + bits[0] * ((vals[1] - vals[0]) % R)
        assert s01 is not None
        return sum_lcs(
            [
                LC.const(vals[0]),
                bits[0] * ((vals[1] - vals[0]) % R),
                bits[1] * ((vals[2] - vals[0]) % R),
                s01 * ((vals[3] - vals[2] - vals[1] + vals[0]) % R),
            ]
        )

    us = [e[0] for e in entries]
    vs = [e[1] for e in entries]
    if k == 1:
        return MontPoint(low(us, None), low(vs, None))
    s01 = c.mul(bits[0], bits[1], "s01")
    if k == 2:
        return MontPoint(low(us, s01), low(vs, s01))
    out = []
    for vals in (us, vs):
        lo, hi = low(vals[:4], s01), low(vals[4:], s01)
        out.append(lo + c.mul(bits[2], hi - lo, "sel"))
    return MontPoint(out[0], out[1])


@template("EscalarMulFix")
def fixed_base_mul_montgomery(
    c: Circuit, base: bj.Point, bits: Sequence[LCLike], offset: int
) -> MontPoint:
    """``k * base + offset * G0`` as a Montgomery point, for ``k = sum bits[i] 2^i``
    (little-endian, any count up to 253).  3-bit windows: 3 constraints to select a
    window's entry and 3 to add it, so about ``2n`` constraints.  ``base`` must be a
    point of order l not derived from ``G0``; ``offset`` not 0 mod l."""
    n = len(bits)
    if not 1 <= n <= 253:
        raise CircuitError(f"EscalarMulFix: {n} bits, expected 1..253")
    if not base.in_subgroup() or base.is_identity():
        raise CircuitError("EscalarMulFix: base must be a point of order l")
    if offset % _L == 0:
        raise CircuitError("EscalarMulFix: offset must not be 0 mod l")
    lbits = _require_bits(c, bits)
    tables, ed_tables = _fixed_tables(base, n, offset % _L)
    acc = _lookup(c, lbits[0:3], tables[0])
    if len(tables) == 1:
        return acc
    wit = c.hint(_fixed_hint(tables, ed_tables), lbits, 3 * (len(tables) - 1), "window")
    for j in range(1, len(tables)):
        t = _lookup(c, lbits[3 * j : 3 * j + 3], tables[j])
        acc = _constrain_add(c, acc, t, wit[3 * j - 3 : 3 * j])
    return acc


@template("EscalarMulFixEd")
def fixed_base_mul(c: Circuit, base: bj.Point, bits: Sequence[LCLike]) -> EdPoint:
    """``k * base`` (Edwards) for a constant ``base`` of order l and
    ``k = sum bits[i] 2^i`` (little-endian, up to 253 bits; any value, including 0)."""
    n = len(bits)
    offset = 1 << ((n + 2) // 3)
    m = fixed_base_mul_montgomery(c, base, bits, offset)
    return add(c, from_montgomery(c, m), const_point(-(offset_point() * offset)))


# ------------------------------------------------------------------------ variable base


@template("EscalarMulAnyTrusted")
def var_base_mul_trusted_montgomery(c: Circuit, q: MontPoint, bits: Sequence[LCLike]) -> MontPoint:
    """``k * q + 2^(n-1) * G0`` (Montgomery) for ``k = sum bits[i] 2^i`` (n bits).

    A double-and-add ladder with signed digits, ``acc = 2 acc +- q`` in 6 constraints
    per bit.  ``q`` must be of order l and not chosen by the prover (see the module
    docstring)."""
    n = len(bits)
    if n < 1:
        raise CircuitError("EscalarMulAny: no bits")
    lbits = _require_bits(c, bits)
    g0 = mont_const(offset_point())
    wit = c.hint(_ladder_hint(n), [q.u, q.v, *lbits], 3 + 5 * (n - 1) + 3, "ladder")
    # acc = G0 + q, then acc = 2 acc + (2 b_i - 1) q for i = n-1 .. 1 gives
    # 2^(n-1) G0 + (k - b_0 + 1) q; a last conditional step removes q when b_0 = 0
    acc = _constrain_add(c, g0, q, wit[0:3])
    for k, i in enumerate(range(n - 1, 0, -1)):
        signed_v = c.mul(2 * lbits[i] - 1, q.v, "sign")
        acc = _constrain_double_add(c, acc, MontPoint(q.u, signed_v), wit[3 + 5 * k : 8 + 5 * k])
    minus_q = _constrain_add(c, acc, MontPoint(q.u, -q.v), wit[-3:])
    b0 = lbits[0]
    u = minus_q.u + c.mul(b0, acc.u - minus_q.u, "sel_u")
    v = minus_q.v + c.mul(b0, acc.v - minus_q.v, "sel_v")
    return MontPoint(u, v)


@template("EscalarMulAnyTrustedEd")
def var_base_mul_trusted(c: Circuit, p: EdPoint, bits: Sequence[LCLike]) -> EdPoint:
    """``k * p`` (Edwards), 6 constraints per bit, for ``p`` of order l that the
    prover cannot choose (a constant, or a public key the verifier trusts): see the
    module docstring.  The identity has no witness."""
    n = len(bits)
    m = var_base_mul_trusted_montgomery(c, to_montgomery(c, p), bits)
    shift = offset_point() * (1 << (n - 1))
    return add(c, from_montgomery(c, m), const_point(-shift))


@template("EscalarMulAny")
def var_base_mul(c: Circuit, p: EdPoint, bits: Sequence[LCLike]) -> EdPoint:
    """``k * p`` (Edwards) for any point ``p`` on the curve (the caller checks that)
    with complete formulas: double, then add ``p`` or the identity (13 constraints
    per bit after the first).  Sound for prover-chosen points."""
    n = len(bits)
    if n < 1:
        raise CircuitError("EscalarMulAny: no bits")
    lbits = _require_bits(c, bits)

    def select(b: LC) -> EdPoint:  # b ? p : identity
        return EdPoint(c.mul(b, p.x, "sel_x"), 1 + c.mul(b, p.y - 1, "sel_y"))

    acc = select(lbits[n - 1])
    for i in range(n - 2, -1, -1):
        acc = double(c, acc)
        acc = add(c, acc, select(lbits[i]))
    return acc
