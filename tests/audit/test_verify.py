"""verify_trail against every kind of tampering: the first broken link, by position.

Positions are 1-based line numbers.  Properties compare the verifier with the
independent reference in conftest (reference_first_error)."""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkattest.audit import (
    AuditError,
    AuditEvent,
    Checkpoint,
    Link,
    MalformedRecord,
    decode_record,
    encode_record,
    verify_trail,
)
from zkattest.identity import b64url_encode, sign_compact

from .conftest import (
    KEY,
    OTHER_KEY,
    T0,
    blob,
    chain_of_line,
    dump,
    first,
    is_event,
    load,
    make_trail,
    next_of_chain,
    reference_first_error,
    rehash,
    sample_lines,
    verify_blob,
    verify_lines,
)

PUB = KEY.public()
LINES = sample_lines()
EVENT_IDX = [i for i, x in enumerate(LINES) if is_event(x)]
CP_IDX = [i for i, x in enumerate(LINES) if not is_event(x)]


def test_sample_trail_verifies(trail: list[Any]) -> None:
    for report in (verify_lines(LINES), verify_trail(trail, PUB)):
        assert report.ok and report.signed
        assert report.first_error is None and report.errors == []
        assert report.events == len(EVENT_IDX) == 64
        assert report.checkpoints == len(CP_IDX)
        assert report.records == len(LINES)
        assert {c.chain_id for c in report.chains} == {"svc-a", "svc-b"}
        for c in report.chains:
            assert c.events == 32 and c.signed_through == 31 and c.unsigned == 0
            assert c.last_checkpoint is not None and c.error is None
        assert report.keys == [PUB.thumbprint()]
    assert reference_first_error(LINES, PUB) is None


def test_empty_trail() -> None:
    report = verify_trail([], PUB)
    assert report.ok and report.records == 0 and report.chains == []


def test_needs_a_key() -> None:
    with pytest.raises(AuditError):
        verify_trail([], [])


# ------------------------------------------------------------------ one field of one event

_LEAF = st.sampled_from(["str", "int", "none", "list", "dict"])


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _changed(value: Any, pick: int) -> Any:
    """Some other value of the same JSON type (or another type)."""
    if isinstance(value, bool) or value is None:
        return ["abc", 7, None][pick % 2]
    if isinstance(value, int):
        return value + 1 if pick % 2 else max(value - 1, 0) if value else 5
    if isinstance(value, str):
        if pick % 3 == 0 or not value:
            return value + "a"
        if pick % 3 == 1:
            return value[:-1]
        return value[:-1] + ("b" if value[-1] != "b" else "c")
    if isinstance(value, list):
        return value[:-1] if value else ["x"]
    if isinstance(value, dict):
        return {k: v for k, v in list(value.items())[1:]} if value else {"agent_id": "x"}
    raise AssertionError(value)


