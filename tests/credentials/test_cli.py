"""``zkattest keygen|issue|request|present|check`` and ``setup`` into the key store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkattest.cli import main
from zkattest.credentials import Credential, KeyStore, verify_credential


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def test_flow(tmp_path: Path, keys: KeyStore, capsys: pytest.CaptureFixture[str]) -> None:
    t = tmp_path
    ks = ("--keystore", keys.path)
    assert _run(capsys, "keygen", "--issuer", t / "i.json", "--public", t / "i.pub.json")[0] == 0
    assert (t / "i.json").stat().st_mode & 0o777 == 0o600
    rc, out, _ = _run(capsys, "keygen", "--holder", t / "h.json")
    assert rc == 0 and out.strip().isdigit()
    rc, _, err = _run(capsys, "keygen", "--holder", t / "h.json")
    assert rc == 2 and "exists" in err
    rc, _, err = _run(
        capsys,
        *("issue", "--key", t / "i.json", "--holder", t / "h.json"),
        *("--birthdate", "20080229", "--expires", "20300101", "--out", t / "c.json"),
        *("--attr", "nationality=250"),
    )
    assert rc == 0, err
    cred = Credential.from_json((t / "c.json").read_bytes())
    assert verify_credential(cred) and cred.attrs[2] == 250
    assert str(cred.holder_commitment) == out.strip()
    for today, want in (("20260228", False), ("20260301", True)):
        req, pres = t / f"r{today}.json", t / f"p{today}.json"
        common = ("--min-age", 18, "--nonce", "abc", "--scope", "shop.example", "--today", today)
        assert _run(capsys, "request", *common, "--out", req)[0] == 0
        rc, _, err = _run(
            capsys,
            *("present", "--holder", t / "h.json", "--credential", t / "c.json"),
            *("--request", req, "--out", pres, *ks),
        )
        assert rc == 0, err
        rc, out, err = _run(
            capsys,
            *("check", "--issuer", t / "i.pub.json", "--request", req, "--presentation", pres),
            *(*ks, "--max-skew-days", 100000),
        )
        d = json.loads(out)
        assert rc == 0 and d["valid"] and d["result"] is want and d["reason"] is None, err
    # today's clock is far from 2026-03-01 unless the skew allows it; another issuer
    _run(capsys, "keygen", "--issuer", t / "j.json", "--public", t / "j.pub.json")
    rc, out, _ = _run(
        capsys,
        *("check", "--issuer", t / "j.pub.json", "--request", req, "--presentation", pres, *ks),
    )
    assert rc == 1 and json.loads(out)["reason"] == "untrusted_issuer"


def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.json").write_text("{}")
    rc, _, err = _run(
        capsys,
        *("check", "--issuer", tmp_path / "nope.json", "--request", tmp_path / "c.json"),
        *("--presentation", tmp_path / "c.json"),
    )
    assert rc == 2 and err.startswith("zkattest: error:") and err.count("\n") == 1
    rc, _, err = _run(capsys, "keygen")
    assert rc == 2 and "exactly one" in err
    rc, _, err = _run(
        capsys,
        "request",
        "--min-age",
        18,
        "--nonce",
        "n",
        "--scope",
        "s",
        "--today",
        "2026-03-01",
        "--out",
        tmp_path / "r.json",
    )
    assert rc == 2 and "YYYYMMDD" in err


def test_setup_into_keystore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(capsys, "setup", "age_gte", "--keystore", tmp_path)
    assert rc == 0, err
    assert KeyStore(tmp_path).has("age_gte") and "age_gte.zkey" in out
    rc, _, err = _run(capsys, "setup", "age_gte", "--keystore", tmp_path)
    assert rc == 2 and "--force" in err
    assert _run(capsys, "setup", "age_gte", "--keystore", tmp_path, "--force", "-q")[0] == 0
