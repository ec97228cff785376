"""Importing the algorithms, experiments and registry modules loads no heavy library (house rule 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("lightgbm", "mlflow", "onnx", "onnxmltools", "onnxruntime", "sklearn", "pandera", "feast", "ray")


@pytest.mark.parametrize(
    "statement",
    [
        "import algorithms.catalogue, algorithms.fire_risk, algorithms.testing, algorithms.lightgbm_export",
        "import algorithms.catalogue; algorithms.catalogue.get_algorithm('fire_risk')",
        "import algorithms.credit_supervision, algorithms.risk_scoring, algorithms.reasons",
        "import experiments.training, experiments.model_logging",
        "import experiments.benchmark, experiments.plots, experiments.evaluation",
        "import registry.models",
    ],
)
def test_import_loads_no_heavy_library(statement: str) -> None:
    code = f"import sys; {statement}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"

    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert completed.stdout.strip() == "[]"
