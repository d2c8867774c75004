"""``zkattest serve``: bootstrap, then uvicorn on the configured address."""

from __future__ import annotations

import logging
import sys

from .app import create_app
from .bootstrap import bootstrap
from .config import Config
from .logs import JsonFormatter

__all__ = ["configure_logging", "serve"]


def configure_logging(level: str, fmt: str = "text") -> None:
    """One stderr handler for everything (uvicorn's loggers included): ``fmt`` "json"
    (one object per line, :mod:`.logs`) or "text"."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True


def serve(config: Config) -> None:
    import uvicorn

    configure_logging(config.log_level, config.log_format)
    res = bootstrap(config, progress=None)
    app = create_app(resources=res)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=config.access_log,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
