"""Native core benchmark: Fq mul, G1/G2 MSM, NTT, Poseidon, and the py_ecc ratio.

    python bench/native_bench.py            # full run (the figures in bench/README.md)
    python bench/native_bench.py --quick    # smaller sizes, a minute or so

Each measurement at 1 thread and at all cores; medians; JSON to
bench/results/native.json with machine and commit.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine, median_time, table, write_json
from zkattest import _native
from zkattest.field import P, R


def _rand_fr(rng: random.Random, n: int) -> bytes:
    return b"".join(rng.randrange(R).to_bytes(32, "little") for _ in range(n))


def _points(g: str, n: int, rng: random.Random) -> bytes:
    """n distinct valid points: P0 = k*G, P_{i+1} = P_i + Q (adds in C)."""
    gen = getattr(_native, f"{g}_generator")()
    mul = getattr(_native, f"{g}_mul_var")
    add = getattr(_native, f"{g}_add")
    p = mul(gen, rng.randrange(1, R).to_bytes(32, "little"))
    q = mul(gen, rng.randrange(1, R).to_bytes(32, "little"))
    out = []
    for _ in range(n):
        out.append(p)
        p = add(p, q)
    return b"".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    ap.add_argument("--json", default=None, help="output JSON path")
    ap.add_argument("--no-pyecc", action="store_true", help="skip the py_ecc comparison")
    args = ap.parse_args()

    rng = random.Random(2026)
    allc = _native.default_threads()
    thread_set = sorted({1, allc})
    rows: list[dict[str, object]] = []
    results: list[dict[str, object]] = []

    def record(op: str, size: int | str, threads: int, seconds: float, unit: str = "ms") -> None:
        shown = f"{seconds * 1e3:.2f} ms" if unit == "ms" else unit
        rows.append({"op": op, "size": size, "threads": threads, "median": shown})
        results.append({"op": op, "size": size, "threads": threads, "seconds": seconds})
        print(f"  {op:<12} {size!s:>8} t={threads}: {shown}", flush=True)

    print(f"machine: {machine()['cpu']}, {allc} threads, cpu features {_native.cpu_features()}")

    # Fq multiplication
    iters = 2_000_000
    x = (123456789).to_bytes(32, "little")
    y = (P - 987654321).to_bytes(32, "little")
    t = median_time(lambda: _native.fq_mul_loop(x, y, iters), repeat=7)
    record("Fq mul", "-", 1, t / iters, f"{t / iters * 1e9:.2f} ns/op")

    # G1 MSM
    g1_logs = [10, 12, 14] if args.quick else [10, 12, 14, 16, 18]
    g2_logs = [10, 12] if args.quick else [10, 12, 14, 16]
    for g, logs in (("g1", g1_logs), ("g2", g2_logs)):
        t0 = time.perf_counter()
        pts_all = _points(g, 1 << max(logs), rng)
        sc_all = _rand_fr(rng, 1 << max(logs))
        print(f"  ({g} inputs made in {time.perf_counter() - t0:.1f} s)", flush=True)
        msm = getattr(_native, f"{g}s_msm")
        size = _native.G1_BYTES if g == "g1" else _native.G2_BYTES
        for lg in logs:
            n = 1 << lg
            pts, sc = pts_all[: n * size], sc_all[: n * 32]
            for th in thread_set:
                reps = 3 if lg >= 16 else 7
                t = median_time(lambda pts=pts, sc=sc, th=th, f=msm: f(pts, sc, th), repeat=reps)
                record(f"{g.upper()} MSM", f"2^{lg}", th, t)

    # NTT
    ntt_logs = [12, 14, 16] if args.quick else [12, 14, 16, 18, 20]
    for lg in ntt_logs:
        d = _native.NttDomain(lg)
        data = _rand_fr(rng, 1 << lg)
        for th in thread_set:
            reps = 5 if lg >= 18 else 9
            t = median_time(lambda d=d, data=data, th=th: d.forward(data, th), repeat=reps)
            record("NTT", f"2^{lg}", th, t)

    # Poseidon(2): one native call hashing many pairs (one core)
    count = 20_000 if args.quick else 100_000
    inputs = _rand_fr(rng, 2 * count)
    t = median_time(lambda: _native.poseidon_hashes(inputs, 2), repeat=5)
    record("Poseidon(2)", count, 1, t / count, f"{count / t:,.0f} hashes/s")

    # ratio against py_ecc for a 2^8-point G1 MSM
    if not args.no_pyecc:
        try:
            from py_ecc import optimized_bn128 as bn
        except ImportError:
            print("  (py_ecc not installed: skipping the ratio; pip install py_ecc)")
        else:
            n = 256
            ks = [rng.randrange(R) for _ in range(n)]
            pts_py = [bn.multiply(bn.G1, rng.randrange(1, R)) for _ in range(n)]

            def pyecc_msm() -> object:
                acc = bn.Z1
                for pt, k in zip(pts_py, ks, strict=True):
                    acc = bn.add(acc, bn.multiply(pt, k))
                return acc

            aff = [bn.normalize(pt) for pt in pts_py]
            pts_b = b"".join(
                int(a[0].n).to_bytes(32, "little") + int(a[1].n).to_bytes(32, "little") for a in aff
            )
            sc_b = b"".join(k.to_bytes(32, "little") for k in ks)
            t_py = median_time(pyecc_msm, repeat=1, warmup=0)
            t_nat = median_time(lambda: _native.g1s_msm(pts_b, sc_b, 1), repeat=9)
            record("py_ecc MSM", "2^8", 1, t_py)
            record("native MSM", "2^8", 1, t_nat)
            ratio = t_py / t_nat
            rows.append(
                {"op": "speed ratio", "size": "2^8", "threads": 1, "median": f"{ratio:,.0f}x"}
            )
            results.append(
                {"op": "ratio native/py_ecc", "size": "2^8", "threads": 1, "ratio": ratio}
            )

    print()
    print(table(rows, ["op", "size", "threads", "median"]))
    path = write_json("native", results, args.json, {"quick": args.quick})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
