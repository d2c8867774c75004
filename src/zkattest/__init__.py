"""zkattest: privacy-preserving verification over BN254.

The embeddable library: a C-accelerated core (fields, curves, MSM, NTT, Poseidon)
and, on top of it, the circuit DSL, Groth16, and credentials.
"""

from __future__ import annotations

from . import errors
from .errors import ZkAttestError

__version__ = "0.1.0"

__all__ = ["ZkAttestError", "__version__", "errors"]
