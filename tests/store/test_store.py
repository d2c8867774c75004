"""Both backends: every method's happy path and refusals, restart, sweep, errors; and the
SQLite specifics (URLs, files, pragmas, locking)."""

from __future__ import annotations

import math
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import msgspec
import pytest

from zkattest.errors import InvalidParameter, ZkAttestError
from zkattest.store import (
    AGENT_STATES,
    AGENT_TRANSITIONS,
    Conflict,
    SQLiteStore,
    Store,
    StoreError,
    StoreUnavailable,
    VerificationRecord,
    open_store,
)
from zkattest.store import sqlite as sqlite_mod

from .conftest import (
    T0,
    AnyStore,
    agent,
    awaiting,
    execute,
    h,
    presentation_token,
    put,
    request_token,
    run,
    verification,
)


def claimed(store: AnyStore, id: str = "v1", *, ttl: float = 300.0) -> VerificationRecord:
    run(store.create_verification(verification(id, ttl=ttl)))
    rec = run(store.claim_request(request_token(id), presentation_token(id), T0 + 1))
    assert rec is not None
    return rec


def presented(store: AnyStore, id: str = "v1", *, deadline: float = T0 + 60) -> None:
    claimed(store, id)
    assert run(store.begin_presentation(id, presentation_token(id), "proof", T0 + 2, deadline))


# -- verifications ---------------------------------------------------------------------------


def test_verification_round_trip(store: AnyStore) -> None:
    rec = verification(params={"min_age": 21, "b": -3}, client_id="rp-1")
    run(store.create_verification(rec))
    assert run(store.get_verification("v1")) == rec
    assert run(store.find_by_request_token(rec.request_token_hash)) == rec
    # every optional field set, result as a bool (a state only the lifecycle reaches)
    full = verification(
        "v2",
        status="completed",
        request_fetched_at=T0 + 1,
        presentation_token_hash=presentation_token("v2"),
        presented_at=T0 + 2,
        mode="delegated",
        agent_id="a9",
        result=False,
        reason="min_age_mismatch",
        attestation="eyJ.eyJ.sig",
        completed_at=T0 + 3,
        client_id="rp-2",
        subject="alice",
        act={"sub": "agent-2", "act": {"sub": "agent-1", "x": [1, None, True, "\u00e9"]}},
        policy_ids=("p2", "p1"),
        approved_by="bob",
        approved_at=T0 + 0.5,
    )
    put(store, full)
    got = run(store.get_verification("v2"))
    assert got == full
    assert got is not None and got.result is False


def test_integer_times_read_back_as_floats(store: AnyStore) -> None:
    run(store.create_verification(verification(created_at=1_800_000_000, expires_at=1_800_000_300)))
    got = run(store.get_verification("v1"))
    assert got is not None
    assert isinstance(got.created_at, float) and got.expires_at == 1_800_000_300.0


def test_unknown_ids_are_none(store: AnyStore) -> None:
    assert run(store.get_verification("nope")) is None
    assert run(store.find_by_request_token(h("nope"))) is None
    assert run(store.get_agent("nope")) is None


def test_duplicate_verification_is_conflict(store: AnyStore) -> None:
    run(store.create_verification(verification("v1")))
    with pytest.raises(Conflict) as e:
        run(store.create_verification(verification("v1", request_token_hash=h("other"))))
    assert h("other") not in str(e.value)
    same_token = verification("v2", request_token_hash=request_token("v1"))
    with pytest.raises(Conflict) as e:
        run(store.create_verification(same_token))
    assert request_token("v1") not in str(e.value)
    assert isinstance(e.value, StoreError) and isinstance(e.value, ZkAttestError)


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "done"},
        {"mode": "magic"},
        {"params": {"min_age": "18"}},
        {"today": "20260301"},
        {"request_token_hash": "raw-bearer-token"},
        {"request_token_hash": h("x").upper()},
        {"presentation_token_hash": "raw-bearer-token"},
        {"result": 1},
    ],
)
def test_invalid_verification_record_is_refused(store: AnyStore, bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter) as e:
        run(store.create_verification(verification(**bad)))
    assert isinstance(e.value, ValueError)
    assert "raw-bearer-token" not in str(e.value)
    assert run(store.get_verification("v1")) is None


def test_not_a_record_is_refused(store: AnyStore) -> None:
    with pytest.raises(InvalidParameter):
        run(store.create_verification(agent()))  # type: ignore[arg-type]


