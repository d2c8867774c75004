"""What every backend shares: argument checks, the record <-> row mapping, the columns
``transition_agent`` may set.

Both backends run these same checks before any SQL, so a call refused by one is refused
by the other with the same :class:`~zkattest.errors.InvalidParameter`.  Text is refused
when PostgreSQL could not store it (a NUL character) or UTF-8 cannot encode it (a lone
surrogate): SQLite would take the first and fail on the second with a bare
``UnicodeEncodeError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import msgspec

from ..errors import InvalidParameter
from .base import AgentField
from .errors import StoreError
from .records import (
    AGENT_STATES,
    AGENT_TRANSITIONS,
    INITIAL_STATUSES,
    MODES,
    AgentRecord,
    VerificationRecord,
)

__all__ = [
    "AGENT_UPDATABLE",
    "A_COLUMNS",
    "JSON_COLUMNS",
    "MAX_APPROVAL_KEYS",
    "MAX_APPROVAL_LIMIT",
    "V_COLUMNS",
    "agent_fields",
    "agent_update",
    "check_begin",
    "check_decision",
    "check_finish",
    "checked",
    "decode_row",
    "encode_row",
    "new_verification",
    "require_bool",
    "require_hash",
    "require_limit",
    "require_optional_text",
    "require_text",
    "require_time",
    "text_list",
]

#: Columns ``transition_agent`` may set besides ``state``.
AGENT_UPDATABLE: Final = frozenset(
    {"running_at", "attested_at", "retired_at", "failed_reason", "attestation_jti"}
)
_AGENT_TIME_FIELDS: Final = frozenset({"running_at", "attested_at", "retired_at"})
#: The timestamp a transition sets to ``now`` unless the caller gives it.
_STAMP_ON_ENTRY: Final = {
    "running": "running_at",
    "attested": "attested_at",
    "retired": "retired_at",
}

#: Fields a new session cannot have yet: the steps after creation set them.
_OUTCOME_FIELDS: Final = (
    "request_fetched_at",
    "presentation_token_hash",
    "presented_at",
    "mode",
    "agent_id",
    "result",
    "reason",
    "attestation",
    "completed_at",
    "approved_by",
    "approved_at",
)
#: ``awaiting_approval``: at most this many subjects and as many client ids per query.
MAX_APPROVAL_KEYS: Final = 256
MAX_APPROVAL_LIMIT: Final = 1000

_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")

V_COLUMNS: Final = tuple(f.name for f in msgspec.structs.fields(VerificationRecord))
A_COLUMNS: Final = tuple(f.name for f in msgspec.structs.fields(AgentRecord))
#: Columns holding JSON (SQLite: text; PostgreSQL: jsonb, json for ``act``).
JSON_COLUMNS: Final = frozenset({"params", "act", "policy_ids"})

_R = TypeVar("_R", VerificationRecord, AgentRecord)


# -- arguments -----------------------------------------------------------------------------


def _storable(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def require_hash(value: object, what: str) -> str:
    # a bearer token passed where its hash belongs must not reach the database
    if not isinstance(value, str) or _TOKEN_HASH.fullmatch(value) is None:
        raise InvalidParameter(f"{what} must be a SHA-256 hex digest (64 lowercase hex digits)")
    return value


def require_text(value: object, what: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"{what} must be a string")
    if not empty and not value:
        raise InvalidParameter(f"{what} must not be empty")
    if not _storable(value):
        raise InvalidParameter(f"{what} must be text without NUL or lone surrogates")
    return value


def require_optional_text(value: object, what: str) -> str | None:
    return None if value is None else require_text(value, what)


def require_time(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidParameter(f"{what} must be finite epoch seconds")
    return float(value)


def require_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameter(f"{what} must be a bool")
    return value


def require_limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter("limit must be an integer")
    if not 1 <= value <= MAX_APPROVAL_LIMIT:
        raise InvalidParameter(f"limit must be 1..{MAX_APPROVAL_LIMIT}")
    return value


# -- the arguments of the one-use steps (one check for both backends) ------------------------


def check_begin(
    id: object, token_hash: object, mode: object, now: object, deadline: object
) -> tuple[float, float]:
    """``begin_presentation``'s arguments; returns ``(now, agent_deadline)``."""
    require_text(id, "id")
    require_hash(token_hash, "presentation_token_hash")
    if mode not in MODES:
        raise InvalidParameter(f"mode must be one of {', '.join(MODES)}")
    return require_time(now, "now"), require_time(deadline, "agent_deadline")


def check_finish(
    id: object,
    status: object,
    result: object,
    reason: object,
    attestation: object,
    agent_id: object,
    now: object,
) -> float:
    """``finish_verification``'s arguments; returns ``now``."""
    require_text(id, "id")
    if status not in ("completed", "failed"):
        raise InvalidParameter("a verification finishes as completed or failed")
    if result is not None and not isinstance(result, bool):
        raise InvalidParameter("result must be a bool or None")
    require_optional_text(reason, "reason")
    require_optional_text(attestation, "attestation")
    require_optional_text(agent_id, "agent_id")
    return require_time(now, "now")


def check_decision(
    id: object, approve: object, approver: object, now: object, expires_at: object
) -> tuple[float, float]:
    """``decide_approval``'s arguments; returns ``(now, expires_at)``."""
    require_text(id, "id")
    require_bool(approve, "approve")
    require_text(approver, "approver", empty=False)
    t, deadline = require_time(now, "now"), require_time(expires_at, "expires_at")
    if approve and deadline <= t:
        raise InvalidParameter("an approved verification needs a deadline after now")
    return t, deadline


