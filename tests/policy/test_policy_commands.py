"""zkattest.policy.commands: check and init."""

from __future__ import annotations

import io
from pathlib import Path

from zkattest.policy import DEFAULT_POLICY_DIR, PolicyEngine
from zkattest.policy.commands import check, init


def run_check(directory: Path | str | None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check(directory, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def run_init(directory: Path | str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = init(directory, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_check_defaults() -> None:
    code, out, err = run_check(None)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"OK {DEFAULT_POLICY_DIR}: schema zkattest.cedarschema, 7 policies"
    assert lines[1].split() == ["registered-age-gte", "access.cedar:17"]
    assert len(lines) == 8


def test_init_then_check(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "policies"
    code, out, err = run_init(target)
    assert (code, err) == (0, "")
    assert "zkattest policy check" in out
    shipped = sorted(p.name for p in DEFAULT_POLICY_DIR.iterdir() if p.suffix.startswith(".cedar"))
    assert sorted(p.name for p in target.iterdir()) == shipped
    for name in shipped:
        assert (target / name).read_bytes() == (DEFAULT_POLICY_DIR / name).read_bytes()
    assert run_check(str(target))[0] == 0
    assert PolicyEngine.load(target).policy_ids == PolicyEngine.load().policy_ids


def test_init_into_empty_existing_directory(tmp_path: Path) -> None:
    assert run_init(tmp_path)[0] == 0


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "access.cedar").write_text("// my edits")
    code, out, err = run_init(tmp_path)
    assert code == 1 and out == ""
    assert "exists and is not an empty directory; not overwriting" in err
    assert (tmp_path / "access.cedar").read_text() == "// my edits"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["access.cedar"]


def test_init_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert run_init(target)[0] == 1
    assert target.read_text() == "x"


def test_init_reports_os_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = run_init(tmp_path / "file" / "sub")
    assert code == 1
    assert err.startswith(f"error: {tmp_path / 'file' / 'sub'}: ")


def test_check_reports_the_error(tmp_path: Path) -> None:
    assert run_init(tmp_path)[0] == 0
    (tmp_path / "bad.cedar").write_text('@id("x")\npermit (principal, action, resource) when {};\n')
    code, out, err = run_check(tmp_path)
    assert (code, out) == (1, "")
    assert err.startswith("error: bad.cedar, lines 1-2 (policy 'x'): syntax error: ")


def test_check_missing_directory(tmp_path: Path) -> None:
    code, _, err = run_check(tmp_path / "nope")
    assert code == 1
    assert "not a directory" in err
