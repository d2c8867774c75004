"""The tamper-evident audit trail.

Every agent lifecycle step, policy decision, token issuance and approval becomes an
:class:`AuditEvent`: who acted (``actor``, and the RFC 8693 delegation chain ``act``),
on whom (``subject``), what (``kind`` from a closed set, ``outcome``), what it refers to
(``refs``: whitelisted identifiers only), when (``ts``, integer microseconds), and
which earlier events it follows (``links``: an agent's provisioned → running →
verified/proved → attested → retired steps, each linking to the one before and to
the decision that allowed it, across chains if need be).

Design choices
--------------

*One chain per writer, a trail of chains.*  Several service replicas write at once; a
single global chain would need a global lock (or a database round trip to learn the
previous hash) on every event.  So each writer instance owns a chain (``chain_id``:
its instance id) with ``seq`` 0, 1, 2... and ``prev`` = the previous event's hash;
the trail is the union of the chains, in any interleaving.  Links carry
``(chain_id, seq, hash)`` rather than a bare hash, so a verifier finds the target in
O(1) with 32 bytes of memory per event instead of a hash table, and can say where a
missing target should have been.

*Sign checkpoints, not events.*  An ES256 signature check costs ~100 µs in Python,
which would cap verification near 10,000 events/s, and signing each event would slow
every append.  The writer signs a checkpoint ("event ``seq`` of chain ``chain_id``
has hash ``head``") every ``checkpoint_every`` events (256), every
``checkpoint_interval`` seconds and on close; through the hash chain it vouches for
every earlier event of the chain.  Events after the last checkpoint are an *unsigned
tail*: reported, not an error (a live writer always has one), and the window in
which an attacker with write access to the store could alter events undetected.  A
tail cut off after the last checkpoint, or a whole chain removed, leaves no trace in
the trail itself: :func:`verify_trail` takes *anchors* (checkpoints kept elsewhere,
e.g. from the previous verification run) that the trail must reach.

*No witness data, by construction.*  Events have no free-form member: ``refs`` is a
closed struct of identifiers (length-bounded, character-restricted), integers and an
outcome/reason code; unknown keys, nested objects, oversize values and anything
shaped like a JWS (a token, an SVID, an attestation) are refused at append.  A
birthdate, a holder secret, a credential or a proof has no field to go in.  (Nothing
stops code from deliberately putting a secret into an identifier field; review must.)

*Canonical bytes anyone can recompute.*  All strings are printable ASCII without
``"`` and ``\\``, integers below 2**53: the hashed bytes are RFC 8785 JSON (sorted
members, no whitespace, no escapes), reproducible in any language
(:mod:`.events` has the exact rules).  Records are stored in exactly that form so
that duplicate members or other JSON variants cannot show two readers two events.

*Durable and fast appends.*  :class:`AuditLog` orders events under an asyncio lock
and group-commits them: the appends made while one write (and fsync) is in flight
share the next one.  Sinks are compare-and-append (a batch must continue the sink's
head of its chain), so two writers mistakenly sharing a chain id cannot fork it; a
restarted writer resumes from ``sink.head(chain_id)``.

Modules: :mod:`.events` (formats), :mod:`.log` (writer, sink protocol, memory sink),
:mod:`.jsonl` (file sink and reader), :mod:`.verify` (verifier), :mod:`.keys` (the
public key file), :mod:`.commands` (CLI actions).
"""

from __future__ import annotations

from .events import (
    CHECKPOINT_TYP,
    EVENT_KINDS,
    GENESIS,
    MAX_ACT_DEPTH,
    MAX_LINKS,
    REFS_KEYS,
    Act,
    AuditConflict,
    AuditError,
    AuditEvent,
    AuditFormatError,
    AuditRefused,
    AuditWriterFailed,
    Checkpoint,
    EventKind,
    Link,
    MalformedRecord,
    Refs,
    canonical_bytes,
    decode_record,
    encode_record,
    event_hash,
)
from .jsonl import JsonlSink, iter_jsonl, load_jsonl
from .keys import load_public_keys, parse_public_keys, public_jwk, public_pem, write_public_key
from .log import AuditLog, AuditSink, ChainHead, MemorySink, advance_head, now_us
from .verify import ChainReport, TrailError, TrailReport, verify_trail

__all__ = [
    "CHECKPOINT_TYP",
    "EVENT_KINDS",
    "GENESIS",
    "MAX_ACT_DEPTH",
    "MAX_LINKS",
    "REFS_KEYS",
    "Act",
    "AuditConflict",
    "AuditError",
    "AuditEvent",
    "AuditFormatError",
    "AuditLog",
    "AuditRefused",
    "AuditSink",
    "AuditWriterFailed",
    "ChainHead",
    "ChainReport",
    "Checkpoint",
    "EventKind",
    "JsonlSink",
    "Link",
    "MalformedRecord",
    "MemorySink",
    "Refs",
    "TrailError",
    "TrailReport",
    "advance_head",
    "canonical_bytes",
    "decode_record",
    "encode_record",
    "event_hash",
    "iter_jsonl",
    "load_jsonl",
    "load_public_keys",
    "now_us",
    "parse_public_keys",
    "public_jwk",
    "public_pem",
    "verify_trail",
    "write_public_key",
]
