"""Credential schemas: what each of the 8 attribute slots of a v1 credential means.

Slot 0 is always the schema id (the circuit checks it against the public ``schema``
input); unused slots are 0.  The person schema (``PERSON``, id ``0x5A4B0001``)::

    slot 0  schema id            0x5A4B0001
    slot 1  birthdate            YYYYMMDD (age_gte compares it with today)
    slot 2  nationality          ISO 3166-1 numeric country code (0 = not stated)
    slot 3  residence            ISO 3166-1 numeric country code (0 = not stated)
    slot 4  document_type        issuer-defined small int (1 passport, 2 id card, 3 licence)
    slot 5  assurance_level      0-3 (eIDAS-like: 1 low, 2 substantial, 3 high)
    slot 6  reserved             0
    slot 7  reserved             0

The birthdate is required (a 0 would satisfy every age predicate).
Today's circuit (``age_gte``) reads slots 0 and 1; the other slots are signed and
private, ready for later predicates (equality, set membership, ranges on any slot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import errors
from .credential import N_ATTRS, check_date

__all__ = ["PERSON", "Schema"]


@dataclass(frozen=True, slots=True)
class Schema:
    """A schema id and the names of slots 1..7 (slot 0 holds the id)."""

    id: int
    name: str
    slots: tuple[str, ...]  # names of slots 1..7 ("" = reserved)
    dates: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()

    def attrs(self, attributes: Mapping[str, int] | Sequence[int]) -> tuple[int, ...]:
        """The 8 slot values from named attributes (missing = 0) or a full sequence
        of 8 values whose slot 0 must be this schema's id."""
        if isinstance(attributes, Mapping):
            known = {n for n in self.slots if n}
            unknown = sorted(set(attributes) - known)
            if unknown:
                raise errors.InvalidInput(
                    f"schema {self.name}: unknown attribute(s) {', '.join(unknown)}"
                )
            missing = sorted(self.required - set(attributes))
            if missing:
                raise errors.InvalidInput(
                    f"schema {self.name}: missing attribute(s) {', '.join(missing)}"
                )
            values = [self.id] + [attributes.get(n, 0) if n else 0 for n in self.slots]
        else:
            values = list(attributes)
            if len(values) != N_ATTRS or values[0] != self.id:
                raise errors.InvalidInput(
                    f"schema {self.name}: expected {N_ATTRS} slots starting with the schema id"
                )
        for i, v in enumerate(values):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise errors.InvalidInput(
                    f"schema {self.name}: slot {i} must be a non-negative int"
                )
        for i, n in enumerate(self.slots, start=1):
            if n in self.dates and (values[i] != 0 or n in self.required):
                check_date(values[i], f"{self.name}.{n}")
        return tuple(values)

    def slot(self, name: str) -> int:
        """The index of the slot called ``name``."""
        try:
            return self.slots.index(name) + 1
        except ValueError:
            raise errors.InvalidInput(f"schema {self.name} has no slot {name!r}") from None


PERSON = Schema(
    id=0x5A4B_0001,
    name="person",
    slots=("birthdate", "nationality", "residence", "document_type", "assurance_level", "", ""),
    dates=frozenset({"birthdate"}),
    required=frozenset({"birthdate"}),
)