def text_list(values: object, what: str) -> list[str]:
    """A sequence of strings (not a string itself), deduplicated and sorted, at most
    ``MAX_APPROVAL_KEYS`` distinct entries."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidParameter(f"{what} must be a sequence of strings")
    out = sorted({require_text(v, f"each of {what}") for v in values})
    if len(out) > MAX_APPROVAL_KEYS:
        raise InvalidParameter(f"{what} has more than {MAX_APPROVAL_KEYS} entries")
    return out


def _leaves(obj: Any) -> Iterable[Any]:
    """Every scalar in a record's value, JSON members included (keys too)."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple):
            stack.extend(o)
        else:
            yield o


# -- records -------------------------------------------------------------------------------


def checked(rec: object, cls: type[_R]) -> _R:
    """Type-check a record built by a caller (Struct construction does not validate)."""
    if type(rec) is not cls:
        raise InvalidParameter(f"expected a {cls.__name__}")
    try:
        # asdict, not to_builtins: that would quietly turn bytes into base64 text
        out = msgspec.convert(msgspec.structs.asdict(rec), type=cls)
    except (msgspec.ValidationError, RecursionError) as e:
        raise InvalidParameter(f"invalid {cls.__name__}: {e}") from None
    for name in msgspec.structs.asdict(out):
        for leaf in _leaves(getattr(out, name)):
            if isinstance(leaf, str) and not _storable(leaf):
                raise InvalidParameter(
                    f"invalid {cls.__name__}: {name} holds text with NUL or lone surrogates"
                )
            # SQLite stores NaN as NULL and JSON has no NaN or infinity: both refused
            if isinstance(leaf, float) and not math.isfinite(leaf):
                raise InvalidParameter(f"invalid {cls.__name__}: {name} is not a finite number")
            if isinstance(leaf, int) and name == "today" and not -(2**63) <= leaf < 2**63:
                raise InvalidParameter(f"invalid {cls.__name__}: today is out of range")
    return out


def new_verification(rec: object) -> VerificationRecord:
    """The checks of ``create_verification``: a valid record in an initial state."""
    out = checked(rec, VerificationRecord)
    if out.status not in INITIAL_STATUSES:
        raise InvalidParameter(
            f"a new verification is {' or '.join(INITIAL_STATUSES)}, not {out.status}"
        )
    early = [name for name in _OUTCOME_FIELDS if getattr(out, name) is not None]
    if early:
        raise InvalidParameter(f"a new verification has no {', '.join(early)} yet")
    return out


def columns(cls: type[VerificationRecord | AgentRecord]) -> tuple[str, ...]:
    return V_COLUMNS if cls is VerificationRecord else A_COLUMNS


def encode_row(rec: VerificationRecord | AgentRecord, *, bool_as_int: bool) -> tuple[Any, ...]:
    """A record as column values in :func:`columns` order: JSON columns as sorted JSON
    text, ``result`` as 0/1 when ``bool_as_int`` (SQLite) or a bool (PostgreSQL)."""
    row: list[Any] = []
    for name in columns(type(rec)):
        value = getattr(rec, name)
        if name in JSON_COLUMNS and value is not None:
            value = msgspec.json.encode(value, order="sorted").decode()
        elif name == "result" and value is not None and bool_as_int:
            value = int(value)
        row.append(value)
    return tuple(row)


def decode_row(cls: type[_R], row: Iterable[Any]) -> _R:
    """Column values (JSON as text) -> a record; ``StoreError`` if they do not make one."""
    data: dict[str, Any] = {}
    try:
        for name, value in zip(columns(cls), row, strict=True):
            if name in JSON_COLUMNS and value is not None:
                value = msgspec.json.decode(value)
            elif name == "result" and value is not None:
                value = bool(value)
            data[name] = value
        return msgspec.convert(data, type=cls)
    except (msgspec.MsgspecError, TypeError, ValueError) as e:
        raise StoreError(f"stored {cls.__name__} is malformed: {e}") from None


# -- agents --------------------------------------------------------------------------------


def agent_fields(fields: Mapping[str, AgentField]) -> dict[str, AgentField]:
    unknown = sorted(set(fields) - AGENT_UPDATABLE)
    if unknown:
        raise InvalidParameter(
            f"transition_agent cannot set {', '.join(unknown)} "
            f"(only {', '.join(sorted(AGENT_UPDATABLE))})"
        )
    out: dict[str, AgentField] = {}
    for name, value in fields.items():
        if value is None:
            out[name] = None
        elif name in _AGENT_TIME_FIELDS:
            out[name] = require_time(value, name)
        else:
            out[name] = require_text(value, name)
    return out


def agent_update(
    id: object, frm: object, to: object, now: object, require_unexpired: object,
    fields: Mapping[str, AgentField],
) -> tuple[str, str, str, float, bool, dict[str, AgentField]]:  # fmt: skip
    """The checks of ``transition_agent``; returns the values to write, the entry stamp
    of ``to`` included (``now`` unless the caller gave it)."""
    id = require_text(id, "id")
    if frm not in AGENT_STATES or to not in AGENT_STATES:
        raise InvalidParameter(f"agent states are {', '.join(AGENT_STATES)}")
    assert isinstance(frm, str) and isinstance(to, str)
    if to not in AGENT_TRANSITIONS[frm]:
        raise InvalidParameter(f"no agent transition from {frm} to {to}")
    now = require_time(now, "now")
    require_unexpired = require_bool(require_unexpired, "require_unexpired")
    values = agent_fields(fields)
    stamp = _STAMP_ON_ENTRY.get(to)
    if stamp is not None and stamp not in values:
        values[stamp] = now
    return id, frm, to, now, require_unexpired, values
