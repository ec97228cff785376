"""The metadata DB's migrations on real PostgreSQL: to head, idempotent, rows round-trip with time zones."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import inspect, select

from warehouse.db import VERSION_TABLE, AliasEvent, MetadataDB, utc_now

pytestmark = pytest.mark.integration


def test_migrations_and_rows_on_postgres(postgres_database: Callable[[], str]) -> None:
    db = MetadataDB(postgres_database())
    db.upgrade_schema()
    db.upgrade_schema()
    assert {"alias_history", "batch_runs", VERSION_TABLE} <= set(inspect(db.engine).get_table_names())
    at = utc_now()
    with db.session() as session:
        session.add(
            AliasEvent(model_name="m", alias="champion", from_version="1", to_version="2", actor="a", reason="r", at=at)
        )
    with db.session() as session:
        row = session.scalars(select(AliasEvent)).one()
    db.dispose()
    assert (row.from_version, row.to_version, row.at) == ("1", "2", at)
