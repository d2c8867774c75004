"""WorkPool: bounded capacity, Saturated at once, slots released exactly once when the
job really ends (also when it raises or its awaiting task is cancelled)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from zkattest import errors
from zkattest.agents import PoolStats, Saturated, Slot, WorkPool
from zkattest.credentials import KeyStore, Presentation
from zkattest.groth16 import verify

from .conftest import run, wait_until


@pytest.fixture
def pool() -> Iterator[WorkPool]:
    p = WorkPool(2, 3, retry_after=7)
    yield p
    p.shutdown()


def in_flight(pool: WorkPool) -> int:
    return pool.stats().in_flight


class Blocked:
    """A job that signals when it starts and waits until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()
        self.ended = threading.Event()

    def __call__(self, value: int = 1) -> int:
        self.started.set()
        try:
            assert self.go.wait(10), "the test never released the job"
            return value
        finally:
            self.ended.set()


def test_bad_sizes() -> None:
    with pytest.raises(errors.InvalidParameter):
        WorkPool(0, 1)
    with pytest.raises(errors.InvalidParameter):
        WorkPool(1, -1)


def test_reserve_up_to_capacity_then_saturated(pool: WorkPool) -> None:
    assert pool.capacity == 5 and pool.workers == 2
    slots = [pool.reserve() for _ in range(5)]
    assert in_flight(pool) == 5
    for _ in range(3):
        with pytest.raises(Saturated) as e:
            pool.reserve()
        assert e.value.retry_after == 7
        assert isinstance(e.value, errors.ZkAttestError)
    assert pool.stats().rejected == 3
    slots[0].release()
    again = pool.reserve()  # room again
    assert in_flight(pool) == 5
    for s in [again, *slots[1:]]:
        s.release()
    assert in_flight(pool) == 0


def test_slot_released_when_job_ends(pool: WorkPool) -> None:
    slot = pool.reserve()
    assert run(pool.run(slot, lambda a, b: a + b, 40, 2)) == 42
    wait_until(lambda: in_flight(pool) == 0)
    assert pool.stats().completed == 1


def test_slot_released_when_job_raises(pool: WorkPool) -> None:
    def boom() -> None:
        raise ValueError("job failed")

    slot = pool.reserve()
    with pytest.raises(ValueError, match="job failed"):
        run(pool.run(slot, boom))
    wait_until(lambda: in_flight(pool) == 0)
    # the pool still works and never went negative
    s = pool.reserve()
    assert in_flight(pool) == 1
    s.release()
    assert in_flight(pool) == 0


def test_release_is_idempotent(pool: WorkPool) -> None:
    a, b = pool.reserve(), pool.reserve()
    a.release()
    a.release()
    with a:
        pass
    a.release_unless_submitted()
    assert in_flight(pool) == 1
    b.release()
    assert in_flight(pool) == 0


def test_release_after_job_is_a_no_op(pool: WorkPool) -> None:
    slot = pool.reserve()
    run(pool.run(slot, int))
    wait_until(lambda: in_flight(pool) == 0)
    slot.release()
    slot.release_unless_submitted()
    assert in_flight(pool) == 0
    assert pool.stats().completed == 1


def test_run_refuses_slot_of_another_pool(pool: WorkPool) -> None:
    other = WorkPool(1, 0)
    try:
        foreign = other.reserve()
        ran: list[int] = []
        with pytest.raises(errors.InvalidParameter):
            run(pool.run(foreign, ran.append, 1))
        assert ran == []
        assert in_flight(pool) == 0 and other.stats().in_flight == 1
        foreign.release()
        assert other.stats().in_flight == 0
    finally:
        other.shutdown()


def test_run_refuses_released_slot(pool: WorkPool) -> None:
    slot = pool.reserve()
    slot.release()
    ran: list[int] = []
    with pytest.raises(errors.InvalidParameter):
        run(pool.run(slot, ran.append, 1))
    assert ran == [] and in_flight(pool) == 0


def test_run_refuses_slot_used_twice(pool: WorkPool) -> None:
    job = Blocked()
    slot = pool.reserve()

    async def main() -> None:
        task = asyncio.ensure_future(pool.run(slot, job))
        await asyncio.to_thread(job.started.wait, 10)
        with pytest.raises(errors.InvalidParameter):  # while the first job runs
            await pool.run(slot, job)
        assert in_flight(pool) == 1
        job.go.set()
        assert await task == 1

    run(main())
    wait_until(lambda: in_flight(pool) == 0)
    with pytest.raises(errors.InvalidParameter):  # after it ended
        run(pool.run(slot, int))
    assert in_flight(pool) == 0 and pool.stats().completed == 1