def _edit(line: bytes, path: tuple[Any, ...], pick: int) -> bytes:
    obj = load(line)
    node = obj["event"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = _changed(node[path[-1]], pick)
    return dump(obj)


@given(st.data())
def test_any_field_change_is_caught_at_that_line(data: st.DataObject) -> None:
    i = data.draw(st.sampled_from(EVENT_IDX))
    paths = _paths(load(LINES[i])["event"])
    path = data.draw(st.sampled_from(paths))
    pick = data.draw(st.integers(0, 5))
    tampered = list(LINES)
    tampered[i] = _edit(LINES[i], path, pick)
    if tampered[i] == LINES[i]:
        return
    report = verify_lines(tampered)
    assert not report.ok
    assert first(report)[0] == i + 1
    assert first(report)[1] in ("hash mismatch", "malformed record")
    assert reference_first_error(tampered, PUB) == i + 1


@given(st.data())
def test_field_change_with_recomputed_hash_matches_reference(data: st.DataObject) -> None:
    i = data.draw(st.sampled_from(EVENT_IDX))
    path = data.draw(st.sampled_from(_paths(load(LINES[i])["event"])))
    if path == ("hash",):
        return
    tampered = list(LINES)
    edited = load(_edit(LINES[i], path, data.draw(st.integers(0, 5))))
    tampered[i] = rehash(dump(edited))
    report = verify_lines(tampered)
    expected = reference_first_error(tampered, PUB)
    assert (report.first_error.position if report.first_error else None) == expected
    assert report.ok == (expected is None)
    # an edit that is not at the very end of its chain is always caught, at the latest
    # by the chain's next record
    nxt = next_of_chain(LINES, i, chain_of_line(LINES[i]))
    if nxt is not None and tampered[i] != LINES[i]:
        assert expected is not None and expected <= nxt + 1


@pytest.mark.parametrize("field", ["actor", "outcome", "subject"])
def test_content_change_with_recomputed_hash_breaks_the_next_link(field: str) -> None:
    i = next(j for j in EVENT_IDX if next_of_chain(LINES, j, chain_of_line(LINES[j])) in EVENT_IDX)
    nxt = next_of_chain(LINES, i, chain_of_line(LINES[i]))
    assert nxt is not None
    tampered = list(LINES)
    tampered[i] = rehash(LINES[i], **{field: "mallory"})
    assert first(verify_lines(tampered)) == (nxt + 1, "prev link broken")


def test_rewriting_history_is_caught_by_the_next_checkpoint() -> None:
    """Change an event and recompute every later hash and prev of its chain: only
    the signed checkpoint notices."""
    chain = "svc-a"
    idx = [i for i in EVENT_IDX if chain_of_line(LINES[i]) == chain]
    start = idx[3]
    tampered = list(LINES)
    prev = None
    for i in idx[3:]:
        changes: dict[str, Any] = {} if prev is None else {"prev": prev}
        if i == start:
            changes["outcome"] = "deny"
        tampered[i] = rehash(tampered[i], **changes)
        prev = load(tampered[i])["event"]["hash"]
    cp = next(j for j in CP_IDX if j > start and chain_of_line(LINES[j]) == chain)
    assert first(verify_lines(tampered)) == (cp + 1, "checkpoint head mismatch")
    assert reference_first_error(tampered, PUB) == cp + 1


def test_seq_prev_ts_links_each_have_their_check() -> None:
    i = EVENT_IDX[-4]
    chain = chain_of_line(LINES[i])
    ev = load(LINES[i])["event"]
    cases = {
        "seq gap": rehash(LINES[i], seq=ev["seq"] + 1),
        "seq repeated": rehash(LINES[i], seq=ev["seq"] - 1),
        "prev link broken": rehash(LINES[i], prev="ab" * 32),
        "time went backwards": rehash(LINES[i], ts=ev["ts"] - 10**9),
        "dangling link": rehash(LINES[i], links=[{"chain_id": chain, "hash": "cd" * 32, "seq": 0}]),
    }
    for what, line in cases.items():
        tampered = list(LINES)
        tampered[i] = line
        assert first(verify_lines(tampered)) == (i + 1, what), what


def test_links_into_the_future_of_their_own_chain_are_dangling() -> None:
    i = EVENT_IDX[5]
    ev = load(LINES[i])["event"]
    tampered = list(LINES)
    tampered[i] = rehash(
        LINES[i], links=[{"chain_id": ev["chain_id"], "hash": ev["prev"], "seq": ev["seq"]}]
    )
    assert first(verify_lines(tampered)) == (i + 1, "dangling link")


def test_link_to_a_nonexistent_event_of_another_chain() -> None:
    i = EVENT_IDX[10]
    for link in (
        {"chain_id": "svc-zz", "hash": "ab" * 32, "seq": 0},  # no such chain
        {
            "chain_id": "svc-a" if chain_of_line(LINES[i]) == "svc-b" else "svc-b",
            "hash": "ab" * 32,
            "seq": 0,
        },  # wrong hash
        {"chain_id": "svc-b", "hash": "ab" * 32, "seq": 10**6},  # beyond the chain
    ):
        tampered = list(LINES)
        tampered[i] = rehash(LINES[i], links=[link])
        report = verify_lines(tampered)
        assert first(report) == (i + 1, "dangling link")
        assert report.first_error is not None and report.first_error.chain_id == chain_of_line(
            LINES[i]
        )


def test_written_dangling_link_is_reported() -> None:
    from zkattest.audit import AuditLog, MemorySink

    from .conftest import Clock, run

    async def go() -> list[Any]:
        sink = MemorySink()
        log = AuditLog(KEY, "w", sink, clock=Clock())
        e0 = await log.append("token.issued", actor="service", outcome="ok")
        await log.append(
            "token.issued", actor="service", outcome="ok", links=[Link("w", "ef" * 32, 0), e0]
        )
        await log.close()
        return sink.records

    records = run(go())
    report = verify_trail(records, PUB)
    assert first(report) == (2, "dangling link")


# ------------------------------------------------------------------ whole records


@given(st.sampled_from(EVENT_IDX))
def test_deleting_an_event(i: int) -> None:
    tampered = LINES[:i] + LINES[i + 1 :]
    report = verify_lines(tampered)
    nxt = next_of_chain(LINES, i, chain_of_line(LINES[i]))
    assert nxt is not None  # every chain ends with a checkpoint
    # at the latest the next record of the chain (one line up) notices; a link to
    # the deleted event may notice before
    position = first(report)[0]
    assert position is not None and position <= nxt
    assert reference_first_error(tampered, PUB) == position


def test_deleting_an_event_breaks_the_next_of_its_chain() -> None:
    i = EVENT_IDX[-3]
    chain = chain_of_line(LINES[i])
    nxt = next_of_chain(LINES, i, chain)
    assert nxt is not None and is_event(LINES[nxt])
    assert first(verify_lines(LINES[:i] + LINES[i + 1 :])) == (nxt, "seq gap")


def test_deleting_an_event_named_by_the_next_checkpoint() -> None:
    i = CP_IDX[2] - 1
    assert is_event(LINES[i]) and chain_of_line(LINES[i]) == chain_of_line(LINES[CP_IDX[2]])
    tampered = LINES[:i] + LINES[i + 1 :]
    assert first(verify_lines(tampered)) == (CP_IDX[2], "checkpoint ahead of chain")


@given(st.sampled_from(EVENT_IDX), st.sampled_from(EVENT_IDX))
def test_swapping_two_records(i: int, j: int) -> None:
    tampered = list(LINES)
    tampered[i], tampered[j] = tampered[j], tampered[i]
    report = verify_lines(tampered)
    expected = reference_first_error(tampered, PUB)
    assert (report.first_error.position if report.first_error else None) == expected
    if chain_of_line(LINES[i]) == chain_of_line(LINES[j]) and i != j:
        assert first(report) == (min(i, j) + 1, "seq gap")


@given(st.sampled_from(range(len(LINES))), st.integers(0, len(LINES)))
def test_inserting_a_copy_of_a_record(i: int, at: int) -> None:
    tampered = [*LINES[:at], LINES[i], *LINES[at:]]
    report = verify_lines(tampered)
    expected = reference_first_error(tampered, PUB)
    assert (report.first_error.position if report.first_error else None) == expected
    assert not report.ok  # a copied event repeats a seq, a copied checkpoint repeats itself


def test_duplicate_checkpoint() -> None:
    k = CP_IDX[1]
    tampered = [*LINES[: k + 1], LINES[k], *LINES[k + 1 :]]
    assert first(verify_lines(tampered)) == (k + 2, "checkpoint repeated")


def test_inserting_a_forged_event() -> None:
    """A new event that fits the chain (seq, prev, hash all right): the real event
    after it then repeats its seq."""
    i = EVENT_IDX[20]
    chain = chain_of_line(LINES[i])
    prev_i = max(j for j in EVENT_IDX if j < i and chain_of_line(LINES[j]) == chain)
    forged = rehash(LINES[i], outcome="deny")  # same seq and prev as the real one
    tampered = [*LINES[:i], forged, *LINES[i:]]
    assert prev_i < i
    assert first(verify_lines(tampered)) == (i + 2, "seq repeated")


@given(st.integers(1, len(blob(LINES)) - 1))
def test_truncation(cut: int) -> None:
    data = blob(LINES)[:cut]
    report = verify_blob(data)
    lines = data.split(b"\n")
    complete = lines[:-1]
    expected = reference_first_error(complete + ([lines[-1]] if lines[-1] else []), PUB)
    assert (report.first_error.position if report.first_error else None) == expected
    if lines[-1] and lines[-1] != LINES[len(complete)]:  # cut inside a line: malformed
        assert first(report) == (len(lines), "malformed record")
    else:  # cut at a line boundary: nothing is *broken*, but the tail is unsigned
        assert report.ok
        assert report.unsigned == sum(1 for x in complete if is_event(x)) - sum(
            c.signed_through + 1 for c in report.chains
        )


def test_truncation_after_the_last_checkpoint_needs_an_anchor() -> None:
    full = verify_lines(LINES)
    anchors = [c.last_checkpoint for c in full.chains if c.last_checkpoint]
    last = max(EVENT_IDX)
    chain = chain_of_line(LINES[last])
    cut = LINES[:last]  # drops the trail's last event and the checkpoints after it
    report = verify_lines(cut)
    assert report.ok and not report.signed and report.unsigned > 0
    anchored = verify_lines(cut, anchors=anchors)
    assert not anchored.ok
    assert anchored.first_error is not None
    assert (anchored.first_error.what, anchored.first_error.chain_id) == (
        "anchor not reached",
        chain,
    )
    assert anchored.first_error.position is None
    assert verify_lines(LINES, anchors=anchors).ok
    # anchors also catch removed chains (here two that only link to each other)
    cd = [encode_record(r) for r in make_trail(n=2, every=3, chains=("svc-c", "svc-d"))]
    whole = verify_lines(LINES + cd)
    assert whole.ok
    anchors = [c.last_checkpoint for c in whole.chains if c.last_checkpoint]
    assert verify_lines(LINES).ok
    gone = verify_lines(LINES, anchors=anchors)
    assert [(e.what, e.chain_id) for e in gone.errors] == [
        ("anchor not reached", "svc-c"),
        ("anchor not reached", "svc-d"),
    ]


def test_anchor_checks() -> None:
    full = verify_lines(LINES)
    anchor = full.chains[0].last_checkpoint
    assert anchor is not None
    other = make_trail(n=8, every=5, start=T0 + 7)  # same key and ids, another history
    assert verify_trail(other, PUB).ok
    assert first(verify_trail(other, PUB, anchors=[anchor])) == (None, "anchor head mismatch")
    claims = _claims(CP_IDX[-1])
    foreign = sign_compact(
        claims, OTHER_KEY, typ="audit-checkpoint+jwt", kid=OTHER_KEY.public().thumbprint()
    )
    assert first(verify_lines(LINES, anchors=[foreign])) == (None, "bad anchor")
    bad = verify_lines(LINES, anchors=[anchor[:-4] + "AAAA"])
    assert bad.first_error is not None and bad.first_error.what == "bad anchor"
    longer = make_trail(n=9, every=5)
    ahead = [r for r in longer if isinstance(r, Checkpoint)][-1]
    assert first(verify_lines(LINES, anchors=[ahead])) == (None, "anchor not reached")


# ------------------------------------------------------------------ checkpoint forgery


def _claims(k: int) -> dict[str, Any]:
    cp = decode_record(LINES[k])
    assert isinstance(cp, Checkpoint)
    return {"chain_id": cp.chain_id, "head": cp.head, "seq": cp.seq, "ts": cp.ts}


def _cp_line(token: str) -> bytes:
    return dump({"checkpoint": token})


def _b64json(obj: Any) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def test_checkpoint_signed_by_another_key() -> None:
    k = CP_IDX[3]
    claims = _claims(k)
    for kid in (OTHER_KEY.public().thumbprint(), PUB.thumbprint()):
        tampered = list(LINES)
        tampered[k] = _cp_line(sign_compact(claims, OTHER_KEY, typ="audit-checkpoint+jwt", kid=kid))
        report = verify_lines(tampered)
        assert first(report) == (k + 1, "bad checkpoint signature")
        assert reference_first_error(tampered, PUB) == k + 1
    # the same trail verifies against the other key only if every checkpoint is its
    assert not verify_lines(LINES, OTHER_KEY.public()).ok


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "audit-checkpoint+jwt"},
        {"alg": "HS256", "typ": "audit-checkpoint+jwt"},
        {"alg": "ES384", "typ": "audit-checkpoint+jwt"},
        {"alg": "ES256", "typ": "JWT"},
        {"alg": "ES256", "typ": "audit-checkpoint+jwt", "crit": ["x"], "x": 1},
    ],
)
def test_checkpoint_algorithm_confusion(header: dict[str, Any]) -> None:
    k = CP_IDX[2]
    header = {**header, "kid": PUB.thumbprint()}
    signing_input = f"{_b64json(header)}.{_b64json(_claims(k))}"
    if header["alg"] == "HS256":  # the public key as an HMAC secret
        import hashlib

        secret = PUB.x + PUB.y
        sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    elif header["alg"] == "ES256":
        sig = KEY.sign(signing_input.encode())  # valid signature, wrong header
    else:
        sig = b"\x01" * 64
    tampered = list(LINES)
    tampered[k] = _cp_line(f"{signing_input}.{b64url_encode(sig)}")
    assert first(verify_lines(tampered)) == (k + 1, "bad checkpoint signature")
    assert reference_first_error(tampered, PUB) == k + 1


