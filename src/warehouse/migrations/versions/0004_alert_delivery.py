"""Alert delivery and batch results: alert reasons, the delivery outbox, inspection draws, run results.

Revision ID: 0004_alert_delivery
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_alert_delivery"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the alerts' reasons; create the delivery outbox, the inspection draws and the run results."""
    with op.batch_alter_table("warning_alerts") as batch:
        batch.add_column(sa.Column("reasons", sa.Text, nullable=False, server_default="[]"))
    _create_deliveries()
    _create_inspection_draws()
    _create_run_results()


def _create_deliveries() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("warning_alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_name", sa.String(100), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("backoff_initial_s", sa.Float, nullable=False),
        sa.Column("backoff_max_s", sa.Float, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
    )
    for column in ("alert_id", "status", "next_attempt_at"):
        op.create_index(f"ix_alert_deliveries_{column}", "alert_deliveries", [column])


def _create_inspection_draws() -> None:
    op.create_table(
        "inspection_draws",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("batch_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_name", sa.String(100)),
        sa.Column("algorithm", sa.String(100), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("requested_total", sa.Integer),
        sa.Column("drawn", sa.Integer, nullable=False),
        sa.Column("population", sa.Text, nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("ratios", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inspection_draws_run_id", "inspection_draws", ["run_id"])
    op.create_index("ix_inspection_draws_job_name", "inspection_draws", ["job_name"])
    op.create_table(
        "inspection_draw_entities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("draw_id", sa.String(64), sa.ForeignKey("inspection_draws.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("grade", sa.String(50), nullable=False),
        sa.Column("credit_score", sa.Float),
        sa.UniqueConstraint("draw_id", "entity_id", name="uq_inspection_draw_entities_draw_entity"),
    )
    op.create_index("ix_inspection_draw_entities_draw_id", "inspection_draw_entities", ["draw_id"])


def _create_run_results() -> None:
    op.create_table(
        "batch_run_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("batch_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("level", sa.String(50), nullable=False),
        sa.Column("warning", sa.Boolean, nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("credit_score", sa.Float),
        sa.UniqueConstraint("run_id", "entity_id", name="uq_batch_run_results_run_entity"),
    )
    op.create_index("ix_batch_run_results_run_id", "batch_run_results", ["run_id"])


def downgrade() -> None:
    """Drop what upgrade created."""
    op.drop_table("batch_run_results")
    op.drop_table("inspection_draw_entities")
    op.drop_table("inspection_draws")
    op.drop_table("alert_deliveries")
    with op.batch_alter_table("warning_alerts") as batch:
        batch.drop_column("reasons")
