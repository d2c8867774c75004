"""Groth16 benchmark: age_gte setup/load/prove/verify/batch, memory, scaling, peers.

    python bench/groth16_bench.py             # full run (the figures in bench/README.md)
    python bench/groth16_bench.py --quick     # fewer repeats, synthetic circuits to 2^14

What it measures (medians, wall clock):

- ``age_gte``: ``dev_setup``, loading the ``.zkey`` (parse + native handle), proving
  with 1 and 2 threads, verifying, ``verify_batch`` at N = 1, 16, 64 (time per proof);
- prover peak memory, in a fresh subprocess per thread count: after its imports and
  reading the witness, the process resets its RSS high-water mark (``/proc/self/
  clear_refs``) and notes its RSS; it loads the key and proves once; the peak is
  ``VmHWM`` minus that baseline (so the interpreter and the imported modules are
  excluded; the key is included).  ``getrusage``'s ``ru_maxrss`` is not usable here:
  Linux carries the parent's high-water mark into a forked child across exec.  A
  second subprocess runs the same under ``tracemalloc`` for the Python heap's share;
- synthetic circuits (a chain of multiplications built with the DSL) whose domain is
  2^12 .. 2^18 (``--quick``: .. 2^14): ``dev_setup`` each, prove time at 2 threads and
  how it grows per doubling;
- snarkjs (pinned in tests/interop, if node and ``npm ci`` are there): one node
  process proving the same ``.zkey`` and witness, warm, several times (median;
  snarkjs uses its worker threads on all cores), and the ratio to ours at 2 threads;
- groth16py (arkworks; ``pip install 'zkattest[bench]'``, optional): the same
  ``.zkey`` and ``.wtns`` proved in a subprocess with ``RAYON_NUM_THREADS=1`` (and 2),
  ratio single-threaded against our single-threaded prover;
- a chart of prove time against constraint count, bench/prove_time.png (matplotlib,
  optional).

Every peer proof is checked with our verifier.  JSON to bench/results/groth16.json
with machine and commit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import ROOT, machine, median_time, table, write_json
from zkattest import groth16
from zkattest.circuit import Circuit, CompiledCircuit, InputValue, write_wtns
from zkattest.circuits import age_gte
from zkattest.curve import G1, G2

INTEROP = ROOT / "tests" / "interop"
TARGETS = {
    "prove_2t_ms": 60.0,
    "verify_ms": 1.5,
    "batch64_per_proof_ms": 0.5,
    "peak_mem_mib": 80.0,
    "load_zkey_ms": 50.0,
    "groth16py_ratio": 4.0,
}


# ----------------------------------------------------------------- circuits
def age_inputs(nonce: int = 4242, min_age: int = 18) -> dict[str, InputValue]:
    return age_gte.example_inputs(nonce=nonce, min_age=min_age)


def chain(log_domain: int) -> CompiledCircuit:
    """A chain of multiplications filling the 2^log_domain domain exactly: snarkjs's
    domain holds the constraints plus one row per public signal and the constant."""
    n_public = 2  # the output and x
    n = (1 << log_domain) - n_public - 1
    c = Circuit(f"chain{log_domain}")
    x = c.public_input("x")
    acc = c.private_input("y")
    for i in range(n):
        acc = c.mul(acc + i, x + acc) if i % 2 else c.mul(acc, acc + x)
    c.output("out", acc)
    cc = c.compile()
    assert cc.r1cs.n_constraints == n and cc.r1cs.n_public == n_public, cc.r1cs
    return cc


# ----------------------------------------------------------------- helpers
def ms(t: float) -> str:
    return f"{t * 1e3:.3f} ms" if t < 0.01 else f"{t * 1e3:.1f} ms"


def meets(value: float, target: float, *, higher_is_better: bool = False) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "yes" if ok else "NO"


MEM_SCRIPT = r"""
import gc, json, sys
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(key)
from zkattest import groth16
from zkattest.circuit import read_wtns
zkey, wtns, nthreads, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
w = read_wtns(wtns)
gc.collect()
import_hwm = status("VmHWM")
try:
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
        f.write("5")
    reset = True
except OSError:
    reset = False  # then the peak may include the imports' own peak
