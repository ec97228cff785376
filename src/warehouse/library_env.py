"""Environment defaults that the third-party libraries read at import.

MLflow and Ray take these switches only from the process environment. Entry points (the CLI, the
app factory, the test session) call :func:`apply_library_defaults` once; values already set by the
operator win.
"""

from __future__ import annotations

import os

LIBRARY_DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "FEAST_USAGE": "False",
    "GIT_PYTHON_REFRESH": "quiet",
}


def apply_library_defaults() -> None:
    """Set each library switch unless the operator already set it."""
    for name, value in LIBRARY_DEFAULTS.items():
        os.environ.setdefault(name, value)
