"""The verification service (Litestar): ``create_app()``, configuration, bootstrap."""

from __future__ import annotations

from .app import create_app
from .bootstrap import Resources, bootstrap, dev_issuer_path
from .config import Config, ConfigError, default_data_dir, load_config

__all__ = [
    "Config",
    "ConfigError",
    "Resources",
    "bootstrap",
    "create_app",
    "default_data_dir",
    "dev_issuer_path",
    "load_config",
]
