"""HTTP routes of the scheduling package: jobs, runs, alerts and inspection draws under ``/v1``.

Only HTTP here; the logic lives in :mod:`scheduling.jobs`, :mod:`scheduling.alerts` and
:mod:`scheduling.inspections` (the same functions as the CLI). Domain errors leave through the app's
one error handler. Each route declares its permission (see :mod:`warehouse.permissions`: admins
manage jobs, reviewers act on alerts and draw inspection lists); whoever acts on an alert or draws a
list is the authenticated principal. Jobs, runs, alerts and draws carry a model's scores and
reasons, so they are classified as their model is (the highest level of its cards): a list holds
only those of the models the caller's clearance reaches, and one named object beyond it is 403
``forbidden``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from registry.classification import cleared_models, model_classification
from scheduling.alerts import Alert, AlertAction, act_on_alert, get_alert, list_alerts
from scheduling.inspections import (
    MAX_SEED,
    InspectionDraw,
    InspectionDrawSummary,
    draw_inspections,
    get_draw,
    list_draws,
)
from scheduling.jobs import (
    JobView,
    ResultsPage,
    RunView,
    add_job,
    get_job,
    get_run,
    job_execution,
    list_jobs,
    list_results,
    list_runs,
    set_paused,
    start_job_run,
)
from scheduling.scheduler import BackfillReport, backfill_job
from scheduling.specs import JobSpec
from warehouse.app_state import SettingsDep
from warehouse.auth import require, require_clearance
from warehouse.identity import Caller
from warehouse.permissions import Permission
from warehouse.progress import no_progress
from warehouse.settings import Settings

router = APIRouter(tags=["scheduling"])


JobsReader = Annotated[Caller, Depends(require(Permission.JOBS_READ))]
JobsManager = Annotated[Caller, Depends(require(Permission.JOBS_MANAGE))]
InspectionsReader = Annotated[Caller, Depends(require(Permission.INSPECTIONS_READ))]


def _check_model(settings: Settings, caller: Caller, model_name: str) -> None:
    require_clearance(caller, model_name, model_classification(settings, model_name=model_name))


class BackfillRequest(BaseModel):
    """The range of fire times to backfill (naive instants are UTC)."""

    model_config = ConfigDict(extra="forbid")

    start: dt.datetime
    end: dt.datetime


class StartRunRequest(BaseModel):
    """Which job to run now, outside its schedule."""

    model_config = ConfigDict(extra="forbid")

    job: str = Field(max_length=200)


class AlertActionRequest(BaseModel):
    """Why an alert is acted on (needed for dismissal); who acts is the authenticated caller."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=4000)


class InspectionDrawRequest(BaseModel):
    """What to draw from: a job's latest finished run or one finished run (exactly one of them).

    Who draws is the authenticated caller; the same seed on the same run gives the same list.
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(ge=0, le=MAX_SEED, description="Seed of the draw.")
    job: str | None = Field(default=None, max_length=100, description="Draw from this job's latest finished run.")
    run: str | None = Field(default=None, max_length=64, description="Draw from this finished run.")
    total: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SEED,
        description="List size, split across grades by entities x sampling ratio; default: each grade at its ratio.",
    )


@router.get("/v1/jobs")
def jobs_index(settings: SettingsDep, caller: JobsReader) -> list[JobView]:
    """Every job of a model the caller is cleared for."""
    return list_jobs(settings, algorithms=cleared_models(settings, caller.clearance))


@router.post("/v1/jobs", status_code=201)
def jobs_create(settings: SettingsDep, caller: JobsManager, spec: JobSpec) -> JobView:
    """Add a job (409 ``job_exists`` if the name is taken)."""
    _check_model(settings, caller, spec.algorithm)
    return add_job(settings, spec)


@router.get("/v1/jobs/{name}")
def jobs_show(settings: SettingsDep, caller: JobsReader, name: str) -> JobView:
    """One job."""
    job = get_job(settings, name)
    _check_model(settings, caller, job.spec.algorithm)
    return job


@router.post("/v1/jobs/{name}/backfill")
def jobs_backfill(settings: SettingsDep, caller: JobsManager, name: str, body: BackfillRequest) -> BackfillReport:
    """Run the job's fire times in [start, end] that never ran; each fire time runs once, ever."""
    _check_model(settings, caller, get_job(settings, name).spec.algorithm)
    return backfill_job(settings, name, start=body.start, end=body.end)