base = status("VmRSS")
if mode == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
pk = groth16.read_zkey(zkey)
after_load = status("VmRSS")
proof, public = groth16.prove(pk, w, nthreads=nthreads)
out = {
    "import_hwm_kib": import_hwm,
    "hwm_reset": reset,
    "baseline_rss_kib": base,
    "after_load_rss_kib": after_load,
    "peak_rss_kib": status("VmHWM"),
}
if mode == "tracemalloc":
    out["python_peak_kib"] = tracemalloc.get_traced_memory()[1] // 1024
assert groth16.verify(pk.verifying_key(), public, proof)
print(json.dumps(out))
"""

BARE_SCRIPT = (
    "print(next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')))"
)

GROTH16PY_SCRIPT = r"""
import json, os, statistics, sys, time
zkey, wtns, threads, repeat, public = sys.argv[1:6]
os.environ["RAYON_NUM_THREADS"] = threads   # before the first parallel call
import groth16py
t0 = time.perf_counter()
pk, vk = groth16py.import_zkey(zkey)
load = time.perf_counter() - t0
p = groth16py.prove_wtns(pk, wtns)          # warm-up
times = []
for _ in range(int(repeat)):
    t0 = time.perf_counter()
    p = groth16py.prove_wtns(pk, wtns)
    times.append(time.perf_counter() - t0)
ok = groth16py.Verifier(vk).verify(p, [int(v) for v in json.loads(public)])
print(json.dumps({"median_s": statistics.median(times), "times_s": times, "load_s": load,
                  "verified_by_groth16py": ok, "proof_hex": p.hex(),
                  "version": groth16py.__version__}))
