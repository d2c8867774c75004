"""Audit test fixtures: a sample trail, line-level tampering helpers and an
independent reference verifier (json + hashlib + cryptography, no msgspec), written
from the format description in zkattest.audit.events.

Writer methods are async; tests drive them with ``asyncio.run`` (no asyncio plugin)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from zkattest.audit import (
    AuditEvent,
    AuditFormatError,
    AuditLog,
    Checkpoint,
    MemorySink,
    TrailReport,
    decode_record,
    encode_record,
    iter_jsonl,
    verify_trail,
)
from zkattest.identity import EcKey, EcPublicKey

T = TypeVar("T")

T0 = 1_800_000_000_000_000  # the tests' "now", microseconds
KEY = EcKey.generate()
OTHER_KEY = EcKey.generate()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Clock:
    """A settable clock (microseconds); each call advances it by ``step``."""

    def __init__(self, start: int = T0, step: int = 1000) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> int:
        self.now += self.step
        return self.now


async def lifecycle(a: AuditLog, b: AuditLog, n: int) -> None:
    """n verifications, their events spread over two writers with cross-chain links."""
    for i in range(n):
        act = {"sub": "agent-rp", "act": {"sub": "shop"}} if i % 2 else None
        created = await a.append(
            "verification.created",
            actor="shop",
            outcome="ok",
            subject="shop",
            act=act,
            refs={
                "verification_id": f"v{i}",
                "client_id": "shop",
                "audience": "https://shop.example/verify",
                "predicate": "age_gte",
                "min_age": 18,
            },
        )
        decided = await a.append(
            "policy.decided",
            actor="service",
            outcome="allow",
            subject="shop",
            refs={"verification_id": f"v{i}", "policy_ids": ["p0", "adults"]},
            links=[created],
        )
        prov = await b.append(
            "agent.provisioned",
            actor="service",
            outcome="ok",
            refs={"agent_id": f"ag{i}", "task": "age_gte", "exp": 1_800_000_060},
            links=[decided],
        )
        spiffe = f"spiffe://zk.example/agent/age_gte/ag{i}"
        running = await b.append("agent.running", actor=spiffe, outcome="ok", links=[prov])
        verified = await a.append(
            "agent.verified",
            actor=spiffe,
            outcome="yes",
            refs={"agent_id": f"ag{i}"},
            links=[running],
        )
        attested = await b.append(
            "agent.attested",
            actor=spiffe,
            outcome="ok",
            refs={"agent_id": f"ag{i}", "jti": f"att-{i}"},
            links=[verified, prov],
        )
        await b.append("agent.retired", actor="service", outcome="ok", links=[attested])
        await a.append(
            "verification.completed",
            actor="service",
            outcome="yes",
            subject="shop",
            refs={"verification_id": f"v{i}"},
            links=[attested],
        )


def make_trail(
    n: int = 8,
    every: int = 5,
    key: EcKey = KEY,
    chains: tuple[str, str] = ("svc-a", "svc-b"),
    start: int = T0,
) -> list[AuditEvent | Checkpoint]:
    async def go() -> list[AuditEvent | Checkpoint]:
        sink = MemorySink()
        clock = Clock(start)
        a = AuditLog(key, chains[0], sink, checkpoint_every=every, clock=clock)
        b = AuditLog(key, chains[1], sink, checkpoint_every=every, clock=clock)
        await lifecycle(a, b, n)
        await a.close()
        await b.close()
        return sink.records

    return run(go())


_TRAIL = make_trail()
_LINES = [encode_record(r) for r in _TRAIL]


@pytest.fixture
def trail() -> list[AuditEvent | Checkpoint]:
    return list(_TRAIL)


@pytest.fixture
def lines() -> list[bytes]:
    return list(_LINES)


def sample_lines() -> list[bytes]:
    return list(_LINES)


def blob(lines: Sequence[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def verify_blob(data: bytes, key: EcPublicKey | None = None, **kw: Any) -> TrailReport:
    return verify_trail(iter_jsonl(io.BytesIO(data)), key or KEY.public(), **kw)


def verify_lines(lines: Sequence[bytes], key: EcPublicKey | None = None, **kw: Any) -> TrailReport:
    return verify_blob(blob(lines), key, **kw)


def first(report: TrailReport) -> tuple[int | None, str]:
    assert report.first_error is not None, "expected an error"
    return report.first_error.position, report.first_error.what


# ------------------------------------------------------------------ line editing


def load(line: bytes) -> dict[str, Any]:
    obj = json.loads(line)
    assert isinstance(obj, dict)
    return obj


def dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def body_hash(event: dict[str, Any]) -> str:
    """The event hash as the format description defines it (JCS of all but hash)."""
    body = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def rehash(line: bytes, **changes: Any) -> bytes:
    """The event line with ``changes`` applied and its hash recomputed."""
    obj = load(line)
    obj["event"].update(changes)
    obj["event"]["hash"] = body_hash(obj["event"])
    return dump(obj)


def chain_of_line(line: bytes) -> str:
    obj = load(line)
    if "event" in obj:
        return str(obj["event"]["chain_id"])
    return decode_record(line).chain_id  # a checkpoint


def is_event(line: bytes) -> bool:
    return line.startswith(b'{"event":')


def next_of_chain(lines: Sequence[bytes], index: int, chain: str) -> int | None:
    """0-based index of the first record of ``chain`` after ``index``."""
    for j in range(index + 1, len(lines)):
        if chain_of_line(lines[j]) == chain:
            return j
    return None


# ------------------------------------------------------------------ reference verifier


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _ref_checkpoint(token: str, pub: EcPublicKey) -> dict[str, Any] | None:
    try:
        h, p, s = token.split(".")
        header = json.loads(_b64d(h))
        claims = json.loads(_b64d(p))
        sig = _b64d(s)
    except ValueError:
        return None
    if header != {"alg": "ES256", "kid": pub.thumbprint(), "typ": "audit-checkpoint+jwt"}:
        return None
    if len(sig) != 64:
        return None
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + pub.x + pub.y)
    r, s_ = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s_), f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def reference_first_error(lines: Sequence[bytes], pub: EcPublicKey) -> int | None:
    """First error position under the rules of zkattest.audit.verify, recomputed
    independently.  Schema validity (and canonical form) is the library decoder's."""
    chains: dict[str, dict[str, Any]] = {}
    errs: list[int] = []
    pending: list[tuple[int, dict[str, Any], dict[str, Any]]] = []

    def new() -> dict[str, Any]:
        return {"hashes": [], "cp": -1, "broken": False, "ts": 0}

    for pos, raw in enumerate(lines, 1):
        try:
            decode_record(raw)
        except AuditFormatError:
            errs.append(pos)
            continue
        obj = json.loads(raw)
        if "event" in obj:
            e = obj["event"]
            c = chains.setdefault(e["chain_id"], new())
            if c["broken"]:
                continue
            hs = c["hashes"]
            good = (
                body_hash(e) == e["hash"]
                and e["seq"] == len(hs)
                and e["prev"] == (hs[-1] if hs else "0" * 64)
                and e["ts"] >= c["ts"]
            )
            if good:
                for ln in e["links"]:
                    t = chains.get(ln["chain_id"])
                    if ln["chain_id"] == e["chain_id"]:
                        good = ln["seq"] < len(hs) and hs[ln["seq"]] == ln["hash"]
                    elif t is not None and ln["seq"] < len(t["hashes"]):
                        good = t["hashes"][ln["seq"]] == ln["hash"]
                    else:
                        pending.append((pos, c, ln))
                    if not good:
                        break
            if not good:
                c["broken"] = True
                errs.append(pos)
                continue
            hs.append(e["hash"])
            c["ts"] = e["ts"]
        else:
            token = obj["checkpoint"]
            named = chains.get(decode_record(raw).chain_id)
            if named is not None and named["broken"]:
                continue
            claims = _ref_checkpoint(token, pub)
            if claims is None:
                if named is not None:
                    named["broken"] = True
                errs.append(pos)
                continue
            c = chains.setdefault(claims["chain_id"], new())
            if c["broken"]:
                continue
            s = claims["seq"]
            if not (s < len(c["hashes"]) and s > c["cp"] and c["hashes"][s] == claims["head"]):
                c["broken"] = True
                errs.append(pos)
                continue
            c["cp"] = s
    for pos, _c, ln in pending:
        t = chains.get(ln["chain_id"])
        if t is not None and t["broken"] and ln["seq"] >= len(t["hashes"]):
            continue
        if t is None or not (ln["seq"] < len(t["hashes"]) and t["hashes"][ln["seq"]] == ln["hash"]):
            errs.append(pos)
    return min(errs) if errs else None
