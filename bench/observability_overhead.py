"""What tracing costs: the same requests through the app with OpenTelemetry tracing
off (the default) and on.

    python bench/observability_overhead.py            # ~1 min on 2 cores
    python bench/observability_overhead.py --quick    # a few seconds

In process: two apps on one event loop (httpx ``ASGITransport``, no sockets), one
with tracing off, one with an SDK tracer provider exporting through a
``BatchSpanProcessor`` (what ``otlp_endpoint`` sets up) to an in-memory exporter
(cleared between rounds), so the figure is the instrumentation's own cost, not a
collector's.  Prometheus metrics are on in both (they cannot be turned off).

- ``GET /healthz``: the cheapest request, so the fixed per-request cost shows;
- holder-side verification: ``POST /v1/verifications/{id}/presentation`` with a
  proof made beforehand (create, fetch and proving are untimed), i.e. the agent's
  provisioning, the batch verification, the attestation and ~10 store calls.

Rounds alternate the two apps so drift (turbo, other processes) hits both alike.
Medians (and p90) of per-request wall time; noisy on a shared machine.  JSON to
bench/results/observability.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from litestar import Litestar
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import table, write_json
from zkattest.credentials import Holder, Issuer, Request
from zkattest.service import Config, Resources, bootstrap, create_app, dev_issuer_path

RP = "https://shop.example"


def _s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


class Variant:
    def __init__(self, name: str, res: Resources, db: Path, traced: bool) -> None:
        self.name = name
        self.exporter = InMemorySpanExporter() if traced else None
        provider = None
        if self.exporter is not None:
            provider = TracerProvider()
            provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.provider = provider
        cfg = msgspec.structs.replace(res.config, database_url=f"sqlite:///{db}")
        self.app: Litestar = create_app(
            resources=dataclasses.replace(res, config=cfg), tracer_provider=provider
        )
        self.times: dict[str, list[float]] = {"healthz": [], "presentation": []}
        self.spans = 0

    def drain(self) -> None:
        if self.provider is not None and self.exporter is not None:
            self.provider.force_flush()
            self.spans += len(self.exporter.get_finished_spans())
            self.exporter.clear()


async def _healthz(v: Variant, c: httpx.AsyncClient, n: int) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        r = await c.get("/healthz")
        v.times["healthz"].append(time.perf_counter() - t0)
        assert r.status_code == 200


async def _presentations(
    v: Variant, c: httpx.AsyncClient, n: int, res: Resources, holder: Holder, cred: Any
) -> None:
    ready = []
    for _ in range(n):  # untimed: create, fetch, prove
        verifier = secrets.token_urlsafe(48)
        body = {
            "predicate": "age_gte",
            "params": {"min_age": 18},
            "audience": RP,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }
        created = (await c.post("/v1/verifications", json=body)).json()
        path = httpx.URL(created["request_uri"]).path
        hreq = (await c.get(path)).json()
        req = Request.from_json(json.dumps(hreq["request"]))
        pres = await asyncio.to_thread(holder.present, cred, req, keys=res.keys)
        ready.append((hreq, json.loads(pres.to_json())))
    for hreq, pres in ready:
        url = httpx.URL(hreq["presentation_uri"]).path
        headers = {"Authorization": f"Bearer {hreq['presentation_token']}"}
        t0 = time.perf_counter()
        r = await c.post(url, json={"mode": "proof", "presentation": pres}, headers=headers)
        v.times["presentation"].append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="zkattest-obs-bench-"))
    key_dir = args.key_dir or os.environ.get("ZKATTEST_KEY_DIR") or str(tmp / "keys")
    res = bootstrap(
        Config(data_dir=str(tmp / "data"), key_dir=key_dir, require_auth=False), progress=None
    )
    issuer = Issuer.load(dev_issuer_path(res.config))
    holder = Holder()
    today = time.gmtime()
    expires = (today.tm_year + 5) * 10000 + 101
    cred = issuer.issue({"birthdate": 20000229}, holder.commitment, expires=expires)
    variants = [
        Variant("off", res, tmp / "off.db", traced=False),
        Variant("on", res, tmp / "on.db", traced=True),
    ]
    try:
        async with (
            variants[0].app.lifespan(),
            variants[1].app.lifespan(),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=variants[0].app),  # type: ignore[arg-type]
                base_url="http://bench.local",
            ) as c_off,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=variants[1].app),  # type: ignore[arg-type]
                base_url="http://bench.local",
            ) as c_on,
        ):
            clients = [c_off, c_on]
            for v, c in zip(variants, clients, strict=True):  # warm-up, discarded
                await _healthz(v, c, 50)
                await _presentations(v, c, 2, res, holder, cred)
                v.times = {"healthz": [], "presentation": []}
                v.drain()
                v.spans = 0
            for i in range(args.rounds):
                order = list(zip(variants, clients, strict=True))
                if i % 2:
                    order.reverse()
                for v, c in order:
                    await _healthz(v, c, args.healthz)
                    await _presentations(v, c, args.presentations, res, holder, cred)
                    v.drain()
                print(f"round {i + 1}/{args.rounds}", file=sys.stderr)
    finally:
        for v in variants:
            if v.provider is not None:
                v.provider.shutdown()
    rows = []
    base = {k: statistics.median(variants[0].times[k]) for k in variants[0].times}
    for v in variants:
        for kind, ts in v.times.items():
            med = statistics.median(ts)
            p90 = statistics.quantiles(ts, n=10)[-1]
            rows.append(
                {
                    "request": kind,
                    "tracing": v.name,
                    "n": len(ts),
                    "median_us": round(med * 1e6, 1),
                    "p90_us": round(p90 * 1e6, 1),
                    "overhead": f"{(med / base[kind] - 1) * 100:+.1f}%",
                    "spans": v.spans,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small N (a few seconds)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--healthz", type=int, default=500, help="GET /healthz per round")
    ap.add_argument("--presentations", type=int, default=20, help="presentations per round")
    ap.add_argument("--key-dir", help="circuit key store (default $ZKATTEST_KEY_DIR or temp)")
    ap.add_argument("--json", metavar="PATH", help="default bench/results/observability.json")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.healthz, args.presentations = 2, 100, 4
    rows = asyncio.run(main_async(args))
    print(table(rows, ["request", "tracing", "n", "median_us", "p90_us", "overhead", "spans"]))
    out = write_json("observability", rows, args.json, {"args": vars(args)})
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
