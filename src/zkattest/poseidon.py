"""Poseidon over BN254 Fr with circomlib's parameters (native).

``poseidon(inputs)`` equals circomlib's/circomlibjs's ``Poseidon(n)`` for
1..16 inputs: state [0, inputs...] of width t = n + 1, the permutation, output
state[0].  The constants are generated from the Poseidon paper's Grain LFSR by
``native/gen/gen_poseidon.py``; :func:`constants` exports them (for circuits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from . import _native, errors
from .field import Fr, R

__all__ = ["PoseidonParams", "constants", "permute", "poseidon", "poseidon_many"]

MAX_INPUTS = _native.POSEIDON_MAX_T - 1


def _encode(values: Sequence[int | Fr], what: str) -> bytes:
    out = bytearray()
    for v in values:
        if isinstance(v, Fr):
            out += v.to_bytes()
        elif isinstance(v, int) and not isinstance(v, bool):
            if not 0 <= v < R:
                raise errors.NonCanonicalEncoding(f"{what}: value is not in [0, r)")
            out += v.to_bytes(32, "little")
        else:
            raise errors.InvalidInput(f"{what}: values must be ints or Fr")
    return bytes(out)


def poseidon(inputs: Sequence[int | Fr]) -> int:
    """circomlib Poseidon of 1..16 field elements (ints must be in [0, r))."""
    if not 1 <= len(inputs) <= MAX_INPUTS:
        raise errors.InvalidParameter(f"Poseidon takes 1..{MAX_INPUTS} inputs, got {len(inputs)}")
    return int.from_bytes(_native.poseidon_hash(_encode(inputs, "poseidon")), "little")


def poseidon_many(rows: Sequence[Sequence[int | Fr]]) -> list[int]:
    """Hash many rows of the same arity in one native call."""
    if not rows:
        return []
    arity = len(rows[0])
    if not 1 <= arity <= MAX_INPUTS or any(len(r) != arity for r in rows):
        raise errors.InvalidParameter("rows must all have the same arity in 1..16")
    data = b"".join(_encode(r, "poseidon_many") for r in rows)
    out = _native.poseidon_hashes(data, arity)
    return [int.from_bytes(out[i : i + 32], "little") for i in range(0, len(out), 32)]


def permute(state: Sequence[int | Fr]) -> list[int]:
    """The Poseidon permutation on a state of width t = 2..17."""
    out = _native.poseidon_permute(_encode(state, "permute"))
    return [int.from_bytes(out[i : i + 32], "little") for i in range(0, len(out), 32)]


@dataclass(frozen=True, slots=True)
class PoseidonParams:
    t: int
    full_rounds: int
    partial_rounds: int
    round_constants: tuple[int, ...]  # (full + partial) * t, round-major
    mds: tuple[tuple[int, ...], ...]  # t x t, state'[i] = sum_j mds[i][j] * state[j]


@cache
def constants(t: int) -> PoseidonParams:
    """The constants of width t (2..17), as the native core uses them."""
    full, partial = _native.poseidon_rounds(t)
    rc_b, mds_b = _native.poseidon_constants(t)
    rc = tuple(int.from_bytes(rc_b[i : i + 32], "little") for i in range(0, len(rc_b), 32))
    flat = [int.from_bytes(mds_b[i : i + 32], "little") for i in range(0, len(mds_b), 32)]
    mds = tuple(tuple(flat[i * t : (i + 1) * t]) for i in range(t))
    return PoseidonParams(t, full, partial, rc, mds)
