"""Canary and shadow: the rollout setting of each model, its history, and the comparison log.

Revision ID: 0006_canary
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_canary"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the rollout, rollout history and score comparison tables."""
    op.create_table(
        "model_rollouts",
        sa.Column("model_name", sa.String(200), primary_key=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("canary_share", sa.Float, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rollout_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(200), nullable=False, index=True),
        sa.Column("from_mode", sa.String(10), nullable=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("canary_share", sa.Float, nullable=True),
        sa.Column("challenger_version", sa.String(50), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "score_comparisons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("served_by", sa.String(20), nullable=False),
        sa.Column("champion_version", sa.String(50), nullable=True),
        sa.Column("challenger_version", sa.String(50), nullable=True),
        sa.Column("champion_score", sa.Float, nullable=True),
        sa.Column("challenger_score", sa.Float, nullable=True),
        sa.Column("champion_level", sa.String(50), nullable=True),
        sa.Column("challenger_level", sa.String(50), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_score_comparisons_model_at", "score_comparisons", ["model_name", "at"])


def downgrade() -> None:
    """Drop what upgrade created."""
    op.drop_index("ix_score_comparisons_model_at", table_name="score_comparisons")
    op.drop_table("score_comparisons")
    op.drop_table("rollout_events")
    op.drop_table("model_rollouts")
