"""Observability callbacks for the agent runtime and the work pool.

The service plugs in its metrics (``zkattest.service.metrics``); the default,
:data:`NO_HOOKS`, does nothing.  A hook must be cheap, thread-safe and must not
raise (the pool guards its calls anyway); it is only ever given states, outcomes,
reasons, sizes and durations, never anything secret.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

__all__ = ["NO_HOOKS", "Hooks", "span"]


class Hooks:
    """Subclass and override what you count."""

    def agent_transition(self, frm: str, to: str) -> None:
        """An agent moved ``frm`` -> ``to`` (``frm`` is ``"none"`` when it is provisioned)."""

    def verification_finished(
        self, mode: str, status: str, result: bool | None, reason: str | None
    ) -> None:
        """A verification ended through an agent (``status`` completed or failed)."""

    def proved(self, seconds: float, ok: bool) -> None:
        """A delegated proof took ``seconds`` (``ok``: a proof came out).  Called on a
        worker thread."""

    def verify_batch(self, size: int, failed: int, seconds: float) -> None:
        """The batch verifier checked ``size`` holder-side proofs, ``failed`` of them
        invalid, in ``seconds``.  Called on the batch thread."""


NO_HOOKS = Hooks()


@contextlib.contextmanager
def span(
    tracer: trace.Tracer, name: str, attributes: dict[str, AttributeValue] | None = None
) -> Iterator[trace.Span]:
    """A current span that, on an exception, records only its type (``error.type`` and
    an ERROR status): exception messages and stack traces stay out of traces."""
    with tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as sp:
        try:
            yield sp
        except BaseException as e:
            if sp.is_recording():
                kind = type(e).__qualname__
                sp.set_attribute("error.type", kind)
                sp.set_status(trace.Status(trace.StatusCode.ERROR, kind))
            raise
