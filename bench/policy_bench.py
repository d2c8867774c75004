"""Policy benchmark: time per PolicyEngine.decide() (allow, deny, step_up) and load().

    python bench/policy_bench.py            # the figures in bench/README.md
    python bench/policy_bench.py --quick    # fewer repeats

What it measures (medians, wall clock, one thread, the shipped default policies):

- ``decide()`` per outcome: allow, deny by a forbid (rate-limit), deny with no permit
  (default-deny), step_up, and allow at stages provision (one Cedar request: no
  step_up) and exchange (delegate).  Each figure is the median over ``--repeat``
  runs of ``--n`` calls on one prepared input, divided by ``n``; the principal's
  Cedar entity set is cached after the first call, as in the service.
- ``decide()`` for a principal seen for the first time (entity cache miss: its
  entity set is parsed and checked against the schema).
- where the time of one allow decision goes: input checks, the context JSON, the
  Cedar batch call through cedarpy (2 requests: the predicate and step_up), the
  same without the schema check of the request, a 1-request batch, and the rest.
- ``PolicyEngine.load()`` of the shipped defaults: warm (in this process, repeated)
  and cold (a fresh interpreter per run: importing zkattest.policy and cedarpy, then
  the first load), median of ``--cold-runs`` subprocesses.

Target: <= 0.3 ms per decision.  JSON to bench/results/policy.json (machine, commit,
load average before and after).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cedarpy

from _common import median_time, table, write_json
from zkattest.policy import PolicyEngine, PolicyInput, Principal
from zkattest.policy.engine import _check_input

TARGET_MS = 0.3
SHOP = "https://shop.example"

COLD_SCRIPT = """
import json, time
t0 = time.perf_counter()
from zkattest.policy import PolicyEngine
t1 = time.perf_counter()
PolicyEngine.load()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1}))
"""


def principal(client_id: str = "shop") -> Principal:
    return Principal(
        client_id=client_id,
        name="Ticket shop",
        kind="agent",
        predicates=frozenset({"age_gte"}),
        audiences=frozenset({SHOP, "https://shop.example/alt"}),
    )


def cases() -> list[tuple[str, PolicyInput, str]]:
    p = principal()
    base: dict[str, Any] = {
        "principal": p,
        "action": "age_gte",
        "audience": SHOP,
        "stage": "request",
        "params": {"min_age": 18},
        "rate": 12,
        "risk": 20,
    }

    def inp(**kw: Any) -> PolicyInput:
        return PolicyInput(**{**base, **kw})

    return [
        ("allow (request)", inp(), "allow"),
        ("deny: forbid rate-limit", inp(rate=900), "deny"),
        ("deny: default-deny", inp(audience="https://other.example"), "deny"),
        ("step_up (depth 2)", inp(depth=2, chain=("a", "b"), subject="holder"), "step_up"),
        ("allow (provision, 1 request)", inp(stage="provision", mode="proof"), "allow"),
        (
            "allow (exchange: delegate)",
            inp(action="delegate", stage="exchange", subject="holder", depth=1, params={}),
            "allow",
        ),
    ]


def per_call(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Median seconds per call of fn over `repeat` runs of `n` calls."""

    def run() -> None:
        for _ in range(n):
            fn()

    return median_time(run, repeat, warmup=1) / n


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--n", type=int, default=None, help="calls per timed run")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per figure")
    ap.add_argument("--cold-runs", type=int, default=None, help="fresh interpreters for load()")
    ap.add_argument("--json", default=None, help="output JSON path")
    args = ap.parse_args()
    n = args.n or (300 if args.quick else 2000)
    repeat = args.repeat or (5 if args.quick else 15)
    cold_runs = args.cold_runs or (3 if args.quick else 9)
    load_before = list(os.getloadavg())

    engine = PolicyEngine.load()
    rows: list[dict[str, Any]] = []
    res: dict[str, Any] = {"n": n, "repeat": repeat, "decide": {}, "breakdown": {}, "load": {}}

    # --------------------------------------------------------------- decide()
    for label, inp, want in cases():
        got = engine.decide(inp)
        if got.outcome != want:
            raise SystemExit(f"!!! {label}: expected {want}, got {got}")
        t = per_call(functools.partial(engine.decide, inp), n, repeat)
        res["decide"][label] = {"s": t, "per_s": 1 / t, "policy_ids": list(got.policy_ids)}
        meets = "yes" if t * 1e3 <= TARGET_MS else "**no**"
        rows.append(
            {
                "case": f"decide: {label}",
                "median": us(t),
                "per second": f"{1 / t:,.0f}",
                "target": f"<= {TARGET_MS} ms",
                "meets": meets,
            }
        )

    # first sight of a principal: entity set parsed and checked against the schema
    counter = iter(range(10**9))
    allow = cases()[0][1]

    def fresh() -> None:
        p = principal(f"client-{next(counter)}")
        engine.decide(PolicyInput(**{**_fields(allow), "principal": p}))

    t = per_call(fresh, n, repeat)
    res["decide"]["allow, new principal (cache miss)"] = {"s": t, "per_s": 1 / t}
    rows.append(
        {"case": "decide: allow, new principal", "median": us(t), "per second": f"{1 / t:,.0f}"}
    )

    # ------------------------------------------------------ where the time goes
    ctx = engine._context(allow)
    ents = engine._entities(allow.principal)
    assert not isinstance(ents, str)

    def req(action: str) -> dict[str, Any]:
        return {
            "principal": {"type": "Client", "id": allow.principal.client_id},
            "action": {"type": "Action", "id": action},
            "resource": {"type": "Audience", "id": allow.audience},
            "context": ctx,
        }

    two = [req("age_gte"), req("step_up")]
    schema, policies = engine._schema, engine._policies
    parts = {
        "input checks": lambda: _check_input(allow),
        "context JSON": lambda: engine._context(allow),
        "entity cache lookup": lambda: engine._entities(allow.principal),
        "cedarpy batch, 2 requests, schema": lambda: cedarpy.is_authorized_batch(
            two, policies, ents, schema=schema
        ),
        "cedarpy batch, 2 requests, no schema (not usable)": lambda: cedarpy.is_authorized_batch(
            two, policies, ents
        ),
        "cedarpy batch, 1 request, schema": lambda: cedarpy.is_authorized_batch(
            two[:1], policies, ents, schema=schema
        ),
    }
    for label, fn in parts.items():
        t = per_call(fn, n, repeat)
        res["breakdown"][label] = t
        rows.append({"case": f"  part: {label}", "median": us(t)})
    whole = res["decide"]["allow (request)"]["s"]
    known = sum(
        res["breakdown"][k]
        for k in (
            "input checks",
            "context JSON",
            "entity cache lookup",
            "cedarpy batch, 2 requests, schema",
        )
    )
    rest = max(0.0, whole - known)  # parts are timed apart: an estimate
    res["breakdown"]["rest (request dicts, result mapping)"] = rest
    rows.append({"case": "  part: rest (request dicts, result mapping)", "median": us(rest)})
    # Cedar's own metrics for one call (µs, as cedarpy reports them)
    metrics = [r.metrics for r in cedarpy.is_authorized_batch(two, policies, ents, schema=schema)]
    res["cedar_metrics_us"] = metrics

    # -------------------------------------------------------------------- load()
    t = median_time(PolicyEngine.load, max(3, repeat // 2), warmup=1)
    res["load"]["warm_s"] = t
    rows.append({"case": "load() defaults, warm (7 policies)", "median": f"{t * 1e3:.2f} ms"})
    cold: list[dict[str, float]] = []
    for _ in range(cold_runs):
        out = subprocess.run(
            [sys.executable, "-c", COLD_SCRIPT], capture_output=True, text=True, check=True
        )
        cold.append(json.loads(out.stdout))
    imp = statistics.median(c["import_s"] for c in cold)
    first = statistics.median(c["load_s"] for c in cold)
    res["load"].update(cold_import_s=imp, cold_first_load_s=first, cold_runs=cold)
    rows.append(
        {"case": "import zkattest.policy (fresh interpreter)", "median": f"{imp * 1e3:.1f} ms"}
    )
    rows.append({"case": "first load() (fresh interpreter)", "median": f"{first * 1e3:.2f} ms"})

    load_after = list(os.getloadavg())
    print(table(rows, ["case", "median", "per second", "target", "meets"]))
    path = write_json(
        "policy",
        res,
        args.json,
        extra={
            "target_ms": TARGET_MS,
            "loadavg_before_1_5_15": load_before,
            "loadavg_after_1_5_15": load_after,
            "quick": args.quick,
        },
    )
    print(f"\nload average {load_before[0]:.2f} -> {load_after[0]:.2f}; JSON: {path}")


def _fields(inp: PolicyInput) -> dict[str, Any]:
    return {name: getattr(inp, name) for name in PolicyInput.__slots__}


if __name__ == "__main__":
    main()
