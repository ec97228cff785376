"""Governance records next to each MLflow model version: lifecycle state, card, digests, signature.

The transition table lives here and only here: :func:`apply_transition` checks every lifecycle step
against it, records the step in ``lifecycle_events`` and appends it to the audit chain, all in the
caller's transaction. MLflow keeps the versions and aliases; these tables keep what MLflow lacks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.audit import AuditHead, append_entry
from warehouse.db import Base, connect_metadata_db, utc_now
from warehouse.errors import InvalidLifecycleTransition, ModelNotApproved, ModelNotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from warehouse.settings import Settings


class LifecycleState(StrEnum):
    """Where a model version stands in review and release."""

    REGISTERED = "registered"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"
    SUSPENDED = "suspended"
    DELISTED = "delisted"
    REJECTED = "rejected"


S = LifecycleState
TRANSITIONS: dict[str, tuple[frozenset[LifecycleState], LifecycleState]] = {
    "submit": (frozenset({S.REGISTERED, S.REJECTED}), S.IN_REVIEW),
    "approve": (frozenset({S.IN_REVIEW}), S.APPROVED),
    "reject": (frozenset({S.IN_REVIEW}), S.REJECTED),
    "publish": (frozenset({S.APPROVED}), S.PUBLISHED),
    "suspend": (frozenset({S.APPROVED, S.PUBLISHED}), S.SUSPENDED),
    "reinstate": (frozenset({S.SUSPENDED}), S.APPROVED),
    "delist": (frozenset(set(S) - {S.DELISTED}), S.DELISTED),
}
"""Every allowed step: action -> (states it may start from, state it leads to)."""
SERVABLE_STATES = frozenset({S.APPROVED, S.PUBLISHED})
"""States in which a version may hold an alias and be loaded for scoring."""
PUBLISHING_ALIASES = frozenset({"champion", "challenger"})
"""Aliases whose receipt publishes an approved version."""


class VersionRecord(Base):
    """The governance record of one model version."""

    __tablename__ = "model_lifecycle"

    model_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[str] = mapped_column(String(50), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    registered_by: Mapped[str] = mapped_column(String(200))
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    card: Mapped[str] = mapped_column(Text)
    onnx_sm3: Mapped[str] = mapped_column(String(64))
    metadata_sm3: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    signer_key_id: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ModelProvenance(Base):
    """Where an imported version came from: the exporting node, its version there, the bundle."""

    __tablename__ = "model_provenance"
    __table_args__ = (UniqueConstraint("origin_node_id", "origin_model_name", "origin_version"),)

    model_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[str] = mapped_column(String(50), primary_key=True)
    origin_node_id: Mapped[str] = mapped_column(String(16))
    origin_model_name: Mapped[str] = mapped_column(String(200))
    origin_version: Mapped[str] = mapped_column(String(50))
    bundle_sm3: Mapped[str] = mapped_column(String(64))
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class LifecycleEvent(Base):
    """One lifecycle step of a version: from which state to which, who, when and why."""

    __tablename__ = "lifecycle_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str] = mapped_column(String(50))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@contextmanager
def governance_session(settings: Settings) -> Iterator[Session]:
    """A transaction on the metadata DB (schema brought to head first), disposed afterwards."""
    db = connect_metadata_db(settings)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def load_record(session: Session, model_name: str, version: str, *, for_update: bool = False) -> VersionRecord:
    """The governance record of a version (row-locked on PostgreSQL when ``for_update``)."""
    query = select(VersionRecord).where(VersionRecord.model_name == model_name, VersionRecord.version == version)
    if for_update:
        query = query.with_for_update()
    record = session.scalar(query)
    if record is None:
        raise ModelNotFound(f"model {model_name!r} has no governed version {version!r}")
    return record


def add_record(session: Session, record: VersionRecord, *, actor: str, reason: str, action: str = "register") -> None:
    """Insert a new version record in state ``registered``, with its first event and audit entry ``model.<action>``."""
    record.state = S.REGISTERED
    session.add(record)
    _record_step(session, record, from_state=None, actor=actor, reason=reason, action=action)


def add_imported_record(session: Session, record: VersionRecord, provenance: ModelProvenance, *, actor: str) -> None:
    """Insert an imported version in state ``approved`` (its origin approved it), with its provenance."""
    record.state = S.APPROVED
    session.add(record)
    session.add(provenance)
    reason = (
        f"imported from node {provenance.origin_node_id} ({provenance.origin_model_name} version "
        f"{provenance.origin_version}, approved there); bundle SM3 {provenance.bundle_sm3}"
    )
    _record_step(session, record, from_state=None, actor=actor, reason=reason, action="import")


def find_provenance(
    session: Session, *, origin_node_id: str, origin_model_name: str, origin_version: str
) -> ModelProvenance | None:
    """The local version imported from that origin version, if it was imported before."""
    return session.scalar(
        select(ModelProvenance).where(
            ModelProvenance.origin_node_id == origin_node_id,
            ModelProvenance.origin_model_name == origin_model_name,
            ModelProvenance.origin_version == origin_version,
        )
    )


def load_provenance(session: Session, model_name: str, version: str) -> ModelProvenance | None:
    """The provenance of a local version (None: it was registered here, not imported)."""
    return session.get(ModelProvenance, (model_name, version))


def apply_transition(session: Session, record: VersionRecord, action: str, *, actor: str, reason: str) -> None:
    """Move ``record`` by ``action`` if the transition table allows it; record and audit the step."""
    check_transition(record, action)
    current = LifecycleState(record.state)
    record.state = TRANSITIONS[action][1]
    record.updated_at = utc_now()
    _record_step(session, record, from_state=current, actor=actor, reason=reason, action=action)


def check_transition(record: VersionRecord, action: str) -> None:
    """Raise :class:`InvalidLifecycleTransition` unless the table allows ``action`` from the record's state."""
    sources = TRANSITIONS[action][0]
    current = LifecycleState(record.state)
    if current not in sources:
        allowed = ", ".join(sorted(sources))
        raise InvalidLifecycleTransition(
            f"cannot {action} {record.model_name} version {record.version}: it is {current}, "
            f"and {action} needs one of: {allowed}"
        )


