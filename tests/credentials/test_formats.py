"""Strict decoding of credentials, requests, presentations and key files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from zkattest import babyjub, errors
from zkattest.credentials import (
    KTY,
    Credential,
    Holder,
    Issuer,
    MalformedCredential,
    Presentation,
    Request,
    read_public_key,
    to_field,
    verify_credential,
)
from zkattest.field import R

from .conftest import ISSUER_SEED, request


@pytest.fixture(scope="module")
def good(issuer: Issuer, holder: Holder) -> dict[str, Any]:
    cred = issuer.issue({"birthdate": 20000101, "nationality": 250}, holder.commitment, 20300101)
    obj: dict[str, Any] = msgspec.json.decode(cred.to_json())
    return obj


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(o: dict[str, Any]) -> None:
        *head, last = path.split(".")
        for k in head:
            o = o[k]
        if value is _DEL:
            del o[last]
        else:
            o[last] = value

    return edit


_DEL = object()


@pytest.mark.parametrize(
    "edit",
    [
        _set("v", 2),
        _set("v", _DEL),
        _set("extra", 1),
        _set("attrs", ["0"] * 7),
        _set("attrs", [0] * 8),
        _set("expires", "20300101"),
        _set("expires", 20300231),
        _set("expires", True),
        _set("salt", "01"),
        _set("salt", "-1"),
        _set("salt", " 1"),
        _set("salt", str(R)),
        _set("holder_commitment", 5),
        _set("issuer.Ax", "1"),
        _set("issuer.Az", "1"),
        _set("signature.S", str(babyjub.SUBGROUP_ORDER)),
        _set("signature.R8x", "0"),
        _set("signature", None),
    ],
)
def test_malformed_credential(good: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> None:
    obj = json.loads(json.dumps(good))
    edit(obj)
    with pytest.raises(MalformedCredential) as ei:
        Credential.from_json(json.dumps(obj))
    assert isinstance(ei.value, errors.MalformedFile) and isinstance(ei.value, ValueError)


@pytest.mark.parametrize("text", ["", "{", "[]", "null", '{"v":1}', "\x00", b"\xff"])
def test_malformed_json(text: str | bytes) -> None:
    for cls in (Credential, Request, Presentation):
        with pytest.raises(MalformedCredential):
            cls.from_json(text)
    with pytest.raises(MalformedCredential):
        Credential.from_json(12)  # type: ignore[arg-type]


def test_accepts_good_and_slots(good: dict[str, Any]) -> None:
    cred = Credential.from_json(json.dumps(good))
    assert verify_credential(cred)
    assert cred.attrs[2] == 250 and cred.schema == 0x5A4B_0001


def test_malformed_request_and_presentation() -> None:
    req = msgspec.json.decode(request().to_json())
    for k, v in (("predicate", "age_lte"), ("min_age", 300), ("today", 2026), ("nonce", "x")):
        bad = dict(req, **{k: v})
        with pytest.raises(errors.InvalidInput):
            Request.from_json(json.dumps(bad))
    with pytest.raises(MalformedCredential):
        Presentation.from_json(
            json.dumps({"circuit_id": "x", "proof": {"pi_a": 1}, "public": [], "v": 1})
        )


def test_to_field() -> None:
    assert to_field("abc", "nonce") != to_field("abc", "rp_scope")
    assert 0 <= to_field("abc", "nonce") < R
    assert to_field(7, "nonce") == 7


def test_issuer_key_files(tmp_path: Path, issuer: Issuer) -> None:
    prv, pub = tmp_path / "issuer.json", tmp_path / "issuer.pub.json"
    issuer.save(prv)
    issuer.save(pub, private=False)
    assert prv.stat().st_mode & 0o777 == 0o600
    obj = json.loads(prv.read_text())
    assert obj["kty"] == KTY and obj["seed"] == ISSUER_SEED.hex()
    assert "seed" not in json.loads(pub.read_text())
    assert Issuer.load(prv).public_key == issuer.public_key
    assert read_public_key(pub) == read_public_key(prv) == issuer.public_key
    with pytest.raises(errors.MalformedFile, match="public key file"):
        Issuer.load(pub)
    with pytest.raises(FileExistsError):
        issuer.save(prv)
    for change in ({"kty": "jwk"}, {"seed": "00" * 32}, {"Ax": "1"}, {"x": 1}, {"seed": "zz"}):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**obj, **change}))
        with pytest.raises(errors.MalformedFile):
            Issuer.load(bad)
    (tmp_path / "nojson").write_text("{")
    with pytest.raises(errors.MalformedFile):
        read_public_key(tmp_path / "nojson")


def test_circomlibjs_compatible_signature(issuer: Issuer, holder: Holder) -> None:
    # the credential signature is babyjub.sign_poseidon (tested against circomlibjs in
    # tests/test_babyjub.py) over Poseidon of the 11 credential values
    cred = issuer.issue({"birthdate": 20000101}, holder.commitment, 20300101, salt=5)
    assert cred.signature == babyjub.sign_poseidon(ISSUER_SEED, cred.message())
    assert babyjub.verify_poseidon(cred.message(), cred.signature, issuer.public_key.point())


def test_holder_file() -> None:
    h = Holder()
    assert Holder.from_json(h.to_json()).commitment == h.commitment
    for bad in (
        b"{",
        b"[]",
        b'{"kty":"x","secret":"1","v":1}',
        b'{"kty":"zkattest-holder-secret","secret":"01","v":1}',
    ):
        with pytest.raises(errors.MalformedFile):
            Holder.from_json(bad)
    for s in (0, R, -1, True, "5"):
        with pytest.raises(errors.InvalidInput):
            Holder(s)  # type: ignore[arg-type]
