"""``zkattest clients add|list|remove``: the registry file it writes, its table and
JSON listings, and its refusals (private keys, bad ids, TOML, unknown clients)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zkattest.cli import main
from zkattest.identity.jose import EcKey
from zkattest.oauth.clients import ClientRegistry


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def _key_file(path: Path, *, private: bool = False, n: int = 1, single: bool = True) -> EcKey:
    key = EcKey.generate()
    jwks: list[dict[str, Any]] = []
    for i in range(n):
        k = key if i == 0 else EcKey.generate()
        jwk: dict[str, Any] = {**k.public().jwk(), "kid": f"k{i}"}
        jwks.append(jwk)
    if private:
        jwks[-1]["d"] = "cHJpdmF0ZS1zY2FsYXItbmV2ZXItcHJpbnQtbWU"
    path.write_text(json.dumps(jwks[0] if single else {"keys": jwks}))
    return key


@pytest.fixture
def reg_file(tmp_path: Path) -> Path:
    return tmp_path / "clients.json"


def test_add_list_remove(
    tmp_path: Path, reg_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _key_file(tmp_path / "k.json")
    rc, _, err = _run(
        capsys,
        *("clients", "add", "alice-phone", "--jwk", tmp_path / "k.json", "--file", reg_file),
        *("--name", "Alice's phone", "--kind", "person", "--approver"),
        *("--predicate", "age_gte", "--predicate", "residency"),
        *("--audience", "https://shop.example", "--delegate", "agent-7"),
        *("--approved-by", "bob-phone", "--approved-by", "carol-phone"),
    )
    assert rc == 0, err
    assert "alice-phone" in err
    assert reg_file.stat().st_mode & 0o777 == 0o600
    reg = ClientRegistry(reg_file)
    reg.load()
    c = reg.get("alice-phone")
    assert c is not None
    assert c.name == "Alice's phone" and c.kind == "person" and c.approver
    assert c.predicates == {"age_gte", "residency"}
    assert c.audiences == {"https://shop.example"} and c.delegates == {"agent-7"}
    assert c.approvers == {"bob-phone", "carol-phone"}
    assert [k.thumbprint() for k in c.jwks.keys] == [key.public().thumbprint()]

    _key_file(tmp_path / "set.json", n=2, single=False)
    rc, _, err = _run(
        capsys, "clients", "add", "shop", "--jwks", tmp_path / "set.json", "--file", reg_file
    )
    assert rc == 0, err

    rc, out, _ = _run(capsys, "clients", "list", "--file", reg_file)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "KIND",
        "NAME",
        "PREDICATES",
        "AUDIENCES",
        "DELEGATES",
        "KEYS",
    ]
    assert len(lines) == 3
    assert lines[1].startswith("alice-phone") and "person" in lines[1]
    assert "age_gte,residency" in lines[1] and key.public().thumbprint() in lines[1]
    assert lines[2].startswith("shop") and lines[2].count(",") >= 1  # two thumbprints
    shop = reg.get("shop")
    assert shop is not None and len(shop.jwks.keys) == 2
    assert ",".join(k.thumbprint() for k in shop.jwks.keys) in lines[2]

    rc, out, _ = _run(capsys, "clients", "list", "--json", "--file", reg_file)
    assert rc == 0
    assert json.loads(out) == json.loads(reg_file.read_text())

    rc, _, err = _run(capsys, "clients", "remove", "shop", "--file", reg_file)
    assert rc == 0, err
    rc, _, err = _run(capsys, "clients", "remove", "shop", "--file", reg_file)
    assert rc == 1 and err.startswith("zkattest: error:") and "'shop'" in err
    assert err.count("\n") == 1
    rc, out, _ = _run(capsys, "clients", "list", "--file", reg_file)
    assert rc == 0 and len(out.splitlines()) == 2


def test_add_existing_needs_replace(
    tmp_path: Path, reg_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _key_file(tmp_path / "k.json")
    base = ("clients", "add", "shop", "--jwk", tmp_path / "k.json", "--file", reg_file)
    assert _run(capsys, *base)[0] == 0
    rc, _, err = _run(capsys, *base, "--name", "New name")
    assert rc == 2 and "already registered" in err and err.startswith("zkattest: error:")
    rc, _, err = _run(capsys, *base, "--name", "New name", "--replace")
    assert rc == 0, err
    reg = ClientRegistry(reg_file)
    c = reg.get("shop")
    assert c is not None and c.name == "New name"


@pytest.mark.parametrize("single", [True, False])
def test_private_key_refused(
    tmp_path: Path, reg_file: Path, capsys: pytest.CaptureFixture[str], single: bool
) -> None:
    _key_file(tmp_path / "k.json", private=True, n=1 if single else 2, single=single)
    flag = "--jwk" if single else "--jwks"
    rc, _, err = _run(capsys, "clients", "add", "x", flag, tmp_path / "k.json", "--file", reg_file)
    assert rc == 2 and "private key" in err
    assert "cHJpdmF0ZS1zY2FsYXI" not in err
    assert not reg_file.exists()


def test_key_file_shape(tmp_path: Path, reg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _key_file(tmp_path / "set.json", single=False)
    _key_file(tmp_path / "one.json")
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "oct.json").write_text('{"kty": "oct", "x": "AA"}')
    cases = [
        ("--jwk", "set.json", "use --jwks"),
        ("--jwks", "one.json", "--jwk"),
        ("--jwk", "bad.json", "not valid JSON"),
        ("--jwk", "list.json", "JSON object"),
        ("--jwk", "missing.json", "cannot read"),
        ("--jwk", "oct.json", "jwks"),
    ]
    for flag, name, why in cases:
        rc, _, err = _run(capsys, "clients", "add", "x", flag, tmp_path / name, "--file", reg_file)
        assert rc == 2 and why in err, (name, err)
        assert err.count("\n") == 1
    assert not reg_file.exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (("--predicate", "Age"), "predicates"),
        (("--audience", "shop.example"), "audiences"),
        (("--delegate", "a:b"), "delegates"),
        (("--approved-by", "x"), "approvers"),  # itself
        (("--name", "a\tb"), "name"),
    ],
)
def test_field_errors(
    tmp_path: Path,
    reg_file: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    field: str,
) -> None:
    _key_file(tmp_path / "k.json")
    rc, _, err = _run(
        capsys, "clients", "add", "x", "--jwk", tmp_path / "k.json", "--file", reg_file, *extra
    )
    assert rc == 2 and field in err and "'x'" in err
    assert not reg_file.exists()


@pytest.mark.parametrize("cid", ["a:b", "a b", "x" * 65, ""])
def test_bad_client_id(
    tmp_path: Path, reg_file: Path, capsys: pytest.CaptureFixture[str], cid: str
) -> None:
    _key_file(tmp_path / "k.json")
    rc, _, err = _run(
        capsys, "clients", "add", cid, "--jwk", tmp_path / "k.json", "--file", reg_file
    )
    assert rc == 2 and "client_id" in err


def test_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _key_file(tmp_path / "k.json")
    d = tmp_path / "data"
    rc, _, err = _run(capsys, "clients", "add", "x", "--jwk", tmp_path / "k.json", "--data-dir", d)
    assert rc == 0, err
    assert (d / "clients.json").exists()
    rc, out, _ = _run(capsys, "clients", "list", "--data-dir", d)
    assert rc == 0 and out.splitlines()[1].startswith("x ")


def test_default_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZKATTEST_DATA_DIR", str(tmp_path / "svc"))
    _key_file(tmp_path / "k.json")
    rc, _, err = _run(capsys, "clients", "add", "x", "--jwk", tmp_path / "k.json")
    assert rc == 0, err
    assert (tmp_path / "svc" / "clients.json").exists()
    assert _run(capsys, "clients", "remove", "x")[0] == 0


def test_toml_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _key_file(tmp_path / "k.json")
    jwk = json.loads((tmp_path / "k.json").read_text())
    path = tmp_path / "clients.toml"
    members = ", ".join(f'{k} = "{v}"' for k, v in jwk.items())
    path.write_text(f'[[clients]]\nclient_id = "t"\njwks = {{ keys = [ {{ {members} }} ] }}\n')
    rc, out, _ = _run(capsys, "clients", "list", "--file", path)
    assert rc == 0 and key.public().thumbprint() in out
    rc, _, err = _run(capsys, "clients", "add", "y", "--jwk", tmp_path / "k.json", "--file", path)
    assert rc == 2 and "TOML" in err
    rc, _, err = _run(capsys, "clients", "remove", "t", "--file", path)
    assert rc == 2 and "TOML" in err


def test_list_empty_and_invalid(
    tmp_path: Path, reg_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = _run(capsys, "clients", "list", "--file", reg_file)
    assert rc == 0 and len(out.splitlines()) == 1
    rc, out, _ = _run(capsys, "clients", "list", "--json", "--file", reg_file)
    assert rc == 0 and json.loads(out) == {"clients": []}
    reg_file.write_text('{"clients": [{"client_id": "x"}]}')
    rc, _, err = _run(capsys, "clients", "list", "--file", reg_file)
    assert rc == 2 and "'x'" in err and "jwks" in err


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "clients")[0] == 2
    assert _run(capsys, "clients", "add", "x")[0] == 2  # no key
    _key_file(tmp_path / "k.json")
    k = tmp_path / "k.json"
    assert _run(capsys, "clients", "add", "x", "--jwk", k, "--jwks", k)[0] == 2
    rc, _, _ = _run(
        capsys, "clients", "list", "--file", tmp_path / "a.json", "--data-dir", tmp_path
    )
    assert rc == 2
    assert _run(capsys, "clients", "add", "x", "--jwk", k, "--kind", "robot")[0] == 2
