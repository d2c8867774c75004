"""A bounded pool for proving and verifying, off the event loop.

Two kinds of work, each with its own bound, so slow proofs cannot starve cheap
verifications:

* ``"job"``: any function on ``workers`` threads (delegated proving, attestation
  checks); at most ``workers + queue`` in flight.
* ``"verify"``: one Groth16 proof check, queued for a batch thread that verifies
  whatever has accumulated in one random-linear-combination check
  (:func:`~zkattest.groth16.verify_batch`; a failing batch is bisected, so each
  proof gets its own verdict); at most ``verify_queue`` in flight.  Under load
  batches grow by themselves (no waiting for a batch to fill): one proof alone
  costs a single verification, 64 together about a third each.

The C core releases the GIL, so these threads use every core.
:meth:`WorkPool.reserve` takes a slot without waiting or raises :class:`Saturated`
(the service answers 503 with ``Retry-After``): never an unbounded queue.  A slot
is taken *before* any state changes, so a refused request consumes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal, TypeVar

from .. import errors
from ..groth16 import Proof, VerifyingKey, verify, verify_batch
from .hooks import NO_HOOKS, Hooks

__all__ = ["PoolStats", "Saturated", "Slot", "WorkPool"]

T = TypeVar("T")
log = logging.getLogger("zkattest.agents")


class Saturated(errors.ZkAttestError):
    """Every slot of the pool is taken; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the proof pool is saturated; retry after {retry_after} s")
        self.retry_after = retry_after


class Slot:
    """One reserved place in the pool; released once (when its job ends, or by
    :meth:`release` / :meth:`release_unless_submitted` if no job was started)."""

    __slots__ = ("_pool", "_released", "_submitted", "kind")

    def __init__(self, pool: WorkPool, kind: Kind) -> None:
        self._pool = pool
        self.kind: Kind = kind
        self._released = False
        self._submitted = False

    def release(self) -> None:
        self._pool._release(self)

    def release_unless_submitted(self) -> None:
        """Release, unless a job runs on it (that job releases it when it ends)."""
        if not self._submitted:
            self.release()

    def _submit(self, pool: WorkPool) -> None:
        # the slot's kind says which bound it counts against; any kind may carry any work
        if self._pool is not pool or self._released or self._submitted:
            raise errors.InvalidParameter("needs a live, unused slot of this pool")
        self._submitted = True

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release_unless_submitted()


Kind = Literal["job", "verify"]


class PoolStats:
    __slots__ = (
        "batches",
        "capacity",
        "completed",
        "in_flight",
        "largest_batch",
        "rejected",
        "verify_capacity",
        "verify_in_flight",
        "workers",
    )

    def __init__(self, **values: int) -> None:
        for k in self.__slots__:
            setattr(self, k, values[k])

    def to_dict(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in self.__slots__}


