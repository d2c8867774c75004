"""Human in the loop: a person approves or denies a stepped-up verification.

  GET  /v1/approvals         the approvals waiting for the caller
  POST /v1/approvals/{id}    {"decision": "approve" | "deny"}

Both need a DPoP-bound token with the ``approve`` scope that nobody else acts
through (no ``act``: the person's own token, never a delegate's).  Who may decide:
the delegating subject of the request (the token ``sub`` a client acted for), or,
for a client's own request, a client its registry entry lists in ``approvers``.
The decision is one conditional update in the store: of concurrent answers exactly
one counts; after ``approval_ttl`` the verification expires instead.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from ..agents import subject_of
from ..store import VerificationRecord
from .audit import thread_deadline
from .auth import Caller, authenticate
from .problems import ApiError
from .schemas import ID_RE, ApprovalDecision, ApprovalList, ApprovalView
from .state import Services, iso, services

__all__ = ["ApprovalController"]

log = logging.getLogger("zkattest.service")


def _view(v: VerificationRecord) -> ApprovalView:
    return ApprovalView(
        id=v.id,
        status=v.status,
        client_id=v.client_id,
        predicate=v.predicate,
        params=dict(v.params),
        audience=v.audience,
        expires_at=iso(v.expires_at) or "",
        subject=v.subject,
        act=v.act,
        policy_ids=list(v.policy_ids),
        approved_by=v.approved_by,
    )


async def _approver(request: Request[Any, Any, Any], svc: Services) -> Caller:
    if not svc.config.require_auth:
        raise ApiError(404, "approvals need the service to run with require_auth")
    caller = await authenticate(request, svc, scope="approve")
    if caller.delegated:
        raise ApiError(
            403,
            "an approval is the person's own: a delegated token cannot give it",
            reason="delegated_approver",
        )
    return caller


def _may_decide(svc: Services, caller: Caller, v: VerificationRecord) -> bool:
    who = caller.token.sub
    if v.subject is not None:
        return who == v.subject
    owner = svc.res.clients.get(v.client_id) if v.client_id is not None else None
    return owner is not None and who in owner.approvers


def _clients_approved_by(svc: Services, who: str) -> list[str]:
    return [c.client_id for c in svc.res.clients.list() if who in c.approvers]


async def _audit_decided(
    svc: Services, caller: Caller, v: VerificationRecord, approve: bool
) -> None:
    """``approval.decided`` by the approver (and ``verification.failed`` for a denial),
    durable before the approver's answer is acknowledged."""
    ev = await svc.audit.append(
        "approval.decided",
        actor=caller.token.sub,
        outcome="approved" if approve else "denied",
        subject=subject_of(v),
        act=caller.token.act,
        refs={"verification_id": v.id, "approval_id": v.id, "client_id": caller.client_id},
        links=svc.audit.follows(v.id),
    )
    if approve:
        svc.audit.note(v.id, ev, until=thread_deadline(svc.config, v.expires_at))
        return
    await svc.audit.append(
        "verification.failed",
        actor="service",
        outcome="failed",
        subject=subject_of(v),
        act=v.act,
        refs={"verification_id": v.id, "reason": v.reason or "approval_denied"},
        links=(ev,),
    )
    svc.audit.end(v.id)


class ApprovalController(Controller):
    path = "/v1/approvals"
    tags = ["approvals"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @get("/", summary="Approvals waiting for the caller (a person, or an approver)")
    async def pending(self, request: Request[Any, Any, Any]) -> ApprovalList:
        svc = services(request.app)
        caller = await _approver(request, svc)
        who = caller.token.sub
        rows = await svc.store.awaiting_approval(
            svc.clock(), subjects=[who], client_ids=_clients_approved_by(svc, who)
        )
        return ApprovalList([_view(v) for v in rows if _may_decide(svc, caller, v)])

    @post("/{vid:str}", status_code=200, summary="Approve or deny a step-up (a person)")
    async def decide(
        self,
        request: Request[Any, Any, Any],
        vid: FromPath[str],
        data: JSONBody[ApprovalDecision],
    ) -> ApprovalView:
        svc = services(request.app)
        caller = await _approver(request, svc)
        if not ID_RE.fullmatch(vid):
            raise ApiError(404, "no such approval")
        v = await svc.store.get_verification(vid)
        if v is None or not _may_decide(svc, caller, v):
            raise ApiError(404, "no such approval")  # not yours: it does not exist for you
        now = svc.clock()
        approve = data.decision == "approve"
        won = await svc.store.decide_approval(
            vid,
            approve=approve,
            approver=caller.token.sub,
            now=now,
            expires_at=now + svc.config.verification_ttl,
        )
        after = await svc.store.get_verification(vid)
        assert after is not None
        if not won:
            if after.status == "expired" or (
                after.status == "awaiting_approval" and after.expires_at <= now
            ):
                raise ApiError(410, "the approval expired", reason="expired")
            if after.status == "awaiting_approval":
                raise ApiError(409, "the approval could not be recorded", reason="conflict")
            raise ApiError(409, f"already decided ({after.status})", reason="already_decided")
        await _audit_decided(svc, caller, after, approve)
        log.info(
            "approval decided",
            extra={"verification": vid, "decision": data.decision, "by": caller.token.sub},
        )
        return _view(after)
