"""Scheduling: run plans and job links on batch runs, committed chunks, jobs, scheduler leases, alerts.

Revision ID: 0002_scheduling
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_scheduling"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Extend batch runs and create the chunk, job, tick and alert tables."""
    with op.batch_alter_table("batch_runs") as batch:
        batch.add_column(sa.Column("job_name", sa.String(100)))
        batch.add_column(sa.Column("scheduled_for", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("plan", sa.Text, nullable=False, server_default=""))
        batch.create_index("ix_batch_runs_job_name", ["job_name"])
    op.create_table(
        "batch_run_chunks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("batch_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("chunk_index", sa.Integer, nullable=False),
        sa.Column("entities", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "chunk_index", name="uq_batch_run_chunks_run_chunk"),
    )
    op.create_index("ix_batch_run_chunks_run_id", "batch_run_chunks", ["run_id"])
    op.create_table(
        "batch_jobs",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "batch_job_ticks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_name", sa.String(100), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduler_id", sa.String(100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.UniqueConstraint("job_name", "scheduled_for", name="uq_batch_job_ticks_job_time"),
    )
    op.create_index("ix_batch_job_ticks_job_name", "batch_job_ticks", ["job_name"])
    _create_alerts()


def _create_alerts() -> None:
    op.create_table(
        "warning_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_name", sa.String(100), nullable=False),
        sa.Column("algorithm", sa.String(100), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("open_key", sa.String(100)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("level", sa.String(50), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("first_run_id", sa.String(64), nullable=False),
        sa.Column("last_run_id", sa.String(64), nullable=False),
        sa.Column("times_seen", sa.Integer, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acted_by", sa.String(200)),
        sa.Column("acted_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.UniqueConstraint("job_name", "open_key", name="uq_warning_alerts_job_open_entity"),
    )
    for column in ("job_name", "entity_id", "status"):
        op.create_index(f"ix_warning_alerts_{column}", "warning_alerts", [column])


def downgrade() -> None:
    """Drop what upgrade created."""
    op.drop_table("warning_alerts")
    op.drop_table("batch_job_ticks")
    op.drop_table("batch_jobs")
    op.drop_table("batch_run_chunks")
    with op.batch_alter_table("batch_runs") as batch:
        batch.drop_index("ix_batch_runs_job_name")
        batch.drop_column("plan")
        batch.drop_column("scheduled_for")
        batch.drop_column("job_name")
