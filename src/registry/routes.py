"""HTTP routes of model governance under ``/v1/models`` and the audit log under ``/v1/audit``.

The routes only translate HTTP to :mod:`registry.lifecycle` calls and back; every rule lives there.
Each route declares its permission; the acting person is the authenticated principal (so the
two-person rule holds across principals), and the caller's clearance must reach the model's
classification (an ``app`` caller must also be granted the model). Errors leave through the app's
one handler as ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from registry.card import CardFormat, ModelCard, ModelCardUpdate, render_html, render_markdown
from registry.classification import model_classification, version_classification
from registry.exchange import ImportReport, export_version, import_bundle
from registry.lifecycle import (
    Transition,
    VersionState,
    approve,
    delist,
    get_card,
    get_state,
    lifecycle_history,
    promote,
    reinstate,
    reject,
    rollback,
    submit,
    suspend,
)
from registry.models import AliasMove, alias_history
from registry.rollout import Rollout, RolloutChange, RolloutMode, get_rollout, rollout_history, set_rollout
from warehouse.app_state import SettingsDep
from warehouse.audit import AuditEntry, ChainReport, list_entries, verify_chain
from warehouse.auth import CallerDep, require, require_clearance, require_grant
from warehouse.errors import InvalidRequest
from warehouse.identity import Caller
from warehouse.permissions import Permission
from warehouse.security import highest_level
from warehouse.settings import Settings

router = APIRouter(prefix="/v1", tags=["governance"])

STEPS: dict[str, tuple[Callable[..., VersionState], Permission]] = {
    "reject": (reject, Permission.MODELS_APPROVE),
    "suspend": (suspend, Permission.MODELS_SUSPEND),
    "reinstate": (reinstate, Permission.MODELS_SUSPEND),
    "delist": (delist, Permission.MODELS_DELIST),
}
"""Lifecycle steps that need only a reason, each with the permission it takes."""


MAX_BUNDLE_BYTES = 4 << 30
"""Largest bundle accepted over HTTP."""
Reader = Annotated[Caller, Depends(require(Permission.MODELS_READ))]
Exchanger = Annotated[Caller, Depends(require(Permission.MODELS_EXCHANGE))]


class StepRequest(BaseModel):
    """A lifecycle step: why it is taken (who takes it is the authenticated caller)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=4000)


class SubmitRequest(StepRequest):
    """Submission for review, with the card fields the submitter completes."""

    card: ModelCardUpdate | None = None


class PromoteRequest(StepRequest):
    """Point an alias at a version."""

    version: str = Field(pattern=r"^[0-9]+$")


