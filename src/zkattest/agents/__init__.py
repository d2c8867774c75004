"""Micro-agents: just-in-time, single-use identities that verify or prove one
statement and sign one attestation (DESIGN.md, "Micro-agent lifecycle")."""

from __future__ import annotations

from .agent import (
    AgentError,
    AgentRuntime,
    AgentSettings,
    Authorizer,
    DelegatedWork,
    MicroAgent,
    Outcome,
    ProofWork,
    delegation_claims,
    request_of,
)
from .attestation import TYP, AttestationInvalid, VerifiedAttestation, verify_attestation
from .pool import PoolStats, Saturated, Slot, WorkPool
from .trail import AgentAudit, subject_of

__all__ = [
    "TYP",
    "AgentAudit",
    "AgentError",
    "AgentRuntime",
    "AgentSettings",
    "AttestationInvalid",
    "Authorizer",
    "DelegatedWork",
    "MicroAgent",
    "Outcome",
    "PoolStats",
    "ProofWork",
    "Saturated",
    "Slot",
    "VerifiedAttestation",
    "WorkPool",
    "delegation_claims",
    "request_of",
    "subject_of",
    "verify_attestation",
]