def test_claim_request_once(store: AnyStore) -> None:
    run(store.create_verification(verification()))
    rec = run(store.claim_request(request_token("v1"), presentation_token("v1"), T0 + 1))
    assert rec is not None
    assert rec.status == "pending"
    assert rec.request_fetched_at == T0 + 1
    assert rec.presentation_token_hash == presentation_token("v1")
    assert run(store.get_verification("v1")) == rec
    # a second fetch, even with another presentation token, gets nothing and changes nothing
    assert run(store.claim_request(request_token("v1"), h("other"), T0 + 2)) is None
    assert run(store.get_verification("v1")) == rec


def test_claim_request_refusals(store: AnyStore) -> None:
    run(store.create_verification(verification("v1", ttl=10)))
    put(store, verification("v2", status="failed"))
    pt = presentation_token("x")
    assert run(store.claim_request(h("unknown"), pt, T0)) is None
    assert run(store.claim_request(request_token("v1"), pt, T0 + 10)) is None  # expires_at == now
    assert run(store.claim_request(request_token("v1"), pt, T0 + 11)) is None
    assert run(store.claim_request(request_token("v2"), pt, T0)) is None  # not pending
    v1 = run(store.get_verification("v1"))
    assert v1 is not None and v1.request_fetched_at is None and v1.presentation_token_hash is None


def test_raw_tokens_are_refused(store: AnyStore) -> None:
    token = "bearer-token-in-clear-0123456789"
    run(store.create_verification(verification()))
    with pytest.raises(InvalidParameter) as e1:
        run(store.claim_request(token, presentation_token("v1"), T0))
    with pytest.raises(InvalidParameter) as e2:
        run(store.claim_request(request_token("v1"), token, T0))
    with pytest.raises(InvalidParameter) as e3:
        run(store.find_by_request_token(token))
    with pytest.raises(InvalidParameter) as e4:
        run(store.begin_presentation("v1", token, "proof", T0, T0 + 60))
    for e in (e1, e2, e3, e4):
        assert token not in str(e.value)


def test_begin_presentation(store: AnyStore) -> None:
    claimed(store)
    assert run(
        store.begin_presentation("v1", presentation_token("v1"), "delegated", T0 + 2, T0 + 62)
    )
    rec = run(store.get_verification("v1"))
    assert rec is not None
    assert (rec.status, rec.presented_at, rec.mode, rec.expires_at) == (
        "presented",
        T0 + 2,
        "delegated",
        T0 + 62,
    )
    # one presentation only
    assert not run(
        store.begin_presentation("v1", presentation_token("v1"), "proof", T0 + 3, T0 + 9)
    )
    assert run(store.get_verification("v1")) == rec


def test_begin_presentation_refusals(store: AnyStore) -> None:
    run(store.create_verification(verification("unfetched")))
    claimed(store, "v1", ttl=100)
    pt = presentation_token("v1")
    assert not run(store.begin_presentation("unknown", pt, "proof", T0 + 2, T0 + 60))
    assert not run(
        store.begin_presentation(
            "unfetched", presentation_token("unfetched"), "proof", T0 + 2, T0 + 60
        )
    )
    assert not run(store.begin_presentation("v1", h("wrong"), "proof", T0 + 2, T0 + 60))
    assert not run(store.begin_presentation("v1", pt, "proof", T0 + 100, T0 + 160))  # expired
    with pytest.raises(InvalidParameter):
        run(store.begin_presentation("v1", pt, "telepathy", T0 + 2, T0 + 60))
    rec = run(store.get_verification("v1"))
    assert rec is not None and rec.status == "pending" and rec.presented_at is None
    # still possible with everything right
    assert run(store.begin_presentation("v1", pt, "proof", T0 + 99, T0 + 160))


def test_finish_verification(store: AnyStore) -> None:
    presented(store, "v1")
    presented(store, "v2")
    assert run(
        store.finish_verification(
            "v1",
            status="completed",
            result=True,
            reason=None,
            attestation="eyJ.eyJ.sig",
            agent_id="a1",
            now=T0 + 5,
        )
    )
    assert run(
        store.finish_verification(
            "v2",
            status="failed",
            result=None,
            reason="invalid_proof",
            attestation=None,
            agent_id=None,
            now=T0 + 6,
        )
    )
    v1 = run(store.get_verification("v1"))
    v2 = run(store.get_verification("v2"))
    assert v1 is not None and v2 is not None
    assert (v1.status, v1.result, v1.attestation, v1.agent_id, v1.completed_at) == (
        "completed",
        True,
        "eyJ.eyJ.sig",
        "a1",
        T0 + 5,
    )
    assert (v2.status, v2.result, v2.reason, v2.completed_at) == (
        "failed",
        None,
        "invalid_proof",
        T0 + 6,
    )


