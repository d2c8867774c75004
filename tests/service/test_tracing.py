"""OpenTelemetry: the spans of both flows and of the OAuth flow, their parent/child
structure, nothing secret in any span (names, attributes, events, status), tracing
off by default (no SDK, no exporter, no proxy), and OTLP/HTTP export to a collector
(a tiny local HTTP server) when ``otlp_endpoint`` is set."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.plugins.opentelemetry import OpenTelemetryPlugin
from litestar.testing import TestClient
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from zkattest.credentials import Credential, Holder
from zkattest.service import Config, ConfigError, Resources, create_app, load_config
from zkattest.service.tracing import REDACTED, TracedStore, traces_url

from .conftest import (
    BASE,
    LEAP_BIRTHDATE,
    Party,
    create,
    delegated_body,
    exchange_form,
    fetch,
    present,
    proof_body,
    prove,
    read,
    services,
    with_db,
)
from .test_oauth_flow import holder_fetch, rp_created

PRESENT = "POST /v1/verifications/{vid}/presentation"


@dataclass
class Traced:
    client: TestClient[Litestar]
    exporter: InMemorySpanExporter

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def traced(res: Resources) -> Iterator[Traced]:
    provider, exporter = _provider()
    with TestClient(create_app(resources=res, tracer_provider=provider)) as c:
        yield Traced(c, exporter)


@pytest.fixture
def traced_auth(auth_res: Resources) -> Iterator[Traced]:
    provider, exporter = _provider()
    with TestClient(create_app(resources=auth_res, tracer_provider=provider)) as c:
        yield Traced(c, exporter)


def texts(s: ReadableSpan) -> list[str]:
    """Everything a span carries that an exporter would send, as text."""
    out = [s.name, repr(s.status.description), repr(dict(s.resource.attributes))]
    out += [f"{k}={v!r}" for k, v in (s.attributes or {}).items()]
    for e in s.events:
        out += [e.name, repr(dict(e.attributes or {}))]
    for link in s.links:
        out.append(repr(dict(link.attributes or {})))
    return out


def assert_clean(spans: tuple[ReadableSpan, ...], hidden: dict[str, str]) -> None:
    assert spans
    for s in spans:
        for text in texts(s):
            for what, value in hidden.items():
                assert value not in text, f"{what} in span {s.name}: {text[:200]}"
        # no exception events (messages, stack traces): only the type, as error.type
        assert not [e for e in s.events if e.name == "exception"], s.name


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def parent_of(spans: tuple[ReadableSpan, ...], child: ReadableSpan) -> ReadableSpan:
    assert child.parent is not None, f"{child.name} has no parent"
    [p] = [s for s in spans if s.context.span_id == child.parent.span_id]
    assert p.context.trace_id == child.context.trace_id
    return p


def one_trace(spans: tuple[ReadableSpan, ...], root: ReadableSpan) -> tuple[ReadableSpan, ...]:
    return tuple(s for s in spans if s.context.trace_id == root.context.trace_id)


def test_spans_of_both_flows(
    traced: Traced, res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    c = traced.client
    hidden = {"birthdate": str(LEAP_BIRTHDATE), "holder_secret": str(holder.secret)}
    vids: dict[str, str] = {}
    for mode in ("proof", "delegated"):
        created = create(c)
        hreq = fetch(c, created)
        hidden[f"{mode}_verifier"] = created.verifier
        hidden[f"{mode}_request_token"] = created.request_path.rsplit("/", 1)[1]
        hidden[f"{mode}_presentation_token"] = hreq["presentation_token"]
        body: Any = (
            proof_body(prove(res, holder, leap_cred, hreq))
            if mode == "proof"
            else delegated_body(leap_cred, holder.secret)
        )
        hidden[f"{mode}_salt"] = str(leap_cred.salt)
        r = present(c, hreq, body)
        assert r.status_code == 200, r.text
        hidden[f"{mode}_attestation"] = read(c, created)["attestation"]
        vids[mode] = created.id
    # a refused presentation: no exception text reaches a span either
    created = create(c)
    hreq = fetch(c, created)
    hidden["refused_token"] = hreq["presentation_token"]
    assert present(c, hreq, delegated_body(leap_cred, Holder().secret)).status_code == 422

    spans = traced.spans()
    assert_clean(spans, hidden)
    servers = [s for s in spans if s.kind is trace.SpanKind.SERVER]
    names = {s.name for s in servers}
    assert {"POST /v1/verifications", "GET /v1/requests/{token}", PRESENT} <= names
    assert "GET /v1/verifications/{vid}" in names
    for s in servers:  # the raw target was replaced by the route template
        attrs = s.attributes or {}
        assert attrs["http.route"] == s.name.split(" ", 1)[1]
        assert attrs.get("http.target") in (attrs["http.route"], None)
        if "http.url" in attrs:
            assert attrs["http.url"] == REDACTED

    for mode, work in (("proof", "agent.verify"), ("delegated", "agent.prove")):
        [prov] = [
            s
            for s in by_name(spans, "agent.provision")
            if (s.attributes or {})["zkattest.verification.id"] == vids[mode]
        ]
        server = parent_of(spans, prov)
        assert server.name == PRESENT and server.parent is None
        trace_spans = one_trace(spans, server)
        agent_id = (prov.attributes or {})["zkattest.agent.id"]
        # the store calls nest under the agent span that made them
        creates = [s for s in trace_spans if s.name == "store.create_agent"]
        assert [parent_of(spans, s).name for s in creates] == ["agent.provision"]
        assert (creates[0].attributes or {})["db.system.name"] == "sqlite"
        [w] = [s for s in trace_spans if s.name == work]
        assert parent_of(spans, w) is server
        assert (w.attributes or {})["zkattest.outcome"] == "valid"
        assert (w.attributes or {})["zkattest.agent.id"] == agent_id
        [att] = [s for s in trace_spans if s.name == "agent.attest"]
        assert parent_of(spans, att) is server
        assert (att.attributes or {})["zkattest.result"] is True
        moves = [
            (a["zkattest.agent.from"], a["zkattest.agent.to"])
            for s in trace_spans
            if s.name == "store.transition_agent"
            for a in [s.attributes or {}]
        ]
        assert moves == [
            ("provisioned", "running"),
            ("running", "attested"),
            ("attested", "retired"),
        ]
        [attest_move] = [
            s for s in trace_spans if (s.attributes or {}).get("zkattest.agent.to") == "attested"
        ]
        assert parent_of(spans, attest_move) is att
        assert w.start_time is not None and att.start_time is not None
        assert prov.start_time is not None and w.start_time >= prov.start_time
        assert att.start_time >= w.start_time
        assert server.start_time is not None and server.end_time is not None
        assert att.end_time is not None and att.end_time <= server.end_time
    # the refusal: the prove span says why, with no exception recorded
    refused = [
        s for s in by_name(spans, "agent.prove") if (s.attributes or {}).get("zkattest.reason")
    ]
    assert [(s.attributes or {})["zkattest.reason"] for s in refused] == ["wrong_holder"]
    # no policy without OAuth (no principal), no oauth spans
    assert not by_name(spans, "policy.decide") and not by_name(spans, "oauth.authenticate")


def test_oauth_spans(
    traced_auth: Traced,
    auth_res: Resources,
    party: Party,
    holder: Holder,
    creds: Callable[[int], Credential],
) -> None:
    c, shop = traced_auth.client, party.shop
    form = {"grant_type": "client_credentials"}
    shop.nonce = None
    assert shop.token_request(c, BASE, form).status_code == 400  # use_dpop_nonce
    assertion, proof = shop.assertion(BASE), shop.dpop("POST", f"{BASE}/oauth/token")
    r = shop.token_request(c, BASE, form, dpop=proof, assertion=assertion)
    assert r.status_code == 200, r.text
    shop.token = r.json()["access_token"]
    hidden = {"assertion": assertion, "token_dpop": proof, "access_token": shop.token}
    cred = creds(20000101)
    hidden["birthdate"] = "20000101"
    hidden["holder_secret"] = str(holder.secret)
    created = rp_created(c, shop)
    hidden["verifier"] = created.verifier
    hreq = holder_fetch(c, created)
    hidden["presentation_token"] = hreq["presentation_token"]
    assert present(c, hreq, proof_body(prove(auth_res, holder, cred, hreq))).status_code == 200
    auth = shop.auth("GET", f"{BASE}{created.read_path}")
    hidden["read_dpop"] = auth["DPoP"]
    r = c.get(created.read_path, params=created.read_params, headers=auth)
    assert r.status_code == 200, r.text
    hidden["attestation"] = r.json()["attestation"]
    # delegation: alice's token exchanged by her assistant
    alice = party.alice.get_token(c, BASE)
    hidden["alice_token"] = alice["access_token"]
    asst = party.assistant.get_token(c, BASE, exchange_form(alice["access_token"]))
    hidden["assistant_token"] = asst["access_token"]
    assert c.get(created.read_path, params=created.read_params).status_code == 401  # no token

    spans = traced_auth.spans()
    assert_clean(spans, hidden)
    tokens = by_name(spans, "oauth.token")
    refusal = [s for s in tokens if (s.attributes or {}).get("zkattest.oauth.error")]
    assert {(s.attributes or {})["zkattest.oauth.error"] for s in refusal} == {"use_dpop_nonce"}
    assert all(s.status.status_code is trace.StatusCode.ERROR for s in refusal)
    issued = [s for s in tokens if "zkattest.oauth.grant" in (s.attributes or {})]
    grants = sorted(
        ((s.attributes or {})["zkattest.client.id"], (s.attributes or {})["zkattest.oauth.grant"])
        for s in issued
    )
    assert grants == [
        ("alice", "client_credentials"),
        ("assistant", "token_exchange"),
        ("shop", "client_credentials"),
    ]
    for s in tokens:
        assert parent_of(spans, s).name == "POST /oauth/token"
    # the DPoP jti and the client assertion jti are consumed inside oauth.token
    [shop_token] = [s for s in issued if (s.attributes or {})["zkattest.client.id"] == "shop"]
    namespaces = sorted(
        str((s.attributes or {})["zkattest.store.namespace"])
        for s in spans
        if s.name == "store.use_once"
        and s.parent
        and s.parent.span_id == shop_token.context.span_id
    )
    assert namespaces == ["client_assertion", "dpop"]
    # the resource guard
    guards = by_name(spans, "oauth.authenticate")
    ok = [s for s in guards if "zkattest.client.id" in (s.attributes or {})]
    assert ok and {(s.attributes or {})["zkattest.client.id"] for s in ok} == {"shop"}
    [bad] = [s for s in guards if "zkattest.oauth.error" in (s.attributes or {})]
    assert (bad.attributes or {})["zkattest.reason"] == "no_token"
    assert parent_of(spans, bad).name == "GET /v1/verifications/{vid}"
    # policy: request (under POST /v1/verifications), provision, exchange
    stages = {}
    for s in by_name(spans, "policy.decide"):
        a = s.attributes or {}
        stages[a["zkattest.policy.stage"]] = (a["zkattest.outcome"], parent_of(spans, s).name)
        assert a["zkattest.policy.ids"]
    assert stages == {
        "request": ("allow", "POST /v1/verifications"),
        "provision": ("allow", PRESENT),
        "exchange": ("allow", "oauth.token"),
    }


def test_remote_parent_is_honoured(traced: Traced) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    header = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    assert traced.client.get("/healthz", headers=header).status_code == 200
    [server] = by_name(traced.spans(), "GET /healthz")
    assert format(server.context.trace_id, "032x") == trace_id
    assert server.parent is not None and server.parent.is_remote


def test_unmatched_route_span_keeps_no_path(traced: Traced) -> None:
    token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    assert traced.client.get(f"/v1/request/{token}?code_verifier={token}").status_code == 404
    spans = traced.spans()
    assert_clean(spans, {"token": token})
    assert [s.name for s in spans] == ["GET"]


def test_spans_keep_no_client_address_or_user_agent(traced: Traced) -> None:
    ua = "AliceBrowser/1.0 (unique-fingerprint-42)"
    assert traced.client.get("/healthz", headers={"user-agent": ua}).status_code == 200
    [server] = by_name(traced.spans(), "GET /healthz")
    attrs = dict(server.attributes or {})
    assert_clean(traced.spans(), {"user agent": ua})
    for key in ("net.peer.ip", "client.address", "http.user_agent", "user_agent.original"):
        assert attrs.get(key, REDACTED) == REDACTED, key


def test_scrapes_are_not_traced(traced: Traced) -> None:
    assert traced.client.get("/metrics").status_code == 200
    assert traced.spans() == ()


# -- off by default -------------------------------------------------------------------------------


def test_tracing_off_by_default(res: Resources, monkeypatch: pytest.MonkeyPatch) -> None:
    import opentelemetry.exporter.otlp.proto.http.trace_exporter as otlp

    def refuse(*a: Any, **k: Any) -> None:
        raise AssertionError("an OTLP exporter was created")

    monkeypatch.setattr(otlp.OTLPSpanExporter, "__init__", refuse)
    assert res.config.otlp_endpoint == ""
    app = create_app(resources=res)
    assert not [p for p in app.plugins if isinstance(p, OpenTelemetryPlugin)]
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        svc = services(app)
        assert not svc.tracing.enabled and svc.tracing.provider is None
        assert isinstance(svc.tracer, trace.NoOpTracer)
        assert isinstance(svc.runtime.tracer, trace.NoOpTracer)
        assert not isinstance(svc.store, TracedStore)
    # nothing was installed process-wide either
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


# -- OTLP/HTTP export -----------------------------------------------------------------------------


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.append((self.path, self.headers.get("content-type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_otlp_export(
    res: Resources,
    tmp_path: Any,
    collector: tuple[str, list[tuple[str, str, bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = collector
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    r = with_db(res, tmp_path / "otlp", otlp_endpoint=url, service_name="zkattest-test")
    app = create_app(resources=r)
    with TestClient(app) as c:
        assert services(app).tracing.owned
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
    # the lifespan's shutdown flushed the batch processor: the spans have arrived
    assert received, "no OTLP request reached the collector"
    names: list[str] = []
    for path, content_type, body in received:
        assert path == "/v1/traces"
        assert content_type == "application/x-protobuf"
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            resource = {a.key: a.value.string_value for a in rs.resource.attributes}
            assert resource["service.name"] == "zkattest-test"
            names += [s.name for ss in rs.scope_spans for s in ss.spans]
    assert "GET /healthz" in names and "GET /readyz" in names
    assert "store.ping" in names


def test_traces_url() -> None:
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("https://c/otlp/v1/traces") == "https://c/otlp/v1/traces"
    assert traces_url("https://c/otlp") == "https://c/otlp/v1/traces"


# -- configuration --------------------------------------------------------------------------------


def test_config_fields(tmp_path: Any) -> None:
    cfg = Config()
    assert cfg.otlp_endpoint == "" and cfg.service_name == "zkattest"
    env = {
        "ZKATTEST_OTLP_ENDPOINT": "http://collector:4318",
        "ZKATTEST_SERVICE_NAME": "zk-eu-1",
        "ZKATTEST_DATA_DIR": str(tmp_path),
    }
    got = load_config(env=env)
    assert got.otlp_endpoint == "http://collector:4318" and got.service_name == "zk-eu-1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("otlp_endpoint", "collector:4318"),
        ("otlp_endpoint", "ftp://collector"),
        ("otlp_endpoint", "http://user:pw@collector:4318"),
        ("otlp_endpoint", "http://collector:4318/?x=1"),
        ("otlp_endpoint", "http://collector:4318/#f"),
        ("service_name", ""),
        ("service_name", "has space"),
        ("service_name", "x" * 129),
    ],
)
def test_bad_tracing_config(field: str, value: str) -> None:
    with pytest.raises(ConfigError, match=field):
        kwargs: dict[str, Any] = {field: value}
        Config(**kwargs)
