"""The register / alias / fetch flow with MLflow's backend store and the metadata DB on real PostgreSQL.

One fresh database per test holds both MLflow's tables and ours: MLflow's Alembic keeps its
revision in ``alembic_version`` and ours in ``warehouse_alembic_version``, so neither migrates the
other's schema. The database is dropped afterwards by the ``postgres_database`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from algorithms.fire_risk import FireRisk
from algorithms.testing import FAST_FIRE_RISK_PARAMS, synthetic_training_set
from experiments.training import run_training
from registry.models import (
    alias_history,
    fetch_model,
    list_aliases,
    register_version,
    resolve_version,
    set_alias,
)
from warehouse.db import VERSION_TABLE, MetadataDB
from warehouse.errors import ModelNotFound
from warehouse.settings import Settings
from warehouse.tracking import mlflow_client

pytestmark = pytest.mark.integration

NAME = "fire_risk"


def _settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, mlflow_tracking_uri=database_url)


def _revisions(database_url: str) -> dict[str, list[str]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: list(connection.execute(text(f"SELECT version_num FROM {table}")).scalars())
                for table in ("alembic_version", VERSION_TABLE)
            }
    finally:
        engine.dispose()


def test_register_alias_fetch_on_postgres(postgres_database: Callable[[], str], tmp_path: Path) -> None:
    database_url = postgres_database()
    settings = _settings(database_url, tmp_path / "wh")
    frame = synthetic_training_set(n_entities=40, seed=5, positive_rate=0.10)
    reports = [run_training(settings, FireRisk(), frame, seed=seed, params=FAST_FIRE_RISK_PARAMS) for seed in (1, 2)]

    refs = [register_version(settings, run_id=report.run_id, model_name=NAME, actor="ci") for report in reports]
    set_alias(settings, model_name=NAME, alias="champion", version=refs[0].version, actor="ci", reason="first")
    set_alias(settings, model_name=NAME, alias="champion", version=refs[1].version, actor="ci", reason="second")
    champion = resolve_version(settings, model_name=NAME, alias_or_version="champion")
    artifact = fetch_model(settings, champion)

    assert [ref.version for ref in refs] == ["1", "2"]
    assert (champion.version, champion.run_id) == ("2", reports[1].run_id)
    assert list_aliases(settings, NAME) == {"champion": "2"}
    assert [(move.from_version, move.to_version) for move in alias_history(settings, NAME)] == [(None, "1"), ("1", "2")]
    assert artifact.onnx_path == settings.runtime_dir / "models" / NAME / "2" / "model.onnx"
    assert artifact.metadata.run_id == reports[1].run_id
    assert artifact.metadata.grading == reports[1].grading
    with pytest.raises(ModelNotFound, match="no alias 'challenger'"):
        resolve_version(settings, model_name=NAME, alias_or_version="challenger")

    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"alembic_version", VERSION_TABLE, "alias_history", "registered_models", "model_versions"} <= tables
    revisions = _revisions(database_url)
    assert revisions[VERSION_TABLE] == ["0001"]
    assert len(revisions["alembic_version"]) == 1
    assert revisions["alembic_version"] != revisions[VERSION_TABLE]


def test_mlflow_starts_on_a_database_that_already_holds_our_schema(
    postgres_database: Callable[[], str], tmp_path: Path
) -> None:
    database_url = postgres_database()
    db = MetadataDB(database_url)
    db.upgrade_schema()
    db.dispose()
    settings = _settings(database_url, tmp_path / "wh")

    client = mlflow_client(settings)
    client.create_registered_model(NAME)

    assert client.get_registered_model(NAME).name == NAME
    with pytest.raises(ModelNotFound, match="no version 1"):
        resolve_version(settings, model_name=NAME, alias_or_version="1")
    assert _revisions(database_url)[VERSION_TABLE] == ["0001"]
