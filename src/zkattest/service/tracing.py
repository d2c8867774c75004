"""OpenTelemetry traces.

Off by default: with no ``otlp_endpoint`` (and no tracer provider handed to
``create_app`` or installed process-wide by an embedding application) no SDK is set
up, no HTTP tracing middleware is installed and every span of ours is a no-op.

On: Litestar's OpenTelemetry plugin makes one server span per request, named after
the route template (``POST /v1/verifications/{vid:str}/presentation``) once routing
has happened; ours nest inside it: ``policy.decide``, ``agent.provision``,
``agent.verify``, ``agent.prove``, ``agent.attest``, ``oauth.token``,
``oauth.authenticate`` and ``store.<method>`` (the store behind a thin proxy).
With ``otlp_endpoint`` set the spans go to that OTLP/HTTP collector (protobuf,
``POST <endpoint>/v1/traces``) through a batch processor the app's lifespan shuts
down (flushing what is left).

What never goes into a span: the raw request path and query (request tokens live in
paths, PKCE verifiers in queries: the server span keeps only the route template),
header values of ``Authorization``/``DPoP``/cookies (redacted even when the operator
asks the instrumentation to capture headers), exception messages and stack traces
(only the exception's type), and of course birthdates, holder secrets, credentials,
tokens, DPoP proofs, code verifiers and keys: attributes are ids, predicates,
outcomes, reasons and policy ids.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from litestar.types import Scope
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from .. import __version__
from ..agents.hooks import span
from ..store import AgentRecord, Store, VerificationRecord
from .config import Config

if TYPE_CHECKING:
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin

__all__ = [
    "REDACTED",
    "TracedStore",
    "Tracing",
    "setup_tracing",
    "span",
    "traced_store",
    "traces_url",
]

REDACTED = "[redacted]"
#: request attributes the ASGI instrumentation fills from the raw path/query/URL
_RAW_TARGET = (
    "http.target",
    "http.url",
    "url.full",
    "url.path",
    "url.query",
    # who is asking stays out of traces too: the client's address and user agent
    # (old and new semantic-convention names)
    "net.peer.ip",
    "net.peer.port",
    "client.address",
    "client.port",
    "http.client_ip",
    "http.user_agent",
    "user_agent.original",
)
#: header values never captured, whatever OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* say
_SECRET_HEADERS = ["authorization", "proxy-authorization", "dpop", "cookie", "set-cookie"]


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector base URL (``/v1/traces`` appended
    unless the path already ends with it)."""
    e = endpoint.rstrip("/")
    return e if e.endswith("/v1/traces") else f"{e}/v1/traces"


@dataclass
class Tracing:
    """The app's tracer provider (``None``: tracing off) and whether the app owns it
    (built from ``otlp_endpoint``: the lifespan shuts it down)."""

    provider: trace.TracerProvider | None = None
    owned: bool = False

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def tracer(self, name: str) -> trace.Tracer:
        if self.provider is None:
            return trace.NoOpTracer()
        return self.provider.get_tracer(name, __version__)

    def plugin(self) -> OpenTelemetryPlugin | None:
        if self.provider is None:
            return None
        # imported only when tracing is on (the ASGI instrumentation is not small)
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

        return OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=self.provider,
                scope_span_details_extractor=_before_routing,
                server_request_hook_handler=_redact_target,
                exclude_spans=["receive", "send"],
                exclude=["^/metrics$"],
                http_capture_headers_sanitize_fields=list(_SECRET_HEADERS),
            )
        )

    def shutdown(self) -> None:
        """Flush and stop the exporter (only a provider this app built)."""
        if self.owned and self.provider is not None:
            shutdown = getattr(self.provider, "shutdown", None)
            if callable(shutdown):
                shutdown()