def finish(store: AnyStore, id: str, now: float, status: str = "completed") -> bool:
    return run(
        store.finish_verification(
            id,
            status=status,
            result=True,
            reason=None,
            attestation=None,
            agent_id=None,
            now=now,
        )
    )


def test_finish_verification_refusals(store: AnyStore) -> None:
    claimed(store, "pending")
    presented(store, "late", deadline=T0 + 30)
    presented(store, "v1")
    assert not finish(store, "unknown", T0 + 5)
    assert not finish(store, "pending", T0 + 5)  # never presented
    assert not finish(store, "late", T0 + 30)  # the agent deadline passed
    assert finish(store, "v1", T0 + 5)
    assert not finish(store, "v1", T0 + 6)  # only once
    assert not finish(store, "v1", T0 + 6, status="failed")
    for status in ("pending", "presented", "expired", "done"):
        with pytest.raises(InvalidParameter):
            finish(store, "late", T0 + 5, status=status)
    with pytest.raises(InvalidParameter):
        run(
            store.finish_verification(
                "late",
                status="completed",
                result=1,  # type: ignore[arg-type]
                reason=None,
                attestation=None,
                agent_id=None,
                now=T0,
            )
        )
    late = run(store.get_verification("late"))
    assert late is not None and late.status == "presented"


# -- agents ----------------------------------------------------------------------------------


def test_agent_round_trip(store: AnyStore) -> None:
    run(store.create_verification(verification()))
    rec = agent()
    run(store.create_agent(rec))
    assert run(store.get_agent("a1")) == rec


@pytest.mark.parametrize(
    "clash",
    [
        {"spiffe_id": "spiffe://zkattest.local/agent/verify/a1"},
        {"svid_jti": "svid-a1"},
    ],
)
def test_duplicate_agent_is_conflict(store: AnyStore, clash: dict[str, Any]) -> None:
    run(store.create_verification(verification("v1")))
    run(store.create_verification(verification("v2")))
    run(store.create_agent(agent("a1", "v1")))
    with pytest.raises(Conflict):
        run(store.create_agent(agent("a2", "v2", **clash)))
    assert run(store.get_agent("a2")) is None


def test_duplicate_agent_id_is_conflict(store: AnyStore) -> None:
    run(store.create_verification(verification("v1")))
    run(store.create_verification(verification("v2")))
    run(store.create_agent(agent("a1", "v1")))
    with pytest.raises(Conflict):
        run(store.create_agent(agent("a1", "v2", spiffe_id="spiffe://td/x", svid_jti="j2")))
    assert run(store.get_agent("a1")) == agent("a1", "v1")


def test_one_agent_per_verification_and_it_must_exist(store: AnyStore) -> None:
    run(store.create_verification(verification("v1")))
    run(store.create_agent(agent("a1", "v1")))
    with pytest.raises(Conflict):
        run(store.create_agent(agent("a2", "v1")))
    with pytest.raises(Conflict):  # foreign key: no such verification
        run(store.create_agent(agent("a3", "missing")))


def test_invalid_agent_record_is_refused(store: AnyStore) -> None:
    run(store.create_verification(verification()))
    with pytest.raises(InvalidParameter):
        run(store.create_agent(agent(state="zombie")))
    with pytest.raises(InvalidParameter):
        run(store.create_agent(agent(expires_at="soon")))


def test_agent_lifecycle(store: AnyStore) -> None:
    run(store.create_verification(verification()))
    run(store.create_agent(agent()))
    t = store.transition_agent
    assert run(t("a1", "provisioned", "running", T0 + 1, require_unexpired=True))
    assert run(
        t("a1", "running", "attested", T0 + 2, require_unexpired=True, attestation_jti="att-1")
    )
    assert run(t("a1", "attested", "retired", T0 + 3, require_unexpired=False, retired_at=T0 + 9))
    a = run(store.get_agent("a1"))
    assert a is not None
    assert (a.state, a.running_at, a.attested_at, a.retired_at, a.attestation_jti) == (
        "retired",
        T0 + 1,  # the entry time defaults to now
        T0 + 2,
        T0 + 9,  # or is given
        "att-1",
    )


