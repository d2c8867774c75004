"""Saturation: with one proof worker and no queue, a presentation that needs a
worker while another delegated proof runs gets 503 + Retry-After, and consumes
nothing (it succeeds when presented again)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import threading
from pathlib import Path
from typing import Any

import httpx

from zkattest.credentials import Credential, Holder, KeyStore
from zkattest.groth16 import ProvingKey
from zkattest.service import Resources, create_app

from .conftest import (
    assert_problem,
    async_client,
    bearer,
    check_created,
    create_body,
    delegated_body,
    path_of,
    services,
    with_db,
)


class GatedKeyStore(KeyStore):
    """The test key store, except that while ``armed`` every proving-key load (the
    first step of a delegated proof, on the worker thread) waits for ``release``:
    so the test knows a proof is running, and for how long."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def proving_key(self, circuit: str) -> ProvingKey:
        if self.armed:
            self.entered.set()
            assert self.release.wait(60), "the test never released the gate"
        return super().proving_key(circuit)


async def _until(event: threading.Event) -> None:
    for _ in range(6000):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first proof never started")


def test_saturated_presentation_consumes_nothing(
    resources: Resources, tmp_path: Path, holder: Holder, leap_cred: Credential
) -> None:
    keys = GatedKeyStore(resources.keys.path)
    res = dataclasses.replace(with_db(resources, tmp_path / "db", workers=1, queue=0), keys=keys)

    async def flow(c: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
        verifier = secrets.token_urlsafe(48)
        r = await c.post("/v1/verifications", json=create_body(verifier))
        created = check_created(r, verifier)
        hreq = (await c.get(created.request_path)).json()
        return created.read_path + "?code_verifier=" + verifier, hreq

    async def present(c: httpx.AsyncClient, hreq: dict[str, Any]) -> httpx.Response:
        return await c.post(
            path_of(hreq["presentation_uri"]),
            json=delegated_body(leap_cred, holder.secret),
            headers=bearer(hreq["presentation_token"]),
        )

    async def main() -> None:
        app = create_app(resources=res)
        async with async_client(app) as c:
            pool = services(app).pool
            assert pool.stats().to_dict()["capacity"] == 1
            read_a, a = await flow(c)
            read_b, b = await flow(c)
            keys.armed = True
            first = asyncio.create_task(present(c, a))
            try:
                await _until(keys.entered)  # A's proof is running on the only worker
                r = await present(c, b)
                p = assert_problem(r, 503)
                assert p["type"] == "urn:zkattest:problem:saturated"
                assert int(r.headers["retry-after"]) >= 1
                ready = await c.get("/readyz")
                assert ready.status_code == 503
                assert "retry-after" in ready.headers
                # B was not consumed: still pending, its token still good
                st = (await c.get(read_b)).json()
                assert st["status"] == "pending" and st["agent_id"] is None
                assert (await c.get(read_a)).json()["status"] == "presented"
            finally:
                keys.armed = False
                keys.release.set()
            r = await first
            assert r.status_code == 200, r.text
            r = await present(c, b)
            assert r.status_code == 200, r.text
            assert r.json()["result"] is True
            for read in (read_a, read_b):
                assert (await c.get(read)).json()["status"] == "completed"
            assert (await c.get("/readyz")).status_code == 200

    asyncio.run(main())
