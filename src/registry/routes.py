"""HTTP routes of model governance under ``/v1/models`` and the audit log under ``/v1/audit``.

The routes only translate HTTP to :mod:`registry.lifecycle` calls and back; every rule lives there.
The acting person comes from the request body for now: API keys and roles arrive with RBAC.
Errors leave through the app's one handler as ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from registry.card import ModelCard, ModelCardUpdate, render_markdown
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
from warehouse.settings import Settings

router = APIRouter(prefix="/v1", tags=["governance"])


class StepName(StrEnum):
    """Lifecycle steps that need only an actor and a reason."""

    REJECT = "reject"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    DELIST = "delist"


STEPS = {StepName.REJECT: reject, StepName.SUSPEND: suspend, StepName.REINSTATE: reinstate, StepName.DELIST: delist}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]
Actor = Annotated[str, Field(min_length=1, max_length=200, description="Who acts (until API keys identify callers).")]


class StepRequest(BaseModel):
    """A lifecycle step: who takes it and why."""

    model_config = ConfigDict(extra="forbid")

    actor: Actor
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


@router.get("/models/{name}/versions/{version}", response_model=VersionState)
def version_state(name: str, version: str, settings: SettingsDep) -> VersionState:
    """Lifecycle state, digests and signer of a version."""
    return get_state(settings, model_name=name, version=version)


@router.get("/models/{name}/versions/{version}/card", response_model=CardResponse)
def version_card(name: str, version: str, settings: SettingsDep) -> CardResponse:
    """The model card of a version."""
    card = get_card(settings, model_name=name, version=version)
    return CardResponse(card=card, markdown=render_markdown(card), missing_fields=card.missing_fields())


@router.post("/models/{name}/versions/{version}/submit", response_model=VersionState)
def submit_version(name: str, version: str, body: SubmitRequest, settings: SettingsDep) -> VersionState:
    """Complete the card and send the version to review."""
    return submit(settings, model_name=name, version=version, actor=body.actor, reason=body.reason, card=body.card)


@router.post("/models/{name}/versions/{version}/approve", response_model=VersionState)
def approve_version(name: str, version: str, body: StepRequest, settings: SettingsDep) -> VersionState:
    """Approve a version in review (never by its submitter)."""
    return approve(settings, model_name=name, version=version, actor=body.actor, reason=body.reason)


@router.post("/models/{name}/versions/{version}/{step}", response_model=VersionState)
def step_version(name: str, version: str, step: StepName, body: StepRequest, settings: SettingsDep) -> VersionState:
    """Reject, suspend, reinstate or delist a version."""
    return STEPS[step](settings, model_name=name, version=version, actor=body.actor, reason=body.reason)


@router.post("/models/{name}/aliases/{alias}", response_model=AliasMove)
def promote_version(name: str, alias: str, body: PromoteRequest, settings: SettingsDep) -> AliasMove:
    """Point an alias at an approved or published version."""
    return promote(settings, model_name=name, version=body.version, alias=alias, actor=body.actor, reason=body.reason)


@router.post("/models/{name}/aliases/{alias}/rollback", response_model=AliasMove)
def rollback_alias(name: str, alias: str, body: StepRequest, settings: SettingsDep) -> AliasMove:
    """Point an alias back at its previous holder."""
    return rollback(settings, model_name=name, alias=alias, actor=body.actor, reason=body.reason)


@router.get("/models/{name}/history", response_model=HistoryResponse)
def model_history(name: str, settings: SettingsDep) -> HistoryResponse:
    """Alias moves and lifecycle steps of a model."""
    return HistoryResponse(
        aliases=alias_history(settings, name), lifecycle=lifecycle_history(settings, model_name=name)
    )


@router.get("/audit", response_model=list[AuditEntry])
def audit_entries(
    settings: SettingsDep,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    subject: Annotated[str | None, Query(max_length=300, description="Subject prefix, e.g. fire_risk/")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AuditEntry]:
    """The latest audit entries, newest first."""
    return list_entries(settings, actor=actor, subject=subject, limit=limit)


@router.get("/audit/verify", response_model=ChainReport)
def audit_verify(settings: SettingsDep) -> ChainReport:
    """Walk the audit chain and report the first broken entry, if any."""
    return verify_chain(settings)
