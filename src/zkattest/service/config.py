"""Service configuration: defaults < TOML file < environment < command line.

File: ``--config PATH``, else ``$ZKATTEST_CONFIG``, else ``<data_dir>/zkattest.toml``
when it exists.  Keys are the field names of :class:`Config` (top level, or under a
``[service]`` table).  Environment: ``ZKATTEST_<FIELD>`` in upper case
(``ZKATTEST_PORT=9000``; lists separated by ``os.pathsep``; booleans
``true/false/1/0/yes/no``).
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from .. import errors

__all__ = ["Config", "ConfigError", "default_data_dir", "load_config"]

_TD = re.compile(r"[a-z0-9._-]{1,255}")
#: the audit chain-id grammar (zkattest.audit.events)
_CHAIN_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


class ConfigError(errors.InvalidParameter):
    """The configuration is invalid (the message names the key)."""


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8080
    #: state directory: database, trust-domain key, circuit keys, dev issuer
    data_dir: str = ""
    #: base URL the holder reaches us at (request URIs); default http://host:port
    public_url: str = ""
    trust_domain: str = "zkattest.local"
    #: default sqlite:///<data_dir>/zkattest.db
    database_url: str = ""
    #: circuit keys; default $ZKATTEST_KEY_DIR, else <data_dir>/keys
    key_dir: str = ""
    verification_ttl: int = 300
    svid_ttl: int = 30
    attestation_ttl: int = 600
    max_body_bytes: int = 65536
    #: proving/verifying threads (0: one per core) and jobs that may wait for one
    workers: int = 0
    queue: int = 32
    #: holder-side proofs waiting for the batch verifier, and the largest batch
    verify_queue: int = 256
    max_batch: int = 64
    #: trusted credential issuers: public key files (zkattest keygen --public)
    trusted_issuers: list[str] = msgspec.field(default_factory=list)
    #: create and trust a DEVELOPMENT issuer (<data_dir>/dev-issuer.json) for the demo
    dev_issuer: bool = True
    sweep_interval: float = 5.0
    max_skew_days: int = 1
    log_level: str = "info"
    #: ``zkattest serve``'s log lines: "json" (one object per line) or "text"
    log_format: str = "json"
    access_log: bool = False
    #: OpenTelemetry traces go to this OTLP/HTTP collector (e.g. http://127.0.0.1:4318;
    #: /v1/traces is appended); empty: tracing off (no SDK, spans are no-ops)
    otlp_endpoint: str = ""
    #: the ``service.name`` traces carry
    service_name: str = "zkattest"
    #: relying-party endpoints need a DPoP-bound OAuth access token (turn off only for
    #: a closed test setup: then anyone who can reach the port may ask)
    require_auth: bool = True
    #: the OAuth client registry; default <data_dir>/clients.json
    clients_file: str = ""
    #: Cedar policies and schema; default: the shipped policies (zkattest policy init DIR)
    policy_dir: str = ""
    access_token_ttl: int = 300
    #: a DPoP proof's iat may be this old (seconds), plus a 5 s leeway either way
    dpop_max_age: int = 60
    #: server-issued DPoP nonces (RFC 9449 §8): at the token endpoint, on resource requests
    dpop_nonce: bool = True
    dpop_nonce_resource: bool = False
    #: hard cap on the delegation chain (policy may allow less)
    max_delegation_depth: int = 4
    #: how long a step-up waits for the person's approval, and the RP's polling interval
    approval_ttl: int = 300
    poll_interval: int = 2
    #: verification requests per minute per client above which the risk score rises
    rate_soft_limit: int = 60
    #: this instance's audit chain id ([A-Za-z0-9._~-]{1,64}), one per replica and kept
    #: across restarts; default "<hostname>-<port>" (see :attr:`chain_id`)
    instance_id: str = ""

    def __post_init__(self) -> None:
        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"config {key}: {why}")

        if not 0 <= self.port <= 65535:
            raise bad("port", "must be 0..65535")
        if not _TD.fullmatch(self.trust_domain):
            raise bad("trust_domain", "lowercase letters, digits, '.', '-', '_' only")
        if not 10 <= self.verification_ttl <= 86400:
            raise bad("verification_ttl", "must be 10..86400 seconds")
        if not 1 <= self.svid_ttl <= 60:
            raise bad("svid_ttl", "must be 1..60 seconds (JWT-SVIDs are short-lived)")
        if not 1 <= self.attestation_ttl <= 86400:
            raise bad("attestation_ttl", "must be 1..86400 seconds")
        if not 1024 <= self.max_body_bytes <= 16 * 1024 * 1024:
            raise bad("max_body_bytes", "must be 1 KiB..16 MiB")
        if not 0 <= self.workers <= 256 or not 0 <= self.queue <= 100_000:
            raise bad("workers/queue", "out of range")
        if not 1 <= self.verify_queue <= 100_000 or not 1 <= self.max_batch <= 1024:
            raise bad("verify_queue/max_batch", "out of range")
        if not 0.1 <= self.sweep_interval <= 3600:
            raise bad("sweep_interval", "must be 0.1..3600 seconds")
        if not 0 <= self.max_skew_days <= 31:
            raise bad("max_skew_days", "must be 0..31")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise bad("log_level", "debug, info, warning or error")
        if self.log_format not in ("json", "text"):
            raise bad("log_format", "json or text")
        if self.otlp_endpoint and not re.fullmatch(
            r"https?://[^\s/?#@]+(/[^\s?#]*)?", self.otlp_endpoint
        ):
            raise bad("otlp_endpoint", "must be an http(s) URL without credentials or query")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", self.service_name):
            raise bad("service_name", "1..128 letters, digits, '.', '-', '_'")
        if not 30 <= self.access_token_ttl <= 3600:
            raise bad("access_token_ttl", "must be 30..3600 seconds")
        if not 5 <= self.dpop_max_age <= 600:
            raise bad("dpop_max_age", "must be 5..600 seconds")
        if not 0 <= self.max_delegation_depth <= 8:
            raise bad("max_delegation_depth", "must be 0..8")
        if not 10 <= self.approval_ttl <= 86400:
            raise bad("approval_ttl", "must be 10..86400 seconds")
        if not 1 <= self.poll_interval <= 60:
            raise bad("poll_interval", "must be 1..60 seconds")
        if not 1 <= self.rate_soft_limit <= 1_000_000:
            raise bad("rate_soft_limit", "must be 1..1000000 per minute")
        if self.instance_id and not _CHAIN_ID.fullmatch(self.instance_id):
            raise bad("instance_id", "1..64 letters, digits, '.', '_', '~', '-'")
        if self.public_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.public_url):
            raise bad("public_url", "must be an http(s) URL without query or fragment")

    # resolved paths -----------------------------------------------------------
    @property
    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()

    @property
    def key_path(self) -> Path:
        if self.key_dir:
            return Path(self.key_dir)
        env = os.environ.get("ZKATTEST_KEY_DIR")
        return Path(env) if env else self.data_path / "keys"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_path / 'zkattest.db').resolve()}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def clients_path(self) -> Path:
        return Path(self.clients_file) if self.clients_file else self.data_path / "clients.json"

    @property
    def policy_path(self) -> Path | None:
        return Path(self.policy_dir) if self.policy_dir else None

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def chain_id(self) -> str:
        """The audit chain this instance writes: ``instance_id``, else
        ``<hostname>-<port>`` (the hostname's characters outside the chain-id grammar
        replaced by ``-``, cut to fit 64 characters): stable across restarts, distinct
        for replicas on distinct hosts or ports."""
        if self.instance_id:
            return self.instance_id
        suffix = f"-{self.port}"
        host = re.sub(r"[^A-Za-z0-9._~-]", "-", socket.gethostname()) or "zkattest"
        return host[: 64 - len(suffix)] + suffix

    @property
    def n_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


def default_data_dir() -> Path:
    """``$ZKATTEST_DATA_DIR``, else ``$XDG_DATA_HOME/zkattest/service``, else
    ``~/.local/share/zkattest/service``."""
    env = os.environ.get("ZKATTEST_DATA_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "zkattest" / "service"


_FIELDS = set(Config.__struct_fields__)
_BOOLS = frozenset(n for n, t in typing.get_type_hints(Config).items() if t is bool)


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELDS:
        raw = env.get(f"ZKATTEST_{name.upper()}")
        if raw is None or name == "key_dir":  # key_dir's env var is read by key_path
            continue
        if name == "trusted_issuers":
            out[name] = [p for p in raw.split(os.pathsep) if p]
        elif name in _BOOLS:
            low = raw.strip().lower()
            if low not in ("1", "0", "true", "false", "yes", "no"):
                raise ConfigError(f"ZKATTEST_{name.upper()}: expected true or false")
            out[name] = low in ("1", "true", "yes")
        else:
            out[name] = raw
    return out


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """The configuration from the file, the environment and ``overrides`` (CLI)."""
    env = os.environ if env is None else env
    layers: dict[str, Any] = {}
    env_vals = _from_env(env)
    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    if path is None:
        path = env.get("ZKATTEST_CONFIG") or None
    if path is None:
        data_dir = over.get("data_dir") or env_vals.get("data_dir")
        guess = (Path(data_dir) if data_dir else default_data_dir()) / "zkattest.toml"
        path = guess if guess.is_file() else None
    if path is not None:
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path}: {e}") from None
        if isinstance(doc.get("service"), dict):
            doc = doc["service"]
        unknown = sorted(set(doc) - _FIELDS)
        if unknown:
            raise ConfigError(f"config file {path}: unknown keys {', '.join(unknown)}")
        layers.update(doc)
    layers.update(env_vals)
    layers.update(over)
    try:
        return msgspec.convert(layers, Config, strict=False)
    except msgspec.ValidationError as e:
        raise ConfigError(f"config: {e}") from None
