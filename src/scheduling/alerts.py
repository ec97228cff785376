"""Early-warning alerts: entities whose score or level crossed a job's thresholds.

Alerts are recorded in the same transaction that commits a chunk of a run, so a resumed run never
alerts twice for one chunk. An entity that already has a live (open or acknowledged) alert for the
job is updated (latest score, level, reasons, run, times seen), not alerted again. Each alert
carries the model's top reason codes (exact TreeSHAP contributions, as ``explain`` answers online),
computed only for the rows that cross the thresholds so that a batch run stays fast. Lifecycle:
``open -> acknowledged -> resolved``, or ``open | acknowledged -> dismissed`` with a reason; each
step records who and when, and is appended to the audit chain (``alert.<action>``, ``alert/<id>``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, TypeAdapter, field_validator
from sqlalchemy import select

from scheduling.store import AlertRecord
from warehouse.audit import append_entry
from warehouse.db import MetadataDB, as_utc, utc_now
from warehouse.errors import Conflict, ExplanationUnavailable, InvalidRequest, NotFound

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd
    from sqlalchemy.orm import Session

    from scheduling.specs import WarningThresholds
    from serving.runtime import OnnxModel
    from warehouse.db import BatchRun
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

AlertStatus = Literal["open", "acknowledged", "resolved", "dismissed"]
AlertAction = Literal["ack", "resolve", "dismiss"]
LIVE_STATUSES = ("open", "acknowledged")
TRANSITIONS: dict[AlertAction, tuple[tuple[str, ...], AlertStatus]] = {
    "ack": (("open",), "acknowledged"),
    "resolve": (LIVE_STATUSES, "resolved"),
    "dismiss": (LIVE_STATUSES, "dismissed"),
}
"""Action -> (statuses it applies to, status it leads to)."""


class AlertNotFound(NotFound):
    """No alert with that id."""

    code = "alert_not_found"


class AlertTransitionRefused(Conflict):
    """The alert's current status does not allow that action."""

    code = "alert_transition_refused"


class AlertReason(BaseModel):
    """One feature's share of the score that raised an alert (as ``explain`` answers online)."""

    model_config = ConfigDict(frozen=True)

    feature: str
    value: float | None
    """The feature's value; None where missing."""
    contribution: float
    """Log-odds this feature adds against the average prediction (TreeSHAP, exact)."""
    text: str


_REASON_LIST = TypeAdapter(list[AlertReason])
AlertReasons = Mapping[str, list[AlertReason]]
"""Entity id -> the model's top reasons for that entity's score."""


