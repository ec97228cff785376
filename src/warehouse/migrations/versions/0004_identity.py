"""Identity: principals (departments, applications), their API keys (salted digests), model grants.

Revision ID: 0004_identity
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_identity"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the principals, api_keys and model_grants tables."""
    op.create_table(
        "principals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("clearance", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("principal_id", sa.Integer, sa.ForeignKey("principals.id"), nullable=False, index=True),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("secret_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "model_grants",
        sa.Column("principal_id", sa.Integer, sa.ForeignKey("principals.id"), primary_key=True),
        sa.Column("model_name", sa.String(200), primary_key=True),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop what upgrade created."""
    for table in ("model_grants", "api_keys", "principals"):
        op.drop_table(table)
