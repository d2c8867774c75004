"""A compiled rank-1 constraint system and the satisfaction check.

Each constraint is three sparse rows ``(A, B, C)`` over the wires, meaning
``<A, w> * <B, w> - <C, w> = 0 (mod prime)``.  A row is a tuple of ``(wire, coeff)``
pairs sorted by wire, coefficients in ``[1, prime)``.  Wire 0 is the constant 1; then
come the public outputs, public inputs, private inputs and internal wires (circom's
order), so the public signals of a proof are ``witness[1 : 1 + n_public]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from ..errors import ConstraintUnsatisfied, WitnessError
from .lc import R

__all__ = ["R1CS", "Row", "check", "find_unsatisfied", "row_value"]

Row: TypeAlias = tuple[tuple[int, int], ...]
Constraint: TypeAlias = tuple[Row, Row, Row]


@dataclass(frozen=True, slots=True)
class R1CS:
    """An R1CS in circom's conventions (see the module docstring)."""

    n_wires: int
    n_pub_out: int
    n_pub_in: int
    n_prv_in: int
    constraints: tuple[Constraint, ...]
    prime: int = R
    n_labels: int = -1  # -1: same as n_wires
    wire_to_label: tuple[int, ...] = field(default=())  # empty: identity
    #: ``"scope.path: label"`` per constraint when known (compiled here, or a sidecar).
    constraint_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.n_labels < 0:
            object.__setattr__(self, "n_labels", self.n_wires)
        if not self.wire_to_label:
            object.__setattr__(self, "wire_to_label", tuple(range(self.n_wires)))

    @property
    def n_constraints(self) -> int:
        return len(self.constraints)

    @property
    def n_public(self) -> int:
        """Public signals: outputs then inputs (snarkjs ``nPublic``)."""
        return self.n_pub_out + self.n_pub_in

    def constraint_name(self, i: int) -> str:
        """A readable name for constraint ``i`` (``#i`` if names are unknown)."""
        if self.constraint_names is not None and 0 <= i < len(self.constraint_names):
            return f"#{i} {self.constraint_names[i]}"
        return f"#{i}"

    def public_signals(self, witness: Sequence[int]) -> list[int]:
        """The public signals (outputs, then public inputs) of a full witness."""
        return list(witness[1 : 1 + self.n_public])


def row_value(row: Row, w: Sequence[int]) -> int:
    """``<row, w> mod R``."""
    s = 0
    for i, c in row:
        s += c * w[i]
    return s % R


def _validate_witness(r1cs: R1CS, w: Sequence[int]) -> None:
    if len(w) != r1cs.n_wires:
        raise WitnessError(f"witness has {len(w)} values, the circuit has {r1cs.n_wires} wires")
    if w[0] != 1:
        raise WitnessError("witness[0] (the constant wire) must be 1")
    p = r1cs.prime
    for i, v in enumerate(w):
        if not isinstance(v, int) or not 0 <= v < p:
            raise WitnessError(f"witness[{i}] is not a canonical field element")


def find_unsatisfied(r1cs: R1CS, witness: Sequence[int]) -> int | None:
    """Index of the first constraint the witness violates, or None if all hold.

    Raises :class:`~zkattest.errors.WitnessError` if the witness has the wrong length,
    ``witness[0] != 1`` or a value outside ``[0, prime)``.
    """
    _validate_witness(r1cs, witness)
    p = r1cs.prime
    w = witness
    for k, (a, b, c) in enumerate(r1cs.constraints):
        sa = 0
        for i, x in a:
            sa += x * w[i]
        sc = 0
        for i, x in c:
            sc += x * w[i]
        if b:
            sb = 0
            for i, x in b:
                sb += x * w[i]
            if (sa * sb - sc) % p:
                return k
        elif sc % p:  # A*0 - C
            return k
    return None


def check(r1cs: R1CS, witness: Sequence[int]) -> None:
    """Raise :class:`~zkattest.errors.ConstraintUnsatisfied` naming the first violated
    constraint (its index and, when known, the template scope it came from)."""
    k = find_unsatisfied(r1cs, witness)
    if k is not None:
        raise ConstraintUnsatisfied(f"constraint {r1cs.constraint_name(k)} is not satisfied")
