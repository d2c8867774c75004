"""Audit trail benchmark: verification and append throughput.

    python bench/audit_bench.py             # 200,000 events in 2 chains (the README figures)
    python bench/audit_bench.py --quick     # 20,000 events, fewer repeats
    python bench/audit_bench.py --profile   # also a cProfile of one file verification

What it measures (medians of wall-clock time, one process; for verification also of
process CPU time, which the other tenants of a shared machine disturb less):

- the trail: N events written by two ``AuditLog`` writers (chains ``svc-a``, ``svc-b``)
  into a memory sink, a checkpoint every 256 events; each simulated verification
  makes 8 events across both chains (created, decided, provisioned, running,
  verified, attested, retired, completed) with refs, links to the previous step
  (half of them across chains) and, for half, a two-level ``act`` chain.  Its
  generation rate is the *append, memory sink* figure (validation, hashing, group
  commit machinery and checkpoint signing; no I/O);
- ``verify_trail`` over the JSON-lines file (``load_jsonl``: read, parse, check
  canonical form, then every hash, link and checkpoint) and over the same records
  already in memory (read back from the file); reading alone (``load_jsonl``
  consumed, nothing kept) for the split.  Target >= 50,000 events/s for the file,
  parse included;
- the verifier's peak Python heap (tracemalloc, a separate run: it slows the run down)
  against the 32 bytes per event the design keeps;
- appends to a ``JsonlSink``: one task appending (an fsync per event), 64 tasks
  appending at once (group commit: one fsync per batch), and without fsync.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import table, write_json
from zkattest.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    JsonlSink,
    MalformedRecord,
    MemorySink,
    encode_record,
    load_jsonl,
    verify_trail,
)
from zkattest.identity import EcKey

TARGET_VERIFY = 50_000.0  # events/s, file verification including the parse


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall time and median process CPU time of ``fn`` (after one warm-up):
    the machine is shared, and CPU time is less disturbed by the other tenants."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return statistics.median(walls), statistics.median(cpus)


async def _cycle(a: AuditLog, b: AuditLog, i: int) -> None:
    act = {"sub": "agent-rp", "act": {"sub": "shop"}} if i % 2 else None
    vid = f"v-{i:08d}"
    agent = f"ag-{i:08d}"
    spiffe = f"spiffe://zk.example/agent/age_gte/{agent}"
    created = await a.append(
        "verification.created",
        actor="shop",
        outcome="ok",
        subject="shop",
        act=act,
        refs={
            "verification_id": vid,
            "client_id": "shop",
            "audience": "https://shop.example/verify",
            "predicate": "age_gte",
            "min_age": 18,
        },
    )
    decided = await a.append(
        "policy.decided",
        actor="service",
        outcome="allow",
        subject="shop",
        act=act,
        refs={"verification_id": vid, "policy_ids": ["p0", "adults-only"]},
        links=[created],
    )
    prov = await b.append(
        "agent.provisioned",
        actor="service",
        outcome="ok",
        refs={"agent_id": agent, "task": "age_gte", "exp": 1_800_000_060, "jkt": "A" * 43},
        links=[decided],
    )
    running = await b.append("agent.running", actor=spiffe, outcome="ok", links=[prov])
    verified = await a.append(
        "agent.verified", actor=spiffe, outcome="yes", refs={"agent_id": agent}, links=[running]
    )
    attested = await b.append(
        "agent.attested",
        actor=spiffe,
        outcome="ok",
        refs={"agent_id": agent, "jti": f"att-{i:08d}", "circuit_id": "sha256:5f1c9e"},
        links=[verified, prov],
    )
    await b.append("agent.retired", actor="service", outcome="ok", links=[attested])
    await a.append(
        "verification.completed",
        actor="service",
        outcome="yes",
        subject="shop",
        refs={"verification_id": vid},
        links=[attested],
    )


async def generate(key: EcKey, n_events: int) -> tuple[list[AuditEvent | Checkpoint], float]:
    sink = MemorySink()
    a = AuditLog(key, "svc-a", sink, checkpoint_every=256, checkpoint_interval=None)
    b = AuditLog(key, "svc-b", sink, checkpoint_every=256, checkpoint_interval=None)
    t0 = time.perf_counter()
    for i in range(n_events // 8):
        await _cycle(a, b, i)
    await a.close()
    await b.close()
    return sink.records, time.perf_counter() - t0


async def appends(path: Path, key: EcKey, n: int, tasks: int, fsync: bool) -> float:
    """Events per second appending n events with ``tasks`` concurrent appenders."""
    sink = JsonlSink(path, fsync=fsync)
    log = AuditLog(key, f"bench-{tasks}-{int(fsync)}", sink, checkpoint_every=256)
    await log.open()
    per = n // tasks

    async def worker(w: int) -> None:
        for i in range(per):
            await log.append(
                "token.issued",
                actor="shop",
                outcome="ok",
                subject="shop",
                refs={"client_id": "shop", "jti": f"t{w}-{i}", "scope": "verify"},
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    dt = time.perf_counter() - t0
    await log.close()
    sink.close()
    return per * tasks / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20,000 events, fewer repeats")
    ap.add_argument("--events", type=int, default=None, help="trail size (default 200,000)")
    ap.add_argument("--profile", action="store_true", help="cProfile one file verification")
    ap.add_argument("--json", default=None, help="output JSON path")
    args = ap.parse_args()
    quick = args.quick
    n_events = args.events or (20_000 if quick else 200_000)
    repeat = 3 if quick else 5
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)

    rows: list[dict[str, Any]] = []
    res: dict[str, Any] = {"events": n_events, "checkpoint_every": 256, "target": TARGET_VERIFY}

    def row(case: str, value: str, target: str = "", ok: str = "") -> None:
        rows.append({"case": case, "value": value, "target": target, "meets": ok})
        print(f"  {case:<52} {value}", flush=True)

    key = EcKey.generate()
    pub = key.public()
    tmp = Path(tempfile.mkdtemp(prefix="zka-audit-bench-"))
    try:
        records, gen_s = asyncio.run(generate(key, n_events))
        events = sum(1 for r in records if isinstance(r, AuditEvent))
        cps = len(records) - events
        res["append_memory_per_s"] = events / gen_s
        row("append, memory sink, one task", f"{events / gen_s:,.0f} events/s")

        path = tmp / "trail.jsonl"
        with open(path, "wb") as f:
            for r in records:
                f.write(encode_record(r) + b"\n")
        size = path.stat().st_size
        res.update(file_bytes=size, bytes_per_record=size / len(records), checkpoints=cps)
        print(
            f"trail: {events:,} events, {cps:,} checkpoints, {size / 2**20:.1f} MiB "
            f"({size / len(records):.0f} B/record)",
            flush=True,
        )

        def check_file() -> None:
            report = verify_trail(load_jsonl(path), pub)
            assert report.ok and report.signed and report.events == events

        def check_memory(loaded: list[AuditEvent | Checkpoint | MalformedRecord]) -> None:
            report = verify_trail(loaded, pub)
            assert report.ok and report.signed and report.events == events

        # the file is verified with nothing else in memory, as the CLI does
        del records
        gc.collect()
        t_file, c_file = timed(check_file, repeat)
        t_read, c_read = timed(lambda: deque(load_jsonl(path), maxlen=0), repeat)
        loaded = list(load_jsonl(path))
        t_mem, c_mem = timed(lambda: check_memory(loaded), repeat)
        v_file, v_mem = events / t_file, events / t_mem
        res.update(
            verify_file_per_s=v_file,
            verify_memory_per_s=v_mem,
            read_only_per_s=events / t_read,
            verify_file_per_cpu_s=events / c_file,
            verify_memory_per_cpu_s=events / c_mem,
            read_only_per_cpu_s=events / c_read,
            verify_file_s=t_file,
            verify_memory_s=t_mem,
            read_only_s=t_read,
        )
        ok = "yes" if v_file >= TARGET_VERIFY else "NO"

        def rate(t: float, c: float) -> str:
            return f"{events / t:,.0f} events/s ({t:.2f} s; {events / c:,.0f} per CPU s)"

        row(
            "verify, JSONL file (read + parse + check)",
            rate(t_file, c_file),
            f">= {TARGET_VERIFY:,.0f}/s",
            ok,
        )
        row("  of which reading + parsing only", rate(t_read, c_read))
        row("verify, records in memory", rate(t_mem, c_mem))
        loaded.clear()
        gc.collect()

        tracemalloc.start()
        check_file()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        res["verify_peak_heap_bytes"] = peak
        row(
            "verify, peak Python heap (file)",
            f"{peak / 2**20:.1f} MiB (of which digests {32 * events / 2**20:.1f} MiB)",
        )

        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(check_file)
            pstats.Stats(prof).sort_stats("tottime").print_stats(12)

        n_sync = 300 if quick else 1000
        n_group = 2000 if quick else 6400
        n_nosync = 2000 if quick else 10000
        runs = {
            "append_fsync_1task_per_s": ("append, JSONL + fsync, one task", n_sync, 1, True),
            "append_fsync_64tasks_per_s": (
                "append, JSONL + fsync, 64 tasks (group commit)",
                n_group,
                64,
                True,
            ),
            "append_nofsync_1task_per_s": (
                "append, JSONL without fsync, one task",
                n_nosync,
                1,
                False,
            ),
        }
        for name, (label, n, tasks, fsync) in runs.items():
            rates = [
                asyncio.run(appends(tmp / f"{name}-{k}.jsonl", key, n, tasks, fsync))
                for k in range(repeat)
            ]
            per_s = statistics.median(rates)
            res[name] = per_s
            row(label, f"{per_s:,.0f} events/s")
        report = verify_trail(load_jsonl(tmp / "append_fsync_64tasks_per_s-0.jsonl"), pub)
        assert report.ok and report.signed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(table(rows, ["case", "value", "target", "meets"]))
    out_path = write_json(
        "audit", res, args.json, extra={"loadavg_1_5_15": list(os.getloadavg()), "quick": quick}
    )
    print(f"\nload average {os.getloadavg()[0]:.2f}; JSON: {out_path}")


if __name__ == "__main__":
    main()
