"""The JSON-lines trail file: a sink that appends to it and a streaming reader.

Format: one record per line (:func:`~zkattest.audit.events.encode_record`), ``\\n``
after every record.  :class:`JsonlSink` appends a batch with one ``write`` and one
``fsync`` while holding an exclusive ``flock`` on the file, so several writers (several
processes, or several sinks in one process) can share a file: under the lock each
first reads what the others appended since its last look (it keeps the head of every
chain, so a resumed writer finds its own), then checks that its batch continues its
chain (compare-and-append, :func:`~zkattest.audit.log.advance_head`).

A writer that crashes in the middle of a write can leave a partial last line.  That
record was never acknowledged (``append`` returns after the ``fsync``), so the next
writer, under the lock, truncates the file back to its last complete line before
appending; without that, the torn line would become a malformed record in the middle
of the trail.  The first ``head``/``write`` reads the file whole to index the chains'
heads (one pass, about 0.2 s per 100,000 records): the file sink is for a single
machine; a database sink serves a fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Final

import msgspec
from msgspec import Struct

from .events import (
    MAX_LINE,
    AuditError,
    AuditEvent,
    AuditFormatError,
    Checkpoint,
    MalformedRecord,
    decode_record,
    encode_record,
)
from .log import ChainHead, advance_head, chain_of

__all__ = ["JsonlSink", "iter_jsonl", "load_jsonl"]

_CHUNK: Final = 1 << 20


# --------------------------------------------------------------------------- reading


def _parse(raw: bytes, line: int) -> AuditEvent | Checkpoint | MalformedRecord:
    if not raw:
        return MalformedRecord(line, "empty line")
    try:
        return decode_record(raw)
    except AuditFormatError as exc:
        return MalformedRecord(line, str(exc))


def iter_jsonl(stream: BinaryIO) -> Iterator[AuditEvent | Checkpoint | MalformedRecord]:
    """Records of a binary stream, one item per line (so an item's position is its
    line number); unreadable lines (bad JSON, outside the schema, not canonical,
    empty, longer than ``MAX_LINE``) become :class:`MalformedRecord` items.  Memory:
    one chunk (1 MiB) plus one line.  A last line without ``\\n`` is read as a record."""
    line = 0
    rest = b""
    oversize = False  # inside a line already known to be too long
    while chunk := stream.read(_CHUNK):
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            if not oversize:
                rest += chunk
                if len(rest) > MAX_LINE:
                    oversize, rest = True, b""
            continue
        line += 1
        if oversize:
            yield MalformedRecord(line, f"line longer than {MAX_LINE} bytes")
        else:
            yield _parse(rest + parts[0], line)
        for raw in parts[1:-1]:
            line += 1
            yield _parse(raw, line)
        rest, oversize = parts[-1], False
        if len(rest) > MAX_LINE:
            oversize, rest = True, b""
    if oversize:
        yield MalformedRecord(line + 1, f"line longer than {MAX_LINE} bytes")
    elif rest:
        yield _parse(rest, line + 1)


def load_jsonl(
    path: str | os.PathLike[str],
) -> Iterator[AuditEvent | Checkpoint | MalformedRecord]:
    """Stream the records of a trail file (see :func:`iter_jsonl`).  Opening the file
    happens on the first ``next()``; ``OSError`` propagates."""
    with open(path, "rb") as stream:
        yield from iter_jsonl(stream)


# --------------------------------------------------------------------------- the sink


class _ProbeEvent(Struct):
    chain_id: str
    seq: int
    hash: str
    ts: int


class _Probe(Struct):
    event: _ProbeEvent | None = None
    checkpoint: str | None = None


_PROBE: Final = msgspec.json.Decoder(_Probe)


class JsonlSink:
    """An :class:`~zkattest.audit.AuditSink` appending to a JSON-lines file (module
    docstring).  ``fsync=False`` skips the fsync (tests, benchmarks: not durable)."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closed = False
        self._offset = 0  # bytes of the file indexed into _heads
        self._heads: dict[str, ChainHead] = {}

    async def write(self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None) -> None:
        if chain_of(events, checkpoint) is None:
            return
        data = b"".join(encode_record(ev) + b"\n" for ev in events)
        if checkpoint is not None:
            data += encode_record(checkpoint) + b"\n"
        await asyncio.to_thread(self._write_sync, events, checkpoint, data)

    async def head(self, chain_id: str) -> ChainHead | None:
        return await asyncio.to_thread(self._head_sync, chain_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"

    # ------------------------------------------------------------------ internals

    def _open(self) -> int:
        if self._closed:
            raise AuditError("the sink is closed")
        if self._fd is None:
            created = not self.path.exists()
            self._fd = os.open(
                self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
            if created and self._fsync:
                # the new directory entry must survive a crash too
                dfd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        return self._fd

    def _head_sync(self, chain_id: str) -> ChainHead | None:
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                self._catch_up(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            return self._heads.get(chain_id)

    def _write_sync(
        self, events: Sequence[AuditEvent], checkpoint: Checkpoint | None, data: bytes
    ) -> None:
        chain_id = chain_of(events, checkpoint)
        assert chain_id is not None
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                self._catch_up(fd)
                new = advance_head(self._heads.get(chain_id), events, checkpoint)
                start = self._offset
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    if self._fsync:
                        os.fsync(fd)
                except BaseException:
                    # leave no partial batch behind (we hold the lock: nobody appended)
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, start)
                    raise
                self._offset = start + len(data)
                self._heads[chain_id] = new
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _catch_up(self, fd: int) -> None:
        """Index the records appended since our last look; cut a torn last line."""
        size = os.fstat(fd).st_size
        if size < self._offset:  # the file was truncated behind our back: re-read it
            self._offset = 0
            self._heads.clear()
        pos = self._offset
        rest = b""
        while pos < size:
            chunk = os.pread(fd, min(_CHUNK, size - pos), pos)
            if not chunk:
                break
            pos += len(chunk)
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for raw in parts:
                self._index(raw)
        if rest:
            # a partial line at the end: a writer died mid-write; drop it
            os.ftruncate(fd, pos - len(rest))
            os.fsync(fd)
            pos -= len(rest)
        self._offset = pos

    def _index(self, raw: bytes) -> None:
        try:
            probe = _PROBE.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            return  # the verifier reports it; a sink does not judge
        ev = probe.event
        if ev is not None:
            old = self._heads.get(ev.chain_id)
            cp = old.checkpoint if old is not None else None
            self._heads[ev.chain_id] = ChainHead(ev.seq, ev.hash, ev.ts, cp)
        elif probe.checkpoint is not None:
            try:
                cp = Checkpoint.from_jws(probe.checkpoint)
            except AuditFormatError:
                return
            old = self._heads.get(cp.chain_id)
            if old is not None:
                self._heads[cp.chain_id] = old._replace(checkpoint=cp)
