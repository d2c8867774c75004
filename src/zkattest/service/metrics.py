"""Prometheus metrics: ``GET /metrics`` (text exposition, or OpenMetrics when the
scraper asks for it; not in the OpenAPI document).

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the
process-wide default), so several apps in one process do not collide.  Labels are
bounded sets (route templates, methods, statuses, states, outcomes, reasons from the
code): never an id, a client, a path with a token in it, or anything a caller chose.

What is counted where:

- HTTP: a middleware around every routed request (route template, method, status,
  latency); requests that match no route are counted by an ``after_exception`` hook
  under the route ``<unmatched>``;
- agents, verifications, proofs: :class:`Metrics` is the agent runtime's and the work
  pool's :class:`~zkattest.agents.hooks.Hooks`;
- policy decisions, tokens issued, OAuth refusals: the service calls :meth:`policy`,
  :meth:`token_issued`, :meth:`refused`;
- at scrape time: agents and verifications by state (the store's ``counts()``, one
  grouped query each) and the pool's saturation (:class:`~zkattest.agents.PoolStats`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from litestar import Request, Response, get
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from ..agents import PoolStats
from ..agents.hooks import Hooks
from ..store import AGENT_STATES, VERIFICATION_STATUSES
from .state import services

__all__ = ["UNMATCHED", "Metrics", "metrics_endpoint"]

UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PROVE = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
_VERIFY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _method(m: object) -> str:
    s = str(m).upper()
    return s if s in _METHODS else "other"


class _PoolCollector(Collector):
    """The work pool's saturation, read when scraped."""

    def __init__(self, stats: Callable[[], PoolStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self._stats()
        if stats is None:  # before the lifespan opened the pool
            return
        s = stats.to_dict()
        in_flight = GaugeMetricFamily(
            "zkattest_pool_in_flight", "Jobs in the proof pool, by kind", labels=["kind"]
        )
        in_flight.add_metric(["job"], s["in_flight"])
        in_flight.add_metric(["verify"], s["verify_in_flight"])
        cap = GaugeMetricFamily(
            "zkattest_pool_capacity",
            "Most jobs the pool takes at once, by kind (more are refused with 503)",
            labels=["kind"],
        )
        cap.add_metric(["job"], s["capacity"])
        cap.add_metric(["verify"], s["verify_capacity"])
        yield in_flight
        yield cap
        yield GaugeMetricFamily("zkattest_pool_workers", "Proof worker threads", value=s["workers"])
        yield CounterMetricFamily(
            "zkattest_pool_rejected", "Jobs refused because the pool was full", value=s["rejected"]
        )
        yield CounterMetricFamily(
            "zkattest_pool_completed", "Jobs the pool finished", value=s["completed"]
        )
        yield CounterMetricFamily(
            "zkattest_verify_batches", "Batches the batch verifier ran", value=s["batches"]
        )
        yield GaugeMetricFamily(
            "zkattest_verify_largest_batch", "The largest batch so far", value=s["largest_batch"]
        )


class Metrics(Hooks):
    """One app's metrics and registry; also the agent runtime's and pool's hooks."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "zkattest_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "zkattest_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.proofs_verified = Counter(
            "zkattest_proofs_verified",
            "Holder-side proofs checked by the batch verifier, by verdict",
            ["verdict"],
            registry=r,
        )
        self.verify_batch_size = Histogram(
            "zkattest_verify_batch_size",
            "Proofs per verification batch",
            buckets=_SIZES,
            registry=r,
        )
        self.verify_batch_seconds = Histogram(
            "zkattest_verify_batch_duration_seconds",
            "Time to check one batch of holder-side proofs",
            buckets=_VERIFY,
            registry=r,
        )
        self.proofs_proved = Counter(
            "zkattest_proofs_proved",
            "Delegated proofs computed by agents, by outcome (ok, error)",
            ["outcome"],
            registry=r,
        )
        self.prove_seconds = Histogram(
            "zkattest_prove_duration_seconds",
            "Time to compute one delegated proof",
            buckets=_PROVE,
            registry=r,
        )
        self.agent_transitions = Counter(
            "zkattest_agent_transitions",
            "Micro-agent lifecycle transitions (from none: provisioned)",
            ["from", "to"],
            registry=r,
        )
        self.verification_outcomes = Counter(
            "zkattest_verification_outcomes",
            "Verifications finished through an agent: yes, no or failed (with the reason)",
            ["mode", "outcome", "reason"],
            registry=r,
        )
        self.policy_decisions = Counter(
            "zkattest_policy_decisions",
            "Policy decisions by action, stage and outcome",
            ["action", "stage", "outcome"],
            registry=r,
        )
        self.tokens_issued = Counter(
            "zkattest_oauth_tokens_issued", "Access tokens issued by grant", ["grant"], registry=r
        )
        self.oauth_refusals = Counter(
            "zkattest_oauth_refusals",
            "OAuth refusals (token endpoint, resource guard) by error and reason",
            ["endpoint", "error", "reason"],
            registry=r,
        )
        self.swept = Counter(
            "zkattest_swept", "State the sweeper expired or purged", ["what"], registry=r
        )
        self.agents = Gauge(
            "zkattest_agents", "Micro-agents in the store by state", ["state"], registry=r
        )
        self.verifications = Gauge(
            "zkattest_verifications", "Verifications in the store by status", ["status"], registry=r
        )
        #: set by the lifespan when the pool exists
        self.pool_stats: Callable[[], PoolStats] | None = None
        r.register(_PoolCollector(lambda: self.pool_stats() if self.pool_stats else None))

    # -- hooks (agents/, pool: any thread) --------------------------------------------------
    def agent_transition(self, frm: str, to: str) -> None:
        self.agent_transitions.labels(frm, to).inc()

    def verification_finished(
        self, mode: str, status: str, result: bool | None, reason: str | None
    ) -> None:
        outcome = "failed" if status != "completed" else ("yes" if result else "no")
        self.verification_outcomes.labels(mode, outcome, reason or "").inc()

    def proved(self, seconds: float, ok: bool) -> None:
        self.proofs_proved.labels("ok" if ok else "error").inc()
        self.prove_seconds.observe(seconds)

    def verify_batch(self, size: int, failed: int, seconds: float) -> None:
        if size > failed:
            self.proofs_verified.labels("valid").inc(size - failed)
        if failed:
            self.proofs_verified.labels("invalid").inc(failed)
        self.verify_batch_size.observe(size)
        self.verify_batch_seconds.observe(seconds)

    # -- the service ----------------------------------------------------------------------
    def policy(self, action: str, stage: str, outcome: str) -> None:
        self.policy_decisions.labels(action, stage, outcome).inc()

    def token_issued(self, grant: str) -> None:
        self.tokens_issued.labels(grant).inc()

    def refused(self, endpoint: str, error: str, reason: str | None) -> None:
        self.oauth_refusals.labels(endpoint, error, reason or "").inc()

    def swept_now(self, counts: dict[str, int]) -> None:
        for what, n in counts.items():
            if n:
                self.swept.labels(what).inc(n)

    def http(self, route: str, method: str, status: int, seconds: float | None) -> None:
        self.http_requests.labels(route, method, str(status)).inc()
        if seconds is not None:
            self.http_latency.labels(route).observe(seconds)

    def store_counts(self, counts: dict[str, dict[str, int]]) -> None:
        agents = counts.get("agents", {})
        for state in AGENT_STATES:
            self.agents.labels(state).set(agents.get(state, 0))
        verifications = counts.get("verifications", {})
        for status in VERIFICATION_STATUSES:
            self.verifications.labels(status).set(verifications.get(status, 0))

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type

    # -- ASGI -------------------------------------------------------------------------------
    def middleware(self, *, name_spans: bool) -> Callable[[ASGIApp], ASGIApp]:
        """The route-level middleware: counts and times each routed request; with
        ``name_spans`` it also names the server span after the route template (the
        tracing middleware runs before routing and sees only the raw path)."""

        def factory(app: ASGIApp) -> ASGIApp:
            async def observe(scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] != ScopeType.HTTP:
                    await app(scope, receive, send)
                    return
                route = str(scope.get("path_template") or UNMATCHED)
                method = _method(scope.get("method"))
                if name_spans:
                    _name_server_span(method, route)
                status = 500

                async def send_status(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = int(message["status"])
                    await send(message)

                t0 = time.perf_counter()
                try:
                    await app(scope, receive, send_status)
                finally:
                    self.http(route, method, status, time.perf_counter() - t0)

            return observe

        return factory

    async def after_exception(self, exc: Exception, scope: Scope) -> None:
        """Requests that no route matched (404, 405) never reach the route middleware."""
        if scope["type"] == ScopeType.HTTP and not scope.get("path_template"):
            status = getattr(exc, "status_code", 500)
            self.http(UNMATCHED, _method(scope.get("method")), int(status), None)


def _name_server_span(method: str, route: str) -> None:
    span = trace.get_current_span()
    if span.is_recording() and getattr(span, "kind", None) is trace.SpanKind.SERVER:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        # the raw target was redacted when the span started (it may hold a token)
        attrs: Any = getattr(span, "attributes", None) or {}
        for key in ("http.target", "url.path"):
            if key in attrs:
                span.set_attribute(key, route)


@get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus scrape target."""
    svc = services(request.app)
    svc.metrics.store_counts(await svc.store.counts())
    body, content_type = svc.metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
