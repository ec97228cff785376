"""Merge the identity, provenance and alert-delivery branches into one head.

Revision ID: 0005
Revises: 0004_identity, 0004_provenance, 0004_alert_delivery
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0005"
down_revision = ("0004_identity", "0004_provenance", "0004_alert_delivery")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: this revision only joins the branches."""


def downgrade() -> None:
    """Nothing to change: this revision only joins the branches."""
