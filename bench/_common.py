"""Shared helpers for benchmark scripts: machine description, timing, output.

Every bench prints a table and writes JSON (machine, commit, results) to
bench/results/<name>.json (or --json PATH).  Figures are medians.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                fl = set(line.split(":", 1)[1].split())
                flags = sorted(fl & {"adx", "bmi2", "avx2", "avx512f", "avx512ifma"})
    except OSError:
        pass
    try:
        cc = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout
        cc = cc.splitlines()[0] if cc else "unknown"
    except OSError:
        cc = "unknown"
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cpu_flags": flags,
        "mem_mib": mem,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "compiler": cc,
    }


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        )
        sha = out.stdout.strip() or "unknown"
        status = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain"],
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        # benchmark outputs themselves do not make the measured code dirty
        outputs = ("bench/results/", "bench/prove_time.png")
        dirty = [ln for ln in status if not ln[3:].startswith(outputs)]
        return sha + ("-dirty" if dirty else "")
    except OSError:
        return "unknown"


def median_time(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall time in seconds over `repeat` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    line = "  ".join(c.ljust(widths[c]) for c in cols)
    sep = "  ".join("-" * widths[c] for c in cols)
    body = ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join([line, sep, *body])


def write_json(
    name: str, results: Any, path: str | None = None, extra: dict[str, Any] | None = None
) -> Path:
    out = Path(path) if path else ROOT / "bench" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "bench": name,
        "commit": commit(),
        "machine": machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
        "results": results,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return out
