"""Key store location and caching; the public API at ``zkattest``; the README flow."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

import zkattest
from zkattest import errors
from zkattest.credentials import KeyStore, default_key_dir

ROOT = Path(__file__).resolve().parents[2]


def test_default_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZKATTEST_KEY_DIR", str(tmp_path / "k"))
    assert default_key_dir() == tmp_path / "k" == KeyStore().path
    monkeypatch.delenv("ZKATTEST_KEY_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_key_dir() == tmp_path / "xdg" / "zkattest"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_key_dir() == tmp_path / "home" / ".local" / "share" / "zkattest"
    assert KeyStore(tmp_path).path == tmp_path


def test_loaded_once_thread_safe(keys: KeyStore) -> None:
    pks: list[object] = []
    vks: list[object] = []

    def load() -> None:
        pks.append(keys.proving_key("age_gte"))
        vks.append(keys.verifying_key("age_gte"))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p is pks[0] for p in pks) and all(v is vks[0] for v in vks)
    assert KeyStore(keys.path).verifying_key("age_gte") is vks[0]
    assert keys.circuit_id("age_gte").startswith("sha256:")
    assert keys.dev_setup("age_gte") is vks[0]  # present: nothing to do


def test_files_and_bad_names(keys: KeyStore, tmp_path: Path) -> None:
    r1cs, zkey, vk = keys.files("age_gte")
    assert (r1cs.name, zkey.name, vk.name) == (
        "age_gte.r1cs",
        "age_gte.zkey",
        "age_gte.verification_key.json",
    )
    for bad in ("../x", "Age", ""):
        with pytest.raises(errors.InvalidInput):
            keys.files(bad)
    with pytest.raises(errors.InvalidInput):
        KeyStore(tmp_path).dev_setup("no_such_circuit")


def test_mismatched_vk_is_refused(keys: KeyStore, tmp_path: Path) -> None:
    r1cs, zkey, vk = keys.files("age_gte")
    other = KeyStore(tmp_path)
    o_r1cs, o_zkey, o_vk = other.files("age_gte")
    o_r1cs.write_bytes(r1cs.read_bytes() + b"\x00")
    o_zkey.write_bytes(zkey.read_bytes())
    o_vk.write_bytes(vk.read_bytes())
    with pytest.raises(errors.MalformedFile, match="records circuit"):
        other.verifying_key("age_gte")


def test_public_api() -> None:
    for name in ("Issuer", "Holder", "Verifier", "Request", "Presentation", "Decision"):
        assert getattr(zkattest, name).__name__ == name
        assert name in zkattest.__all__ and name in dir(zkattest)
    with pytest.raises(AttributeError):
        _ = zkattest.NoSuchThing


def test_readme_library_flow(keys: KeyStore) -> None:
    # the autouse fixture points $ZKATTEST_KEY_DIR at the session's key store
    text = (ROOT / "README.md").read_text()
    section = text.split("## Library: a complete flow", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    exec(compile(code, "README.md", "exec"), {})


def test_dev_setup_replaces_keys_of_another_version(
    keys: KeyStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from zkattest.circuit import Circuit, dump_r1cs
    from zkattest.groth16 import circuit_id, dev_setup, write_verification_key, write_zkey

    c = Circuit("toy")
    x = c.public_input("x")
    c.output("y", c.mul(x, x))
    r1cs = c.compile().r1cs
    pk, vk = dev_setup(r1cs, progress=False)
    store = KeyStore(tmp_path)
    r1cs_path, zkey_path, vk_path = store.files("age_gte")
    data = dump_r1cs(r1cs)
    r1cs_path.write_bytes(data)
    write_zkey(zkey_path, pk)
    write_verification_key(vk_path, vk.with_circuit_id(circuit_id(data)))
    assert store.verifying_key("age_gte").circuit_id == circuit_id(data)
    fresh = store.dev_setup("age_gte")
    assert fresh.circuit_id == keys.circuit_id("age_gte") == store.circuit_id("age_gte")
    assert "another circuit version" in caplog.text
