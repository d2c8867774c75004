"""The client registry file: validation (every field, named in the error), JSON/TOML
reading, atomic locked writes, reload on change, last-good on a bad change, and
concurrent writers from several processes."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from zkattest import errors
from zkattest.identity.jose import EcKey
from zkattest.identity.jwk import Jwks
from zkattest.oauth import clients as clients_mod
from zkattest.oauth.base import Client
from zkattest.oauth.clients import (
    ClientRegistry,
    ClientRegistryError,
    client_from_json,
    client_to_json,
)


def ec_jwk(kid: str | None = None) -> dict[str, Any]:
    jwk: dict[str, Any] = EcKey.generate().public().jwk()
    if kid is not None:
        jwk["kid"] = kid
    return jwk


@pytest.fixture(scope="module")
def jwk() -> dict[str, Any]:
    return ec_jwk("k1")


@pytest.fixture(scope="module")
def jwks(jwk: dict[str, Any]) -> Jwks:
    return Jwks.from_json({"keys": [jwk]})


def entry(jwk: dict[str, Any], cid: str = "shop", **kw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"client_id": cid, "jwks": {"keys": [jwk]}}
    e.update(kw)
    return e


def write(path: Path, doc: Any) -> None:
    """Replace the file (a new inode) the way an editor or a deploy tool would."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    os.replace(tmp, path)


def full_client(jwks: Jwks, cid: str = "shop") -> Client:
    return Client(
        client_id=cid,
        name="Ticket shop",
        jwks=jwks,
        kind="agent",
        predicates=frozenset({"age_gte", "residency"}),
        audiences=frozenset({"https://shop.example", "urn:example:rp"}),
        delegates=frozenset({"agent-7"}),
        approvers=frozenset({"alice-phone"}),
        approver=False,
    )


# --------------------------------------------------------------------------- records


def test_entry_roundtrip(jwks: Jwks) -> None:
    c = full_client(jwks)
    d = client_to_json(c)
    assert d["predicates"] == ["age_gte", "residency"]
    assert client_from_json(d) == c
    assert client_from_json(json.loads(json.dumps(d))) == c


def test_entry_defaults(jwk: dict[str, Any], jwks: Jwks) -> None:
    c = client_from_json(entry(jwk))
    assert c == Client(client_id="shop", name="shop", jwks=jwks)
    assert c.kind == "agent" and c.scopes() == frozenset()


def test_person_approver(jwk: dict[str, Any]) -> None:
    c = client_from_json(entry(jwk, kind="person", approver=True, predicates=["age_gte"]))
    assert c.kind == "person" and c.scopes() == {"approve", "verify:age_gte"}


@pytest.mark.parametrize("cid", ["a", "A.b_c~d-e", "x" * 64, "0", "~", "client-01.example"])
def test_good_client_ids(jwk: dict[str, Any], cid: str) -> None:
    assert client_from_json(entry(jwk, cid)).client_id == cid


@pytest.mark.parametrize(
    "cid", ["", "a:b", "a b", "x" * 65, "é", "a/b", "a@b", "a\n", None, 1, ["a"]]
)
def test_bad_client_ids(jwk: dict[str, Any], cid: Any) -> None:
    with pytest.raises(ClientRegistryError) as e:
        client_from_json(entry(jwk, cid))
    assert "client_id" in str(e.value)


@pytest.mark.parametrize(
    "aud",
    [
        "https://shop.example",
        "https://shop.example/path?q=1",
        "http://127.0.0.1:8080",
        "https://[::1]:8443/",
        "urn:example:rp",
        "spiffe://zk.test/agent/x",
    ],
)
def test_good_audiences(jwk: dict[str, Any], aud: str) -> None:
    assert client_from_json(entry(jwk, audiences=[aud])).audiences == {aud}


def _private(jwk: dict[str, Any]) -> dict[str, Any]:
    return {**jwk, "d": "c2VjcmV0LXNjYWxhci1kby1ub3QtbG9n"}


