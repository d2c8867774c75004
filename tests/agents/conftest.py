"""Agents-layer fixtures, built without HTTP: a SQLite store on a temporary file, a
trust-domain key, a verifier trusting one fresh issuer, the session's age_gte
development keys, a work pool and an :class:`AgentRuntime` on a clock the tests move.

Store and runtime methods are async; tests drive them with ``asyncio.run`` (no asyncio
plugin).  Verifications are created and moved to ``presented`` the way the service
does (``claim_request`` then ``begin_presentation``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from zkattest.agents import AgentRuntime, AgentSettings, WorkPool
from zkattest.credentials import (
    PERSON,
    Credential,
    Holder,
    Issuer,
    KeyStore,
    Presentation,
    Request,
    Verifier,
    to_field,
)
from zkattest.identity import TrustBundle, TrustDomainKey
from zkattest.store import Store, VerificationRecord, open_store

T = TypeVar("T")

T0 = 1_772_323_200.0  # 2026-03-01T00:00:00Z: the tests' "now"
TODAY = 20260301
TD = "test.example"
AUD = "https://shop.example"
NONCE = "123456789012345678901234567890"
SCOPE = str(to_field(AUD, "rp_scope"))
BIRTH_YES = 19870613  # 38 on TODAY
BIRTH_NO = 20100704  # 15 on TODAY
CRED_EXPIRES = 20300101


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def h(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``cond`` until it holds (a pool slot is released on a worker thread)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


class Clock:
    """The runtime's clock: returns ``t``; tests move it."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def request(nonce: str = NONCE, rp_scope: str = SCOPE) -> Request:
    return Request(
        predicate="age_gte",
        min_age=18,
        nonce=int(nonce),
        rp_scope=int(rp_scope),
        today=TODAY,
        schema=PERSON.id,
    )


# -------------------------------------------------------------- session material


@pytest.fixture(scope="session")
def keys() -> KeyStore:
    ks = KeyStore()  # $ZKATTEST_KEY_DIR, a temporary directory (tests/conftest.py)
    ks.dev_setup("age_gte")
    return ks


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    return Issuer.generate()


@pytest.fixture(scope="session")
def other_issuer() -> Issuer:
    return Issuer.generate()


@pytest.fixture(scope="session")
def holder() -> Holder:
    return Holder()


@pytest.fixture(scope="session")
def cred_yes(issuer: Issuer, holder: Holder) -> Credential:
    return issuer.issue({"birthdate": BIRTH_YES}, holder.commitment, expires=CRED_EXPIRES)


@pytest.fixture(scope="session")
def cred_no(issuer: Issuer, holder: Holder) -> Credential:
    return issuer.issue({"birthdate": BIRTH_NO}, holder.commitment, expires=CRED_EXPIRES)


@pytest.fixture(scope="session")
def pres_yes(holder: Holder, cred_yes: Credential, keys: KeyStore) -> Presentation:
    return holder.present(cred_yes, request(), keys=keys)


@pytest.fixture(scope="session")
def pres_no(holder: Holder, cred_no: Credential, keys: KeyStore) -> Presentation:
    return holder.present(cred_no, request(), keys=keys)


# -------------------------------------------------------------- the environment


@dataclass
class Env:
    store: Store
    trust: TrustDomainKey
    bundle: TrustBundle
    clock: Clock
    pool: WorkPool
    verifier: Verifier
    keys: KeyStore
    runtime: AgentRuntime
    db: Path

    async def presented(
        self,
        *,
        mode: str = "proof",
        nonce: str = NONCE,
        rp_scope: str = SCOPE,
        audience: str = AUD,
        deadline: float | None = None,
    ) -> VerificationRecord:
        """A verification created, fetched once and presented, as the service does."""
        now = self.clock()
        rtoken, ptoken = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        v = VerificationRecord(
            id=secrets.token_urlsafe(16),
            status="pending",
            predicate="age_gte",
            params={"min_age": 18},
            audience=audience,
            nonce=nonce,
            rp_scope=rp_scope,
            today=TODAY,
            schema=str(PERSON.id),
            code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            request_token_hash=h(rtoken),
            created_at=now,
            expires_at=now + 300,
        )
        await self.store.create_verification(v)
        assert await self.store.claim_request(h(rtoken), h(ptoken), now) is not None
        if deadline is None:
            deadline = now + self.runtime.settings.svid_ttl + 5
        assert await self.store.begin_presentation(v.id, h(ptoken), mode, now, deadline)
        got = await self.store.get_verification(v.id)
        assert got is not None and got.status == "presented"
        return got


def pinned_verifier(issuer: Issuer, keys: KeyStore) -> Verifier:
    return Verifier([issuer.public_key], keys=keys, clock=lambda: dt.date(2026, 3, 1))


def make_env(
    directory: Path,
    issuer: Issuer,
    keys: KeyStore,
    *,
    runtime_cls: type[AgentRuntime] = AgentRuntime,
    workers: int = 2,
    queue: int = 4,
    svid_ttl: int = 30,
) -> Env:
    db = directory / "zkattest.db"
    store = run(open_store(f"sqlite://{db}"))
    trust = TrustDomainKey.load_or_create(directory / "td.pem", TD)
    clock = Clock()
    pool = WorkPool(workers, queue)
    verifier = pinned_verifier(issuer, keys)
    runtime = runtime_cls(
        store=store,
        trust=trust,
        verifier=verifier,
        keys=keys,
        circuit_id=keys.circuit_id("age_gte"),
        pool=pool,
        settings=AgentSettings(trust_domain=TD, svid_ttl=svid_ttl),
        clock=clock,
    )
    return Env(store, trust, trust.bundle(1, 300), clock, pool, verifier, keys, runtime, db)


def close_env(env: Env) -> None:
    env.pool.shutdown()
    run(env.store.close())


@pytest.fixture
def env(tmp_path: Path, issuer: Issuer, keys: KeyStore) -> Iterator[Env]:
    e = make_env(tmp_path, issuer, keys)
    yield e
    close_env(e)
