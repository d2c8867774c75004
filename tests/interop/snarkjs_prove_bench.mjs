// Warm, in-process snarkjs Groth16 proving (for bench/groth16_bench.py).
//
//   node snarkjs_prove_bench.mjs <circuit.zkey> <witness.wtns> [repeat] [warmup]
//
// Calls snarkjs.groth16.prove on the same files `repeat` times in this one node
// process after `warmup` untimed calls (the first builds the curve and its worker
// threads), then verifies the last proof in-process, and prints one JSON line:
// {"median_ms", "times_ms", "threads", "verified", "proof", "publicSignals"}.
import os from "node:os";
import { performance } from "node:perf_hooks";

import * as snarkjs from "snarkjs";

const [zkey, wtns, repeatArg, warmupArg] = process.argv.slice(2);
if (!zkey || !wtns) {
    console.error("usage: node snarkjs_prove_bench.mjs <zkey> <wtns> [repeat] [warmup]");
    process.exit(2);
}
const repeat = Number(repeatArg || 5);
const warmup = Number(warmupArg || 1);

let last;
for (let i = 0; i < warmup; i++) last = await snarkjs.groth16.prove(zkey, wtns);
const times = [];
for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    last = await snarkjs.groth16.prove(zkey, wtns);
    times.push(performance.now() - t0);
}
const vk = await snarkjs.zKey.exportVerificationKey(zkey);
const verified = await snarkjs.groth16.verify(vk, last.publicSignals, last.proof);
const sorted = [...times].sort((a, b) => a - b);
const mid = sorted.length >> 1;
const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
console.log(JSON.stringify({
    median_ms: median,
    times_ms: times,
    threads: os.cpus().length,
    verified,
    proof: last.proof,
    publicSignals: last.publicSignals,
}));
// the curve's worker threads keep the event loop alive
if (globalThis.curve_bn128) await globalThis.curve_bn128.terminate();
process.exit(0);
