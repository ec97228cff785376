"""Jobs whose spec names the Ray executor: run by the scheduler, by ``jobs run`` and by ``batch score|resume``."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from scheduling.executor import execute_run, start_run
from scheduling.jobs import add_job, get_run, list_runs
from scheduling.scheduler import Scheduler
from scheduling.specs import JobSpec, RunRequest
from tests.conftest import PREPARED_BUILDINGS
from warehouse.audit import AuditRecord
from warehouse.cli import app
from warehouse.db import open_metadata_db
from warehouse.settings import Settings

pytestmark = pytest.mark.integration


class Interrupt(Exception):
    """Stops the local executor after its first committed chunk."""


def _executors(settings: Settings, run_id: str) -> list[str]:
    """The executor named by each audited status change of the run, in order."""
    with open_metadata_db(settings) as db, db.session() as session:
        query = select(AuditRecord).where(AuditRecord.subject == f"batch_run/{run_id}").order_by(AuditRecord.seq)
        return [json.loads(record.detail)["executor"] for record in session.scalars(query)]


def _invoke(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_scheduler_and_jobs_run_use_the_executor_the_job_names(settings: Settings, ray_session: None) -> None:
    job = add_job(settings, JobSpec(name="ray-job", algorithm="fire_risk", cron="* * * * *", executor="ray"))
    ran = Scheduler(settings, scheduler_id="ray-test").tick(job.created_at + dt.timedelta(minutes=1, seconds=1))
    assert len(ran) == 1
    view = get_run(settings, ran[0])
    assert (view.status, view.rows_written) == ("succeeded", PREPARED_BUILDINGS)
    assert _executors(settings, ran[0]) == ["ray", "ray"]

    _invoke(settings, "jobs", "run", "ray-job")
    _invoke(settings, "jobs", "run", "ray-job", "--executor", "local")
    newest_first = [run.id for run in list_runs(settings, job_name="ray-job")]
    assert [_executors(settings, run_id)[0] for run_id in newest_first] == ["local", "ray", "ray"]


def test_batch_score_and_resume_on_ray(settings: Settings, ray_session: None) -> None:
    output = _invoke(settings, "batch", "score", "fire_risk", "--executor", "ray")
    assert f"scored {PREPARED_BUILDINGS} rows" in output

    small_chunks = settings.model_copy(update={"batch_chunk_rows": 100})
    run_id = start_run(small_chunks, RunRequest(algorithm="fire_risk"))

    def stop_after_one(advance: int, total: int | None = None) -> None:
        if total is None and advance:
            raise Interrupt

    with pytest.raises(Interrupt):
        execute_run(settings, run_id, on_progress=stop_after_one)
    assert get_run(settings, run_id).rows_done == 100
    _invoke(settings, "batch", "resume", run_id, "--executor", "ray")
    view = get_run(settings, run_id)
    assert (view.status, view.rows_done, view.rows_written) == ("succeeded", PREPARED_BUILDINGS, PREPARED_BUILDINGS)
    assert _executors(settings, run_id) == ["local", "local", "ray", "ray"]
    parts = pd.read_parquet(settings.results_dir / "fire_risk" / f"run_id={run_id}")
    assert len(parts) == PREPARED_BUILDINGS and parts["building_id"].is_unique
