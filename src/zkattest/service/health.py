"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from ..store import StoreError
from .state import services

__all__ = ["healthz", "readyz"]


@get("/healthz", tags=["health"], summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["health"], summary="The store answers and the proof pool has room")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    svc = services(request.app)
    pool = svc.pool.stats().to_dict()
    try:
        await svc.store.ping()
    except StoreError:
        return Response(
            {"status": "unavailable", "store": "down", "pool": pool},
            status_code=503,
            headers={"Retry-After": "2"},
        )
    ready = (
        pool["in_flight"] < pool["capacity"] and pool["verify_in_flight"] < pool["verify_capacity"]
    )
    return Response(
        {"status": "ready" if ready else "saturated", "store": "ok", "pool": pool},
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "1"},
    )
