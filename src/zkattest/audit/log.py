"""The audit writer (:class:`AuditLog`), the sink protocol and an in-memory sink.

One :class:`AuditLog` per service instance owns one chain (``chain_id``); several
instances share a sink, and a trail is the union of their chains.  Appends are ordered
by an :class:`asyncio.Lock` (seq, prev and ts are assigned under it) and made durable
by *group commit*: the events appended while one ``sink.write`` is in flight are
written together by the next one, so N concurrent appenders cost one write (one fsync)
instead of N, and ``append`` still returns only once its event is durable.

A failed or interrupted write leaves the writer's idea of the chain ahead of the sink,
so the writer stops (:class:`AuditWriterFailed` from then on); a new ``AuditLog`` on the
same sink resumes from ``sink.head(chain_id)``.  An ``AuditLog`` belongs to one event
loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple, Protocol

import msgspec

from ..identity.jose import EcKey, EcPublicKey, sign_compact
from .events import (
    CHECKPOINT_TYP,
    EVENT_KINDS,
    GENESIS,
    MAX_ACT_DEPTH,
    MAX_LINKS,
    REFS_KEYS,
    Act,
    AuditConflict,
    AuditError,
    AuditEvent,
    AuditFormatError,
    AuditRefused,
    AuditWriterFailed,
    Checkpoint,
    Link,
    Refs,
    act_depth,
    canonical_bytes,
    decode_record,
    encode_record,
    looks_like_token,
    strings_in,
)

__all__ = [
    "AuditLog",
    "AuditSink",
    "ChainHead",
    "MemorySink",
    "advance_head",
    "chain_of",
    "now_us",
]


class ChainHead(NamedTuple):
    """Where a chain ends in a sink: its last event and its latest checkpoint."""

    seq: int
    hash: str
    ts: int
    checkpoint: Checkpoint | None


class AuditSink(Protocol):
    """Durable storage for audit records (a file, a database table...).

    ``write`` stores ``events`` (consecutive events of *one* chain, possibly none)
    and then ``checkpoint`` (of the same chain, covering an event already stored or
    in ``events``), all or nothing, durably before it returns.  It is a
    *compare-and-append*: when ``events[0]`` does not follow the sink's head of its
    chain (seq and prev), it raises :class:`AuditConflict` and stores nothing; two
    writers with one chain id therefore cannot fork a chain.  :func:`advance_head`
    implements the check.  ``head`` returns the chain's :class:`ChainHead` (None for
    a chain the sink has never seen) so that a restarted writer continues its chain.
    """

    async def write(self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None) -> None: ...

    async def head(self, chain_id: str) -> ChainHead | None: ...


def chain_of(events: Sequence[AuditEvent], checkpoint: Checkpoint | None) -> str | None:
    """The chain a write is about (None for an empty write)."""
    if events:
        return events[0].chain_id
    return checkpoint.chain_id if checkpoint is not None else None


def advance_head(
    head: ChainHead | None, events: Sequence[AuditEvent], checkpoint: Checkpoint | None
) -> ChainHead:
    """The head after appending ``events`` and ``checkpoint`` (not both empty) to a
    chain whose head is ``head``; :class:`AuditConflict` if they do not follow it (the
    sink contract)."""
    chain_id = chain_of(events, checkpoint)
    if chain_id is None:
        raise AuditError("an empty write has no head")
    seq, last, ts = (head.seq, head.hash, head.ts) if head is not None else (-1, GENESIS, 0)
    cp = head.checkpoint if head is not None else None
    for ev in events:
        if ev.chain_id != chain_id:
            raise AuditError("one write holds the records of one chain")
        if ev.seq != seq + 1 or ev.prev != last:
            raise AuditConflict(
                f"chain {chain_id}: the sink's head is seq {seq}; an event with seq {ev.seq} "
                "does not follow it (is another writer using this chain id?)"
            )
        seq, last, ts = ev.seq, ev.hash, ev.ts
    if checkpoint is not None:
        if checkpoint.chain_id != chain_id:
            raise AuditError("one write holds the records of one chain")
        if checkpoint.seq > seq or (cp is not None and checkpoint.seq <= cp.seq):
            raise AuditConflict(
                f"chain {chain_id}: a checkpoint at seq {checkpoint.seq} does not fit the "
                f"sink's chain (head seq {seq})"
            )
        cp = checkpoint
    return ChainHead(seq, last, ts, cp)


class MemorySink:
    """Keeps records in a list (tests, benchmarks, a verifier's input)."""

    def __init__(self) -> None:
        self.records: list[AuditEvent | Checkpoint] = []
        self.writes = 0
        self._heads: dict[str, ChainHead] = {}

    async def write(self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None) -> None:
        chain_id = chain_of(events, checkpoint)
        if chain_id is None:
            return
        new = advance_head(self._heads.get(chain_id), events, checkpoint)
        self.records.extend(events)
        if checkpoint is not None:
            self.records.append(checkpoint)
        self._heads[chain_id] = new
        self.writes += 1

    async def head(self, chain_id: str) -> ChainHead | None:
        return self._heads.get(chain_id)


def now_us() -> int:
    """Wall-clock time in integer microseconds since the epoch."""
    return time.time_ns() // 1000


def _retrieve(fut: asyncio.Future[None]) -> None:
    # mark the exception retrieved even if every appender of the batch was cancelled
    if not fut.cancelled():
        fut.exception()


_CHAIN_ID: Final = re.compile(r"[A-Za-z0-9._~-]{1,64}")


class AuditLog:
    """Appends events to one chain and signs checkpoints (module docstring).

    ``clock`` returns integer microseconds since the epoch (default :func:`now_us`);
    the writer never lets ``ts`` decrease along its chain, even when the clock steps
    back or a restart resumes after a clock with skew.  A checkpoint is signed after
    every ``checkpoint_every`` events, when ``checkpoint_interval`` seconds have passed
    since the last one (checked on append; :meth:`run_checkpoints` for a quiet
    writer), on :meth:`checkpoint` and on :meth:`close`.
    """

    def __init__(
        self,
        key: EcKey,
        chain_id: str,
        sink: AuditSink,
        *,
        checkpoint_every: int = 256,
        checkpoint_interval: float | None = 60.0,
        clock: Callable[[], int] = now_us,
    ) -> None:
        if not isinstance(key, EcKey):
            raise AuditRefused("the audit key is an EcKey")
        if not isinstance(chain_id, str) or _CHAIN_ID.fullmatch(chain_id) is None:
            raise AuditRefused("chain_id must match [A-Za-z0-9._~-]{1,64}")
        if type(checkpoint_every) is not int or checkpoint_every < 1:
            raise AuditRefused("checkpoint_every must be a positive int")
        if checkpoint_interval is not None and not checkpoint_interval > 0:
            raise AuditRefused("checkpoint_interval must be positive seconds or None")
        self._key = key
        self._kid = key.public().thumbprint()
        self._chain_id = chain_id
        self._sink = sink
        self._every = checkpoint_every
        self._interval_us = (
            None if checkpoint_interval is None else int(checkpoint_interval * 1_000_000)
        )
        self._clock = clock
        self._lock = asyncio.Lock()  # seq / prev / ts / checkpoint assignment
        self._io = asyncio.Lock()  # one sink.write at a time, in chain order
        self._opened = False
        self._closed = False
        self._failure: str | None = None
        self._next = 0
        self._last = GENESIS
        self._last_ts = 0
        self._cp: Checkpoint | None = None  # latest signed (maybe not yet written)
        self._cp_ts = 0
        self._batch: list[AuditEvent] = []
        self._batch_cp: Checkpoint | None = None
        self._batch_done: asyncio.Future[None] | None = None
        self._inflight: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def chain_id(self) -> str:
        return self._chain_id

    @property
    def public_key(self) -> EcPublicKey:
        """The audit public key (what ``zkattest audit verify`` needs)."""
        return self._key.public()

    @property
    def next_seq(self) -> int:
        """The seq the next event gets (0 before the chain is opened)."""
        return self._next

    @property
    def unsigned(self) -> int:
        """Events of this chain after its latest signed checkpoint."""
        return self._next - 1 - (self._cp.seq if self._cp is not None else -1)

    # ------------------------------------------------------------------ public API

    async def open(self) -> ChainHead | None:
        """Read the chain's head from the sink (done by the first append anyway);
        returns it, None for a new chain."""
        async with self._lock:
            return await self._ensure_open()

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
        """Append one event; returns it once it is durable in the sink.

        ``act`` is an RFC 8693 ``act`` claim as found in a token (``{"sub": ...,
        "act": {...}}``); ``refs`` a mapping with keys from :class:`Refs` only;
        ``links`` earlier events (or :class:`Link` s to them).  Anything outside the
        schema raises :class:`AuditRefused` and appends nothing.
        """
        async with self._lock:
            await self._ensure_open()
            self._usable()
            ts = self._now()
            ev = self._build(kind, actor, outcome, act, subject, refs, links, ts)
            cp = self._sign(ev.seq, ev.hash) if self._due(ev.seq, ts) else None
            # nothing below raises: the state moves only for an accepted event
            self._next, self._last, self._last_ts = ev.seq + 1, ev.hash, ev.ts
            self._batch.append(ev)
            if cp is not None:
                self._set_checkpoint(cp)
            done = self._pending()
        await self._commit(done)
        return ev

    async def checkpoint(self) -> Checkpoint:
        """Sign the chain's current head (unless already signed) and make it durable;
        returns the checkpoint.  :class:`AuditError` for an empty chain."""
        async with self._lock:
            await self._ensure_open()
            self._usable()
            if self._next == 0:
                raise AuditError(f"chain {self._chain_id} is empty: nothing to checkpoint")
            cp = self._cp
            if cp is None or cp.seq != self._next - 1:
                cp = self._sign(self._next - 1, self._last)
                self._set_checkpoint(cp)
                self._pending()
        await self._flush()
        return cp

    async def close(self) -> None:
        """Checkpoint the head if it is not signed yet, flush, refuse later appends.
        Idempotent; a writer that already failed closes without writing."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._opened or self._failure is not None:
                return
            if self._next > 0 and (self._cp is None or self._cp.seq != self._next - 1):
                self._set_checkpoint(self._sign(self._next - 1, self._last))
                self._pending()
        await self._flush()

    async def run_checkpoints(
        self,
        interval: float,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Sign the head every ``interval`` seconds while there are unsigned events,
        until the writer is closed or fails (run it as a task; cancel it at will)."""
        while True:
            await sleep(interval)
            if self._closed or self._failure is not None:
                return
            if self._opened and self.unsigned > 0:
                await self.checkpoint()

    async def __aenter__(self) -> AuditLog:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AuditLog(chain_id={self._chain_id!r}, next_seq={self._next}, kid={self._kid!r})"

    # ------------------------------------------------------------------ internals

    async def _ensure_open(self) -> ChainHead | None:
        if self._opened:
            if self._next == 0:
                return None
            return ChainHead(self._next - 1, self._last, self._last_ts, self._cp)
        head = await self._sink.head(self._chain_id)
        if head is not None:
            self._next, self._last, self._last_ts = head.seq + 1, head.hash, head.ts
            self._cp = head.checkpoint
        self._cp_ts = self._now()
        self._opened = True
        return head

    def _usable(self) -> None:
        if self._failure is not None:
            raise AuditWriterFailed(self._failure)
        if self._closed:
            raise AuditWriterFailed(f"the writer of chain {self._chain_id} is closed")

    def _now(self) -> int:
        t = self._clock()
        if type(t) is not int or t < 0:
            raise AuditError("the audit clock must return non-negative int microseconds")
        return max(t, self._last_ts)

    def _due(self, seq: int, ts: int) -> bool:
        signed = self._cp.seq if self._cp is not None else -1
        if seq - signed >= self._every:
            return True
        return self._interval_us is not None and ts - self._cp_ts >= self._interval_us

    def _sign(self, seq: int, head: str) -> Checkpoint:
        ts = self._now()
        claims = {"chain_id": self._chain_id, "head": head, "seq": seq, "ts": ts}
        token = sign_compact(claims, self._key, typ=CHECKPOINT_TYP, kid=self._kid)
        return Checkpoint(self._chain_id, seq, head, ts, token)

    def _set_checkpoint(self, cp: Checkpoint) -> None:
        # a newer checkpoint supersedes one still waiting in the batch: it covers more
        self._cp = self._batch_cp = cp
        self._cp_ts = cp.ts

    def _pending(self) -> asyncio.Future[None]:
        if self._batch_done is None:
            self._batch_done = asyncio.get_running_loop().create_future()
            self._batch_done.add_done_callback(_retrieve)
        return self._batch_done

    async def _commit(self, done: asyncio.Future[None]) -> None:
        """Wait until the batch of ``done`` is written, writing it if nobody is."""
        if not done.done():
            async with self._io:
                inflight = self._inflight
                if inflight is not None and not inflight.done():
                    await asyncio.shield(inflight)
                if not done.done():
                    # with _io held and the previous write finished, ``done`` is the
                    # current batch's future: every older batch is settled
                    events, cp, fut = self._batch, self._batch_cp, self._batch_done
                    self._batch, self._batch_cp, self._batch_done = [], None, None
                    assert fut is done
                    task = asyncio.ensure_future(self._write(events, cp, fut))
                    self._inflight = task
                    # a cancelled leader does not abort the batch of the others
                    await asyncio.shield(task)
        await done

    async def _flush(self) -> None:
        """Make everything assigned so far durable (or raise why not)."""
        if self._batch_done is not None:
            await self._commit(self._batch_done)
        else:
            inflight = self._inflight
            if inflight is not None and not inflight.done():
                await asyncio.shield(inflight)
        if self._failure is not None:
            raise AuditWriterFailed(self._failure)

    async def _write(
        self, events: list[AuditEvent], cp: Checkpoint | None, fut: asyncio.Future[None]
    ) -> None:
        try:
            if self._failure is not None:
                raise AuditWriterFailed(self._failure)
            await self._sink.write(events, cp)
        except BaseException as exc:
            if self._failure is None:
                self._failure = (
                    f"a write of chain {self._chain_id} to its sink failed "
                    f"({type(exc).__name__}); open a new AuditLog to resume from the sink"
                )
            if not fut.done():
                fut.set_exception(
                    exc if isinstance(exc, Exception) else AuditWriterFailed(self._failure)
                )
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
        else:
            fut.set_result(None)

    def _build(
        self,
        kind: str,
        actor: str,
        outcome: str,
        act: Mapping[str, Any] | None,
        subject: str | None,
        refs: Mapping[str, Any] | None,
        links: Iterable[AuditEvent | Link],
        ts: int,
    ) -> AuditEvent:
        if not isinstance(kind, str) or kind not in EVENT_KINDS:
            raise AuditRefused("unknown event kind (see EVENT_KINDS)")
        if type(actor) is not str or type(outcome) is not str:
            raise AuditRefused("actor and outcome are strings")
        if subject is not None and type(subject) is not str:
            raise AuditRefused("subject is a string or None")
        refs_obj = _refs(refs)
        act_obj = _act(act)
        link_objs = _links(links)
        if any(ln.chain_id == self._chain_id and ln.seq >= self._next for ln in link_objs):
            raise AuditRefused("a link to an event of this chain that does not exist yet")
        for s in (actor, subject or "", *strings_in(msgspec.to_builtins(refs_obj))):
            if looks_like_token(s):
                raise AuditRefused("a value is shaped like a token (JWS); tokens are never audited")
        if act_obj is not None and any(
            looks_like_token(s) for s in strings_in(msgspec.to_builtins(act_obj))
        ):
            raise AuditRefused("a value is shaped like a token (JWS); tokens are never audited")
        ev = AuditEvent(
            act=act_obj,
            actor=actor,
            chain_id=self._chain_id,
            kind=kind,  # type: ignore[arg-type]  # checked against EVENT_KINDS above
            links=link_objs,
            outcome=outcome,
            prev=self._last,
            refs=refs_obj,
            seq=self._next,
            subject=subject,
            ts=ts,
            hash="",
        )
        ev = msgspec.structs.replace(ev, hash=hashlib.sha256(canonical_bytes(ev)).hexdigest())
        # exactly the verifier's decoder: the writer never writes what it would refuse
        try:
            decode_record(encode_record(ev))
        except AuditFormatError as exc:
            raise AuditRefused(f"event refused: {exc}") from None
        return ev


def _refs(refs: Mapping[str, Any] | None) -> Refs:
    if refs is None:
        return Refs()
    if not isinstance(refs, Mapping):
        raise AuditRefused("refs is a mapping")
    unknown = [k for k in refs if k not in REFS_KEYS]
    if unknown:
        names = sorted(
            k for k in unknown if isinstance(k, str) and k.isidentifier() and len(k) < 40
        )
        raise AuditRefused(
            f"refs may only hold {sorted(REFS_KEYS)}; refused {len(unknown)} other key(s)"
            + (f": {names}" if names else "")
        )
    try:
        return msgspec.convert(dict(refs), Refs, strict=True)
    except msgspec.ValidationError as exc:
        raise AuditRefused(f"refs: {exc}") from None


def _act(act: Mapping[str, Any] | None) -> Act | None:
    if act is None:
        return None
    if not isinstance(act, Mapping):
        raise AuditRefused("act is a mapping (an RFC 8693 act claim) or None")
    try:
        obj = msgspec.convert(act, Act, strict=True)
    except (msgspec.ValidationError, RecursionError) as exc:
        raise AuditRefused(f"act: {exc}") from None
    if act_depth(obj) > MAX_ACT_DEPTH:
        raise AuditRefused(f"act nests deeper than {MAX_ACT_DEPTH} levels")
    node: Act | None = obj
    while node is not None:
        if not node.sub:
            raise AuditRefused("every act level has a sub")
        node = node.act if isinstance(node.act, Act) else None
    return obj


def _links(links: Iterable[AuditEvent | Link]) -> tuple[Link, ...]:
    out: list[Link] = []
    for item in links:
        if isinstance(item, AuditEvent):
            item = item.link()
        if not isinstance(item, Link):
            raise AuditRefused("links are AuditEvents or Links")
        try:
            out.append(
                msgspec.convert(
                    {"chain_id": item.chain_id, "hash": item.hash, "seq": item.seq},
                    Link,
                    strict=True,
                )
            )
        except msgspec.ValidationError as exc:
            raise AuditRefused(f"link: {exc}") from None
        if len(out) > MAX_LINKS:
            raise AuditRefused(f"at most {MAX_LINKS} links")
    return tuple(out)