def test_transition_agent_refusals(store: AnyStore) -> None:
    run(store.create_verification(verification()))
    run(store.create_agent(agent(ttl=60)))
    t = store.transition_agent
    assert not run(t("nope", "provisioned", "running", T0, require_unexpired=True))
    assert not run(t("a1", "running", "attested", T0, require_unexpired=True))  # wrong from
    assert not run(t("a1", "provisioned", "running", T0 + 60, require_unexpired=True))  # expired
    a = run(store.get_agent("a1"))
    assert a is not None and a.state == "provisioned" and a.running_at is None
    # without require_unexpired the deadline does not matter (e.g. recording a failure)
    assert run(
        t("a1", "provisioned", "failed", T0 + 99, require_unexpired=False, failed_reason="x")
    )
    assert not run(
        t("a1", "provisioned", "running", T0, require_unexpired=True, failed_reason=None)
    )
    assert not run(t("a1", "provisioned", "running", T0, require_unexpired=False))
    a = run(store.get_agent("a1"))
    assert a is not None and (a.state, a.failed_reason) == ("failed", "x")


def test_transition_agent_only_lifecycle_edges(store: AnyStore) -> None:
    run(store.create_verification(verification()))
    run(store.create_agent(agent()))
    for frm in AGENT_STATES:
        for to in AGENT_STATES:
            if to in AGENT_TRANSITIONS[frm]:
                continue
            with pytest.raises(InvalidParameter):
                run(store.transition_agent("a1", frm, to, T0, require_unexpired=False))
    with pytest.raises(InvalidParameter):
        run(store.transition_agent("a1", "provisioned", "dancing", T0, require_unexpired=False))
    with pytest.raises(InvalidParameter):
        run(store.transition_agent("a1", "dancing", "running", T0, require_unexpired=False))
    a = run(store.get_agent("a1"))
    assert a is not None and a.state == "provisioned"


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "attested"},
        {"expires_at": T0 + 10_000},
        {"svid_jti": "other"},
        {"running_at": "now"},
        {"running_at": True},
        {"failed_reason": 3},
        {"attestation_jti": b"jti"},
    ],
)
def test_transition_agent_fields_whitelist(store: AnyStore, fields: dict[str, object]) -> None:
    run(store.create_verification(verification()))
    run(store.create_agent(agent()))
    with pytest.raises(InvalidParameter) as e:
        run(
            store.transition_agent(
                "a1",
                "provisioned",
                "running",
                T0,
                require_unexpired=True,
                **fields,  # type: ignore[arg-type]
            )
        )
    assert isinstance(e.value, ValueError)
    assert run(store.get_agent("a1")) == agent()


def test_attestation_jti_is_unique(store: AnyStore) -> None:
    for i in (1, 2):
        run(store.create_verification(verification(f"v{i}")))
        run(store.create_agent(agent(f"a{i}", f"v{i}", state="running")))
    t = store.transition_agent
    assert run(t("a1", "running", "attested", T0, require_unexpired=True, attestation_jti="j"))
    with pytest.raises(Conflict):
        run(t("a2", "running", "attested", T0, require_unexpired=True, attestation_jti="j"))
    a2 = run(store.get_agent("a2"))
    assert a2 is not None and a2.state == "running"


# -- one-use keys ----------------------------------------------------------------------------


def test_use_once(store: AnyStore) -> None:
    assert run(store.use_once("dpop", "jti-1", T0 + 60, T0))
    assert not run(store.use_once("dpop", "jti-1", T0 + 60, T0 + 1))
    assert not run(store.use_once("dpop", "jti-1", T0 + 999, T0 + 59.5))
    assert run(store.use_once("svid", "jti-1", T0 + 60, T0))  # namespaces are separate
    assert run(store.use_once("dpop", "jti-2", T0 + 60, T0))
    # an expired entry is as good as absent, swept or not
    assert run(store.use_once("dpop", "jti-1", T0 + 120, T0 + 60))
    assert not run(store.use_once("dpop", "jti-1", T0 + 120, T0 + 61))


