"""Poseidon against circomlibjs (pinned in tests/interop/package.json).

poseidon_vectors.js prints circomlibjs's Poseidon of fixed inputs for every arity 1..16
(its default, reference and optimized implementations agree or the script fails) and the
constants circomlibjs ships.  Our native hashes must equal its outputs, and the constants
our generator produced (exported by zka_poseidon_constants) must equal the shipped ones.

The npm packages are installed by conftest.py (``npm ci``) when node_modules is missing.  Without
node or npm these tests FAIL, they never skip.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from zkattest import _native

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "poseidon_vectors.js"
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617


@pytest.fixture(scope="module")
def ref(node: str) -> dict[str, Any]:
    proc = subprocess.run(
        [node, str(SCRIPT)], capture_output=True, text=True, timeout=600, cwd=HERE, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"poseidon_vectors.js failed:\n{proc.stderr[-3000:]}", pytrace=False)
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def _enc(values: list[int]) -> bytes:
    return b"".join(v.to_bytes(32, "little") for v in values)


def _dec(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "little") for i in range(0, len(data), 32)]


def test_every_arity_equals_circomlibjs(ref: dict[str, Any]) -> None:
    vectors = ref["vectors"]
    assert {len(v["inputs"]) for v in vectors} == set(range(1, 17))
    for v in vectors:
        inputs = [int(x) for x in v["inputs"]]
        assert all(0 <= x < R for x in inputs)
        assert _dec(_native.poseidon_hash(_enc(inputs))) == [int(v["out"])], (
            f"Poseidon of arity {len(inputs)} differs from circomlibjs"
        )


def test_batch_equals_circomlibjs(ref: dict[str, Any]) -> None:
    for arity in range(1, 17):
        rows = [v for v in ref["vectors"] if len(v["inputs"]) == arity]
        data = _enc([int(x) for v in rows for x in v["inputs"]])
        assert _dec(_native.poseidon_hashes(data, arity)) == [int(v["out"]) for v in rows]


def test_constants_equal_the_ones_circomlibjs_ships(ref: dict[str, Any]) -> None:
    shipped_c, shipped_m = ref["constants"]["C"], ref["constants"]["M"]
    assert len(shipped_c) == len(shipped_m) == 16
    for t in range(2, 18):
        rc_b, mds_b = _native.poseidon_constants(t)
        assert _dec(rc_b) == [int(x) for x in shipped_c[t - 2]], f"round constants, t = {t}"
        mds = _dec(mds_b)
        assert [mds[i * t : (i + 1) * t] for i in range(t)] == [
            [int(x) for x in row] for row in shipped_m[t - 2]
        ], f"MDS matrix, t = {t}"