class _Batcher:
    """The verification thread: drains the queue into batches of one key."""

    def __init__(self, max_batch: int, hooks: Hooks = NO_HOOKS) -> None:
        self.max_batch = max_batch
        self.hooks = hooks
        self._cv = threading.Condition()
        self._items: list[tuple[VerifyingKey, list[int], Proof, Future[bool]]] = []
        self._stop = False
        self.batches = 0
        self.largest = 0
        self._thread = threading.Thread(target=self._loop, name="zkattest-verify", daemon=True)
        self._thread.start()

    def submit(self, vk: VerifyingKey, public: list[int], proof: Proof) -> Future[bool]:
        fut: Future[bool] = Future()
        with self._cv:
            if self._stop:
                raise errors.InvalidParameter("the pool is shut down")
            self._items.append((vk, public, proof, fut))
            self._cv.notify()
        return fut

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._items and not self._stop:
                    self._cv.wait()
                if not self._items:
                    return
                vk = self._items[0][0]
                batch = [it for it in self._items if it[0] is vk][: self.max_batch]
                taken = {id(it[3]) for it in batch}
                self._items = [it for it in self._items if id(it[3]) not in taken]
            self.batches += 1
            self.largest = max(self.largest, len(batch))
            self._run(vk, batch, self.hooks)

    @staticmethod
    def _run(
        vk: VerifyingKey,
        batch: list[tuple[VerifyingKey, list[int], Proof, Future[bool]]],
        hooks: Hooks = NO_HOOKS,
    ) -> None:
        live = [it for it in batch if it[3].set_running_or_notify_cancel()]
        if not live:
            return
        t0 = time.perf_counter()
        try:
            res = verify_batch(
                vk, [(pub, proof) for _, pub, proof, _ in live], expected_circuit_id=vk.circuit_id
            )
            verdicts = [i not in res.failed for i in range(len(live))]
        except errors.InvalidInput:
            # a misuse somewhere in the batch: each on its own, so one bad item fails alone
            verdicts = []
            for _, pub, proof, _ in live:
                try:
                    verdicts.append(verify(vk, pub, proof, expected_circuit_id=vk.circuit_id))
                except errors.InvalidInput:
                    verdicts.append(False)
        except BaseException as e:  # pragma: no cover - a native failure: report, keep serving
            for *_, fut in live:
                fut.set_exception(e)
            return
        seconds = time.perf_counter() - t0
        for (*_, fut), ok in zip(live, verdicts, strict=True):
            fut.set_result(ok)
        try:  # after the verdicts: a failing hook must not hold up a request
            hooks.verify_batch(len(live), verdicts.count(False), seconds)
        except Exception:
            log.exception("the verify_batch hook failed")

    def shutdown(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join()


class WorkPool:
    """``workers`` threads with at most ``queue`` more jobs waiting, and a batch
    verification thread with at most ``verify_queue`` proofs in flight."""

    def __init__(
        self,
        workers: int,
        queue: int,
        *,
        verify_queue: int = 256,
        max_batch: int = 64,
        retry_after: int = 1,
        hooks: Hooks = NO_HOOKS,
    ) -> None:
        if workers < 1 or queue < 0 or verify_queue < 1 or max_batch < 1:
            raise errors.InvalidParameter(
                "a pool needs workers >= 1, queue >= 0, verify_queue >= 1, max_batch >= 1"
            )
        self.workers = workers
        self.capacity = workers + queue
        self.verify_capacity = verify_queue
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._in_flight = {"job": 0, "verify": 0}
        self._rejected = 0
        self._completed = 0
        self._exec = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zkattest-agent")
        self._batcher = _Batcher(max_batch, hooks)

    def reserve(self, kind: Kind = "job") -> Slot:
        """A slot for ``kind`` of work, or :class:`Saturated` at once."""
        cap = self.capacity if kind == "job" else self.verify_capacity
        with self._lock:
            if self._in_flight[kind] >= cap:
                self._rejected += 1
                raise Saturated(self.retry_after)
            self._in_flight[kind] += 1
        return Slot(self, kind)

    def _release(self, slot: Slot) -> None:
        with self._lock:  # the job's done-callback and the request may both release
            if slot._released:
                return
            slot._released = True
            self._in_flight[slot.kind] -= 1
            if slot._submitted:
                self._completed += 1

    def _track(self, slot: Slot, fut: Future[T]) -> asyncio.Future[T]:
        # released when the job really ends (not when an awaiting request is cancelled)
        fut.add_done_callback(lambda _f: slot.release())
        return asyncio.wrap_future(fut)

    async def run(self, slot: Slot, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on a worker thread (a ``"job"`` slot)."""
        slot._submit(self)
        try:
            fut = self._exec.submit(fn, *args)
        except BaseException:
            slot.release()
            raise
        return await self._track(slot, fut)

    async def verify(self, slot: Slot, vk: VerifyingKey, public: list[int], proof: Proof) -> bool:
        """Whether ``proof`` verifies for ``public`` under ``vk``, checked in a batch
        with whatever else is waiting (a ``"verify"`` slot)."""
        slot._submit(self)
        try:
            fut = self._batcher.submit(vk, public, proof)
        except BaseException:
            slot.release()
            raise
        return await self._track(slot, fut)

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(
                workers=self.workers,
                capacity=self.capacity,
                in_flight=self._in_flight["job"],
                verify_capacity=self.verify_capacity,
                verify_in_flight=self._in_flight["verify"],
                rejected=self._rejected,
                completed=self._completed,
                batches=self._batcher.batches,
                largest_batch=self._batcher.largest,
            )

    def shutdown(self) -> None:
        self._batcher.shutdown()
        self._exec.shutdown(wait=True, cancel_futures=True)
