"""Sustained load at 80% of the measured capacity: no errors, no memory growth.

A real server (SQLite, OAuth on) serves complete verifications: the relying party
creates one (DPoP-bound token, a fresh proof per request), the holder fetches the
request and presents, the relying party reads the attestation.  Half the holders
prove on their side (``proof`` mode: the holder's library proves in this process,
the service batch-verifies), half hand the witness over (``delegated``: the agent
proves).  Holder proofs are made inline, as a wallet would: pre-made proofs as in
``bench/service_bench.py`` phase C would need about 600 proofs per second of load,
far more than this test can prepare on a shared 2-core machine.

1. Capacity: a closed loop of ``USERS`` concurrent users for ``CAPACITY_SECONDS``;
   capacity = completed verifications per second.
2. Steady: an open loop at 80% of it for ``STEADY_SECONDS`` (verification i starts at
   t0 + i/rate whatever happened before), then waiting for the stragglers.
   Every answer must be 2xx and every verification must complete with the result the
   holder's birthdate implies; every attestation verifies against the trust bundle.
3. Memory: the server's VmRSS (/proc/<pid>/status) is sampled every second of the
   steady phase; the median of the last 20 s must stay within ``RSS_SLACK_MIB`` of
   the median of the first 20 s (see the constant for why that bound).

Nothing here asserts a speed: the capacity only sets the offered rate, and timeouts
only bound how long the test may take.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from zkattest.agents import verify_attestation
from zkattest.credentials import KeyStore
from zkattest.groth16 import VerifyingKey
from zkattest.identity import TrustBundle, decode_unverified

from .conftest import (
    RP,
    AsyncRP,
    Flow,
    Server,
    Wallet,
    prepare_data_dir,
    serve,
    step_create,
    step_fetch,
    step_present,
    step_read,
)

USERS = 4
CAPACITY_SECONDS = 10.0
STEADY_SECONDS = 60.0
LOAD_FACTOR = 0.8
WINDOW = 20  # seconds of RSS samples compared at each end of the steady phase
#: The bound on RSS growth between the first and the last 20 s of the steady phase.
#: The steady phase starts after the capacity phase ran every code path, so what
#: remains is allocator behaviour: glibc's per-thread arenas are touched page by page,
#: and the prover's large buffers (tens of MiB per delegated proof) come and go with
#: mmap or stay in the heap once the dynamic mmap threshold has risen.  Medians ignore
#: a proof that happens to be in flight at a sample.  30 MiB is about 15% of the
#: server's RSS (~190 MiB, ~1 MiB of drift per minute measured here); a leak of
#: ~70 KiB per verification -- a witness, a proof or a request body kept alive --
#: crosses it over the 40 s between the two windows at the ~11/s this machine
#: sustains, a faster machine catches smaller leaks.  (A relative bound alone would
#: scale with the proving key's size, which says nothing about leaks.)
RSS_SLACK_MIB = 30
REQUEST_TIMEOUT = 60.0


def _config(data: Path) -> dict[str, object]:
    return {
        "database_url": f"sqlite:///{(data / 'zkattest.db').resolve()}",
        "policy_dir": data / "policies",
        "rate_soft_limit": 1_000_000,
        # a transient stall (the machine is shared) queues work instead of refusing it
        "queue": 256,
        "svid_ttl": 60,
        "sweep_interval": 2,
        "log_level": "warning",
    }


class Load:
    def __init__(
        self, http: httpx.AsyncClient, rp: AsyncRP, wallets: list[Wallet], keys: KeyStore
    ) -> None:
        self.http = http
        self.rp = rp
        self.wallets = wallets
        self.keys = keys
        self.errors: Counter[str] = Counter()
        self.done: list[Flow] = []
        self.n = 0

    def new_flow(self) -> Flow:
        i = self.n
        self.n += 1
        return Flow(wallet=i % len(self.wallets), mode="delegated" if i % 2 else "proof")

    async def one(self, flow: Flow) -> None:
        """One complete verification; anything but the expected answers is an error."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT * 4):
                await self._one(flow)
        except (TimeoutError, httpx.HTTPError) as e:
            self.errors[f"{flow.sent}:{type(e).__name__}"] += 1

    async def _one(self, flow: Flow) -> None:
        r = await step_create(self.http, self.rp, flow)
        if r.status_code != 201:
            self.errors[f"create:{r.status_code}:{r.text[:120]}"] += 1
            return
        r = await step_fetch(self.http, flow, self.wallets)
        if r.status_code != 200 or flow.hreq is None:
            self.errors[f"fetch:{r.status_code}:{r.text[:120]}"] += 1
            return
        w = self.wallets[flow.wallet]
        if flow.mode == "proof":
            flow.body = await asyncio.to_thread(w.proof_body, flow.hreq, self.keys)
        else:
            flow.body = w.delegated_body()
        r = await step_present(self.http, flow)
        if r.status_code != 200:
            self.errors[f"present:{r.status_code}:{r.text[:120]}"] += 1
            return
        if r.json().get("result") is not flow.expected:
            self.errors["present:wrong_result"] += 1
        r = await step_read(self.http, self.rp, flow)
        if r.status_code != 200 or flow.status is None:
            self.errors[f"read:{r.status_code}:{r.text[:120]}"] += 1
            return
        if flow.status.get("status") != "completed" or not flow.status.get("attestation"):
            self.errors[f"read:not_completed:{flow.status.get('status')}"] += 1
            return
        if flow.status.get("result") is not flow.expected:
            self.errors["read:wrong_result"] += 1
            return
        self.done.append(flow)

    async def closed(self, users: int, seconds: float) -> int:
        """Each user starts its next verification when the last one ended."""
        end = time.monotonic() + seconds
        completed = len(self.done)

        async def user() -> None:
            while time.monotonic() < end:
                await self.one(self.new_flow())

        await asyncio.gather(*(user() for _ in range(users)))
        return len(self.done) - completed

    async def open(self, rate: float, seconds: float, srv: Server) -> list[tuple[float, int]]:
        """Verification i starts at t0 + i/rate; the server's RSS is sampled each second
        until the last start.  Returns the samples (seconds since t0, KiB)."""
        n = int(rate * seconds)
        t0 = time.monotonic() + 0.05
        rss: list[tuple[float, int]] = []

        async def sample() -> None:
            k = 0
            while (t := t0 + k) < t0 + seconds:
                await asyncio.sleep(max(0.0, t - time.monotonic()))
                rss.append((time.monotonic() - t0, srv.rss_kib()))
                k += 1

        sampler = asyncio.create_task(sample())
        tasks = []
        for i in range(n):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(self.one(self.new_flow())))
        await sampler
        await asyncio.gather(*tasks)
        return rss


