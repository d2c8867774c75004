"""The audit record formats: events, checkpoints, their canonical bytes and hashes.

This module is the specification a second implementation of the verifier needs.

Events
======

An event is a JSON object with exactly these members (nothing else is accepted)::

    act       null, or the RFC 8693 delegation chain {"sub": P, "act": {...}?}, at most
              MAX_ACT_DEPTH levels, no other members
    actor     P: who acted (a client id, a SPIFFE ID, "service")
    chain_id  C: the writer instance whose chain holds the event
    kind      one of EVENT_KINDS
    links     array of at most MAX_LINKS {"chain_id": C, "hash": H, "seq": N}: earlier
              events (of any chain of the trail) this one follows
    outcome   [a-z][a-z0-9_.-]{0,31}  ("ok", "allow", "deny", "yes", "no", "refused"...)
    prev      H: the hash of the event seq - 1 of the same chain; 64 "0" for seq 0
    refs      an object whose members are a subset of the fields of :class:`Refs`
              (absent when unset, never null; each field's shape is given there)
    seq       N: 0, 1, 2... without gaps within a chain
    subject   P or null: whom the event is about (an RP's client id, a token's sub)
    ts        N: microseconds since the Unix epoch, never decreasing within a chain
    hash      H: SHA-256 of the event's canonical bytes, lowercase hex

where P is 1..2048 characters from ``!`` .. ``~`` except ``"`` and ``\\`` (printable
ASCII without space, quote, backslash), C is ``[A-Za-z0-9._~-]{1,64}``, H is 64
lowercase hex digits, N an integer with 0 <= N < 2**53.  Every other string (in
``refs``) is printable ASCII too, without ``"`` and ``\\`` (``scope`` alone may contain
spaces).

**Canonical bytes** of an event: the UTF-8 JSON serialization of the event object
*without* its ``hash`` member, with

- the members of every object in ascending (byte) order of their names,
- no whitespace outside strings,
- integers in plain decimal, ``null`` for ``act``/``subject`` when they are null, and
  ``refs`` members and the inner ``act`` member omitted when they have no value.

Because no string may contain a quote, a backslash or a character outside printable
ASCII, no string ever needs an escape: the canonical bytes are exactly the RFC 8785
(JCS) serialization of the object, and also what Python's
``json.dumps(obj, sort_keys=True, separators=(",", ":"))`` prints.  ``hash`` is
``sha256(canonical bytes).hexdigest()``.

Records
=======

A trail is a sequence of records, one per line in a JSON-lines file (``\\n``-terminated,
no blank lines): ``{"event":E}`` where ``E`` is the canonical bytes of the event with
``,"hash":"<hash>"`` inserted before its final ``}``, or ``{"checkpoint":"<compact
JWS>"}``.  A record is stored in exactly this form and no other (no whitespace, no
escapes, members in this order): a reader must re-serialize what it parsed and
compare, so that duplicate member names (which parsers resolve differently) or other
variants cannot make two readers see two different events under one hash.

Checkpoints
===========

A checkpoint is an ES256 compact JWS (RFC 7515) made with the service's audit key:
header ``{"alg": "ES256", "kid": <RFC 7638 thumbprint of the audit key>, "typ":
"audit-checkpoint+jwt"}``, payload ``{"chain_id": C, "head": H, "seq": N, "ts": N}``
(exactly these members): "event ``seq`` of chain ``chain_id`` has hash ``head``"; ``ts``
is when it was signed (microseconds).  By the hash chain it vouches for every event
0..seq of that chain.

Why tuples and ``UNSET``: a decoded record has exactly one serialization (an explicit
``null`` in ``refs`` or a repeated member would otherwise give two byte strings for one
meaning), and records are immutable once hashed.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Final, Literal, get_args

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from .. import errors
from ..identity.jose import JoseError, decode_unverified

__all__ = [
    "CHECKPOINT_TYP",
    "EVENT_KINDS",
    "GENESIS",
    "MAX_ACT_DEPTH",
    "MAX_CHECKPOINT_LEN",
    "MAX_LINE",
    "MAX_LINKS",
    "REFS_KEYS",
    "Act",
    "AuditConflict",
    "AuditError",
    "AuditEvent",
    "AuditFormatError",
    "AuditRefused",
    "AuditWriterFailed",
    "Checkpoint",
    "CheckpointClaims",
    "EventKind",
    "Link",
    "MalformedRecord",
    "Refs",
    "act_depth",
    "canonical_bytes",
    "checkpoint_claims",
    "decode_record",
    "encode_record",
    "event_hash",
    "looks_like_token",
    "strings_in",
]


# --------------------------------------------------------------------------- errors


class AuditError(errors.ZkAttestError):
    """Root of the audit trail's errors."""


