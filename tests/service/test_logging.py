"""No secret reaches a log record: full flows of both modes (and refused ones) run
with every logger at DEBUG, and no record's message, arguments, extra fields or
exception text holds the birthdate, the holder secret, the PKCE verifier or the
presentation token."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from zkattest.credentials import Credential, Holder, Issuer
from zkattest.service import Resources, create_app

from .conftest import (
    LEAP_BIRTHDATE,
    RP,
    create,
    delegated_body,
    fetch,
    in_years,
    present,
    proof_body,
    prove,
    read,
)

#: the test client's own loggers: httpx logs each request line, and the request line
#: of GET /v1/verifications/{id}?code_verifier=... and GET /v1/requests/<token> hold
#: client-side secrets by construction (the service never logs them)
CLIENT_LOGGERS = ("httpx", "httpcore")


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)  # fills exc_text as a real handler would
        self.records.append(record)


@contextlib.contextmanager
def all_records(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Every logger at DEBUG (caplog restores the levels), plus a handler on the root.
    Entered after create_app (see test_create_app_leaves_logging_alone)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    keep = _Keep()
    keep.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(keep)
    out: list[logging.LogRecord] = []
    try:
        yield out
    finally:
        logging.getLogger().removeHandler(keep)
        out.extend(keep.records)
        out.extend(caplog.records)


def _texts(record: logging.LogRecord) -> list[str]:
    extra = {k: v for k, v in vars(record).items() if k not in ("msg", "args")}
    return [
        record.getMessage(),
        repr(record.msg),
        repr(record.args),
        repr(extra),
        record.exc_text or "",
        repr(record.exc_info),
    ]


def test_create_app_leaves_logging_alone(res: Resources) -> None:
    """Building the app does not reconfigure the process's logging (the server sets
    up its own handler and level in server.configure_logging, an embedding
    application has its own): the root logger keeps its handlers and level."""
    root = logging.getLogger()
    keep = _Keep()
    root.addHandler(keep)
    level = root.level
    before = list(root.handlers)
    try:
        root.setLevel(logging.DEBUG)
        create_app(resources=res)
        assert root.handlers == [*before, keep] or root.handlers == before
        assert keep in root.handlers
        assert root.level == logging.DEBUG
    finally:
        root.removeHandler(keep)
        root.setLevel(level)


def test_no_secrets_in_logs(
    caplog: pytest.LogCaptureFixture,
    res: Resources,
    holder: Holder,
    leap_cred: Credential,
    issuer: Issuer,
) -> None:
    secrets: dict[str, str] = {
        "birthdate": str(LEAP_BIRTHDATE),
        "holder_secret": str(holder.secret),
    }
    app = create_app(resources=res)
    with all_records(caplog) as records_out, TestClient(app) as c:
        # holder-side proving, delegated proving: yes answers
        for mode in ("proof", "delegated"):
            created = create(c)
            hreq = fetch(c, created)
            secrets[f"{mode}_verifier"] = created.verifier
            secrets[f"{mode}_token"] = hreq["presentation_token"]
            body: Any = (
                proof_body(prove(res, holder, leap_cred, hreq))
                if mode == "proof"
                else delegated_body(leap_cred, holder.secret)
            )
            r = present(c, hreq, body)
            assert r.status_code == 200, r.text
            att = read(c, created)["attestation"]
            r = c.post("/v1/attestations/verify", json={"attestation": att, "audience": RP})
            assert r.json()["valid"] is True
            assert c.get(f"/v1/agents/{r.json()['claims']['iss'].rsplit('/', 1)[1]}").is_success
        # refused delegated presentations: wrong holder, expired and tampered credentials
        expired = issuer.issue({"birthdate": LEAP_BIRTHDATE}, holder.commitment, expires=20200101)
        tampered = delegated_body(leap_cred, holder.secret)
        tampered["credential"]["salt"] = "1"
        for i, body in enumerate(
            [
                delegated_body(leap_cred, Holder().secret),
                delegated_body(expired, holder.secret),
                tampered,
            ]
        ):
            created = create(c)
            hreq = fetch(c, created)
            secrets[f"refused_{i}_token"] = hreq["presentation_token"]
            assert present(c, hreq, body).status_code == 422
            assert read(c, created)["status"] == "failed"
        # malformed delegated presentations, and a replay
        created = create(c)
        hreq = fetch(c, created)
        bad_cred = delegated_body(leap_cred, holder.secret)
        bad_cred["credential"]["attrs"] = bad_cred["credential"]["attrs"][:7]
        assert present(c, hreq, bad_cred).status_code in (400, 422)
        assert present(c, hreq, {**bad_cred, "extra": 1}).status_code == 400
        assert present(c, hreq, delegated_body(leap_cred, holder.secret)).status_code == 200
        assert present(c, hreq, delegated_body(leap_cred, holder.secret)).status_code == 409
        # an untrusted issuer's credential with the same birthdate
        other = Issuer.generate().issue(
            {"birthdate": LEAP_BIRTHDATE}, holder.commitment, expires=in_years(1)
        )
        hreq = fetch(c, create(c))
        assert present(c, hreq, delegated_body(other, holder.secret)).status_code == 422

    records = [r for r in records_out if not r.name.startswith(CLIENT_LOGGERS)]
    assert any(r.name.startswith("zkattest") for r in records)  # the capture works
    assert any(r.levelno == logging.DEBUG for r in records)
    for record in records:
        for text in _texts(record):
            for what, value in secrets.items():
                assert value not in text, f"{what} in a log record of {record.name}: {text[:200]}"
