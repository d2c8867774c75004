"""The interop tests' npm packages (pinned in package.json / package-lock.json).

Before any interop test runs, ``npm ci`` installs them here when node_modules is
incomplete, so README's test command works on a fresh checkout.  Without node or
npm every interop test FAILS saying what to install; none is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def tool(name: str) -> str:
    """Path of a Node.js tool, or fail the test saying how to get it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: the interop tests need Node.js and npm "
            "(e.g. apt-get install nodejs npm)",
            pytrace=False,
        )
    return path


def _missing() -> list[str]:
    deps = json.loads((HERE / "package.json").read_text())["dependencies"]
    return [name for name in deps if not (HERE / "node_modules" / name).is_dir()]


@pytest.fixture(scope="session", autouse=True)
def npm_packages() -> None:
    if not _missing():
        return
    npm = tool("npm")
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    missing = _missing()
    if proc.returncode != 0 or missing:
        pytest.fail(
            f"`npm ci` in {HERE} failed (missing: {', '.join(missing)}):\n{proc.stderr[-3000:]}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def node() -> str:
    """Path of the node binary (fails the test without it)."""
    return tool("node")
