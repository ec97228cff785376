"""HTTP routes of the scheduling package: jobs, runs and alerts under ``/v1``.

Only HTTP here; the logic lives in :mod:`scheduling.jobs` and :mod:`scheduling.alerts`. Domain
errors leave through the app's one error handler. No authentication yet: role checks (admin for
jobs, reviewer for alerts) arrive with the RBAC increment.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from scheduling.alerts import Alert, AlertAction, act_on_alert, list_alerts
from scheduling.jobs import (
    JobView,
    ResultsPage,
    RunView,
    add_job,
    get_job,
    get_run,
    list_jobs,
    list_results,
    list_runs,
    set_paused,
)
from scheduling.scheduler import BackfillReport, backfill_job
from scheduling.specs import JobSpec
from warehouse.settings import Settings

router = APIRouter(tags=["scheduling"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


class BackfillRequest(BaseModel):
    """The range of fire times to backfill (naive instants are UTC)."""

    model_config = ConfigDict(extra="forbid")

    start: dt.datetime
    end: dt.datetime


class AlertActionRequest(BaseModel):
    """Who acts on an alert and, for dismissal, why."""

    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=200)
    reason: str = ""


@router.get("/v1/jobs")
def jobs_index(settings: SettingsDep) -> list[JobView]:
    """Every job."""
    return list_jobs(settings)


@router.post("/v1/jobs", status_code=201)
def jobs_create(settings: SettingsDep, spec: JobSpec) -> JobView:
    """Add a job (409 ``job_exists`` if the name is taken)."""
    return add_job(settings, spec)


@router.get("/v1/jobs/{name}")
def jobs_show(settings: SettingsDep, name: str) -> JobView:
    """One job."""
    return get_job(settings, name)


@router.post("/v1/jobs/{name}/backfill")
def jobs_backfill(settings: SettingsDep, name: str, body: BackfillRequest) -> BackfillReport:
    """Run the job's fire times in [start, end] that never ran; each fire time runs once, ever."""
    return backfill_job(settings, name, start=body.start, end=body.end)


# Declared after /backfill: this path would match it too.
@router.post("/v1/jobs/{name}/{state}")
def jobs_set_state(settings: SettingsDep, name: str, state: Literal["pause", "resume"]) -> JobView:
    """Pause a job, or make it active again."""
    return set_paused(settings, name, paused=state == "pause")


@router.get("/v1/runs")
def runs_index(
    settings: SettingsDep,
    job: Annotated[str | None, Query(description="Only this job's runs.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunView]:
    """Recent runs, newest first."""
    return list_runs(settings, job_name=job, limit=limit)


@router.get("/v1/runs/{run_id}")
def runs_show(settings: SettingsDep, run_id: str) -> RunView:
    """One run: status, rows done / total, rows written, rate, pinned model version."""
    return get_run(settings, run_id)


@router.get("/v1/runs/{run_id}/results")
def runs_results(
    settings: SettingsDep,
    run_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    warning: Annotated[bool | None, Query(description="Only rows with (true) or without (false) a warning.")] = None,
) -> ResultsPage:
    """A page of the run's scored rows (entity, score, level, warning, model version), by entity id."""
    return list_results(settings, run_id, offset=offset, limit=limit, warning=warning)


@router.get("/v1/alerts")
def alerts_index(
    settings: SettingsDep,
    job: Annotated[str | None, Query(description="Only this job's alerts.")] = None,
    status: Annotated[Literal["open", "acknowledged", "resolved", "dismissed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    """Alerts, newest first."""
    return list_alerts(settings, job_name=job, status=status, limit=limit)


@router.post("/v1/alerts/{alert_id}/{action}")
def alerts_act(settings: SettingsDep, alert_id: int, action: AlertAction, body: AlertActionRequest) -> Alert:
    """Acknowledge, resolve or dismiss (with a reason) an alert."""
    return act_on_alert(settings, alert_id, action=action, actor=body.actor, reason=body.reason)
