"""``create_app()``: the Litestar application of the verification service."""

from __future__ import annotations

import time
from collections.abc import Callable

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from .. import __version__
from .bootstrap import Resources, bootstrap
from .config import Config
from .discovery import (
    AgentController,
    AttestationController,
    CircuitController,
    WellKnownController,
)
from .health import healthz, readyz
from .problems import exception_handlers
from .state import lifespan_for
from .verifications import RequestController, VerificationController

__all__ = ["create_app"]


def create_app(
    config: Config | None = None,
    *,
    resources: Resources | None = None,
    clock: Callable[[], float] = time.time,
) -> Litestar:
    """The app for ``config`` (default: the embedded defaults).  ``resources``
    (from :func:`~zkattest.service.bootstrap.bootstrap`) avoids a second bootstrap;
    ``clock`` is for tests."""
    if resources is None:
        resources = bootstrap(config or Config(), progress=False)
    cfg = resources.config
    return Litestar(
        route_handlers=[
            VerificationController,
            RequestController,
            AttestationController,
            WellKnownController,
            CircuitController,
            AgentController,
            healthz,
            readyz,
        ],
        lifespan=[lifespan_for(resources, clock)],
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
