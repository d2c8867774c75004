"""Structured logs: one JSON object per line.

Members: ``ts`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``message``, every ``extra={...}`` field the code passed (ids, states, outcomes,
reasons: our log calls never pass secrets, and tests/service/test_logging.py checks
it), ``trace_id``/``span_id`` (lowercase hex, as W3C traceparent writes them) when a
span is recording, and ``exc`` (the formatted exception) when one is logged.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from typing import Any, Final

from opentelemetry import trace

__all__ = ["JsonFormatter"]

#: attributes every LogRecord has: anything else on a record came from ``extra``
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None, None))
) | {"message", "asctime", "taskName"}
#: extra fields dropped: uvicorn's copy of the message with terminal colour codes
_DROP: Final = frozenset({"color_message"})
_CORE: Final = ("ts", "level", "logger", "message", "trace_id", "span_id", "exc", "stack")


class JsonFormatter(logging.Formatter):
    """``logging.Formatter`` writing one compact JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        ts = _dt.datetime.fromtimestamp(record.created, _dt.UTC)
        out: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        for key, value in vars(record).items():
            if key in _STANDARD or key in _DROP or key.startswith("_"):
                continue
            out[f"extra.{key}" if key in _CORE else key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False, separators=(",", ":"))
