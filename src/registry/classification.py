"""The data classification level of a model version and of a model, read from the model cards.

A model's level is the highest level its versions' cards name, so that its history never shows
more than its most protected version allows; a model none of whose cards names a level is
``restricted`` (what is not classified is protected most). A version's level is the one its card
names, or else its model's (a new version of an internal model is internal until its card says
otherwise). Once a
version is approved its card no longer changes, so :class:`ServedClassifications` caches the levels of
servable versions, and the levels of models, for the scoring path; the serving repository clears it
whenever governance changes (a card changes only through an audited step).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import select

from registry.card import ModelCard
from registry.store import SERVABLE_STATES, VersionRecord, governance_session, load_record
from warehouse.security import CLASSIFICATION_LEVELS, ClassificationLevel, clears, highest_level

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from warehouse.settings import Settings


def version_classification(settings: Settings, *, model_name: str, version: str) -> ClassificationLevel:
    """The level of one governed version (404 ``model_not_found`` if there is none)."""
    with governance_session(settings) as session:
        return _version_level(session, load_record(session, model_name, version))


def model_classification(settings: Settings, *, model_name: str) -> ClassificationLevel:
    """The highest level the cards of a model name (``restricted`` if none does, or the model is unknown)."""
    with governance_session(settings) as session:
        return _model_level(session, model_name)


def cleared_models(settings: Settings, clearance: ClassificationLevel) -> frozenset[str] | None:
    """The governed models a caller cleared to ``clearance`` may see, or None for every model.

    Only the top clearance sees everything, unclassified and unknown models included (they are
    ``restricted``); below it a caller sees the models whose level (the highest of their cards) it clears.
    """
    if clearance == CLASSIFICATION_LEVELS[-1]:
        return None
    levels: dict[str, list[ClassificationLevel]] = {}
    with governance_session(settings) as session:
        for record in session.scalars(select(VersionRecord)):
            level = _card_level(record)
            levels.setdefault(record.model_name, [])
            if level is not None:
                levels[record.model_name].append(level)
    return frozenset(name for name, found in levels.items() if clears(clearance, highest_level(found)))


class ServedClassifications:
    """Levels of servable versions and of models, read once and kept until :meth:`clear`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._levels: dict[tuple[str, str], ClassificationLevel] = {}
        self._model_levels: dict[str, ClassificationLevel] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every cached level (governance changed: a card or the set of versions may have)."""
        with self._lock:
            self._levels.clear()
            self._model_levels.clear()

    def cached_of_model(self, model_name: str) -> ClassificationLevel | None:
        """The level of ``model_name`` if it has been read since the last :meth:`clear`, else None (never blocks)."""
        with self._lock:
            return self._model_levels.get(model_name)

    def of_model(self, model_name: str) -> ClassificationLevel:
        """The level of ``model_name`` (see :func:`model_classification`)."""
        cached = self.cached_of_model(model_name)
        if cached is not None:
            return cached
        level = model_classification(self._settings, model_name=model_name)
        with self._lock:
            self._model_levels[model_name] = level
        return level

    def of(self, model_name: str, version: str) -> ClassificationLevel:
        """The level of ``model_name`` version ``version``."""
        key = (model_name, version)
        with self._lock:
            cached = self._levels.get(key)
        if cached is not None:
            return cached
        with governance_session(self._settings) as session:
            record = load_record(session, model_name, version)
            level, servable = _version_level(session, record), record.state in SERVABLE_STATES
        if servable:
            with self._lock:
                self._levels[key] = level
        return level


def _version_level(session: Session, record: VersionRecord) -> ClassificationLevel:
    return _card_level(record) or _model_level(session, record.model_name)


def _model_level(session: Session, model_name: str) -> ClassificationLevel:
    records = session.scalars(select(VersionRecord).where(VersionRecord.model_name == model_name))
    return highest_level([level for record in records if (level := _card_level(record))])


def _card_level(record: VersionRecord) -> ClassificationLevel | None:
    return ModelCard.model_validate_json(record.card).classification if record.card else None
