"""The audit public key files and ``zkattest audit verify`` (commands.verify)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from zkattest.audit import (
    load_public_keys,
    parse_public_keys,
    public_jwk,
    public_pem,
    write_public_key,
)
from zkattest.audit.commands import EXIT_BROKEN, EXIT_OK, EXIT_UNUSABLE, _safe, verify
from zkattest.errors import MalformedFile

from .conftest import KEY, OTHER_KEY, blob, is_event, load, rehash, sample_lines

PUB = KEY.public()


# ------------------------------------------------------------------ key files


@pytest.mark.parametrize("fmt", ["pem", "jwk", "jwks"])
def test_public_key_round_trip(tmp_path: Path, fmt: str) -> None:
    path = write_public_key(tmp_path / f"audit.{fmt}", KEY, fmt=fmt)  # type: ignore[arg-type]
    assert load_public_keys(path) == (PUB,)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    text = path.read_text()
    assert "PRIVATE" not in text and '"d"' not in text


def test_jwk_names_the_checkpoint_kid() -> None:
    jwk = public_jwk(KEY)
    assert jwk["kid"] == PUB.thumbprint() and jwk["alg"] == "ES256" and jwk["use"] == "sig"
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}


def test_several_keys() -> None:
    both = public_pem(KEY) + public_pem(OTHER_KEY)
    assert parse_public_keys(both) == (PUB, OTHER_KEY.public())
    jwks = json.dumps({"keys": [public_jwk(KEY), public_jwk(OTHER_KEY)]}).encode()
    assert parse_public_keys(jwks) == (PUB, OTHER_KEY.public())


def _p384_pem() -> bytes:
    return (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@pytest.mark.parametrize(
    "data",
    [
        KEY.to_pem(),  # a private key: refused outright
        b"",
        b"garbage",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        _p384_pem(),
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        json.dumps({**public_jwk(KEY), "use": "enc"}).encode(),
        json.dumps({**public_jwk(KEY), "d": "AAAA"}).encode(),
        json.dumps({**public_jwk(KEY), "x": "AAAA"}).encode(),
        json.dumps({"keys": []}).encode(),
        json.dumps({"keys": [public_jwk(KEY)] * 33}).encode(),
        json.dumps({"keys": "x"}).encode(),
        json.dumps([1]).encode(),
        b'{"kty":"EC","kty":"EC"}',
        b" " * 70000,
    ],
)
def test_bad_key_files(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        parse_public_keys(data)


def test_write_public_key_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_public_key(tmp_path / "k", KEY, fmt="der")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        write_public_key(tmp_path / "k", "key")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ verify command


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    trail = tmp_path / "audit.jsonl"
    trail.write_bytes(blob(sample_lines()))
    key = write_public_key(tmp_path / "audit.pem", KEY)
    return trail, key


def _run(*args: object, **kw: object) -> tuple[int, str]:
    out = io.StringIO()
    code = verify(*args, out=out, **kw)  # type: ignore[arg-type]
    return code, out.getvalue()


def test_verify_ok(files: tuple[Path, Path]) -> None:
    trail, key = files
    code, text = _run(trail, key)
    assert code == EXIT_OK
    assert "OK" in text and "64 events in 2 chain(s)" in text
    code, text = _run(trail, key, json_output=True)
    doc = json.loads(text)
    assert code == EXIT_OK and doc["exit"] == 0 and doc["ok"] is True
    assert doc["events"] == 64 and doc["first_error"] is None
    assert {c["chain_id"] for c in doc["chains"]} == {"svc-a", "svc-b"}


def test_verify_reports_the_first_broken_link(files: tuple[Path, Path]) -> None:
    trail, key = files
    lines = sample_lines()
    i = [k for k, x in enumerate(lines) if is_event(x)][9]
    obj = load(lines[i])
    lines[i] = rehash(lines[i], outcome="deny" if obj["event"]["outcome"] != "deny" else "ok")
    trail.write_bytes(blob(lines))
    code, text = _run(trail, key)
    assert code == EXIT_BROKEN
    assert "BROKEN: first error at line" in text
    doc = json.loads(_run(trail, key, json_output=True)[1])
    assert doc["exit"] == 1 and doc["ok"] is False
    # the next event of the chain, or an earlier link to the changed event
    assert doc["first_error"]["what"] in ("prev link broken", "dangling link")
    assert doc["first_error"]["position"] > i + 1


def test_verify_wrong_key_is_broken(files: tuple[Path, Path], tmp_path: Path) -> None:
    trail, _ = files
    other = write_public_key(tmp_path / "other.jwk", OTHER_KEY, fmt="jwk")
    code, text = _run(trail, other)
    assert code == EXIT_BROKEN and "bad checkpoint signature" in text


def test_verify_unsigned_tail(files: tuple[Path, Path]) -> None:
    trail, key = files
    lines = sample_lines()
    last_event = max(k for k, x in enumerate(lines) if is_event(x))
    trail.write_bytes(blob(lines[: last_event + 1]))
    code, text = _run(trail, key)
    assert code == EXIT_OK and "not yet signed" in text
    code, text = _run(trail, key, require_signed=True)
    assert code == EXIT_BROKEN and "not signed" in text


def test_verify_anchors(files: tuple[Path, Path]) -> None:
    trail, key = files
    doc = json.loads(_run(trail, key, json_output=True)[1])
    anchors = [c["last_checkpoint"] for c in doc["chains"]]
    assert _run(trail, key, anchors=anchors)[0] == EXIT_OK
    lines = sample_lines()
    trail.write_bytes(blob(lines[:-10]))
    code, text = _run(trail, key, anchors=anchors)
    assert code == EXIT_BROKEN and "anchor not reached" in text
    assert _run(trail, key, anchors=["not a token"])[0] == EXIT_UNUSABLE


def test_verify_unusable_inputs(files: tuple[Path, Path], tmp_path: Path) -> None:
    trail, key = files
    assert _run(tmp_path / "missing.jsonl", key)[0] == EXIT_UNUSABLE
    assert _run(trail, tmp_path / "missing.pem")[0] == EXIT_UNUSABLE
    priv = tmp_path / "private.pem"
    priv.write_bytes(KEY.to_pem())
    code, text = _run(trail, priv)
    assert code == EXIT_UNUSABLE and "private key" in text and "BEGIN" not in text
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"hello\nworld\n")
    code, text = _run(junk, key, json_output=True)
    assert code == EXIT_UNUSABLE and json.loads(text)["exit"] == 2
    assert _run(tmp_path, key)[0] == EXIT_UNUSABLE  # a directory


def test_verify_output_is_sanitized(files: tuple[Path, Path]) -> None:
    trail, key = files
    for bad in (b'{"\\u001b[31mred":1}', b'{"\x1b[31mred":1}', b'{"caf\xc3\xa9":1}'):
        trail.write_bytes(blob([*sample_lines(), bad]))
        code, text = _run(trail, key)
        assert code == EXIT_BROKEN
        assert all(" " <= c <= "~" or c == "\n" for c in text)
    assert _safe("a\x1b[31m\u2028") == "a\\x1b[31m\\u2028"
    assert len(_safe("x" * 1000)) < 400


def test_empty_trail(files: tuple[Path, Path]) -> None:
    trail, key = files
    trail.write_bytes(b"")
    code, text = _run(trail, key)
    assert code == EXIT_OK and "0 records" in text
