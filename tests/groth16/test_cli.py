"""The zkattest command end to end (subprocesses, as a user runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from zkattest.circuit import write_r1cs, write_wtns
from zkattest.groth16 import read_verification_key, write_zkey

from .conftest import Keys, age_inputs


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zkattest.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def _one_line_error(p: subprocess.CompletedProcess[str]) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zkattest: error: "), p.stderr


def test_help() -> None:
    p = run("--help")
    assert p.returncode == 0
    for word in ("setup", "prove", "verify", "Exit status"):
        assert word in p.stdout
    for cmd, word in (("setup", "DEVELOPMENT"), ("prove", "--witness"), ("verify", "exits 1")):
        p = run(cmd, "--help")
        assert p.returncode == 0 and word in p.stdout
    p = run()
    assert p.returncode == 2 and "Traceback" not in p.stderr
    p = run("bogus")
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_setup_prove_verify_r1cs_and_wtns(
    toy: Keys, toy_witness: list[int], tmp_path: Path
) -> None:
    write_r1cs(tmp_path / "toy.r1cs", toy.cc.r1cs)
    write_wtns(tmp_path / "toy.wtns", toy_witness)
    keys = tmp_path / "keys"
    p = run("setup", tmp_path / "toy.r1cs", "--out", keys)
    assert p.returncode == 0, p.stderr
    assert "development" in p.stderr
    for f in ("circuit.r1cs", "circuit.zkey", "verification_key.json"):
        assert (keys / f).is_file()
    assert (keys / "circuit.r1cs").read_bytes() == (tmp_path / "toy.r1cs").read_bytes()
    vk = read_verification_key(keys / "verification_key.json")
    assert vk.circuit_id is not None and vk.circuit_id in p.stderr
    # refuses to overwrite without --force
    again = run("setup", tmp_path / "toy.r1cs", "--out", keys)
    _one_line_error(again)
    assert "--force" in again.stderr

    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    p = run(
        "prove",
        "--zkey",
        keys / "circuit.zkey",
        "--witness",
        tmp_path / "toy.wtns",
        "--proof",
        proof,
        "--public",
        public,
    )
    assert p.returncode == 0, p.stderr
    vkf = keys / "verification_key.json"
    p = run("verify", "--vk", vkf, "--public", public, "--proof", proof)
    assert (p.returncode, p.stdout.strip()) == (0, "valid")
    p = run(
        "verify", "--vk", vkf, "--public", public, "--proof", proof, "--circuit-id", vk.circuit_id
    )
    assert p.returncode == 0
    p = run(
        "verify",
        "--vk",
        vkf,
        "--public",
        public,
        "--proof",
        proof,
        "--circuit-id",
        "sha256:" + "0" * 64,
    )
    assert p.returncode == 1 and p.stdout.startswith("invalid")

    # a changed public signal: invalid (exit 1)
    sig = json.loads(public.read_text())
    sig[0] = str(int(sig[0]) + 1)
    bad_public = tmp_path / "bad_public.json"
    bad_public.write_text(json.dumps(sig))
    p = run("verify", "--vk", vkf, "--public", bad_public, "--proof", proof)
    assert p.returncode == 1 and p.stdout.startswith("invalid")
    # malformed inputs: exit 2, one line
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    _one_line_error(run("verify", "--vk", vkf, "--public", public, "--proof", broken))
    _one_line_error(run("verify", "--vk", broken, "--public", public, "--proof", proof))
    _one_line_error(
        run("verify", "--vk", vkf, "--public", tmp_path / "nope.json", "--proof", proof)
    )
    pr = json.loads(proof.read_text())
    pr["pi_a"][1] = str(int(pr["pi_a"][1]) ^ 1)
    off_curve = tmp_path / "off.json"
    off_curve.write_text(json.dumps(pr))
    _one_line_error(run("verify", "--vk", vkf, "--public", public, "--proof", off_curve))
    short = tmp_path / "short.json"
    short.write_text(json.dumps(sig[:-1]))
    _one_line_error(run("verify", "--vk", vkf, "--public", short, "--proof", proof))
    # prove misuse
    _one_line_error(
        run("prove", "--zkey", keys / "circuit.zkey", "--proof", proof, "--public", public)
    )
    _one_line_error(
        run(
            "prove",
            "--zkey",
            broken,
            "--witness",
            tmp_path / "toy.wtns",
            "--proof",
            proof,
            "--public",
            public,
        )
    )
    _one_line_error(run("setup", "no_such_circuit", "--out", tmp_path / "x"))


@pytest.mark.slow
def test_prove_builtin_from_input(age: Keys, tmp_path: Path) -> None:
    write_zkey(tmp_path / "age.zkey", age.pk)
    from zkattest.groth16 import write_verification_key

    write_verification_key(tmp_path / "vk.json", age.vk)
    inp = tmp_path / "input.json"
    inp.write_text(
        json.dumps({k: v if isinstance(v, list) else str(v) for k, v in age_inputs().items()})
    )
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    p = run(
        "prove",
        "--zkey",
        tmp_path / "age.zkey",
        "--circuit",
        "age_gte",
        "--input",
        inp,
        "--proof",
        proof,
        "--public",
        public,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(public.read_text())[0] == "1"
    p = run("verify", "--vk", tmp_path / "vk.json", "--public", public, "--proof", proof)
    assert (p.returncode, p.stdout.strip()) == (0, "valid")
    # --input without --circuit, and the wrong circuit's key
    _one_line_error(
        run(
            "prove",
            "--zkey",
            tmp_path / "age.zkey",
            "--input",
            inp,
            "--proof",
            proof,
            "--public",
            public,
        )
    )
    bad_inp = tmp_path / "bad_input.json"
    bad_inp.write_text(json.dumps({"Ax": "1"}))
    _one_line_error(
        run(
            "prove",
            "--zkey",
            tmp_path / "age.zkey",
            "--circuit",
            "age_gte",
            "--input",
            bad_inp,
            "--proof",
            proof,
            "--public",
            public,
        )
    )