def test_unsigned_alg_none_checkpoint_is_malformed() -> None:
    k = CP_IDX[2]
    token = f"{_b64json({'alg': 'none', 'kid': PUB.thumbprint()})}.{_b64json(_claims(k))}."
    tampered = list(LINES)
    tampered[k] = _cp_line(token)
    assert first(verify_lines(tampered)) == (k + 1, "malformed record")


def test_high_s_signature_is_still_a_valid_checkpoint() -> None:
    from zkattest.identity.jose import P256_N

    k = CP_IDX[0]
    token = load(LINES[k])["checkpoint"]
    h, p, s = token.split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    high = raw[:32] + (P256_N - int.from_bytes(raw[32:], "big")).to_bytes(32, "big")
    tampered = list(LINES)
    tampered[k] = _cp_line(f"{h}.{p}.{b64url_encode(high)}")
    assert verify_lines(tampered).ok  # malleability does not matter: heads are signed


def test_checkpoint_before_its_event() -> None:
    k = CP_IDX[1]
    tampered = list(LINES)
    tampered[k - 1], tampered[k] = tampered[k], tampered[k - 1]
    assert chain_of_line(tampered[k]) == chain_of_line(tampered[k - 1])
    assert first(verify_lines(tampered)) == (k, "checkpoint ahead of chain")


