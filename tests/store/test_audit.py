"""The audit trail in the store, on both backends: the AuditSink contract (all-or-nothing
compare-and-append, heads, resuming writers), paging and export in order, and the
verifier's view of what the store returns (including tampered rows)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from zkattest.audit import (
    AuditConflict,
    AuditError,
    AuditEvent,
    AuditLog,
    AuditRefused,
    AuditWriterFailed,
    ChainHead,
    Checkpoint,
    JsonlSink,
    MalformedRecord,
    MemorySink,
    advance_head,
    encode_record,
    verify_trail,
)
from zkattest.errors import InvalidParameter
from zkattest.identity import EcKey
from zkattest.store import StoreAuditSink, open_store
from zkattest.store.audit import MAX_AUDIT_PAGE, decode_cursor, encode_cursor, iter_audit

from .conftest import AnyStore, close_loop, execute, fetch, run

KEY = EcKey.generate()
US = 1_800_000_000_000_000  # microseconds


class Clock:
    def __init__(self, start: int = US) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1000
        return self.now


async def append_some(log: AuditLog, n: int, tag: str = "v") -> list[AuditEvent]:
    out = []
    for i in range(n):
        out.append(
            await log.append(
                "verification.created",
                actor="shop",
                outcome="ok",
                subject="shop",
                act={"sub": "agent-rp", "act": {"sub": "shop"}} if i % 2 else None,
                refs={"verification_id": f"{tag}{i}", "predicate": "age_gte", "min_age": 18},
                links=out[-1:],
            )
        )
    return out


def trail(store: AnyStore, page_size: int = 1000) -> list[Any]:
    async def go() -> list[Any]:
        return [rec async for rec in store.audit_records(page_size=page_size)]

    return run(go())


def write(store: AnyStore, events: Sequence[AuditEvent], cp: Checkpoint | None = None) -> None:
    run(store.audit_write(events, cp))


def chain(n: int, chain_id: str = "svc-a", every: int = 4) -> list[AuditEvent | Checkpoint]:
    """n events of one chain with checkpoints, made with a memory sink."""

    async def go() -> list[AuditEvent | Checkpoint]:
        sink = MemorySink()
        log = AuditLog(KEY, chain_id, sink, checkpoint_every=every, clock=Clock())
        await append_some(log, n)
        await log.close()
        return sink.records

    return asyncio.run(go())


def events_of(records: Sequence[Any]) -> list[AuditEvent]:
    return [r for r in records if isinstance(r, AuditEvent)]


# -- the sink --------------------------------------------------------------------------------


def test_an_audit_log_writes_to_the_store(store: AnyStore) -> None:
    async def go() -> tuple[list[AuditEvent], list[AuditEvent]]:
        sink = store.audit_sink()
        a = AuditLog(KEY, "svc-a", sink, checkpoint_every=3, clock=Clock())
        b = AuditLog(KEY, "svc-b", StoreAuditSink(store), checkpoint_every=5, clock=Clock())
        ea, eb = await asyncio.gather(append_some(a, 10, "a"), append_some(b, 7, "b"))
        await a.close()
        await b.close()
        return ea, eb

    ea, eb = run(go())
    records = trail(store)
    assert events_of(records) == ea + eb  # svc-a sorts before svc-b, each in seq order
    report = verify_trail(records, KEY.public())
    assert report.ok and report.unsigned == 0
    assert report.events == 17 and report.malformed == 0
    head = run(store.audit_head("svc-a"))
    assert head is not None and (head.seq, head.hash) == (9, ea[-1].hash)
    assert head.checkpoint is not None and head.checkpoint.seq == 9
    assert run(store.audit_head("svc-c")) is None


def test_checkpoints_follow_the_event_they_cover(store: AnyStore) -> None:
    records = chain(10, every=4)
    # one write per event, checkpoints written with the event they cover
    batch: list[AuditEvent] = []
    for rec in records:
        if isinstance(rec, AuditEvent):
            if batch:
                write(store, batch)
            batch = [rec]
        else:
            write(store, batch, rec)
            batch = []
    if batch:
        write(store, batch)
    got = trail(store, page_size=3)
    assert got == records
    assert verify_trail(got, KEY.public()).ok


def test_export_is_byte_for_byte_the_trail_file(store: AnyStore, tmp_path: Any) -> None:
    records = chain(9, every=3)
    evs = events_of(records)
    cps = [r for r in records if isinstance(r, Checkpoint)]
    path = tmp_path / "trail.jsonl"

    async def go() -> None:
        with JsonlSink(path, fsync=False) as sink:
            for i in range(0, 9, 3):
                cp = next(c for c in cps if c.seq == i + 2)
                await sink.write(evs[i : i + 3], cp)
                await store.audit_write(evs[i : i + 3], cp)

    run(go())
    exported = b"".join(encode_record(r) + b"\n" for r in trail(store))
    assert exported == path.read_bytes()
    rows = fetch(store, "SELECT event FROM audit_events ORDER BY seq")
    assert [r[0].encode() for r in rows] == [encode_record(e)[len(b'{"event":') : -1] for e in evs]


def test_a_writer_resumes_from_the_stored_head(url: str) -> None:
    async def go() -> list[AuditEvent]:
        s = await open_store(url)
        first = AuditLog(KEY, "svc-a", s.audit_sink(), checkpoint_every=100, clock=Clock())
        one = await append_some(first, 3)
        await first.close()
        await s.close()
        s = await open_store(url)  # a restart
        second = AuditLog(KEY, "svc-a", s.audit_sink(), checkpoint_every=100, clock=Clock())
        two = await append_some(second, 2, "w")
        await second.close()
        await s.close()
        return one + two

    evs = run(go())
    assert [e.seq for e in evs] == [0, 1, 2, 3, 4]
    s = run(open_store(url))
    try:
        assert verify_trail(trail(s), KEY.public()).ok
    finally:
        run(s.close())


def test_a_batch_that_does_not_follow_the_head_is_refused_whole(store: AnyStore) -> None:
    records = chain(6, every=100)
    evs = events_of(records)
    write(store, evs[:2])
    for bad in (evs[3:5], evs[:2], evs[1:3], [evs[2], evs[4]]):
        with pytest.raises(AuditConflict):
            write(store, bad)
    assert events_of(trail(store)) == evs[:2]
    write(store, evs[2:])
    assert events_of(trail(store)) == evs


def test_a_checkpoint_must_fit_the_chain(store: AnyStore) -> None:
    records = chain(8, every=4)
    evs = events_of(records)
    cps = [r for r in records if isinstance(r, Checkpoint)]
    write(store, evs[:4], cps[0])  # covers seq 3
    with pytest.raises(AuditConflict):
        write(store, [], cps[0])  # not beyond the stored checkpoint
    with pytest.raises(AuditConflict):
        write(store, [], cps[1])  # covers seq 7: not stored yet
    write(store, evs[4:], cps[1])
    head = run(store.audit_head("svc-a"))
    assert head is not None and head.checkpoint == cps[1]


def test_writes_are_accepted_exactly_as_advance_head_says(store: AnyStore) -> None:
    # every small write against every small stored state: the store takes a write iff
    # advance_head (the sink contract) does, raises the same error class otherwise and
    # writes nothing then; its head afterwards is advance_head's
    records = chain(5, every=1)  # a checkpoint for every event
    evs = events_of(records)
    cps = [r for r in records if isinstance(r, Checkpoint)]
    assert [cp.seq for cp in cps] == [0, 1, 2, 3, 4]

    async def other_history() -> list[AuditEvent]:
        # the same chain id, other events: seqs match, hashes do not
        log = AuditLog(KEY, "svc-a", MemorySink(), clock=Clock())
        return await append_some(log, 4, "x")

    fork = asyncio.run(other_history())
    assert [e.seq for e in fork] == [0, 1, 2, 3] and fork[1].prev != evs[1].prev
    parts: list[list[AuditEvent]] = [
        [],
        *(evs[a : a + 1] for a in range(5)),
        *(evs[a : a + 2] for a in range(4)),
        [evs[1], evs[3]],
        [evs[2], evs[2]],
        [evs[0], evs[2]],
        *(fork[a : a + 1] for a in range(4)),
        *(fork[a : a + 2] for a in range(3)),
    ]
    tried = accepted = 0
    for k in range(4):  # events stored: seq 0..k-1
        for j in [None, *range(k)]:  # the stored checkpoint's seq
            execute(store, "DELETE FROM audit_checkpoints")
            execute(store, "DELETE FROM audit_events")
            if k:
                write(store, evs[:k])
            if j is not None:
                write(store, [], cps[j])
            head = None if k == 0 else ChainHead(k - 1, evs[k - 1].hash, evs[k - 1].ts, None)
            if head is not None and j is not None:
                head = head._replace(checkpoint=cps[j])
            assert run(store.audit_head("svc-a")) == head
            for part in parts:
                for cp in [None, *cps]:
                    if not part and cp is None:
                        continue
                    tried += 1
                    want: type[Exception] | ChainHead
                    try:
                        want = advance_head(head, part, cp)
                    except AuditError as e:
                        want = type(e)
                    try:
                        write(store, part, cp)
                    except AuditError as e:
                        assert type(e) is want, (k, j, [e.seq for e in part], cp and cp.seq)
                        assert run(store.audit_head("svc-a")) == head  # nothing written
                        continue
                    assert run(store.audit_head("svc-a")) == want
                    accepted += 1
                    # back to the state
                    execute(
                        store,
                        "DELETE FROM audit_checkpoints WHERE seq > $1",
                        -1 if j is None else j,
                    )
                    execute(store, "DELETE FROM audit_events WHERE seq >= $1", k)
    assert accepted and tried > 500


def test_a_refusal_names_the_stored_head(store: AnyStore) -> None:
    evs = events_of(chain(6, every=100))
    write(store, evs[:2])
    with pytest.raises(AuditConflict, match="head is seq 1; an event with seq 4"):
        write(store, evs[4:6])
    with pytest.raises(AuditConflict, match="head is seq 1; an event with seq 1"):
        write(store, evs[1:3])


def test_two_writers_with_one_chain_id_cannot_fork_it(url: str) -> None:
    async def go() -> tuple[int, int]:
        s1, s2 = await open_store(url), await open_store(url)
        a = AuditLog(KEY, "svc-a", s1.audit_sink(), checkpoint_every=100, clock=Clock())
        b = AuditLog(KEY, "svc-a", s2.audit_sink(), checkpoint_every=100, clock=Clock())
        await a.open()
        await b.open()  # both see an empty chain
        results = await asyncio.gather(
            append_some(a, 1, "a"), append_some(b, 1, "b"), return_exceptions=True
        )
        conflicts = sum(isinstance(r, AuditConflict) for r in results)
        ok = sum(isinstance(r, list) for r in results)
        for log in (a, b):
            # the loser's writer has failed: closing it reports that again
            with contextlib.suppress(AuditWriterFailed):
                await log.close()
        await s1.close()
        await s2.close()
        return ok, conflicts

    assert run(go()) == (1, 1)
    s = run(open_store(url))
    try:
        assert len(events_of(trail(s))) == 1
    finally:
        run(s.close())


def test_concurrent_writers_of_one_chain_across_threads(url: str) -> None:
    # the database decides: of N same-seq batches from N connections, one is stored
    evs = events_of(chain(1, every=100))
    results: list[object] = []

    def worker() -> None:
        async def go() -> None:
            s = await open_store(url)
            try:
                await s.audit_write(evs, None)
                results.append("ok")
            except AuditConflict:
                results.append("conflict")
            finally:
                await s.close()

        try:
            run(go())
        finally:
            close_loop()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["conflict"] * 5 + ["ok"]


def test_concurrent_checkpoints_of_one_chain_across_threads(url: str) -> None:
    # the same checkpoint from N connections at once: stored once, the others conflict
    records = chain(3, every=100)
    evs = events_of(records)
    [cp] = [r for r in records if isinstance(r, Checkpoint)]
    s = run(open_store(url))
    try:
        write(s, evs)
    finally:
        run(s.close())
    results: list[str] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        async def go() -> None:
            s = await open_store(url)
            try:
                barrier.wait(30)
                await s.audit_write([], cp)
                results.append("ok")
            except AuditConflict:
                results.append("conflict")
            finally:
                await s.close()

        try:
            run(go())
        finally:
            close_loop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["conflict"] * 3 + ["ok"]
    s = run(open_store(url))
    try:
        assert trail(s) == records
    finally:
        run(s.close())


def test_empty_write_is_a_no_op(store: AnyStore) -> None:
    write(store, [])
    assert trail(store) == []


@pytest.mark.parametrize("bad", ["events", [b"x"], [{"seq": 0}], None])
def test_malformed_writes_are_refused(store: AnyStore, bad: Any) -> None:
    with pytest.raises(AuditRefused):
        run(store.audit_write(bad, None))
    evs = events_of(chain(1))
    with pytest.raises(AuditRefused):
        run(store.audit_write(evs, "not a checkpoint"))  # type: ignore[arg-type]
    assert trail(store) == []


@pytest.mark.parametrize("bad", ["", "a" * 65, "bad chain", None, 3, "\x00"])
def test_head_refuses_malformed_chain_ids(store: AnyStore, bad: Any) -> None:
    with pytest.raises(InvalidParameter):
        run(store.audit_head(bad))


# -- paging ----------------------------------------------------------------------------------


def test_pages_walk_the_trail(store: AnyStore) -> None:
    a = chain(7, "svc-a", every=3)
    b = chain(4, "svc-b", every=2)
    for records in (a, b):
        evs = events_of(records)
        cps = {c.seq: c for c in records if isinstance(c, Checkpoint)}
        for ev in evs:
            write(store, [ev], cps.get(ev.seq))
    whole = a + b
    for size in (1, 2, 5, len(whole), len(whole) + 1):
        got: list[Any] = []
        after: Any = None
        while True:
            page = run(store.audit_page(after, size))
            got.extend(page.records)
            assert len(page.records) <= size
            if page.complete:
                break
            after = page.cursor
        assert got == whole
    # (chain_id, seq): after that event, its checkpoint included
    page = run(store.audit_page(("svc-a", 2), 2))
    assert page.records == whole[3:5]
    assert isinstance(page.records[0], Checkpoint) and page.records[0].seq == 2
    page = run(store.audit_page(("svc-a", 999), 100))
    assert page.records == b and page.complete
    end = run(store.audit_page(page.cursor, 10))
    assert end.records == [] and end.complete and end.cursor == page.cursor
    assert run(store.audit_page(None, 10)).records == whole[:10]


def test_a_page_sees_events_appended_later(store: AnyStore) -> None:
    evs = events_of(chain(4, every=100))
    write(store, evs[:2])
    page = run(store.audit_page(None, 10))
    assert page.records == evs[:2] and page.complete
    write(store, evs[2:])
    assert run(store.audit_page(page.cursor, 10)).records == evs[2:]


def test_cursors() -> None:
    assert decode_cursor(None) is None
    for pos in [("svc-a", 0, 0), ("a.b~c-d_e", 2**53 - 1, 1)]:
        assert decode_cursor(encode_cursor(pos)) == pos  # type: ignore[arg-type]
    assert decode_cursor(("svc", 5)) == ("svc", 5, 0)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "svc-a/1",
        "svc-a/1/x",
        "svc-a/01/e",
        "svc a/1/e",
        "svc-a/-1/e",
        "svc-a/1/e/",
        "svc-a/99999999999999999/e",
        ("svc-a",),
        ("svc-a", -1),
        ("svc-a", 1.0),
        ("svc-a", True),
        ("", 1),
        (None, 1),
        ["svc-a", 1],
        b"svc-a/1/e",
        7,
    ],
)
def test_malformed_cursors_are_refused(store: AnyStore, bad: Any) -> None:
    with pytest.raises(InvalidParameter):
        run(store.audit_page(bad, 10))


@pytest.mark.parametrize("limit", [0, -1, MAX_AUDIT_PAGE + 1, True, 1.5, "10", None])
def test_page_limits(store: AnyStore, limit: Any) -> None:
    with pytest.raises(InvalidParameter, match="limit"):
        run(store.audit_page(None, limit))


def test_iter_audit_over_any_store(store: AnyStore) -> None:
    records = chain(5, every=2)
    evs = events_of(records)
    cps = {c.seq: c for c in records if isinstance(c, Checkpoint)}
    for ev in evs:
        write(store, [ev], cps.get(ev.seq))

    async def go() -> list[Any]:
        return [r async for r in iter_audit(store, page_size=2)]

    assert run(go()) == records


# -- tampering -------------------------------------------------------------------------------


def stored(store: AnyStore, n: int = 5) -> list[AuditEvent | Checkpoint]:
    records = chain(n, every=2)
    evs = events_of(records)
    cps = {c.seq: c for c in records if isinstance(c, Checkpoint)}
    for ev in evs:
        write(store, [ev], cps.get(ev.seq))
    return records


def test_an_altered_event_is_caught_by_the_verifier(store: AnyStore) -> None:
    stored(store)
    [(text,)] = fetch(store, "SELECT event FROM audit_events WHERE seq = 1")
    execute(
        store,
        "UPDATE audit_events SET event = $1 WHERE seq = 1",
        text.replace('"min_age":18', '"min_age":21'),
    )
    report = verify_trail(trail(store), KEY.public())
    assert not report.ok
    assert report.first_error is not None and "hash" in report.first_error.describe()


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace('{"act"', '{ "act"', 1),  # not canonical
        lambda t: t[:-1],  # not JSON
        lambda t: t.replace('"seq":2', '"seq":3'),  # another row's record
        lambda t: t.replace('"outcome":"ok"', '"outcome":"ok","extra":1'),  # outside the schema
    ],
)
def test_a_malformed_row_comes_back_as_malformed(store: AnyStore, change: Any) -> None:
    records = stored(store)
    [(text,)] = fetch(store, "SELECT event FROM audit_events WHERE seq = 2")
    execute(store, "UPDATE audit_events SET event = $1 WHERE seq = 2", change(text))
    got = trail(store)
    assert len(got) == len(records)
    bad = [r for r in got if isinstance(r, MalformedRecord)]
    assert len(bad) == 1 and "(svc-a, 2)" in bad[0].reason
    assert not verify_trail(got, KEY.public()).ok


def test_a_malformed_stored_checkpoint(store: AnyStore) -> None:
    stored(store)
    execute(store, "UPDATE audit_checkpoints SET jws = 'x.y.z' WHERE seq = 1")
    got = trail(store)
    assert any(isinstance(r, MalformedRecord) and "audit_checkpoints" in r.reason for r in got)
    execute(store, "UPDATE audit_checkpoints SET jws = 'x.y.z'")
    from zkattest.store import StoreError

    with pytest.raises(StoreError, match="checkpoint is malformed"):
        run(store.audit_head("svc-a"))


def test_the_trail_survives_a_restart(url: str) -> None:
    s = run(open_store(url))
    records = stored(s, 4)
    run(s.close())
    s = run(open_store(url))
    try:
        assert trail(s) == records
        assert msgspec.json.encode(trail(s)) == msgspec.json.encode(records)
    finally:
        run(s.close())
