"""CPU-feature dispatch: the native tests pass on the portable path too.

The capability word is read once when the core loads, so the portable run needs
a fresh process with ZKATTEST_NO_ASM=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zkattest import _native

HERE = Path(__file__).resolve().parent


def _features_in_subprocess(env_value: str | None) -> int:
    env = dict(os.environ)
    env.pop("ZKATTEST_NO_ASM", None)
    if env_value is not None:
        env["ZKATTEST_NO_ASM"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", "from zkattest import _native; print(_native.cpu_features())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def test_no_asm_forces_portable() -> None:
    assert _features_in_subprocess("1") == 0


def test_no_asm_ifma_keeps_adx() -> None:
    full = _features_in_subprocess(None)
    masked = _features_in_subprocess("ifma")
    assert masked == full & ~_native.CPU_AVX512IFMA


def test_features_match_cpu() -> None:
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    feats = _features_in_subprocess(None)
    if {"adx", "bmi2"} <= flags:
        assert feats & _native.CPU_ADX and feats & _native.CPU_BMI2
    else:
        assert feats & _native.CPU_ADX == 0 or "adx" in flags


@pytest.mark.parametrize("mask", ["1", "ifma"], ids=["portable", "adx-without-ifma"])
def test_native_suite_on_other_paths(mask: str) -> None:
    """The whole native suite again with the accelerated paths masked off."""
    if os.environ.get("ZKATTEST_NO_ASM"):
        # already a masked run: nothing further to spawn
        return
    env = dict(os.environ, ZKATTEST_NO_ASM=mask, ZKATTEST_HYPOTHESIS_PROFILE="ci")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            str(HERE),
            "-k",
            "not test_native_suite_on_other_paths",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " passed" in res.stdout
