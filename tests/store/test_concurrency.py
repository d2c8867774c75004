"""One use under races: many contenders attempt the same one-use step at once; exactly
one wins.  SQLite: threads, each with its own store (connection), and one store shared
by threads.  PostgreSQL: concurrent tasks on one store (its pool's connections race).
Both: processes, each with its own store."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

from zkattest.store import SQLiteStore, open_store
from zkattest.store.migrations import HEAD

from .conftest import (
    T0,
    AnyStore,
    agent,
    awaiting,
    close_loop,
    h,
    presentation_token,
    request_token,
    run,
    verification,
    with_params,
)

N_THREADS = 50
N_TASKS = 50
POOL = 10  # PostgreSQL connections racing in one store
N_PROCESSES = 8


def race(url: str, action: Callable[[Any, int], Awaitable[Any]]) -> list[Any]:
    """SQLite: one store per thread, all threads released at once.  PostgreSQL: one
    store with POOL connections, N_TASKS concurrent tasks.  Each contender's result."""
    if not url.startswith("sqlite:"):
        return run(_race_tasks(with_params(url, pool_min_size=POOL, pool_max_size=POOL), action))
    barrier = threading.Barrier(N_THREADS)
    results: list[Any] = [None] * N_THREADS
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            s = run(SQLiteStore.open(url))
            try:
                barrier.wait(timeout=60)
                results[i] = run(action(s, i))
            finally:
                run(s.close())
                close_loop()
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    return results


async def _race_tasks(url: str, action: Callable[[Any, int], Awaitable[Any]]) -> list[Any]:
    s = await open_store(url)
    try:
        start = asyncio.Event()

        async def contender(i: int) -> Any:
            await start.wait()
            return await action(s, i)

        tasks = [asyncio.ensure_future(contender(i)) for i in range(N_TASKS)]
        await asyncio.sleep(0)  # every task is waiting on the event
        start.set()
        return list(await asyncio.gather(*tasks))
    finally:
        await s.close()


def setup(store: AnyStore, *, claimed: bool = False, presented: bool = False) -> None:
    run(store.create_verification(verification()))
    if claimed or presented:
        assert run(store.claim_request(request_token("v1"), presentation_token("v1"), T0 + 1))
    if presented:
        assert run(store.begin_presentation("v1", presentation_token("v1"), "proof", T0, T0 + 60))


def test_claim_request_race(store: AnyStore, url: str) -> None:
    setup(store)
    results = race(url, lambda s, i: s.claim_request(request_token("v1"), h(f"p{i}"), T0 + 1))
    winners = [i for i, r in enumerate(results) if r is not None]
    assert len(winners) == 1
    rec = run(store.get_verification("v1"))
    assert rec is not None and rec.presentation_token_hash == h(f"p{winners[0]}")
    assert results[winners[0]] == rec


def test_begin_presentation_race(store: AnyStore, url: str) -> None:
    setup(store, claimed=True)
    pt = presentation_token("v1")
    results = race(url, lambda s, i: s.begin_presentation("v1", pt, "proof", T0 + 2, T0 + 2 + i))
    assert results.count(True) == 1
    assert results.count(False) == len(results) - 1
    rec = run(store.get_verification("v1"))
    assert rec is not None and rec.expires_at == T0 + 2 + results.index(True)


def test_finish_verification_race(store: AnyStore, url: str) -> None:
    setup(store, presented=True)
    results = race(
        url,
        lambda s, i: s.finish_verification(
            "v1",
            status="completed" if i % 2 else "failed",
            result=bool(i % 2),
            reason=None,
            attestation=f"att-{i}",
            agent_id=None,
            now=T0 + 3,
        ),
    )
    assert results.count(True) == 1
    rec = run(store.get_verification("v1"))
    assert rec is not None and rec.attestation == f"att-{results.index(True)}"


def test_transition_agent_race(store: AnyStore, url: str) -> None:
    setup(store)
    run(store.create_agent(agent()))
    results = race(
        url,
        lambda s, i: s.transition_agent(
            "a1", "provisioned", "running", T0 + 1, require_unexpired=True, running_at=T0 + i
        ),
    )
    assert results.count(True) == 1
    rec = run(store.get_agent("a1"))
    assert rec is not None and rec.state == "running"
    assert rec.running_at == T0 + results.index(True)


def decide_as(s: AnyStore, i: int) -> Coroutine[Any, Any, bool]:
    """Contender ``i``: even ones approve (each with its own deadline), odd ones deny."""
    return s.decide_approval(
        "v1", approve=i % 2 == 0, approver=f"human-{i}", now=T0 + 1, expires_at=T0 + 1000 + i
    )


def check_decision(store: AnyStore, winner: int) -> None:
    rec = run(store.get_verification("v1"))
    assert rec is not None
    assert (rec.approved_by, rec.approved_at) == (f"human-{winner}", T0 + 1)
    if winner % 2 == 0:
        assert (rec.status, rec.expires_at, rec.reason, rec.completed_at) == (
            "pending",
            T0 + 1000 + winner,
            None,
            None,
        )
    else:
        assert (rec.status, rec.expires_at, rec.reason, rec.completed_at) == (
            "failed",
            awaiting().expires_at,
            "approval_denied",
            T0 + 1,
        )


def test_decide_approval_race(store: AnyStore, url: str) -> None:
    run(store.create_verification(awaiting()))
    results = race(url, decide_as)
    assert results.count(True) == 1
    assert results.count(False) == len(results) - 1
    check_decision(store, results.index(True))


