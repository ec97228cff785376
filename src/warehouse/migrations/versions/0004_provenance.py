"""Provenance of model versions imported from another node's signed bundle.

Revision ID: 0004_provenance
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_provenance"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the model provenance table."""
    op.create_table(
        "model_provenance",
        sa.Column("model_name", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(50), primary_key=True),
        sa.Column("origin_node_id", sa.String(16), nullable=False),
        sa.Column("origin_model_name", sa.String(200), nullable=False),
        sa.Column("origin_version", sa.String(50), nullable=False),
        sa.Column("bundle_sm3", sa.String(64), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("origin_node_id", "origin_model_name", "origin_version"),
    )


def downgrade() -> None:
    """Drop what upgrade created."""
    op.drop_table("model_provenance")
