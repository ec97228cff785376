"""Batch run results: drop the index on ``run_id`` alone, which the unique ``(run_id, entity_id)`` index covers.

Every scored row updated both indexes; lookups by run (``GET /v1/runs/{id}/results``, filtered by run
and ordered by entity) use the unique one, so the second only slowed the bulk insert of each chunk.

Revision ID: 0007_batchrate_results_index
Revises: 0006_canary
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007_batchrate_results_index"
down_revision = "0006_canary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop the redundant ``run_id`` index of ``batch_run_results``."""
    op.drop_index("ix_batch_run_results_run_id", table_name="batch_run_results")


def downgrade() -> None:
    """Create the ``run_id`` index again."""
    op.create_index("ix_batch_run_results_run_id", "batch_run_results", ["run_id"])
