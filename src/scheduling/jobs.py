"""Batch-scoring jobs and run history in the metadata DB: add, list, show, pause, resume, run now.

A job's spec is validated (pydantic, then against the algorithm catalogue and its feature service)
before it is stored. Runs are read back as :class:`RunView`: rows done / total, rows written, rate,
status and the exact model version the run pinned.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from functools import partial
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from scheduling.executor import RunNotFound, check_population_filter, execute_run, resolve_model, start_run
from scheduling.specs import ExecutorName, JobSpec
from scheduling.store import JobRecord, RunChunk, RunResult
from warehouse.db import BatchRun, as_utc, open_metadata_db, utc_now
from warehouse.errors import Conflict, InvalidRequest, NotFound
from warehouse.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scheduling.executor import BatchReport
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)


class JobNotFound(NotFound):
    """No job of that name."""

    code = "job_not_found"


class JobExists(Conflict):
    """A job of that name exists already."""

    code = "job_exists"


class JobView(BaseModel):
    """A stored job: its spec and whether it is paused."""

    spec: JobSpec
    paused: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class RunView(BaseModel):
    """A batch run as the CLI and the API show it."""

    model_config = ConfigDict(protected_namespaces=())

    id: str
    algorithm: str
    job_name: str | None
    scheduled_for: dt.datetime | None
    model_name: str
    model_version: str
    status: str
    rows_total: int
    rows_done: int
    rows_written: int
    rows_per_s: float
    started_at: dt.datetime
    finished_at: dt.datetime | None
    output_uri: str
    error: str


class RunResultView(BaseModel):
    """One scored entity of a run."""

    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    entity_id: str
    score: float
    level: str
    warning: bool
    model_version: str
    credit_score: float | None


class ResultsPage(BaseModel):
    """A page of a run's scored rows, by entity id."""

    run_id: str
    total: int
    """Rows matching the query, over all pages."""
    offset: int
    limit: int
    results: list[RunResultView]


def add_job(settings: Settings, spec: JobSpec) -> JobView:
    """Store a new job after checking that its model resolves and its population filter fits the model."""
    from features.definitions import service_spec

    model = spec.version or spec.alias
    _ref, feature_service = resolve_model(settings, algorithm=spec.algorithm, alias_or_version=model)
    check_population_filter(spec.population_filter, service_spec(feature_service).feature_names)
    streams = spec.delivery is not None and spec.delivery.redis_stream is not None
    if streams and settings.alert_redis_url is None and settings.redis_url is None:
        raise InvalidRequest("the job delivers alerts to a Redis stream but alert_redis_url / redis_url is not set")
    with open_metadata_db(settings) as db, db.session() as session:
        if session.get(JobRecord, spec.name) is not None:
            raise JobExists(f"job {spec.name!r} exists already")
        record = JobRecord(name=spec.name, spec=spec.model_dump_json(), paused=False)
        session.add(record)
        session.flush()
        return _job_view(record)


def list_jobs(settings: Settings, *, algorithms: Collection[str] | None = None) -> list[JobView]:
    """Every job, by name; only those of ``algorithms`` when given (the algorithm is in the spec's JSON)."""
    with open_metadata_db(settings) as db, db.session() as session:
        jobs = [_job_view(record) for record in session.scalars(select(JobRecord).order_by(JobRecord.name))]
    return [job for job in jobs if algorithms is None or job.spec.algorithm in algorithms]


def get_job(settings: Settings, name: str) -> JobView:
    """The job called ``name``."""
    with open_metadata_db(settings) as db, db.session() as session:
        return _job_view(_job_record(session.get(JobRecord, name), name))


def set_paused(settings: Settings, name: str, *, paused: bool) -> JobView:
    """Pause a job (the scheduler leaves it alone) or make it active again."""
    with open_metadata_db(settings) as db, db.session() as session:
        record = _job_record(session.get(JobRecord, name), name)
        record.paused, record.updated_at = paused, utc_now()
        return _job_view(record)


class RunExecution(Protocol):
    """Executes a started run (:func:`scheduling.executor.execute_run`, or the Ray Data executor)."""

    def __call__(self, settings: Settings, run_id: str, *, on_progress: ProgressCallback) -> BatchReport: ...


def start_job_run(settings: Settings, name: str) -> str:
    """Record a run of a job outside its schedule (pinning the model version now); returns its id."""
    return start_run(settings, get_job(settings, name).spec.run_request(), job_name=name)


