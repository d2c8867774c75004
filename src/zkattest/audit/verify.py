"""Offline verification of an audit trail: every chain, every checkpoint, every link.

:func:`verify_trail` reads the records once, in order, and for each chain checks

- every event: its hash (recomputed from the canonical bytes), ``seq`` (0, 1, 2...),
  ``prev`` (the previous event's hash), ``ts`` (never decreasing), ``kind``, and its
  links (the target event exists in the trail with that hash; a link into the event's
  own chain must point backwards);
- every checkpoint: an ES256 signature by one of the given audit keys (``kid`` = the
  key's RFC 7638 thumbprint, ``typ`` ``audit-checkpoint+jwt``; ``none``, ``HS256`` and
  every other ``alg`` refused), for an event already read, with that event's hash,
  at a seq beyond the chain's previous checkpoint.

Errors are reported, not raised.  The first error of a chain ends the checking of that
chain (what follows cannot be trusted; those records are counted as skipped), other
chains go on; a malformed record is an error of the trail.  ``first_error`` is the
error at the smallest position (record number: the line number for
:func:`~zkattest.audit.load_jsonl` input).  Events after a chain's last valid
checkpoint are *unsigned*: they are reported (``unsigned``, per chain and in total) but
are not an error, because a live writer always has some; what the hash chain alone
cannot tell (a tail cut off after the last checkpoint, a whole chain removed) needs an
*anchor*: a checkpoint obtained earlier by other means, which the trail must reach.

Memory: constant apart from 32 bytes per verified event (the SHA-256 digests of each
chain, kept so that a link or a checkpoint can name any earlier event in O(1)) and the
cross-chain links whose target has not been read yet (a chain may appear later in the
input).  200,000 events: 6.4 MB.

Records given as objects rather than read by :func:`~zkattest.audit.load_jsonl` or
:func:`~zkattest.audit.decode_record` are checked for integrity (hashes, chain,
signatures, kind, canonical characters), not re-validated field by field against the
schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec
from msgspec import Struct

from ..identity.jose import EcPublicKey, JoseError, decode_unverified, verify_jws
from .events import (
    CHECKPOINT_TYP,
    EVENT_KINDS,
    GENESIS,
    MAX_CHECKPOINT_LEN,
    AuditError,
    AuditEvent,
    Checkpoint,
    CheckpointClaims,
    Link,
    MalformedRecord,
)

__all__ = ["ChainReport", "TrailError", "TrailReport", "verify_trail"]

_ENCODE: Final = msgspec.json.Encoder().encode
_HASH_SUFFIX: Final = len(b',"hash":""}')


class TrailError(Struct, frozen=True, kw_only=True):
    """One problem: ``what`` (a short fixed phrase: "hash mismatch", "seq gap",
    "seq repeated", "prev link broken", "time went backwards", "dangling link",
    "bad checkpoint signature", "checkpoint head mismatch", "checkpoint ahead of
    chain", "checkpoint repeated", "malformed record", "anchor not reached", "anchor
    head mismatch", "bad anchor"), where (``position``: the record number, None for
    the trail as a whole; ``chain_id``, ``seq`` when known) and ``detail``."""

    what: str
    position: int | None
    chain_id: str | None = None
    seq: int | None = None
    detail: str = ""

    def describe(self, unit: str = "record") -> str:
        where = [f"{unit} {self.position}"] if self.position is not None else []
        if self.chain_id is not None:
            where.append(f"chain {self.chain_id}")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        text = ", ".join(where)
        text = f"{text}: {self.what}" if text else self.what
        return f"{text} ({self.detail})" if self.detail else text


class ChainReport(Struct, kw_only=True):
    """What was found of one chain."""

    chain_id: str
    #: events verified (0..events-1)
    events: int
    #: hash of the last verified event (None when there is none)
    head: str | None
    #: valid checkpoints
    checkpoints: int
    #: the seq the last valid checkpoint vouches for (-1: none)
    signed_through: int
    #: verified events after the last valid checkpoint
    unsigned: int
    #: records of this chain not checked because an earlier one was bad
    skipped: int
    #: the last valid checkpoint's token (keep it as an anchor for the next check)
    last_checkpoint: str | None
    #: this chain's first error
    error: TrailError | None


class TrailReport(Struct, kw_only=True):
    """The outcome of :func:`verify_trail`.  ``ok``: no error; ``signed``: ok and no
    event is unsigned."""

    ok: bool
    records: int
    events: int
    checkpoints: int
    unsigned: int
    #: records that could not be read as events or checkpoints
    malformed: int
    chains: list[ChainReport]
    #: the errors, by position (at most ``max_errors``; ``errors_total`` counts all)
    errors: list[TrailError]
    errors_total: int
    first_error: TrailError | None
    #: thumbprints of the keys checkpoints were checked against
    keys: list[str]

    @property
    def signed(self) -> bool:
        return self.ok and self.unsigned == 0

    def summary(self, unit: str = "record") -> list[str]:
        """A human summary, one line per item (``unit``: "line" for a file)."""
        out = [
            f"{self.records} records: {self.events} events in {len(self.chains)} chain(s), "
            f"{self.checkpoints} checkpoints verified"
        ]
        for ch in self.chains:
            text = f"chain {ch.chain_id}: {ch.events} events"
            if ch.events:
                text += f" (seq 0..{ch.events - 1})"
            text += f", {ch.checkpoints} checkpoints"
            if ch.signed_through >= 0:
                text += f", signed through seq {ch.signed_through}"
            if ch.unsigned:
                text += f"; {ch.unsigned} event(s) after the last checkpoint are not yet signed"
            if ch.skipped:
                text += f"; {ch.skipped} record(s) after its first error not checked"
            out.append(text)
        if self.ok:
            out.append("OK: every hash, link and checkpoint verified")
        else:
            assert self.first_error is not None
            out.append(f"BROKEN: first error at {self.first_error.describe(unit)}")
            if self.errors_total > 1:
                out.append(f"{self.errors_total} errors in all:")
                out.extend("  " + e.describe(unit) for e in self.errors)
        return out


class _Chain:
    __slots__ = (
        "cp_count",
        "cp_jws",
        "cp_seq",
        "digests",
        "error",
        "id",
        "last",
        "last_ts",
        "next",
        "skipped",
    )

    def __init__(self, chain_id: str) -> None:
        self.id = chain_id
        self.next = 0
        self.last = GENESIS
        self.last_ts = 0
        self.digests = bytearray()
        self.cp_seq = -1
        self.cp_count = 0
        self.cp_jws: str | None = None
        self.error: TrailError | None = None
        self.skipped = 0

    def digest_hex(self, seq: int) -> str | None:
        if 0 <= seq < self.next:
            return self.digests[32 * seq : 32 * seq + 32].hex()
        return None


def _rank(err: TrailError) -> float:
    return float("inf") if err.position is None else err.position


def _keyring(public_key: EcPublicKey | Iterable[EcPublicKey]) -> dict[str, EcPublicKey]:
    keys = [public_key] if isinstance(public_key, EcPublicKey) else list(public_key)
    if not keys or not all(isinstance(k, EcPublicKey) for k in keys):
        raise AuditError("verify_trail needs one or more EcPublicKey")
    return {k.thumbprint(): k for k in keys}


def _checkpoint(token: Any, keys: Mapping[str, EcPublicKey]) -> CheckpointClaims:
    """Verify a checkpoint token; its claims, or JoseError / ValidationError."""

    def resolve(header: dict[str, Any]) -> EcPublicKey:
        kid = header.get("kid")
        key = keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise JoseError("unknown_kid", "not signed by a given audit key (kid)")
        return key

    jws = decode_unverified(token, max_len=MAX_CHECKPOINT_LEN)
    verify_jws(jws, resolve, typ=CHECKPOINT_TYP)
    return msgspec.convert(jws.claims, CheckpointClaims, strict=True)


def verify_trail(
    records: Iterable[AuditEvent | Checkpoint | MalformedRecord],
    public_key: EcPublicKey | Iterable[EcPublicKey],
    *,
    anchors: Iterable[Checkpoint | str] = (),
    max_errors: int = 100,
) -> TrailReport:
    """Check a whole trail (module docstring).  ``public_key``: the audit key, or
    several (a trail that spans a key rotation); ``anchors``: checkpoints (or their
    tokens) that the trail must contain or pass, e.g. the last ones of the previous
    check."""
    keys = _keyring(public_key)
    chains: dict[str, _Chain] = {}
    errors: list[TrailError] = []
    dropped = 0
    pending: list[tuple[int, _Chain, int, Link]] = []
    position = events = checkpoints = malformed = 0
    encode = _ENCODE
    sha256 = hashlib.sha256
    kinds = EVENT_KINDS
    suffix = _HASH_SUFFIX

    def fail(ch: _Chain | None, err: TrailError, *, late: bool = False) -> None:
        # errors of the main pass come in position order: past max_errors they are
        # only counted; errors found after it (links, anchors) are always kept
        nonlocal dropped
        if ch is not None and (ch.error is None or _rank(ch.error) > _rank(err)):
            ch.error = err
        if late or len(errors) < max_errors:
            errors.append(err)
        else:
            dropped += 1

    def chain(chain_id: str) -> _Chain:
        ch = chains.get(chain_id)
        if ch is None:
            ch = chains[chain_id] = _Chain(chain_id)
        return ch

    for rec in records:
        position += 1
        kind = type(rec)
        if kind is AuditEvent:
            ev: AuditEvent = rec  # type: ignore[assignment]
            ch = chains.get(ev.chain_id)
            if ch is None:
                ch = chain(ev.chain_id)
            if ch.error is not None:
                ch.skipped += 1
                continue
            seq = ev.seq
            body = encode(ev)[: -(suffix + len(ev.hash))] + b"}"
            digest = sha256(body).digest()
            hexed = digest.hex()
            what = detail = ""
            if hexed != ev.hash:
                what, detail = "hash mismatch", "the event's content does not match its hash"
            elif not body.isascii() or b"\\" in body or b"\x7f" in body or ev.kind not in kinds:
                what, detail = "malformed record", "outside the event schema"
            elif seq != ch.next:
                what = "seq gap" if seq > ch.next else "seq repeated"
                detail = f"expected seq {ch.next}"
            elif ev.prev != ch.last:
                what, detail = "prev link broken", "prev is not the hash of the previous event"
            elif ev.ts < ch.last_ts:
                what, detail = "time went backwards", "ts is before the previous event's"
            else:
                for link in ev.links:
                    target = chains.get(link.chain_id)
                    if link.chain_id == ev.chain_id and link.seq >= seq:
                        what, detail = "dangling link", "a link to a later event of its own chain"
                    elif target is not None and link.seq < target.next:
                        if target.digest_hex(link.seq) != link.hash:
                            what = "dangling link"
                            detail = f"no event {link.chain_id}#{link.seq} with that hash"
                    else:
                        pending.append((position, ch, seq, link))
                    if what:
                        break
            if what:
                fail(
                    ch,
                    TrailError(
                        what=what, position=position, chain_id=ch.id, seq=seq, detail=detail
                    ),
                )
                continue
            ch.digests += digest
            ch.next = seq + 1
            ch.last = hexed
            ch.last_ts = ev.ts
            events += 1
        elif kind is Checkpoint:
            cp: Checkpoint = rec  # type: ignore[assignment]
            named = chains.get(cp.chain_id)
            if named is not None and named.error is not None:
                named.skipped += 1
                continue
            try:
                claims = _checkpoint(cp.jws, keys)
            except JoseError as exc:
                fail(
                    named,
                    TrailError(
                        what="bad checkpoint signature",
                        position=position,
                        chain_id=cp.chain_id,
                        seq=cp.seq,
                        detail=str(exc),
                    ),
                )
                continue
            except msgspec.ValidationError as exc:
                fail(
                    named,
                    TrailError(
                        what="malformed record",
                        position=position,
                        chain_id=cp.chain_id,
                        seq=cp.seq,
                        detail=f"checkpoint claims: {exc}",
                    ),
                )
                continue
            ch = chain(claims.chain_id)
            if ch.error is not None:
                ch.skipped += 1
                continue
            head = ch.digest_hex(claims.seq)
            what = detail = ""
            if head is None:
                what = "checkpoint ahead of chain"
                detail = f"the chain has {ch.next} event(s) here (missing or deleted events?)"
            elif claims.seq <= ch.cp_seq:
                what = "checkpoint repeated"
                detail = f"the previous checkpoint already covers seq {ch.cp_seq}"
            elif head != claims.head:
                what, detail = "checkpoint head mismatch", "the signed head is another event"
            if what:
                fail(
                    ch,
                    TrailError(
                        what=what, position=position, chain_id=ch.id, seq=claims.seq, detail=detail
                    ),
                )
                continue
            ch.cp_seq = claims.seq
            ch.cp_count += 1
            ch.cp_jws = cp.jws
            checkpoints += 1
        elif kind is MalformedRecord:
            malformed += 1
            bad: MalformedRecord = rec  # type: ignore[assignment]
            fail(None, TrailError(what="malformed record", position=position, detail=bad.reason))
        else:
            malformed += 1
            fail(
                None,
                TrailError(
                    what="malformed record", position=position, detail="not an audit record"
                ),
            )

    # cross-chain links whose target came later in the input (a target in the part of
    # a chain left unchecked after its first error is not blamed on the linking chain)
    for pos, ch, seq, link in pending:
        target = chains.get(link.chain_id)
        if target is not None and target.error is not None and link.seq >= target.next:
            continue
        if target is None or target.digest_hex(link.seq) != link.hash:
            fail(
                ch,
                TrailError(
                    what="dangling link",
                    position=pos,
                    chain_id=ch.id,
                    seq=seq,
                    detail=f"no verified event {link.chain_id}#{link.seq} with "
                    "that hash in the trail",
                ),
                late=True,
            )

    for anchor in anchors:
        token = anchor.jws if isinstance(anchor, Checkpoint) else anchor
        try:
            claims = _checkpoint(token, keys)
        except (JoseError, msgspec.ValidationError) as exc:
            fail(None, TrailError(what="bad anchor", position=None, detail=str(exc)), late=True)
            continue
        target = chains.get(claims.chain_id)
        head = target.digest_hex(claims.seq) if target is not None else None
        if head is None:
            reached = target.next if target is not None else 0
            fail(
                target,
                TrailError(
                    what="anchor not reached",
                    position=None,
                    chain_id=claims.chain_id,
                    seq=claims.seq,
                    detail=f"the trail verifies {reached} event(s) of this "
                    "chain: truncated or removed",
                ),
                late=True,
            )
        elif head != claims.head:
            fail(
                target,
                TrailError(
                    what="anchor head mismatch",
                    position=None,
                    chain_id=claims.chain_id,
                    seq=claims.seq,
                    detail="the trail has another event there",
                ),
                late=True,
            )

    errors.sort(key=_rank)
    dropped += max(0, len(errors) - max_errors)
    del errors[max_errors:]
    reports = [
        ChainReport(
            chain_id=ch.id,
            events=ch.next,
            head=ch.last if ch.next else None,
            checkpoints=ch.cp_count,
            signed_through=ch.cp_seq,
            unsigned=ch.next - 1 - ch.cp_seq,
            skipped=ch.skipped,
            last_checkpoint=ch.cp_jws,
            error=ch.error,
        )
        for ch in chains.values()
    ]
    return TrailReport(
        ok=not errors,
        records=position,
        events=events,
        checkpoints=checkpoints,
        unsigned=sum(r.unsigned for r in reports),
        malformed=malformed,
        chains=reports,
        errors=errors,
        errors_total=len(errors) + dropped,
        first_error=errors[0] if errors else None,
        keys=sorted(keys),
    )
