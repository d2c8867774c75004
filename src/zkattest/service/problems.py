"""Every error as RFC 9457 problem details, mapped in one place.

``type`` is ``urn:zkattest:problem:<slug>``; ``reason`` (an extension member) is the
machine-readable cause where there is one (``nonce_mismatch``, ``untrusted_issuer``...).
Messages never carry secrets or request values.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from .. import errors
from ..agents import Saturated
from ..audit import AuditError, AuditRefused
from ..oauth.errors import OAuthError
from ..store import StoreUnavailable
from .schemas import ProblemDetails

__all__ = ["ApiError", "exception_handlers", "problem"]

log = logging.getLogger("zkattest.service")
MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    """Raised by controllers: an HTTP status, a slug, a human detail and an optional reason."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _SLUGS.get(status, "error")
        self.reason = reason
        self.headers = headers or {}


def problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str | None,
    *,
    slug: str | None = None,
    reason: str | None = None,
    errs: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = ProblemDetails(
        type=f"urn:zkattest:problem:{slug or _SLUGS.get(status, 'error')}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        reason=reason,
        errors=errs,
    )
    return Response(
        msgspec.json.encode(body), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    return problem(
        request, exc.status, exc.detail, slug=exc.slug, reason=exc.reason, headers=exc.headers
    )


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errs: list[dict[str, Any]] | None = None
    if isinstance(exc.extra, list):
        # msgspec messages name the field and the expected type, never the value
        errs = [
            {k: v for k, v in e.items() if k in ("key", "message", "source")}
            for e in exc.extra
            if isinstance(e, dict)
        ]
    return problem(request, 400, "the request is malformed", slug="invalid-request", errs=errs)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        log.error("HTTP %d on %s: %s", status, request.url.path, exc.detail)
        detail = "the server failed to handle the request"
    else:
        detail = exc.detail if isinstance(exc.detail, str) else None
    return problem(request, status, detail, headers=exc.headers)


def _saturated(request: Request[Any, Any, Any], exc: Saturated) -> Response[bytes]:
    return problem(
        request,
        503,
        "all proof workers are busy; retry later",
        slug="saturated",
        reason="saturated",
        headers={"Retry-After": str(exc.retry_after)},
    )


def _store_down(request: Request[Any, Any, Any], exc: StoreUnavailable) -> Response[bytes]:
    log.error("store unavailable: %s", type(exc).__name__)
    return problem(
        request,
        503,
        "the database is unavailable; retry later",
        slug="store-unavailable",
        headers={"Retry-After": "2"},
    )


def _audit_down(request: Request[Any, Any, Any], exc: AuditError) -> Response[bytes]:
    # nothing that depends on an unrecorded event is released
    log.error("audit trail unavailable: %s", type(exc).__name__)
    return problem(
        request,
        503,
        "the audit trail cannot be written; retry later",
        slug="audit-unavailable",
        reason="audit_unavailable",
        headers={"Retry-After": "2"},
    )


def _audit_refused(request: Request[Any, Any, Any], exc: AuditRefused) -> Response[bytes]:
    # an event outside the audit schema is a bug here, not bad input from the client
    log.error("audit event refused on %s: %s", request.url.path, exc)
    return problem(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


def _oauth(request: Request[Any, Any, Any], exc: OAuthError) -> Response[bytes]:
    # resource endpoints: problem details plus the RFC 6750/9449 challenge headers
    return problem(
        request,
        exc.status,
        exc.description,
        slug=exc.error.replace("_", "-"),
        reason=exc.reason,
        headers=exc.headers,
    )


def _invalid_input(request: Request[Any, Any, Any], exc: errors.InvalidInput) -> Response[bytes]:
    return problem(request, 422, str(exc), slug="invalid-input")


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return problem(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


def _bad_body(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # raised by the JSON decoder: invalid UTF-8, or nesting deeper than the recursion limit
    return problem(request, 400, "the request body is not valid JSON", slug="bad-request")


exception_handlers: dict[type[Exception] | int, Any] = {
    RecursionError: _bad_body,
    UnicodeDecodeError: _bad_body,
    ApiError: _api_error,
    ValidationException: _validation,
    HTTPException: _http,
    Saturated: _saturated,
    StoreUnavailable: _store_down,
    AuditRefused: _audit_refused,
    AuditError: _audit_down,
    OAuthError: _oauth,
    errors.InvalidInput: _invalid_input,
    Exception: _internal,
}
