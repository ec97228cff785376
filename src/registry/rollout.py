"""The rollout of a model's challenger: off, a canary share of traffic, or shadow.

One row per model in ``model_rollouts`` says how the ``challenger`` alias takes part in serving:

* ``off`` (the default for every model): the champion answers everything.
* ``canary``: a share (0 < share < 1) of entities is answered by the challenger; which ones is fixed
  by a hash of (model name, entity id), so an entity always lands on the same arm (see
  :mod:`serving.canary`).
* ``shadow``: the champion answers; the challenger scores the same rows off the request path and
  both answers are logged for comparison.

Every change is appended to ``rollout_events`` (who, when, why, from which mode, the challenger
version at the time) and to the audit chain (``rollout.set``), which also moves the governance
revision, so that running servers pick the change up as they pick up alias moves. Canary and shadow
need a ``challenger`` alias; ``off`` is always allowed.
"""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import MODEL_NAME_PATTERN, list_aliases
from registry.store import governance_session
from warehouse.audit import append_entry
from warehouse.db import Base, as_utc, utc_now
from warehouse.errors import ChallengerMissing, InvalidRequest

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

CHALLENGER_ALIAS = "challenger"


class RolloutMode(StrEnum):
    """How the challenger takes part in serving."""

    OFF = "off"
    CANARY = "canary"
    SHADOW = "shadow"


class RolloutRecord(Base):
    """The current rollout of one model (no row: ``off``)."""

    __tablename__ = "model_rollouts"

    model_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))
    canary_share: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RolloutEvent(Base):
    """One change of a model's rollout."""

    __tablename__ = "rollout_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    from_mode: Mapped[str | None] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(10))
    canary_share: Mapped[float | None] = mapped_column(Float)
    challenger_version: Mapped[str | None] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Rollout(BaseModel):
    """The rollout of a model: its mode, the canary share, and who set it, when and why."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    mode: RolloutMode
    canary_share: float | None = Field(description="Share of entities the challenger answers (canary only).")
    actor: str | None = Field(description="Who set it (null: never set, so off).")
    reason: str
    at: dt.datetime | None


class RolloutChange(BaseModel):
    """One recorded change of a rollout, as kept in the rollout history."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    from_mode: RolloutMode | None
    mode: RolloutMode
    canary_share: float | None
    challenger_version: str | None
    actor: str
    reason: str
    at: dt.datetime


def check_canary_share(mode: RolloutMode, canary_share: float | None) -> None:
    """A canary needs a share strictly between 0 and 1; the other modes take none."""
    if mode == RolloutMode.CANARY:
        if canary_share is None or not 0.0 < canary_share < 1.0:
            raise InvalidRequest(f"a canary share must lie strictly between 0 and 1, got {canary_share}")
    elif canary_share is not None:
        raise InvalidRequest(f"only a canary takes a share; mode {mode} does not")


def set_rollout(
    settings: Settings,
    *,
    model_name: str,
    mode: RolloutMode,
    canary_share: float | None = None,
    actor: str,
    reason: str = "",
) -> Rollout:
    """Set how the challenger of ``model_name`` takes part in serving; canary and shadow need one."""
    check_canary_share(mode, canary_share)
    if not MODEL_NAME_PATTERN.fullmatch(model_name):
        raise InvalidRequest(f"{model_name!r} is not a registered model name")
    challenger = list_aliases(settings, model_name).get(CHALLENGER_ALIAS)
    if mode != RolloutMode.OFF and challenger is None:
        raise ChallengerMissing(
            f"model {model_name!r} has no {CHALLENGER_ALIAS!r} alias; promote a version to {CHALLENGER_ALIAS} "
            f"before a {mode} rollout"
        )
    now = utc_now()
    with governance_session(settings) as session:
        record = session.get(RolloutRecord, model_name, with_for_update=True)
        previous = RolloutMode(record.mode) if record is not None else None
        if record is None:
            record = RolloutRecord(model_name=model_name)
            session.add(record)
        record.mode, record.canary_share, record.actor, record.reason, record.at = (
            str(mode), canary_share, actor, reason, now,
        )  # fmt: skip
        _record_change(session, record, previous=previous, challenger=challenger)
        rollout = _rollout(record)
    logger.info("rollout of %s: %s (share %s, by %s): %s", model_name, mode, canary_share, actor, reason)
    return rollout


def get_rollout(settings: Settings, model_name: str) -> Rollout:
    """The rollout of ``model_name`` (``off`` if it was never set)."""
    with governance_session(settings) as session:
        return read_rollout(session, model_name)


def read_rollout(session: Session, model_name: str) -> Rollout:
    """The rollout of ``model_name`` in the caller's session (``off`` if it was never set)."""
    record = session.get(RolloutRecord, model_name)
    if record is None:
        return Rollout(model_name=model_name, mode=RolloutMode.OFF, canary_share=None, actor=None, reason="", at=None)
    return _rollout(record)


def rollout_history(settings: Settings, model_name: str) -> list[RolloutChange]:
    """Every recorded rollout change of ``model_name``, oldest first."""
    query = select(RolloutEvent).where(RolloutEvent.model_name == model_name).order_by(RolloutEvent.id)
    with governance_session(settings) as session:
        return [_change(event) for event in session.scalars(query)]


def _record_change(
    session: Session, record: RolloutRecord, *, previous: RolloutMode | None, challenger: str | None
) -> None:
    session.add(
        RolloutEvent(
            model_name=record.model_name,
            from_mode=previous,
            mode=record.mode,
            canary_share=record.canary_share,
            challenger_version=challenger,
            actor=record.actor,
            reason=record.reason,
            at=record.at,
        )
    )
    append_entry(
        session,
        actor=record.actor,
        action="rollout.set",
        subject=f"{record.model_name}/{CHALLENGER_ALIAS}",
        detail={
            "from_mode": previous,
            "mode": record.mode,
            "canary_share": record.canary_share,
            "challenger_version": challenger,
            "reason": record.reason,
        },
    )


def _rollout(record: RolloutRecord) -> Rollout:
    return Rollout(
        model_name=record.model_name,
        mode=RolloutMode(record.mode),
        canary_share=record.canary_share,
        actor=record.actor,
        reason=record.reason,
        at=as_utc(record.at),
    )


def _change(event: RolloutEvent) -> RolloutChange:
    return RolloutChange(
        model_name=event.model_name,
        from_mode=RolloutMode(event.from_mode) if event.from_mode else None,
        mode=RolloutMode(event.mode),
        canary_share=event.canary_share,
        challenger_version=event.challenger_version,
        actor=event.actor,
        reason=event.reason,
        at=as_utc(event.at),
    )
