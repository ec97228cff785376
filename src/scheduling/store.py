"""Metadata tables of the scheduling package: committed chunks, jobs, scheduler leases, alerts.

The tables live in the metadata DB next to ``batch_runs`` (see :class:`warehouse.db.BatchRun`) and
are created by the Alembic migration ``0002_scheduling``. Two constraints carry the guarantees:

* ``batch_run_chunks`` is unique on ``(run_id, chunk_index)``: a chunk is committed once, so a
  resumed run never writes a chunk twice;
* ``batch_job_ticks`` is unique on ``(job_name, scheduled_for)``: the scheduler that inserts a tick's row
  runs it, and every other scheduler on the same database skips it.

Table names carry a ``batch_`` / ``warning_`` prefix because MLflow may share the database and
owns a ``jobs`` table of its own.

``batch_run_results`` holds every scored row (keyed by ``(run_id, entity_id)``), inserted in the
transaction that commits its chunk, so a resumed run never writes one twice.

``alert_deliveries`` is the alert outbox: a row per alert event and target, written in the chunk's
transaction together with the alert, so a crash never loses one; the deliverer drains it.

An alert's ``open_key`` holds the entity id while the alert is open or acknowledged and NULL once it
is closed; ``(job_name, open_key)`` is unique, so one entity has at most one live alert per job.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.db import Base, utc_now


class RunChunk(Base):
    """One chunk of a batch run whose parquet part is written and whose rows are counted."""

    __tablename__ = "batch_run_chunks"
    __table_args__ = (UniqueConstraint("run_id", "chunk_index", name="uq_batch_run_chunks_run_chunk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("batch_runs.id", ondelete="CASCADE"), index=True)
    chunk_index: Mapped[int] = mapped_column(Integer)
    entities: Mapped[int] = mapped_column(Integer)
    """Entities of the population the chunk covered (before the job's population filter)."""
    rows: Mapped[int] = mapped_column(Integer)
    """Rows written to the chunk's part (after the filter)."""
    committed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class JobRecord(Base):
    """A scheduled batch-scoring job: its validated spec (JSON) and whether it is paused."""

    __tablename__ = "batch_jobs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    spec: Mapped[str] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class JobTick(Base):
    """The lease on one scheduled fire time of a job: whoever inserted it runs it."""

    __tablename__ = "batch_job_ticks"
    __table_args__ = (UniqueConstraint("job_name", "scheduled_for", name="uq_batch_job_ticks_job_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_name: Mapped[str] = mapped_column(String(100), index=True)
    scheduled_for: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    scheduler_id: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    run_id: Mapped[str | None] = mapped_column(String(64))


class AlertRecord(Base):
    """An early warning: an entity whose score or level crossed a job's thresholds."""

    __tablename__ = "warning_alerts"
    __table_args__ = (UniqueConstraint("job_name", "open_key", name="uq_warning_alerts_job_open_entity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_name: Mapped[str] = mapped_column(String(100), index=True)
    algorithm: Mapped[str] = mapped_column(String(100))
    entity_id: Mapped[str] = mapped_column(String(100), index=True)
    open_key: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(50))
    model_version: Mapped[str] = mapped_column(String(50))
    first_run_id: Mapped[str] = mapped_column(String(64))
    last_run_id: Mapped[str] = mapped_column(String(64))
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    acted_by: Mapped[str | None] = mapped_column(String(200))
    acted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the model's top reasons at the latest crossing (migration 0004_alert_delivery)."""


class DeliveryRecord(Base):
    """One alert event waiting for (or done with) delivery to one webhook or Redis stream."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(Integer, ForeignKey("warning_alerts.id", ondelete="CASCADE"), index=True)
    job_name: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(30))
    """``alert.opened`` or ``alert.updated``."""
    channel: Mapped[str] = mapped_column(String(20))
    """``webhook`` or ``redis_stream``."""
    target: Mapped[str] = mapped_column(Text)
    """The webhook URL or the stream key."""
    payload: Mapped[str] = mapped_column(Text)
    """JSON of the alert as it stood when the event happened."""
    status: Mapped[str] = mapped_column(String(20), index=True)
    """``pending``, ``delivered`` or ``failed`` (attempts used up)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    backoff_initial_s: Mapped[float] = mapped_column(Float)
    backoff_max_s: Mapped[float] = mapped_column(Float)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class InspectionDrawRecord(Base):
    """One "双随机" random inspection draw from a finished run: its seed, what it drew per grade."""

    __tablename__ = "inspection_draws"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("batch_runs.id", ondelete="CASCADE"), index=True)
    job_name: Mapped[str | None] = mapped_column(String(100), index=True)
    algorithm: Mapped[str] = mapped_column(String(100))
    seed: Mapped[int] = mapped_column(Integer)
    requested_total: Mapped[int | None] = mapped_column(Integer)
    """The list size asked for; None when every grade was drawn at its own sampling ratio."""
    drawn: Mapped[int] = mapped_column(Integer)
    population: Mapped[str] = mapped_column(Text)
    """JSON: grade -> entities of that grade in the run."""
    counts: Mapped[str] = mapped_column(Text)
    """JSON: grade -> entities drawn."""
    ratios: Mapped[str] = mapped_column(Text)
    """JSON: grade -> sampling ratio the draw weighted it by."""
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class InspectionDrawEntity(Base):
    """One entity on a draw's inspection list, in draw order."""

    __tablename__ = "inspection_draw_entities"
    __table_args__ = (UniqueConstraint("draw_id", "entity_id", name="uq_inspection_draw_entities_draw_entity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draw_id: Mapped[str] = mapped_column(String(64), ForeignKey("inspection_draws.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    entity_id: Mapped[str] = mapped_column(String(100))
    grade: Mapped[str] = mapped_column(String(50))
    credit_score: Mapped[float | None] = mapped_column(Float)


class RunResult(Base):
    """One scored entity of a batch run, queryable without reading the run's parquet output."""

    __tablename__ = "batch_run_results"
    # Keyed by (run_id, entity_id), WITHOUT ROWID on SQLite: each row in one B-tree, which also serves
    # lookups by run (migration 0008).
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("batch_runs.id", ondelete="CASCADE"), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(50))
    warning: Mapped[bool] = mapped_column(Boolean)
    model_version: Mapped[str] = mapped_column(String(50))
    credit_score: Mapped[float | None] = mapped_column(Float)
    """Points on the model's score scale, where it has one (credit supervision)."""