class AuditRefused(AuditError, errors.InvalidParameter):
    """An event was refused at append: unknown kind, a field outside the schema
    (``refs`` keys not whitelisted, oversize or wrongly shaped values, a token)."""


class AuditFormatError(AuditError, errors.MalformedFile):
    """A stored record (JSON line, checkpoint token) is not in the audit format."""


class AuditConflict(AuditError, RuntimeError):
    """The sink's head of a chain is not where the writer expected it: another live
    writer uses the same ``chain_id`` (a configuration error: one id per instance)."""


class AuditWriterFailed(AuditError, RuntimeError):
    """The writer can no longer append: a write to its sink failed or was interrupted,
    or it was closed.  A new :class:`~zkattest.audit.AuditLog` resumes from the sink."""


# --------------------------------------------------------------------------- shapes

#: the ``prev`` of the first event of a chain
GENESIS: Final = "0" * 64
#: deepest RFC 8693 ``act`` nesting recorded (oauth.tokens.MAX_CHAIN)
MAX_ACT_DEPTH: Final = 8
#: most links one event may carry
MAX_LINKS: Final = 16
#: ``typ`` header of a checkpoint JWS
CHECKPOINT_TYP: Final = "audit-checkpoint+jwt"
_MAX_INT: Final = 2**53  # JSON-safe integers (RFC 7493 §2.2, RFC 8785 §3.2.2.3)

# ``\Z``, not ``$``: ``$`` also matches before a final newline
_PRINCIPAL_RE: Final = r"^[\x21\x23-\x5b\x5d-\x7e]{1,2048}\Z"
_ID_RE: Final = r"^[A-Za-z0-9._~:/@-]{1,128}\Z"
_CODE_RE: Final = r"^[a-z][a-z0-9_.-]{0,63}\Z"
_URI_RE: Final = r"^[A-Za-z][A-Za-z0-9+.-]{0,31}:[\x21\x23-\x5b\x5d-\x7e]{1,480}\Z"

Principal = Annotated[str, Meta(pattern=_PRINCIPAL_RE)]
ChainId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9._~-]{1,64}\Z")]
Hex256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}\Z")]
#: a hash the verifier compares by value (``prev``, ``hash``, a link's ``hash``): a
#: value that is not 64 lowercase hex digits can never equal a computed one, so the
#: decoder checks only the length (a regex per hash would cost 10 % of verification)
HashRef = Annotated[str, Meta(min_length=64, max_length=64)]
Count = Annotated[int, Meta(ge=0, lt=_MAX_INT)]
Ident = Annotated[str, Meta(pattern=_ID_RE)]
Code = Annotated[str, Meta(pattern=_CODE_RE)]
Outcome = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_.-]{0,31}\Z")]

EventKind = Literal[
    "agent.attested",
    "agent.expired",
    "agent.failed",
    "agent.proved",
    "agent.provisioned",
    "agent.retired",
    "agent.running",
    "agent.verified",
    "approval.decided",
    "approval.requested",
    "policy.decided",
    "token.issued",
    "token.refused",
    "verification.completed",
    "verification.created",
    "verification.failed",
]
#: the closed set of event kinds
EVENT_KINDS: Final[frozenset[str]] = frozenset(get_args(EventKind))


