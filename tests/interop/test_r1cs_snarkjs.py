"""Our .r1cs / .wtns against the iden3 tools, pinned in tests/interop/package.json:
snarkjs reads our files and accepts our witnesses; we read circom's files and the
witnesses snarkjs computes for them.

These tests need Node.js and ``npm ci`` in tests/interop (.ci/run does both).  They
FAIL, never skip, when the tools are missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from zkattest.circuit import (
    Circuit,
    CompiledCircuit,
    check,
    find_unsatisfied,
    read_r1cs,
    read_wtns,
    write_wtns,
)
from zkattest.circuit.gadgets.compare import less_eq_than

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _npx(*args: str | Path, timeout: float = 300) -> str:
    npx = shutil.which("npx")
    if shutil.which("node") is None or npx is None:
        pytest.fail("node/npx not found: install Node.js and run `npm ci` in tests/interop")
    pkg = json.loads((HERE / "package.json").read_text())["dependencies"]
    for tool in ("snarkjs", "circom"):
        if tool not in pkg:
            pytest.fail(f"{tool} is not pinned in tests/interop/package.json")
        if not (HERE / "node_modules" / tool).is_dir():
            pytest.fail(f"{tool} is not installed: run `npm ci` in tests/interop")
    proc = subprocess.run(
        [npx, "--no", "--", *map(str, args)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    out = ANSI.sub("", proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise AssertionError(f"npx {' '.join(map(str, args))} failed ({proc.returncode}):\n{out}")
    return out


def _info(path: Path) -> dict[str, int]:
    out = _npx("snarkjs", "r1cs", "info", path)
    found = dict(re.findall(r"# of ([A-Za-z ]+): (\d+)", out))
    assert "Curve: bn-128" in out, out
    return {k: int(v) for k, v in found.items()}


def _demo() -> CompiledCircuit:
    c = Circuit("demo")
    today = c.public_input("today")
    bd = c.private_input("birthdate")
    age = c.public_input("min_age")
    c.output("ok", less_eq_than(c, bd + age * 10000, today, 28))
    c.output("sq", c.mul(bd, today))
    return c.compile()


def _assert_info(path: Path, cc: CompiledCircuit) -> None:
    r = cc.r1cs
    assert _info(path) == {
        "Wires": r.n_wires,
        "Constraints": r.n_constraints,
        "Private Inputs": r.n_prv_in,
        "Public Inputs": r.n_pub_in,
        "Labels": r.n_labels,
        "Outputs": r.n_pub_out,
    }


def test_snarkjs_reads_our_r1cs_and_accepts_our_witness(tmp_path: Path) -> None:
    cc = _demo()
    cc.write_r1cs(tmp_path / "demo.r1cs")
    _assert_info(tmp_path / "demo.r1cs", cc)
    w = cc.solve({"today": 20250101, "birthdate": 20000101, "min_age": 18})
    write_wtns(tmp_path / "ok.wtns", w)
    out = _npx("snarkjs", "wtns", "check", tmp_path / "demo.r1cs", tmp_path / "ok.wtns")
    assert "WITNESS IS CORRECT" in out, out
    # snarkjs rejects what our check rejects
    bad = list(w)
    bad[cc.wire("ok")] = 1 - bad[cc.wire("ok")]
    assert find_unsatisfied(cc.r1cs, bad) is not None
    write_wtns(tmp_path / "bad.wtns", bad)
    proc_out = _npx_allow_fail(
        "snarkjs", "wtns", "check", tmp_path / "demo.r1cs", tmp_path / "bad.wtns"
    )
    assert "WITNESS IS CORRECT" not in proc_out, proc_out


def _npx_allow_fail(*args: str | Path) -> str:
    try:
        return _npx(*args)
    except AssertionError as e:
        return str(e)


def test_snarkjs_reads_age_gte_and_accepts_its_witness(tmp_path: Path) -> None:
    from zkattest import babyjub as bj
    from zkattest.circuits import age_gte
    from zkattest.poseidon import poseidon

    cc = age_gte.compiled()
    cc.write_r1cs(tmp_path / "age_gte.r1cs")
    _assert_info(tmp_path / "age_gte.r1cs", cc)
    assert read_r1cs(tmp_path / "age_gte.r1cs").constraints == cc.r1cs.constraints
    prv = bytes(range(1, 33))
    a = bj.private_to_public(prv)
    attrs = [7, 20000101, 0, 0, 0, 0, 0, 0]
    h = poseidon([*attrs, 20300101, poseidon([99]), 5])
    sig = bj.sign_poseidon(prv, h)
    w = cc.solve(
        age_gte.make_inputs(
            issuer_key=(a.x, a.y),
            signature=(sig.r8.x, sig.r8.y, sig.s),
            attrs=attrs,
            expires=20300101,
            holder_secret=99,
            salt=5,
            today=20250101,
            min_age=18,
            nonce=1,
            rp_scope=3,
        )
    )
    write_wtns(tmp_path / "age_gte.wtns", w)
    out = _npx("snarkjs", "wtns", "check", tmp_path / "age_gte.r1cs", tmp_path / "age_gte.wtns")
    assert "WITNESS IS CORRECT" in out, out


CIRCOM_SRC = """
template Demo() {
    signal input a;
    signal private input b;
    signal output c;
    signal m;
    m <== a * b;
    c <== m * m + 3;
}
component main = Demo();
"""


def test_we_read_circom_r1cs_and_snarkjs_witness(tmp_path: Path) -> None:
    src = tmp_path / "demo.circom"
    src.write_text(CIRCOM_SRC)
    r1cs_p, wasm_p = tmp_path / "demo.r1cs", tmp_path / "demo.wasm"
    _npx("circom", src, "-r", r1cs_p, "-w", wasm_p, "-s", tmp_path / "demo.sym")
    (tmp_path / "input.json").write_text(json.dumps({"a": "3", "b": "5"}))
    _npx("snarkjs", "wtns", "calculate", wasm_p, tmp_path / "input.json", tmp_path / "w.wtns")
    r = read_r1cs(r1cs_p)
    assert (r.n_pub_out, r.n_pub_in, r.n_prv_in) == (1, 1, 1)
    assert _info(r1cs_p)["Constraints"] == r.n_constraints == 2
    w = read_wtns(tmp_path / "w.wtns")
    assert len(w) == r.n_wires
    check(r, w)
    assert w[1] == (3 * 5) ** 2 + 3  # the output is wire 1
    bad = list(w)
    bad[1] += 1
    assert find_unsatisfied(r, bad) is not None