# -- sweep and counts ------------------------------------------------------------------------


def test_sweep(store: AnyStore) -> None:
    run(store.create_verification(verification("pending", ttl=10)))
    run(store.create_verification(verification("pending-live", ttl=1000)))
    claimed(store, "fetched", ttl=10)
    presented(store, "presented", deadline=T0 + 10)
    presented(store, "presented-live", deadline=T0 + 1000)
    for final in ("completed", "failed", "expired"):
        put(store, verification(final, status=final, ttl=10))
    for each in AGENT_STATES:
        run(store.create_verification(verification(f"for-{each}")))
        run(store.create_agent(agent(each, f"for-{each}", state=each, ttl=10)))
    run(store.create_verification(verification("for-live")))
    run(store.create_agent(agent("live", "for-live", ttl=1000)))
    assert run(store.use_once("n", "old", T0 + 10, T0))
    assert run(store.use_once("n", "new", T0 + 1000, T0))

    assert run(store.sweep(T0 + 9)) == {
        "verifications_expired": 0,
        "agents_expired": 0,
        "agents_retired": 0,
        "one_use_purged": 0,
    }
    assert run(store.sweep(T0 + 10)) == {
        "verifications_expired": 3,  # pending, fetched, presented
        "agents_expired": 2,  # provisioned, running
        "agents_retired": 1,  # attested (its key is gone): never left attested
        "one_use_purged": 1,
    }
    assert run(store.sweep(T0 + 11)) == {
        "verifications_expired": 0,
        "agents_expired": 0,
        "agents_retired": 0,
        "one_use_purged": 0,
    }

    def status(id: str) -> str:
        rec = run(store.get_verification(id))
        assert rec is not None
        return rec.status

    def state(id: str) -> str:
        rec = run(store.get_agent(id))
        assert rec is not None
        return rec.state

    assert [status(i) for i in ("pending", "fetched", "presented")] == ["expired"] * 3
    assert status("pending-live") == "pending"
    assert status("presented-live") == "presented"
    for s in ("completed", "failed", "expired"):
        assert status(s) == s
    assert [state(s) for s in AGENT_STATES] == [
        "expired",
        "expired",
        "retired",
        "retired",
        "expired",
        "failed",
    ]
    assert state("live") == "provisioned"
    assert run(store.use_once("n", "old", T0 + 20, T0 + 11))  # purged
    assert not run(store.use_once("n", "new", T0 + 2000, T0 + 11))  # kept


def test_counts(store: AnyStore) -> None:
    empty = run(store.counts())
    assert empty == {
        "verifications": dict.fromkeys(
            ("awaiting_approval", "pending", "presented", "completed", "failed", "expired"), 0
        ),
        "agents": dict.fromkeys(AGENT_STATES, 0),
    }
    run(store.create_verification(verification("a")))
    run(store.create_verification(verification("b")))
    presented(store, "c")
    run(store.create_agent(agent("x", "c", state="running")))
    run(store.create_verification(awaiting("d")))
    got = run(store.counts())
    assert got["verifications"]["pending"] == 2
    assert got["verifications"]["presented"] == 1
    assert got["verifications"]["awaiting_approval"] == 1
    assert got["agents"]["running"] == 1
    assert sum(got["verifications"].values()) == 4
    assert sum(got["agents"].values()) == 1


# -- restart ---------------------------------------------------------------------------------


def test_restart_keeps_records_and_consumption(url: str) -> None:
    s = run(open_store(url))
    presented(s, "v1")
    claimed(s, "v2")
    run(s.create_agent(agent("a1", "v1")))
    assert run(s.transition_agent("a1", "provisioned", "running", T0 + 3, require_unexpired=True))
    assert run(s.use_once("dpop", "j", T0 + 60, T0))
    before = (run(s.get_verification("v1")), run(s.get_verification("v2")), run(s.get_agent("a1")))
    run(s.close())

    s = run(open_store(url))
    try:
        after = (
            run(s.get_verification("v1")),
            run(s.get_verification("v2")),
            run(s.get_agent("a1")),
        )
        assert after == before
        assert run(s.claim_request(request_token("v2"), h("again"), T0 + 4)) is None
        assert not run(
            s.begin_presentation("v1", presentation_token("v1"), "proof", T0 + 4, T0 + 50)
        )
        assert not run(
            s.transition_agent("a1", "provisioned", "running", T0 + 4, require_unexpired=True)
        )
        assert not run(s.use_once("dpop", "j", T0 + 60, T0 + 4))
        # and the rest of the lifecycle continues where it was
        assert run(s.begin_presentation("v2", presentation_token("v2"), "proof", T0 + 4, T0 + 50))
        assert finish(s, "v1", T0 + 5)
    finally:
        run(s.close())


