"""The verification flow: RP creates, holder fetches once and presents, RP reads.

  POST /v1/verifications                      RP: predicate, audience, PKCE challenge
  GET  /v1/requests/{token}                   holder, once: what to prove + presentation token
  POST /v1/verifications/{id}/presentation    holder: a proof, or credential + secret (delegated)
  GET  /v1/verifications/{id}?code_verifier=  RP: status and the signed attestation

The RP endpoints need a DPoP-bound access token with the scope ``verify:<predicate>``
(``service.auth``) unless ``require_auth`` is off; the client that created a
verification is the only one that may read it.  Policy decides each request: allow,
deny (403 with the matching policy ids) or step-up, which parks the verification as
``awaiting_approval`` until the delegating person (or an approver of the client)
answers at ``POST /v1/approvals/{id}``; the RP polls meanwhile (CIBA-style: faster
than ``poll_interval`` gets 429 ``slow_down``).

One-time steps are conditional updates in the store: of concurrent attempts exactly
one wins, across processes and restarts.  Bad input is refused before anything is
consumed; once a presentation is accepted for checking, its verification ends
``completed`` or ``failed`` (the reason is recorded), never half-done.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import logging
import re
import secrets
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from .. import errors
from ..agents import DelegatedWork, ProofWork, subject_of
from ..audit import AuditEvent
from ..credentials import PERSON, Credential, Holder, Presentation, to_field
from ..field import R
from ..identity.jose import b64url_encode, within_depth
from ..policy import PolicyInput, risk_score
from ..store import VerificationRecord
from .audit import ANONYMOUS, thread_deadline
from .auth import Caller, authenticate, challenge
from .policy import chain_of, decide, principal_of, request_rate
from .problems import ApiError
from .schemas import (
    ID_RE,
    CreateVerification,
    DelegatedSubmission,
    HolderRequest,
    IssuerView,
    PolicyView,
    PresentationResult,
    ProofSubmission,
    RequestView,
    VerificationCreated,
    VerificationStatus,
)
from .state import Services, iso, services

__all__ = ["RequestController", "VerificationController"]

log = logging.getLogger("zkattest.service")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
#: refusals at agent provisioning that are about who asks, not about the proof (403)
_AUTHZ_REFUSALS = frozenset({"policy_denied", "client_unknown", "delegation_revoked"})


def _h(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _s256(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def _today(now: float) -> int:
    d = _dt.datetime.fromtimestamp(now, _dt.UTC).date()
    return d.year * 10000 + d.month * 100 + d.day


def _check_id(vid: str) -> str:
    if not ID_RE.fullmatch(vid):
        raise ApiError(404, "no such verification")
    return vid


async def _get(svc: Services, vid: str) -> VerificationRecord:
    v = await svc.store.get_verification(_check_id(vid))
    if v is None:
        raise ApiError(404, "no such verification")
    return v


def _bearer(request: Request[Any, Any, Any]) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, tok = auth.partition(" ")
    if scheme.lower() != "bearer" or not _TOKEN.fullmatch(tok.strip()):
        raise ApiError(
            401,
            "a presentation needs 'Authorization: Bearer <presentation_token>' "
            "from the request URI",
            headers={"WWW-Authenticate": 'Bearer realm="zkattest"'},
        )
    return tok.strip()


async def _decide(
    svc: Services,
    caller: Caller,
    predicate: str,
    audience: str,
    params: dict[str, int],
    now: float,
) -> tuple[str, tuple[str, ...], AuditEvent]:
    """The policy's answer to a verification request (stage ``request``), and its
    ``policy.decided`` event (durable before the request goes on or is refused)."""
    outcome, ids = await _policy(svc, caller, predicate, audience, params, now)
    decided = await svc.audit.append(
        "policy.decided",
        actor=caller.client_id,
        outcome=outcome,
        subject=caller.token.sub,
        act=caller.token.act,
        refs={
            "client_id": caller.client_id,
            "policy_ids": list(ids),
            "predicate": predicate,
            "audience": audience,
            "min_age": params["min_age"],
            "task": "request",
        },
    )
    return outcome, ids, decided


async def _policy(
    svc: Services,
    caller: Caller,
    predicate: str,
    audience: str,
    params: dict[str, int],
    now: float,
) -> tuple[str, tuple[str, ...]]:
    """The policy's answer (outcome, policy ids) to a verification request."""
    # the request being decided is one of "this client's requests in the last minute"
    # (it is not stored yet; at stage provision the stored one counts itself)
    rate = await request_rate(svc, caller.client_id, now) + 1
    chain = chain_of(caller.token.act)
    d = decide(
        svc,
        PolicyInput(
            principal=principal_of(caller.client),
            action=predicate,
            audience=audience,
            stage="request",
            subject=caller.subject,
            chain=chain,
            depth=len(chain),
            params=params,
            rate=rate,
            risk=risk_score(
                depth=len(chain), rate=rate, rate_soft_limit=svc.config.rate_soft_limit
            ),
        ),
    )
    if d.outcome == "step_up" and not _approvers(svc, caller):
        # nobody could ever approve it: refuse now rather than park it to expire
        return "deny", (*d.policy_ids, "no-approver")
    return d.outcome, d.policy_ids


