"""``zkattest policy check DIR`` and ``zkattest policy init DIR``, as plain functions.

Both print to stdout (results) or stderr (errors) and return a process exit code:
0 success, 1 failure.  The CLI wires them up.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from zkattest.policy.engine import DEFAULT_POLICY_DIR, PolicyEngine
from zkattest.policy.loader import POLICY_SUFFIX, SCHEMA_SUFFIXES, PolicyError

__all__ = ["check", "init"]


def check(
    directory: Path | str | None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Load and validate a policy directory (``None``: the shipped defaults).

    Prints ``OK``, the directory and every policy id with its file and line; or the
    error.  Returns 0 when the directory loads, 1 otherwise.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        engine = PolicyEngine.load(None if directory is None else Path(directory))
    except PolicyError as exc:
        print(f"error: {exc}", file=err)
        return 1
    count = len(engine.policy_ids)
    print(f"OK {engine.source}: schema {engine.schema_file}, {count} policies", file=out)
    width = max(len(pid) for pid in engine.policy_ids)
    for pid in engine.policy_ids:
        print(f"  {pid.ljust(width)}  {engine.locations[pid]}", file=out)
    return 0


def _shipped_files() -> list[Path]:
    return sorted(
        p
        for p in DEFAULT_POLICY_DIR.iterdir()
        if p.name.endswith((POLICY_SUFFIX, *SCHEMA_SUFFIXES)) and not p.name.startswith(".")
    )


def init(
    directory: Path | str,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Copy the shipped default policies and schema into ``directory`` for editing.

    ``directory`` must not exist or be empty: nothing is ever overwritten.  Returns 0
    on success, 1 otherwise.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    target = Path(directory)
    try:
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            print(
                f"error: {target} exists and is not an empty directory; not overwriting", file=err
            )
            return 1
        target.mkdir(parents=True, exist_ok=True)
        written: list[str] = []
        for src in _shipped_files():
            # "x": fail rather than replace a file that appeared meanwhile
            with (target / src.name).open("xb") as fh:
                fh.write(src.read_bytes())
            written.append(src.name)
    except OSError as exc:
        print(f"error: {target}: {exc.strerror or exc}", file=err)
        return 1
    print(f"wrote {', '.join(written)} to {target}", file=out)
    print(f"edit them, then run: zkattest policy check {target}", file=out)
    return 0
