"""The record format: canonical bytes, hashes, record encoding, strict decoding."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.audit import (
    EVENT_KINDS,
    GENESIS,
    REFS_KEYS,
    AuditEvent,
    AuditFormatError,
    Checkpoint,
    EventKind,
    canonical_bytes,
    decode_record,
    encode_record,
    event_hash,
)
from zkattest.errors import MalformedFile

from .conftest import KEY, body_hash, dump, load, sample_lines


def test_kinds_are_the_closed_set() -> None:
    assert set(EventKind.__args__) == EVENT_KINDS  # type: ignore[attr-defined]
    assert {"token.issued", "policy.decided", "agent.provisioned", "agent.retired"} <= EVENT_KINDS
    assert all(k.count(".") == 1 and k == k.lower() for k in EVENT_KINDS)


def test_canonical_bytes_are_sorted_compact_json_without_hash(trail: list[Any]) -> None:
    events = [r for r in trail if isinstance(r, AuditEvent)]
    assert events
    for ev in events:
        obj = msgspec.to_builtins(ev)
        del obj["hash"]
        jcs = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
        assert canonical_bytes(ev) == jcs
        assert event_hash(ev) == ev.hash == hashlib.sha256(jcs).hexdigest()
        assert jcs.isascii() and b"\\" not in jcs  # nothing needed escaping


def test_first_event_of_a_chain_starts_from_genesis(trail: list[Any]) -> None:
    firsts = [r for r in trail if isinstance(r, AuditEvent) and r.seq == 0]
    assert {e.chain_id for e in firsts} == {"svc-a", "svc-b"}
    assert all(e.prev == GENESIS == "0" * 64 for e in firsts)


def test_record_round_trip() -> None:
    for line in sample_lines():
        rec = decode_record(line)
        assert encode_record(rec) == line
        if isinstance(rec, AuditEvent):
            obj = load(line)["event"]
            assert list(obj)[-1] == "hash"
            assert body_hash(obj) == rec.hash
            # the stored line minus its hash member is the canonical body
            assert line[
                len(b'{"event":') : -len(b',"hash":"' + rec.hash.encode() + b'"}}')
            ] + b"}" == canonical_bytes(rec)
        else:
            assert isinstance(rec, Checkpoint)
            assert Checkpoint.from_jws(rec.jws) == rec


def _event_line() -> bytes:
    return next(x for x in sample_lines() if x.startswith(b'{"event":') and b'"act":{' in x)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.replace(b'{"event":{', b'{"event": {', 1),  # whitespace
        lambda b: b.replace(b'"outcome":"ok"', b'"outcome":"o\\u006b"', 1),  # an escape
        lambda b: b.replace(b'"outcome":', b'"outcome":"deny","outcome":', 1),  # duplicate
        lambda b: b + b" ",
        lambda b: b"\xef\xbb\xbf" + b,  # BOM
        lambda b: b.replace(b'"kind":"', b'"kind":"x', 1),  # unknown kind
        lambda b: b.replace(b'"seq":', b'"seq":-', 1),
        lambda b: re.sub(rb'"ts":[0-9]+', b'"ts":9007199254740992', b, count=1),  # 2**53
        lambda b: b.replace(b'"refs":{', b'"refs":{"birthdate":"19900101",', 1),
        lambda b: b.replace(b'"refs":{', b'"refs":{"agent_id":null,', 1),
        lambda b: b.replace(b'"act":{', b'"act":{"iss":"x",', 1),
        lambda b: b.replace(b'"prev":"', b'"prev":"A', 1),
        lambda b: b.replace(b'{"event":', b'{"checkpoint":"x","event":', 1),
        lambda b: b.replace(b'{"event":', b'{"evnt":', 1),
        lambda b: b"[" + b + b"]",
        lambda b: b"",
        lambda b: b"{}",
        lambda b: b"null",
        lambda b: b[:-1],
        lambda b: b"\xff" + b[1:],
    ],
)
def test_malformed_event_lines_are_refused(mutate: Any) -> None:
    with pytest.raises(AuditFormatError) as info:
        decode_record(mutate(_event_line()))
    assert isinstance(info.value, MalformedFile | ValueError)


def test_act_depth_limit_on_decode() -> None:
    obj = load(_event_line())
    act: dict[str, Any] = {"sub": "a"}
    for _ in range(9):
        act = {"act": act, "sub": "a"}
    obj["event"]["act"] = act
    obj["event"]["hash"] = body_hash(obj["event"])
    with pytest.raises(AuditFormatError, match="deeper"):
        decode_record(dump(obj))
    deep = b'{"event":' + b'{"act":' * 5000  # a nesting bomb, not a crash
    with pytest.raises(AuditFormatError):
        decode_record(deep)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJ9.",
        "x" * 5000,
    ],
)
def test_malformed_checkpoint_tokens_are_refused(token: str) -> None:
    with pytest.raises(AuditFormatError):
        decode_record(dump({"checkpoint": token}))


def test_checkpoint_claims_are_exact() -> None:
    from zkattest.identity import sign_compact

    good = {"chain_id": "c", "head": "0" * 64, "seq": 0, "ts": 1}
    for claims in (
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "head"},
        {**good, "seq": "0"},
        {**good, "seq": -1},
        {**good, "head": "G" * 64},
        {**good, "chain_id": "a b"},
    ):
        token = sign_compact(claims, KEY, typ="audit-checkpoint+jwt")
        with pytest.raises(AuditFormatError):
            Checkpoint.from_jws(token)
    assert Checkpoint.from_jws(sign_compact(good, KEY, typ="t")).seq == 0


def test_refs_keys_whitelist_is_small_and_fixed() -> None:
    assert {"verification_id", "agent_id", "client_id", "policy_ids", "jti", "reason"} <= REFS_KEYS
    forbidden = {"birthdate", "holder_secret", "credential", "proof", "token", "witness", "dob"}
    assert not forbidden & REFS_KEYS


@given(st.binary(max_size=300))
def test_decode_never_crashes_on_garbage(data: bytes) -> None:
    try:
        rec = decode_record(data)
    except AuditFormatError:
        return
    assert encode_record(rec) == data  # anything accepted is canonical


@given(st.text(max_size=200))
def test_decode_never_crashes_on_text(text: str) -> None:
    with contextlib.suppress(AuditFormatError):
        decode_record(text)