class Alert(BaseModel):
    """An alert as the CLI and the API show it."""

    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: int
    job_name: str
    algorithm: str
    entity_id: str
    status: str
    score: float
    level: str
    model_version: str
    first_run_id: str
    last_run_id: str
    times_seen: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    acted_by: str | None
    acted_at: dt.datetime | None
    reason: str
    reasons: list[AlertReason]
    """The model's top reasons at the latest crossing, largest contribution first."""

    @field_validator("first_seen_at", "last_seen_at", "acted_at")
    @classmethod
    def _in_utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else as_utc(value)

    @field_validator("reasons", mode="before")
    @classmethod
    def _stored_reasons(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value


def crossing_mask(
    scored: pd.DataFrame, thresholds: WarningThresholds, levels: tuple[str, ...]
) -> npt.NDArray[np.bool_]:
    """True for each row of a scored chunk at or above the score threshold or the minimum level."""
    crossed = np.zeros(len(scored), dtype=np.bool_)
    if thresholds.score is not None:
        crossed |= (scored["score"] >= thresholds.score).to_numpy()
    if thresholds.min_level is not None:
        rank = {level: position for position, level in enumerate(levels)}
        crossed |= (scored["level"].map(rank) >= rank[thresholds.min_level]).to_numpy()
    return crossed


def crossing_rows(scored: pd.DataFrame, thresholds: WarningThresholds, levels: tuple[str, ...]) -> pd.DataFrame:
    """Rows of a scored chunk at or above the score threshold or the minimum level."""
    return scored[crossing_mask(scored, thresholds, levels)]


def explain_crossings(
    model: OnnxModel, features: pd.DataFrame, scored: pd.DataFrame, thresholds: WarningThresholds
) -> dict[str, list[AlertReason]]:
    """Top reasons of the rows that cross the thresholds (``features`` and ``scored`` align by position).

    Contributions are computed for those rows only. A model logged without an explainer alerts
    without reasons rather than not at all.
    """
    from features.definitions import service_spec

    crossed = crossing_mask(scored, thresholds, model.metadata.grading.levels)
    if not crossed.any():
        return {}
    rows = features.iloc[np.flatnonzero(crossed)]
    descriptions = {spec.name: spec.description for spec in service_spec(model.metadata.feature_service).features}
    try:
        codes = model.top_reasons(rows, descriptions)
    except ExplanationUnavailable as exc:
        logger.warning("alerts without reasons: %s", exc.message)
        return {}
    ids = scored[model.metadata.entity].to_numpy()[crossed].astype(str).tolist()
    return {
        entity_id: [AlertReason.model_validate(vars(code)) for code in row]
        for entity_id, row in zip(ids, codes, strict=True)
    }


AlertEvent = Literal["alert.opened", "alert.updated"]


def record_alerts(
    session: Session,
    run: BatchRun,
    thresholds: WarningThresholds,
    model: OnnxModel,
    scored: pd.DataFrame,
    reasons: AlertReasons,
) -> list[tuple[AlertEvent, AlertRecord]]:
    """Open or refresh an alert for each crossing row of a chunk; returns what changed, flushed (ids set)."""
    rows = crossing_rows(scored, thresholds, model.metadata.grading.levels)
    if rows.empty or run.job_name is None:
        return []
    entity = model.metadata.entity
    ids = rows[entity].astype(str).tolist()
    live = {
        alert.entity_id: alert
        for alert in session.scalars(
            select(AlertRecord).where(AlertRecord.job_name == run.job_name, AlertRecord.open_key.in_(ids))
        )
    }
    now = utc_now()
    changed: list[tuple[AlertEvent, AlertRecord]] = []
    for entity_id, score, level in zip(ids, rows["score"].tolist(), rows["level"].tolist(), strict=True):
        alert = live.get(entity_id)
        stored_reasons = _REASON_LIST.dump_json(reasons.get(entity_id, [])).decode()
        if alert is None:
            alert = _new_alert(run, entity_id, float(score), str(level), now, stored_reasons)
            session.add(alert)
            changed.append(("alert.opened", alert))
        elif alert.last_run_id != run.id:
            alert.score, alert.level, alert.model_version = float(score), str(level), run.model_version
            alert.reasons = stored_reasons
            alert.last_run_id, alert.last_seen_at, alert.times_seen = run.id, now, alert.times_seen + 1
            changed.append(("alert.updated", alert))
    session.flush()
    return changed


def _new_alert(run: BatchRun, entity_id: str, score: float, level: str, now: dt.datetime, reasons: str) -> AlertRecord:
    return AlertRecord(
        job_name=run.job_name,
        algorithm=run.algorithm,
        entity_id=entity_id,
        open_key=entity_id,
        status="open",
        score=score,
        level=level,
        model_version=run.model_version,
        first_run_id=run.id,
        last_run_id=run.id,
        times_seen=1,
        first_seen_at=now,
        last_seen_at=now,
        reason="",
        reasons=reasons,
    )


def list_alerts(
    settings: Settings,
    *,
    job_name: str | None = None,
    status: str | None = None,
    algorithms: Collection[str] | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Alerts, newest first, optionally of one job and one status; only those of ``algorithms`` when given."""
    query = select(AlertRecord).order_by(AlertRecord.id.desc()).limit(limit)
    if job_name is not None:
        query = query.where(AlertRecord.job_name == job_name)
    if algorithms is not None:
        query = query.where(AlertRecord.algorithm.in_(sorted(algorithms)))
    if status is not None:
        query = query.where(AlertRecord.status == status)
    db = MetadataDB.from_settings(settings)
    try:
        db.upgrade_schema()
        with db.session() as session:
            return [Alert.model_validate(record) for record in session.scalars(query)]
    finally:
        db.dispose()


def get_alert(settings: Settings, alert_id: int) -> Alert:
    """Alert ``alert_id`` (404 ``alert_not_found`` if there is none)."""
    db = MetadataDB.from_settings(settings)
    try:
        db.upgrade_schema()
        with db.session() as session:
            alert = session.get(AlertRecord, alert_id)
            if alert is None:
                raise AlertNotFound(f"no alert {alert_id}")
            return Alert.model_validate(alert)
    finally:
        db.dispose()


def act_on_alert(settings: Settings, alert_id: int, *, action: AlertAction, actor: str, reason: str = "") -> Alert:
    """Acknowledge, resolve or dismiss an alert (dismissing needs a reason); records who and when."""
    if action == "dismiss" and not reason.strip():
        raise InvalidRequest("dismissing an alert needs a reason")
    allowed, target = TRANSITIONS[action]
    db = MetadataDB.from_settings(settings)
    try:
        db.upgrade_schema()
        with db.session() as session:
            alert = session.get(AlertRecord, alert_id)
            if alert is None:
                raise AlertNotFound(f"no alert {alert_id}")
            if alert.status not in allowed:
                raise AlertTransitionRefused(f"alert {alert_id} is {alert.status}; {action} needs {list(allowed)}")
            alert.status, alert.acted_by, alert.acted_at = target, actor, utc_now()
            alert.reason = reason or alert.reason
            alert.open_key = alert.entity_id if target in LIVE_STATUSES else None
            detail = {"job": alert.job_name, "entity": alert.entity_id, "status": target, "reason": reason}
            append_entry(session, actor=actor, action=f"alert.{action}", subject=f"alert/{alert_id}", detail=detail)
            return Alert.model_validate(alert)
    finally:
        db.dispose()
