"""HTTP routes of model governance under ``/v1/models`` and the audit log under ``/v1/audit``.

The routes only translate HTTP to :mod:`registry.lifecycle` calls and back; every rule lives there.
Each route declares its permission; the acting person is the authenticated principal (so the
two-person rule holds across principals), and the caller's clearance must reach the model's
classification (an ``app`` caller must also be granted the model). Errors leave through the app's
one handler as ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from registry.card import ModelCard, ModelCardUpdate, render_markdown
from registry.classification import model_classification, version_classification
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
from warehouse.audit import AuditEntry, ChainReport, list_entries, verify_chain
from warehouse.auth import CallerDep, require, require_clearance, require_grant
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


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]
Reader = Annotated[Caller, Depends(require(Permission.MODELS_READ))]


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


class CardResponse(BaseModel):
    """A model card, structured and as Markdown."""

    model_config = ConfigDict(protected_namespaces=())

    card: ModelCard
    markdown: str
    missing_fields: list[str]


class HistoryResponse(BaseModel):
    """Alias moves and lifecycle steps of a model, oldest first."""

    aliases: list[AliasMove]
    lifecycle: list[Transition]


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


@router.get("/models/{name}/versions/{version}/card", response_model=CardResponse)
def version_card(name: str, version: str, settings: SettingsDep, caller: Reader) -> CardResponse:
    """The model card of a version."""
    _check_version(settings, caller, name, version)
    card = get_card(settings, model_name=name, version=version)
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
        aliases=alias_history(settings, name), lifecycle=lifecycle_history(settings, model_name=name)
    )


@router.get("/audit", response_model=list[AuditEntry], dependencies=[Depends(require(Permission.AUDIT_READ))])
def audit_entries(
    settings: SettingsDep,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    subject: Annotated[str | None, Query(max_length=300, description="Subject prefix, e.g. fire_risk/")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AuditEntry]:
    """The latest audit entries, newest first."""
    return list_entries(settings, actor=actor, subject=subject, limit=limit)


@router.get("/audit/verify", response_model=ChainReport, dependencies=[Depends(require(Permission.AUDIT_READ))])
def audit_verify(settings: SettingsDep) -> ChainReport:
    """Walk the audit chain and report the first broken entry, if any."""
    return verify_chain(settings)
