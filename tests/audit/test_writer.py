"""AuditLog: what may be appended, ordering under concurrency, checkpoints, resume,
failures; the in-memory sink's compare-and-append."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.audit import (
    REFS_KEYS,
    AuditConflict,
    AuditError,
    AuditEvent,
    AuditLog,
    AuditRefused,
    AuditWriterFailed,
    Checkpoint,
    Link,
    MemorySink,
    advance_head,
    verify_trail,
)
from zkattest.errors import InvalidInput
from zkattest.identity import EcKey, sign_compact

from .conftest import KEY, T0, Clock, run

PUB = KEY.public()


def _log(sink: Any = None, **kw: Any) -> tuple[AuditLog, MemorySink]:
    sink = MemorySink() if sink is None else sink
    kw.setdefault("clock", Clock())
    return AuditLog(KEY, "w1", sink, **kw), sink


async def _one(log: AuditLog, **kw: Any) -> AuditEvent:
    args: dict[str, Any] = {"actor": "service", "outcome": "ok"}
    args.update(kw)
    kind = args.pop("kind", "token.issued")
    return await log.append(kind, **args)


# ------------------------------------------------------------------ no witness data

A_JWT = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0."
    "MEUCIQDx7fX5y0aQwq2e6j3fX0Yl4eZKf4b2GTM6QmD0p3V3JQ"
)

REFUSED_REFS: list[dict[str, Any]] = [
    {"birthdate": "1990-01-01"},
    {"dob": 19900101},
    {"holder_secret": "1234567890123456789012345678901234567890"},
    {"credential": {"attrs": [1, 19900101], "salt": 5}},
    {"proof": {"pi_a": ["1", "2"]}},
    {"witness": [1, 2, 3]},
    {"token": A_JWT},
    {"reason": "born 1990-01-01"},  # reason is a code: no spaces, no leading digit
    {"reason": "19900101"},
    {"reason": "x" * 65},
    {"agent_id": "x" * 129},  # oversize
    {"agent_id": ""},
    {"agent_id": "has space"},
    {"agent_id": 'quote"'},
    {"agent_id": "new\nline"},
    {"agent_id": "caf\u00e9"},
    {"agent_id": 19900101},  # a number where an id goes
    {"agent_id": datetime.date(1990, 1, 1)},  # no silent str() of objects
    {"agent_id": None},
    {"agent_id": {"nested": "x"}},
    {"jti": A_JWT},  # a token in an id field
    {"jti": "prefix." + A_JWT},
    {"policy_ids": ["p"] * 33},
    {"policy_ids": "p1"},
    {"policy_ids": [["p"]]},
    {"min_age": 19900101},
    {"min_age": "18"},
    {"min_age": 18.0},
    {"min_age": True},
    {"exp": -1},
    {"exp": 2**53},
    {"jkt": "short"},
    {"audience": "not a uri"},
    {"scope": "a  b"},
    {"predicate": "Age_GTE"},
    {"verification_id": "v", "extra": 1},
]


@pytest.mark.parametrize("refs", REFUSED_REFS, ids=range(len(REFUSED_REFS)))
def test_refs_outside_the_schema_are_refused(refs: dict[str, Any]) -> None:
    async def go() -> None:
        log, sink = _log()
        with pytest.raises(AuditRefused) as info:
            await _one(log, refs=refs)
        assert isinstance(info.value, InvalidInput)
        # no value from the caller in the message (names of unknown keys at most)
        for v in refs.values():
            if isinstance(v, str) and len(v) > 6:
                assert v not in str(info.value)
        assert log.next_seq == 0 and sink.records == []
        await _one(log)  # the writer is still usable
        assert log.next_seq == 1

    run(go())


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20).filter(lambda k: k not in REFS_KEYS),
        st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.text(max_size=5))),
        min_size=1,
        max_size=4,
    )
)
def test_any_key_outside_the_whitelist_is_refused(refs: dict[str, Any]) -> None:
    log, _sink = _log()
    with pytest.raises(AuditRefused):
        run(_one(log, refs=refs))


@given(st.text(min_size=1, max_size=40))
def test_identifier_fields_accept_only_their_alphabet(value: str) -> None:
    log, _sink = _log()
    ok = all(c.isascii() and (c.isalnum() or c in "._~:/@-") for c in value)
    if ok and "eyJ" in value:
        return
    try:
        ev = run(_one(log, refs={"agent_id": value}))
    except AuditRefused:
        assert not ok
    else:
        assert ok and ev.refs.agent_id == value


def test_accepted_refs_round_trip() -> None:
    refs = {
        "agent_id": "ag-1",
        "approval_id": "ap-1",
        "audience": "https://rp.example/cb",
        "circuit_id": "sha256:abcd",
        "client_id": "shop",
        "exp": 1_800_000_060,
        "jkt": "A" * 43,
        "jti": "0f8c2a",
        "min_age": 18,
        "policy_ids": ["p0", "adults"],
        "predicate": "age_gte",
        "reason": "policy_denied",
        "scope": "verify age:read",
        "task": "age_gte",
        "verification_id": "v-1",
    }
    assert set(refs) == REFS_KEYS
    log, sink = _log()
    ev = run(_one(log, refs=refs))
    assert ev.refs.policy_ids == ("p0", "adults")
    assert verify_trail(sink.records, PUB).ok


@pytest.mark.parametrize(
    "kw",
    [
        {"kind": "agent.resurrected"},
        {"kind": "TOKEN.ISSUED"},
        {"actor": ""},
        {"actor": "two words"},
        {"actor": 5},
        {"actor": A_JWT},
        {"outcome": "OK"},
        {"outcome": "yes, born 1990-01-01"},
        {"outcome": "x" * 33},
        {"subject": ""},
        {"subject": A_JWT},
        {"subject": b"bytes"},
        {"act": {"sub": "a", "iss": "x"}},
        {"act": {"sub": "a", "birthdate": "1990-01-01"}},
        {"act": {"act": {"sub": "b"}}},
        {"act": {"sub": ""}},
        {"act": {"sub": A_JWT}},
        {"act": "a"},
        {"act": {"sub": "a", "act": None}},
        {"links": ["ab" * 32]},
        {"links": [Link("w1", "zz", 0)]},
        {"links": [Link("w1", "ab" * 32, -1)]},
        {"links": [Link("w1", "ab" * 32, 0)] * 17},
        {"links": [Link("w1", "ab" * 32, 0)]},  # its own chain has no event 0 yet
    ],
)
def test_other_fields_outside_the_schema_are_refused(kw: dict[str, Any]) -> None:
    log, sink = _log()
    with pytest.raises(AuditRefused):
        run(_one(log, **kw))
    assert sink.records == []


def test_act_chain_depth() -> None:
    def chain(depth: int) -> dict[str, Any]:
        act: dict[str, Any] = {"sub": "a0"}
        for i in range(1, depth):
            act = {"sub": f"a{i}", "act": act}
        return act

    log, _ = _log()
    ev = run(_one(log, act=chain(8)))
    assert ev.act is not None and ev.act.sub == "a7"
    with pytest.raises(AuditRefused, match="deeper"):
        run(_one(log, act=chain(9)))


def test_constructor_checks() -> None:
    sink = MemorySink()
    for kw in (
        {"chain_id": ""},
        {"chain_id": "a b"},
        {"chain_id": "x" * 65},
        {"checkpoint_every": 0},
        {"checkpoint_interval": 0.0},
    ):
        args: dict[str, Any] = {"chain_id": "w"}
        args.update(kw)
        chain_id = args.pop("chain_id")
        with pytest.raises(AuditRefused):
            AuditLog(KEY, chain_id, sink, **args)
    with pytest.raises(AuditRefused):
        AuditLog("key", "w", sink)  # type: ignore[arg-type]
    assert "w1" in repr(AuditLog(KEY, "w1", sink))


# ------------------------------------------------------------------ chain and checkpoints


def test_chain_fields_and_checkpoint_every() -> None:
    async def go() -> None:
        log, sink = _log(checkpoint_every=4, checkpoint_interval=None)
        evs = [await _one(log) for _ in range(10)]
        assert [e.seq for e in evs] == list(range(10))
        assert [e.prev for e in evs[1:]] == [e.hash for e in evs[:-1]]
        cps = [r for r in sink.records if isinstance(r, Checkpoint)]
        assert [c.seq for c in cps] == [3, 7]
        assert log.unsigned == 2
        cp = await log.checkpoint()
        assert cp.seq == 9 and cp.head == evs[-1].hash
        assert await log.checkpoint() == cp  # nothing new: same checkpoint, not rewritten
        assert [r for r in sink.records if isinstance(r, Checkpoint)][-1] == cp
        assert sum(isinstance(r, Checkpoint) for r in sink.records) == 3
        await log.close()
        await log.close()  # idempotent
        assert sum(isinstance(r, Checkpoint) for r in sink.records) == 3
        report = verify_trail(sink.records, PUB)
        assert report.ok and report.signed

    run(go())


def test_checkpoint_of_an_empty_chain() -> None:
    log, sink = _log()
    with pytest.raises(AuditError, match="empty"):
        run(log.checkpoint())
    run(log.close())
    assert sink.records == []


def test_append_after_close_is_refused() -> None:
    async def go() -> None:
        log, _ = _log()
        await _one(log)
        await log.close()
        with pytest.raises(AuditWriterFailed, match="closed"):
            await _one(log)
        with pytest.raises(AuditWriterFailed):
            await log.checkpoint()

    run(go())


def test_context_manager_closes_with_a_checkpoint() -> None:
    async def go() -> MemorySink:
        sink = MemorySink()
        async with AuditLog(KEY, "w", sink, clock=Clock()) as log:
            await _one(log)
        return sink

    sink = run(go())
    assert isinstance(sink.records[-1], Checkpoint)
    assert verify_trail(sink.records, PUB).signed


def test_timestamps_never_go_back() -> None:
    # the first reading is taken when the writer opens
    times = iter([T0, T0 + 10, T0 + 20, T0 - 5_000_000, T0 + 30])

    async def go() -> list[AuditEvent]:
        log, _ = _log(clock=lambda: next(times), checkpoint_interval=None)
        return [await _one(log) for _ in range(4)]

    evs = run(go())
    assert [e.ts for e in evs] == sorted(e.ts for e in evs)
    assert evs[2].ts == evs[1].ts  # the clock stepped back: held at the last value


def test_bad_clock() -> None:
    log, _ = _log(clock=lambda: 1.5)
    with pytest.raises(AuditError, match="clock"):
        run(_one(log))


def test_checkpoint_interval() -> None:
    clock = Clock(step=0)

    async def go() -> MemorySink:
        log, sink = _log(clock=clock, checkpoint_every=1000, checkpoint_interval=2.0)
        await _one(log)
        clock.now += 1_000_000
        await _one(log)
        assert not any(isinstance(r, Checkpoint) for r in sink.records)
        clock.now += 1_500_000  # 2.5 s since the writer opened
        await _one(log)
        assert [r.seq for r in sink.records if isinstance(r, Checkpoint)] == [2]
        return sink

    run(go())


def test_run_checkpoints_signs_a_quiet_tail() -> None:
    async def go() -> MemorySink:
        log, sink = _log(checkpoint_interval=None)
        ticks = asyncio.Queue[None]()
        slept = 0

        async def sleep(_: float) -> None:
            nonlocal slept
            slept += 1
            await ticks.get()

        task = asyncio.create_task(log.run_checkpoints(60.0, sleep=sleep))
        await _one(log)
        await _one(log)
        ticks.put_nowait(None)  # one period passes
        while not any(isinstance(r, Checkpoint) for r in sink.records):
            await asyncio.sleep(0)
        ticks.put_nowait(None)  # nothing new: no second checkpoint
        await log.close()
        ticks.put_nowait(None)
        await task  # returns once the writer is closed
        assert slept >= 2
        return sink

    sink = run(go())
    assert [r.seq for r in sink.records if isinstance(r, Checkpoint)] == [1]


# ------------------------------------------------------------------ concurrency


class SlowSink(MemorySink):
    """Yields to the loop inside every write so that appenders pile up."""

    async def write(self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        await super().write(events, checkpoint)


def test_concurrent_appends_make_a_gapless_chain() -> None:
    async def go() -> tuple[list[AuditEvent], SlowSink]:
        sink = SlowSink()
        log = AuditLog(KEY, "w1", sink, checkpoint_every=16, clock=Clock())

        async def worker(n: int) -> list[AuditEvent]:
            return [await _one(log, refs={"agent_id": f"t{n}-{i}"}) for i in range(25)]

        results = await asyncio.gather(*(worker(n) for n in range(8)))
        await log.close()
        return [e for r in results for e in r], sink

    evs, sink = run(go())
    assert sorted(e.seq for e in evs) == list(range(200))
    assert len({e.refs.agent_id for e in evs}) == 200
    events = [r for r in sink.records if isinstance(r, AuditEvent)]
    assert [e.seq for e in events] == list(range(200))  # stored in chain order
    assert sink.writes < 200  # group commit: batches, not one write per event
    report = verify_trail(sink.records, PUB)
    assert report.ok and report.signed and report.events == 200


def test_a_cancelled_appender_does_not_lose_the_others() -> None:
    class GateSink(MemorySink):
        def __init__(self) -> None:
            super().__init__()
            self.gate = asyncio.Event()
            self.entered = asyncio.Event()

        async def write(self, events: Sequence[AuditEvent], cp: Checkpoint | None) -> None:
            self.entered.set()
            await self.gate.wait()
            await super().write(events, cp)

    async def go() -> GateSink:
        sink = GateSink()
        log = AuditLog(KEY, "w", sink, clock=Clock())
        leader = asyncio.create_task(_one(log))
        await sink.entered.wait()  # the leader's write is in flight
        followers = [asyncio.create_task(_one(log)) for _ in range(3)]
        for _ in range(5):
            await asyncio.sleep(0)
        leader.cancel()
        sink.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await leader
        done = await asyncio.gather(*followers)
        assert sorted(e.seq for e in done) == [1, 2, 3]
        await log.close()
        return sink

    sink = run(go())
    report = verify_trail(sink.records, PUB)
    assert report.ok and report.events == 4


class FailingSink(MemorySink):
    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.calls = 0
        self.fail_on = fail_on

    async def write(self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise OSError(28, "No space left on device")
        await super().write(events, checkpoint)


def test_a_failed_write_stops_the_writer_and_a_new_one_resumes() -> None:
    async def go() -> FailingSink:
        sink = FailingSink(fail_on=3)
        log = AuditLog(KEY, "w", sink, checkpoint_every=100, clock=Clock())
        await _one(log)
        await _one(log)
        with pytest.raises(OSError):
            await _one(log)
        with pytest.raises(AuditWriterFailed):
            await _one(log)
        await log.close()  # closes without writing
        again = AuditLog(KEY, "w", sink, checkpoint_every=100, clock=Clock(T0 + 10**9))
        head = await again.open()
        assert head is not None and head.seq == 1
        ev = await _one(again)
        assert ev.seq == 2
        await again.close()
        return sink

    sink = run(go())
    report = verify_trail(sink.records, PUB)
    assert report.ok and report.signed and report.events == 3


def test_two_writers_on_one_chain_id_cannot_fork_it() -> None:
    async def go() -> MemorySink:
        sink = MemorySink()
        a = AuditLog(KEY, "same", sink, clock=Clock())
        b = AuditLog(KEY, "same", sink, clock=Clock())
        await b.open()  # b learns the (empty) head now
        await _one(a)
        with pytest.raises(AuditConflict):
            await _one(b)
        with pytest.raises(AuditWriterFailed):
            await _one(b)
        await _one(a)
        await a.close()
        return sink

    sink = run(go())
    assert verify_trail(sink.records, PUB).ok


def test_resume_continues_seq_prev_and_checkpoint() -> None:
    async def go() -> MemorySink:
        sink = MemorySink()
        first = AuditLog(KEY, "w", sink, checkpoint_every=3, clock=Clock())
        evs = [await _one(first) for _ in range(5)]  # crash: no close, seq 3..4 unsigned
        second = AuditLog(KEY, "w", sink, checkpoint_every=3, clock=Clock(T0 - 10**9))
        head = await second.open()
        assert head is not None
        assert (head.seq, head.hash) == (4, evs[-1].hash)
        assert head.checkpoint is not None and head.checkpoint.seq == 2
        assert second.unsigned == 2
        nxt = await _one(second)
        assert (nxt.seq, nxt.prev) == (5, evs[-1].hash)
        assert nxt.ts >= evs[-1].ts  # even though this clock is behind
        await second.close()
        # a third writer resumes a fully signed head and closes: no duplicate checkpoint
        third = AuditLog(KEY, "w", sink, clock=Clock())
        await third.open()
        await third.close()
        return sink

    sink = run(go())
    report = verify_trail(sink.records, PUB)
    assert report.ok and report.signed and report.events == 6


def test_key_destroyed_refuses_without_moving_the_chain() -> None:
    async def go() -> None:
        key = EcKey.generate()
        sink = MemorySink()
        log = AuditLog(key, "w", sink, checkpoint_every=2, clock=Clock())
        await _one(log)
        key.destroy()
        with pytest.raises(Exception, match="destroyed"):
            await _one(log)  # due for a checkpoint, cannot sign
        assert log.next_seq == 1

    run(go())


# ------------------------------------------------------------------ sink contract


def _events(n: int) -> list[AuditEvent]:
    async def go() -> list[AuditEvent]:
        log, sink = _log(checkpoint_every=1000)
        for _ in range(n):
            await _one(log)
        return [r for r in sink.records if isinstance(r, AuditEvent)]

    return run(go())


def test_advance_head_contract() -> None:
    evs = _events(4)
    head = advance_head(None, evs[:2], None)
    assert (head.seq, head.hash) == (1, evs[1].hash)
    with pytest.raises(AuditConflict):
        advance_head(None, evs[1:2], None)  # does not start at seq 0
    with pytest.raises(AuditConflict):
        advance_head(head, evs[3:], None)  # skips seq 2
    with pytest.raises(AuditConflict):
        advance_head(head, [evs[2], evs[2]], None)
    cp_claims = {"chain_id": "w1", "head": evs[3].hash, "seq": 3, "ts": T0}
    cp = Checkpoint("w1", 3, evs[3].hash, T0, sign_compact(cp_claims, KEY, typ="x"))
    with pytest.raises(AuditConflict):
        advance_head(head, [], cp)  # beyond the head
    full = advance_head(head, evs[2:], cp)
    assert full.checkpoint == cp
    with pytest.raises(AuditConflict):
        advance_head(full, [], cp)  # the same checkpoint again
    other = Checkpoint("w2", 3, evs[3].hash, T0, cp.jws)
    with pytest.raises(AuditError):
        advance_head(head, evs[2:], other)
    with pytest.raises(AuditError):
        advance_head(None, [], None)


def test_memory_sink_ignores_empty_writes() -> None:
    sink = MemorySink()
    run(sink.write([], None))
    assert sink.records == [] and sink.writes == 0
    assert run(sink.head("x")) is None
