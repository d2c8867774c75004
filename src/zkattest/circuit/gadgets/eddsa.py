"""EdDSA-Poseidon signature verification (circomlib ``EdDSAPoseidonVerifier``).

:func:`eddsa_poseidon_verify` constrains, with no ``enabled`` escape hatch:

- ``A`` on the curve and ``8 A`` not the identity (small-order keys are rejected);
- ``0 <= S < l`` (the subgroup order, not merely ``S < 2^253``);
- ``S * B8 == R8 + (8 * H(R8, A, M)) * A`` with ``H = Poseidon(R8x, R8y, Ax, Ay, M)``
  taken as the exact integer in ``[0, r)`` (alias-checked bits);

so it accepts exactly the signatures :func:`zkattest.babyjub.verify_poseidon`
accepts, which are those circomlibjs ``verifyPoseidon`` accepts minus small-order
keys and ``R8 = identity`` (never produced by an honest signer).  ``M`` is any
signal: make it a public input, a private input or the output of another gadget.

Cost: about 3,090 constraints (circomlib: about 4,200).  Where the savings come from:

- the variable-base product ``H * (8A)`` uses a signed-digit ladder on the
  Montgomery curve, ``acc = 2 acc +- 8A`` in 6 constraints per bit (circomlib's
  EscalarMulAny: about 9), with a hashed offset point in place of segments;
- ``S * B8`` uses 3-bit windows with precomputed tables: 6 constraints per window;
- range checks against a constant (``S <= l - 1``, ``H <= r - 1``) fold each zero bit
  of the bound into that bit's boolean constraint: ``n + popcount`` constraints
  instead of circomlib's Num2Bits + CompConstant;
- ``8A`` uses three dedicated doublings sharing the squares of the curve check;
- the final comparison subtracts the two sides on the Montgomery curve and maps the
  difference to Edwards directly onto ``(R8x, R8y)``: no separate equality or curve
  check for ``R8``;
- the Poseidon gadget skips the S-box of the constant capacity element.
"""

from __future__ import annotations

from ... import babyjub as bj
from ..builder import Circuit, Hint, template
from ..lc import LC, LCLike, R, as_lc, sum_lcs
from .babyjub import (
    EdPoint,
    MontPoint,
    _double_from_squares,
    fixed_base_mul_montgomery,
    mont_add,
    to_montgomery,
    var_base_mul_trusted_montgomery,
)
from .poseidon import poseidon

__all__ = ["bits_le_const", "eddsa_poseidon_verify"]

_A, _D = bj.A, bj.D
_D_INV = pow(_D, -1, R)
_L = bj.SUBGROUP_ORDER
#: bits of S (l < 2^251) and of the hash (r < 2^254)
S_BITS = 251
H_BITS = 254
#: the G0 multiple both sides of the final check carry (the ladder over H_BITS - 1
#: doublings leaves 2^253 G0)
_OFFSET = 1 << (H_BITS - 1)


def _bits_hint(n: int) -> Hint:
    def run(v: list[int]) -> list[int]:
        x = v[0]
        return [(x >> i) & 1 for i in range(n)]

    return run


@template("BitsLeConst")
def bits_le_const(c: Circuit, x: LCLike, n: int, bound: int) -> list[LC]:
    """The ``n`` little-endian bits of ``x``, constrained boolean, summing to ``x``,
    and with ``sum bits[i] 2^i <= bound`` (``bound < 2^n``, ``n <= 254``).

    Walking from the top bit with ``eq`` = "equal to ``bound`` so far": a bit where
    ``bound`` has a 1 gets a boolean constraint and updates ``eq = eq * bit``; a bit
    where ``bound`` has a 0 gets ``bit * (1 - eq - bit) = 0``, which is its boolean
    constraint when ``eq = 0`` and forces it to 0 when ``eq = 1``.  Cost ``n + 1`` plus
    one per 1 bit of ``bound`` above its lowest 0 bit."""
    if not 0 <= bound < 1 << n:
        raise ValueError("bound out of range")
    lx = as_lc(x)
    bits = c.hint(_bits_hint(n), [lx], n, name="bits")
    lowest_zero = next((i for i in range(n) if not (bound >> i) & 1), -1)
    eq: LC = LC.const(1)
    for i in range(n - 1, -1, -1):
        b = bits[i]
        if (bound >> i) & 1:
            c.assert_bool(b, "bit")
            if i > lowest_zero:
                eq = b if eq.is_constant() else c.mul(eq, b, "eq")
        else:
            c.constrain(b, 1 - eq - b, 0, "bit<=bound")
            c.note_bits(b, 1)
    c.assert_equal(sum_lcs(b * (1 << i) for i, b in enumerate(bits)), lx, "bits sum")
    c.assume_determined(bits, f"{n}-bit decomposition bounded by {bound} < r is unique")
    return list(bits)


@template("EdDSAPoseidonVerifier")
def eddsa_poseidon_verify(
    c: Circuit,
    ax: LCLike,
    ay: LCLike,
    s: LCLike,
    r8x: LCLike,
    r8y: LCLike,
    m: LCLike,
) -> None:
    """Constrain ``(R8, S)`` to be a valid EdDSA-Poseidon signature of ``m`` under the
    public key ``A`` (no witness exists otherwise).  ``A`` must not be chosen by the
    prover alone: verifiers compare it with a trusted issuer key (see
    :mod:`.babyjub`)."""
    a = EdPoint(as_lc(ax), as_lc(ay))
    r8 = EdPoint(as_lc(r8x), as_lc(r8y))

    # S < l, as bits for the fixed-base product
    s_bits = bits_le_const(c, s, S_BITS, _L - 1)

    # A on the curve, Q = 8A
    with c.scope("key"):
        x2 = c.square(a.x, "x2")
        y2 = c.square(a.y, "y2")
        c.constrain(x2, y2, (_A * x2 + y2 - 1) * _D_INV, "A on curve")
        q = _double_from_squares(c, a, x2, y2)
        for _ in range(2):
            q = _double_from_squares(c, q, c.square(q.x, "x2"), c.square(q.y, "y2"))
        # 8A = identity (a small-order key) has no Montgomery image: no witness
        q_m = to_montgomery(c, q)

    # H = Poseidon(R8, A, M) as its unique 254 bits
    h = poseidon(c, [r8.x, r8.y, a.x, a.y, m])
    h_bits = bits_le_const(c, h, H_BITS, R - 1)

    # W = H * Q + 2^253 G0 and F = S * B8 + 2^253 G0 (Montgomery)
    w = var_base_mul_trusted_montgomery(c, q_m, h_bits)
    f = fixed_base_mul_montgomery(c, bj.BASE8, s_bits, _OFFSET)

    # Z = F - W = S * B8 - H * 8A must be R8: map Z to Edwards onto (R8x, R8y)
    with c.scope("check"):
        z = mont_add(c, f, MontPoint(w.u, -w.v))
        c.constrain(r8.x, z.v, z.u, "R8x")
        c.constrain(r8.y, z.u + 1, z.u - 1, "R8y")
