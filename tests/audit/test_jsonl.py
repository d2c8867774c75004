"""The JSON-lines file: the sink (resume, several writers, torn tails) and the
streaming reader (malformed lines reported with their line numbers)."""

from __future__ import annotations

import asyncio
import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.audit import (
    AuditConflict,
    AuditError,
    AuditEvent,
    AuditLog,
    Checkpoint,
    JsonlSink,
    MalformedRecord,
    iter_jsonl,
    load_jsonl,
    verify_trail,
)
from zkattest.audit.events import MAX_LINE

from .conftest import KEY, T0, Clock, blob, lifecycle, run, sample_lines

PUB = KEY.public()


async def _append(log: AuditLog, n: int, tag: str = "x") -> list[AuditEvent]:
    return [
        await log.append("token.issued", actor="service", outcome="ok", refs={"jti": f"{tag}{i}"})
        for i in range(n)
    ]


def test_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    async def go() -> None:
        with JsonlSink(path) as sink:
            a = AuditLog(KEY, "svc-a", sink, checkpoint_every=5, clock=Clock())
            b = AuditLog(KEY, "svc-b", sink, checkpoint_every=5, clock=Clock())
            await lifecycle(a, b, 4)
            await a.close()
            await b.close()

    run(go())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert data.endswith(b"\n") and b"\n\n" not in data
    report = verify_trail(load_jsonl(path), PUB)
    assert report.ok and report.signed and report.events == 32
    assert [type(r) for r in load_jsonl(path)].count(Checkpoint) == report.checkpoints


def test_resume_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    async def first() -> list[AuditEvent]:
        sink = JsonlSink(path)
        log = AuditLog(KEY, "w", sink, checkpoint_every=4, clock=Clock())
        evs = await _append(log, 10)
        sink.close()  # the process dies: no close() of the writer, 2 events unsigned
        return evs

    async def second() -> list[AuditEvent]:
        with JsonlSink(path) as sink:  # a new process: reads the file to find the head
            log = AuditLog(KEY, "w", sink, checkpoint_every=4, clock=Clock(T0 - 10**9))
            head = await log.open()
            assert head is not None and head.seq == 9
            assert head.checkpoint is not None and head.checkpoint.seq == 7
            evs = await _append(log, 3, "y")
            await log.close()
            return evs

    before = run(first())
    report = verify_trail(load_jsonl(path), PUB)
    assert report.ok and report.unsigned == 2
    after = run(second())
    assert (after[0].seq, after[0].prev) == (10, before[-1].hash)
    assert after[0].ts >= before[-1].ts
    report = verify_trail(load_jsonl(path), PUB)
    assert report.ok and report.signed and report.events == 13


def test_two_sinks_on_one_file_interleave(tmp_path: Path) -> None:
    """Two sinks on one path stand for two processes: each sees the other's appends."""
    path = tmp_path / "audit.jsonl"

    async def go() -> None:
        s1, s2 = JsonlSink(path), JsonlSink(path)
        a = AuditLog(KEY, "w1", s1, checkpoint_every=3, clock=Clock())
        b = AuditLog(KEY, "w2", s2, checkpoint_every=3, clock=Clock())

        async def worker(log: AuditLog, tag: str) -> None:
            for i in range(15):
                await log.append(
                    "policy.decided",
                    actor="service",
                    outcome="allow",
                    refs={"verification_id": f"{tag}{i}"},
                )

        await asyncio.gather(worker(a, "a"), worker(b, "b"), worker(a, "c"), worker(b, "d"))
        await a.close()
        await b.close()
        # each sink indexed the other's chain too
        h1, h2 = await s1.head("w2"), await s2.head("w1")
        assert h1 is not None and h2 is not None and h1.seq == h2.seq == 29
        s1.close()
        s2.close()

    run(go())
    records = list(load_jsonl(path))
    chains = [r.chain_id for r in records if isinstance(r, AuditEvent)]
    assert chains.count("w1") == chains.count("w2") == 30
    report = verify_trail(records, PUB)
    assert report.ok and report.signed and report.events == 60


