"""A bounded pool for proving and verifying, off the event loop.

The C core releases the GIL, so worker threads use every core.  Capacity is
``workers + queue`` jobs in flight; :meth:`WorkPool.reserve` takes a slot without
waiting or raises :class:`Saturated` (the service answers 503 with ``Retry-After``),
so there is never an unbounded queue.  A slot is taken *before* any state changes,
so a refused request consumes nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .. import errors

__all__ = ["PoolStats", "Saturated", "Slot", "WorkPool"]

T = TypeVar("T")


class Saturated(errors.ZkAttestError):
    """Every slot of the pool is taken; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the proof pool is saturated; retry after {retry_after} s")
        self.retry_after = retry_after


class Slot:
    """One reserved place in the pool; released once (by :meth:`WorkPool.run` or
    :meth:`release`), whichever comes first."""

    __slots__ = ("_pool", "_released", "_submitted")

    def __init__(self, pool: WorkPool) -> None:
        self._pool = pool
        self._released = False
        self._submitted = False

    def release(self) -> None:
        self._pool._release(self)

    def release_unless_submitted(self) -> None:
        """Release, unless a job runs on it (that job releases it when it ends)."""
        if not self._submitted:
            self.release()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release_unless_submitted()


class PoolStats:
    __slots__ = ("capacity", "completed", "in_flight", "rejected", "workers")

    def __init__(
        self, workers: int, capacity: int, in_flight: int, rejected: int, completed: int
    ) -> None:
        self.workers = workers
        self.capacity = capacity
        self.in_flight = in_flight
        self.rejected = rejected
        self.completed = completed

    def to_dict(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in self.__slots__}


class WorkPool:
    """``workers`` threads and at most ``queue`` more jobs waiting for one."""

    def __init__(self, workers: int, queue: int, *, retry_after: int = 1) -> None:
        if workers < 1 or queue < 0:
            raise errors.InvalidParameter("a pool needs workers >= 1 and queue >= 0")
        self.workers = workers
        self.capacity = workers + queue
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._in_flight = 0
        self._rejected = 0
        self._completed = 0
        self._exec = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zkattest-agent")

    def reserve(self) -> Slot:
        """A slot, or :class:`Saturated` at once."""
        with self._lock:
            if self._in_flight >= self.capacity:
                self._rejected += 1
                raise Saturated(self.retry_after)
            self._in_flight += 1
        return Slot(self)

    def _release(self, slot: Slot) -> None:
        with self._lock:  # the job's done-callback and the request may both release
            if slot._released:
                return
            slot._released = True
            self._in_flight -= 1
            if slot._submitted:
                self._completed += 1

    async def run(self, slot: Slot, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on a worker thread; the slot is released when it ends."""
        if slot._pool is not self or slot._released or slot._submitted:
            raise errors.InvalidParameter("run() needs a live, unused slot of this pool")
        slot._submitted = True
        try:
            fut = self._exec.submit(fn, *args)
        except BaseException:
            slot.release()
            raise
        # released when the job really ends (not when an awaiting request is cancelled)
        fut.add_done_callback(lambda _f: slot.release())
        return await asyncio.wrap_future(fut)

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(
                self.workers, self.capacity, self._in_flight, self._rejected, self._completed
            )

    def shutdown(self) -> None:
        self._exec.shutdown(wait=True, cancel_futures=True)
