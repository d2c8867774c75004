"""Pairing benchmark: one pairing, 3- and 4-pair checks (prepared and not), py_ecc ratio.

    python bench/pairing_bench.py             # full run (the figures in bench/README.md)
    python bench/pairing_bench.py --quick     # fewer repeats, py_ecc once

Everything runs on the calling thread (the pairing code is single-threaded);
--cpu N pins the process to one core.  Inputs are valid pairs whose product is 1,
so every check does the whole computation.  Medians; JSON to
bench/results/pairing.json with machine and commit.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine, median_time, table, write_json
from zkattest import _native
from zkattest.curve import G1, G2
from zkattest.field import R
from zkattest.pairing import (
    PreparedG2,
    final_exponentiation,
    miller_loop,
    pairing,
    pairing_check,
)

TARGETS_MS = {"pairing": 0.8, "check 4 pairs, 3 prepared": 1.2}


def _relation(rng: random.Random, n: int) -> tuple[list[G1], list[G2]]:
    """n pairs (a_i G1, b_i G2) with sum a_i b_i = 0 mod r, so prod e = 1."""
    a = [rng.randrange(1, R) for _ in range(n)]
    b = [rng.randrange(1, R) for _ in range(n - 1)]
    b.append(-sum(x * y for x, y in zip(a, b, strict=False)) * pow(a[-1], -1, R) % R)
    g1, g2 = G1.generator(), G2.generator()
    return [g1 * x for x in a], [g2 * y for y in b]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--json", default=None, help="output JSON path")
    ap.add_argument("--no-pyecc", action="store_true", help="skip the py_ecc comparison")
    ap.add_argument("--cpu", type=int, default=None, help="pin to this core")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    repeat = 51 if args.quick else 301
    rng = random.Random(2026)
    ps, qs = _relation(rng, 4)
    preps = [PreparedG2(q) for q in qs]
    p3, q3 = _relation(rng, 3)
    preps3 = [PreparedG2(q) for q in q3]
    f = miller_loop(ps[0], qs[0])

    cases: list[tuple[str, Callable[[], object]]] = [
        ("pairing", lambda: pairing(ps[0], qs[0])),
        ("miller loop", lambda: miller_loop(ps[0], qs[0])),
        ("final exponentiation", lambda: final_exponentiation(f)),
        ("prepare G2", lambda: PreparedG2(qs[0])),
        ("check 3 pairs", lambda: pairing_check(list(zip(p3, q3, strict=True)))),
        ("check 3 pairs, 3 prepared", lambda: pairing_check(list(zip(p3, preps3, strict=True)))),
        ("check 4 pairs", lambda: pairing_check(list(zip(ps, qs, strict=True)))),
        (
            "check 4 pairs, 3 prepared",
            lambda: pairing_check([*zip(ps[:3], preps[:3], strict=True), (ps[3], qs[3])]),
        ),
        ("check 4 pairs, 4 prepared", lambda: pairing_check(list(zip(ps, preps, strict=True)))),
    ]
    assert pairing_check([*zip(ps[:3], preps[:3], strict=True), (ps[3], qs[3])])
    assert pairing_check(list(zip(p3, q3, strict=True)))

    print(
        f"machine: {machine()['cpu']}, cpu features {_native.cpu_features()}, "
        f"affinity {sorted(os.sched_getaffinity(0))}"
    )
    rows: list[dict[str, object]] = []
    results: list[dict[str, object]] = []
    native_pairing = 0.0
    for name, fn in cases:
        t = median_time(fn, repeat=repeat, warmup=3)
        if name == "pairing":
            native_pairing = t
        target = TARGETS_MS.get(name)
        rows.append(
            {
                "case": name,
                "median": f"{t * 1e3:.3f} ms",
                "target": f"<= {target} ms" if target else "",
                "meets": ("yes" if t * 1e3 <= target else "NO") if target else "",
            }
        )
        results.append({"case": name, "seconds": t, "target_ms": target, "repeat": repeat})
        print(f"  {name:<28} {t * 1e3:8.3f} ms", flush=True)

    if not args.no_pyecc:
        from py_ecc import optimized_bn128 as bn

        def ref() -> object:
            return bn.pairing(bn.G2, bn.G1)

        t = median_time(ref, repeat=1 if args.quick else 3, warmup=0)
        ratio = t / native_pairing
        rows.append({"case": "py_ecc pairing", "median": f"{t * 1e3:.1f} ms"})
        rows.append({"case": "ratio py_ecc / native", "median": f"{ratio:.0f}x"})
        results.append({"case": "py_ecc pairing", "seconds": t})
        results.append({"case": "ratio py_ecc / native pairing", "ratio": ratio})

    print()
    print(table(rows, ["case", "median", "target", "meets"]))
    out = write_json(
        "pairing",
        results,
        args.json,
        extra={"cpu_features": _native.cpu_features(), "affinity": sorted(os.sched_getaffinity(0))},
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
