"""``zkattest db upgrade`` and ``zkattest db current`` on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkattest.cli import main
from zkattest.store import open_store
from zkattest.store.migrations import HEAD, VERSION_TABLE

from .conftest import execute, run
from .test_upgrade import build_legacy


def db(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        rc = main(["db", *argv])
    except SystemExit as e:
        rc = int(e.code or 0)
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_upgrade_then_current(fresh_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = db(capsys, "current", "--database-url", fresh_url)
    assert rc == 1 and "head is 0003" in out
    rc, out = db(capsys, "upgrade", "--database-url", fresh_url)
    assert rc == 0 and f"at revision {HEAD} (head)" in out
    rc, out = db(capsys, "current", "--database-url", fresh_url)
    assert rc == 0 and f"at revision {HEAD} (head)" in out
    s = run(open_store(fresh_url))
    try:
        assert run(s.schema_revision()) == HEAD
    finally:
        run(s.close())


def test_current_reports_an_older_revision(
    fresh_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    s = run(open_store(fresh_url))
    execute(s, f"UPDATE {VERSION_TABLE} SET version_num = '0002'")
    run(s.close())
    rc, out = db(capsys, "current", "--database-url", fresh_url)
    assert rc == 1 and "at revision 0002, behind head 0003" in out


def test_current_refuses_a_newer_database(
    fresh_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    s = run(open_store(fresh_url))
    execute(s, f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    run(s.close())
    for cmd in ("current", "upgrade"):
        rc, out = db(capsys, cmd, "--database-url", fresh_url)
        assert rc == 2 and "newer than this zkattest" in out


def test_current_on_a_legacy_database(
    db_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    build_legacy(db_path, 2)
    rc, out = db(capsys, "current", "--database-url", sqlite_url)
    assert rc == 1 and "version 2 of the old migration runner" in out
    assert db(capsys, "upgrade", "--database-url", sqlite_url)[0] == 0
    assert db(capsys, "current", "--database-url", sqlite_url)[0] == 0


def test_current_does_not_create_the_file(
    db_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out = db(capsys, "current", "--database-url", sqlite_url)
    assert rc == 1 and "does not exist yet" in out
    assert not db_path.exists()


def test_default_database_is_the_services(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZKATTEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("ZKATTEST_CONFIG", raising=False)
    rc, _ = db(capsys, "upgrade", "--data-dir", str(tmp_path / "data"))
    assert rc == 0
    assert (tmp_path / "data" / "zkattest.db").is_file()


def test_errors_never_print_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://zk:hunter2secret@127.0.0.1:1/zk?connect_timeout=2"
    for cmd in ("current", "upgrade"):
        rc, out = db(capsys, cmd, "--database-url", url)
        assert rc == 2 and "unavailable" in out
        assert "hunter2secret" not in out
    rc, out = db(capsys, "current", "--database-url", "mysql://zk:hunter2secret@h/zk")
    assert rc == 2 and "hunter2secret" not in out
