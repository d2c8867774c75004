"""The audit trail over HTTP.

  GET /v1/audit?after=<cursor>&limit=N   an administrator pages through the trail
  GET /v1/audit/key                      the audit public key (JWK), for anyone

``/v1/audit`` needs a DPoP-bound access token with the ``audit`` scope (clients
registered with ``admin``), the client's own (not delegated) -- whether or not
``require_auth`` protects the relying-party endpoints: the trail says who asked what,
when.  The body is ``{"records": [...], "next": cursor | null}``: each record exactly
as a trail file line holds it (``{"event": {...}}`` or ``{"checkpoint": "<JWS>"}``),
so that writing each one on its own line makes a file ``zkattest audit verify``
checks against ``/v1/audit/key``.  Order: by chain, then seq (each checkpoint after
the event it covers); ``next`` is null at the end of the trail.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter

from .. import errors
from ..audit import public_jwk
from .audit import encode_page
from .auth import authenticate
from .problems import ApiError
from .schemas import AuditPageView
from .state import services

__all__ = ["AUDIT_SCOPE", "MAX_LIMIT", "AuditController"]

AUDIT_SCOPE: Final = "audit"
#: most records one page returns
MAX_LIMIT: Final = 1000
_JSON = "application/json"


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @get(
        "/",
        summary="Page through the audit trail (administrators: scope audit)",
        responses={
            200: ResponseSpec(
                AuditPageView,
                description="records exactly as trail-file lines hold them, and the next cursor",
            )
        },
    )
    async def page(
        self,
        request: Request[Any, Any, Any],
        after: Annotated[
            str | None,
            QueryParameter(description="the cursor of the previous page", max_length=128),
        ] = None,
        limit: Annotated[
            int, QueryParameter(description="records per page", ge=1, le=MAX_LIMIT)
        ] = MAX_LIMIT,
    ) -> Response[bytes]:
        svc = services(request.app)
        caller = await authenticate(request, svc, scope=AUDIT_SCOPE)
        if caller.delegated:
            raise ApiError(
                403,
                "the audit trail is read with an administrator's own token, not a delegate's",
                reason="delegated_admin",
            )
        try:
            page = await svc.audit.page(after, limit)
        except errors.InvalidParameter:
            raise ApiError(400, "malformed cursor", reason="bad_cursor") from None
        return Response(
            encode_page(page),  # an AuditPageView, encoded with the records' exact bytes
            media_type=_JSON,
            headers={"Cache-Control": "no-store"},
        )

    @get("/key", summary="The audit public key (JWK): checks the trail's checkpoints")
    async def key(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        svc = services(request.app)
        return Response(
            public_jwk(svc.audit.key), media_type=_JSON, headers={"Cache-Control": "max-age=300"}
        )
