"""The console's pages under ``/console``: read-only views rendered for the caller.

Each page declares its permission like any route and reads through the same service functions
the ``/v1`` routes call, with the caller's grants and clearance checked the same way. Pages change
nothing: every action on them (approve, promote, alert steps, pause and resume, scoring, what-if) is a call
from the browser to the ``/v1`` API (``static/console.js``), with the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from registry.card import render_html
from registry.classification import cleared_models, model_classification, version_classification
from registry.lifecycle import get_card, get_state, lifecycle_history
from registry.models import alias_history
from scheduling.alerts import list_alerts
from scheduling.jobs import list_jobs, list_runs
from scheduling.specs import cron_trigger
from serving.repository import ModelRepository
from warehouse.app_state import SettingsDep
from warehouse.audit import list_entries, verify_chain
from warehouse.auth import require, require_clearance, require_grant
from warehouse.db import utc_now
from warehouse.identity import Caller
from warehouse.permissions import Permission
from warehouse.webconsole.catalog import find_model, list_models
from warehouse.webconsole.plots import PLOTS, PlotName, evaluation_plot
from warehouse.webconsole.rendering import render
from warehouse.webconsole.whatif import feature_fields

router = APIRouter(prefix="/console", include_in_schema=False)
ModelReader = Annotated[Caller, Depends(require(Permission.MODELS_READ))]
AlertReader = Annotated[Caller, Depends(require(Permission.ALERTS_READ))]
AuditReader = Annotated[Caller, Depends(require(Permission.AUDIT_READ))]
JobReader = Annotated[Caller, Depends(require(Permission.JOBS_READ))]
Scorer = Annotated[Caller, Depends(require(Permission.SCORE))]
Text = Annotated[str, Query(max_length=200)]
AlertStatus = Literal["open", "acknowledged", "resolved", "dismissed"]


@router.get("", response_class=HTMLResponse)
def catalog_page(request: Request, settings: SettingsDep, caller: ModelReader, q: Text = "") -> Response:
    """Registered models the caller may see, with owner, classification, aliases, state, metrics."""
    return render(request, "catalog.html", caller=caller, models=list_models(settings, caller, text=q), q=q)


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(
    request: Request,
    name: str,
    settings: SettingsDep,
    caller: ModelReader,
    version: Annotated[str | None, Query(pattern=r"^[0-9]+$", max_length=20)] = None,
) -> Response:
    """A model's versions, card, lineage, alias and lifecycle history, and the reviewer's actions."""
    require_grant(caller, name)
    require_clearance(caller, name, model_classification(settings, model_name=name))
    model = find_model(settings, caller, name)
    if model is None or (version is not None and version not in {v.version for v in model.versions}):
        return render(request, "not_found.html", caller=caller, status=404, what=f"{name} {version or ''}".strip())
    shown = version or model.champion or model.latest.version
    card = get_card(settings, model_name=name, version=shown)
    return render(
        request,
        "model.html",
        caller=caller,
        model=model,
        shown=shown,
        state=get_state(settings, model_name=name, version=shown),
        card=card,
        card_html=render_html(card),
        aliases=alias_history(settings, name),
        lifecycle=lifecycle_history(settings, model_name=name),
        plots=PLOTS,
        may_review=caller.may(Permission.MODELS_APPROVE),
        may_promote=caller.may(Permission.MODELS_PROMOTE),
    )


@router.get(
    "/models/{name}/versions/{version}/plots/{plot}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}}},
)
def plot_image(name: str, version: str, plot: PlotName, settings: SettingsDep, caller: ModelReader) -> FileResponse:
    """An evaluation plot (ROC, calibration, feature importance) of a version, from its training run."""
    require_grant(caller, name)
    require_clearance(caller, name, version_classification(settings, model_name=name, version=version))
    path = evaluation_plot(settings, model_name=name, version=version, plot=plot)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    settings: SettingsDep,
    caller: AlertReader,
    status: Annotated[AlertStatus | Literal[""], Query()] = "open",
    job: Text = "",
    algorithm: Text = "",
    level: Text = "",
) -> Response:
    """Alerts with their reasons, filtered by status, job, algorithm and level."""
    cleared = cleared_models(settings, caller.clearance)  # None: the caller is cleared for every model
    algorithms = cleared if not algorithm else {algorithm} if cleared is None else {algorithm} & cleared
    alerts = [
        alert
        for alert in list_alerts(
            settings, job_name=job or None, status=status or None, algorithms=algorithms, limit=500
        )
        if not level or alert.level == level
    ]
    filters = {"status": status, "job": job, "algorithm": algorithm, "level": level}
    return render(
        request,
        "alerts.html",
        caller=caller,
        alerts=alerts,
        filters=filters,
        may_act=caller.may(Permission.ALERTS_ACT),
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, settings: SettingsDep, caller: AuditReader, actor: Text = "", subject: Text = ""
) -> Response:
    """The latest audit entries (by actor, subject prefix) and the result of walking the chain."""
    entries = list_entries(settings, actor=actor or None, subject=subject or None, limit=200)
    return render(
        request,
        "audit.html",
        caller=caller,
        entries=entries,
        chain=verify_chain(settings),
        filters={"actor": actor, "subject": subject},
    )


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, settings: SettingsDep, caller: JobReader) -> Response:
    """Scheduled jobs with their next tick, and the latest runs (polled)."""
    now = utc_now()
    cleared = cleared_models(settings, caller.clearance)
    jobs = [
        (job, cron_trigger(job.spec.cron).get_next_fire_time(None, now))
        for job in list_jobs(settings, algorithms=cleared)
    ]
    return render(
        request,
        "jobs.html",
        caller=caller,
        jobs=jobs,
        runs=list_runs(settings, models=cleared, limit=20),
        may_manage=caller.may(Permission.JOBS_MANAGE),
    )


@router.get("/jobs/runs", response_class=HTMLResponse)
def runs_fragment(request: Request, settings: SettingsDep, caller: JobReader) -> Response:
    """The runs table alone, which the jobs page polls while runs are in progress."""
    runs = list_runs(settings, models=cleared_models(settings, caller.clearance), limit=20)
    return render(request, "runs.html", caller=caller, runs=runs)


@router.get("/try", response_class=HTMLResponse)
def try_page(request: Request, settings: SettingsDep, caller: Scorer) -> Response:
    """Score an entity or an edited feature row with a champion; see its score, level and reasons."""
    models = [model for model in list_models(settings, caller) if model.champion]
    repository: ModelRepository = request.app.state.repository
    fields = {model.algorithm: feature_fields(repository, model.name) for model in models}
    return render(request, "try.html", caller=caller, models=models, fields=fields)