# ------------------------------------------------------------------ chains


def test_a_second_chain_spliced_in() -> None:
    # the same chain id, another history (same key): collides at once
    other = [encode_record(r) for r in make_trail(n=2, every=3)]
    spliced = LINES[:30] + other + LINES[30:]
    report = verify_lines(spliced)
    assert first(report)[0] == 31
    assert reference_first_error(spliced, PUB) == 31
    # a foreign chain (its own ids) signed by another key: its first checkpoint fails
    foreign = [
        encode_record(r)
        for r in make_trail(n=2, every=3, key=OTHER_KEY, chains=("evil-a", "evil-b"))
    ]
    spliced = LINES[:30] + foreign + LINES[30:]
    report = verify_lines(spliced)
    k = next(i for i, x in enumerate(foreign) if not is_event(x))
    assert first(report) == (31 + k, "bad checkpoint signature")
    # the original chains are untouched by it
    assert {c.chain_id for c in report.chains if c.error is None} >= {"svc-a", "svc-b"}
    # an unsigned foreign chain is not an error, but it is not signed either
    unsigned = [x for x in foreign if is_event(x)]
    report = verify_lines(LINES[:30] + unsigned + LINES[30:])
    assert report.ok and not report.signed
    assert {c.chain_id: c.unsigned for c in report.chains}["evil-a"] > 0


