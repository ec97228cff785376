"""What the console's catalog and model pages read: registered models, their versions and aliases.

Read-only views over the governance records (the same tables :mod:`registry.lifecycle` writes),
filtered to what the caller may see: an ``app`` caller only its granted models, every caller only
versions within its clearance. Current alias holders come from the alias history (the last move of
each alias), so the catalog needs no MLflow round trip.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from registry.card import ModelCard
from registry.store import LifecycleState, VersionRecord, governance_session
from warehouse.db import AliasEvent
from warehouse.permissions import Role
from warehouse.security import ClassificationLevel, clears, highest_level

if TYPE_CHECKING:
    from warehouse.identity import Caller
    from warehouse.settings import Settings

SHOWN_ALIASES = ("champion", "challenger")


class VersionSummary(BaseModel):
    """One version as the console lists it."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    version: str
    state: LifecycleState
    classification: ClassificationLevel
    owner_department: str | None
    algorithm: str
    submitted_by: str | None
    metrics: dict[str, float]
    aliases: tuple[str, ...]
    updated_at: dt.datetime


class ModelSummary(BaseModel):
    """One registered model: its versions (newest first) and who holds the published aliases."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    name: str
    algorithm: str
    owner_department: str | None
    classification: ClassificationLevel
    champion: str | None
    challenger: str | None
    versions: tuple[VersionSummary, ...]

    @property
    def latest(self) -> VersionSummary:
        """The newest version."""
        return self.versions[0]

    @property
    def headline_metrics(self) -> dict[str, float]:
        """Metrics of the champion, else of the newest version."""
        holder = next((v for v in self.versions if v.version == self.champion), self.latest)
        return holder.metrics

    def matches(self, text: str) -> bool:
        """True when ``text`` (case-insensitive) occurs in the name, algorithm, department or a state."""
        needle = text.strip().lower()
        haystack = [self.name, self.algorithm, self.owner_department or "", *(v.state for v in self.versions)]
        return not needle or any(needle in value.lower() for value in haystack)


def list_models(settings: Settings, caller: Caller, *, text: str = "") -> list[ModelSummary]:
    """Every model the caller may see (by name), optionally only those matching ``text``."""
    with governance_session(settings) as session:
        records = list(session.scalars(select(VersionRecord).order_by(VersionRecord.model_name)))
        holders = _alias_holders(list(session.scalars(select(AliasEvent).order_by(AliasEvent.id))))
    by_model: dict[str, list[VersionSummary]] = {}
    for record in records:
        summary = _summary(record, holders.get(record.model_name, {}))
        if _may_see(caller, summary):
            by_model.setdefault(record.model_name, []).append(summary)
    models = [_model(name, versions, holders.get(name, {})) for name, versions in by_model.items()]
    return [model for model in models if model.matches(text)]


def find_model(settings: Settings, caller: Caller, name: str) -> ModelSummary | None:
    """The model ``name`` as the caller may see it, or None when it has no version visible to the caller."""
    return next((model for model in list_models(settings, caller) if model.name == name), None)


def _may_see(caller: Caller, version: VersionSummary) -> bool:
    if Role.APP in caller.roles and version.model_name not in caller.granted_models:
        return False
    return clears(caller.clearance, version.classification)


def _alias_holders(events: list[AliasEvent]) -> dict[str, dict[str, str]]:
    holders: dict[str, dict[str, str]] = {}
    for event in events:  # oldest first: the last move of an alias names its holder
        holders.setdefault(event.model_name, {})[event.alias] = event.to_version
    return holders


def _summary(record: VersionRecord, holders: dict[str, str]) -> VersionSummary:
    card = ModelCard.model_validate_json(record.card)
    return VersionSummary(
        model_name=record.model_name,
        version=record.version,
        state=LifecycleState(record.state),
        classification=card.classification or "restricted",  # unknown is protected most, as in registry.classification
        owner_department=card.owner_department,
        algorithm=card.algorithm,
        submitted_by=record.submitted_by,
        metrics=card.metrics,
        aliases=tuple(alias for alias, version in sorted(holders.items()) if version == record.version),
        updated_at=record.updated_at,
    )


def _model(name: str, versions: list[VersionSummary], holders: dict[str, str]) -> ModelSummary:
    ordered = tuple(sorted(versions, key=lambda version: (len(version.version), version.version), reverse=True))
    return ModelSummary(
        name=name,
        algorithm=ordered[0].algorithm,
        owner_department=ordered[0].owner_department,
        classification=highest_level([version.classification for version in ordered]),
        champion=holders.get("champion"),
        challenger=holders.get("challenger"),
        versions=ordered,
    )
