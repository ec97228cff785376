"""The local batch executor: resumable, idempotent chunked scoring with ONNX Runtime.

A run is created by :func:`start_run`, which pins the exact model version the alias resolves to
and a :class:`~scheduling.specs.RunPlan` (as-of instant, chunk size, filter, thresholds, output).
:func:`execute_run` then walks the population in a deterministic order (entities sorted by key, cut
into chunks of ``chunk_rows``); for each chunk it writes ``part-<index>.parquet`` atomically, and
only then commits the chunk's row in ``batch_run_chunks`` (with the run's progress, the chunk's
scored rows in ``batch_run_results``, its alerts and their delivery outbox rows, in one
transaction). Chunks are scored on the calling thread while a writer thread writes and commits
the previous ones in order (:class:`~scheduling.prefetch.OrderedWriter`), and the features are
read ahead in another (:func:`~scheduling.prefetch.prefetched`). Executing a run again skips
every committed chunk, so a run killed at any point and executed again ends with exactly one row
per entity; a finished run is left as is.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduling.prefetch import OrderedWriter, prefetched
from scheduling.store import RunChunk, RunResult
from warehouse.audit import append_entry
from warehouse.db import BatchRun, MetadataDB, open_metadata_db, utc_now
from warehouse.errors import InvalidRequest, NotFound
from warehouse.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    import datetime as dt

    from registry.models import ModelVersionRef
    from scheduling.alerts import AlertReasons
    from scheduling.specs import FeatureSource, RunPlan, RunRequest
    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 3
"""Tries to commit one chunk when a concurrent writer (another resumer, an alert) conflicts."""
WRITE_BEHIND = 2
"""Scored chunks that may wait for the writer thread (memory: this many chunks' scored rows)."""


class RunNotFound(NotFound):
    """No batch run with that id."""

    code = "run_not_found"


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


@dataclass(frozen=True)
class PendingChunk:
    """A chunk of the population not yet committed: its index, entities covered, rows to score (filtered)."""

    index: int
    entities: int
    rows: pd.DataFrame


ChunkScorer = Callable[[Iterable[PendingChunk]], Iterator[tuple[PendingChunk, np.ndarray]]]
"""Positive-class probabilities of each pending chunk's rows, chunk by chunk, in any order."""
ScoredChunks = tuple[int, Iterator[tuple[PendingChunk, np.ndarray]]]
"""The population's entity count, and each pending chunk with its probabilities."""


@runtime_checkable
class ReadingScorer(Protocol):
    """A scorer that can also read the pending chunks itself (the Ray executor reads them in Ray tasks)."""

    def __call__(self, chunks: Iterable[PendingChunk]) -> Iterator[tuple[PendingChunk, np.ndarray]]:
        """Score chunks read by the executor (for a feature source :meth:`read_and_score` declines)."""
        ...

    def read_and_score(self, settings: Settings, plan: RunPlan, committed: Collection[int]) -> ScoredChunks | None:
        """Read and score every chunk not in ``committed`` (the same chunks, in index order); None
        leaves the reading to the executor."""
        ...


ScorerFactory = Callable[["OnnxModel"], ChunkScorer | ReadingScorer]
"""Builds a run's scorer from its pinned, loaded model (in-process by default; Ray Data in ``ray_executor``)."""


def local_scorer(model: OnnxModel) -> ChunkScorer:
    """Score each chunk in this process with the model's ONNX Runtime session."""

    def score(chunks: Iterable[PendingChunk]) -> Iterator[tuple[PendingChunk, np.ndarray]]:
        for chunk in chunks:
            yield chunk, model.predict_proba(chunk.rows) if len(chunk.rows) else np.empty(0, dtype=np.float64)

    return score


@dataclass
class _Execution:
    """One execution of a run: its plan, the pinned model, where parts go, what it has done."""

    db: MetadataDB
    run: BatchRun
    plan: RunPlan
    model: OnnxModel
    output_dir: Path
    on_progress: ProgressCallback
    scorer: ChunkScorer | ReadingScorer
    rows_written: int = 0


def start_run(
    settings: Settings, request: RunRequest, *, job_name: str | None = None, scheduled_for: dt.datetime | None = None
) -> str:
    """Record a new run that pins the model version ``request.model`` resolves to now; returns its id."""
    from features.datasets import load_manifest
    from features.definitions import service_spec
    from scheduling.specs import RunPlan

    ref, feature_service = resolve_model(settings, algorithm=request.algorithm, alias_or_version=request.model)
    service = service_spec(feature_service)
    check_population_filter(request.population_filter, service.feature_names)
    run_id = uuid.uuid4().hex
    plan = RunPlan(
        feature_service=service.name,
        entity_key=service.entity_key,
        as_of=load_manifest(settings, service.population.name).last_snapshot,
        chunk_rows=settings.batch_chunk_rows,
        population_filter=request.population_filter,
        thresholds=request.thresholds,
        delivery=request.delivery,
        output=request.output or f"{request.algorithm}/run_id={run_id}",
        features=request.features,
    )
    record = BatchRun(
        id=run_id,
        algorithm=request.algorithm,
        model_name=ref.model_name,
        model_version=ref.version,
        status="pending",
        rows_total=0,
        rows_done=0,
        output_uri=resolve_output(settings, plan.output).as_uri(),
        error="",
        job_name=job_name,
        scheduled_for=scheduled_for,
        plan=plan.model_dump_json(),
    )
    with open_metadata_db(settings) as db, db.session() as session:
        session.add(record)
    logger.info("run %s: %s v%s pinned", run_id, ref.model_name, ref.version)
    return run_id


def execute_run(
    settings: Settings,
    run_id: str,
    *,
    on_progress: ProgressCallback = no_progress,
    scorer_factory: ScorerFactory = local_scorer,
    executor: str = "local",
) -> BatchReport:
    """Score every chunk of run ``run_id`` not yet committed; a finished run is returned unchanged.

    ``executor`` names who scores (``local``, ``ray``) in the run's audit entries.
    """
    from scheduling.specs import RunPlan

    with open_metadata_db(settings) as db:
        run = _get_run(db, run_id)
        plan = RunPlan.model_validate_json(run.plan)
        output_dir = resolve_output(settings, plan.output)
        if run.status == "succeeded":
            return _report(run, output_dir, rows=_rows_written(db, run_id), seconds=0.0)
        model = _load_pinned_model(settings, run)
        _check_thresholds(plan, model)
        output_dir.mkdir(parents=True, exist_ok=True)
        execution = _Execution(db, run, plan, model, output_dir, on_progress, scorer_factory(model))
        started = time.perf_counter()
        _set_status(db, run_id, status="running", executor=executor)
        try:
            _score_pending_chunks(settings, execution)
        except BaseException as exc:
            _set_status(db, run_id, status="failed", executor=executor, error=f"{type(exc).__name__}: {exc}")
            raise
        _set_status(db, run_id, status="succeeded", executor=executor)
        seconds = time.perf_counter() - started
        report = _report(run, output_dir, rows=_rows_written(db, run_id), seconds=seconds)
        rate = execution.rows_written / seconds if seconds > 0 else 0.0
        return report.model_copy(update={"rows_per_s": rate})


def resolve_model(settings: Settings, *, algorithm: str, alias_or_version: str) -> tuple[ModelVersionRef, str]:
    """The version of the algorithm's registered model that ``alias_or_version`` names, and its feature service."""
    from registry.models import fetch_model, resolve_version

    ref = resolve_version(settings, model_name=algorithm, alias_or_version=alias_or_version)
    return ref, fetch_model(settings, ref).metadata.feature_service


def check_population_filter(population_filter: dict[str, list[float]], feature_names: list[str]) -> None:
    """Refuse a filter on a feature the algorithm's feature service does not have, or with no values."""
    unknown = sorted(set(population_filter) - set(feature_names))
    if unknown:
        raise InvalidRequest(f"population filter names unknown feature(s) {unknown}; e.g. {feature_names[:5]}")
    empty = sorted(name for name, values in population_filter.items() if not values)
    if empty:
        raise InvalidRequest(f"population filter lists no values for {empty}")


def resolve_output(settings: Settings, output: str) -> Path:
    """An output directory: absolute as given, relative inside the results dir."""
    path = Path(output)
    return path if path.is_absolute() else settings.results_dir / path


def _get_run(db: MetadataDB, run_id: str) -> BatchRun:
    with db.session() as session:
        run = session.get(BatchRun, run_id)
    if run is None:
        raise RunNotFound(f"no batch run {run_id!r}")
    if not run.plan:
        raise InvalidRequest(f"run {run_id} predates resumable runs and cannot be executed again")
    return run


def _load_pinned_model(settings: Settings, run: BatchRun) -> OnnxModel:
    from registry.models import fetch_model, resolve_version
    from serving.runtime import OnnxModel

    ref = resolve_version(settings, model_name=run.model_name, alias_or_version=run.model_version)
    model = OnnxModel(fetch_model(settings, ref))
    model.load()
    return model


def _check_thresholds(plan: RunPlan, model: OnnxModel) -> None:
    levels = model.metadata.grading.levels
    if plan.thresholds is not None and plan.thresholds.min_level not in (None, *levels):
        raise InvalidRequest(f"min_level {plan.thresholds.min_level!r} is not a level of the model: {list(levels)}")


def _committed_entities(db: MetadataDB, run_id: str) -> dict[int, int]:
    with db.session() as session:
        rows = session.execute(select(RunChunk.chunk_index, RunChunk.entities).where(RunChunk.run_id == run_id))
        return {index: entities for index, entities in rows}


def _score_pending_chunks(settings: Settings, execution: _Execution) -> None:
    committed = _committed_entities(execution.db, execution.run.id)
    scorer = execution.scorer
    read = scorer.read_and_score(settings, execution.plan, committed) if isinstance(scorer, ReadingScorer) else None
    total, scored = read if read is not None else _read_and_score(settings, execution, committed)
    _set_total(execution.db, execution.run.id, total)
    execution.on_progress(sum(committed.values()), total)
    # Chunks are written and committed in a thread of their own, in the order they are scored.
    write = OrderedWriter[_ScoredChunk](lambda scored: _write_scored(execution, scored), depth=WRITE_BEHIND)
    with write as writer:
        for chunk, probabilities in scored:
            writer.submit(_scored_chunk(execution, chunk, probabilities))


def _read_and_score(settings: Settings, execution: _Execution, committed: Collection[int]) -> ScoredChunks:
    """The pending chunks read here (ahead, in a thread of their own), scored by the run's scorer."""
    totals: list[int] = []
    plan = execution.plan
    chunks = feature_chunks(
        settings,
        plan.features,
        feature_service=plan.feature_service,
        as_of=plan.as_of,
        chunk_rows=plan.chunk_rows,
        on_progress=lambda _advance, total=None: totals.extend([] if total is None else [total]),
    )
    pending = prefetched(
        PendingChunk(index, len(chunk), apply_filter(chunk, plan.population_filter))
        for index, chunk in enumerate(chunks)
        if index not in committed
    )
    return totals[0], execution.scorer(pending)


def feature_chunks(
    settings: Settings,
    source: FeatureSource,
    *,
    feature_service: str,
    as_of: dt.datetime,
    chunk_rows: int,
    on_progress: ProgressCallback,
) -> Iterator[pd.DataFrame]:
    """The population's feature chunks from ``source`` (identical chunks and values from either)."""
    if source == "latest":
        from features.latest import iter_latest_features

        return iter_latest_features(
            settings, feature_service=feature_service, as_of=as_of, chunk_rows=chunk_rows, on_progress=on_progress
        )
    from features.offline import iter_population_features

    return iter_population_features(
        settings, feature_service=feature_service, as_of=as_of, chunk_rows=chunk_rows, on_progress=on_progress
    )


@dataclass(frozen=True)
class _ScoredChunk:
    """A scored chunk ready to be written: its index, entities covered, scored rows, alert reasons."""

    index: int
    entities: int
    scored: pd.DataFrame
    reasons: AlertReasons


def _scored_chunk(execution: _Execution, pending: PendingChunk, probabilities: np.ndarray) -> _ScoredChunk:
    scored = _score_chunk(execution.model, pending.rows, execution.run.id, probabilities)
    reasons = _alert_reasons(execution, pending.rows, scored)
    return _ScoredChunk(pending.index, pending.entities, scored, reasons)


def _write_scored(execution: _Execution, chunk: _ScoredChunk) -> None:
    """Write the chunk's part, then commit it (retrying a conflict), then report its progress."""
    index, scored = chunk.index, chunk.scored
    _write_part(execution.output_dir / f"part-{index:05d}.parquet", scored)
    for _attempt in range(COMMIT_ATTEMPTS):
        try:
            _commit_chunk(execution, index, entities=chunk.entities, scored=scored, reasons=chunk.reasons)
            execution.rows_written += len(scored)
            break
        except IntegrityError:
            if index in _committed_entities(execution.db, execution.run.id):
                logger.info("run %s chunk %d was committed by another executor", execution.run.id, index)
                break
    else:
        raise InvalidRequest(f"run {execution.run.id} chunk {index} kept conflicting; execute the run again")
    execution.on_progress(chunk.entities)


def _alert_reasons(execution: _Execution, selected: pd.DataFrame, scored: pd.DataFrame) -> AlertReasons:
    """Reasons of the rows that will alert, computed before the chunk's transaction opens."""
    from scheduling.alerts import explain_crossings

    thresholds = execution.plan.thresholds
    if execution.run.job_name is None or thresholds is None or scored.empty:
        return {}
    return explain_crossings(execution.model, selected, scored, thresholds)


def _commit_chunk(
    execution: _Execution, index: int, *, entities: int, scored: pd.DataFrame, reasons: AlertReasons
) -> None:
    from scheduling.alerts import record_alerts
    from scheduling.delivery import enqueue_deliveries

    run_id = execution.run.id
    with execution.db.session() as session:
        session.add(RunChunk(run_id=run_id, chunk_index=index, entities=entities, rows=len(scored)))
        session.flush()
        if not scored.empty:
            insert_results(session, _result_rows(scored, execution.model.metadata.entity))
        done = session.scalar(select(func.sum(RunChunk.entities)).where(RunChunk.run_id == run_id))
        run = session.get(BatchRun, run_id)
        if run is not None:
            run.rows_done = int(done or 0)
        if execution.run.job_name is not None and execution.plan.thresholds is not None:
            alerts = record_alerts(session, execution.run, execution.plan.thresholds, execution.model, scored, reasons)
            if execution.plan.delivery is not None:
                enqueue_deliveries(session, execution.plan.delivery, alerts, run_id=run_id)


RESULT_COLUMNS = ("run_id", "entity_id", "score", "level", "warning", "model_version", "credit_score")
"""The ``batch_run_results`` columns a scored row fills, in the order of :func:`_result_rows`' tuples."""


def insert_results(session: Session, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert ``batch_run_results`` rows (tuples in :data:`RESULT_COLUMNS` order) in the session's transaction.

    The driver's own bulk path, with no per-row work in SQLAlchemy: ``COPY ... FROM STDIN`` on
    PostgreSQL (psycopg), ``executemany`` of one prepared ``INSERT`` on SQLite, a Core insert on
    any other database. The rows share the transaction of the chunk's commit marker, so a chunk's
    results are committed with it or not at all.
    """
    if not rows:
        return
    connection = session.connection()
    table = cast(Table, RunResult.__table__)
    names = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in RESULT_COLUMNS)
    driver = connection.dialect.driver
    if connection.dialect.name == "postgresql" and driver == "psycopg":
        _copy_rows(connection.connection.driver_connection, f"COPY {table.name} ({names}) FROM STDIN", rows)
    elif connection.dialect.name == "sqlite":
        marks = ", ".join("?" * len(RESULT_COLUMNS))
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(rows))
    else:
        session.execute(insert(table), [dict(zip(RESULT_COLUMNS, row, strict=True)) for row in rows])


def _copy_rows(raw: object, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
    """COPY ``rows`` in on a psycopg connection; a constraint violation raises SQLAlchemy's ``IntegrityError``."""
    import psycopg

    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.IntegrityError as error:
        raise IntegrityError(statement, None, error) from error


def _result_rows(scored: pd.DataFrame, entity: str) -> list[tuple[object, ...]]:
    """The ``batch_run_results`` rows of a scored chunk, as tuples in :data:`RESULT_COLUMNS` order."""
    credit: list[float | None] = (
        [None if value != value else float(value) for value in scored["credit_score"].tolist()]
        if "credit_score" in scored.columns
        else [None] * len(scored)
    )
    return list(
        zip(
            scored["run_id"].tolist(),
            scored[entity].astype(str).tolist(),
            scored["score"].astype(float).tolist(),
            scored["level"].astype(str).tolist(),
            scored["warning"].astype(bool).tolist(),
            scored["model_version"].tolist(),
            credit,
            strict=True,
        )
    )


def apply_filter(chunk: pd.DataFrame, population_filter: dict[str, list[float]]) -> pd.DataFrame:
    """The rows of ``chunk`` inside the run's population filter (all of them without one)."""
    if not population_filter:
        return chunk
    keep = pd.Series(True, index=chunk.index)
    for feature, values in population_filter.items():
        keep &= chunk[feature].isin(values)
    return chunk[keep]


def _score_chunk(model: OnnxModel, chunk: pd.DataFrame, run_id: str, probabilities: np.ndarray) -> pd.DataFrame:
    """Score, level and warning of each row; with the credit score, grade and inspection frequency where
    the model's grading has a points scale or inspection frequencies (credit supervision)."""
    entity = model.metadata.entity
    grading = model.metadata.grading
    grades = grading.grade(probabilities)
    levels = pd.Series(grades.levels, dtype="object")
    frame = pd.DataFrame(
        {
            entity: chunk[entity].astype(str).to_numpy(),
            "score": probabilities,
            "level": levels,
            "warning": grades.warnings,
        }
    )
    if grading.score_scale is not None:
        frame["credit_score"] = np.round(grading.score_scale.points(probabilities), 1)
    if grading.inspection_frequency:
        frame["grade"] = levels
        frame["inspection_frequency"] = levels.map(grading.inspection_frequency).astype("object")
    return frame.assign(
        model_name=model.metadata.model_name,
        model_version=model.version,
        run_id=run_id,
        scored_at=pd.Timestamp(utc_now()),
    )


def _write_part(path: Path, frame: pd.DataFrame) -> None:
    # The leading dot hides an unfinished part from parquet readers of the directory.
    partial = path.with_name(f".{path.name}.partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)


def _set_total(db: MetadataDB, run_id: str, total: int) -> None:
    with db.session() as session:
        run = session.get(BatchRun, run_id)
        if run is not None:
            run.rows_total = total


def _set_status(db: MetadataDB, run_id: str, *, status: str, executor: str, error: str = "") -> None:
    from scheduling.specs import RunPlan

    with db.session() as session:
        run = session.get(BatchRun, run_id)
        if run is None:
            return
        run.status, run.error = status, error
        run.finished_at = None if status == "running" else utc_now()
        # Every batch run start and end is part of the tamper-evident record, in the same transaction.
        append_entry(
            session,
            actor=f"job:{run.job_name}" if run.job_name else "batch",
            action=f"batch.run_{status}",
            subject=f"batch_run/{run_id}",
            detail={
                "model": run.model_name,
                "version": run.model_version,
                "rows_done": run.rows_done,
                "executor": executor,
                "features": RunPlan.model_validate_json(run.plan).features,
                "error": error,
            },
        )


def _rows_written(db: MetadataDB, run_id: str) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.sum(RunChunk.rows)).where(RunChunk.run_id == run_id)) or 0)


def _report(run: BatchRun, output_dir: Path, *, rows: int, seconds: float) -> BatchReport:
    return BatchReport(
        run_id=run.id,
        algorithm=run.algorithm,
        model_name=run.model_name,
        model_version=run.model_version,
        rows=rows,
        seconds=seconds,
        rows_per_s=rows / seconds if seconds > 0 else 0.0,
        output_dir=output_dir,
    )
