"""What the store keeps: one verification session and one micro-agent per row.

Records are immutable snapshots (``msgspec.Struct``, frozen).  Fields named ``*_hash``
hold the SHA-256 hex digest of a bearer token, never the token.  Times are float epoch
seconds supplied by the caller.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeAlias

import msgspec

__all__ = [
    "AGENT_STATES",
    "AGENT_TRANSITIONS",
    "INITIAL_STATUSES",
    "MODES",
    "VERIFICATION_STATUSES",
    "AgentRecord",
    "AgentState",
    "Mode",
    "TokenHash",
    "VerificationRecord",
    "VerificationStatus",
]

VerificationStatus: TypeAlias = Literal[
    "awaiting_approval", "pending", "presented", "completed", "failed", "expired"
]
AgentState: TypeAlias = Literal[
    "provisioned", "running", "attested", "retired", "expired", "failed"
]
Mode: TypeAlias = Literal["proof", "delegated"]
#: SHA-256 of a bearer token as 64 lowercase hex digits: the only form a token is stored in.
TokenHash: TypeAlias = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]

VERIFICATION_STATUSES: Final = (
    "awaiting_approval",
    "pending",
    "presented",
    "completed",
    "failed",
    "expired",
)
#: The statuses a session may be created in (``create_verification`` refuses others).
INITIAL_STATUSES: Final = ("awaiting_approval", "pending")
AGENT_STATES: Final = ("provisioned", "running", "attested", "retired", "expired", "failed")
MODES: Final = ("proof", "delegated")

#: The edges of the micro-agent lifecycle (DESIGN.md): ``transition_agent`` refuses others.
#: ``expired`` is also reached by ``sweep``; ``retired``, ``expired`` and ``failed`` are final.
AGENT_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "provisioned": frozenset({"running", "failed", "expired"}),
    "running": frozenset({"attested", "failed", "expired"}),
    "attested": frozenset({"retired"}),
    "retired": frozenset(),
    "expired": frozenset(),
    "failed": frozenset(),
}


class VerificationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One verification session, from the RP's request to its result.

    ``pending`` (request fetched at most once) -> ``presented`` (a presentation is being
    checked; ``expires_at`` is then the agent deadline) -> ``completed`` | ``failed``;
    ``pending``/``presented`` past ``expires_at`` -> ``expired``.

    A session the policy sends to human step-up starts as ``awaiting_approval``
    (``expires_at`` is then the approval deadline): an approver's decision makes it
    ``pending`` (with a fresh deadline) or ``failed`` (reason ``approval_denied``); no
    decision before the deadline -> ``expired``.

    Delegation (RFC 8693): ``client_id`` is the client that asked, ``subject`` the
    token's ``sub`` when it differs (the party on whose behalf it asked), ``act`` the
    token's nested actor chain.  ``policy_ids`` are the ids of the policies that decided.
    """

    id: str
    status: VerificationStatus
    predicate: str
    params: dict[str, int]
    audience: str
    nonce: str
    rp_scope: str
    today: int
    schema: str
    code_challenge: str
    request_token_hash: TokenHash
    created_at: float
    expires_at: float
    request_fetched_at: float | None = None
    presentation_token_hash: TokenHash | None = None
    presented_at: float | None = None
    mode: Mode | None = None
    agent_id: str | None = None
    result: bool | None = None
    reason: str | None = None
    attestation: str | None = None
    completed_at: float | None = None
    client_id: str | None = None
    subject: str | None = None
    act: dict[str, Any] | None = None
    policy_ids: tuple[str, ...] = ()
    approved_by: str | None = None
    approved_at: float | None = None


class AgentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One micro-agent: a single-use identity bound to one verification."""

    id: str
    spiffe_id: str
    verification_id: str
    task: str
    state: AgentState
    audience: str
    svid_jti: str
    key_thumbprint: str
    created_at: float
    expires_at: float
    running_at: float | None = None
    attested_at: float | None = None
    retired_at: float | None = None
    failed_reason: str | None = None
    attestation_jti: str | None = None
