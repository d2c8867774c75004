"""Groth16 against snarkjs (pinned in tests/interop/package.json), both directions:

- snarkjs verifies our ``age_gte`` proofs (result 1 and result 0) and rejects a
  tampered one;
- we verify proofs that snarkjs made from a ``.zkey`` we wrote (a small circuit and
  ``age_gte``);
- we prove with a ``.zkey`` that snarkjs made from our ``.r1cs`` (powers of tau,
  phase 2 setup and a contribution, all by snarkjs) and snarkjs verifies the proof;
- ``snarkjs zkey export verificationkey`` of our ``.zkey`` is our
  ``verification_key.json``; our reader loads snarkjs's ``.zkey`` into the key that
  ``snarkjs zkey export json`` shows, and writes it back byte for byte.

These tests need Node.js and ``npm ci`` in tests/interop (.ci/run does both).  They
FAIL, never skip, when the tools are missing.  The powers-of-tau file is made once
per session at 2^6 (4-10 s for new + contribute + prepare phase2 on a 2-core machine;
``prepare phase2`` grows fast: ~22 s at 2^8, ~100 s at 2^10).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zkattest import groth16
from zkattest.circuit import Circuit, CompiledCircuit, InputValue, write_wtns
from zkattest.curve import G1, G2
from zkattest.field import P, R
from zkattest.groth16 import formats as g16formats

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PTAU_POWER = 6  # >= the small circuit's domain (constraints + public signals + 1 rows)


# --------------------------------------------------------------------- snarkjs
def _snarkjs_cli() -> tuple[str, Path]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: install Node.js and npm, then run `npm ci` in tests/interop")
    pkg = json.loads((HERE / "package.json").read_text())["dependencies"]
    if "snarkjs" not in pkg:
        pytest.fail("snarkjs is not pinned in tests/interop/package.json")
    mod = HERE / "node_modules" / "snarkjs"
    if not (mod / "package.json").is_file():
        pytest.fail("snarkjs is not installed: run `npm ci` in tests/interop")
    installed = json.loads((mod / "package.json").read_text())
    if installed["version"] != pkg["snarkjs"]:
        pytest.fail(
            f"snarkjs {installed['version']} installed, {pkg['snarkjs']} pinned: "
            "run `npm ci` in tests/interop"
        )
    return node, mod / installed["bin"]["snarkjs"]


def _snarkjs_run(*args: str | Path, timeout: float = 300) -> tuple[int, str]:
    node, cli = _snarkjs_cli()
    proc = subprocess.run(
        [node, str(cli), *map(str, args)],
        cwd=HERE,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, ANSI.sub("", proc.stdout + proc.stderr)


def snarkjs(*args: str | Path, timeout: float = 300) -> str:
    """Run the pinned snarkjs CLI; AssertionError with its output if it fails."""
    rc, out = _snarkjs_run(*args, timeout=timeout)
    if rc != 0:
        raise AssertionError(f"snarkjs {' '.join(map(str, args))} failed ({rc}):\n{out}")
    return out


def snarkjs_verify(vk: Path, public: Path, proof: Path) -> bool:
    """``snarkjs groth16 verify``: True on OK, False on 'Invalid proof', else error."""
    rc, out = _snarkjs_run("groth16", "verify", vk, public, proof)
    if rc == 0 and "OK!" in out:
        return True
    if "Invalid proof" in out:
        return False
    raise AssertionError(f"snarkjs groth16 verify gave neither OK nor Invalid ({rc}):\n{out}")


# ------------------------------------------------------------------- circuits
def _small() -> CompiledCircuit:
    """A small circuit (28 constraints, 3 public signals; domain 2^5) with a nontrivial H: a
    product chain, a square, and linear terms on every side of the constraints."""
    c = Circuit("small")
    x = c.public_input("x")
    k = c.public_input("k")
    a = c.private_input("a")
    b = c.private_input("b")
    acc = c.mul(a + 1, b - 2 * x)
    for i in range(24):
        acc = c.mul(acc + i, a + k)
    sq = c.square(acc - b)
    c.output("y", sq + 3 * x)
    c.mul(k, k)  # bind k on its own too
    return c.compile()


SMALL_INPUTS: dict[str, InputValue] = {"x": 5, "k": 11, "a": 1234567, "b": 7654321}


def _age_inputs(min_age: int) -> dict[str, InputValue]:
    from zkattest.circuits import age_gte

    return age_gte.example_inputs(min_age=min_age)


@dataclass
class Keys:
    dir: Path
    cc: CompiledCircuit
    pk: groth16.ProvingKey
    vk: groth16.VerifyingKey
    zkey: Path
    vk_json: Path


def _dev_keys(d: Path, cc: CompiledCircuit, seed: int) -> Keys:
    d.mkdir(parents=True, exist_ok=True)
    pk, vk = groth16.dev_setup(cc.r1cs, rng=random.Random(seed), progress=False)
    groth16.write_zkey(d / "circuit.zkey", pk)
    groth16.write_verification_key(d / "verification_key.json", vk)
    cc.write_r1cs(d / "circuit.r1cs")
    return Keys(d, cc, pk, vk, d / "circuit.zkey", d / "verification_key.json")


@pytest.fixture(scope="session")
def age_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    from zkattest.circuits import age_gte

    return _dev_keys(tmp_path_factory.mktemp("age_gte"), age_gte.compiled(), 2025)


@pytest.fixture(scope="session")
def small_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return _dev_keys(tmp_path_factory.mktemp("small"), _small(), 7)


@pytest.fixture(scope="session")
def ptau(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared powers-of-tau file (2^PTAU_POWER), made by snarkjs once per session
    with fixed entropy on the command line (no stdin)."""
    d = tmp_path_factory.mktemp("ptau")
    p0, p1, final = d / "pot_0.ptau", d / "pot_1.ptau", d / "pot_final.ptau"
    snarkjs("powersoftau", "new", "bn128", str(PTAU_POWER), p0)
    snarkjs("powersoftau", "contribute", p0, p1, "--name=zkattest-ci", "-e=zkattest ptau entropy")
    snarkjs("powersoftau", "prepare", "phase2", p1, final)
    return final


