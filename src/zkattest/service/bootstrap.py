"""First start and every start: the data directory, the trust-domain key, the
circuit keys (development setup when missing, with a progress bar on a terminal)
and the trusted issuers.  Synchronous, run before the server binds its port."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .. import errors
from ..credentials import Issuer, IssuerKey, KeyStore, read_public_key
from ..groth16 import VerifyingKey
from ..identity import EcKey, TrustDomainKey
from ..identity.trust import load_or_create_key
from ..oauth.clients import ClientRegistry
from ..policy import PolicyEngine, PolicyError
from .config import Config, ConfigError

__all__ = ["CIRCUIT", "Resources", "audit_key_path", "bootstrap", "dev_issuer_path"]

log = logging.getLogger("zkattest.service")
CIRCUIT = "age_gte"


@dataclass(frozen=True, slots=True)
class Resources:
    config: Config
    trust: TrustDomainKey
    keys: KeyStore
    vk: VerifyingKey
    circuit_id: str
    issuers: tuple[IssuerKey, ...]
    #: signs our OAuth access tokens (RFC 9068) and keys the DPoP nonces
    oauth: TrustDomainKey
    clients: ClientRegistry
    policy: PolicyEngine
    #: signs the audit trail's checkpoints (``zkattest audit key`` prints its public half)
    audit_key: EcKey


def audit_key_path(config: Config) -> Path:
    return config.data_path / "audit.key.pem"


def dev_issuer_path(config: Config) -> Path:
    return config.data_path / "dev-issuer.json"


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def _dev_issuer(config: Config) -> IssuerKey:
    path = dev_issuer_path(config)
    if not path.exists():
        issuer = Issuer.generate()
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        issuer.save(tmp, private=True)
        try:
            os.link(tmp, path)  # atomic create-if-absent: a concurrent first start keeps one
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        log.warning(
            "created a DEVELOPMENT credential issuer (%s) and trust it; "
            "set dev_issuer = false in production",
            path,
        )
    return Issuer.load(path).public_key


def bootstrap(config: Config, *, progress: bool | None = None) -> Resources:
    """Everything the service needs from disk, created on first start."""
    data = config.data_path
    try:
        _private_dir(data)
        trust = TrustDomainKey.load_or_create(data / "trust-domain.key.pem", config.trust_domain)
        oauth = TrustDomainKey.load_or_create(data / "oauth-signing.key.pem", config.trust_domain)
        audit_key = load_or_create_key(audit_key_path(config))
        keys = KeyStore(config.key_path)
        if not keys.has(CIRCUIT):
            log.info("no %s keys in %s: running the development setup", CIRCUIT, keys.path)
        vk = keys.dev_setup(CIRCUIT, progress=progress)
    except OSError as e:
        raise ConfigError(f"data directory {data}: {e.strerror or e}") from None
    issuers: list[IssuerKey] = []
    for name in config.trusted_issuers:
        try:
            issuers.append(read_public_key(name))
        except (OSError, errors.InvalidInput) as e:
            raise ConfigError(f"trusted_issuers: {name}: {e}") from None
    if config.dev_issuer:
        issuers.append(_dev_issuer(config))
    issuers_dir = data / "issuers"
    if issuers_dir.is_dir():
        for p in sorted(issuers_dir.glob("*.json")):
            try:
                issuers.append(read_public_key(p))
            except errors.InvalidInput as e:
                raise ConfigError(f"issuers/: {p.name}: {e}") from None
    if not issuers:
        log.warning("no trusted credential issuers: every presentation will be refused")
    try:
        policy = PolicyEngine.load(config.policy_path)
    except PolicyError as e:
        raise ConfigError(f"policy_dir: {e}") from None
    clients = ClientRegistry(config.clients_path)
    try:
        clients.load()
    except FileNotFoundError:
        pass  # no clients yet: `zkattest clients add` creates the file, we pick it up
    except (OSError, errors.InvalidInput) as e:
        raise ConfigError(f"clients_file: {e}") from None
    assert vk.circuit_id
    return Resources(
        config,
        trust,
        keys,
        vk,
        vk.circuit_id,
        tuple(dict.fromkeys(issuers)),
        oauth,
        clients,
        policy,
        audit_key,
    )
