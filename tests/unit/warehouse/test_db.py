"""The metadata DB on SQLite: migrations are idempotent and the tables take rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select, text

from warehouse.db import VERSION_TABLE, AliasEvent, MetadataDB, migration_heads
from warehouse.settings import Settings


def test_upgrade_twice_and_write(tmp_path: Path) -> None:
    db = MetadataDB.from_settings(Settings(data_dir=tmp_path))
    db.upgrade_schema()
    db.upgrade_schema()
    tables = set(inspect(db.engine).get_table_names())
    with db.engine.connect() as connection:
        recorded = set(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    assert recorded == migration_heads() == {"0008_results_keyed_by_run_entity"}
    assert {"alias_history", "batch_runs", "principals", "api_keys", "model_grants", VERSION_TABLE} <= tables
    assert {"model_provenance", "alert_deliveries", "batch_run_results", "inspection_draws"} <= tables
    assert {"model_rollouts", "rollout_events", "score_comparisons"} <= tables
    with db.session() as session:
        session.add(
            AliasEvent(model_name="m", alias="champion", from_version=None, to_version="1", actor="a", reason="")
        )
    with db.session() as session:
        rows = session.scalars(select(AliasEvent)).all()
    assert [(row.model_name, row.to_version) for row in rows] == [("m", "1")]
    db.dispose()
