// Reference values from circomlibjs (Baby Jubjub, EdDSA-Poseidon) for zkattest's tests.
//
// Usage: node eddsa_vectors.js < request.json > response.json
// The request is one JSON object; every key is optional and answered under the same
// key.  Field elements and scalars are decimal strings, byte strings are hex.
//   base8:   true                                -> [x, y]
//   prv2pub: [prvHex, ...]                       -> [[x, y], ...]
//   sign:    [{prv, msg}, ...]                   -> [{R8: [x, y], S, packed}, ...]
//   verify:  [{msg, R8: [x, y], S, A: [x, y]}]   -> [bool, ...]
//   unpackSig: [hex64, ...] -> [{R8, S} | null, ...]
//   pack:    [[x, y], ...]                       -> [hex, ...]
//   unpack:  [hex, ...]                          -> [[x, y] | null, ...]
//   add:     [[[x1, y1], [x2, y2]], ...]         -> [[x, y], ...]
//   mul:     [[[x, y], k], ...]                  -> [[x, y], ...]
//   inCurve / inSubgroup: [[x, y], ...]          -> [bool, ...]
//   blake512: [hex, ...]                         -> [hex, ...]
//   poseidon: [[x, ...], ...]                    -> [decimal, ...]
"use strict";

const { buildEddsa, buildPoseidon } = require("circomlibjs");
const createBlakeHash = require("blake-hash");

function readStdin() {
    return new Promise((resolve, reject) => {
        const chunks = [];
        process.stdin.on("data", (c) => chunks.push(c));
        process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        process.stdin.on("error", reject);
    });
}

async function main() {
    const req = JSON.parse(await readStdin());
    const eddsa = await buildEddsa();
    const bj = eddsa.babyJub;
    const F = bj.F;
    const out = {};

    const pt = (p) => [F.e(BigInt(p[0])), F.e(BigInt(p[1]))];
    const show = (p) => [F.toObject(p[0]).toString(), F.toObject(p[1]).toString()];
    const hex = (u8) => Buffer.from(u8).toString("hex");

    if (req.base8) out.base8 = show(bj.Base8);
    if (req.prv2pub) out.prv2pub = req.prv2pub.map((h) => show(eddsa.prv2pub(Buffer.from(h, "hex"))));
    if (req.sign) {
        out.sign = req.sign.map(({ prv, msg }) => {
            const sig = eddsa.signPoseidon(Buffer.from(prv, "hex"), F.e(BigInt(msg)));
            return { R8: show(sig.R8), S: sig.S.toString(), packed: hex(eddsa.packSignature(sig)) };
        });
    }
    if (req.verify) {
        out.verify = req.verify.map(({ msg, R8, S, A }) =>
            eddsa.verifyPoseidon(F.e(BigInt(msg)), { R8: pt(R8), S: BigInt(S) }, pt(A)),
        );
    }
    if (req.unpackSig) {
        out.unpackSig = req.unpackSig.map((h) => {
            const sig = eddsa.unpackSignature(Buffer.from(h, "hex"));
            return sig.R8 === null ? null : { R8: show(sig.R8), S: sig.S.toString() };
        });
    }
    if (req.pack) out.pack = req.pack.map((p) => hex(bj.packPoint(pt(p))));
    if (req.unpack) {
        out.unpack = req.unpack.map((h) => {
            const p = bj.unpackPoint(Buffer.from(h, "hex"));
            return p === null ? null : show(p);
        });
    }
    if (req.add) out.add = req.add.map(([p, q]) => show(bj.addPoint(pt(p), pt(q))));
    if (req.mul) out.mul = req.mul.map(([p, k]) => show(bj.mulPointEscalar(pt(p), BigInt(k))));
    if (req.inCurve) out.inCurve = req.inCurve.map((p) => bj.inCurve(pt(p)));
    if (req.inSubgroup) out.inSubgroup = req.inSubgroup.map((p) => bj.inSubgroup(pt(p)));
    if (req.blake512) {
        out.blake512 = req.blake512.map((h) =>
            createBlakeHash("blake512").update(Buffer.from(h, "hex")).digest("hex"),
        );
    }
    if (req.poseidon) {
        const poseidon = await buildPoseidon();
        out.poseidon = req.poseidon.map((xs) =>
            poseidon.F.toObject(poseidon(xs.map((x) => BigInt(x)))).toString(),
        );
    }
    process.stdout.write(JSON.stringify(out));
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
        process.exit(1);
    },
);
