"""The one exception family of zkattest.

Every error the library raises derives from :class:`ZkAttestError`.  Errors caused
by bad input also derive from :class:`ValueError` (so ``except ValueError`` works),
resource errors from the matching builtin.  Messages never contain secrets.
"""

from __future__ import annotations

__all__ = [
    "CircuitError",
    "ConstraintUnsatisfied",
    "InvalidInput",
    "InvalidLength",
    "InvalidParameter",
    "MalformedEncoding",
    "MalformedFile",
    "NativeError",
    "NativeMisuse",
    "NoSquareRoot",
    "NonCanonicalEncoding",
    "NotInSubgroup",
    "NotInvertible",
    "NotOnCurve",
    "OutOfMemory",
    "ThreadError",
    "WitnessError",
    "ZkAttestError",
]


class ZkAttestError(Exception):
    """Root of every zkattest exception."""


class InvalidInput(ZkAttestError, ValueError):
    """The input is not acceptable (bad encoding, out of range, malformed)."""


class NonCanonicalEncoding(InvalidInput):
    """A field element encoding is not below the modulus."""


class NotOnCurve(InvalidInput):
    """The coordinates do not satisfy the curve equation."""


class NotInSubgroup(InvalidInput):
    """The point is on the curve but outside the prime-order subgroup."""


class MalformedEncoding(InvalidInput):
    """Flags or bytes of a point encoding are malformed."""


class NotInvertible(InvalidInput, ZeroDivisionError):
    """The inverse of zero was asked for."""


class NoSquareRoot(InvalidInput):
    """The element is not a quadratic residue."""


class InvalidLength(InvalidInput):
    """A buffer or count has a length that is not allowed."""


class InvalidParameter(InvalidInput):
    """A parameter is outside its documented range."""


class MalformedFile(InvalidInput):
    """A binary or JSON file (r1cs, wtns, zkey, snarkjs JSON) is malformed."""


class NativeError(ZkAttestError):
    """The native core reported a failure that is not about the input."""


class NativeMisuse(NativeError, RuntimeError):
    """The native core was called incorrectly (a bug in the caller, not bad data)."""


class OutOfMemory(NativeError, MemoryError):
    """The native core could not allocate memory."""


class ThreadError(NativeError, RuntimeError):
    """The native core could not start its threads."""


class CircuitError(ZkAttestError):
    """A circuit is ill-formed (e.g. a signal declared twice, an unknown input)."""


class WitnessError(CircuitError, ValueError):
    """A witness cannot be solved from the given inputs."""


class ConstraintUnsatisfied(CircuitError, ValueError):
    """A witness does not satisfy a constraint; the message names it."""
