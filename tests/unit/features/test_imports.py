"""Importing the features package must not import Feast (it takes seconds)."""

from __future__ import annotations

import subprocess
import sys

MODULES = (
    "features.buildings",
    "features.datasets",
    "features.definitions",
    "features.definitions.repo",
    "features.offline",
    "features.online",
    "features.schemas",
    "features.store",
    "features.training",
)


def test_importing_every_module_leaves_feast_unloaded() -> None:
    code = (
        f"import sys; import {', '.join(MODULES)}; print([m for m in ('feast', 'ibis', 'duckdb') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "[]"
