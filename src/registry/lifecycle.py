"""Review and release of model versions: submit, approve, reject, promote, rollback, suspend, delist.

Every step goes through the transition table in :mod:`registry.store`, is recorded with who, when and
why, and is appended to the audit chain. Rules enforced here: the approver is never the submitter
(two-person rule); submit and approve need a complete model card; only approved or published
versions take an alias (``registry.models.set_alias`` checks it), and receiving ``champion`` or
``challenger`` publishes the version; a delisted version never comes back.

State machine::

    registered --submit--> in_review --approve--> approved --alias champion|challenger--> published
        ^                      |                     |  ^                                  |
        +--submit-- rejected <-+reject               |  +---------reinstate--------+       |
                                                     +--suspend--> suspended <-----+--suspend
    any state but delisted --delist--> delisted (terminal)
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from registry.card import ModelCard, ModelCardUpdate, render_markdown
from registry.models import AliasMove, alias_history, set_alias
from registry.store import (
    LifecycleEvent,
    LifecycleState,
    VersionRecord,
    apply_transition,
    check_transition,
    governance_session,
    load_record,
)
from warehouse.db import as_utc
from warehouse.errors import InvalidLifecycleTransition, TwoPersonRuleViolation
from warehouse.security import sm3_hex
from warehouse.tracking import mlflow_client

if TYPE_CHECKING:
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

CARD_TAG = "warehouse.model_card"
"""MLflow model-version tag holding the card as Markdown, versioned with the model."""
MAX_TAG_CHARS = 5000
"""MLflow's limit on a model-version tag value."""


class VersionState(BaseModel):
    """The governance state of one version."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    version: str
    state: LifecycleState
    registered_by: str
    submitted_by: str | None
    onnx_sm3: str
    metadata_sm3: str
    signature: str
    signer_key_id: str
    updated_at: dt.datetime


class Transition(BaseModel):
    """One recorded lifecycle step."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    version: str
    from_state: LifecycleState | None
    to_state: LifecycleState
    actor: str
    reason: str
    at: dt.datetime


def submit(
    settings: Settings,
    *,
    model_name: str,
    version: str,
    actor: str,
    reason: str = "",
    card: ModelCardUpdate | None = None,
) -> VersionState:
    """Send a version to review, completing its card first with ``card``; the card must be complete."""
    with governance_session(settings) as session:
        record = load_record(session, model_name, version, for_update=True)
        check_transition(record, "submit")
        completed = _card(record).updated(card or ModelCardUpdate())
        completed.require_complete()
        apply_transition(session, record, "submit", actor=actor, reason=reason)
        record.card, record.submitted_by = completed.model_dump_json(), actor
        state = _state(record)
    tag_card(settings, completed)
    return state


def approve(settings: Settings, *, model_name: str, version: str, actor: str, reason: str = "") -> VersionState:
    """Approve a version in review; the approver must not be its submitter."""
    with governance_session(settings) as session:
        record = load_record(session, model_name, version, for_update=True)
        check_transition(record, "approve")
        if record.submitted_by == actor:
            raise TwoPersonRuleViolation(
                f"{actor!r} submitted {model_name} version {version} and so cannot approve it; "
                "another reviewer must approve"
            )
        _card(record).require_complete()
        apply_transition(session, record, "approve", actor=actor, reason=reason)
        return _state(record)


def reject(settings: Settings, *, model_name: str, version: str, actor: str, reason: str) -> VersionState:
    """Send a version in review back to its submitter (it may be submitted again)."""
    return _step(settings, "reject", model_name=model_name, version=version, actor=actor, reason=reason)


def suspend(settings: Settings, *, model_name: str, version: str, actor: str, reason: str) -> VersionState:
    """Take an approved or published version out of serving and batch scoring."""
    return _step(settings, "suspend", model_name=model_name, version=version, actor=actor, reason=reason)


def reinstate(settings: Settings, *, model_name: str, version: str, actor: str, reason: str) -> VersionState:
    """Bring a suspended version back to approved (its aliases serve it again)."""
    return _step(settings, "reinstate", model_name=model_name, version=version, actor=actor, reason=reason)


