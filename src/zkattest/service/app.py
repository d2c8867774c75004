"""``create_app()``: the Litestar application of the verification service."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from litestar import Litestar, Request
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from opentelemetry.trace import TracerProvider

from .. import __version__
from .approvals import ApprovalController
from .audit_api import AuditController
from .bootstrap import Resources, bootstrap
from .config import Config
from .discovery import (
    AgentController,
    AttestationController,
    CircuitController,
    WellKnownController,
)
from .health import healthz, readyz
from .metrics import Metrics, metrics_endpoint
from .oauth import OAuthController, as_metadata
from .problems import ApiError, exception_handlers
from .state import lifespan_for
from .tracing import setup_tracing
from .verifications import RequestController, VerificationController

__all__ = ["create_app"]


_FORM = "application/x-www-form-urlencoded"


async def _json_only(request: Request[Any, Any, Any]) -> None:
    """Bodies are JSON (the token endpoint's are forms, RFC 6749): anything else is
    refused before a handler decodes it."""
    if request.method in ("POST", "PUT", "PATCH"):
        want = _FORM if request.url.path == "/oauth/token" else "application/json"
        if request.content_type[0] != want:
            raise ApiError(415, f"the request body must be {want}")


def create_app(
    config: Config | None = None,
    *,
    resources: Resources | None = None,
    clock: Callable[[], float] = time.time,
    tracer_provider: TracerProvider | None = None,
) -> Litestar:
    """The app for ``config`` (default: the embedded defaults).  ``resources``
    (from :func:`~zkattest.service.bootstrap.bootstrap`) avoids a second bootstrap;
    ``clock`` is for tests.  ``tracer_provider``: where this app's spans go (default:
    an OTLP exporter when ``otlp_endpoint`` is configured, else tracing is off; see
    :mod:`.tracing`)."""
    if resources is None:
        resources = bootstrap(config or Config(), progress=False)
    cfg = resources.config
    metrics = Metrics()
    tracing = setup_tracing(cfg, tracer_provider)
    otel = tracing.plugin()
    return Litestar(
        before_request=_json_only,
        route_handlers=[
            VerificationController,
            RequestController,
            AttestationController,
            WellKnownController,
            CircuitController,
            AgentController,
            OAuthController,
            as_metadata,
            ApprovalController,
            AuditController,
            healthz,
            readyz,
            metrics_endpoint,
        ],
        middleware=[metrics.middleware(name_spans=tracing.enabled)],
        after_exception=[metrics.after_exception],
        plugins=[otel] if otel is not None else [],
        lifespan=[lifespan_for(resources, clock, metrics, tracing)],
        exception_handlers=exception_handlers,
        request_max_body_size=cfg.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="zkattest",
            version=__version__,
            description="Privacy-preserving verification: a signed yes/no, nothing else.",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
        ),
        debug=False,
        logging_config=None,
    )
