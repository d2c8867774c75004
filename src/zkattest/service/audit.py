"""The service's audit trail: one writer per process, in the store.

Each service process owns one chain of the trail (``chain_id`` = the configured
``instance_id``, default ``<hostname>-<port>``), written through
:class:`~zkattest.audit.AuditLog` to the store's audit tables and signed by the audit
key (``<data_dir>/audit.key.pem``).  A restarted process resumes its chain from the
store's head; closing it signs a final checkpoint; the sweeper signs the head every
``sweep_interval`` seconds while events are unsigned.

Events (``actor`` / ``subject`` / ``act`` / ``refs``; ``subject`` is whom the event is
for -- a token's ``sub``, the delegating person, else the asking client; ``act`` the
RFC 8693 chain; ``task`` names the grant, the decision point or the agent's task):

===========================  ==============================================================
``token.issued``             client; token sub; token act; client_id, scope, jti, exp,
                             jkt (the DPoP key), audience, task = the grant
``token.refused``            an *authenticated* client refused (scope, grant, policy...):
                             client_id, task, reason (a code); unauthenticated refusals
                             are only counted (metrics): nobody can fill the trail
``policy.decided``           client; subject; act; outcome allow / deny / step_up;
                             policy_ids, predicate (or ``delegate``), audience, min_age,
                             task = the stage (request, provision, exchange)
``verification.created``     client; outcome = the status; links the request decision
``approval.requested``       client; outcome pending; links verification.created
``approval.decided``         the approver; outcome approved / denied
``verification.failed``      service; reason (a denial, a refused presentation...)
``verification.completed``   service; outcome yes / no; links agent.attested
``agent.*``                  :mod:`zkattest.agents.trail`
===========================  ==============================================================

Links make a verification's events one graph: request decision <- created <-
(approval requested <- decided) <- provision decision <- agent.provisioned <- running
<- verified / proved <- attested <- retired.  The latest event of each live verification
is kept in memory (bounded); a verification created by another replica, or before a
restart, starts its agent's events without that link.

Nothing secret is recorded: refs are whitelisted identifiers (the library refuses
anything else), and this module drops a value outside its schema (an audience that is
not a URI, say) rather than fail the request.  Writes are retried on
:class:`~zkattest.audit.AuditConflict` (two live writers with one ``instance_id`` --
a misconfiguration, logged -- still make one valid chain); any other failure raises
:class:`~zkattest.audit.AuditWriterFailed` (HTTP 503) and the next append reopens
the chain from the store.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any, Final

import msgspec

from ..audit import (
    REFS_KEYS,
    AuditConflict,
    AuditEvent,
    AuditLog,
    AuditRefused,
    AuditWriterFailed,
    ChainHead,
    Checkpoint,
    Link,
    MalformedRecord,
    Refs,
    encode_record,
)
from ..identity import EcKey
from ..store.audit import AuditPage, AuditStore, StoreAuditSink, iter_audit
from .config import Config

__all__ = [
    "ANONYMOUS",
    "MAX_THREADS",
    "ServiceAudit",
    "encode_page",
    "export_trail",
    "record_line",
    "thread_deadline",
]

log = logging.getLogger("zkattest.service")

#: live verifications whose latest event is remembered (oldest forgotten first)
MAX_THREADS: Final = 65536
#: the actor of a request made without OAuth (``require_auth`` off)
ANONYMOUS: Final = "anonymous"
#: appends tried per event when another writer appends to our chain, and the longest
#: pause (seconds, random) before the last try: two writers racing each other for a
#: shared chain head spread out instead of colliding again and again
_ATTEMPTS: Final = 8
_BACKOFF: Final = 0.02
_ENCODE: Final = msgspec.json.Encoder().encode


def thread_deadline(cfg: Config, expires_at: float) -> float:
    """When to forget a verification's latest event: after its deadline, plus the
    time its agent may still take."""
    return expires_at + cfg.svid_ttl + 60


def _clean_refs(refs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``refs`` without the values outside the schema (each dropped value is logged
    by key name only); unknown keys stay, so that the writer refuses them (a bug)."""
    if not refs:
        return None
    out = {k: v for k, v in refs.items() if v is not None}
    try:
        msgspec.convert(out, Refs, strict=True)
        return out
    except msgspec.ValidationError:
        pass
    kept: dict[str, Any] = {}
    for k, v in out.items():
        if k not in REFS_KEYS:
            kept[k] = v
            continue
        try:
            msgspec.convert({k: v}, Refs, strict=True)
        except msgspec.ValidationError:
            log.warning("audit: dropped a %s value outside the audit schema", k)
            continue
        kept[k] = v
    return kept


