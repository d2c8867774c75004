"""Single use under concurrency: of 50 attempts on one request URI, one presentation
or one agent, exactly one succeeds -- in one event loop (an in-loop ASGI client +
asyncio.gather; see conftest.async_client for why not AsyncTestClient), across
threads (several sync clients), and across two apps on one database file (two
store connections, as two replicas)."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from zkattest.agents import AgentError
from zkattest.credentials import Credential, Holder
from zkattest.service import Resources, create_app

from .conftest import (
    assert_problem,
    async_client,
    bearer,
    check_created,
    create,
    create_body,
    fetch,
    path_of,
    proof_body,
    prove,
    read,
    services,
)

N = 50
T = TypeVar("T")


def _statuses(rs: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in rs)


def _in_threads(n: int, fn: Callable[[int], T]) -> list[T]:
    """``fn(0..n-1)`` on ``n`` threads released together."""
    barrier = threading.Barrier(n)

    def one(i: int) -> T:
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(one, range(n)))


@pytest.fixture
def sync_clients(
    res: Resources,
) -> Iterator[tuple[TestClient[Litestar], list[TestClient[Litestar]]]]:
    """One app: an owner client (runs the lifespan) and 8 more sync clients of the
    same app (not entered, so no second lifespan: each request runs on its own
    event loop thread; they hold nothing to close)."""
    app = create_app(resources=res)
    with TestClient(app) as owner:
        yield owner, [TestClient(app) for _ in range(8)]


# -- (a) one request URI ----------------------------------------------------------------------


def test_request_uri_once_async(res: Resources) -> None:
    async def main() -> list[httpx.Response]:
        async with async_client(create_app(resources=res)) as c:
            verifier = secrets.token_urlsafe(48)
            created = check_created(
                await c.post("/v1/verifications", json=create_body(verifier)), verifier
            )
            return list(await asyncio.gather(*(c.get(created.request_path) for _ in range(N))))

    rs = asyncio.run(main())
    assert _statuses(rs) == {200: 1, 410: N - 1}
    for r in rs:
        if r.status_code == 410:
            assert_problem(r, 410, "used")
    tokens = {r.json()["presentation_token"] for r in rs if r.status_code == 200}
    assert len(tokens) == 1


def test_request_uri_once_threads(
    sync_clients: tuple[TestClient[Litestar], list[TestClient[Litestar]]],
) -> None:
    owner, extra = sync_clients
    created = create(owner)
    rs = _in_threads(N, lambda i: extra[i % len(extra)].get(created.request_path))
    assert _statuses(rs) == {200: 1, 410: N - 1}
    for r in rs:
        if r.status_code != 200:
            assert_problem(r, 410, "used")


# -- (b) one verification's presentation ------------------------------------------------------


def _assert_one_presentation(rs: list[httpx.Response]) -> str:
    assert _statuses(rs) == {200: 1, 409: N - 1}, _statuses(rs)
    for r in rs:
        if r.status_code == 409:
            assert_problem(r, 409, "replay")
    (winner,) = (r for r in rs if r.status_code == 200)
    agent_id: str = winner.json()["agent_id"]
    return agent_id


def test_presentation_once_async(res: Resources, holder: Holder, leap_cred: Credential) -> None:
    async def main() -> tuple[list[httpx.Response], dict[str, Any], dict[str, Any]]:
        app = create_app(resources=res)
        async with async_client(app) as c:
            verifier = secrets.token_urlsafe(48)
            created = check_created(
                await c.post("/v1/verifications", json=create_body(verifier)), verifier
            )
            hreq = (await c.get(created.request_path)).json()
            body = proof_body(prove(res, holder, leap_cred, hreq))
            headers = bearer(hreq["presentation_token"])
            path = path_of(hreq["presentation_uri"])
            rs = await asyncio.gather(*(c.post(path, json=body, headers=headers) for _ in range(N)))
            st = (await c.get(created.read_path, params=created.read_params)).json()
            counts = await services(app).store.counts()
            return list(rs), st, counts

    rs, st, counts = asyncio.run(main())
    agent_id = _assert_one_presentation(rs)
    assert st["status"] == "completed" and st["agent_id"] == agent_id
    # the losers provisioned nothing: one agent, retired
    assert sum(counts["agents"].values()) == 1
    assert counts["agents"]["retired"] == 1


def test_presentation_once_threads(
    sync_clients: tuple[TestClient[Litestar], list[TestClient[Litestar]]],
    res: Resources,
    holder: Holder,
    leap_cred: Credential,
) -> None:
    owner, extra = sync_clients
    created = create(owner)
    hreq = fetch(owner, created)
    body = proof_body(prove(res, holder, leap_cred, hreq))
    path = path_of(hreq["presentation_uri"])
    headers = bearer(hreq["presentation_token"])
    rs = _in_threads(N, lambda i: extra[i % len(extra)].post(path, json=body, headers=headers))
    agent_id = _assert_one_presentation(rs)
    st = read(owner, created)
    assert st["status"] == "completed" and st["agent_id"] == agent_id


# -- (c) one agent ----------------------------------------------------------------------------


def test_agent_start_once_async(res: Resources) -> None:
    async def main() -> tuple[list[BaseException | None], str]:
        app = create_app(resources=res)
        async with async_client(app) as c:
            verifier = secrets.token_urlsafe(48)
            created = check_created(
                await c.post("/v1/verifications", json=create_body(verifier)), verifier
            )
            svc = services(app)
            record = await svc.store.get_verification(created.id)
            assert record is not None
            agent = await svc.runtime.provision(record, "verify-age_gte")
            try:
                got = await asyncio.gather(
                    *(agent.start() for _ in range(N)), return_exceptions=True
                )
            finally:
                agent.destroy()
            view = (await c.get(f"/v1/agents/{agent.id}")).json()
            return list(got), view["state"]

    got, state = asyncio.run(main())
    assert sum(g is None for g in got) == 1
    errs = [g for g in got if g is not None]
    assert len(errs) == N - 1
    assert all(isinstance(e, AgentError) and e.reason == "agent_used" for e in errs)
    assert state == "running"


def test_agent_start_once_threads(
    sync_clients: tuple[TestClient[Litestar], list[TestClient[Litestar]]],
) -> None:
    owner, _ = sync_clients
    created = create(owner)
    svc = services(owner.app)
    record = owner.blocking_portal.call(svc.store.get_verification, created.id)
    assert record is not None
    agent = owner.blocking_portal.call(svc.runtime.provision, record, "verify-age_gte")

    def start(_: int) -> BaseException | None:
        try:
            asyncio.run(agent.start())
        except AgentError as e:
            return e
        return None

    try:
        got = _in_threads(N, start)
    finally:
        agent.destroy()
    assert sum(g is None for g in got) == 1
    assert all(isinstance(g, AgentError) for g in got if g is not None)
    assert owner.get(f"/v1/agents/{agent.id}").json()["state"] == "running"


# -- two apps, one database -------------------------------------------------------------------


def test_two_apps_one_database(res: Resources, holder: Holder, leap_cred: Credential) -> None:
    """Two apps on the same data dir (two store connections to one SQLite file): of
    50 racing fetches and then 50 racing presentations, split between them, one wins."""
    with TestClient(create_app(resources=res)) as a, TestClient(create_app(resources=res)) as b:
        assert services(a.app) is not services(b.app)
        clients = [a, b]
        created = create(a)
        fetched = _in_threads(N, lambda i: clients[i % 2].get(created.request_path))
        assert _statuses(fetched) == {200: 1, 410: N - 1}
        (hreq,) = (r.json() for r in fetched if r.status_code == 200)
        body = proof_body(prove(res, holder, leap_cred, hreq))
        path = path_of(hreq["presentation_uri"])
        headers = bearer(hreq["presentation_token"])
        rs = _in_threads(N, lambda i: clients[i % 2].post(path, json=body, headers=headers))
        agent_id = _assert_one_presentation(rs)
        for cl in clients:
            st = read(cl, created)
            assert st["status"] == "completed" and st["agent_id"] == agent_id
            assert cl.get(f"/v1/agents/{agent_id}").json()["state"] == "retired"
