"""Merge the governance and scheduling branches into one head.

Revision ID: 0003
Revises: 0002_governance, 0002_scheduling
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0003"
down_revision = ("0002_governance", "0002_scheduling")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: this revision only joins the two branches."""


def downgrade() -> None:
    """Nothing to change: this revision only joins the two branches."""
