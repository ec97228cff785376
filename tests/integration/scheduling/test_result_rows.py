"""Result rows by the driver's bulk path, on SQLite and PostgreSQL: exact values, all-or-nothing, unique."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from scheduling.executor import RESULT_COLUMNS, insert_results
from scheduling.store import RunChunk, RunResult
from warehouse.db import BatchRun, MetadataDB

pytestmark = pytest.mark.integration

ROWS = [
    ("run-1", "B0000001", 0.1234567890123456789, "low", False, "3", None),
    ("run-1", "B0000002", 0.9999999999999999, "high", True, "3", 612.5),
    ("run-1", "B0000003", 5e-324, "低", False, "3", 0.1),
]


class Rollback(Exception):
    """Raised inside a chunk's transaction to abort it."""


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, postgres_database: Callable[[], str], tmp_path: Path) -> MetadataDB:
    url = postgres_database() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'metadata.db'}"
    database = MetadataDB(url)
    database.upgrade_schema()
    with database.session() as session:
        session.add(
            BatchRun(id="run-1", algorithm="fire_risk", model_name="fire_risk", model_version="3", status="running")
        )
    request.addfinalizer(database.dispose)
    return database


def stored(db: MetadataDB) -> list[tuple[object, ...]]:
    with db.session() as session:
        columns = [getattr(RunResult, name) for name in RESULT_COLUMNS]
        return [tuple(row) for row in session.execute(select(*columns).order_by(RunResult.entity_id))]


def test_rows_are_stored_exactly(db: MetadataDB) -> None:
    with db.session() as session:
        insert_results(session, ROWS)
    assert stored(db) == ROWS


def test_rows_commit_with_their_chunk_or_not_at_all(db: MetadataDB) -> None:
    with pytest.raises(Rollback), db.session() as session:
        session.add(RunChunk(run_id="run-1", chunk_index=0, entities=3, rows=3))
        session.flush()
        insert_results(session, ROWS)
        raise Rollback
    assert stored(db) == []
    with db.session() as session:
        assert session.scalars(select(RunChunk)).all() == []


def test_an_entity_scored_twice_in_a_run_is_refused_and_nothing_is_kept(db: MetadataDB) -> None:
    with db.session() as session:
        insert_results(session, ROWS[:1])
    with pytest.raises(IntegrityError), db.session() as session:
        insert_results(session, ROWS[1:] + ROWS[:1])
    assert [row[1] for row in stored(db)] == ["B0000001"]
