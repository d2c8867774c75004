"""The audit trail in the store's database: both backends are an
:class:`~zkattest.audit.AuditSink` and can page through and export the trail.

Tables (revision 0003): ``audit_events`` (key ``(chain_id, seq)``; ``event`` is the
event exactly as a trail file holds it: its canonical JSON with ``hash``, so an export is
byte for byte what :class:`~zkattest.audit.JsonlSink` would have written) and
``audit_checkpoints`` (key ``(chain_id, seq)`` of the event it covers; ``jws`` the signed
checkpoint).

*Writes* are the sink contract (:func:`~zkattest.audit.advance_head`): one transaction
appends a batch of one chain's events and an optional checkpoint if the batch continues
the stored head, else stores nothing.  The checks split in two: what a write says about
itself (its events consecutive and of one chain, its checkpoint not beyond them) is
checked before any I/O (:func:`precheck`), what depends on the stored chain in the
database (:func:`fits`: the stored head is the event the batch's first one follows, a
checkpoint is beyond the stored one).  Concurrent writers of one chain are decided by
the primary key ``(chain_id, seq)``: two batches that follow one head both insert its
successor, and only one can; the other gets :class:`~zkattest.audit.AuditConflict`,
never a fork.  SQLite runs the whole write under its write lock; PostgreSQL in one
statement (:mod:`.postgres`).

*Order* of a trail read from the store: by ``chain_id`` (bytewise), then ``seq``, each
checkpoint right after the event it covers.  :meth:`audit_page` pages through it with a
cursor; a chain that grows behind the cursor is read on the next pass, not this one.

The shared SQL here uses ``$n`` placeholders; SQLite takes them as ``?n``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Final, Literal, Protocol

import msgspec

from ..audit import (
    AuditConflict,
    AuditError,
    AuditEvent,
    AuditFormatError,
    AuditRefused,
    ChainHead,
    Checkpoint,
    MalformedRecord,
    decode_record,
)
from ..audit.log import advance_head, chain_of
from ..errors import InvalidParameter
from .errors import StoreError

__all__ = [
    "MAX_AUDIT_PAGE",
    "AuditPage",
    "AuditRecord",
    "AuditStore",
    "StoreAuditSink",
    "advance_head",
    "decode_cursor",
    "encode_cursor",
    "iter_audit",
]

#: Largest ``limit`` of one :meth:`AuditStore.audit_page`.
MAX_AUDIT_PAGE: Final = 10_000

AuditRecord = AuditEvent | Checkpoint | MalformedRecord
#: A position in the trail's order: (chain_id, seq, 0 for the event / 1 for its checkpoint).
Position = tuple[str, int, Literal[0, 1]]

_CHAIN_ID: Final = re.compile(r"[A-Za-z0-9._~-]{1,64}")
_CURSOR: Final = re.compile(r"([A-Za-z0-9._~-]{1,64})/(0|[1-9][0-9]{0,15})/([ec])")
_ENCODE: Final = msgspec.json.Encoder().encode


class AuditPage(msgspec.Struct, frozen=True):
    """One page of the trail: ``records`` in order (a stored row that is not a valid
    record comes as a :class:`~zkattest.audit.MalformedRecord` whose ``reason`` names
    it), ``cursor`` to pass as ``after`` for the next page (the position after the last
    record, or the given one if there was none), ``complete`` when fewer than ``limit``
    records were left (the end of the trail at the time of the read)."""

    records: list[AuditRecord]
    cursor: str | None
    complete: bool


class AuditStore(Protocol):
    """What both store backends offer for the audit trail."""

    async def audit_write(
        self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None
    ) -> None: ...

    async def audit_head(self, chain_id: str) -> ChainHead | None: ...

    async def audit_page(
        self, after: str | tuple[str, int] | None = None, limit: int = 1000
    ) -> AuditPage: ...


class StoreAuditSink:
    """A store as an :class:`~zkattest.audit.AuditSink` (``AuditLog(key, chain_id,
    StoreAuditSink(store))``): ``write`` and ``head`` are the store's
    ``audit_write`` and ``audit_head``."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store

    async def write(self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None) -> None:
        await self.store.audit_write(events, checkpoint)

    async def head(self, chain_id: str) -> ChainHead | None:
        return await self.store.audit_head(chain_id)

    def __repr__(self) -> str:
        return f"StoreAuditSink({self.store!r})"


async def iter_audit(store: AuditStore, *, page_size: int = 1000) -> AsyncIterator[AuditRecord]:
    """Every record of the trail in order (module docstring), page by page."""
    after: str | None = None
    while True:
        page = await store.audit_page(after, page_size)
        for rec in page.records:
            yield rec
        if page.complete:
            return
        after = page.cursor