# Declared after /backfill: this path would match it too.
@router.post("/v1/jobs/{name}/{state}")
def jobs_set_state(settings: SettingsDep, caller: JobsManager, name: str, state: Literal["pause", "resume"]) -> JobView:
    """Pause a job, or make it active again."""
    _check_model(settings, caller, get_job(settings, name).spec.algorithm)
    return set_paused(settings, name, paused=state == "pause")


@router.get("/v1/runs")
def runs_index(
    settings: SettingsDep,
    caller: JobsReader,
    job: Annotated[str | None, Query(description="Only this job's runs.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunView]:
    """Recent runs of models the caller is cleared for, newest first."""
    return list_runs(settings, job_name=job, models=cleared_models(settings, caller.clearance), limit=limit)


@router.post("/v1/runs", status_code=202)
def runs_start(
    settings: SettingsDep, caller: JobsManager, body: StartRunRequest, background: BackgroundTasks
) -> RunView:
    """Run a job now: the run is recorded (model version pinned) and executes after the answer, on the
    executor the job names; poll its id."""
    spec = get_job(settings, body.job).spec
    _check_model(settings, caller, spec.algorithm)
    run_id = start_job_run(settings, body.job)
    background.add_task(job_execution(spec), settings, run_id, on_progress=no_progress)
    return get_run(settings, run_id)


@router.get("/v1/runs/{run_id}")
def runs_show(settings: SettingsDep, caller: JobsReader, run_id: str) -> RunView:
    """One run: status, rows done / total, rows written, rate, pinned model version."""
    run = get_run(settings, run_id)
    _check_model(settings, caller, run.model_name)
    return run


@router.get("/v1/runs/{run_id}/results")
def runs_results(
    settings: SettingsDep,
    caller: JobsReader,
    run_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    warning: Annotated[bool | None, Query(description="Only rows with (true) or without (false) a warning.")] = None,
) -> ResultsPage:
    """A page of the run's scored rows (entity, score, level, warning, model version), by entity id."""
    _check_model(settings, caller, get_run(settings, run_id).model_name)
    return list_results(settings, run_id, offset=offset, limit=limit, warning=warning)


@router.get("/v1/alerts")
def alerts_index(
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(require(Permission.ALERTS_READ))],
    job: Annotated[str | None, Query(description="Only this job's alerts.")] = None,
    status: Annotated[Literal["open", "acknowledged", "resolved", "dismissed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    """Alerts of models the caller is cleared for, newest first."""
    algorithms = cleared_models(settings, caller.clearance)
    return list_alerts(settings, job_name=job, status=status, algorithms=algorithms, limit=limit)


@router.post("/v1/alerts/{alert_id}/{action}")
def alerts_act(
    settings: SettingsDep,
    alert_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="Alert id (a 64-bit database key).")],
    action: AlertAction,
    body: AlertActionRequest,
    caller: Annotated[Caller, Depends(require(Permission.ALERTS_ACT))],
) -> Alert:
    """Acknowledge, resolve or dismiss (with a reason) an alert."""
    _check_model(settings, caller, get_alert(settings, alert_id).algorithm)
    return act_on_alert(settings, alert_id, action=action, actor=caller.principal, reason=body.reason)


@router.post("/v1/inspections/draw", status_code=201)
def inspections_draw(
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(require(Permission.INSPECTIONS_DRAW))],
    body: InspectionDrawRequest,
) -> InspectionDraw:
    """Draw a "双随机" inspection list from a finished credit-supervision run, weighted by grade;
    recorded and audited with the caller as who drew it."""
    return draw_inspections(
        settings,
        seed=body.seed,
        job_name=body.job,
        run_id=body.run,
        total=body.total,
        actor=caller.principal,
        authorize=lambda model_name: _check_model(settings, caller, model_name),
    )


@router.get("/v1/inspections")
def inspections_index(
    settings: SettingsDep,
    caller: InspectionsReader,
    run: Annotated[str | None, Query(description="Only draws from this run.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[InspectionDrawSummary]:
    """Recorded draws of models the caller is cleared for, newest first (without their lists)."""
    algorithms = cleared_models(settings, caller.clearance)
    return list_draws(settings, run_id=run, algorithms=algorithms, limit=limit)


@router.get("/v1/inspections/{draw_id}")
def inspections_show(settings: SettingsDep, caller: InspectionsReader, draw_id: str) -> InspectionDraw:
    """One draw with its inspection list in draw order."""
    draw = get_draw(settings, draw_id)
    _check_model(settings, caller, draw.algorithm)
    return draw