"""


def proof_from_eth(blob: bytes) -> groth16.Proof:
    """groth16py's 256-byte proof (Ethereum precompile layout: big-endian words,
    G2 coordinates as c1, c0) as our Proof."""
    v = [int.from_bytes(blob[i : i + 32], "big") for i in range(0, 256, 32)]
    return groth16.Proof(
        G1.from_xy(v[0], v[1]), G2.from_xy((v[3], v[2]), (v[5], v[4])), G1.from_xy(v[6], v[7])
    )


def node_status() -> str | None:
    """None if node and the pinned snarkjs are usable, else why not."""
    if shutil.which("node") is None:
        return "node not found (install Node.js, then `npm ci` in tests/interop)"
    if not (INTEROP / "node_modules" / "snarkjs" / "package.json").is_file():
        return "snarkjs not installed (run `npm ci` in tests/interop)"
    return None


# -------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, synthetic to 2^14")
    ap.add_argument("--json", default=None, help="output JSON path")
    ap.add_argument("--max-log", type=int, default=None, help="largest synthetic domain 2^N")
    ap.add_argument("--no-snarkjs", action="store_true")
    ap.add_argument("--no-groth16py", action="store_true")
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument("--chart", default=str(ROOT / "bench" / "prove_time.png"))
    args = ap.parse_args()
    quick = args.quick
    max_log = args.max_log or (14 if quick else 18)
    rep_prove = 7 if quick else 21
    rep_verify = 51 if quick else 301
    rep_setup = 1 if quick else 3
    cpus = os.cpu_count() or 1
    threads2 = min(2, cpus)

    mach = machine()
    print(f"machine: {mach['cpu']}, {cpus} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    rows: list[dict[str, Any]] = []
    res: dict[str, Any] = {"targets": TARGETS}

    def row(case: str, value: str, target: str = "", ok: str = "") -> None:
        rows.append({"case": case, "value": value, "target": target, "meets": ok})
        print(f"  {case:<44} {value}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="zka-g16-bench-"))
    try:
        # ------------------------------------------------------------ age_gte
        cc = age_gte.compiled()
        r1cs = cc.r1cs
        w = cc.solve(age_inputs())
        print(
            f"age_gte: {r1cs.n_constraints} constraints, {r1cs.n_wires} wires, "
            f"{r1cs.n_public} public signals",
            flush=True,
        )
        t0 = time.perf_counter()
        pk, vk = groth16.dev_setup(r1cs, rng=random.Random(1), progress=False)
        setup_times = [time.perf_counter() - t0]
        for k in range(rep_setup - 1):
            t0 = time.perf_counter()
            groth16.dev_setup(r1cs, rng=random.Random(2 + k), progress=False)
            setup_times.append(time.perf_counter() - t0)
        setup = statistics.median(setup_times)
        row("age_gte dev_setup", ms(setup))
        zkey, wtns = tmp / "age_gte.zkey", tmp / "age_gte.wtns"
        groth16.write_zkey(zkey, pk)
        write_wtns(wtns, w)
        load = median_time(lambda: groth16.read_zkey(zkey), 5 if quick else 11)
        row(
            "age_gte load .zkey (parse + native handle)",
            ms(load),
            f"<= {TARGETS['load_zkey_ms']:.0f} ms",
            meets(load * 1e3, TARGETS["load_zkey_ms"]),
        )
        pk = groth16.read_zkey(zkey)
        pk.native  # noqa: B018 (built once, outside the timings)
        proof, public = groth16.prove(pk, w, nthreads=1)
        assert groth16.verify(vk, public, proof)
        prove1 = median_time(lambda: groth16.prove(pk, w, nthreads=1), rep_prove, warmup=2)
        row("age_gte prove, 1 thread", ms(prove1))
        prove2 = median_time(lambda: groth16.prove(pk, w, nthreads=threads2), rep_prove, warmup=2)
        row(
            f"age_gte prove, {threads2} threads",
            ms(prove2),
            f"<= {TARGETS['prove_2t_ms']:.0f} ms",
            meets(prove2 * 1e3, TARGETS["prove_2t_ms"]),
        )
        verify = median_time(lambda: groth16.verify(vk, public, proof), rep_verify, warmup=3)
        row(
            "age_gte verify",
            ms(verify),
            f"<= {TARGETS['verify_ms']} ms",
            meets(verify * 1e3, TARGETS["verify_ms"]),
        )
        # 64 proofs of distinct statements (nonce varies) for the batch verifier
        items: list[tuple[list[int], groth16.Proof]] = []
        for i in range(64):
            wi = cc.solve(age_inputs(nonce=1000 + i))
            pi, si = groth16.prove(pk, wi, nthreads=threads2)
            items.append((si, pi))
        batch: dict[int, float] = {}
        for n in (1, 16, 64):
            sub = items[:n]
            got = groth16.verify_batch(vk, sub)
            assert got.ok, got
            reps = max(5, (rep_verify // n) | 1)
            batch[n] = median_time(lambda sub=sub: groth16.verify_batch(vk, sub), reps, warmup=1)
            per = batch[n] / n
            tgt = TARGETS["batch64_per_proof_ms"]
            row(
                f"age_gte verify_batch N={n}, per proof",
                ms(per),
                f"<= {tgt} ms" if n == 64 else "",
                meets(per * 1e3, tgt) if n == 64 else "",
            )
        res["age_gte"] = {
            "constraints": r1cs.n_constraints,
            "wires": r1cs.n_wires,
            "n_public": r1cs.n_public,
            "domain": pk.domain_size,
            "zkey_bytes": zkey.stat().st_size,
            "setup_s": setup,
            "setup_times_s": setup_times,
            "load_zkey_s": load,
            "prove_1t_s": prove1,
            "prove_2t_s": prove2,
            "threads_2t": threads2,
            "verify_s": verify,
            "verify_batch_total_s": {str(n): t for n, t in batch.items()},
            "verify_batch_per_proof_s": {str(n): t / n for n, t in batch.items()},
        }

        # ------------------------------------------------------------ memory
        bare = int(
            subprocess.run(
                [sys.executable, "-c", BARE_SCRIPT], capture_output=True, text=True, check=True
            ).stdout
        )
        mem: dict[str, Any] = {"bare_interpreter_peak_kib": bare}
        for nt in sorted({1, threads2}):
            runs = {}
            for mode in ("rss", "tracemalloc"):
                out = subprocess.run(
                    [sys.executable, "-c", MEM_SCRIPT, str(zkey), str(wtns), str(nt), mode],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                runs[mode] = json.loads(out)
            m = runs["rss"]
            above = (m["peak_rss_kib"] - m["baseline_rss_kib"]) / 1024
            mem[f"{nt}t"] = {
                **m,
                "peak_above_imports_mib": above,
                "key_loaded_mib": (m["after_load_rss_kib"] - m["baseline_rss_kib"]) / 1024,
                "python_heap_peak_mib": runs["tracemalloc"]["python_peak_kib"] / 1024,
            }
            row(
                f"age_gte prove peak memory, {nt} thread{'s' if nt > 1 else ''}",
                f"{above:.1f} MiB",
                f"<= {TARGETS['peak_mem_mib']:.0f} MB" if nt == threads2 else "",
                meets(above, TARGETS["peak_mem_mib"]) if nt == threads2 else "",
            )
        mem["imports_baseline_mib"] = mem[f"{threads2}t"]["baseline_rss_kib"] / 1024
        mem["method"] = (
            "fresh subprocess: after imports and reading the witness, reset the RSS "
            "high-water mark (/proc/self/clear_refs 5) and take VmRSS as the baseline; "
            "read_zkey + prove; peak = VmHWM - baseline. A second run under tracemalloc "
            "gives the Python heap's share. (getrusage ru_maxrss is not used: Linux "
            "carries the parent's high-water mark into a forked child across exec.)"
        )
        res["memory"] = mem

        # ------------------------------------------------------------ peers
        peers: dict[str, Any] = {}
        why = None if not args.no_snarkjs else "--no-snarkjs"
        why = why or node_status()
        if why is None:
            reps = 3 if quick else 7
            out = subprocess.run(
                [
                    "node",
                    str(INTEROP / "snarkjs_prove_bench.mjs"),
                    str(zkey),
                    str(wtns),
                    str(reps),
                    "1",
                ],
                cwd=INTEROP,
                capture_output=True,
                text=True,
                check=True,
                timeout=900,
            ).stdout
            sj = json.loads(out.strip().splitlines()[-1])
            sj_proof = groth16.load_proof(sj["proof"])
            sj_public = groth16.load_public(sj["publicSignals"])
            assert sj["verified"] and sj_public == public
            assert groth16.verify(vk, sj_public, sj_proof), "snarkjs proof rejected by us"
            t = sj["median_ms"] / 1e3
            ver = json.loads((INTEROP / "node_modules" / "snarkjs" / "package.json").read_text())
            peers["snarkjs"] = {
                "version": ver["version"],
                "node": subprocess.run(
                    ["node", "--version"], capture_output=True, text=True
                ).stdout.strip(),
                "threads": sj["threads"],
                "prove_s": t,
                "times_s": [x / 1e3 for x in sj["times_ms"]],
                "ratio_vs_ours_2t": t / prove2,
            }
            row(f"snarkjs {ver['version']} prove ({sj['threads']} threads, warm)", ms(t))
            row(f"ratio snarkjs / ours ({threads2} threads)", f"{t / prove2:.1f}x")
        else:
            peers["snarkjs"] = {"skipped": why}
            row("snarkjs prove", f"skipped: {why}")

        why = "--no-groth16py" if args.no_groth16py else None
        if why is None:
            try:
                import groth16py  # type: ignore[import-not-found]  # noqa: F401
            except ImportError as e:
                why = f"groth16py not importable ({e}); pip install 'zkattest[bench]'"
        if why is None:
            gp: dict[str, Any] = {}
            for nt in sorted({1, threads2}):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        GROTH16PY_SCRIPT,
                        str(zkey),
                        str(wtns),
                        str(nt),
                        str(5 if quick else 11),
                        json.dumps([str(v) for v in public]),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                if out.returncode != 0:
                    gp[f"{nt}t"] = {"error": out.stderr.strip()[-2000:]}
                    row(f"groth16py prove, {nt} thread(s)", "FAILED (see JSON)")
                    continue
                g = json.loads(out.stdout.strip().splitlines()[-1])
                g["verified_by_us"] = groth16.verify(
                    vk, public, proof_from_eth(bytes.fromhex(g.pop("proof_hex")))
                )
                gp[f"{nt}t"] = g
                row(
                    f"groth16py {g['version']} prove, {nt} thread{'s' if nt > 1 else ''}",
                    ms(g["median_s"]),
                )
            if "median_s" in gp.get("1t", {}):
                ratio = gp["1t"]["median_s"] / prove1
                gp["ratio_1t_vs_ours_1t"] = ratio
                row(
                    "ratio groth16py / ours (1 thread each)",
                    f"{ratio:.1f}x",
                    f">= {TARGETS['groth16py_ratio']:.0f}x",
                    meets(ratio, TARGETS["groth16py_ratio"], higher_is_better=True),
                )
            peers["groth16py"] = gp
        else:
            peers["groth16py"] = {"skipped": why}
            row("groth16py prove", f"skipped: {why}")
        res["peers"] = peers

        # ------------------------------------------------------------ synthetic
        synth: list[dict[str, Any]] = []
        prev = None
        for lg in range(12, max_log + 1):
            t0 = time.perf_counter()
            scc = chain(lg)
            build = time.perf_counter() - t0
            t0 = time.perf_counter()
            sw = scc.solve({"x": 3, "y": 5}, check=False)
            solve = time.perf_counter() - t0
            t0 = time.perf_counter()
            spk, svk = groth16.dev_setup(scc.r1cs, rng=random.Random(lg), progress=False)
            ssetup = time.perf_counter() - t0
            assert spk.domain_size == 1 << lg, (spk.domain_size, lg)
            sp, spub = groth16.prove(spk, sw, nthreads=threads2)
            assert groth16.verify(svk, spub, sp)
            reps = 3 if lg >= 17 or quick else 5
            t = median_time(lambda spk=spk, sw=sw: groth16.prove(spk, sw, nthreads=threads2), reps)
            growth = t / prev if prev else None
            prev = t
            n = scc.r1cs.n_constraints
            synth.append(
                {
                    "log_domain": lg,
                    "constraints": n,
                    "build_compile_s": build,
                    "solve_s": solve,
                    "setup_s": ssetup,
                    "prove_s": t,
                    "threads": threads2,
                    "growth_vs_half": growth,
                    "us_per_constraint": t / n * 1e6,
                }
            )
            g = f", x{growth:.2f} per doubling" if growth else ""
            row(
                f"chain 2^{lg} ({n} constraints) prove, {threads2}t",
                f"{ms(t)} ({t / n * 1e6:.1f} us/constraint{g}); setup {ssetup:.1f} s",
            )
            del spk, svk, sw, scc
        res["synthetic"] = synth

        # ------------------------------------------------------------ chart
        chart = None
        if not args.no_chart:
            chart = plot(args.chart, synth, res, threads2, mach["cpu"])
        res["chart"] = chart
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(table(rows, ["case", "value", "target", "meets"]))
    out_path = write_json(
        "groth16", res, args.json, extra={"loadavg_1_5_15": list(os.getloadavg()), "quick": quick}
    )
    print(f"\nload average {os.getloadavg()[0]:.2f}; JSON: {out_path}")


def plot(
    path: str, synth: list[dict[str, Any]], res: dict[str, Any], nt: int, cpu: str
) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no chart (pip install 'zkattest[bench]')")
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    xs = [s["constraints"] for s in synth]
    ax.plot(
        xs,
        [s["prove_s"] * 1e3 for s in synth],
        "o-",
        label=f"zkattest, chain circuits (domain 2^k), {nt} threads",
    )
    age = res["age_gte"]
    dom = f"domain 2^{age['domain'].bit_length() - 1}"
    ax.plot(
        [age["constraints"]],
        [age["prove_2t_s"] * 1e3],
        "s",
        label=f"zkattest age_gte ({dom}), {nt} threads",
    )
    ax.plot(
        [age["constraints"]],
        [age["prove_1t_s"] * 1e3],
        "D",
        label=f"zkattest age_gte ({dom}), 1 thread",
    )
    sj = res["peers"].get("snarkjs", {})
    if "prove_s" in sj:
        ax.plot(
            [age["constraints"]],
            [sj["prove_s"] * 1e3],
            "^",
            label=f"snarkjs {sj['version']} age_gte, {sj['threads']} threads",
        )
    gp = res["peers"].get("groth16py", {}).get("1t", {})
    if "median_s" in gp:
        ax.plot(
            [age["constraints"]],
            [gp["median_s"] * 1e3],
            "v",
            label="groth16py (arkworks) age_gte, 1 thread",
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("constraints")
    ax.set_ylabel("prove time (ms, median)")
    ax.set_title(f"Groth16 prove time, BN254 -- {cpu}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"chart: {path}")
    return os.path.relpath(path, ROOT)


if __name__ == "__main__":
    main()