async def _audit_created(svc: Services, v: VerificationRecord, decided: AuditEvent | None) -> None:
    """``verification.created`` (and ``approval.requested`` for a step-up), durable
    before the RP learns the request URI; the verification's latest event is kept
    for the next one (its approval, or its agent)."""
    refs = {
        "verification_id": v.id,
        "client_id": v.client_id,
        "predicate": v.predicate,
        "audience": v.audience,
        "min_age": int(v.params["min_age"]),
        "exp": int(v.expires_at),
        "policy_ids": list(v.policy_ids) or None,
    }
    ev = await svc.audit.append(
        "verification.created",
        actor=v.client_id or ANONYMOUS,
        outcome=v.status,
        subject=subject_of(v),
        act=v.act,
        refs=refs,
        links=(decided,) if decided is not None else (),
    )
    if v.status == "awaiting_approval":
        ev = await svc.audit.append(
            "approval.requested",
            actor=v.client_id or ANONYMOUS,
            outcome="pending",
            subject=subject_of(v),
            act=v.act,
            refs={
                "verification_id": v.id,
                "approval_id": v.id,
                "client_id": v.client_id,
                "exp": int(v.expires_at),
                "policy_ids": list(v.policy_ids) or None,
            },
            links=(ev,),
        )
    svc.audit.note(v.id, ev, until=thread_deadline(svc.config, v.expires_at))


def _approvers(svc: Services, caller: Caller) -> bool:
    """Whether anyone could approve a step-up of this request: the delegating subject
    (if it is a registered person who may hold the ``approve`` scope) or, for the
    client's own request, one of its approvers."""
    if caller.subject is not None:
        subject = svc.res.clients.get(caller.subject)
        return subject is not None and subject.approver
    return bool(caller.client.approvers)


def _status(v: VerificationRecord, now: float) -> str:
    if v.status in ("pending", "presented", "awaiting_approval") and v.expires_at <= now:
        return "expired"
    return v.status


