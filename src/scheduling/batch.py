"""Batch scoring of a whole population with the local executor (chunked ONNX Runtime).

A run pins the exact model version its alias resolved to, is recorded in the metadata DB
(``batch_runs``: status, rows done / total, output), and writes one parquet part per chunk under
``results/<algorithm>/run_id=<id>/``. Each part is written to a temporary name and renamed, so a
crash never leaves a half-written part behind. Memory stays bounded by the chunk size.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pydantic import BaseModel

from warehouse.db import BatchRun, MetadataDB, utc_now
from warehouse.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)


class BatchReport(BaseModel):
    """What a finished batch run did."""

    run_id: str
    algorithm: str
    model_name: str
    model_version: str
    rows: int
    seconds: float
    rows_per_s: float
    output_dir: Path


def score_population(
    settings: Settings,
    algorithm_name: str,
    *,
    alias: str = "champion",
    on_progress: ProgressCallback = no_progress,
) -> BatchReport:
    """Score every entity of an algorithm's population with the model ``alias`` points at."""
    from algorithms.catalogue import get_algorithm
    from features.offline import iter_population_features
    from registry.models import fetch_model, resolve_version
    from serving.runtime import OnnxModel

    algorithm = get_algorithm(algorithm_name)
    ref = resolve_version(settings, model_name=algorithm.name, alias_or_version=alias)
    model = OnnxModel(fetch_model(settings, ref))
    model.load()
    recorder = RunRecorder(settings, algorithm=algorithm.name, model=model)
    started = time.perf_counter()
    try:
        chunks = iter_population_features(
            settings, feature_service=model.metadata.feature_service, chunk_rows=settings.batch_chunk_rows
        )
        for part, chunk in enumerate(chunks):
            _write_part(recorder.output_dir / f"part-{part:05d}.parquet", _score_chunk(model, chunk, recorder.run_id))
            recorder.advance(len(chunk))
            on_progress(len(chunk))
    except BaseException as exc:
        recorder.finish(status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    recorder.finish(status="succeeded")
    seconds = time.perf_counter() - started
    return BatchReport(
        run_id=recorder.run_id,
        algorithm=algorithm.name,
        model_name=model.metadata.model_name,
        model_version=model.version,
        rows=recorder.rows_done,
        seconds=seconds,
        rows_per_s=recorder.rows_done / seconds if seconds > 0 else 0.0,
        output_dir=recorder.output_dir,
    )


def _score_chunk(model: OnnxModel, chunk: pd.DataFrame, run_id: str) -> pd.DataFrame:
    scores = model.score(chunk)
    entity = model.metadata.entity
    return pd.DataFrame(
        {
            entity: chunk[entity].astype(str).to_numpy(),
            "score": scores.probabilities,
            "level": scores.grades.levels,
            "warning": scores.grades.warnings,
            "model_name": model.metadata.model_name,
            "model_version": model.version,
            "run_id": run_id,
            "scored_at": pd.Timestamp(utc_now()),
        }
    )


def _write_part(path: Path, frame: pd.DataFrame) -> None:
    partial = path.with_suffix(".parquet.partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)


class RunRecorder:
    """Keeps a run's ``batch_runs`` row current: started, rows done, finished or failed."""

    def __init__(self, settings: Settings, *, algorithm: str, model: OnnxModel) -> None:
        self.run_id = uuid.uuid4().hex
        self.rows_done = 0
        self.output_dir = settings.results_dir / algorithm / f"run_id={self.run_id}"
        self.output_dir.mkdir(parents=True)
        self._db = MetadataDB.from_settings(settings)
        self._db.upgrade_schema()
        with self._db.session() as session:
            session.add(
                BatchRun(
                    id=self.run_id,
                    algorithm=algorithm,
                    model_name=model.metadata.model_name,
                    model_version=model.version,
                    status="running",
                    rows_total=0,
                    rows_done=0,
                    output_uri=self.output_dir.as_uri(),
                    error="",
                )
            )

    def advance(self, rows: int) -> None:
        """Record ``rows`` more rows committed to the output."""
        self.rows_done += rows
        with self._db.session() as session:
            run = session.get(BatchRun, self.run_id)
            if run is not None:
                run.rows_done = self.rows_done

    def finish(self, *, status: str, error: str = "") -> None:
        """Close the run with its final status and release the connection pool."""
        with self._db.session() as session:
            run = session.get(BatchRun, self.run_id)
            if run is not None:
                run.status, run.error = status, error
                run.rows_done = run.rows_total = self.rows_done
                run.finished_at = dt.datetime.now(dt.UTC)
        self._db.dispose()