def test_same_chain_id_in_two_processes_conflicts(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    async def go() -> None:
        s1, s2 = JsonlSink(path), JsonlSink(path)
        a = AuditLog(KEY, "w", s1, clock=Clock())
        b = AuditLog(KEY, "w", s2, clock=Clock())
        await a.open()
        await b.open()
        await _append(a, 1)
        with pytest.raises(AuditConflict):
            await _append(b, 1)
        await a.close()
        s1.close()
        s2.close()

    run(go())
    assert verify_trail(load_jsonl(path), PUB).ok


def test_torn_last_line_is_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    async def write(n: int, tag: str, close: bool) -> None:
        with JsonlSink(path) as sink:
            log = AuditLog(KEY, "w", sink, checkpoint_every=2, clock=Clock())
            await _append(log, n, tag)
            if close:
                await log.close()

    run(write(3, "a", close=False))
    whole = path.read_bytes()
    with open(path, "ab") as f:  # a writer died in the middle of its write
        f.write(b'{"event":{"act":null,"actor":"serv')
    report = verify_trail(load_jsonl(path), PUB)
    assert not report.ok and report.first_error is not None
    assert report.first_error.what == "malformed record"
    run(write(2, "b", close=True))
    data = path.read_bytes()
    assert data.startswith(whole) and b"serv\n" not in data and b'"actor":"serv{' not in data
    report = verify_trail(load_jsonl(path), PUB)
    assert report.ok and report.signed and report.events == 5


def test_a_failed_append_leaves_no_partial_batch(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "audit.jsonl"

    async def go() -> None:
        with JsonlSink(path) as sink:
            log = AuditLog(KEY, "w", sink, checkpoint_every=100, clock=Clock())
            await _append(log, 2)
            real = os.fsync
            calls = {"n": 0}

            def failing(fd: int) -> None:
                calls["n"] += 1
                raise OSError(5, "I/O error")

            monkeypatch.setattr(os, "fsync", failing)
            with pytest.raises(OSError):
                await _append(log, 1)
            monkeypatch.setattr(os, "fsync", real)
            assert calls["n"] == 1
        with JsonlSink(path) as sink:
            again = AuditLog(KEY, "w", sink, clock=Clock(T0 + 10**9))
            await _append(again, 1, "z")
            await again.close()

    run(go())
    report = verify_trail(load_jsonl(path), PUB)
    assert report.ok and report.events == 3


def test_sink_refuses_after_close(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "a.jsonl")
    sink.close()
    with pytest.raises(AuditError):
        run(sink.head("w"))
    assert "a.jsonl" in repr(sink)


def test_head_of_a_file_written_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    lines = sample_lines()
    path.write_bytes(blob(lines) + b"garbage line\n")
    with JsonlSink(path) as sink:
        head = run(sink.head("svc-a"))
        assert head is not None and head.seq == 31 and head.checkpoint is not None
        assert run(sink.head("nobody")) is None


# ------------------------------------------------------------------ reader


def _items(data: bytes) -> list[Any]:
    return list(iter_jsonl(io.BytesIO(data)))


def test_malformed_lines_are_reported_with_their_line_numbers() -> None:
    lines = sample_lines()
    bad = [
        b"",  # empty line
        b"not json",
        b"[1,2]",
        b'{"event":{}}',
        b'{"event":' + lines[0][9:].replace(b'"ok"', b'"ok" ', 1),  # not canonical
        lines[0].replace(b'{"event":{', b'{"event":{"extra":1,', 1),
        lines[0] + b"\r",  # CRLF
        b"\xff\xfe",
        b'{"checkpoint":"x.y.z"}',
        b'{"checkpoint":5}',
    ]
    data = blob(lines[:3] + bad + lines[3:])
    items = _items(data)
    assert len(items) == len(lines) + len(bad)
    for k in range(len(bad)):
        item = items[3 + k]
        assert isinstance(item, MalformedRecord) and item.line == 4 + k
    report = verify_trail(iter(items), PUB)
    assert report.malformed == len(bad)
    assert [e.position for e in report.errors[: len(bad)]] == list(range(4, 4 + len(bad)))
    assert report.first_error is not None and report.first_error.position == 4


def test_overlong_lines_are_skipped_without_holding_them() -> None:
    lines = sample_lines()
    long = b"x" * (3 * MAX_LINE)
    items = _items(blob([lines[0], long, lines[1]]) + long)  # and one at the end
    assert [type(i).__name__ for i in items] == [
        "AuditEvent",
        "MalformedRecord",
        "AuditEvent",
        "MalformedRecord",
    ]
    assert [i.line for i in items if isinstance(i, MalformedRecord)] == [2, 4]
    at_limit = b"y" * MAX_LINE
    assert isinstance(_items(at_limit + b"\n")[0], MalformedRecord)


def test_chunk_boundaries_do_not_matter() -> None:
    data = blob(sample_lines())

    class Dribble(io.RawIOBase):
        def __init__(self, payload: bytes, size: int) -> None:
            self.payload, self.size, self.pos = payload, size, 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            chunk = self.payload[self.pos : self.pos + min(self.size, n if n > 0 else self.size)]
            self.pos += len(chunk)
            return chunk

    expected = _items(data)
    for size in (1, 7, 100, 4096):
        assert list(iter_jsonl(Dribble(data, size))) == expected  # type: ignore[arg-type]


def test_last_line_without_newline() -> None:
    lines = sample_lines()
    assert _items(blob(lines)[:-1]) == _items(blob(lines))
    assert _items(b"") == []


@given(st.lists(st.binary(max_size=80), max_size=8))
def test_reader_and_verifier_never_crash_on_garbage(chunks: list[bytes]) -> None:
    lines = sample_lines()[:6]
    data = blob(lines) + b"\n".join(chunks)
    report = verify_trail(iter_jsonl(io.BytesIO(data)), PUB)
    assert report.records >= len(lines)
    assert report.ok == (report.malformed == 0 and report.errors_total == 0)


def test_load_jsonl_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(load_jsonl(tmp_path / "nope.jsonl"))