def setup_tracing(cfg: Config, provider: trace.TracerProvider | None = None) -> Tracing:
    """``provider`` if given; else an OTLP exporter when ``cfg.otlp_endpoint`` is set;
    else the process-wide provider if an embedding application installed one; else off."""
    if provider is not None:
        return Tracing(provider)
    if cfg.otlp_endpoint:
        return Tracing(_otlp_provider(cfg), owned=True)
    glob = trace.get_tracer_provider()
    if isinstance(glob, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return Tracing()
    return Tracing(glob)


def _otlp_provider(cfg: Config) -> trace.TracerProvider:
    # imported only when configured: the exporter pulls in protobuf and requests
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: cfg.service_name, SERVICE_VERSION: __version__})
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(cfg.otlp_endpoint)))
    )
    return provider


def _before_routing(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The server span's first name: the method alone (the raw path may hold a token;
    the route middleware renames the span after the route template)."""
    return str(scope.get("method") or "HTTP"), {}


def _redact_target(sp: trace.Span, scope: dict[str, Any]) -> None:
    attrs: Any = getattr(sp, "attributes", None) or {}
    for key in _RAW_TARGET:
        if key in attrs:
            sp.set_attribute(key, REDACTED)


# -- the store ----------------------------------------------------------------------------------

A_VERIFICATION = "zkattest.verification.id"
A_AGENT = "zkattest.agent.id"
#: the attribute a method's first positional argument goes to (ids only, never a hash
#: of a token or a one-use key)
_FIRST_ARG = {
    "get_verification": A_VERIFICATION,
    "begin_presentation": A_VERIFICATION,
    "finish_verification": A_VERIFICATION,
    "decide_approval": A_VERIFICATION,
    "get_agent": A_AGENT,
    "transition_agent": A_AGENT,
    "recent_count": "zkattest.client.id",
    "use_once": "zkattest.store.namespace",
}


def _attrs(method: str, system: str, args: tuple[Any, ...]) -> dict[str, AttributeValue]:
    out: dict[str, AttributeValue] = {"db.system.name": system, "db.operation.name": method}
    first = args[0] if args else None
    key = _FIRST_ARG.get(method)
    if key is not None and isinstance(first, str):
        out[key] = first
    if isinstance(first, VerificationRecord):
        out[A_VERIFICATION] = first.id
    elif isinstance(first, AgentRecord):
        out[A_AGENT] = first.id
        out[A_VERIFICATION] = first.verification_id
    if method == "transition_agent" and len(args) >= 3:
        out["zkattest.agent.from"] = str(args[1])
        out["zkattest.agent.to"] = str(args[2])
    return out


class TracedStore:
    """The store with each coroutine method in a ``store.<method>`` span, a child of
    the current span (and none when no span is recording: the sweeper's background
    calls make no orphan traces).  Everything else passes through."""

    def __init__(self, store: Store, tracer: trace.Tracer, system: str) -> None:
        self._store = store
        self._tracer = tracer
        self._system = system

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(target):
            return target
        wrapped = self._wrap(name, target)
        self.__dict__[name] = wrapped  # resolved once per method
        return wrapped

    def _wrap(
        self, name: str, target: Callable[..., Coroutine[Any, Any, Any]]
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        tracer, system, span_name = self._tracer, self._system, f"store.{name}"

        @functools.wraps(target)
        async def call(*args: Any, **kwargs: Any) -> Any:
            if not trace.get_current_span().is_recording():
                return await target(*args, **kwargs)
            with span(tracer, span_name, _attrs(name, system, args)) as sp:
                out = await target(*args, **kwargs)
                if isinstance(out, bool):
                    sp.set_attribute("zkattest.store.applied", out)
                return out

        return call

    async def __aenter__(self) -> TracedStore:
        await self._store.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._store.__aexit__(*exc)


def traced_store(store: Store, tracing: Tracing, db_url: str) -> Store:
    """``store`` itself when tracing is off (no proxy, no cost), else a :class:`TracedStore`."""
    if not tracing.enabled:
        return store
    system = urlsplit(db_url).scheme.split("+")[0] or "unknown"
    return cast(Store, TracedStore(store, tracing.tracer("zkattest.store"), system))