class ServiceAudit:
    """The process's audit writer (module docstring); an
    :class:`~zkattest.agents.AgentAudit` for the agent runtime."""

    def __init__(
        self,
        key: EcKey,
        chain_id: str,
        store: AuditStore,
        *,
        clock: Callable[[], float],
        checkpoint_every: int = 256,
        max_threads: int = MAX_THREADS,
    ) -> None:
        self.key = key
        self.chain_id = chain_id
        self.store = store
        self._sink = StoreAuditSink(store)
        self._clock = clock
        self._every = checkpoint_every
        self._max_threads = max_threads
        self._log = self._new_log()
        #: verification id -> (its latest event, when to forget it)
        self._threads: dict[str, tuple[Link, float]] = {}
        self._closed = False
        #: writers replaced after a failed write (a gauge for tests and operators)
        self.reopened = 0

    def _now_us(self) -> int:
        return max(0, int(self._clock() * 1_000_000))

    def _new_log(self) -> AuditLog:
        # checkpoints: every ``checkpoint_every`` events, and from the sweeper (not on
        # the request path by time)
        return AuditLog(
            self.key,
            self.chain_id,
            self._sink,
            checkpoint_every=self._every,
            checkpoint_interval=None,
            clock=self._now_us,
        )

    def _replace(self, failed: AuditLog, why: BaseException) -> None:
        if self._log is failed and not self._closed:
            self.reopened += 1
            self._log = self._new_log()
            if isinstance(why, AuditConflict):
                log.warning(
                    "audit chain %s: another writer appended to it; each replica needs "
                    "its own instance_id",
                    self.chain_id,
                )
            else:
                log.error(
                    "audit chain %s: a write failed (%s); reopening from the store",
                    self.chain_id,
                    type(why).__name__,
                )

    @property
    def log(self) -> AuditLog:
        """The current writer (replaced after a failed write)."""
        return self._log

    async def open(self) -> ChainHead | None:
        """Read the chain's head from the store (a restart continues the chain)."""
        return await self._log.open()

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
        """Append one event; returns once it is durable in the store.

        :class:`~zkattest.audit.AuditRefused` for an event outside the schema (a bug);
        :class:`~zkattest.audit.AuditWriterFailed` when the store cannot take it."""
        if self._closed:
            raise AuditWriterFailed(f"the audit writer of chain {self.chain_id} is closed")
        clean = _clean_refs(refs)
        link_list = list(links)
        last: BaseException | None = None
        for attempt in range(_ATTEMPTS):
            if attempt > 1:
                await asyncio.sleep(random.uniform(0, _BACKOFF * attempt / _ATTEMPTS))
            writer = self._log
            try:
                return await writer.append(
                    kind,
                    actor=actor,
                    outcome=outcome,
                    act=act,
                    subject=subject,
                    refs=clean,
                    links=link_list,
                )
            except AuditRefused:
                raise
            except (AuditConflict, AuditWriterFailed) as e:
                # a conflict: another writer moved our chain's head; a failed writer:
                # an earlier batch failed (this event was never written).  Retry on a
                # writer that resumes from the store's head.
                self._replace(writer, e)
                last = e
            except Exception as e:
                self._replace(writer, e)
                raise AuditWriterFailed(
                    f"the audit trail cannot be written ({type(e).__name__})"
                ) from e
        raise AuditWriterFailed(
            f"the audit chain {self.chain_id} keeps moving under this writer "
            f"({type(last).__name__})"
        )

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the head if events are unsigned (the sweeper calls this); None when
        nothing needed signing.  Failures are logged, not raised."""
        writer = self._log
        try:
            await writer.open()
            if writer.unsigned <= 0:
                return None
            return await writer.checkpoint()
        except Exception as e:
            self._replace(writer, e)
            return None

    async def close(self) -> None:
        """Final checkpoint and flush (shutdown).  Failures are logged."""
        self._closed = True
        try:
            await self._log.close()
        except Exception as e:
            log.error("audit chain %s: closing failed (%s)", self.chain_id, type(e).__name__)

    async def page(self, after: str | None, limit: int) -> AuditPage:
        return await self.store.audit_page(after, limit)

    # -- the latest event of each live verification (agents.AgentAudit) ---------------------

    def follows(self, verification_id: str) -> tuple[Link, ...]:
        got = self._threads.get(verification_id)
        return (got[0],) if got is not None else ()

    def note(self, verification_id: str, event: AuditEvent, *, until: float) -> None:
        """``event`` is now the latest of the verification; forget it after ``until``."""
        self._threads.pop(verification_id, None)
        self._threads[verification_id] = (event.link(), until)
        while len(self._threads) > self._max_threads:
            del self._threads[next(iter(self._threads))]

    def end(self, verification_id: str) -> None:
        self._threads.pop(verification_id, None)

    def purge(self, now: float) -> int:
        """Forget the verifications past their deadline; returns how many."""
        old = [vid for vid, (_, until) in self._threads.items() if until <= now]
        for vid in old:
            del self._threads[vid]
        return len(old)

    def __repr__(self) -> str:
        return f"ServiceAudit(chain_id={self.chain_id!r}, next_seq={self._log.next_seq})"


# -- records as the trail file holds them ---------------------------------------------------


def record_line(rec: AuditEvent | Checkpoint | MalformedRecord) -> bytes:
    """A record as one trail line (no newline): exactly the bytes
    :class:`~zkattest.audit.JsonlSink` writes.  A stored row that is not a valid record
    becomes ``{"malformed": "<why>"}``, which every verifier reports as broken."""
    if isinstance(rec, MalformedRecord):
        return _ENCODE({"malformed": rec.reason})
    return encode_record(rec)


def encode_page(page: AuditPage) -> bytes:
    """``GET /v1/audit``'s body: ``{"records": [...], "next": cursor | null}``, each
    record byte for byte as in a trail file."""
    records = b",".join(record_line(r) for r in page.records)
    nxt = None if page.complete else page.cursor
    return b'{"records":[' + records + b'],"next":' + _ENCODE(nxt) + b"}"


async def export_trail(
    store: AuditStore, out: IO[bytes], *, page_size: int = 1000
) -> tuple[int, int]:
    """Write the store's whole trail to ``out`` as JSON lines (what a
    :class:`~zkattest.audit.JsonlSink` holding the same records would contain);
    returns (records, malformed rows)."""
    n = bad = 0
    buf: list[bytes] = []
    async for rec in iter_audit(store, page_size=page_size):
        n += 1
        bad += isinstance(rec, MalformedRecord)
        buf.append(record_line(rec) + b"\n")
        if len(buf) >= page_size:
            out.write(b"".join(buf))
            buf.clear()
    out.write(b"".join(buf))
    return n, bad
