"""Poseidon hash gadget with circomlib's parameters (identical to :mod:`zkattest.poseidon`).

``poseidon(c, inputs)`` hashes 1..16 field elements: the state ``[0, inputs...]`` of
width ``t = n + 1`` goes through ``R_F = 8`` full rounds (4 before, 4 after) and
``R_P`` partial rounds; each round adds the round constants, applies ``x^5`` (to every
element in full rounds, to ``state[0]`` in partial rounds) and multiplies by the MDS
matrix; the output is ``state[0]``.

Cost: 3 constraints per S-box (``x^2``, ``x^4``, ``x^5``) and nothing else: the round
constants and MDS layers are folded into linear combinations.  An S-box whose input
is a constant (the capacity element in the first round) costs nothing, so the total
is ``3 * (R_F * t + R_P) - 3`` (240 for two inputs, 321 for five, 465 for eleven).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from operator import mul

from ...errors import CircuitError
from ...poseidon import constants
from ..builder import Circuit, template
from ..lc import LC, LCLike, R, as_lc, sum_lcs

__all__ = ["MAX_INPUTS", "poseidon", "poseidon_constraints", "sbox"]

MAX_INPUTS = 16


def sbox(c: Circuit, x: LCLike) -> LC:
    """``x^5``: three constraints, none if ``x`` is a constant."""
    lx = as_lc(x)
    if lx.is_constant():
        return LC.const(pow(lx.constant_value(), 5, R))
    x2 = c.square(lx, "x2")
    x4 = c.square(x2, "x4")
    return c.mul(x4, lx, "x5")


def _mix(mds: tuple[tuple[int, ...], ...], state: list[LC], rows: int) -> list[LC]:
    t = len(state)
    return [sum_lcs(state[j] * mds[i][j] for j in range(t)) for i in range(rows)]


_Sparse = tuple[tuple[int, int], ...]


@cache
def _partial_phase(t: int) -> tuple[tuple[_Sparse, ...], tuple[_Sparse, ...]]:
    """The partial rounds as linear maps, computed once per width.

    Basis: index 0 is the constant 1, ``1..t`` the S-box outputs of the last full
    round of the first half (before its MDS layer), ``t + k`` (k >= 1) the output of
    the k-th partial S-box.  Returns the S-box input of every partial round and the
    state after the last partial round's MDS layer, as sparse coefficient vectors.
    Building them symbolically once keeps circuit construction linear in the size of
    the result instead of ``t^2`` linear-combination products per round.
    """
    params = constants(t)
    rc, mds = params.round_constants, params.mds
    first, n_p = params.full_rounds // 2, params.partial_rounds
    tails = [row[1:] for row in mds]

    def step(v: list[int]) -> list[int]:
        # one partial round on a column: element 0 is replaced by the new S-box
        # output (so this column loses it), then the MDS layer
        tail = v[1:]
        return [sum(map(mul, row, tail)) % R for row in tails]

    # columns: coefficient vectors (over the t state elements) of each basis element
    col_const = [0] * t
    col_base = [[row[j] for row in mds] for j in range(t)]  # state = M * base
    age = [[row[0] for row in mds]]  # a new S-box output enters as M * e0, then ages
    for _ in range(n_p):
        age.append(step(age[-1]))
    y_const: list[int] = []
    y_base: list[list[int]] = [[] for _ in range(t)]
    for k in range(n_p):
        r = first + k
        col_const = [(x + rc[r * t + i]) % R for i, x in enumerate(col_const)]
        y_const.append(col_const[0])
        col_const = step(col_const)
        for j in range(t):
            y_base[j].append(col_base[j][0])
            col_base[j] = step(col_base[j])

    def sparse(pairs: list[tuple[int, int]]) -> _Sparse:
        return tuple((w, x) for w, x in pairs if x)

    ys = tuple(
        sparse(
            [(0, y_const[k])]
            + [(1 + j, y_base[j][k]) for j in range(t)]
            + [(1 + t + k0, age[k - k0 - 1][0]) for k0 in range(k)]
        )
        for k in range(n_p)
    )
    finals = tuple(
        sparse(
            [(0, col_const[i])]
            + [(1 + j, col_base[j][i]) for j in range(t)]
            + [(1 + t + k0, age[n_p - 1 - k0][i]) for k0 in range(n_p)]
        )
        for i in range(t)
    )
    return ys, finals


def _assemble(basis: list[LC], vec: _Sparse) -> LC:
    return sum_lcs(basis[w] * x for w, x in vec)


@template("Poseidon")
def poseidon(c: Circuit, inputs: Sequence[LCLike]) -> LC:
    """circomlib ``Poseidon(n)`` of ``n = len(inputs)`` (1..16) values."""
    n = len(inputs)
    if not 1 <= n <= MAX_INPUTS:
        raise CircuitError(f"Poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    t = n + 1
    params = constants(t)
    rc, mds = params.round_constants, params.mds
    half = params.full_rounds // 2
    rounds = params.full_rounds + params.partial_rounds
    state: list[LC] = [LC.const(0)] + [as_lc(x) for x in inputs]
    for r in range(half):
        state = [sbox(c, s + rc[r * t + i]) for i, s in enumerate(state)]
        if r < half - 1:
            state = _mix(mds, state, t)
    ys, finals = _partial_phase(t)
    basis: list[LC] = [LC.const(1), *state]
    for y in ys:
        basis.append(sbox(c, _assemble(basis, y)))
    state = [_assemble(basis, v) for v in finals]
    for r in range(half + params.partial_rounds, rounds):
        state = [sbox(c, s + rc[r * t + i]) for i, s in enumerate(state)]
        # the last layer only needs the output row
        state = _mix(mds, state, 1 if r == rounds - 1 else t)
    return state[0]


def poseidon_constraints(n: int) -> int:
    """The number of constraints :func:`poseidon` adds for ``n`` non-constant inputs."""
    if not 1 <= n <= MAX_INPUTS:
        raise CircuitError(f"Poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    params = constants(n + 1)
    return 3 * (params.full_rounds * (n + 1) + params.partial_rounds) - 3
