"""Keys, circuits, agents and attestation checking: what anyone may read."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from ..agents import AttestationInvalid, verify_attestation
from ..circuits import age_gte
from ..groth16 import dump_verification_key
from .problems import ApiError
from .schemas import ID_RE, AgentView, AttestationCheck, AttestationVerdict, CircuitView
from .state import iso, services

__all__ = ["AgentController", "AttestationController", "CircuitController", "WellKnownController"]

_CID = re.compile(r"sha256:[0-9a-f]{64}")
_JSON = "application/json"


class WellKnownController(Controller):
    path = "/.well-known"
    tags = ["keys"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @get("/jwks.json", summary="The trust domain's signing keys (JWKS)")
    async def jwks(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        svc = services(request.app)
        return Response(
            svc.bundle.to_jwks(), media_type=_JSON, headers={"Cache-Control": "max-age=300"}
        )

    @get("/spiffe-bundle", summary="SPIFFE trust bundle (JWKS with use jwt-svid)")
    async def spiffe_bundle(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        svc = services(request.app)
        return Response(
            svc.bundle.to_spiffe_json(),
            media_type=_JSON,
            headers={"Cache-Control": "max-age=300"},
        )


class CircuitController(Controller):
    path = "/v1/circuits"
    tags = ["circuits"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @get("/", summary="Circuits this service verifies")
    async def list_circuits(self, request: Request[Any, Any, Any]) -> list[CircuitView]:
        svc = services(request.app)
        cid = svc.res.circuit_id
        names = [*age_gte.PUBLIC_OUTPUTS, *age_gte.PUBLIC_INPUTS]
        return [
            CircuitView(
                id=cid,
                name="age_gte",
                predicates=["age_gte"],
                n_public=svc.res.vk.n_public,
                public_signals=list(names),
                verification_key_uri=f"{svc.config.base_url}/v1/circuits/{cid}/verification_key",
            )
        ]

    @get("/{cid:str}/verification_key", summary="The circuit's snarkjs verification_key.json")
    async def verification_key(
        self, request: Request[Any, Any, Any], cid: FromPath[str]
    ) -> Response[dict[str, Any]]:
        svc = services(request.app)
        if not _CID.fullmatch(cid) or cid != svc.res.circuit_id:
            raise ApiError(404, "no such circuit")
        return Response(dump_verification_key(svc.res.vk), media_type=_JSON)


class AgentController(Controller):
    path = "/v1/agents"
    tags = ["agents"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @get("/{aid:str}", summary="A micro-agent's lifecycle record (no secrets)")
    async def read(self, request: Request[Any, Any, Any], aid: FromPath[str]) -> AgentView:
        svc = services(request.app)
        if not ID_RE.fullmatch(aid):
            raise ApiError(404, "no such agent")
        a = await svc.store.get_agent(aid)
        if a is None:
            raise ApiError(404, "no such agent")
        state = a.state
        if state in ("provisioned", "running") and a.expires_at <= svc.clock():
            state = "expired"
        return AgentView(
            id=a.id,
            spiffe_id=a.spiffe_id,
            verification_id=a.verification_id,
            task=a.task,
            state=state,
            audience=a.audience,
            key_thumbprint=a.key_thumbprint,
            created_at=iso(a.created_at) or "",
            expires_at=iso(a.expires_at) or "",
            running_at=iso(a.running_at),
            attested_at=iso(a.attested_at),
            retired_at=iso(a.retired_at),
            failed_reason=a.failed_reason,
        )


class AttestationController(Controller):
    path = "/v1/attestations"
    tags = ["attestations"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @post("/verify", status_code=200, summary="Check an attestation (for RPs without JOSE)")
    async def verify(
        self, request: Request[Any, Any, Any], data: JSONBody[AttestationCheck]
    ) -> AttestationVerdict:
        svc = services(request.app)
        slot = svc.pool.reserve()
        try:
            got = await svc.pool.run(
                slot,
                _verify,
                data,
                svc.bundle,
                {svc.res.circuit_id: svc.res.vk},
                int(svc.clock()),
            )
        finally:
            slot.release_unless_submitted()
        return got


def _verify(data: AttestationCheck, bundle: Any, circuits: Any, now: int) -> AttestationVerdict:
    try:
        a = verify_attestation(
            data.attestation,
            bundle=bundle,
            audience=data.audience,
            now=now,
            circuits=circuits,
            nonce=data.nonce,
        )
    except AttestationInvalid as e:
        return AttestationVerdict(valid=False, reason=e.reason, detail=str(e))
    return AttestationVerdict(
        valid=True,
        result=a.result,
        agent=a.agent,
        verification_id=a.verification_id,
        claims={k: v for k, v in a.claims.items() if k not in ("proof", "svid")},
    )