# -- open, close, URLs, files, errors --------------------------------------------------------


def test_open_store_sqlite(sqlite_url: str, db_path: Path) -> None:
    url = sqlite_url

    async def body() -> None:
        async with await open_store(url) as s:
            assert isinstance(s, SQLiteStore)
            await s.ping()
            await s.create_verification(verification())
        async with await open_store(url.replace("sqlite:", "SQLite:", 1)) as s:
            assert await s.get_verification("v1") is not None

    run(body())
    assert db_path.is_file()


def test_files_and_directory_are_private(db_path: Path, sqlite_url: str) -> None:
    url = sqlite_url
    old = os.umask(0o022)
    try:
        run(run(open_store(url)).close())
    finally:
        os.umask(old)
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


def test_pragmas(sqlite_store: SQLiteStore, db_path: Path) -> None:
    conn = sqlite_store._conn  # white box: the per-connection settings
    assert conn is not None
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.isolation_level is None
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent
    finally:
        raw.close()


def test_memory_stores_are_private() -> None:
    async def body() -> None:
        a = await open_store("sqlite:///:memory:")
        b = await open_store("sqlite:///:memory:")
        await a.create_verification(verification())
        assert await a.get_verification("v1") is not None
        assert await b.get_verification("v1") is None
        await a.close()
        await b.close()

    run(body())


@pytest.mark.parametrize(
    "bad_url",
    [
        "postgres+asyncpg://zkuser:hunter2secret@db.internal/zk",
        "postgresql+psycopg://zkuser:hunter2secret@db.internal/zk",
        "mysql://zkuser:hunter2secret@db.internal/zk",
        "zkuser:hunter2secret@db.internal/zk",
        "hunter2secret",
        "",
    ],
)
def test_unsupported_urls_never_echo_credentials(bad_url: str) -> None:
    with pytest.raises(StoreError, match="unsupported database URL scheme") as e:
        run(open_store(bad_url))
    assert "hunter2secret" not in str(e.value)
    assert "zkuser" not in str(e.value)
    assert "db.internal" not in str(e.value)


@pytest.mark.parametrize(
    "bad_url",
    [
        "sqlite://host/x.db",
        "sqlite:relative.db",
        "sqlite:///tmp/x.db?mode=ro",
        "sqlite:///tmp/x.db#frag",
        "sqlite:///",
        "sqlite:///tmp/dir/",
    ],
)
def test_malformed_sqlite_urls(bad_url: str) -> None:
    with pytest.raises(StoreError):
        run(open_store(bad_url))


def test_sqlite_open_rejects_other_schemes() -> None:
    with pytest.raises(StoreError):
        run(SQLiteStore.open("postgresql://u:p@h/db"))


def test_closed_store_is_unavailable(url: str) -> None:
    s = run(open_store(url))
    run(s.close())
    run(s.close())  # idempotent
    with pytest.raises(StoreUnavailable, match="closed"):
        run(s.ping())
    with pytest.raises(StoreUnavailable):
        run(s.get_verification("v1"))
    with pytest.raises(StoreUnavailable):
        run(s.use_once("n", "k", T0 + 1, T0))


def test_directory_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailable):
        run(open_store(f"sqlite://{blocker}/sub/zkattest.db"))


def test_not_a_database(db_path: Path, sqlite_url: str) -> None:
    url = sqlite_url
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not an SQLite database, just some bytes" * 100)
    with pytest.raises(StoreUnavailable):
        run(open_store(url))


