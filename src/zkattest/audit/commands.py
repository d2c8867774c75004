"""Command-line actions on audit trails (``zkattest audit ...``; cli.py parses the
arguments and calls these).

``verify`` exit status: 0 the trail verifies (unsigned tails are reported, and are an
error only with ``require_signed``), 1 it is broken (the first broken link is
printed), 2 the input is unusable (a file that cannot be read, a key file that is not
a P-256 public key, a bad anchor, or a trail file in which no line is a record).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, Final, TextIO

import msgspec

from .. import errors
from .events import AuditFormatError, Checkpoint
from .jsonl import load_jsonl
from .keys import load_public_keys
from .verify import verify_trail

__all__ = ["EXIT_BROKEN", "EXIT_OK", "EXIT_UNUSABLE", "verify"]

EXIT_OK: Final = 0
EXIT_BROKEN: Final = 1
EXIT_UNUSABLE: Final = 2

_MAX_SHOWN: Final = 300


def _safe(text: str) -> str:
    """Printable ASCII only (a malformed line's text may hold terminal escapes)."""
    clean = "".join(
        c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii") for c in text
    )
    return clean if len(clean) <= _MAX_SHOWN else clean[:_MAX_SHOWN] + "..."


def _unusable(out: TextIO, json_output: bool, path: str, message: str) -> int:
    if json_output:
        doc = {"file": path, "exit": EXIT_UNUSABLE, "ok": False, "unusable": message}
        out.write(msgspec.json.encode(doc).decode() + "\n")
    else:
        out.write(_safe(f"{path}: cannot verify: {message}") + "\n")
    return EXIT_UNUSABLE


def verify(
    path: str | os.PathLike[str],
    public_key_path: str | os.PathLike[str],
    *,
    json_output: bool = False,
    require_signed: bool = False,
    anchors: Sequence[str] = (),
    out: TextIO | None = None,
) -> int:
    """Verify the JSON-lines trail at ``path`` against the audit public key(s) in
    ``public_key_path`` (PEM, JWK or JWKS) and print a summary (or one JSON object);
    returns the exit status (module docstring).  ``anchors``: checkpoint tokens the
    trail must reach (e.g. the ``last_checkpoint`` values of a previous run)."""
    out = sys.stdout if out is None else out
    name = os.fspath(path)
    try:
        keys = load_public_keys(public_key_path)
    except OSError as exc:
        return _unusable(out, json_output, name, f"cannot read the key file ({exc.strerror})")
    except errors.MalformedFile as exc:
        return _unusable(out, json_output, name, f"key file: {exc}")
    cps: list[Checkpoint] = []
    for token in anchors:
        try:
            cps.append(Checkpoint.from_jws(token.strip()))
        except AuditFormatError as exc:
            return _unusable(out, json_output, name, f"anchor: {exc}")
    try:
        report = verify_trail(load_jsonl(path), keys, anchors=cps)
    except OSError as exc:
        return _unusable(out, json_output, name, f"cannot read the trail ({exc.strerror})")
    if report.records and report.malformed == report.records:
        return _unusable(out, json_output, name, "no line of the file is an audit record")
    broken = not report.ok or (require_signed and report.unsigned > 0)
    code = EXIT_BROKEN if broken else EXIT_OK
    if json_output:
        doc: dict[str, Any] = {"file": name, "exit": code, **msgspec.to_builtins(report)}
        out.write(msgspec.json.encode(doc).decode() + "\n")
        return code
    out.write(_safe(f"{name}: audit trail, keys {', '.join(report.keys)}") + "\n")
    for line in report.summary("line"):
        out.write(_safe(line) + "\n")
    if report.ok and require_signed and report.unsigned:
        out.write(f"FAILED: {report.unsigned} event(s) are not signed (require_signed)\n")
    return code