def delist(settings: Settings, *, model_name: str, version: str, actor: str, reason: str) -> VersionState:
    """Retire a version for good: it can never hold an alias or be served again."""
    return _step(settings, "delist", model_name=model_name, version=version, actor=actor, reason=reason)


def promote(
    settings: Settings, *, model_name: str, version: str, alias: str, actor: str, reason: str = ""
) -> AliasMove:
    """Point ``alias`` at an approved or published version (publishing it for champion/challenger)."""
    return set_alias(settings, model_name=model_name, alias=alias, version=version, actor=actor, reason=reason)


def rollback(settings: Settings, *, model_name: str, alias: str, actor: str, reason: str = "") -> AliasMove:
    """Point ``alias`` back at the version that held it before its last move."""
    moves = [move for move in alias_history(settings, model_name) if move.alias == alias]
    if not moves:
        raise InvalidLifecycleTransition(f"alias {alias!r} of {model_name} has never been set; nothing to roll back")
    last = moves[-1]
    if last.from_version is None:
        raise InvalidLifecycleTransition(
            f"alias {alias!r} of {model_name} had no holder before version {last.to_version}; nothing to roll back to"
        )
    why = reason or f"rollback from version {last.to_version}"
    return set_alias(settings, model_name=model_name, alias=alias, version=last.from_version, actor=actor, reason=why)


def get_state(settings: Settings, *, model_name: str, version: str) -> VersionState:
    """The governance state of a version."""
    with governance_session(settings) as session:
        return _state(load_record(session, model_name, version))


def get_card(settings: Settings, *, model_name: str, version: str) -> ModelCard:
    """The model card of a version."""
    with governance_session(settings) as session:
        return _card(load_record(session, model_name, version))


def lifecycle_history(settings: Settings, *, model_name: str, version: str | None = None) -> list[Transition]:
    """Every recorded lifecycle step of a model (or one version), oldest first."""
    query = select(LifecycleEvent).where(LifecycleEvent.model_name == model_name).order_by(LifecycleEvent.id)
    if version is not None:
        query = query.where(LifecycleEvent.version == version)
    with governance_session(settings) as session:
        return [_transition(event) for event in session.scalars(query)]


def _step(settings: Settings, action: str, *, model_name: str, version: str, actor: str, reason: str) -> VersionState:
    with governance_session(settings) as session:
        record = load_record(session, model_name, version, for_update=True)
        apply_transition(session, record, action, actor=actor, reason=reason)
        state = _state(record)
    logger.info("%s %s version %s (by %s): %s", action, model_name, version, actor, reason)
    return state


def _card(record: VersionRecord) -> ModelCard:
    return ModelCard.model_validate_json(record.card)


def tag_card(settings: Settings, card: ModelCard) -> None:
    """Keep the card as Markdown in the version's MLflow tag (versioned with the model)."""
    markdown = render_markdown(card)
    if len(markdown) > MAX_TAG_CHARS:  # the metadata DB keeps the whole card either way
        markdown = f"{markdown[: MAX_TAG_CHARS - 120]}\n\n(truncated; full card SM3 {sm3_hex(markdown.encode())})"
    mlflow_client(settings).set_model_version_tag(card.model_name, card.version, CARD_TAG, markdown)


def _state(record: VersionRecord) -> VersionState:
    return VersionState(
        model_name=record.model_name,
        version=record.version,
        state=LifecycleState(record.state),
        registered_by=record.registered_by,
        submitted_by=record.submitted_by,
        onnx_sm3=record.onnx_sm3,
        metadata_sm3=record.metadata_sm3,
        signature=record.signature,
        signer_key_id=record.signer_key_id,
        updated_at=as_utc(record.updated_at),
    )


def _transition(event: LifecycleEvent) -> Transition:
    return Transition(
        model_name=event.model_name,
        version=event.version,
        from_state=LifecycleState(event.from_state) if event.from_state else None,
        to_state=LifecycleState(event.to_state),
        actor=event.actor,
        reason=event.reason,
        at=as_utc(event.at),
    )
