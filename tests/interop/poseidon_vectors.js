// Reference Poseidon values from circomlibjs for zkattest's interop test.
//
// Usage: node poseidon_vectors.js > vectors.json
// Prints one JSON object:
//   constants: {C, M}  the constants circomlibjs ships (src/poseidon_constants.json), as
//                      decimal strings: C[t-2] = round constants of width t in round
//                      order, M[t-2][i][j] = MDS entry (state'[i] = sum_j M[i][j] state[j])
//   vectors:   [{inputs: [decimal, ...], out: decimal}, ...] for every arity 1..16:
//              all zeros, all r - 1, and fixed pseudo-random inputs (SHA-256 of a label,
//              reduced mod r).  `out` is circomlibjs's default poseidon (buildPoseidon);
//              its reference and optimized implementations must agree with it (else
//              this script fails).
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { buildPoseidon, buildPoseidonReference, buildPoseidonOpt } = require("circomlibjs");

const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const RANDOM_VECTORS_PER_ARITY = 4;

function pseudoRandom(label) {
    const h = crypto.createHash("sha256").update(label).digest("hex");
    return BigInt("0x" + h) % R;
}

function shippedConstants() {
    // the package root is two levels above its CommonJS entry point (build/main.cjs)
    const root = path.dirname(path.dirname(require.resolve("circomlibjs")));
    const raw = JSON.parse(fs.readFileSync(path.join(root, "src", "poseidon_constants.json"), "utf8"));
    const dec = (x) => BigInt(x).toString();
    return {
        C: raw.C.map((row) => row.map(dec)),
        M: raw.M.map((m) => m.map((row) => row.map(dec))),
    };
}

async function main() {
    const poseidon = await buildPoseidon();
    const reference = await buildPoseidonReference();
    const opt = await buildPoseidonOpt();
    const F = poseidon.F;

    const vectors = [];
    for (let arity = 1; arity <= 16; arity++) {
        const cases = [new Array(arity).fill(0n), new Array(arity).fill(R - 1n)];
        for (let k = 0; k < RANDOM_VECTORS_PER_ARITY; k++) {
            const inputs = [];
            for (let i = 0; i < arity; i++) inputs.push(pseudoRandom(`zkattest poseidon ${arity} ${k} ${i}`));
            cases.push(inputs);
        }
        for (const inputs of cases) {
            const out = F.toObject(poseidon(inputs)).toString();
            const outRef = reference.F.toObject(reference(inputs)).toString();
            const outOpt = opt.F.toObject(opt(inputs)).toString();
            if (out !== outRef || out !== outOpt) {
                throw new Error(`circomlibjs implementations disagree for arity ${arity}`);
            }
            vectors.push({ inputs: inputs.map((x) => x.toString()), out });
        }
    }
    const text = JSON.stringify({ constants: shippedConstants(), vectors });
    // a pipe write is asynchronous: wait for it before exiting
    await new Promise((resolve) => process.stdout.write(text, resolve));
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
        process.exit(1);
    },
);