def test_release_unless_submitted(pool: WorkPool) -> None:
    idle = pool.reserve()
    idle.release_unless_submitted()  # no job: released
    assert in_flight(pool) == 0

    job = Blocked()
    slot = pool.reserve()

    async def main() -> None:
        task = asyncio.ensure_future(pool.run(slot, job))
        await asyncio.to_thread(job.started.wait, 10)
        slot.release_unless_submitted()  # a job runs on it: not released
        assert in_flight(pool) == 1
        job.go.set()
        await task

    run(main())
    wait_until(lambda: in_flight(pool) == 0)
    slot.release_unless_submitted()
    assert in_flight(pool) == 0


def test_cancelled_awaiter_keeps_slot_until_job_ends(pool: WorkPool) -> None:
    job = Blocked()
    slot = pool.reserve()

    async def main() -> None:
        task = asyncio.ensure_future(pool.run(slot, job))
        await asyncio.to_thread(job.started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the request is gone, the job is not: its slot stays taken
        assert not job.ended.is_set()
        assert in_flight(pool) == 1

    run(main())
    assert in_flight(pool) == 1
    job.go.set()
    assert job.ended.wait(10)
    wait_until(lambda: in_flight(pool) == 0)
    assert pool.stats().completed == 1


def test_cancelled_before_start_frees_slot_and_never_runs() -> None:
    pool = WorkPool(1, 1)
    try:
        first, queued = Blocked(), Blocked()
        s1, s2 = pool.reserve(), pool.reserve()

        async def main() -> None:
            t1 = asyncio.ensure_future(pool.run(s1, first))
            await asyncio.to_thread(first.started.wait, 10)
            t2 = asyncio.ensure_future(pool.run(s2, queued))
            await asyncio.sleep(0)
            t2.cancel()  # still queued behind the one worker
            with pytest.raises(asyncio.CancelledError):
                await t2
            first.go.set()
            await t1

        run(main())
        wait_until(lambda: pool.stats().in_flight == 0)
        assert not queued.started.is_set()
    finally:
        pool.shutdown()


def test_context_manager_does_not_free_a_running_job(pool: WorkPool) -> None:
    """``with pool.reserve() as slot: await pool.run(slot, ...)`` cancelled mid-job must
    not hand the slot back while the job still runs (capacity would be exceeded)."""
    job = Blocked()

    async def request() -> None:
        with pool.reserve() as slot:
            await pool.run(slot, job)

    async def main() -> None:
        task = asyncio.ensure_future(request())
        await asyncio.to_thread(job.started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        run(main())
        assert in_flight(pool) == 1, "slot freed while its job still runs"
    finally:
        job.go.set()
    wait_until(lambda: in_flight(pool) == 0)


def test_stats(pool: WorkPool) -> None:
    s = pool.stats()
    assert isinstance(s, PoolStats)
    idle = {"batches": 0, "largest_batch": 0, "verify_capacity": 256, "verify_in_flight": 0}
    assert s.to_dict() == {
        "capacity": 5,
        "completed": 0,
        "in_flight": 0,
        "rejected": 0,
        "workers": 2,
        **idle,
    }
    for _ in range(3):
        run(pool.run(pool.reserve(), int))
    wait_until(lambda: in_flight(pool) == 0)
    held = [pool.reserve() for _ in range(5)]
    for _ in range(2):
        with pytest.raises(Saturated):
            pool.reserve()
    d = pool.stats().to_dict()
    assert d == {
        "capacity": 5,
        "completed": 3,
        "in_flight": 5,
        "rejected": 2,
        "workers": 2,
        **idle,
    }
    for slot in held:
        slot.release()
    assert pool.stats().in_flight == 0


def test_200_threads_never_exceed_capacity() -> None:
    """200 threads reserve at once against capacity 10; jobs block until every thread
    has tried, so exactly 10 get a slot; inside every job the pool and a counter of
    slot holders stay within capacity, and at most ``workers`` jobs run at once."""
    pool = WorkPool(3, 7)
    n = 200
    lock = threading.Lock()
    holders = running = max_holders = max_running = 0
    attempts = granted = rejected = 0
    violations: list[str] = []
    all_tried = threading.Event()
    start = threading.Barrier(n)

    def job() -> None:
        nonlocal running, max_running, holders
        with lock:
            running += 1
            max_running = max(max_running, running)
            if pool.stats().in_flight > pool.capacity:
                violations.append("pool in_flight above capacity")
        all_tried.wait(10)
        with lock:
            running -= 1
            holders -= 1

    def worker() -> None:
        nonlocal attempts, granted, rejected, holders, max_holders
        start.wait(10)
        slot: Slot | None
        try:
            slot = pool.reserve()
        except Saturated:
            slot = None
        with lock:
            attempts += 1
            if slot is None:
                rejected += 1
            else:
                granted += 1
                holders += 1
                max_holders = max(max_holders, holders)
            if attempts == n:
                all_tried.set()
        if slot is not None:
            asyncio.run(pool.run(slot, job))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads)
        assert violations == []
        assert granted == pool.capacity == 10 and rejected == n - 10
        assert max_holders <= pool.capacity
        assert max_running <= pool.workers
        wait_until(lambda: pool.stats().in_flight == 0)
        st = pool.stats()
        assert (st.rejected, st.completed) == (n - 10, 10)
    finally:
        all_tried.set()
        pool.shutdown()


# ---------------------------------------------------------------- batch verification
def _variants(keys: KeyStore, yes: Presentation, no: Presentation) -> list[tuple[list[int], Any]]:
    """Valid and invalid (public signal changed, proofs swapped) items of one key."""
    a, b = list(yes.public), list(no.public)
    wrong = list(a)
    wrong[7] = (wrong[7] + 1) % (1 << 250)  # the nonce
    return [(a, yes.proof), (b, no.proof), (wrong, yes.proof), (a, no.proof), (b, yes.proof)]


def test_batch_verdicts_match_plain_verify(
    keys: KeyStore, pres_yes: Presentation, pres_no: Presentation
) -> None:
    """Each item of a batch gets the verdict a plain verify() gives it (the batch is
    bisected when it fails), however the items are grouped."""
    vk = keys.verifying_key("age_gte")
    items = _variants(keys, pres_yes, pres_no) * 4
    expected = [verify(vk, pub, proof) for pub, proof in items]
    assert expected.count(True) == 8 and expected.count(False) == 12
    pool = WorkPool(1, 0, max_batch=7)
    try:

        async def go() -> list[bool]:
            slots = [pool.reserve("verify") for _ in items]
            return await asyncio.gather(
                *(
                    pool.verify(s, vk, pub, proof)
                    for s, (pub, proof) in zip(slots, items, strict=True)
                )
            )

        assert run(go()) == expected
        st = pool.stats()
        assert st.verify_in_flight == 0 and st.batches >= 3 and st.largest_batch <= 7
    finally:
        pool.shutdown()


def test_batch_run_directly(keys: KeyStore, pres_yes: Presentation, pres_no: Presentation) -> None:
    """The batch step itself, on a fixed list: verdicts in order, cancelled futures skipped."""
    from concurrent.futures import Future

    from zkattest.agents.pool import _Batcher

    vk = keys.verifying_key("age_gte")
    items = _variants(keys, pres_yes, pres_no)
    futs: list[Future[bool]] = [Future() for _ in items]
    futs[1].cancel()
    _Batcher._run(vk, [(vk, pub, proof, f) for (pub, proof), f in zip(items, futs, strict=True)])
    got = [None if f.cancelled() else f.result() for f in futs]
    assert got == [True, None, False, False, False]


def test_verify_slots_bounded_separately(pool: WorkPool) -> None:
    """Slow jobs filling the job slots leave verification slots free, and vice versa."""
    jobs = [pool.reserve() for _ in range(pool.capacity)]
    with pytest.raises(Saturated):
        pool.reserve()
    verifies = [pool.reserve("verify") for _ in range(pool.verify_capacity)]
    with pytest.raises(Saturated):
        pool.reserve("verify")
    st = pool.stats()
    assert st.in_flight == pool.capacity and st.verify_in_flight == pool.verify_capacity
    for s in jobs + verifies:
        s.release()
    assert pool.stats().in_flight == 0 and pool.stats().verify_in_flight == 0