class RolloutRequest(StepRequest):
    """How the challenger takes part in serving: off, a canary share of entities, or shadow."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"mode": "canary", "canary_share": 0.1, "reason": "try v3 on 10%"}]},
    )

    mode: RolloutMode
    canary_share: float | None = Field(default=None, gt=0, lt=1, description="Canary only: share of entities.")


class CardResponse(BaseModel):
    """A model card, structured and as Markdown."""

    model_config = ConfigDict(protected_namespaces=())

    card: ModelCard
    markdown: str
    missing_fields: list[str]


class HistoryResponse(BaseModel):
    """Alias moves, lifecycle steps and rollout changes of a model, oldest first."""

    aliases: list[AliasMove]
    lifecycle: list[Transition]
    rollouts: list[RolloutChange]


def _check_version(settings: Settings, caller: Caller, name: str, version: str) -> None:
    require_grant(caller, name)
    require_clearance(caller, name, version_classification(settings, model_name=name, version=version))


def _check_model(settings: Settings, caller: Caller, name: str) -> None:
    require_grant(caller, name)
    require_clearance(caller, name, model_classification(settings, model_name=name))


@router.get("/models/{name}/versions/{version}", response_model=VersionState)
def version_state(name: str, version: str, settings: SettingsDep, caller: Reader) -> VersionState:
    """Lifecycle state, digests and signer of a version."""
    _check_version(settings, caller, name, version)
    return get_state(settings, model_name=name, version=version)


@router.get(
    "/models/{name}/versions/{version}/card",
    response_model=CardResponse,
    responses={200: {"content": {"text/html": {}, "text/markdown": {}}}},
)
def version_card(
    name: str,
    version: str,
    settings: SettingsDep,
    caller: Reader,
    card_format: Annotated[
        CardFormat, Query(alias="format", description="json (structured), markdown or html (a UTF-8 page).")
    ] = "json",
) -> CardResponse | Response:
    """The model card of a version: structured with its Markdown, or rendered as Markdown or HTML."""
    _check_version(settings, caller, name, version)
    card = get_card(settings, model_name=name, version=version)
    if card_format == "html":
        return HTMLResponse(render_html(card))
    if card_format == "markdown":
        return Response(render_markdown(card), media_type="text/markdown; charset=utf-8")
    return CardResponse(card=card, markdown=render_markdown(card), missing_fields=card.missing_fields())


@router.post("/models/{name}/versions/{version}/submit", response_model=VersionState)
def submit_version(
    name: str,
    version: str,
    body: SubmitRequest,
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(require(Permission.MODELS_SUBMIT))],
) -> VersionState:
    """Complete the card and send the version to review (the level it ends with must be within clearance)."""
    require_grant(caller, name)
    stored = get_card(settings, model_name=name, version=version).classification
    given = body.card.classification if body.card else None
    levels = [level for level in (stored, given) if level]
    level = highest_level(levels) if levels else version_classification(settings, model_name=name, version=version)
    require_clearance(caller, name, level)
    card = body.card
    return submit(settings, model_name=name, version=version, actor=caller.principal, reason=body.reason, card=card)


@router.post("/models/{name}/versions/{version}/approve", response_model=VersionState)
def approve_version(
    name: str,
    version: str,
    body: StepRequest,
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(require(Permission.MODELS_APPROVE))],
) -> VersionState:
    """Approve a version in review (never by the principal that submitted it)."""
    _check_version(settings, caller, name, version)
    return approve(settings, model_name=name, version=version, actor=caller.principal, reason=body.reason)


def _step_route(step: str) -> None:
    """Register ``POST /models/{name}/versions/{version}/<step>`` with the step's own permission."""
    action, permission = STEPS[step]

    def step_version(
        name: str, version: str, body: StepRequest, settings: SettingsDep, caller: CallerDep
    ) -> VersionState:
        _check_version(settings, caller, name, version)
        return action(settings, model_name=name, version=version, actor=caller.principal, reason=body.reason)

    router.add_api_route(
        f"/models/{{name}}/versions/{{version}}/{step}",
        step_version,
        methods=["POST"],
        response_model=VersionState,
        dependencies=[Depends(require(permission))],  # the caller itself comes from the cached CallerDep
        name=f"{step}_version",
        summary=f"{step.capitalize()} a version",
    )


for _step in STEPS:
    _step_route(_step)


@router.post("/models/{name}/aliases/{alias}", response_model=AliasMove)
def promote_version(
    name: str,
    alias: str,
    body: PromoteRequest,
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(require(Permission.MODELS_PROMOTE))],
) -> AliasMove:
    """Point an alias at an approved or published version."""
    _check_version(settings, caller, name, body.version)
    actor = caller.principal
    return promote(settings, model_name=name, version=body.version, alias=alias, actor=actor, reason=body.reason)


@router.post("/models/{name}/aliases/{alias}/rollback", response_model=AliasMove)
def rollback_alias(
    name: str,
    alias: str,
    body: StepRequest,
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(require(Permission.MODELS_PROMOTE))],
) -> AliasMove:
    """Point an alias back at its previous holder."""
    _check_model(settings, caller, name)
    return rollback(settings, model_name=name, alias=alias, actor=caller.principal, reason=body.reason)


@router.get("/models/{name}/history", response_model=HistoryResponse)
def model_history(name: str, settings: SettingsDep, caller: Reader) -> HistoryResponse:
    """Alias moves and lifecycle steps of a model."""
    _check_model(settings, caller, name)
    return HistoryResponse(
        aliases=alias_history(settings, name),
        lifecycle=lifecycle_history(settings, model_name=name),
        rollouts=rollout_history(settings, name),
    )


