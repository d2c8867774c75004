"""Credential fixtures: age_gte development keys in a temporary key store (one
setup per session), a fixed issuer and a verifier whose clock is pinned."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkattest.credentials import Holder, Issuer, KeyStore, Request, Verifier

ISSUER_SEED = bytes(range(1, 33))
TODAY = 20260301


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keystore")
    KeyStore(d).dev_setup("age_gte")
    return d


@pytest.fixture(scope="session")
def keys(key_dir: Path) -> KeyStore:
    return KeyStore(key_dir)


@pytest.fixture(autouse=True)
def _key_dir_env(key_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # nothing in these tests may touch the user's real key store
    monkeypatch.setenv("ZKATTEST_KEY_DIR", str(key_dir))
    yield


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    return Issuer(ISSUER_SEED)


@pytest.fixture(scope="session")
def holder() -> Holder:
    return Holder(0xC0FFEE_1234_5678_9ABC)


def pinned(day: int) -> dt.date:
    return dt.date(day // 10000, day // 100 % 100, day % 100)


@pytest.fixture
def verifier(issuer: Issuer, keys: KeyStore) -> Verifier:
    return Verifier([issuer.public_key], keys=keys, clock=lambda: pinned(TODAY))


def request(**kw: object) -> Request:
    args: dict[str, object] = {"nonce": "nonce-1", "rp_scope": "shop.example", "today": TODAY}
    args.update(kw)
    min_age = args.pop("min_age", 18)
    return Request.age_gte(min_age, **args)  # type: ignore[arg-type]