def test_locked_database_is_unavailable(
    sqlite_url: str, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url
    monkeypatch.setattr(sqlite_mod, "BUSY_TIMEOUT_MS", 50)
    s = run(SQLiteStore.open(url))
    run(s.create_verification(verification()))
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
        with pytest.raises(StoreUnavailable, match="locked") as e:
            run(s.use_once("n", "k", T0 + 1, T0))
        assert isinstance(e.value.__cause__, sqlite3.OperationalError)
        with pytest.raises(StoreUnavailable):
            run(s.claim_request(request_token("v1"), presentation_token("v1"), T0))
        assert run(s.get_verification("v1")) is not None  # WAL: readers are not blocked
        blocker.execute("ROLLBACK")
        # nothing was consumed by the failed attempts
        assert run(s.claim_request(request_token("v1"), presentation_token("v1"), T0))
        assert run(s.use_once("n", "k", T0 + 1, T0))
    finally:
        blocker.close()
        run(s.close())


def test_other_sqlite_errors_are_store_errors(sqlite_store: SQLiteStore) -> None:
    with pytest.raises(StoreError) as e, sqlite_store._db() as db:
        db.execute("SELECT * FROM no_such_table")
    assert not isinstance(e.value, StoreUnavailable)


@pytest.mark.parametrize("params", ['{"min_age": "x"}', '{"min_age": 1.5}', '{"min_age": null}'])
def test_malformed_stored_row_is_a_store_error(store: AnyStore, params: str) -> None:
    run(store.create_verification(verification()))
    execute(store, "UPDATE verifications SET params = $1", params)
    with pytest.raises(StoreError, match="malformed") as e:
        run(store.get_verification("v1"))
    assert not isinstance(e.value, StoreUnavailable)


@pytest.mark.parametrize("params", ['{"min_age": 1', "[1, 2]", "", "\u00ff"])
def test_malformed_stored_json_is_a_store_error(sqlite_store: SQLiteStore, params: str) -> None:
    # SQLite stores any text; PostgreSQL's jsonb and CHECKs refuse these on write
    run(sqlite_store.create_verification(verification()))
    execute(sqlite_store, "UPDATE verifications SET params = $1", params)
    with pytest.raises(StoreError, match="malformed"):
        run(sqlite_store.get_verification("v1"))


def test_params_round_trip_any_text(store: AnyStore) -> None:
    params = {"min_\u00e2ge": 18, "\u65e5\u4ed8": -(2**62), "": 0}
    run(store.create_verification(verification(params=params)))
    got = run(store.get_verification("v1"))
    assert got is not None and got.params == params


def test_records_are_immutable_and_encode() -> None:
    rec = verification()
    with pytest.raises(AttributeError):
        rec.status = "completed"  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(rec), type=VerificationRecord) == rec


def test_store_satisfies_the_protocol(store: AnyStore) -> None:
    s: Store = store  # checked by mypy; at run time the methods exist
    for name in [n for n in dir(Store) if not n.startswith("_")]:
        assert callable(getattr(s, name))
    assert repr(store).startswith(type(store).__name__ + "(")
    if isinstance(store, SQLiteStore):
        assert repr(store) == f"SQLiteStore({store.path!r})"


# -- malformed arguments: the same refusals on both backends ---------------------------------


@pytest.mark.parametrize("bad", ["nul\x00inside", "lone\ud800surrogate"])
def test_text_a_database_cannot_hold_is_refused(store: AnyStore, bad: str) -> None:
    # PostgreSQL cannot store NUL in text, UTF-8 cannot encode a lone surrogate: both
    # backends refuse them up front (SQLite used to store the first and crash on the
    # second with a bare UnicodeEncodeError)
    records = [
        verification(bad, request_token_hash=h("x")),
        verification(client_id=bad),
        verification(params={bad: 1}),
        verification(act={"sub": bad}),
        verification(act={bad: "x"}),
        verification(policy_ids=("ok", bad)),
    ]
    for rec in records:
        with pytest.raises(InvalidParameter) as e:
            run(store.create_verification(rec))
        assert isinstance(e.value, ValueError)
    run(store.create_verification(verification()))
    with pytest.raises(InvalidParameter):
        run(store.create_agent(agent(task=bad)))
    calls = [
        lambda: store.get_verification(bad),
        lambda: store.get_agent(bad),
        lambda: store.use_once(bad, "k", T0 + 1, T0),
        lambda: store.use_once("n", bad, T0 + 1, T0),
        lambda: store.recent_count(bad, T0),
        lambda: store.awaiting_approval(T0, subjects=[bad]),
        lambda: store.decide_approval("v1", approve=True, approver=bad, now=T0, expires_at=T0 + 1),
        lambda: store.transition_agent(
            "a1", "provisioned", "failed", T0, require_unexpired=False, failed_reason=bad
        ),
        lambda: store.finish_verification(
            "v1", status="failed", result=None, reason=bad, attestation=None, agent_id=None, now=T0
        ),
    ]
    for call in calls:
        with pytest.raises(InvalidParameter):
            run(call())
    assert run(store.counts())["verifications"]["pending"] == 1


