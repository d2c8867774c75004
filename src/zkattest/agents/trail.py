"""Where micro-agents record their lifecycle in the audit trail.

The runtime is given an :class:`AgentAudit` (the service's audit writer) and records

- ``agent.provisioned`` (linked to the verification's latest event: the provisioning
  policy decision, or the request itself), ``agent.running``, ``agent.verified``
  (holder-side proof checked) or ``agent.proved`` (delegated proof made),
  ``agent.attested``, ``agent.retired``; or ``agent.failed`` / ``agent.expired`` --
  each linked to the agent's previous event, so that following ``links`` back from
  ``agent.retired`` walks attested -> verified/proved -> running -> provisioned ->
  the policy decision -> the request;
- ``verification.completed`` / ``verification.failed`` when a verification ends
  through the runtime (linked to the agent's last event).

Events carry identifiers only (agent and verification ids, the SVID's ``jti``, the
agent key's thumbprint, the attestation's ``jti``, the circuit id, a reason code):
never the credential, the holder secret, the proof or any token -- the audit library
refuses anything outside its whitelist anyway.  Audit is separate from
:class:`~zkattest.agents.hooks.Hooks` (metrics): an event is durable before the step
that depends on it goes on, and a failed write stops the verification.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

from ..audit import AuditEvent, Link
from ..store import VerificationRecord

__all__ = ["SERVICE", "AgentAudit", "subject_of"]

#: the actor of the steps the service takes (provisioning, retiring, sweeping)
SERVICE: Final = "service"


class AgentAudit(Protocol):
    """An audit writer that also knows each live verification's latest event."""

    async def append(
        self,
        kind: str,
        *,
        actor: str,
        outcome: str,
        act: Mapping[str, Any] | None = None,
        subject: str | None = None,
        refs: Mapping[str, Any] | None = None,
        links: Iterable[AuditEvent | Link] = (),
    ) -> AuditEvent:
        """:meth:`zkattest.audit.AuditLog.append`: returns once the event is durable."""
        ...

    def follows(self, verification_id: str) -> tuple[Link, ...]:
        """Links to the latest event of this verification (empty when unknown, e.g.
        the verification was created by another replica)."""
        ...

    def end(self, verification_id: str) -> None:
        """The verification ended: forget its latest event."""
        ...


def subject_of(v: VerificationRecord) -> str | None:
    """Whom a verification is for: the delegating subject, else the asking client."""
    return v.subject if v.subject is not None else v.client_id