def test_an_error_stops_one_chain_only() -> None:
    i = next(j for j in EVENT_IDX if chain_of_line(LINES[j]) == "svc-a")
    tampered = list(LINES)
    tampered[i] = _swap_hash(LINES[i])
    report = verify_lines(tampered)
    per = {c.chain_id: c for c in report.chains}
    assert per["svc-a"].error is not None and per["svc-a"].skipped > 0
    assert per["svc-b"].error is None and per["svc-b"].events == 32
    assert per["svc-b"].unsigned == 0


def _swap_hash(line: bytes) -> bytes:
    obj = load(line)
    obj["event"]["hash"] = "f" * 64
    return dump(obj)


def test_errors_in_two_chains_first_error_is_the_earliest() -> None:
    a = next(j for j in EVENT_IDX if chain_of_line(LINES[j]) == "svc-a" and j > 20)
    b = next(j for j in EVENT_IDX if chain_of_line(LINES[j]) == "svc-b" and j > 10)
    tampered = list(LINES)
    tampered[a] = _swap_hash(LINES[a])
    tampered[b] = _swap_hash(LINES[b])
    report = verify_lines(tampered)
    assert [e.position for e in report.errors] == sorted([a + 1, b + 1])
    assert report.first_error == report.errors[0]
    assert report.errors_total == 2


def test_max_errors_keeps_the_first_ones() -> None:
    garbage = [b"nope"] * 50 + LINES
    report = verify_lines(garbage, max_errors=10)
    assert report.errors_total == 50 and len(report.errors) == 10
    assert [e.position for e in report.errors] == list(range(1, 11))
    assert report.malformed == 50


