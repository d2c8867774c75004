"""Groth16 verification: one proof, or many proofs of one key in a single check.

The equation (snarkjs's): e(A, B) = e(alpha1, beta2) * e(L, gamma2) * e(C, delta2)
with L = IC[0] + sum(public[i] * IC[i + 1]), decided as
e(-A, B) * e(alpha1, beta2) * e(L, gamma2) * e(C, delta2) == 1 by the native
multi-pairing (one final exponentiation) with beta, gamma and delta prepared.

What gives ``False`` (the proof is not accepted): the equation fails; a public
signal is not in [0, r); a proof point is at infinity, off its curve, outside its
subgroup or non-canonical (points are re-checked here even though
:class:`~zkattest.curve.G1`/:class:`~zkattest.curve.G2` objects are validated when
built); ``expected_circuit_id`` is given and the key records another (or none).
What raises :class:`~zkattest.errors.InvalidInput`: arguments of the wrong type,
a public signal that is not an int, a wrong number of public signals.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from .. import _native, errors
from ..curve import G1, G2
from ..field import R
from .keys import PreparedVerifyingKey, Proof, VerifyingKey

__all__ = ["BatchResult", "verify", "verify_batch"]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """``ok``: every proof verified; ``failed``: indices of the ones that did not."""

    ok: bool
    failed: tuple[int, ...]

    def __bool__(self) -> bool:
        return self.ok


def _check_vk(vk: object) -> VerifyingKey:
    if not isinstance(vk, VerifyingKey):
        raise errors.InvalidInput(f"expected a VerifyingKey, got {type(vk).__name__}")
    return vk


def _signals(vk: VerifyingKey, public_signals: object) -> list[int] | None:
    """The signals as ints; None if one is out of range (-> invalid proof)."""
    if isinstance(public_signals, str | bytes | bytearray) or not isinstance(
        public_signals, Sequence
    ):
        raise errors.InvalidInput("public_signals must be a sequence of ints")
    if len(public_signals) != vk.n_public:
        raise errors.InvalidInput(
            f"{len(public_signals)} public signals given, the key expects {vk.n_public}"
        )
    out = []
    ok = True
    for i, v in enumerate(public_signals):
        if not isinstance(v, int) or isinstance(v, bool):
            raise errors.InvalidInput(f"public signal {i} is not an int ({type(v).__name__})")
        if not 0 <= v < R:
            ok = False
        out.append(int(v))
    return out if ok else None


def _proof_bytes(proof: object) -> tuple[bytes, bytes, bytes] | None:
    """Validated encodings of A, B, C; None if a point is invalid or at infinity."""
    if not isinstance(proof, Proof):
        raise errors.InvalidInput(f"expected a Proof, got {type(proof).__name__}")
    a, b, c = proof.a, proof.b, proof.c
    if not (isinstance(a, G1) and isinstance(b, G2) and isinstance(c, G1)):
        raise errors.InvalidInput("a Proof holds (G1, G2, G1) points")
    ab, bb, cb = a.to_bytes(), b.to_bytes(), c.to_bytes()
    if not any(ab) or not any(bb) or not any(cb):
        return None
    try:
        _native.g1_check(ab)
        _native.g2_check(bb)
        _native.g1_check(cb)
    except errors.InvalidInput:
        return None
    return ab, bb, cb


def _scalars(values: Sequence[int]) -> bytes:
    return b"".join((v % R).to_bytes(32, "little") for v in values)


def _check_one(pvk: PreparedVerifyingKey, pub: list[int], ab: bytes, bb: bytes, cb: bytes) -> bool:
    l_pt = _native.g1s_msm(pvk.ic_bytes, _scalars([1, *pub]), 1)
    ps = _native.g1_neg(ab) + pvk.vk.alpha1.to_bytes() + l_pt + cb
    return _native.pairing_check_prepared(
        ps, [bb, pvk.beta2._prep, pvk.gamma2._prep, pvk.delta2._prep]
    )


def verify(
    vk: VerifyingKey,
    public_signals: Sequence[int],
    proof: Proof,
    *,
    expected_circuit_id: str | None = None,
) -> bool:
    """True iff ``proof`` is a valid proof for ``public_signals`` under ``vk``
    (see the module docstring for what gives False and what raises)."""
    vk = _check_vk(vk)
    pub = _signals(vk, public_signals)
    pts = _proof_bytes(proof)
    if expected_circuit_id is not None and vk.circuit_id != expected_circuit_id:
        return False
    if pub is None or pts is None:
        return False
    return _check_one(vk.prepared(), pub, *pts)


def _rho() -> int:
    while True:
        x = secrets.randbits(128)
        if x:
            return x


def _check_many(
    pvk: PreparedVerifyingKey, items: list[tuple[list[int], tuple[bytes, bytes, bytes]]]
) -> bool:
    """One random-linear-combination check of several proofs:
    prod e(-rho_j A_j, B_j) * e(sum(rho_j) alpha, beta) * e(sum(rho_j L_j), gamma)
    * e(sum(rho_j C_j), delta) == 1, with fresh 128-bit weights rho_j."""
    if len(items) == 1:
        pub, (ab, bb, cb) = items[0]
        return _check_one(pvk, pub, ab, bb, cb)
    rhos = [_rho() for _ in items]
    n_ic = len(pvk.vk.ic)
    ic_sc = [0] * n_ic
    ps: list[bytes] = []
    qs: list[bytes | _native.G2Prepared] = []
    for rho, (pub, (ab, bb, _cb)) in zip(rhos, items, strict=True):
        ic_sc[0] += rho
        for i, v in enumerate(pub):
            ic_sc[i + 1] += rho * v
        ps.append(_native.g1_mul_var(_native.g1_neg(ab), rho.to_bytes(32, "little")))
        qs.append(bb)
    rho_sum = sum(rhos) % R
    alpha_sum = _native.g1_mul_var(pvk.vk.alpha1.to_bytes(), rho_sum.to_bytes(32, "little"))
    l_sum = _native.g1s_msm(pvk.ic_bytes, _scalars(ic_sc), None)
    c_sum = _native.g1s_msm(b"".join(cb for _, (_, _, cb) in items), _scalars(rhos), None)
    ps += [alpha_sum, l_sum, c_sum]
    qs += [pvk.beta2._prep, pvk.gamma2._prep, pvk.delta2._prep]
    return _native.pairing_check_prepared(b"".join(ps), qs)


def _find_failed(
    pvk: PreparedVerifyingKey,
    items: list[tuple[list[int], tuple[bytes, bytes, bytes]]],
    idx: list[int],
    known_bad: bool,
) -> list[int]:
    """Indices (from ``idx``) of the proofs that fail, by bisection."""
    if not known_bad and _check_many(pvk, items):
        return []
    if len(items) == 1:
        return idx
    mid = len(items) // 2
    left_bad = _find_failed(pvk, items[:mid], idx[:mid], False)
    # if the whole set failed and the left half is clean, the right half must fail
    right_bad = _find_failed(pvk, items[mid:], idx[mid:], known_bad and not left_bad)
    return left_bad + right_bad


def verify_batch(
    vk: VerifyingKey,
    items: Sequence[tuple[Sequence[int], Proof]],
    *,
    expected_circuit_id: str | None = None,
) -> BatchResult:
    """Verify many ``(public_signals, proof)`` pairs of one key with a single
    random-linear-combination pairing check (one Miller loop per proof plus three
    prepared ones, one final exponentiation).  If it fails, bisection finds exactly
    which proofs are invalid.  Same False/raise policy as :func:`verify`, per item
    (an invalid item is reported in ``failed``; a misuse raises for the whole call).
    An empty batch is ok.
    """
    vk = _check_vk(vk)
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise errors.InvalidInput("items must be a sequence of (public_signals, proof)")
    good: list[tuple[list[int], tuple[bytes, bytes, bytes]]] = []
    good_idx: list[int] = []
    failed: list[int] = []
    for j, item in enumerate(items):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise errors.InvalidInput(f"item {j} is not a (public_signals, proof) pair")
        pub = _signals(vk, item[0])
        pts = _proof_bytes(item[1])
        if pub is None or pts is None:
            failed.append(j)
        else:
            good.append((pub, pts))
            good_idx.append(j)
    if expected_circuit_id is not None and vk.circuit_id != expected_circuit_id:
        return BatchResult(False, tuple(range(len(items))))
    if good:
        failed += _find_failed(vk.prepared(), good, good_idx, False)
    failed.sort()
    return BatchResult(not failed, tuple(failed))