class VerificationController(Controller):
    path = "/v1/verifications"
    tags = ["verifications"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @post("/", status_code=201, summary="Create a verification (relying party)")
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[CreateVerification]
    ) -> VerificationCreated:
        svc = services(request.app)
        cfg = svc.config
        caller = (
            await authenticate(request, svc, scope=f"verify:{data.predicate}")
            if cfg.require_auth
            else None
        )
        now = svc.clock()
        params = {"min_age": data.params.min_age}
        status = "pending"
        policy: PolicyView | None = None
        decided: AuditEvent | None = None
        expires_at = now + cfg.verification_ttl
        if caller is not None:
            outcome, ids, decided = await _decide(
                svc, caller, data.predicate, data.audience, params, now
            )
            policy = PolicyView(outcome, list(ids))
            if outcome == "deny":
                raise ApiError(
                    403,
                    f"policy denies this request ({', '.join(ids)})",
                    slug="policy-denied",
                    reason="policy_denied",
                )
            if outcome == "step_up":
                status = "awaiting_approval"
                expires_at = now + cfg.approval_ttl
        token = secrets.token_urlsafe(32)
        nonce = str(secrets.randbelow(R))
        scope = str(to_field(data.audience, "rp_scope"))
        v = VerificationRecord(
            id=secrets.token_urlsafe(16),
            status=status,  # type: ignore[arg-type]
            predicate=data.predicate,
            params=params,
            audience=data.audience,
            nonce=nonce,
            rp_scope=scope,
            today=_today(now),
            schema=str(PERSON.id),
            code_challenge=data.code_challenge,
            request_token_hash=_h(token),
            created_at=now,
            expires_at=expires_at,
            request_fetched_at=None,
            presentation_token_hash=None,
            presented_at=None,
            mode=None,
            agent_id=None,
            result=None,
            reason=None,
            attestation=None,
            completed_at=None,
            client_id=caller.client_id if caller else None,
            subject=caller.subject if caller else None,
            act=caller.token.act if caller else None,
            policy_ids=tuple(policy.policy_ids) if policy else (),
        )
        await svc.store.create_verification(v)
        await _audit_created(svc, v, decided)
        log.info("verification created", extra={"verification": v.id, "status": v.status})
        return VerificationCreated(
            id=v.id,
            status=v.status,
            predicate=v.predicate,
            params=params,
            audience=v.audience,
            nonce=nonce,
            rp_scope=scope,
            today=v.today,
            expires_at=iso(v.expires_at) or "",
            request_uri=f"{cfg.base_url}/v1/requests/{token}",
            client_id=v.client_id,
            subject=v.subject,
            act=v.act,
            policy=policy,
            poll_interval=cfg.poll_interval if status == "awaiting_approval" else None,
        )

    @get("/{vid:str}", summary="Status and attestation (relying party, with the PKCE verifier)")
    async def read(
        self,
        request: Request[Any, Any, Any],
        vid: FromPath[str],
        code_verifier: Annotated[
            str | None, QueryParameter(description="the RFC 7636 code_verifier")
        ] = None,
    ) -> VerificationStatus:
        svc = services(request.app)
        caller = await authenticate(request, svc, scope=None) if svc.config.require_auth else None
        if code_verifier is None:
            raise ApiError(400, "code_verifier is required", reason="missing_code_verifier")
        if not _VERIFIER.fullmatch(code_verifier):
            raise ApiError(400, "code_verifier must be 43-128 unreserved characters")
        v = await _get(svc, vid)
        if caller is not None:
            if v.client_id != caller.client_id:  # another client's: it does not exist for you
                raise ApiError(404, "no such verification")
            need = f"verify:{v.predicate}"
            if need not in caller.token.scope:
                raise ApiError(
                    403,
                    "the token lacks the scope",
                    reason="insufficient_scope",
                    headers={"WWW-Authenticate": challenge("insufficient_scope", scope=need)},
                )
        if not hmac.compare_digest(_s256(code_verifier), v.code_challenge):
            raise ApiError(403, "the code_verifier does not match", reason="pkce_mismatch")
        now = svc.clock()
        status = _status(v, now)
        poll: int | None = None
        if status == "awaiting_approval":
            poll = svc.config.poll_interval
            last = svc.polls.get(v.id)
            if last is not None and now - last < poll:
                svc.polls[v.id] = now  # CIBA: each too-early poll restarts the interval
                raise ApiError(
                    429,
                    f"poll no more often than every {poll} s while approval is pending",
                    slug="slow-down",
                    reason="slow_down",
                    headers={"Retry-After": str(poll)},
                )
            svc.polls[v.id] = now
        else:
            svc.polls.pop(v.id, None)
        return VerificationStatus(
            id=v.id,
            status=status,
            result=v.result,
            reason=v.reason,
            attestation=v.attestation,
            agent_id=v.agent_id,
            audience=v.audience,
            expires_at=iso(v.expires_at) or "",
            completed_at=iso(v.completed_at),
            approved_by=v.approved_by,
            poll_interval=poll,
        )

    @post(
        "/{vid:str}/presentation",
        status_code=200,
        summary="Present a proof, or the witness for delegated proving (holder)",
    )
    async def present(
        self,
        request: Request[Any, Any, Any],
        vid: FromPath[str],
        data: JSONBody[ProofSubmission | DelegatedSubmission],
    ) -> PresentationResult:
        svc = services(request.app)
        token = _bearer(request)
        _check_id(vid)
        work = _work(data)  # parse before anything is consumed
        mode = "proof" if isinstance(work, ProofWork) else "delegated"
        try:
            v = await _get(svc, vid)
            slot = svc.pool.reserve("verify" if mode == "proof" else "job")
        except BaseException:
            if isinstance(work, DelegatedWork):
                work.wipe()
            raise
        now = svc.clock()
        try:
            won = await svc.store.begin_presentation(
                vid, _h(token), mode, now, now + svc.config.svid_ttl + 5
            )
            if not won:
                raise await _why_not(svc, vid, token, now)
        except BaseException:
            slot.release()
            if isinstance(work, DelegatedWork):
                work.wipe()
            raise
        out = await svc.runtime.handle(v, work, slot)
        if out.status != "completed":
            raise ApiError(
                403 if out.reason in _AUTHZ_REFUSALS else 422,
                f"the presentation was refused: {out.reason}",
                slug="presentation-refused",
                reason=out.reason,
            )
        assert out.result is not None and out.agent_id is not None
        return PresentationResult(vid, "completed", out.result, out.agent_id)


