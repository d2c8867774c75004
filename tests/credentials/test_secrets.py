"""Secrets (holder secret, birthdate, salt, issuer seed) never reach a repr, an error
message or a log line -- checked over the whole flow with logging at DEBUG."""

from __future__ import annotations

import logging
import pickle

import pytest

from zkattest.babyjub import private_key_scalar
from zkattest.credentials import (
    Credential,
    Holder,
    Issuer,
    KeyStore,
    Verifier,
)

from .conftest import TODAY, pinned, request

SEED = bytes(range(200, 232))
SECRET = 0x5EC2E7_0000_1111_2222_3333_4444
BIRTHDATE = 20010917
SALT = 0x5A17_9999_8888_7777


def _forms(*values: int) -> list[str]:
    out = []
    for v in values:
        out += [str(v), hex(v), f"{v:x}", f"{v:X}"]
    return out


def test_no_secret_anywhere(caplog: pytest.LogCaptureFixture, keys: KeyStore) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    issuer = Issuer(SEED)
    holder = Holder(SECRET)
    cred = issuer.issue({"birthdate": BIRTHDATE}, holder.commitment, 20300101, salt=SALT)
    req = request()
    pres = holder.present(cred, req, keys=keys)
    v = Verifier([issuer.public_key], keys=keys, clock=lambda: pinned(TODAY))
    d = v.check(pres, req)
    assert d.valid and d.result
    seen += [repr(x) for x in (issuer, holder, cred, req, pres, d, v, keys)]
    seen += [str(x) for x in (issuer, holder, cred)]
    # refusals and their messages
    expired = issuer.issue({"birthdate": BIRTHDATE}, holder.commitment, 20200101, salt=SALT)
    forged = Credential(
        attrs=(cred.attrs[0], BIRTHDATE - 1, *cred.attrs[2:]),
        expires=cred.expires,
        holder_commitment=cred.holder_commitment,
        salt=SALT,
        issuer=cred.issuer,
        signature=cred.signature,
    )
    for bad in (expired, forged):
        with pytest.raises(Exception) as ei:
            holder.present(bad, req, keys=keys)
        seen.append(str(ei.value))
        seen.append(repr(ei.value))
    with pytest.raises(Exception) as ei:
        Holder(SECRET).present(cred, request(schema=1), keys=keys)
    seen.append(str(ei.value))
    with pytest.raises(Exception) as ei:
        Holder().present(cred, req, keys=keys)
    seen.append(str(ei.value))
    with pytest.raises(TypeError):
        pickle.dumps(holder)
    with pytest.raises(TypeError):
        pickle.dumps(issuer)
    seen.append(caplog.text)
    seen += [r.getMessage() for r in caplog.records]
    text = "\n".join(seen)
    secrets = [*_forms(SECRET, BIRTHDATE, SALT), SEED.hex(), str(list(SEED))]
    secrets += _forms(
        int.from_bytes(SEED, "little"), int.from_bytes(SEED, "big"), private_key_scalar(SEED)
    )
    for s in secrets:
        assert s not in text, s
    assert "presentation" in caplog.text  # the flow did log