@pytest.fixture(scope="session")
def snarkjs_small_zkey(ptau: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    """snarkjs's groth16 key for our small circuit's .r1cs: setup + one contribution."""
    d = tmp_path_factory.mktemp("snarkjs_small")
    cc = _small()
    cc.write_r1cs(d / "small.r1cs")
    z0, z1 = d / "small_0.zkey", d / "small_1.zkey"
    snarkjs("groth16", "setup", d / "small.r1cs", ptau, z0)
    snarkjs("zkey", "contribute", z0, z1, "--name=zkattest-ci", "-e=zkattest zkey entropy")
    vk_json = d / "verification_key.json"
    snarkjs("zkey", "export", "verificationkey", z1, vk_json)
    pk = groth16.read_zkey(z1)
    yield Keys(d, cc, pk, groth16.read_verification_key(vk_json), z1, vk_json)


# -------------------------------------------------------------------- helpers
def _write_proof(d: Path, stem: str, proof: groth16.Proof, public: list[int]) -> tuple[Path, Path]:
    pf, pub = d / f"{stem}_proof.json", d / f"{stem}_public.json"
    groth16.write_proof(pf, proof)
    groth16.write_public(pub, public)
    return pf, pub


def _snarkjs_prove(keys: Keys, witness: list[int], stem: str) -> tuple[groth16.Proof, list[int]]:
    w = keys.dir / f"{stem}.wtns"
    write_wtns(w, witness)
    pf, pub = keys.dir / f"{stem}_proof.json", keys.dir / f"{stem}_public.json"
    snarkjs("groth16", "prove", keys.zkey, w, pf, pub)
    return groth16.read_proof(pf), groth16.read_public(pub)


def _tamper_public(public: list[int], i: int = 0) -> list[int]:
    bad = list(public)
    bad[i] = (bad[i] + 1) % R
    return bad


# ------------------------------------------------------------------ (a) age_gte
@pytest.mark.parametrize(("min_age", "result"), [(18, 1), (30, 0)])
def test_snarkjs_verifies_our_age_gte_proof(age_keys: Keys, min_age: int, result: int) -> None:
    w = age_keys.cc.solve(_age_inputs(min_age))
    proof, public = groth16.prove(age_keys.pk, w)
    assert public == age_keys.cc.r1cs.public_signals(w)
    assert public[0] == result
    assert groth16.verify(age_keys.vk, public, proof)
    pf, pub = _write_proof(age_keys.dir, f"ours_{result}", proof, public)
    assert snarkjs_verify(age_keys.vk_json, pub, pf)
    # the same proof claiming the other result is rejected by snarkjs too
    flipped = [1 - public[0], *public[1:]]
    _, bad_pub = _write_proof(age_keys.dir, f"ours_{result}_flipped", proof, flipped)
    assert not snarkjs_verify(age_keys.vk_json, bad_pub, pf)
    assert not groth16.verify(age_keys.vk, flipped, proof)


# ------------------------------------------- (b) snarkjs proves with our .zkey
def test_we_verify_snarkjs_proof_from_our_small_zkey(small_keys: Keys) -> None:
    w = small_keys.cc.solve(SMALL_INPUTS)
    proof, public = _snarkjs_prove(small_keys, w, "snarkjs")
    assert public == small_keys.cc.r1cs.public_signals(w)
    assert groth16.verify(small_keys.vk, public, proof)
    assert not groth16.verify(small_keys.vk, _tamper_public(public, 1), proof)
    # and in a batch with one of ours
    ours, ours_pub = groth16.prove(small_keys.pk, w)
    res = groth16.verify_batch(small_keys.vk, [(public, proof), (ours_pub, ours)])
    assert res.ok and res.failed == ()
    res = groth16.verify_batch(small_keys.vk, [(public, proof), (_tamper_public(ours_pub), ours)])
    assert not res.ok and res.failed == (1,)


def test_we_verify_snarkjs_proof_from_our_age_gte_zkey(age_keys: Keys) -> None:
    w = age_keys.cc.solve(_age_inputs(18))
    proof, public = _snarkjs_prove(age_keys, w, "snarkjs_age")
    assert public == age_keys.cc.r1cs.public_signals(w)
    assert public[0] == 1
    assert groth16.verify(age_keys.vk, public, proof)
    assert groth16.verify(groth16.read_verification_key(age_keys.vk_json), public, proof)
    assert not groth16.verify(age_keys.vk, _tamper_public(public, 0), proof)


# ------------------------------------- (c) we prove with snarkjs's .zkey
def test_we_prove_with_snarkjs_zkey_and_snarkjs_verifies(snarkjs_small_zkey: Keys) -> None:
    k = snarkjs_small_zkey
    w = k.cc.solve(SMALL_INPUTS)
    proof, public = groth16.prove(k.pk, w)
    assert public == k.cc.r1cs.public_signals(w)
    pf, pub = _write_proof(k.dir, "ours", proof, public)
    assert snarkjs_verify(k.vk_json, pub, pf)
    assert groth16.verify(k.vk, public, proof)
    assert groth16.verify(k.pk.verifying_key(), public, proof)
    # snarkjs's initial key (before the contribution: another delta) loads and proves
    # too, and its proofs are not valid under the contributed key
    pk0 = groth16.read_zkey(k.dir / "small_0.zkey")
    assert pk0.delta2 != k.pk.delta2 and pk0.ic == k.pk.ic
    proof0, public0 = groth16.prove(pk0, w)
    assert groth16.verify(pk0.verifying_key(), public0, proof0)
    assert not groth16.verify(k.vk, public0, proof0)
    # a wrong public signal: both reject
    bad = _tamper_public(public, 2)
    _, bad_pub = _write_proof(k.dir, "ours_bad", proof, bad)
    assert not snarkjs_verify(k.vk_json, bad_pub, pf)
    assert not groth16.verify(k.vk, bad, proof)


# ------------------------------------------------ (d) keys and their exports
def _strip(vk_obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in vk_obj.items() if k != "circuit_id"}


@pytest.mark.parametrize("which", ["small", "age_gte"])
def test_snarkjs_exports_our_verification_key(which: str, small_keys: Keys, age_keys: Keys) -> None:
    k = small_keys if which == "small" else age_keys
    out = k.dir / "snarkjs_vk.json"
    snarkjs("zkey", "export", "verificationkey", k.zkey, out)
    theirs = json.loads(out.read_text())
    ours = json.loads(k.vk_json.read_text())
    assert ours.get("circuit_id") == groth16.circuit_id((k.dir / "circuit.r1cs").read_bytes())
    ab = "vk_alphabeta_12"
    assert {f: v for f, v in _strip(ours).items() if f != ab} == {
        f: v for f, v in theirs.items() if f != ab
    }
    assert ours[ab] == theirs[ab], (
        "vk_alphabeta_12 differs: snarkjs writes e(alpha, beta)^(2z(6z^2+3z+1)) "
        "(ffjavascript's final exponentiation), see test_snarkjs_alphabeta_convention"
    )


def test_snarkjs_alphabeta_convention(small_keys: Keys) -> None:
    """snarkjs's ``vk_alphabeta_12`` is e(alpha, beta) raised to 2z(6z^2 + 3z + 1),
    z = 4965661367192848881 (the hard part of ffjavascript's final exponentiation is
    that power of the standard one); our pairing is the standard one."""
    from zkattest.pairing import Fq12, pairing

    out = small_keys.dir / "snarkjs_vk_ab.json"
    snarkjs("zkey", "export", "verificationkey", small_keys.zkey, out)
    m = json.loads(out.read_text())["vk_alphabeta_12"]
    theirs = Fq12.from_coeffs(int(m[i][j][k]) for i in range(2) for j in range(3) for k in range(2))
    z = 4965661367192848881
    e = pairing(small_keys.vk.alpha1, small_keys.vk.beta2)
    assert theirs == e ** (2 * z * (6 * z * z + 3 * z + 1) % R)
    assert theirs != e


def _pt(obj: Any) -> Any:
    """Normalize a snarkjs JSON point: every point at infinity compares equal."""
    if isinstance(obj, list) and len(obj) == 3 and obj[2] in ("0", ["0", "0"]):
        return "infinity"
    return obj


def _g1(p: G1) -> Any:
    return _pt(g16formats._g1_json(p))


def _g2(p: G2) -> Any:
    return _pt(g16formats._g2_json(p))


def test_our_reader_loads_snarkjs_zkey_as_snarkjs_exports_it(snarkjs_small_zkey: Keys) -> None:
    k = snarkjs_small_zkey
    out = k.dir / "zkey.json"
    snarkjs("zkey", "export", "json", k.zkey, out)
    js = json.loads(out.read_text())
    pk = groth16.read_zkey(k.zkey)

    assert (js["protocol"], int(js["q"]), int(js["r"])) == ("groth16", P, R)
    assert (js["nVars"], js["nPublic"], js["domainSize"], js["power"]) == (
        pk.n_vars,
        pk.n_public,
        pk.domain_size,
        pk.log_domain,
    )
    assert pk.n_vars == k.cc.r1cs.n_wires and pk.n_public == k.cc.r1cs.n_public
    assert _pt(js["vk_alpha_1"]) == _g1(pk.alpha1)
    assert _pt(js["vk_beta_1"]) == _g1(pk.beta1)
    assert _pt(js["vk_beta_2"]) == _g2(pk.beta2)
    assert _pt(js["vk_gamma_2"]) == _g2(pk.gamma2)
    assert _pt(js["vk_delta_1"]) == _g1(pk.delta1)
    assert _pt(js["vk_delta_2"]) == _g2(pk.delta2)
    assert [_pt(p) for p in js["IC"]] == [_g1(p) for p in pk.ic]
    assert [_pt(p) for p in js["A"]] == [_g1(p) for p in pk.a_points()]
    assert [_pt(p) for p in js["B1"]] == [_g1(p) for p in pk.b1_points()]
    assert [_pt(p) for p in js["B2"]] == [_g2(p) for p in pk.b2_points()]
    # C is indexed by wire: entries 0..nPublic are absent (null)
    assert js["C"][: pk.n_public + 1] == [None] * (pk.n_public + 1)
    assert [_pt(p) for p in js["C"][pk.n_public + 1 :]] == [_g1(p) for p in pk.c_points()]
    assert [_pt(p) for p in js["hExps"]] == [_g1(p) for p in pk.h_points()]
    assert [(c["matrix"], c["constraint"], c["signal"], int(c["value"])) for c in js["ccoefs"]] == [
        tuple(c) for c in pk.coefficients()
    ]
    # the verifying key we derive is the one snarkjs exports
    assert pk.verifying_key() == k.vk.with_circuit_id(pk.circuit_id)
    # and we write the same file back, byte for byte
    assert groth16.dump_zkey(pk) == k.zkey.read_bytes()
