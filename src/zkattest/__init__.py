"""zkattest: privacy-preserving verification over BN254.

The embeddable library: a C-accelerated core (fields, curves, MSM, NTT, Poseidon)
and, on top of it, the circuit DSL, Groth16, and credentials.  The credential API
(:class:`Issuer`, :class:`Holder`, :class:`Verifier` and their types, from
:mod:`zkattest.credentials`) is importable from here; it is loaded on first use,
so ``import zkattest`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .errors import ZkAttestError

if TYPE_CHECKING:
    from .credentials import (
        Credential,
        Decision,
        Holder,
        Issuer,
        IssuerKey,
        KeyStore,
        Presentation,
        Reason,
        Request,
        Schema,
        Verifier,
    )

__version__ = "0.1.0"

_CREDENTIALS = frozenset(
    {
        "Credential",
        "Decision",
        "Holder",
        "Issuer",
        "IssuerKey",
        "KeyStore",
        "Presentation",
        "Reason",
        "Request",
        "Schema",
        "Verifier",
    }
)

__all__ = [
    "Credential",
    "Decision",
    "Holder",
    "Issuer",
    "IssuerKey",
    "KeyStore",
    "Presentation",
    "Reason",
    "Request",
    "Schema",
    "Verifier",
    "ZkAttestError",
    "__version__",
    "errors",
]


def __getattr__(name: str) -> Any:
    if name in _CREDENTIALS:
        from . import credentials

        value = getattr(credentials, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zkattest' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_CREDENTIALS})