class Act(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One level of an RFC 8693 ``act`` claim: the current actor ``sub`` and, nested,
    the actor before it.  Members in canonical order."""

    act: Act | UnsetType = UNSET
    sub: Principal


class Link(Struct, frozen=True, forbid_unknown_fields=True):
    """A reference to an earlier event: where it is and what its hash is."""

    chain_id: ChainId
    hash: HashRef
    seq: Count


class Refs(Struct, frozen=True, forbid_unknown_fields=True):
    """The only things an event may point at: identifiers and public parameters.

    There is no free-text member: nothing here can hold a birthdate, a holder secret,
    a credential, a proof or a token (the writer also refuses any value shaped like a
    JWS).  Members in canonical order; each is absent unless set.
    """

    agent_id: Ident | UnsetType = UNSET
    approval_id: Ident | UnsetType = UNSET
    #: an absolute URI (the RP's audience)
    audience: Annotated[str, Meta(pattern=_URI_RE)] | UnsetType = UNSET
    circuit_id: Ident | UnsetType = UNSET
    client_id: Ident | UnsetType = UNSET
    #: an expiry, seconds since the epoch
    exp: Count | UnsetType = UNSET
    #: an RFC 7638 thumbprint (SHA-256, base64url)
    jkt: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{43}\Z")] | UnsetType = UNSET
    jti: Ident | UnsetType = UNSET
    #: the public parameter of ``age_gte``
    min_age: Annotated[int, Meta(ge=0, le=150)] | UnsetType = UNSET
    policy_ids: Annotated[tuple[Ident, ...], Meta(max_length=32)] | UnsetType = UNSET
    predicate: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,63}\Z")] | UnsetType = UNSET
    #: a machine-readable reason code (``replayed_jti``, ``policy_denied``...)
    reason: Code | UnsetType = UNSET
    #: space-separated scope tokens (RFC 6749 §3.3, without ``"`` and ``\\``)
    scope: (
        Annotated[
            str,
            Meta(
                max_length=512,
                pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*\Z",
            ),
        ]
        | UnsetType
    ) = UNSET
    task: Ident | UnsetType = UNSET
    verification_id: Ident | UnsetType = UNSET


#: the names :class:`Refs` accepts
REFS_KEYS: Final[frozenset[str]] = frozenset(Refs.__struct_fields__)


class AuditEvent(Struct, frozen=True, forbid_unknown_fields=True):
    """One audit event (module docstring).  Fields are declared in canonical order
    with ``hash`` last: the encoder's output minus its last member is the canonical
    body, so hashing costs one encode and one slice."""

    act: Act | None
    actor: Principal
    chain_id: ChainId
    kind: EventKind
    links: Annotated[tuple[Link, ...], Meta(max_length=MAX_LINKS)]
    outcome: Outcome
    prev: HashRef
    refs: Refs
    seq: Count
    subject: Principal | None
    ts: Count
    hash: HashRef

    def link(self) -> Link:
        """A :class:`Link` to this event (for a later event's ``links``)."""
        return Link(self.chain_id, self.hash, self.seq)


class Checkpoint(Struct, frozen=True):
    """A signed checkpoint: ``jws`` is the record; the other fields are its claims as
    parsed by :meth:`from_jws` (not verified: :func:`~zkattest.audit.verify_trail` does)."""

    chain_id: str
    seq: int
    head: str
    ts: int
    jws: str

    @classmethod
    def from_jws(cls, token: str) -> Checkpoint:
        """Parse (not verify) a checkpoint token.  Raises :class:`AuditFormatError`."""
        claims = checkpoint_claims(token)
        return cls(claims.chain_id, claims.seq, claims.head, claims.ts, token)


class CheckpointClaims(Struct, frozen=True, forbid_unknown_fields=True):
    """The payload of a checkpoint JWS."""

    chain_id: ChainId
    head: Hex256
    seq: Count
    ts: Count


#: longest checkpoint token read (ours are about 330 characters)
MAX_CHECKPOINT_LEN: Final = 2048


def checkpoint_claims(token: str) -> CheckpointClaims:
    """Decode a checkpoint token's claims without verifying it (strict JWS syntax).
    Raises :class:`AuditFormatError`."""
    try:
        jws = decode_unverified(token, max_len=MAX_CHECKPOINT_LEN)
        return msgspec.convert(jws.claims, CheckpointClaims, strict=True)
    except JoseError as exc:
        raise AuditFormatError(f"checkpoint is not a compact JWS ({exc.reason})") from None
    except msgspec.ValidationError as exc:
        raise AuditFormatError(f"checkpoint claims: {exc}") from None


class MalformedRecord(Struct, frozen=True):
    """A record that could not be read (from :func:`~zkattest.audit.load_jsonl`):
    ``line`` is its 1-based line number, ``reason`` why (it may quote the input)."""

    line: int
    reason: str


# The canonical-order layout is load-bearing (see AuditEvent): check it at import.
for _cls in (Act, Link, Refs, CheckpointClaims):
    if list(_cls.__struct_fields__) != sorted(_cls.__struct_fields__):  # pragma: no cover
        raise AssertionError(f"{_cls.__name__} fields are not in canonical order")
if list(AuditEvent.__struct_fields__) != [
    *sorted(f for f in AuditEvent.__struct_fields__ if f != "hash"),
    "hash",
]:  # pragma: no cover
    raise AssertionError("AuditEvent fields are not in canonical order with hash last")


# --------------------------------------------------------------------------- bytes

_ENCODE: Final = msgspec.json.Encoder().encode
_HASH_SUFFIX: Final = len(b',"hash":""}')


def canonical_bytes(event: AuditEvent) -> bytes:
    """The canonical bytes of ``event`` (module docstring): what ``hash`` covers.

    ``event.hash`` must be empty or 64 hex digits (anything else cannot be a valid
    event, and its "canonical bytes" are then meaningless but harmless: they will not
    hash to ``event.hash``)."""
    return _ENCODE(event)[: -(_HASH_SUFFIX + len(event.hash))] + b"}"


def event_hash(event: AuditEvent) -> str:
    """SHA-256 of :func:`canonical_bytes`, lowercase hex."""
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def act_depth(act: Act | None) -> int:
    """Number of levels of an ``act`` chain (0 for None)."""
    depth = 0
    node: Act | UnsetType | None = act
    while isinstance(node, Act):
        depth += 1
        if depth > MAX_ACT_DEPTH:
            break
        node = node.act
    return depth


# --------------------------------------------------------------------------- records


class _Line(Struct, frozen=True, forbid_unknown_fields=True):
    checkpoint: Annotated[str, Meta(max_length=MAX_CHECKPOINT_LEN)] | UnsetType = UNSET
    event: AuditEvent | UnsetType = UNSET


_LINE_DECODER: Final = msgspec.json.Decoder(_Line)
_EVENT_DECODER: Final = msgspec.json.Decoder(AuditEvent)
_EVENT_PREFIX: Final = b'{"event":'
#: longest JSON line read
MAX_LINE: Final = 65536


def encode_record(record: AuditEvent | Checkpoint) -> bytes:
    """One JSON line (without the newline): ``{"event": {...}}`` or
    ``{"checkpoint": "<jws>"}``."""
    if type(record) is AuditEvent:
        return b'{"event":' + _ENCODE(record) + b"}"
    if type(record) is Checkpoint:
        return b'{"checkpoint":' + _ENCODE(record.jws) + b"}"
    raise AuditError("only AuditEvent and Checkpoint records exist")


def decode_record(line: bytes | str) -> AuditEvent | Checkpoint:
    """Exact inverse of :func:`encode_record`: the line (without its newline) must be
    byte for byte what ``encode_record`` makes of the record it holds, and the record
    must satisfy the schema (of a hash, its length: :func:`~zkattest.audit.verify_trail`
    checks hash values).  Raises :class:`AuditFormatError`."""
    if isinstance(line, str):
        try:
            line = line.encode("utf-8")
        except UnicodeEncodeError:
            raise AuditFormatError("record is not UTF-8") from None
    if len(line) > MAX_LINE:
        raise AuditFormatError(f"record longer than {MAX_LINE} bytes")
    # printable ASCII and no backslash: no control character, no escape, no
    # non-ASCII text can be in a record (its strings may not hold any)
    if not line.isascii() or b"\\" in line or b"\x7f" in line:
        raise AuditFormatError("record holds a character outside printable ASCII or an escape")
    record: AuditEvent | Checkpoint
    if line.startswith(_EVENT_PREFIX) and line.endswith(b"}"):
        # the common case, decoded without the wrapper
        body = line[len(_EVENT_PREFIX) : -1]
        try:
            record = _EVENT_DECODER.decode(body)
        except msgspec.ValidationError as exc:
            raise AuditFormatError(f"event: {exc}") from None
        except (msgspec.DecodeError, RecursionError):
            raise AuditFormatError("not a JSON object of the record schema") from None
        if record.act is not None and act_depth(record.act) > MAX_ACT_DEPTH:
            raise AuditFormatError(f"act nests deeper than {MAX_ACT_DEPTH}")
        # One byte string per record: no whitespace, member order, escapes or
        # duplicate members (which parsers resolve differently) can make two
        # readers see two different events.
        if _ENCODE(record) != body:
            raise AuditFormatError("record is not in canonical form (encode_record)")
        return record
    try:
        rec = _LINE_DECODER.decode(line)
    except msgspec.ValidationError as exc:
        raise AuditFormatError(str(exc)) from None
    except (msgspec.DecodeError, RecursionError):
        raise AuditFormatError("not a JSON object") from None
    if type(rec.checkpoint) is str and rec.event is UNSET:
        record = Checkpoint.from_jws(rec.checkpoint)
    else:
        raise AuditFormatError('a record has an "event" or a "checkpoint" member')
    if encode_record(record) != line:
        raise AuditFormatError("record is not in canonical form (encode_record)")
    return record


#: a string shaped like a JWS / JWT (three base64url segments, a JSON header)
_JWS_SHAPE: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def looks_like_token(value: str) -> bool:
    """Whether ``value`` contains something shaped like a compact JWS."""
    return _JWS_SHAPE.search(value) is not None


def strings_in(obj: Any) -> list[str]:
    """Every string in a JSON-like structure (for the writer's token check)."""
    out: list[str] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, str):
            out.append(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list | tuple):
            stack.extend(o)
    return out