def _work(data: ProofSubmission | DelegatedSubmission) -> ProofWork | DelegatedWork:
    body = data.presentation if isinstance(data, ProofSubmission) else data.credential
    # the formats nest 3 deep; the decoder's own limit (the interpreter's recursion
    # limit) varies with what else runs in the process, so refuse deeper outright
    if not within_depth(body, 6):
        raise ApiError(
            422,
            "the body nests deeper than the format",
            slug="malformed-presentation",
            reason="malformed",
        )
    try:
        if isinstance(data, ProofSubmission):
            return ProofWork(Presentation.from_json(msgspec.json.encode(data.presentation)))
        cred = Credential.from_json(msgspec.json.encode(data.credential))
        secret = int(data.holder_secret)
        try:
            holder = Holder(secret)
        finally:
            del secret
        return DelegatedWork(cred, holder)
    except errors.InvalidInput as e:
        raise ApiError(422, str(e), slug="malformed-presentation", reason="malformed") from None


async def _why_not(svc: Services, vid: str, token: str, now: float) -> ApiError:
    v = await svc.store.get_verification(vid)
    if v is None:
        return ApiError(404, "no such verification")
    if v.presentation_token_hash is None or not hmac.compare_digest(
        v.presentation_token_hash, _h(token)
    ):
        return ApiError(
            403, "the presentation token is not this verification's", reason="bad_token"
        )
    if v.status == "expired" or (v.status == "pending" and v.expires_at <= now):
        return ApiError(410, "the verification expired", reason="expired")
    if v.status != "pending":
        return ApiError(
            409, f"the verification was already presented ({v.status})", reason="replay"
        )
    return ApiError(409, "the verification cannot take a presentation now", reason="conflict")


class RequestController(Controller):
    path = "/v1/requests"
    tags = ["holder"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @get("/{token:str}", summary="What to prove (holder; the request URI works once)")
    async def fetch(self, request: Request[Any, Any, Any], token: FromPath[str]) -> HolderRequest:
        svc = services(request.app)
        cfg = svc.config
        if not _TOKEN.fullmatch(token):
            raise ApiError(404, "no such request")
        now = svc.clock()
        ptoken = secrets.token_urlsafe(32)
        v = await svc.store.claim_request(_h(token), _h(ptoken), now)
        if v is None:
            old = await svc.store.find_by_request_token(_h(token))
            if old is None:
                raise ApiError(404, "no such request")
            if old.request_fetched_at is not None:
                raise ApiError(410, "this request URI was already used", reason="used")
            if old.status == "awaiting_approval" and old.expires_at > now:
                raise ApiError(
                    409,
                    "the request awaits a person's approval; try again later",
                    reason="awaiting_approval",
                    headers={"Retry-After": str(cfg.poll_interval)},
                )
            if old.status in ("completed", "failed"):
                raise ApiError(410, "the verification has ended", reason="ended")
            raise ApiError(410, "the verification expired", reason="expired")
        return HolderRequest(
            verification_id=v.id,
            request=RequestView(
                predicate=v.predicate,
                min_age=int(v.params["min_age"]),
                nonce=v.nonce,
                rp_scope=v.rp_scope,
                today=v.today,
                schema=v.schema,
            ),
            circuit_id=svc.res.circuit_id,
            trusted_issuers=[IssuerView(str(k.Ax), str(k.Ay)) for k in svc.res.issuers],
            presentation_uri=f"{cfg.base_url}/v1/verifications/{v.id}/presentation",
            presentation_token=ptoken,
            expires_at=iso(v.expires_at) or "",
        )