BAD_FIELDS: list[tuple[str, Any]] = [
    ("name", 1),
    ("name", ""),
    ("name", "a\nb"),
    ("name", "x" * 129),
    ("name", None),
    ("kind", "robot"),
    ("kind", None),
    ("kind", "Agent"),
    ("jwks", None),
    ("jwks", []),
    ("jwks", {"keys": []}),
    ("jwks", {"keys": "x"}),
    ("jwks", {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
    ("jwks", {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}),
    ("predicates", "age_gte"),
    ("predicates", [1]),
    ("predicates", ["Age_gte"]),
    ("predicates", ["age-gte"]),
    ("predicates", ["1age"]),
    ("predicates", ["_age"]),
    ("predicates", ["a" * 33]),
    ("predicates", ["age_gte", "age_gte"]),
    ("predicates", [f"p{i}" for i in range(257)]),
    ("predicates", None),
    ("audiences", ["shop.example"]),
    ("audiences", [""]),
    ("audiences", ["https://"]),
    ("audiences", ["https:shop.example"]),
    ("audiences", ["https://shop example"]),
    ("audiences", ["https://shop.example/#frag"]),
    ("audiences", ["https://shop.example:99999"]),
    ("audiences", ["https://[::1"]),
    ("audiences", ["://shop"]),
    ("audiences", ["urn:"]),
    ("audiences", ["https://shop.example/\u00e9"]),
    ("audiences", ["https://x/" + "a" * 2048]),
    ("audiences", "https://shop.example"),
    ("delegates", ["a:b"]),
    ("delegates", [""]),
    ("delegates", ["shop"]),
    ("delegates", ["x", "x"]),
    ("delegates", [None]),
    ("approvers", ["shop"]),
    ("approvers", ["a b"]),
    ("approver", "yes"),
    ("approver", 1),
    ("approver", None),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_bad_field_named(tmp_path: Path, jwk: dict[str, Any], field: str, value: Any) -> None:
    with pytest.raises(ClientRegistryError) as e:
        client_from_json(entry(jwk, **{field: value}))
    assert "'shop'" in str(e.value) and field in str(e.value)
    # the same from a file: the message also names the file
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": [entry(jwk, "ok"), entry(jwk, **{field: value})]}))
    with pytest.raises(ClientRegistryError) as e2:
        ClientRegistry(path).load()
    assert str(path) in str(e2.value) and "'shop'" in str(e2.value) and field in str(e2.value)
    assert isinstance(e2.value, errors.InvalidParameter)


def test_missing_jwks(jwk: dict[str, Any]) -> None:
    with pytest.raises(ClientRegistryError, match=r"'shop'.*jwks"):
        client_from_json({"client_id": "shop"})


def test_unknown_field_named(jwk: dict[str, Any]) -> None:
    with pytest.raises(ClientRegistryError, match=r"'shop'.*predicate: unknown field"):
        client_from_json(entry(jwk, predicate=["age_gte"]))


def test_private_key_refused_without_echo(jwk: dict[str, Any]) -> None:
    bad = _private(jwk)
    with pytest.raises(ClientRegistryError) as e:
        client_from_json({"client_id": "shop", "jwks": {"keys": [bad]}})
    msg = str(e.value)
    assert "jwks" in msg and "private" in msg
    assert bad["d"] not in msg and bad["x"] not in msg


def test_not_an_object() -> None:
    with pytest.raises(ClientRegistryError, match="client"):
        client_from_json([])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[]", "object"),
        ('"clients"', "object"),
        ('{"clients": {}}', "list"),
        ('{"clients": [], "version": 1}', "version"),
        ('{"clients": [], "clients": []}', "duplicate"),
        ('{"clients": [1]}', "client #1"),
        ('{"clients": [{"name": "x"}]}', "client #1: client_id"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper"),
        ("[" * 65 + "]" * 65, "nested deeper"),
        (
            '{"clients": [], "x": "' + "[" * 70 + '"}',  # brackets in a string
            "unknown top-level",
        ),
    ],
)
def test_bad_files(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "clients.json"
    path.write_text(content)
    with pytest.raises(ClientRegistryError, match=why):
        ClientRegistry(path).load()


def test_duplicate_member_inside_client(tmp_path: Path, jwk: dict[str, Any]) -> None:
    path = tmp_path / "clients.json"
    body = json.dumps({"clients": [entry(jwk)]})
    path.write_text(body.replace('"client_id": "shop"', '"client_id": "shop", "client_id": "x"'))
    with pytest.raises(ClientRegistryError, match="duplicate"):
        ClientRegistry(path).load()


def test_duplicate_client_id(tmp_path: Path, jwk: dict[str, Any]) -> None:
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": [entry(jwk), entry(jwk, name="again")]}))
    with pytest.raises(ClientRegistryError, match=r"'shop'.*client_id.*twice"):
        ClientRegistry(path).load()


def test_not_utf8_and_oversize(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    path.write_bytes(b'{"clients": ["\xff"]}')
    with pytest.raises(ClientRegistryError, match="UTF-8"):
        ClientRegistry(path).load()
    path.write_bytes(b" " * (clients_mod.MAX_FILE_SIZE + 1))
    with pytest.raises(ClientRegistryError, match="larger"):
        ClientRegistry(path).load()


def test_missing_file_is_empty(tmp_path: Path) -> None:
    reg = ClientRegistry(tmp_path / "nope" / "clients.json")
    reg.load()
    assert reg.get("shop") is None and reg.list() == []


def test_empty_registry_file(tmp_path: Path) -> None:
    for content in ("{}", '{"clients": []}'):
        write(tmp_path / "clients.json", content)
        reg = ClientRegistry(tmp_path / "clients.json")
        reg.load()
        assert reg.list() == []


def test_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    path.mkdir()  # a directory: open() fails with an OSError that is not ENOENT
    with pytest.raises(ClientRegistryError, match="cannot read"):
        ClientRegistry(path).load()


# --------------------------------------------------------------------------- TOML


def toml_text(jwk: dict[str, Any]) -> str:
    key = ", ".join(f'{k} = "{v}"' for k, v in jwk.items())
    return f"""
[[clients]]
client_id = "shop"
name = "Ticket shop"
predicates = ["age_gte"]
audiences = ["https://shop.example"]
delegates = ["agent-7"]
jwks = {{ keys = [ {{ {key} }} ] }}

[[clients]]
client_id = "alice-phone"
kind = "person"
approver = true

[[clients.jwks.keys]]
{chr(10).join(f'{k} = "{v}"' for k, v in jwk.items())}
"""


def test_toml_read(tmp_path: Path, jwk: dict[str, Any], jwks: Jwks) -> None:
    path = tmp_path / "clients.toml"
    path.write_text(toml_text(jwk))
    reg = ClientRegistry(path)
    reg.load()
    shop = reg.get("shop")
    assert shop is not None and shop.jwks == jwks and shop.delegates == {"agent-7"}
    phone = reg.get("alice-phone")
    assert phone is not None and phone.kind == "person" and phone.approver


def test_toml_write_refused(tmp_path: Path, jwk: dict[str, Any], jwks: Jwks) -> None:
    path = tmp_path / "clients.toml"
    path.write_text(toml_text(jwk))
    before = path.read_bytes()
    reg = ClientRegistry(path)
    with pytest.raises(ClientRegistryError, match=r"TOML.*JSON"):
        reg.add(full_client(jwks, "new"))
    with pytest.raises(ClientRegistryError, match="TOML"):
        reg.remove("shop")
    assert path.read_bytes() == before
    assert not reg.lock_path.exists()


@pytest.mark.parametrize(
    "text",
    [
        "clients = [",
        "[[clients]]\nclient_id = 1\n",
        '[[clients]]\nclient_id = "x"\njwks = {keys = []}\n',
        '[[clients]]\nclient_id = "x"\napprover = 1979-05-27\n',
        "clients = 3\n",
    ],
)
def test_bad_toml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "clients.toml"
    path.write_text(text)
    with pytest.raises(ClientRegistryError):
        ClientRegistry(path).load()


# --------------------------------------------------------------------------- writes


def test_add_get_list(tmp_path: Path, jwks: Jwks) -> None:
    path = tmp_path / "sub" / "clients.json"
    reg = ClientRegistry(path)
    c = full_client(jwks)
    reg.add(c)
    assert reg.get("shop") == c
    assert path.stat().st_mode & 0o777 == 0o600
    assert reg.lock_path.stat().st_mode & 0o777 == 0o600
    doc = json.loads(path.read_text())
    assert doc == {"clients": [client_to_json(c)]}
    reg.add(full_client(jwks, "b-client"))
    assert [x.client_id for x in reg.list()] == ["b-client", "shop"]
    # a fresh reader sees the same
    other = ClientRegistry(path)
    other.load()
    assert other.list() == reg.list()
    # nothing but the file and its lock is left in the directory
    assert sorted(p.name for p in path.parent.iterdir()) == ["clients.json", "clients.json.lock"]


def test_add_existing(tmp_path: Path, jwks: Jwks) -> None:
    reg = ClientRegistry(tmp_path / "clients.json")
    reg.add(full_client(jwks))
    changed = Client(client_id="shop", name="Renamed", jwks=jwks)
    with pytest.raises(ClientRegistryError, match=r"'shop'.*already registered"):
        reg.add(changed)
    assert reg.get("shop") == full_client(jwks)
    reg.add(changed, replace=True)
    assert reg.get("shop") == changed


def test_add_validates_client(tmp_path: Path, jwks: Jwks) -> None:
    path = tmp_path / "clients.json"
    reg = ClientRegistry(path)
    bad = [
        Client(client_id="a:b", name="x", jwks=jwks),
        Client(client_id="ok", name="x", jwks=jwks, predicates=frozenset({"Age"})),
        Client(client_id="ok", name="x", jwks=jwks, audiences=frozenset({"nope"})),
        Client(client_id="ok", name="x", jwks=jwks, delegates=frozenset({"ok"})),
    ]
    for c in bad:
        with pytest.raises(ClientRegistryError):
            reg.add(c)
    with pytest.raises(ClientRegistryError):
        reg.add("shop")  # type: ignore[arg-type]
    assert not path.exists()


def test_remove(tmp_path: Path, jwks: Jwks) -> None:
    reg = ClientRegistry(tmp_path / "clients.json")
    reg.add(full_client(jwks))
    reg.add(full_client(jwks, "other"))
    assert reg.remove("shop") is True
    assert reg.get("shop") is None and reg.get("other") is not None
    assert reg.remove("shop") is False
    assert reg.remove("never") is False
    assert [c["client_id"] for c in json.loads(reg.path.read_text())["clients"]] == ["other"]


def test_write_over_a_bad_file_refused(tmp_path: Path, jwks: Jwks) -> None:
    path = tmp_path / "clients.json"
    path.write_text('{"clients": [oops')
    reg = ClientRegistry(path)
    with pytest.raises(ClientRegistryError, match="JSON"):
        reg.add(full_client(jwks))
    with pytest.raises(ClientRegistryError, match="JSON"):
        reg.remove("shop")
    assert path.read_text() == '{"clients": [oops'


def test_failed_write_leaves_old_file(
    tmp_path: Path, jwks: Jwks, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clients.json"
    reg = ClientRegistry(path)
    reg.add(full_client(jwks))
    before = path.read_bytes()

    def broken(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        reg.add(full_client(jwks, "new"))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.json", "clients.json.lock"]
    assert reg.get("new") is None


# --------------------------------------------------------------------------- reload


def test_reload_on_change(tmp_path: Path, jwk: dict[str, Any]) -> None:
    path = tmp_path / "clients.json"
    write(path, {"clients": [entry(jwk, "a")]})
    reader = ClientRegistry(path)
    assert reader.get("a") is not None and reader.get("b") is None
    # another writer (another process: another registry object)
    write(path, {"clients": [entry(jwk, "a"), entry(jwk, "b")]})
    assert reader.get("b") is not None
    # a change in place (same inode) is seen too
    with open(path, "r+") as f:
        f.write(json.dumps({"clients": [entry(jwk, "c")]}))
        f.truncate()
    assert reader.get("c") is not None and reader.get("a") is None
    # the file disappears: no clients
    path.unlink()
    assert reader.get("c") is None and reader.list() == []


def test_no_reread_when_unchanged(
    tmp_path: Path, jwk: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clients.json"
    write(path, {"clients": [entry(jwk, "a")]})
    reg = ClientRegistry(path)
    assert reg.get("a") is not None

    def no_read() -> Any:
        raise AssertionError("re-read an unchanged file")

    monkeypatch.setattr(reg, "_read", no_read)
    for _ in range(3):
        assert reg.get("a") is not None
    assert reg.get(1) is None  # type: ignore[arg-type]


def test_bad_change_keeps_last_good(
    tmp_path: Path, jwk: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "clients.json"
    write(path, {"clients": [entry(jwk, "a")]})
    reg = ClientRegistry(path)
    good = reg.get("a")
    assert good is not None
    secret = _private(jwk)
    with caplog.at_level(logging.WARNING, logger="zkattest.oauth"):
        write(path, {"clients": [entry(jwk, "a"), {"client_id": "b", "jwks": {"keys": [secret]}}]})
        assert reg.get("a") == good and reg.get("b") is None
        assert reg.get("a") == good  # the same bad file is not reported twice
    records = [r for r in caplog.records if r.name == "zkattest.oauth"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    text = records[0].getMessage()
    assert "'b'" in text and "jwks" in text and str(path) in text
    assert secret["d"] not in text and secret["x"] not in text
    # load() is strict about the same file
    with pytest.raises(ClientRegistryError):
        reg.load()
    assert reg.get("a") == good
    # fixed: picked up
    write(path, {"clients": [entry(jwk, "b")]})
    assert reg.get("b") is not None and reg.get("a") is None


def test_bad_first_file_means_no_clients(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "clients.json"
    path.write_text("nonsense")
    reg = ClientRegistry(path)
    with caplog.at_level(logging.WARNING, logger="zkattest.oauth"):
        assert reg.get("a") is None
    assert any(r.name == "zkattest.oauth" for r in caplog.records)


# --------------------------------------------------------------------------- concurrency

N_PROCS = 8
PER_PROC = 3


def _adder(path: str, n: int, barrier: Any) -> None:
    jwks = Jwks.from_json({"keys": [EcKey.generate().public().jwk()]})
    reg = ClientRegistry(path)
    barrier.wait()
    for i in range(PER_PROC):
        reg.add(Client(client_id=f"p{n}-{i}", name=f"p{n}", jwks=jwks))


def test_concurrent_adds_lose_nothing(tmp_path: Path, jwks: Jwks) -> None:
    path = tmp_path / "clients.json"
    ClientRegistry(path).add(full_client(jwks))
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(N_PROCS)
    procs = [ctx.Process(target=_adder, args=(str(path), n, barrier)) for n in range(N_PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * N_PROCS
    reg = ClientRegistry(path)
    reg.load()
    want = {"shop"} | {f"p{n}-{i}" for n in range(N_PROCS) for i in range(PER_PROC)}
    assert {c.client_id for c in reg.list()} == want
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.json", "clients.json.lock"]
