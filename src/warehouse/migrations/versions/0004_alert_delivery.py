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
    """Add the alerts' reasons."""
    with op.batch_alter_table("warning_alerts") as batch:
        batch.add_column(sa.Column("reasons", sa.Text, nullable=False, server_default="[]"))


def downgrade() -> None:
    """Drop what upgrade created."""
    with op.batch_alter_table("warning_alerts") as batch:
        batch.drop_column("reasons")