# -- arguments -------------------------------------------------------------------------------


def require_chain_id(value: object) -> str:
    if not isinstance(value, str) or _CHAIN_ID.fullmatch(value) is None:
        raise InvalidParameter("chain_id must match [A-Za-z0-9._~-]{1,64}")
    return value


def checked_write(
    events: Sequence[AuditEvent], checkpoint: Checkpoint | None
) -> tuple[list[AuditEvent], str | None]:
    """The batch as a list and its chain (None: nothing to write)."""
    if isinstance(events, str | bytes) or not isinstance(events, Sequence):
        raise AuditRefused("events must be a sequence of AuditEvents")
    batch = list(events)
    if any(type(ev) is not AuditEvent for ev in batch):
        raise AuditRefused("events must be AuditEvents")
    if checkpoint is not None and type(checkpoint) is not Checkpoint:
        raise AuditRefused("checkpoint must be a Checkpoint or None")
    return batch, chain_of(batch, checkpoint)


def require_page_limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter("limit must be an integer")
    if not 1 <= value <= MAX_AUDIT_PAGE:
        raise InvalidParameter(f"limit must be 1..{MAX_AUDIT_PAGE}")
    return value


def encode_cursor(position: Position) -> str:
    chain_id, seq, part = position
    return f"{chain_id}/{seq}/{'ec'[part]}"


def decode_cursor(after: object) -> Position | None:
    """``None`` (the start), a cursor from :class:`AuditPage`, or ``(chain_id, seq)``:
    after that event (its checkpoint, if any, still to come)."""
    if after is None:
        return None
    if isinstance(after, str):
        m = _CURSOR.fullmatch(after)
        if m is None:
            raise InvalidParameter("malformed audit cursor")
        return m.group(1), int(m.group(2)), 0 if m.group(3) == "e" else 1
    if isinstance(after, tuple) and len(after) == 2:
        chain_id, seq = after
        if type(seq) is not int or not 0 <= seq < 2**53:
            raise InvalidParameter("seq must be an int in 0..2**53-1")
        return require_chain_id(chain_id), seq, 0
    raise InvalidParameter("after must be None, a cursor or a (chain_id, seq) tuple")


# -- rows ------------------------------------------------------------------------------------

HEAD_EVENT: Final = (
    "SELECT seq, hash, ts FROM audit_events WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1"
)
HEAD_CHECKPOINT: Final = (
    "SELECT jws FROM audit_checkpoints WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1"
)
HEAD_CHECKPOINT_SEQ: Final = (
    "SELECT seq FROM audit_checkpoints WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1"
)
INSERT_EVENT: Final = (
    "INSERT INTO audit_events (chain_id, seq, ts, kind, hash, event)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
)
INSERT_CHECKPOINT: Final = (
    "INSERT INTO audit_checkpoints (chain_id, seq, ts, head, jws) VALUES ($1, $2, $3, $4, $5)"
)


def sqlite_sql(sql: str) -> str:
    """The shared SQL for SQLite (``$n`` -> ``?n``; no ``$`` appears otherwise)."""
    return sql.replace("$", "?")


def event_rows(events: Sequence[AuditEvent]) -> list[tuple[str, int, int, str, str, str]]:
    return [(ev.chain_id, ev.seq, ev.ts, ev.kind, ev.hash, _ENCODE(ev).decode()) for ev in events]


def event_columns(
    events: Sequence[AuditEvent],
) -> tuple[list[int], list[int], list[str], list[str], list[str]]:
    """The columns ``seq, ts, kind, hash, event`` of :func:`event_rows` (chain_id aside)."""
    rows = event_rows(events)
    return (
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
    )


def checkpoint_row(cp: Checkpoint) -> tuple[str, int, int, str, str]:
    return (cp.chain_id, cp.seq, cp.ts, cp.head, cp.jws)


def chain_head(event: Iterable[Any] | None, checkpoint: Iterable[Any] | None) -> ChainHead | None:
    """The head from the rows of :data:`HEAD_EVENT` and :data:`HEAD_CHECKPOINT`."""
    if event is None:
        return None
    seq, hash_, ts = event
    cp: Checkpoint | None = None
    if checkpoint is not None:
        (jws,) = checkpoint
        try:
            cp = Checkpoint.from_jws(str(jws))
        except AuditFormatError as e:
            raise StoreError(f"stored audit checkpoint is malformed: {e}") from None
    return ChainHead(int(seq), str(hash_), int(ts), cp)


