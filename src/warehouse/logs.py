"""Logging configuration, applied once by an entry point (CLI or app factory), never at import."""

from __future__ import annotations

import logging

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log per request or per file at INFO; the warehouse keeps them at WARNING.
_QUIET = ("alembic", "feast", "mlflow", "httpx", "uvicorn.access", "urllib3", "ray")


def configure_logging(level: str) -> None:
    """Send the warehouse's logs to stderr at ``level`` (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(handler, "_warehouse", False) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._warehouse = True  # type: ignore[attr-defined]  # marker so a second call adds nothing
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in ("warehouse", "features", "algorithms", "experiments", "registry", "serving", "scheduling"):
        logging.getLogger(name).setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
