"""Configuration: defaults < TOML file < environment < overrides, and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zkattest.service import Config, ConfigError, default_data_dir, load_config


def test_defaults_are_zero_configuration(tmp_path: Path) -> None:
    cfg = load_config(env={"ZKATTEST_DATA_DIR": str(tmp_path)})
    assert (cfg.host, cfg.port, cfg.trust_domain) == ("127.0.0.1", 8080, "zkattest.local")
    assert cfg.data_path == tmp_path
    assert cfg.db_url == f"sqlite:///{(tmp_path / 'zkattest.db').resolve()}"
    assert cfg.base_url == "http://127.0.0.1:8080"
    assert cfg.svid_ttl <= 60 and cfg.dev_issuer is True
    assert cfg.n_workers == (os.cpu_count() or 1)


def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ZKATTEST_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "zkattest" / "service"
    monkeypatch.setenv("ZKATTEST_DATA_DIR", str(tmp_path / "x"))
    assert default_data_dir() == tmp_path / "x"


def test_precedence_file_env_overrides(tmp_path: Path) -> None:
    f = tmp_path / "z.toml"
    f.write_text('port = 9001\ntrust_domain = "file.example"\nqueue = 7\n')
    env = {"ZKATTEST_PORT": "9002", "ZKATTEST_DEV_ISSUER": "false"}
    cfg = load_config(f, env=env, overrides={"port": 9003, "host": None})
    assert cfg.port == 9003  # override beats env beats file
    assert cfg.trust_domain == "file.example" and cfg.queue == 7
    assert cfg.dev_issuer is False
    assert cfg.host == "127.0.0.1"  # a None override is "not given"
    assert load_config(f, env=env).port == 9002
    assert load_config(f, env={}).port == 9001


def test_file_found_in_data_dir_and_service_table(tmp_path: Path) -> None:
    (tmp_path / "zkattest.toml").write_text('[service]\nport = 9100\nlog_level = "debug"\n')
    cfg = load_config(env={"ZKATTEST_DATA_DIR": str(tmp_path)})
    assert cfg.port == 9100 and cfg.log_level == "debug"
    cfg = load_config(env={"ZKATTEST_CONFIG": str(tmp_path / "zkattest.toml")})
    assert cfg.port == 9100


def test_env_lists_and_public_url(tmp_path: Path) -> None:
    env = {
        "ZKATTEST_TRUSTED_ISSUERS": os.pathsep.join(["/a.json", "/b.json"]),
        "ZKATTEST_PUBLIC_URL": "https://verify.example/base/",
    }
    cfg = load_config(env=env)
    assert cfg.trusted_issuers == ["/a.json", "/b.json"]
    assert cfg.base_url == "https://verify.example/base"
    assert Config(host="::1", port=1).base_url == "http://[::1]:1"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ZKATTEST_PORT": "70000"}, "port"),
        ({"ZKATTEST_PORT": "eighty"}, "port"),
        ({"ZKATTEST_SVID_TTL": "61"}, "svid_ttl"),
        ({"ZKATTEST_SVID_TTL": "0"}, "svid_ttl"),
        ({"ZKATTEST_TRUST_DOMAIN": "Upper.Case"}, "trust_domain"),
        ({"ZKATTEST_VERIFICATION_TTL": "5"}, "verification_ttl"),
        ({"ZKATTEST_MAX_BODY_BYTES": "10"}, "max_body_bytes"),
        ({"ZKATTEST_LOG_LEVEL": "loud"}, "log_level"),
        ({"ZKATTEST_DEV_ISSUER": "maybe"}, "DEV_ISSUER"),
        ({"ZKATTEST_PUBLIC_URL": "ftp://x"}, "public_url"),
        ({"ZKATTEST_PUBLIC_URL": "https://x/?q=1"}, "public_url"),
        ({"ZKATTEST_MAX_BATCH": "0"}, "max_batch"),
    ],
)
def test_bad_values_say_which_key(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(env=env)
    assert needle in str(e.value)


def test_bad_files(tmp_path: Path) -> None:
    f = tmp_path / "z.toml"
    f.write_text("port = \n")
    with pytest.raises(ConfigError, match=r"z\.toml"):
        load_config(f, env={})
    f.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown keys prot"):
        load_config(f, env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", env={})
    f.write_text('port = "x"\n')
    with pytest.raises(ConfigError):
        load_config(f, env={})