def precheck(events: Sequence[AuditEvent], checkpoint: Checkpoint | None) -> tuple[int, str] | None:
    """The part of :func:`~zkattest.audit.advance_head` that does not need the stored
    chain, before any I/O: what it raises for a write that fits no head (events not
    consecutive or of several chains, a checkpoint beyond the events or of another
    chain).  Returns ``(seq, hash)`` of the event the first one follows, ``None`` when
    the events start their chain (or there are none): the stored head :func:`fits`
    wants."""
    if not events:
        return None
    first = events[0]
    after = None if first.seq == 0 else (first.seq - 1, first.prev)
    # against the head the first event names: only the checks that do not depend on it
    # remain (for seq 0 the head is "none", and prev must be the genesis hash)
    advance_head(None if after is None else ChainHead(*after, 0, None), events, checkpoint)
    return after


def fits(
    after: tuple[int, str] | None,
    head: tuple[int, str] | None,
    checkpoint_seq: int | None,
    events: Sequence[AuditEvent],
    checkpoint: Checkpoint | None,
) -> bool:
    """Whether a write that passed :func:`precheck` (which returned ``after``) follows a
    chain whose stored head event is ``head`` (``(seq, hash)``, None: no event) and
    whose latest stored checkpoint covers ``checkpoint_seq`` (None: none): together the
    checks of :func:`~zkattest.audit.advance_head`.  The PostgreSQL statement of
    :mod:`.postgres` makes the same test in SQL."""
    if events and head != after:
        return False
    if checkpoint is not None:
        if checkpoint_seq is not None and checkpoint.seq <= checkpoint_seq:
            return False
        # with events, precheck saw that the checkpoint covers one of them
        if not events and (head is None or checkpoint.seq > head[0]):
            return False
    return True


def refusal(
    head: ChainHead | None, events: Sequence[AuditEvent], checkpoint: Checkpoint | None
) -> AuditError:
    """What :func:`~zkattest.audit.advance_head` raises for a write that did not
    :func:`fits` the stored ``head`` (read in the same snapshot): the error to raise."""
    try:
        advance_head(head, events, checkpoint)
    except AuditError as e:
        return e
    # only if a stored checkpoint's row and its JWS disagree on the seq
    chain_id = chain_of(events, checkpoint)
    return conflict(chain_id if chain_id is not None else "?")


def conflict(chain_id: str) -> AuditConflict:
    return AuditConflict(
        f"chain {chain_id}: another writer appended to this chain first "
        "(is another writer using this chain id?)"
    )


def page_query(after: Position | None) -> tuple[str, list[Any]]:
    """The SQL (``$n`` placeholders, the limit last) of the page after ``after``:
    rows ``(chain_id, seq, part, body)``."""
    if after is None:
        where_e = where_c = ""
        params: list[Any] = []
        n = 1
    else:
        chain_id, seq, part = after
        # an event (c, s, 0) comes after (C, S, P) iff (c, s) > (C, S); a checkpoint
        # (c, s, 1) iff (c, s) > (C, S), or (c, s) = (C, S) and P = 0
        where_e = " WHERE (chain_id, seq) > ($1, $2)"
        where_c = f" WHERE (chain_id, seq) {'>=' if part == 0 else '>'} ($1, $2)"
        params = [chain_id, seq]
        n = 3
    sql = (
        f"SELECT chain_id, seq, 0 AS part, event AS body FROM audit_events{where_e}"
        " UNION ALL"
        f" SELECT chain_id, seq, 1 AS part, jws AS body FROM audit_checkpoints{where_c}"
        f" ORDER BY chain_id, seq, part LIMIT ${n}"
    )
    return sql, params


def page(rows: Iterable[Iterable[Any]], after: Position | None, limit: int) -> AuditPage:
    """Rows of :func:`page_query` -> the page."""
    records: list[AuditRecord] = []
    last = after
    for row in rows:
        chain_id, seq, part, body = row
        records.append(_record(str(chain_id), int(seq), int(part), str(body)))
        last = (str(chain_id), int(seq), 0 if int(part) == 0 else 1)
    return AuditPage(records, None if last is None else encode_cursor(last), len(records) < limit)


def _record(chain_id: str, seq: int, part: int, body: str) -> AuditRecord:
    table = "audit_events" if part == 0 else "audit_checkpoints"
    where = f"{table} row ({chain_id}, {seq})"
    try:
        if part == 0:
            rec = decode_record(b'{"event":' + body.encode("utf-8") + b"}")
        else:
            rec = Checkpoint.from_jws(body)
    except (AuditFormatError, UnicodeEncodeError) as e:
        return MalformedRecord(0, f"{where}: {e}")
    if (rec.chain_id, rec.seq) != (chain_id, seq):
        return MalformedRecord(0, f"{where}: holds the record of ({rec.chain_id}, {rec.seq})")
    return rec
