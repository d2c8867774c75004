"""The store contract every backend implements with the same semantics.

Every one-use step (``claim_request``, ``begin_presentation``, ``finish_verification``,
``decide_approval``, ``transition_agent``, ``use_once``) is atomic across connections,
processes and replicas: of concurrent attempts exactly one returns a truthy result.
Backends get this from the database (one conditional ``UPDATE`` checked by its row count,
or an ``INSERT`` against a primary key), never from a lock in the process.

A record "expired" means ``expires_at <= now``; ``now`` is always passed in by the caller.
Arguments of the wrong type (an id that is not a string, a time that is not a finite
number, ...) and values a database cannot store as given (text with a NUL character or
a lone surrogate, a non-finite number in a record) raise
:class:`~zkattest.errors.InvalidParameter`, before any SQL runs and the same on every
backend.  A database that cannot be reached or used (locked, connection lost, timed
out, store closed) raises :class:`~zkattest.store.StoreUnavailable`; a call that raised
it changed nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from .records import AgentRecord, VerificationRecord

__all__ = ["AgentField", "Store"]

#: Values ``transition_agent`` accepts for its extra columns.
AgentField = float | str | None


class Store(Protocol):
    """Verification sessions, micro-agents and one-use keys (DPoP ``jti``, ...)."""

    async def close(self) -> None:
        """Release the connection; later calls raise ``StoreUnavailable``.  Idempotent."""

    async def ping(self) -> None:
        """Return if the database answers; raise ``StoreUnavailable`` otherwise."""

    async def create_verification(self, rec: VerificationRecord) -> None:
        """Insert a new session; ``Conflict`` if its id or request token hash exists.

        A new session is ``pending`` or ``awaiting_approval`` (then ``expires_at`` is the
        approval deadline) and has none of the fields later steps set (``request_fetched_at``
        ... ``completed_at``, ``approved_by``, ``approved_at``): ``InvalidParameter``
        otherwise."""

    async def get_verification(self, id: str) -> VerificationRecord | None:
        """The session with this id, or ``None``."""

    async def find_by_request_token(self, request_token_hash: str) -> VerificationRecord | None:
        """The session whose request token hashes to this, or ``None``."""

    async def claim_request(
        self, request_token_hash: str, presentation_token_hash: str, now: float
    ) -> VerificationRecord | None:
        """The one-time fetch of a request: a ``pending``, never fetched, unexpired session
        gets ``request_fetched_at = now`` and the presentation token hash; the updated
        record is returned.  ``None`` for every other case (unknown, fetched, expired)."""

    async def begin_presentation(
        self,
        id: str,
        presentation_token_hash: str,
        mode: str,
        now: float,
        agent_deadline: float,
    ) -> bool:
        """``pending`` + fetched + matching token hash + unexpired -> ``presented``
        (``presented_at = now``, ``mode``, ``expires_at = agent_deadline``)."""

    async def finish_verification(
        self,
        id: str,
        *,
        status: str,
        result: bool | None,
        reason: str | None,
        attestation: str | None,
        agent_id: str | None,
        now: float,
    ) -> bool:
        """``presented`` and unexpired -> ``status`` (``completed`` or ``failed``) with the
        outcome and ``completed_at = now``."""

    async def decide_approval(
        self, id: str, *, approve: bool, approver: str, now: float, expires_at: float
    ) -> bool:
        """A human step-up decision, once: ``awaiting_approval`` and unexpired ->

        - ``approve``: ``pending`` with ``expires_at`` = the given new deadline (it must be
          after ``now``: ``InvalidParameter`` otherwise), ``approved_by = approver``,
          ``approved_at = now``;
        - deny: ``failed``, ``reason = "approval_denied"``, ``approved_by = approver``,
          ``approved_at = completed_at = now`` (``expires_at`` is left as it was).

        ``False`` for every other case (unknown, already decided, expired).  Who may
        approve is the caller's policy; ``approver`` is recorded (non-empty)."""

    async def awaiting_approval(
        self,
        now: float,
        *,
        subjects: Sequence[str] = (),
        client_ids: Sequence[str] = (),
        limit: int = 100,
    ) -> list[VerificationRecord]:
        """Unexpired ``awaiting_approval`` sessions whose ``subject`` is in ``subjects``
        or whose ``client_id`` is in ``client_ids``, oldest (``created_at``, then ``id``)
        first, at most ``limit`` (1..1000).  Both empty -> ``[]``.  Each sequence holds
        at most 256 distinct strings (a bare ``str`` is refused, not split)."""

    async def recent_count(self, client_id: str, since: float) -> int:
        """How many sessions ``client_id`` created at or after ``since`` (any status):
        the policy's request rate."""

    async def create_agent(self, rec: AgentRecord) -> None:
        """Insert a new agent; ``Conflict`` on a duplicate id, SPIFFE ID, SVID jti or
        verification (one agent per verification) or an unknown verification."""

    async def get_agent(self, id: str) -> AgentRecord | None:
        """The agent with this id, or ``None``."""

    async def transition_agent(
        self,
        id: str,
        frm: str,
        to: str,
        now: float,
        *,
        require_unexpired: bool,
        **fields: AgentField,
    ) -> bool:
        """Compare-and-set ``state`` from ``frm`` to ``to`` (an edge of
        ``AGENT_TRANSITIONS``), also setting ``fields`` (only ``running_at``,
        ``attested_at``, ``retired_at``, ``failed_reason``, ``attestation_jti``).
        The ``*_at`` column of ``to`` defaults to ``now``."""

    async def use_once(self, namespace: str, key: str, expires_at: float, now: float) -> bool:
        """``True`` the first time ``(namespace, key)`` is used while an earlier use is
        unexpired; ``False`` for a replay.  An expired entry counts as absent."""

    async def sweep(self, now: float) -> dict[str, int]:
        """Expire overdue sessions (``awaiting_approval``, ``pending``, ``presented``) and
        agents (``provisioned``, ``running``), retire overdue ``attested`` agents (their
        key is gone; a crash between their last steps must not leave them attested),
        purge expired one-use keys: ``{"verifications_expired", "agents_expired",
        "agents_retired", "one_use_purged"}``."""

    async def counts(self) -> dict[str, dict[str, int]]:
        """``{"verifications": {status: n}, "agents": {state: n}}`` (every status listed)."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
