"""Evaluation plots of a model version (ROC, calibration, feature importance) for the model page.

The training run logged them as MLflow artifacts (:mod:`experiments.training`); its evaluation
directory is fetched once per version into the runtime dir and served from there. A version without a training run
(imported, or registered from elsewhere) or without a plot has none to show.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from registry.models import resolve_version
from warehouse.errors import NotFound
from warehouse.tracking import mlflow_client

if TYPE_CHECKING:
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

PlotName = Literal["roc", "calibration", "feature_importance"]
PLOTS: tuple[PlotName, ...] = ("roc", "calibration", "feature_importance")
_FETCH_LOCK = threading.Lock()


class PlotNotFound(NotFound):
    """The version has no such evaluation plot (no training run, or the run logged none)."""

    code = "plot_not_found"


def evaluation_plot(settings: Settings, *, model_name: str, version: str, plot: PlotName) -> Path:
    """The PNG file of ``plot`` for the version, from its training run (fetched on first use)."""
    directory = settings.runtime_dir / "console-plots" / model_name / version
    if not directory.is_dir():
        with _FETCH_LOCK:  # MLflow's artifact download is not safe to run from several threads at once
            if not directory.is_dir():
                _fetch_evaluation(settings, model_name=model_name, version=version, directory=directory)
    path = directory / f"{plot}.png"
    if not path.is_file():
        raise PlotNotFound(f"the training run of {model_name} version {version} logged no {plot} plot")
    return path


def _fetch_evaluation(settings: Settings, *, model_name: str, version: str, directory: Path) -> None:
    """Download the run's evaluation artifacts into ``directory`` as a whole (a reader never sees a part)."""
    from experiments.training import EVALUATION_DIR

    ref = resolve_version(settings, model_name=model_name, alias_or_version=version)
    if ref.run_id is None:
        raise PlotNotFound(f"{model_name} version {version} has no training run, so no evaluation plots")
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".fetch-") as scratch:
        try:
            fetched = mlflow_client(settings).download_artifacts(ref.run_id, EVALUATION_DIR, scratch)
        except Exception as exc:  # MLflow raises several types for a missing artifact
            raise PlotNotFound(f"the training run of {model_name} version {version} logged no evaluation") from exc
        Path(fetched).rename(directory)