@pytest.mark.parametrize(
    "rec",
    [
        verification(created_at=math.nan),
        verification(expires_at=math.inf),
        verification(today=2**63),
        verification(today=-(2**63) - 1),
        verification(act={"sub": "a", "n": math.nan}),
        verification(act={"sub": "a", "n": [-math.inf]}),
        verification(params={"min_age": 2**70}),  # not an SQLite INTEGER, but JSON: fine
    ],
)
def test_numbers_a_database_cannot_hold_are_refused(
    store: AnyStore, rec: VerificationRecord
) -> None:
    if rec.params.get("min_age") == 2**70:
        run(store.create_verification(rec))
        assert run(store.get_verification("v1")) == rec
        return
    with pytest.raises(InvalidParameter):
        run(store.create_verification(rec))
    with pytest.raises(InvalidParameter):
        run(store.create_agent(agent(expires_at=math.nan)))
    assert run(store.get_verification("v1")) is None


@pytest.mark.parametrize("bad", ["soon", None, math.nan, math.inf, True, b"1"])
def test_times_must_be_finite_numbers_everywhere(store: AnyStore, bad: Any) -> None:
    run(store.create_verification(verification()))
    run(store.create_agent(agent()))
    pt = presentation_token("v1")
    calls = [
        lambda: store.claim_request(request_token("v1"), pt, bad),
        lambda: store.begin_presentation("v1", pt, "proof", bad, T0 + 60),
        lambda: store.begin_presentation("v1", pt, "proof", T0, bad),
        lambda: store.finish_verification(
            "v1", status="failed", result=None, reason=None, attestation=None, agent_id=None,
            now=bad,
        ),
        lambda: store.transition_agent("a1", "provisioned", "running", bad, require_unexpired=True),
        lambda: store.transition_agent(
            "a1", "provisioned", "running", T0, require_unexpired=True, running_at=bad
        ),
        lambda: store.use_once("n", "k", bad, T0),
        lambda: store.use_once("n", "k", T0 + 1, bad),
        lambda: store.sweep(bad),
    ]  # fmt: skip
    for call in calls:
        if bad is None and call is calls[5]:
            continue  # running_at=None is "not given"
        with pytest.raises(InvalidParameter):
            run(call())
    assert run(store.get_verification("v1")) == verification()
    assert run(store.get_agent("a1")) == agent()
    assert run(store.use_once("n", "k", T0 + 1, T0))  # nothing was consumed


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_require_unexpired_must_be_a_bool(store: AnyStore, bad: Any) -> None:
    run(store.create_verification(verification()))
    run(store.create_agent(agent()))
    with pytest.raises(InvalidParameter, match="require_unexpired"):
        run(store.transition_agent("a1", "provisioned", "running", T0, require_unexpired=bad))


@pytest.mark.parametrize(
    "kw", [{"reason": 1}, {"attestation": b"x"}, {"agent_id": ["a"]}, {"status": None}]
)
def test_finish_verification_malformed(store: AnyStore, kw: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "status": "completed",
        "result": True,
        "reason": None,
        "attestation": None,
        "agent_id": None,
        "now": T0,
    }
    args.update(kw)
    with pytest.raises(InvalidParameter):
        run(store.finish_verification("v1", **args))


def test_large_values_round_trip_identically(store: AnyStore) -> None:
    # what SQLite returns is what PostgreSQL returns: big integers, floats, unicode,
    # nested JSON in act (kept verbatim), an empty policy list
    rec = verification(
        today=2**62,
        params={"min_age": 2**62, "neg": -(2**63), "zero": 0},
        created_at=0.1 + 0.2,
        expires_at=1e300,
        client_id="\u00e9\u65e5\U0001f600",
        subject="s" * 5000,
        act={"sub": "a", "n": 1e300, "f": 1.5, "l": [None, True, {"x": -0.0}], "u": "\u2028"},
    )
    run(store.create_verification(rec))
    got = run(store.get_verification("v1"))
    assert got == rec
    assert got is not None and got.act is not None
    assert type(got.act["n"]) is float and got.created_at == 0.1 + 0.2
