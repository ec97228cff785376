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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0008_keeps_every_result_row_both_ways(
    backend: str, postgres_database: Callable[[], str], tmp_path: Path
) -> None:
    """Rows written under the surrogate-key layout survive the rebuild keyed by (run, entity), and back."""
    from alembic import command
    from sqlalchemy import inspect, text

    from warehouse.db import _alembic_config

    url = postgres_database() if backend == "postgresql" else f"sqlite:///{tmp_path / 'metadata.db'}"
    database = MetadataDB(url)
    config = _alembic_config()

    def migrate(step: Callable[..., None], revision: str) -> None:
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)

    migrate(command.upgrade, "0007_batchrate_results_index")
    columns = ", ".join(RESULT_COLUMNS)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO batch_runs (id, algorithm, model_name, model_version, status, rows_total, rows_done, "
                "output_uri, error, started_at, plan) "
                "VALUES ('run-1', 'fire_risk', 'fire_risk', '3', 'done', 3, 3, '', '', CURRENT_TIMESTAMP, '')"
            )
        )
        for row in ROWS:
            marks = ", ".join(f":c{i}" for i in range(len(row)))
            connection.execute(
                text(f"INSERT INTO batch_run_results ({columns}) VALUES ({marks})"),
                {f"c{i}": value for i, value in enumerate(row)},
            )
    migrate(command.upgrade, "heads")
    assert inspect(database.engine).get_pk_constraint("batch_run_results")["constrained_columns"] == [
        "run_id",
        "entity_id",
    ]
    if backend == "sqlite":
        with database.engine.connect() as connection:
            ddl = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'batch_run_results'")).scalar()
        assert "WITHOUT ROWID" in str(ddl)
    with database.session() as session:
        stored = session.scalars(select(RunResult).order_by(RunResult.entity_id)).all()
        assert [(r.entity_id, r.score, r.level, r.credit_score) for r in stored] == [
            (row[1], row[2], row[3], row[6]) for row in ROWS
        ]
    with pytest.raises(IntegrityError), database.session() as session:
        insert_results(session, [ROWS[0]])  # the key itself refuses a row twice
    migrate(command.downgrade, "0007_batchrate_results_index")
    with database.engine.connect() as connection:
        back = connection.execute(text("SELECT entity_id, score FROM batch_run_results ORDER BY id")).all()
    assert [tuple(row) for row in back] == [(row[1], row[2]) for row in ROWS]
    database.dispose()
