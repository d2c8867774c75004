"""Circuit DSL benchmark: the ``age_gte`` statement.

    python bench/circuit_bench.py            # the figures in bench/README.md
    python bench/circuit_bench.py --quick    # fewer repeats

Measures building the circuit, compiling it (R1CS, names, generated solver code),
solving a witness (with and without checking the assertion constraints), the full
``check``, the soundness analysis and the iden3 file formats; counts constraints per
part of the statement.  Medians; JSON to bench/results/circuit.json with machine and
commit.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import median_time, table, write_json
from zkattest.circuit import InputValue, check, read_r1cs, read_wtns, write_r1cs, write_wtns
from zkattest.circuits import age_gte


def _inputs() -> dict[str, InputValue]:
    return age_gte.example_inputs()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--json", default=None, help="output JSON path")
    args = ap.parse_args()
    rep_slow = 3 if args.quick else 7
    rep_fast = 10 if args.quick else 50

    # cold: first build in this process (loads Poseidon constants from the core)
    t0 = time.perf_counter()
    cold = age_gte.build()
    cold_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    cc = cold.compile()
    cc.prepare_solver()
    cold_compile = time.perf_counter() - t0

    def build_compile() -> None:
        c = age_gte.build().compile()
        c.prepare_solver()

    build = median_time(age_gte.build, rep_slow)
    total = median_time(build_compile, rep_slow)
    inputs = _inputs()
    w = cc.solve(inputs)
    solve = median_time(lambda: cc.solve(inputs), rep_fast)
    solve_nc = median_time(lambda: cc.solve(inputs, check=False), rep_fast)
    solve_ref = median_time(lambda: cc.solve_reference(inputs), rep_slow)
    full_check = median_time(lambda: check(cc.r1cs, w), rep_slow)
    analyze = median_time(cc.analyze, 1 if args.quick else 3, warmup=0)
    with tempfile.TemporaryDirectory() as d:
        rp, wp = Path(d) / "age_gte.r1cs", Path(d) / "age_gte.wtns"
        write_r1cs_t = median_time(lambda: write_r1cs(rp, cc.r1cs), rep_slow)
        read_r1cs_t = median_time(lambda: read_r1cs(rp), rep_slow)
        write_wtns_t = median_time(lambda: write_wtns(wp, w), rep_fast)
        read_wtns_t = median_time(lambda: read_wtns(wp), rep_fast)
        r1cs_bytes = rp.stat().st_size

    r = cc.r1cs
    parts = collections.Counter(
        n.split(": ")[0].split(".")[1] if "." in n.split(": ")[0] else "(top level)"
        for n in r.constraint_names or ()
    )
    ms = 1e3
    timings = [
        ("build (cold, first in process)", cold_build, None),
        ("compile (cold: R1CS + solver code)", cold_compile, None),
        ("build", build, None),
        ("build + compile + solver code", total, 1.0),
        ("solve witness (checked)", solve, 0.020),
        ("solve witness (unchecked)", solve_nc, None),
        ("solve (reference interpreter)", solve_ref, None),
        ("check (every constraint)", full_check, None),
        ("analyze (soundness analyses)", analyze, None),
        ("write .r1cs", write_r1cs_t, None),
        ("read .r1cs", read_r1cs_t, None),
        ("write .wtns", write_wtns_t, None),
        ("read .wtns", read_wtns_t, None),
    ]
    rows = [
        {
            "operation": op,
            "median": f"{t * ms:.2f} ms",
            "target": "" if tgt is None else f"<= {tgt * ms:.0f} ms",
        }
        for op, t, tgt in timings
    ]
    print(
        f"age_gte: {r.n_constraints} constraints, {r.n_wires} wires "
        f"({r.n_pub_out} public outputs, {r.n_pub_in} public inputs, {r.n_prv_in} private "
        f"inputs), .r1cs {r1cs_bytes} bytes; target <= 5600 constraints"
    )
    print()
    print(table(rows, ["operation", "median", "target"]))
    print()
    part_rows = [
        {"part": k, "constraints": v} for k, v in sorted(parts.items(), key=lambda kv: -kv[1])
    ]
    print(table(part_rows, ["part", "constraints"]))
    out = write_json(
        "circuit",
        {
            "circuit": "age_gte",
            "constraints": r.n_constraints,
            "wires": r.n_wires,
            "public_outputs": r.n_pub_out,
            "public_inputs": r.n_pub_in,
            "private_inputs": r.n_prv_in,
            "r1cs_bytes": r1cs_bytes,
            "constraints_by_part": dict(parts),
            "seconds": {op: t for op, t, _ in timings},
            "targets_seconds": {op: tgt for op, _, tgt in timings if tgt is not None},
        },
        args.json,
        extra={"loadavg_1_5_15": list(os.getloadavg())},
    )
    print(f"\nload average {os.getloadavg()[0]:.2f} (timings are wall-clock medians)")
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()
