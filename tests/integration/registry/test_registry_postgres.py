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
from tests.unit.registry.conftest import approve_version
from warehouse.db import VERSION_TABLE, MetadataDB, migration_heads
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
    for ref in refs:
        approve_version(settings, ref.version)
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
    assert {"model_lifecycle", "lifecycle_events", "audit_log", "audit_head"} <= tables
    revisions = _revisions(database_url)
    assert set(revisions[VERSION_TABLE]) == migration_heads()
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
    assert set(_revisions(database_url)[VERSION_TABLE]) == migration_heads()


def test_lifecycle_signing_and_audit_on_postgres(postgres_database: Callable[[], str], tmp_path: Path) -> None:
    from registry.lifecycle import get_state, promote, reinstate, rollback, suspend
    from warehouse.audit import verify_chain
    from warehouse.errors import (
        InvalidLifecycleTransition,
        ModelIntegrityError,
        ModelNotApproved,
        TwoPersonRuleViolation,
    )

    database_url = postgres_database()
    settings = Settings(data_dir=tmp_path / "wh", database_url=database_url, mlflow_tracking_uri=postgres_database())
    frame = synthetic_training_set(n_entities=40, seed=5, positive_rate=0.10)
    reports = [run_training(settings, FireRisk(), frame, seed=seed, params=FAST_FIRE_RISK_PARAMS) for seed in (1, 2)]
    first, second = (
        register_version(settings, run_id=report.run_id, model_name=NAME, actor="ci").version for report in reports
    )

    with pytest.raises(ModelNotApproved):
        promote(settings, model_name=NAME, version=first, alias="champion", actor="ci")
    with pytest.raises(TwoPersonRuleViolation):
        approve_version(settings, first, reviewer="scientist")
    approve_version(settings, second)
    promote(settings, model_name=NAME, version=second, alias="champion", actor="ops")
    suspend(settings, model_name=NAME, version=second, actor="ops", reason="drift")
    with pytest.raises(ModelNotApproved, match="suspended"):
        fetch_model(settings, resolve_version(settings, model_name=NAME, alias_or_version="champion"))

    assert get_state(settings, model_name=NAME, version=second).state == "suspended"
    with pytest.raises(InvalidLifecycleTransition, match="nothing to roll back"):
        rollback(settings, model_name=NAME, alias="champion", actor="ops")
    assert verify_chain(settings).intact
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE model_lifecycle SET onnx_sm3 = :digest"), {"digest": "0" * 64})
        connection.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    reinstate(settings, model_name=NAME, version=second, actor="ops", reason="fixed")

    assert verify_chain(settings).first_broken_seq == 2
    with pytest.raises(ModelIntegrityError, match="registered SM3 digest"):
        fetch_model(settings, resolve_version(settings, model_name=NAME, alias_or_version="champion"))