async def _run(
    srv: Server, wallets: list[Wallet], keys: KeyStore, vk: VerifyingKey, circuit_id: str
) -> dict[str, Any]:
    rp = AsyncRP(srv.url)
    rp.register(srv.data)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=srv.url, timeout=REQUEST_TIMEOUT, limits=limits) as http:
        await rp.get_token(http)  # 300 s: outlives the test
        bundle_doc = (await http.get("/.well-known/spiffe-bundle")).json()
        load = Load(http, rp, wallets, keys)
        completed = await load.closed(USERS, CAPACITY_SECONDS)
        assert not load.errors, dict(load.errors)
        capacity = completed / CAPACITY_SECONDS
        assert completed >= 5, f"only {completed} verifications in the capacity phase"
        rate = LOAD_FACTOR * capacity
        before = len(load.done)
        rss = await load.open(rate, STEADY_SECONDS, srv)
        steady = load.done[before:]
        assert not load.errors, dict(load.errors)
        assert len(steady) == int(rate * STEADY_SECONDS)

    # every attestation verifies (SVID, signature, nonce, verification id); a sample
    # also re-verifies its proof
    flows = load.done
    bundle = TrustBundle.from_spiffe_json(
        str(decode_unverified(flows[0].status["attestation"]).claims["iss"]).split("/")[2],  # type: ignore[index]
        bundle_doc,
    )
    step = max(1, len(flows) // 20)
    for i, flow in enumerate(flows):
        assert flow.status is not None
        att = flow.status["attestation"]
        got = verify_attestation(
            att,
            bundle=bundle,
            audience=RP,
            now=int(decode_unverified(att).claims["iat"]),
            circuits={circuit_id: vk} if i % step == 0 else None,
            nonce=flow.nonce,
            verification_id=flow.vid,
        )
        assert got.result is flow.expected
    return {"capacity_per_s": capacity, "rate_per_s": rate, "steady": len(steady), "rss": rss}


@pytest.mark.slow
def test_sustained_load(
    tmp_path: Path,
    issuer_file: Path,
    wallets: list[Wallet],
    keys: tuple[KeyStore, VerifyingKey, str],
) -> None:
    keystore, vk, circuit_id = keys
    data = prepare_data_dir(tmp_path / "data", issuer_file, raise_rate_limit=True)
    with serve(data, tmp_path / "server.log", _config(data)) as srv:
        out = asyncio.run(_run(srv, wallets, keystore, vk, circuit_id))
        assert srv.failures() == []
    rss: list[tuple[float, int]] = out["rss"]
    assert len(rss) >= STEADY_SECONDS - 1  # a sample every second
    first = statistics.median(kib for t, kib in rss if t < WINDOW)
    last = statistics.median(kib for t, kib in rss if t >= STEADY_SECONDS - WINDOW)
    print(
        json.dumps(
            {
                "capacity_per_s": round(out["capacity_per_s"], 2),
                "rate_per_s": round(out["rate_per_s"], 2),
                "steady_verifications": out["steady"],
                "rss_first_median_mib": round(first / 1024, 1),
                "rss_last_median_mib": round(last / 1024, 1),
                "rss_mib": [round(kib / 1024) for _, kib in rss],
            }
        )
    )
    assert last <= first + RSS_SLACK_MIB * 1024, (first, last, rss)
