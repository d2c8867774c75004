"""Groth16 proving: the native prover (H by NTTs on the coset, MSMs for A, B, C, H,
parallel), fresh blinding per proof; and a slow pure-Python reference for tests."""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from typing import cast

from .. import errors
from ..curve import G1, G2, msm
from ..field import R
from ..ntt import Domain
from .keys import Proof, ProvingKey

__all__ = ["prove", "prove_reference"]


def _witness_bytes(pk: ProvingKey, witness: Sequence[int]) -> bytearray:
    if isinstance(witness, str | bytes | bytearray) or not isinstance(witness, Sequence):
        raise errors.InvalidInput("witness must be a sequence of ints")
    if len(witness) != pk.n_vars:
        raise errors.InvalidInput(
            f"witness has {len(witness)} values, the proving key has {pk.n_vars} wires"
        )
    buf = bytearray(32 * len(witness))
    try:
        for i, v in enumerate(witness):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < R:
                raise errors.InvalidInput(f"witness[{i}] is not an integer in [0, r)")
            buf[32 * i : 32 * i + 32] = v.to_bytes(32, "little")
        if witness[0] != 1:
            raise errors.InvalidInput("witness[0] (the constant wire) must be 1")
    except BaseException:
        buf[:] = bytes(len(buf))
        raise
    return buf


def _blinding(rng: random.Random | None) -> int:
    if rng is None:
        return secrets.randbelow(R - 1) + 1
    return rng.randrange(1, R)


def prove(
    pk: ProvingKey,
    witness: Sequence[int],
    *,
    nthreads: int | None = None,
    rng: random.Random | None = None,
) -> tuple[Proof, list[int]]:
    """Prove that ``witness`` satisfies the circuit of ``pk``.

    Returns the proof and the public signals ``witness[1 : 1 + n_public]`` (snarkjs's
    ``public.json`` order).  ``witness`` is the full assignment (``witness[0] = 1``),
    as :meth:`~zkattest.circuit.CompiledCircuit.solve` or a ``.wtns`` gives it.  The
    witness is not checked against the constraints: an unsatisfying witness gives a
    proof that does not verify.

    The blinding scalars r, s are drawn fresh from :mod:`secrets` for every proof
    (``rng``: a seeded :class:`random.Random` for reproducible TESTS only).  The
    witness bytes live in a bytearray zeroed after the native call (the boundary's
    own copy and the Python ints cannot be wiped).  ``nthreads``: ``None`` =
    ``$ZKATTEST_THREADS`` or all cores.
    """
    if not isinstance(pk, ProvingKey):
        raise errors.InvalidInput("prove needs a ProvingKey")
    buf = _witness_bytes(pk, witness)
    r = bytearray(_blinding(rng).to_bytes(32, "little"))
    s = bytearray(_blinding(rng).to_bytes(32, "little"))
    try:
        # the boundary accepts bytearrays (typed as bytes); passing them avoids
        # another copy here that could not be wiped
        a, b, c = pk.native.prove(cast(bytes, buf), cast(bytes, r), cast(bytes, s), nthreads)
    finally:
        buf[:] = bytes(len(buf))
        r[:] = bytes(32)
        s[:] = bytes(32)
    proof = Proof(G1._trusted(a), G2._trusted(b), G1._trusted(c))
    return proof, [int(x) for x in witness[1 : 1 + pk.n_public]]


def prove_reference(pk: ProvingKey, witness: Sequence[int], r: int, s: int) -> Proof:
    """The same proof computed in plain Python over the curve objects (slow; for
    cross-checking the native prover in tests)."""
    _witness_bytes(pk, witness)  # validation only
    w = [int(x) for x in witness]
    n = pk.domain_size
    a_ev = [0] * n
    b_ev = [0] * n
    for m, k, i, v in pk.coefficients():
        if m == 0:
            a_ev[k] = (a_ev[k] + v * w[i]) % R
        else:
            b_ev[k] = (b_ev[k] + v * w[i]) % R
    c_ev = [x * y % R for x, y in zip(a_ev, b_ev, strict=True)]
    dom = Domain(pk.log_domain)
    # values at the odd points of the 2n-point domain: w2 * omega^j
    w2 = pow(5, (R - 1) // (2 * n), R)
    a_odd, b_odd, c_odd = (dom.coset_forward(dom.inverse(e), w2) for e in (a_ev, b_ev, c_ev))
    h = [(x * y - z) % R for x, y, z in zip(a_odd, b_odd, c_odd, strict=True)]

    npub = pk.n_public
    a_pt = pk.alpha1 + msm(pk.a_points(), w) + pk.delta1 * r
    b1 = pk.beta1 + msm(pk.b1_points(), w) + pk.delta1 * s
    b2 = pk.beta2 + msm(pk.b2_points(), w) + pk.delta2 * s
    assert isinstance(a_pt, G1) and isinstance(b1, G1) and isinstance(b2, G2)
    c_pt = msm(pk.c_points(), w[npub + 1 :]) + msm(pk.h_points(), h)
    assert isinstance(c_pt, G1)
    c_pt = c_pt + a_pt * s + b1 * r - pk.delta1 * (r * s % R)
    return Proof(a_pt, b2, c_pt)
