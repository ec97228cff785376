"""Ad-hoc batch scoring of a whole population with the local executor.

:func:`score_population` starts a run pinned to the model version ``alias`` resolves to now and
executes it (see :mod:`scheduling.executor`: chunked ONNX Runtime, one parquet part per chunk under
``results/<algorithm>/run_id=<id>/``, each chunk committed once). :func:`resume_run` finishes a run
that was interrupted, with the version it pinned (and its feature source). Either runs on the local
executor or on Ray Data (``executor="ray"``). Memory stays bounded by the chunk size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduling.executor import BatchReport, start_run
from scheduling.jobs import run_execution
from scheduling.specs import RunRequest
from warehouse.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from scheduling.specs import ExecutorName, FeatureSource
    from warehouse.settings import Settings

__all__ = ["BatchReport", "resume_run", "score_population"]


def score_population(
    settings: Settings,
    algorithm_name: str,
    *,
    alias: str = "champion",
    features: FeatureSource = "latest",
    executor: ExecutorName = "local",
    address: str | None = None,
    on_progress: ProgressCallback = no_progress,
) -> BatchReport:
    """Score every entity of an algorithm's population with the model ``alias`` points at."""
    run_id = start_run(settings, RunRequest(algorithm=algorithm_name, model=alias, features=features))
    return run_execution(executor, address=address)(settings, run_id, on_progress=on_progress)


def resume_run(
    settings: Settings,
    run_id: str,
    *,
    executor: ExecutorName = "local",
    address: str | None = None,
    on_progress: ProgressCallback = no_progress,
) -> BatchReport:
    """Finish run ``run_id`` (skipping its committed chunks); a finished run is returned unchanged."""
    return run_execution(executor, address=address)(settings, run_id, on_progress=on_progress)
