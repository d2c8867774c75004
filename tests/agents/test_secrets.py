"""Nothing secret outlives the agent or reaches a log line, a repr or the database."""

from __future__ import annotations

import logging

import pytest

from zkattest.agents import DelegatedWork
from zkattest.credentials import Holder, Issuer

from .conftest import CRED_EXPIRES, Env, run

BIRTH = 19720915  # distinctive digits, used only here


def test_delegated_handle_logs_no_secret(
    env: Env, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    holder = Holder()
    cred = issuer.issue({"birthdate": BIRTH}, holder.commitment, expires=CRED_EXPIRES)
    secrets_ = {
        "holder secret": str(holder.secret),
        "birthdate": str(BIRTH),
        "salt": str(cred.salt),
    }
    work = DelegatedWork(cred, holder)
    with caplog.at_level(logging.DEBUG):
        v = run(env.presented(mode="delegated"))
        out = run(env.runtime.handle(v, work, env.pool.reserve()))
    assert out.status == "completed" and out.result is True
    records = caplog.records
    assert any(r.name == "zkattest.agents" for r in records)  # logging was captured
    assert any(r.levelno == logging.DEBUG for r in records)
    dumped = caplog.text + "\n".join(repr(vars(r)) for r in records)
    for what, value in secrets_.items():
        assert value not in dumped, f"{what} in the logs"
    # ... nor in the outcome, the attestation or the database files
    assert out.attestation is not None
    stored = repr(out) + out.attestation + repr(run(env.store.get_verification(v.id)))
    raw = b"".join(p.read_bytes() for p in env.db.parent.glob(env.db.name + "*"))
    for what, value in secrets_.items():
        assert value not in stored, f"{what} in the outcome"
        assert value.encode() not in raw, f"{what} in the database"
    assert work.credential is None and work.holder is None


def test_delegated_work_repr_is_redacted(issuer: Issuer) -> None:
    holder = Holder()
    cred = issuer.issue({"birthdate": BIRTH}, holder.commitment, expires=CRED_EXPIRES)
    work = DelegatedWork(cred, holder)
    for text in (repr(work), str(work), f"{work!r}", repr([work])):
        assert "redacted" in text
        for value in (str(holder.secret), str(BIRTH), str(cred.salt), str(holder.commitment)):
            assert value not in text
    work.wipe()
    assert work.credential is None and work.holder is None
    assert repr(work) == "DelegatedWork(<redacted>)"
