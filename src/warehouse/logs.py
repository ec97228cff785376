"""Logging configuration, applied once by an entry point (CLI or app factory), never at import."""

from __future__ import annotations

import logging
import warnings

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log per request or per file at INFO; the warehouse keeps them at WARNING.
_QUIET = ("alembic", "feast", "mlflow", "httpx", "uvicorn.access", "urllib3", "ray")


def configure_logging(level: str, handler: logging.Handler | None = None) -> None:
    """Send the warehouse's logs to ``handler`` (default: stderr) at ``level`` (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(existing, "_warehouse", False) for existing in root.handlers):
        if handler is None:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter(_FORMAT))
        handler._warehouse = True  # type: ignore[attr-defined]  # marker so a second call adds nothing
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in ("warehouse", "features", "algorithms", "experiments", "registry", "serving", "scheduling"):
        logging.getLogger(name).setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # ibis calls a DuckDB method that DuckDB 2 deprecates; nothing a warehouse operator can act on.
    warnings.filterwarnings("ignore", message=r"fetch_arrow_table\(\) is deprecated", category=DeprecationWarning)