def run_execution(executor: ExecutorName, *, address: str | None = None) -> RunExecution:
    """What executes a started run on ``executor``: the local executor, or Ray Data at ``address``."""
    if executor == "local":
        return execute_run
    from scheduling.ray_executor import execute_run_on_ray

    return partial(execute_run_on_ray, address=address)


def job_execution(spec: JobSpec) -> RunExecution:
    """The executor a job's spec names, at its Ray address."""
    return run_execution(spec.executor, address=spec.ray_address)


def run_job_now(
    settings: Settings,
    name: str,
    *,
    on_progress: ProgressCallback = no_progress,
    execute: RunExecution | None = None,
) -> BatchReport:
    """Start and execute one run of a job outside its schedule (default: on the executor its spec names)."""
    execute = execute or job_execution(get_job(settings, name).spec)
    return execute(settings, start_job_run(settings, name), on_progress=on_progress)


def list_runs(
    settings: Settings, *, job_name: str | None = None, models: Collection[str] | None = None, limit: int = 50
) -> list[RunView]:
    """Runs, newest first, optionally of one job; only runs of ``models`` when given."""
    query = select(BatchRun).order_by(BatchRun.started_at.desc()).limit(limit)
    if job_name is not None:
        query = query.where(BatchRun.job_name == job_name)
    if models is not None:
        query = query.where(BatchRun.model_name.in_(sorted(models)))
    with open_metadata_db(settings) as db, db.session() as session:
        runs = list(session.scalars(query))
        written = _rows_written(session, [run.id for run in runs])
        return [_run_view(run, written.get(run.id, 0)) for run in runs]


def get_run(settings: Settings, run_id: str) -> RunView:
    """One run with its progress and rate."""
    with open_metadata_db(settings) as db, db.session() as session:
        run = session.get(BatchRun, run_id)
        if run is None:
            raise RunNotFound(f"no batch run {run_id!r}")
        return _run_view(run, _rows_written(session, [run_id]).get(run_id, 0))


def list_results(
    settings: Settings, run_id: str, *, offset: int = 0, limit: int = 100, warning: bool | None = None
) -> ResultsPage:
    """A page of run ``run_id``'s scored rows ordered by entity id, optionally only (non-)warnings."""
    where = [RunResult.run_id == run_id]
    if warning is not None:
        where.append(RunResult.warning.is_(warning))
    with open_metadata_db(settings) as db, db.session() as session:
        if session.get(BatchRun, run_id) is None:
            raise RunNotFound(f"no batch run {run_id!r}")
        total = session.scalar(select(func.count()).select_from(RunResult).where(*where))
        query = select(RunResult).where(*where).order_by(RunResult.entity_id).offset(offset).limit(limit)
        results = [RunResultView.model_validate(row) for row in session.scalars(query)]
    return ResultsPage(run_id=run_id, total=int(total or 0), offset=offset, limit=limit, results=results)


def _job_record(record: JobRecord | None, name: str) -> JobRecord:
    if record is None:
        raise JobNotFound(f"no job {name!r}")
    return record


def _job_view(record: JobRecord) -> JobView:
    return JobView(
        spec=JobSpec.model_validate_json(record.spec),
        paused=record.paused,
        created_at=as_utc(record.created_at),
        updated_at=as_utc(record.updated_at),
    )


def _rows_written(session: Session, run_ids: list[str]) -> dict[str, int]:
    query = select(RunChunk.run_id, func.sum(RunChunk.rows)).where(RunChunk.run_id.in_(run_ids))
    return {run_id: int(rows or 0) for run_id, rows in session.execute(query.group_by(RunChunk.run_id))}


def _run_view(run: BatchRun, rows_written: int) -> RunView:
    started = as_utc(run.started_at)
    finished = as_utc(run.finished_at) if run.finished_at is not None else None
    elapsed_s = ((finished or utc_now()) - started).total_seconds()
    return RunView(
        id=run.id,
        algorithm=run.algorithm,
        job_name=run.job_name,
        scheduled_for=as_utc(run.scheduled_for) if run.scheduled_for is not None else None,
        model_name=run.model_name,
        model_version=run.model_version,
        status=run.status,
        rows_total=run.rows_total,
        rows_done=run.rows_done,
        rows_written=rows_written,
        rows_per_s=run.rows_done / elapsed_s if elapsed_s > 0 else 0.0,
        started_at=started,
        finished_at=finished,
        output_uri=run.output_uri,
        error=run.error,
    )