def test_decide_approval_race_one_connection(sqlite_store: SQLiteStore) -> None:
    # one store shared by the threads (its lock serialises them): the conditional UPDATE
    # still lets only the first decision through, whichever thread that is
    store = sqlite_store
    run(store.create_verification(awaiting()))
    barrier = threading.Barrier(N_THREADS)
    results: list[bool | None] = [None] * N_THREADS

    def worker(i: int) -> None:
        barrier.wait(timeout=60)
        results[i] = run(decide_as(store, i))
        close_loop()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results.count(True) == 1 and results.count(False) == N_THREADS - 1
    check_decision(store, results.index(True))


def test_use_once_race(store: AnyStore, url: str) -> None:
    results = race(url, lambda s, i: s.use_once("dpop", "jti-1", T0 + 60, T0))
    assert results.count(True) == 1


def test_use_once_race_on_an_expired_key(store: AnyStore, url: str) -> None:
    # the stored use has expired: replacing it is the one-use step that races now
    assert run(store.use_once("dpop", "jti-1", T0 + 60, T0))
    results = race(url, lambda s, i: s.use_once("dpop", "jti-1", T0 + 200 + i, T0 + 60))
    assert results.count(True) == 1
    winner = results.index(True)
    assert not run(store.use_once("dpop", "jti-1", T0 + 999, T0 + 200 + winner - 0.5))
    assert run(store.use_once("dpop", "jti-1", T0 + 999, T0 + 200 + winner))


def test_one_store_shared_by_threads(sqlite_store: SQLiteStore) -> None:
    # one instance, one connection, many threads: the lock serialises them
    store = sqlite_store
    barrier = threading.Barrier(N_THREADS)
    results: list[tuple[bool, bool]] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        barrier.wait(timeout=60)
        won = run(store.use_once("dpop", "shared", T0 + 60, T0))
        mine = run(store.use_once("dpop", f"own-{i}", T0 + 60, T0))
        close_loop()
        with lock:
            results.append((won, mine))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == N_THREADS
    assert [won for won, _ in results].count(True) == 1
    assert all(mine for _, mine in results)


# -- processes -------------------------------------------------------------------------------


def _transition_in_process(url: str, barrier: Any, results: Any, i: int) -> None:
    try:
        s = run(open_store(url))
        barrier.wait(timeout=120)
        ok = run(
            s.transition_agent(
                "a1", "provisioned", "running", T0 + 1, require_unexpired=True, running_at=T0 + i
            )
        )
        run(s.close())
        results.put((i, ok))
    except BaseException as e:
        results.put((i, f"error: {type(e).__name__}: {e}"))


def _decide_in_process(url: str, barrier: Any, results: Any, i: int) -> None:
    try:
        s = run(open_store(url))
        barrier.wait(timeout=120)
        ok = run(decide_as(s, i))
        run(s.close())
        results.put((i, ok))
    except BaseException as e:
        results.put((i, f"error: {type(e).__name__}: {e}"))


def _first_open_in_process(url: str, barrier: Any, results: Any, i: int) -> None:
    try:
        barrier.wait(timeout=120)
        s = run(open_store(url))  # a brand-new database: migrations race too
        ok = run(s.use_once("dpop", "jti", T0 + 60, T0))
        run(s.close())
        results.put((i, ok))
    except BaseException as e:
        results.put((i, f"error: {type(e).__name__}: {e}"))


def in_processes(target: Callable[..., None], url: str) -> dict[int, Any]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(N_PROCESSES)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, barrier, results, i)) for i in range(N_PROCESSES)
    ]
    for p in procs:
        p.start()
    out: dict[int, Any] = {}
    try:
        for _ in procs:
            i, r = results.get(timeout=180)
            out[i] = r
    except queue.Empty:
        pytest.fail(f"only {len(out)} of {N_PROCESSES} processes reported")
    finally:
        for p in procs:
            p.join(timeout=60)
        results.close()
        results.join_thread()
    assert [p.exitcode for p in procs] == [0] * N_PROCESSES
    return out


def test_transition_agent_race_across_processes(store: AnyStore, url: str) -> None:
    setup(store)
    run(store.create_agent(agent()))
    out = in_processes(_transition_in_process, url)
    assert sorted(out) == list(range(N_PROCESSES))
    assert sorted(map(repr, out.values())) == sorted(["True"] + ["False"] * (N_PROCESSES - 1))
    winner = next(i for i, ok in out.items() if ok is True)
    rec = run(store.get_agent("a1"))
    assert rec is not None and rec.state == "running" and rec.running_at == T0 + winner


def test_decide_approval_race_across_processes(store: AnyStore, url: str) -> None:
    run(store.create_verification(awaiting()))
    out = in_processes(_decide_in_process, url)
    assert sorted(out) == list(range(N_PROCESSES))
    assert sorted(map(repr, out.values())) == sorted(["True"] + ["False"] * (N_PROCESSES - 1))
    check_decision(store, next(i for i, ok in out.items() if ok is True))


def test_first_open_race_across_processes(fresh_url: str) -> None:
    out = in_processes(_first_open_in_process, fresh_url)
    assert sorted(map(repr, out.values())) == sorted(["True"] + ["False"] * (N_PROCESSES - 1))
    s = run(open_store(fresh_url))
    try:
        assert run(s.schema_revision()) == HEAD
    finally:
        run(s.close())
