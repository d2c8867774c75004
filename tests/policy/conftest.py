"""Shared fixtures for the policy tests: the default engine and input builders."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zkattest.policy import DEFAULT_POLICY_DIR, PolicyEngine, PolicyInput, Principal

SHOP = "https://shop.example"
API = "https://api.example/v1"


def principal(**kw: Any) -> Principal:
    fields: dict[str, Any] = {
        "client_id": "shop",
        "name": "Shop",
        "kind": "agent",
        "predicates": frozenset({"age_gte"}),
        "audiences": frozenset({SHOP, API}),
    }
    fields.update(kw)
    return Principal(**fields)


def request(**kw: Any) -> PolicyInput:
    """An age_gte request at stage "request" that the defaults allow; override fields."""
    fields: dict[str, Any] = {
        "principal": principal(),
        "action": "age_gte",
        "audience": SHOP,
        "stage": "request",
        "params": {"min_age": 18},
    }
    fields.update(kw)
    return PolicyInput(**fields)


def provision(**kw: Any) -> PolicyInput:
    return request(**{"stage": "provision", "mode": "proof", **kw})


def exchange(**kw: Any) -> PolicyInput:
    fields: dict[str, Any] = {
        "action": "delegate",
        "audience": API,
        "stage": "exchange",
        "subject": "holder-123",
        "depth": 1,
        "chain": ("shop",),
        "params": {},
    }
    fields.update(kw)
    return request(**fields)


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


@pytest.fixture
def policy_dir(tmp_path: Path) -> Callable[..., Path]:
    """A copy of the shipped defaults in tmp_path, plus extra files {name: text}."""

    def make(extra: dict[str, str] | None = None, *, defaults: bool = True) -> Path:
        d = tmp_path / "policies"
        d.mkdir()
        if defaults:
            for src in DEFAULT_POLICY_DIR.iterdir():
                if src.suffix in (".cedar", ".cedarschema"):
                    shutil.copyfile(src, d / src.name)
        for name, text in (extra or {}).items():
            (d / name).write_text(text, encoding="utf-8")
        return d

    return make
