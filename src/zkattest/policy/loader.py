"""Reading a policy directory: one Cedar schema and the ``*.cedar`` policy files.

A policy directory holds exactly one schema (``*.cedarschema``, Cedar's human-readable
schema format, or ``*.cedarschema.json``) and one or more ``*.cedar`` files, read in
sorted name order; names starting with ``.`` (editor lock and swap files) are ignored.
Every policy carries a unique ``@id("...")`` annotation.  The policies are parsed and
validated against the schema here, once; the engine then evaluates the cached
:class:`cedarpy.PolicySet` under those ids, so a decision names ``"min-age-range"``
rather than Cedar's positional ``policy3``.

Whatever is wrong with the directory raises :class:`PolicyError` naming the file, the
policy's id and its lines when they are known, and Cedar's own message.  cedarpy
reports no source positions, so a syntax error is located by parsing the file's
policies one at a time (:func:`split_policies` cuts the text at each top-level ``;``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from zkattest.errors import InvalidParameter

__all__ = [
    "DEFAULT_DENY",
    "EVALUATION_ERROR",
    "RESERVED_IDS",
    "LoadedPolicies",
    "PolicyError",
    "PolicySpan",
    "load_directory",
    "split_policies",
]

#: the id a decision reports when no permit matched
DEFAULT_DENY = "default-deny"
#: the id a decision reports when Cedar could not evaluate it (fail closed)
EVALUATION_ERROR = "evaluation-error"
#: ids the engine uses itself; a policy may not take them
RESERVED_IDS = frozenset({DEFAULT_DENY, EVALUATION_ERROR})

POLICY_SUFFIX = ".cedar"
SCHEMA_SUFFIXES = (".cedarschema", ".cedarschema.json")
MAX_FILE_BYTES = 1 << 20
MAX_ID_CHARS = 128
#: at most this many individual problems are listed in one PolicyError
MAX_DETAILS = 12

_ID_RE = re.compile(r'@id\s*\(\s*"((?:[^"\\]|\\.)*)"\s*\)')
_FOR_POLICY_RE = re.compile(r"^for policy `[^`]*`,\s*")


class PolicyError(InvalidParameter):
    """A policy directory cannot be used: the message says where and why.

    ``file``, ``policy_id`` and ``line`` locate the first problem when known; the
    message lists every problem found in that step (up to a dozen).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        policy_id: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.policy_id = policy_id
        self.line = line


@dataclass(frozen=True, slots=True)
class PolicySpan:
    """One policy's text in a file: from the end of the previous policy to its ``;``.

    ``first_line`` is the line of its first token (its annotations included) and
    ``last_line`` the line of its ``;`` (1-based); the text includes the comments
    before it.
    """

    first_line: int
    last_line: int
    text: str

    def lines(self) -> str:
        if self.first_line == self.last_line:
            return f"line {self.first_line}"
        return f"lines {self.first_line}-{self.last_line}"


def split_policies(text: str) -> list[PolicySpan]:
    """Cut Cedar policy text into policies at each ``;`` outside strings and comments.

    A trailing piece without ``;`` that holds anything but comments and white space
    is returned as a last (unterminated) span.  This is a locator for messages only:
    the policies themselves are parsed by Cedar.
    """
    spans: list[PolicySpan] = []
    line = last = 1
    start = 0
    first: int | None = None  # line of the current piece's first token
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c == '"':
            if first is None:
                first = line
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                if i < n and text[i] == "\n":
                    line += 1
                i += 1
            # an unterminated string runs to the end: stop at its last non-blank line
            last = line if i < n else line - text[len(text.rstrip()) :].count("\n")
        elif c == ";":
            spans.append(
                PolicySpan(first if first is not None else line, line, text[start : i + 1])
            )
            start, first = i + 1, None
        elif not c.isspace():
            if first is None:
                first = line
            last = line
        i += 1
    if first is not None:
        spans.append(PolicySpan(first, last, text[start:]))
    return spans


