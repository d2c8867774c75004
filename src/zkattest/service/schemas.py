"""HTTP API v1 bodies (msgspec); the OpenAPI 3.1 document at ``/schema`` comes from these."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "ID_RE",
    "AgentView",
    "ApprovalDecision",
    "ApprovalList",
    "ApprovalView",
    "AttestationCheck",
    "AttestationVerdict",
    "AuditPageView",
    "CircuitView",
    "CreateVerification",
    "DelegatedSubmission",
    "HolderRequest",
    "IssuerView",
    "PolicyView",
    "PresentationResult",
    "ProblemDetails",
    "ProofSubmission",
    "TokenResponse",
    "VerificationCreated",
    "VerificationStatus",
]

#: ids the service issues in paths (secrets.token_urlsafe): anything else is a 404
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

Audience = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="the relying party's identifier (e.g. its origin or client id)",
    ),
]
CodeChallenge = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9_-]{43}$",
        description="RFC 7636 S256 code challenge: BASE64URL(SHA256(code_verifier))",
    ),
]
Decimal = Annotated[str, Meta(pattern=r"^(0|[1-9][0-9]{0,77})$", description="a decimal integer")]


class AgeGteParams(msgspec.Struct, forbid_unknown_fields=True):
    min_age: Annotated[int, Meta(ge=0, le=150)]


class CreateVerification(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/verifications``: what the relying party asks."""

    predicate: Literal["age_gte"]
    params: AgeGteParams
    audience: Audience
    code_challenge: CodeChallenge
    code_challenge_method: Literal["S256"] = "S256"


class PolicyView(msgspec.Struct):
    """The policy decision: ``allow``, ``step_up`` (a person must approve) or ``deny``."""

    outcome: str
    policy_ids: list[str]


class VerificationCreated(msgspec.Struct, omit_defaults=True):
    id: str
    status: str
    predicate: str
    params: dict[str, int]
    audience: str
    nonce: str
    rp_scope: str
    today: int
    expires_at: str
    request_uri: str
    #: who asked (OAuth client), for whom (the delegating subject) and through whom
    client_id: str | None = None
    subject: str | None = None
    act: dict[str, Any] | None = None
    policy: PolicyView | None = None
    #: with status ``awaiting_approval``: poll ``GET /v1/verifications/{id}`` this often
    poll_interval: int | None = None


class IssuerView(msgspec.Struct):
    Ax: str
    Ay: str


class RequestView(msgspec.Struct):
    predicate: str
    min_age: int
    nonce: str
    rp_scope: str
    today: int
    schema: str
    v: int = 1


class HolderRequest(msgspec.Struct):
    """``GET <request_uri>``: what the holder must prove (once)."""

    verification_id: str
    request: RequestView
    circuit_id: str
    trusted_issuers: list[IssuerView]
    presentation_uri: str
    presentation_token: str
    expires_at: str


class ProofSubmission(msgspec.Struct, tag="proof", tag_field="mode", forbid_unknown_fields=True):
    """Holder-side proving: a presentation made with the library (Presentation v1)."""

    presentation: dict[str, Any]


class DelegatedSubmission(
    msgspec.Struct, tag="delegated", tag_field="mode", forbid_unknown_fields=True
):
    """Delegated proving: the credential and the holder secret; the agent proves,
    then drops them.  Send only over TLS."""

    credential: dict[str, Any]
    holder_secret: Decimal

    def __repr__(self) -> str:
        return "DelegatedSubmission(<redacted>)"


class PresentationResult(msgspec.Struct):
    verification_id: str
    status: str
    result: bool | None
    agent_id: str


class VerificationStatus(msgspec.Struct):
    id: str
    status: str
    result: bool | None
    reason: str | None
    attestation: str | None
    agent_id: str | None
    audience: str
    expires_at: str
    completed_at: str | None
    approved_by: str | None = None
    #: with status ``awaiting_approval`` (CIBA-style): poll no faster than this
    poll_interval: int | None = None


class ApprovalDecision(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/approvals/{id}``: the delegating person's answer to a step-up."""

    decision: Literal["approve", "deny"]


class ApprovalView(msgspec.Struct, omit_defaults=True):
    id: str
    status: str
    client_id: str | None
    predicate: str
    params: dict[str, int]
    audience: str
    expires_at: str
    subject: str | None = None
    act: dict[str, Any] | None = None
    policy_ids: list[str] = msgspec.field(default_factory=list)
    approved_by: str | None = None


class ApprovalList(msgspec.Struct):
    approvals: list[ApprovalView]


class TokenResponse(msgspec.Struct, omit_defaults=True):
    """RFC 6749 §5.1 / RFC 9449 §5 / RFC 8693 §2.2.1 token response."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    issued_token_type: str | None = None


class AttestationCheck(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/attestations/verify``."""

    attestation: Annotated[str, Meta(min_length=1, max_length=32768)]
    audience: Audience
    nonce: Decimal | None = None


class AttestationVerdict(msgspec.Struct, omit_defaults=True):
    valid: bool
    reason: str | None = None
    detail: str | None = None
    result: bool | None = None
    agent: str | None = None
    verification_id: str | None = None
    claims: dict[str, Any] | None = None


class CircuitView(msgspec.Struct):
    id: str
    name: str
    predicates: list[str]
    n_public: int
    public_signals: list[str]
    verification_key_uri: str


class AgentView(msgspec.Struct):
    id: str
    spiffe_id: str
    verification_id: str
    task: str
    state: str
    audience: str
    key_thumbprint: str
    created_at: str
    expires_at: str
    running_at: str | None
    attested_at: str | None
    retired_at: str | None
    failed_reason: str | None


class AuditPageView(msgspec.Struct):
    """``GET /v1/audit``: records exactly as trail-file lines hold them (``{"event":
    {...}}`` or ``{"checkpoint": "<JWS>"}``) and the cursor of the next page (null at
    the end)."""

    records: list[dict[str, Any]]
    next: str | None


class ProblemDetails(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    reason: str | None = None
    errors: list[dict[str, Any]] | None = None
