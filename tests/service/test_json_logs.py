"""Structured JSON logs: the formatter's members, a line per record that parses, the
``extra`` fields our code passes, trace and span ids of the active span inside a
traced request (matching the exported spans), none without tracing, no secret in
any line of full flows, and ``configure_logging`` choosing the format."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from zkattest.credentials import Credential, Holder
from zkattest.service import Resources, create_app
from zkattest.service.logs import JsonFormatter
from zkattest.service.server import configure_logging

from .conftest import (
    LEAP_BIRTHDATE,
    create,
    delegated_body,
    fetch,
    present,
    proof_body,
    prove,
    read,
)


def _record(msg: str = "hello %s", args: Any = ("world",), **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord("zkattest.test", logging.WARNING, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_formatter_members() -> None:
    line = JsonFormatter().format(
        _record(agent="a1", policy_ids=["p1", "p2"], n=3, ts="mine", obj=object())
    )
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["level"] == "WARNING"
    assert doc["logger"] == "zkattest.test"
    assert doc["message"] == "hello world"
    assert doc["ts"].endswith("Z") and "T" in doc["ts"]
    assert doc["agent"] == "a1" and doc["policy_ids"] == ["p1", "p2"] and doc["n"] == 3
    assert doc["extra.ts"] == "mine"  # an extra never overwrites a core member
    assert doc["obj"].startswith("<object object")
    assert "trace_id" not in doc and "span_id" not in doc  # no active span
    assert "args" not in doc and "msg" not in doc and "pathname" not in doc


def test_formatter_exception_and_newlines() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        rec = _record("two\nlines", None)
        rec.exc_info = sys.exc_info()
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["message"] == "two\nlines"
    assert "RuntimeError: boom" in doc["exc"]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[list[str]]:
    """JSON lines of every ``zkattest`` logger record at DEBUG and up."""
    handler = _Lines()
    lg = logging.getLogger("zkattest")
    level = lg.level
    lg.addHandler(handler)
    lg.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        lg.removeHandler(handler)
        lg.setLevel(level)


def _flows(
    c: TestClient[Any], res: Resources, holder: Holder, cred: Credential
) -> tuple[dict[str, str], list[str]]:
    """Both modes once: the secrets of the run and the verification ids."""
    hidden = {"birthdate": str(LEAP_BIRTHDATE), "holder_secret": str(holder.secret)}
    ids = []
    for mode in ("proof", "delegated"):
        created = create(c)
        ids.append(created.id)
        hreq = fetch(c, created)
        hidden[f"{mode}_verifier"] = created.verifier
        hidden[f"{mode}_token"] = hreq["presentation_token"]
        body: Any = (
            proof_body(prove(res, holder, cred, hreq))
            if mode == "proof"
            else delegated_body(cred, holder.secret)
        )
        assert present(c, hreq, body).status_code == 200
        hidden[f"{mode}_attestation"] = read(c, created)["attestation"]
    return hidden, ids


def test_trace_ids_inside_requests(
    lines: list[str], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with TestClient(create_app(resources=res, tracer_provider=provider)) as c:
        lines.clear()  # the startup line is outside any request
        hidden, ids = _flows(c, res, holder, leap_cred)
    docs = [json.loads(line) for line in lines]
    spans = {(s.context.trace_id, s.context.span_id): s for s in exporter.get_finished_spans()}
    in_request = [d for d in docs if d["message"] != "zkattest serving" and "trace_id" in d]
    assert in_request
    for d in in_request:  # each names a real exported span
        key = (int(d["trace_id"], 16), int(d["span_id"], 16))
        assert key in spans, d
    created = [d for d in docs if d["message"] == "verification created"]
    assert [d["verification"] for d in created] == ids
    for d in created:
        span = spans[(int(d["trace_id"], 16), int(d["span_id"], 16))]
        assert span.name == "POST /v1/verifications"
        assert d["status"] == "pending"
    provisioned = [d for d in docs if d["message"] == "agent provisioned"]
    assert len(provisioned) == 2
    for d in provisioned:
        span = spans[(int(d["trace_id"], 16), int(d["span_id"], 16))]
        assert span.name == "agent.provision"
        assert (span.attributes or {})["zkattest.agent.id"] == d["agent"]
        assert d["task"] in ("verify-age_gte", "prove-age_gte")
    for line in lines:
        for what, value in hidden.items():
            assert value not in line, f"{what} in a log line: {line[:200]}"


def test_no_trace_ids_without_tracing(
    lines: list[str], client: TestClient[Any], res: Resources, holder: Holder, leap_cred: Credential
) -> None:
    hidden, _ = _flows(client, res, holder, leap_cred)
    docs = [json.loads(line) for line in lines]
    assert any(d["message"] == "agent attested and retired" for d in docs)
    assert not [d for d in docs if "trace_id" in d]
    for line in lines:
        for what, value in hidden.items():
            assert value not in line, f"{what} in a log line: {line[:200]}"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_configure_logging(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    try:
        configure_logging("info", fmt)
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonFormatter) is (fmt == "json")
        logging.getLogger("zkattest.service").info("ready", extra={"port": 8080})
        logging.getLogger("uvicorn.error").info("Application startup complete.")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    out = err.getvalue().splitlines()
    assert len(out) == 2
    if fmt == "json":
        first, second = (json.loads(x) for x in out)
        assert first["message"] == "ready" and first["port"] == 8080
        assert second["logger"] == "uvicorn.error"
    else:
        assert out[0].endswith("INFO zkattest.service: ready")