def require_servable(record: VersionRecord) -> None:
    """Refuse a version that may not hold an alias or be loaded (not approved or published)."""
    if record.state not in SERVABLE_STATES:
        raise ModelNotApproved(
            f"{record.model_name} version {record.version} is {record.state}; "
            "only approved or published versions can hold an alias or be served"
        )


def governance_revision(session: Session) -> int:
    """A counter that grows with every audited change (lifecycle step, alias move): cheap to poll."""
    return int(session.scalar(select(AuditHead.seq)) or 0)


def _record_step(
    session: Session, record: VersionRecord, *, from_state: str | None, actor: str, reason: str, action: str
) -> None:
    session.add(
        LifecycleEvent(
            model_name=record.model_name,
            version=record.version,
            from_state=from_state,
            to_state=record.state,
            actor=actor,
            reason=reason,
            at=utc_now(),
        )
    )
    append_entry(
        session,
        actor=actor,
        action=f"model.{action}",
        subject=f"{record.model_name}/{record.version}",
        detail={"from_state": from_state, "to_state": record.state, "reason": reason},
    )


class GovernanceProbe:
    """Cheap repeated reads of governance state for a long-running server (one pooled engine)."""

    def __init__(self, settings: Settings) -> None:
        self._db = connect_metadata_db(settings)

    def revision(self) -> int:
        """The current governance revision (see :func:`governance_revision`)."""
        with self._db.session() as session:
            return governance_revision(session)

    def servable(self, versions: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of the (model name, version) pairs are approved or published."""
        wanted = set(versions)
        if not wanted:
            return set()
        names = {name for name, _ in wanted}
        query = select(VersionRecord.model_name, VersionRecord.version).where(
            VersionRecord.model_name.in_(names), VersionRecord.state.in_([str(state) for state in SERVABLE_STATES])
        )
        with self._db.session() as session:
            return {(name, version) for name, version in session.execute(query)} & wanted

    def close(self) -> None:
        """Release the connection pool."""
        self._db.dispose()
