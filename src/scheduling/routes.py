"""HTTP routes of the scheduling package: jobs, runs and alerts under ``/v1``.

Only HTTP here; the logic lives in :mod:`scheduling.jobs` and :mod:`scheduling.alerts`. Domain
errors leave through the app's one error handler. No authentication yet: role checks (admin for
jobs, reviewer for alerts) arrive with the RBAC increment.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from scheduling.alerts import Alert, AlertAction, act_on_alert, list_alerts
from scheduling.jobs import JobView, RunView, add_job, get_job, get_run, list_jobs, list_runs, set_paused
from scheduling.specs import JobSpec
from warehouse.settings import Settings

router = APIRouter(tags=["scheduling"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


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
def alerts_act(
    settings: SettingsDep,
    alert_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="Alert id (a 64-bit database key).")],
    action: AlertAction,
    body: AlertActionRequest,
) -> Alert:
    """Acknowledge, resolve or dismiss (with a reason) an alert."""
    return act_on_alert(settings, alert_id, action=action, actor=body.actor, reason=body.reason)