@router.put("/models/{name}/rollout", response_model=Rollout)
def put_rollout(
    name: str,
    body: RolloutRequest,
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(require(Permission.MODELS_PROMOTE))],
) -> Rollout:
    """Set how the challenger takes part in serving (canary and shadow need a challenger alias)."""
    _check_model(settings, caller, name)
    return set_rollout(
        settings,
        model_name=name,
        mode=body.mode,
        canary_share=body.canary_share,
        actor=caller.principal,
        reason=body.reason,
    )


@router.get("/models/{name}/rollout", response_model=Rollout)
def read_rollout(name: str, settings: SettingsDep, caller: Reader) -> Rollout:
    """The model's rollout (off if it was never set)."""
    _check_model(settings, caller, name)
    return get_rollout(settings, name)


@router.get(
    "/models/{name}/versions/{version}/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/x-tar": {}}, "description": "The signed bundle."}},
)
def export_bundle(name: str, version: str, settings: SettingsDep, caller: Exchanger) -> FileResponse:
    """The version as one bundle signed by this node, for another node to import."""
    _check_model(settings, caller, name)
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=settings.runtime_dir, prefix=".export-http-"))
    out = scratch / f"{name}-v{version}.tar"
    try:
        report = export_version(settings, model_name=name, alias_or_version=version, out=out, actor=caller.principal)
    except BaseException:
        _remove_tree(scratch)
        raise
    return FileResponse(
        report.bundle,
        media_type="application/x-tar",
        filename=report.bundle.name,
        headers={"X-Bundle-SM3": report.bundle_sm3, "X-Node-Id": report.node_id},
        background=BackgroundTask(_remove_tree, scratch),
    )


@router.post(
    "/models/import",
    response_model=ImportReport,
    openapi_extra={
        "requestBody": {
            "required": True,
            # A tar file, sent as any binary body (declared as an octet stream so generic clients can send it).
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_model_bundle(request: Request, caller: Exchanger) -> ImportReport:
    """Import a bundle (the raw request body) signed by a trusted node; answers the local version."""
    settings: Settings = request.app.state.settings
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=settings.runtime_dir, prefix=".import-http-"))
    try:
        bundle = scratch / "upload.tar"
        await _receive(request, bundle)
        return await run_in_threadpool(import_bundle, settings, bundle, actor=caller.principal)
    finally:
        await run_in_threadpool(_remove_tree, scratch)


async def _receive(request: Request, path: Path) -> None:
    """Write the request body to ``path`` as it arrives, refusing bodies over :data:`MAX_BUNDLE_BYTES`."""
    received = 0
    with path.open("wb") as sink:
        async for chunk in request.stream():
            received += len(chunk)
            if received > MAX_BUNDLE_BYTES:
                raise InvalidRequest(f"a bundle is at most {MAX_BUNDLE_BYTES} bytes")
            sink.write(chunk)
    if received == 0:
        raise InvalidRequest("the request body must be the bundle file (application/x-tar)")


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@router.get("/audit", response_model=list[AuditEntry], dependencies=[Depends(require(Permission.AUDIT_READ))])
def audit_entries(
    settings: SettingsDep,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    subject: Annotated[str | None, Query(max_length=300, description="Subject prefix, e.g. fire_risk/")] = None,
    model: Annotated[str | None, Query(max_length=200, description="Only this model's versions and aliases")] = None,
    since: Annotated[dt.datetime | None, Query(description="At or after (ISO 8601, UTC if no zone)")] = None,
    until: Annotated[dt.datetime | None, Query(description="Before (ISO 8601, UTC if no zone)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AuditEntry]:
    """The latest audit entries, newest first; filters combine (``model`` is the subject prefix ``<model>/``)."""
    if model is not None:
        if subject is not None and not subject.startswith(f"{model}/"):
            raise InvalidRequest(f"subject {subject!r} is not about model {model!r}; give one or the other")
        subject = subject or f"{model}/"
    return list_entries(settings, actor=actor, subject=subject, since=since, until=until, limit=limit)


@router.get("/audit/verify", response_model=ChainReport, dependencies=[Depends(require(Permission.AUDIT_READ))])
def audit_verify(settings: SettingsDep) -> ChainReport:
    """Walk the audit chain and report the first broken entry, if any."""
    return verify_chain(settings)