def test_chains_in_any_order_with_forward_links() -> None:
    """Chains exported one after the other: links from svc-a into svc-b point
    forward in the file and are resolved at the end."""
    a = [x for x in LINES if chain_of_line(x) == "svc-a"]
    b = [x for x in LINES if chain_of_line(x) == "svc-b"]
    for order in (a + b, b + a):
        assert verify_lines(order).ok
        assert reference_first_error(order, PUB) is None
    # a forward link to an event of a chain that broke before it: the break is the
    # error, not the link (which could not be checked)
    j = next(k for k, x in enumerate(a) if b'"chain_id":"svc-b","hash"' in x)
    target = load(a[j])["event"]["links"][0]["seq"]
    k = next(k for k, x in enumerate(b) if is_event(x) and load(x)["event"]["seq"] == target)
    broken_b = [_tamper_outcome(x) if n == k else x for n, x in enumerate(b)]
    report = verify_lines(a + broken_b)
    assert [(e.position, e.what) for e in report.errors] == [(len(a) + k + 1, "hash mismatch")]
    assert reference_first_error(a + broken_b, PUB) == len(a) + k + 1
    # a forward link to a missing event is reported where the link is
    a_bad = list(a)
    a_bad[j] = rehash(a[j], links=[{"chain_id": "svc-b", "hash": "ab" * 32, "seq": target}])
    report = verify_lines(a_bad + b)
    assert first(report) == (j + 1, "dangling link")
    assert reference_first_error(a_bad + b, PUB) == j + 1


def _tamper_outcome(line: bytes) -> bytes:
    return line.replace(b'"outcome":"', b'"outcome":"x', 1)


def test_key_rotation_needs_both_keys() -> None:
    first_half = make_trail(n=2, every=3, chains=("old-a", "old-b"))
    second_half = make_trail(n=2, every=3, key=OTHER_KEY, chains=("new-a", "new-b"))
    records = first_half + second_half
    assert verify_trail(records, [PUB, OTHER_KEY.public()]).ok
    assert not verify_trail(records, PUB).ok
    assert not verify_trail(records, OTHER_KEY.public()).ok


# ------------------------------------------------------------------ in-memory records


def test_memory_and_file_paths_agree(trail: list[Any]) -> None:
    i = EVENT_IDX[7]
    ev = trail[i]
    assert isinstance(ev, AuditEvent)
    import msgspec

    forged = msgspec.structs.replace(ev, outcome="deny")
    mem = verify_trail([*trail[:i], forged, *trail[i + 1 :]], PUB)
    file = verify_lines([encode_record(r) for r in [*trail[:i], forged, *trail[i + 1 :]]])
    assert first(mem) == first(file) == (i + 1, "hash mismatch")


def test_memory_records_outside_the_schema(trail: list[Any]) -> None:
    import msgspec

    i = EVENT_IDX[3]
    ev = trail[i]
    for bad in (
        msgspec.structs.replace(ev, kind="agent.resurrected"),
        msgspec.structs.replace(ev, actor="line\nbreak"),
        msgspec.structs.replace(ev, actor='quote"d'),
        msgspec.structs.replace(ev, actor="caf\u00e9"),
    ):
        fixed = msgspec.structs.replace(bad, hash="")
        from zkattest.audit import event_hash

        fixed = msgspec.structs.replace(bad, hash=event_hash(fixed))
        report = verify_trail([*trail[:i], fixed, *trail[i + 1 :]], PUB)
        assert first(report) == (i + 1, "malformed record")
    report = verify_trail([*trail[:3], "not a record", *trail[3:]], PUB)  # type: ignore[list-item]
    assert first(report) == (4, "malformed record")
    report = verify_trail([MalformedRecord(1, "x"), *trail], PUB)
    assert first(report) == (1, "malformed record") and report.malformed == 1


def test_hashes_that_are_not_hex_are_caught_by_value() -> None:
    """The decoder checks a hash's length only; the verifier compares values."""
    i = EVENT_IDX[12]
    for line, what in (
        (rehash(LINES[i], prev="Z" * 64), "prev link broken"),
        (
            _swap_hash(LINES[i]).replace(b'"hash":"' + b"f" * 64, b'"hash":"' + b"Z" * 64),
            "hash mismatch",
        ),
    ):
        tampered = list(LINES)
        tampered[i] = line
        assert first(verify_lines(tampered)) == (i + 1, what)