@dataclass(frozen=True, slots=True)
class LoadedPolicies:
    """A parsed and validated policy directory."""

    directory: Path
    schema_file: str
    schema: cedarpy.Schema
    policy_set: cedarpy.PolicySet
    #: policy ids in load order (files sorted by name, then order in the file)
    ids: tuple[str, ...]
    #: policy id -> "file:line"
    locations: dict[str, str]


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PolicyError(f"{path.name}: cannot read: {reason}", file=path.name) from None
    if len(data) > MAX_FILE_BYTES:
        raise PolicyError(
            f"{path.name}: larger than {MAX_FILE_BYTES} bytes; split it into several files",
            file=path.name,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError(
            f"{path.name}, line {line}: not UTF-8 text", file=path.name, line=line
        ) from None


def _list_directory(directory: Path) -> tuple[Path, list[Path]]:
    if not directory.is_dir():
        raise PolicyError(f"{directory}: not a directory (or not readable)")
    try:
        entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise PolicyError(f"{directory}: cannot list: {exc.strerror}") from None
    schemas = [p for p in entries if p.name.endswith(SCHEMA_SUFFIXES)]
    policies = [p for p in entries if p.name.endswith(POLICY_SUFFIX)]
    if not schemas:
        raise PolicyError(
            f"{directory}: no schema file (*.cedarschema or *.cedarschema.json); "
            "`zkattest policy init DIR` writes the default one to start from"
        )
    if len(schemas) > 1:
        names = ", ".join(p.name for p in schemas)
        raise PolicyError(f"{directory}: more than one schema file ({names}); keep exactly one")
    if not policies:
        raise PolicyError(
            f"{directory}: no policy files (*.cedar); with no policy every request is denied"
        )
    return schemas[0], policies


def _load_schema(path: Path) -> cedarpy.Schema:
    text = _read_text(path)
    try:
        if path.name.endswith(".json"):
            return cedarpy.Schema.from_json_str(text)
        return cedarpy.Schema.from_str(text)
    except ValueError as exc:
        raise PolicyError(f"{path.name}: invalid schema: {exc}", file=path.name) from None


def _id_in(span_text: str) -> str | None:
    m = _ID_RE.search(span_text)
    return m.group(1) if m else None


def _syntax_error(name: str, spans: list[PolicySpan], exc: ValueError) -> PolicyError:
    """Locate a parse error by parsing the file's policies one at a time."""
    for span in spans:
        try:
            cedarpy.policies_to_json_str(span.text)
        except ValueError as one:
            pid = _id_in(span.text)
            where = f"{name}, {span.lines()}" + (f" (policy {pid!r})" if pid else "")
            return PolicyError(
                f"{where}: syntax error: {one}",
                file=name,
                policy_id=pid,
                line=span.first_line,
            )
    return PolicyError(f"{name}: syntax error: {exc}", file=name)


def _policy_order(key: str) -> int:
    # Cedar names the policies of one text policy0, policy1, ... in source order
    digits = key.removeprefix("policy")
    return int(digits) if digits.isdigit() else 1 << 30


def _check_id(value: Any, where: str, name: str, line: int | None) -> str:
    if not isinstance(value, str) or not value:
        raise PolicyError(
            f'{where}: the policy has no @id("...") annotation; give every policy a '
            'unique, readable id, e.g. @id("allow-shop-age-check")',
            file=name,
            line=line,
        )
    if len(value) > MAX_ID_CHARS or not value.isprintable() or value != value.strip():
        raise PolicyError(
            f"{where}: policy id {value[:MAX_ID_CHARS]!r} must be 1..{MAX_ID_CHARS} printable "
            "characters without leading or trailing spaces",
            file=name,
            policy_id=value[:MAX_ID_CHARS],
            line=line,
        )
    if value in RESERVED_IDS:
        raise PolicyError(
            f"{where}: policy id {value!r} is reserved (the engine reports it itself); "
            "choose another",
            file=name,
            policy_id=value,
            line=line,
        )
    return value


def _validation_error(
    name: str,
    result: cedarpy.ValidationResult,
    by_positional: dict[str, tuple[str, int | None]],
) -> PolicyError:
    details: list[str] = []
    first: tuple[str | None, int | None] = (None, None)
    for err in result.errors:
        pid, line = by_positional.get(err.policy_id, (None, None))
        if first == (None, None):
            first = (pid, line)
        message = _FOR_POLICY_RE.sub("", err.error)
        where = name + (f", line {line}" if line is not None else "")
        where += f" (policy {pid!r})" if pid is not None else ""
        entry = f"{where}: {message}"
        if entry not in details:
            details.append(entry)
    shown = details[:MAX_DETAILS]
    if len(details) > MAX_DETAILS:
        shown.append(f"... and {len(details) - MAX_DETAILS} more")
    count = f"{len(details)} problem" + ("s" if len(details) > 1 else "")
    return PolicyError(
        f"{name}: does not match the schema ({count}):\n  " + "\n  ".join(shown),
        file=name,
        policy_id=first[0],
        line=first[1],
    )


def load_directory(directory: Path) -> LoadedPolicies:
    """Read, parse and validate a policy directory (see the module docstring)."""
    schema_path, policy_paths = _list_directory(directory)
    schema = _load_schema(schema_path)
    merged: dict[str, Any] = {}
    ids: list[str] = []
    locations: dict[str, str] = {}
    for path in policy_paths:
        name = path.name
        text = _read_text(path)
        spans = split_policies(text)
        try:
            est = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as exc:
            raise _syntax_error(name, spans, exc) from None
        static: dict[str, Any] = est.get("staticPolicies") or {}
        templates: dict[str, Any] = est.get("templates") or {}
        # spans line up with Cedar's policies only when every piece is one policy
        aligned = len(spans) == len(static) + len(templates)
        if templates:
            key = min(templates, key=_policy_order)
            span = spans[_policy_order(key)] if aligned else None
            pid = (templates[key].get("annotations") or {}).get("id")
            where = name + (f", {span.lines()}" if span else "")
            raise PolicyError(
                f"{where}: templates (policies with ?principal or ?resource) are not "
                "supported; name the principal or resource in the policy",
                file=name,
                policy_id=pid if isinstance(pid, str) else None,
                line=span.first_line if span else None,
            )
        by_positional: dict[str, tuple[str, int | None]] = {}
        for key in sorted(static, key=_policy_order):
            policy = static[key]
            index = _policy_order(key)
            span = spans[index] if aligned and index < len(spans) else None
            line = span.first_line if span else None
            where = name + (f", {span.lines()}" if span else "")
            pid = _check_id((policy.get("annotations") or {}).get("id"), where, name, line)
            if pid in merged:
                raise PolicyError(
                    f"{where}: duplicate policy id {pid!r} (also at {locations[pid]}); "
                    "policy ids must be unique across the directory",
                    file=name,
                    policy_id=pid,
                    line=line,
                )
            merged[pid] = policy
            ids.append(pid)
            locations[pid] = f"{name}:{line}" if line is not None else name
            by_positional[key] = (pid, line)
        result = cedarpy.validate_policies(text, schema)
        if not result.validation_passed:
            raise _validation_error(name, result, by_positional)
    if not ids:
        raise PolicyError(
            f"{directory}: the *.cedar files hold no policy; with no policy every request is denied"
        )
    doc = {"staticPolicies": merged, "templates": {}, "templateLinks": []}
    try:
        policy_set = cedarpy.PolicySet.from_json_str(json.dumps(doc))
    except ValueError as exc:  # pragma: no cover - Cedar re-reading its own output
        raise PolicyError(f"{directory}: cannot build the policy set: {exc}") from None
    return LoadedPolicies(
        directory=directory,
        schema_file=schema_path.name,
        schema=schema,
        policy_set=policy_set,
        ids=tuple(ids),
        locations=locations,
    )
