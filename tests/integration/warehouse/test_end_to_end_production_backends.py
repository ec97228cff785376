"""The whole fire-risk flow on the production backends of this machine.

Metadata DB and MLflow backend store on a fresh PostgreSQL database each, the Feast online store on
Redis under a key prefix of its own; all of it dropped afterwards by the fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from tests.auth_helpers import caller_headers
from tests.conftest import REDIS_URL
from tests.engines import wait_until_ready
from warehouse.api import create_app
from warehouse.db import AliasEvent, BatchRun, MetadataDB
from warehouse.pipeline import build_demo_warehouse
from warehouse.settings import Settings

pytestmark = pytest.mark.integration

BUILDINGS = 300


def test_fire_risk_end_to_end_on_postgres_and_redis(
    tmp_path: Path, postgres_database: Callable[[], str], redis_project: str
) -> None:
    import redis

    metadata_url, mlflow_url = postgres_database(), postgres_database()
    settings = Settings(
        data_dir=tmp_path / "wh",
        database_url=metadata_url,
        mlflow_tracking_uri=mlflow_url,
        online_store="redis",
        redis_url=REDIS_URL,
        feast_project=redis_project,
    )
    published = build_demo_warehouse(settings, n_buildings=BUILDINGS, seed=11)
    assert (published.version, published.alias) == ("1", "champion")
    assert published.parity_max_abs_diff <= 1e-5

    client_redis = redis.Redis.from_url(REDIS_URL)
    assert any(redis_project.encode() in key for key in client_redis.scan_iter(count=1000))
    client_redis.close()

    headers = caller_headers(settings, "app", clearance="internal", grants=["fire_risk"])
    with TestClient(create_app(settings), headers=headers) as client:
        wait_until_ready(client)
        response = client.post("/v1/score/fire_risk", json={"entities": ["B0000001", "B9999999"]})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "1"
    assert body["results"][0]["score"] is not None
    assert body["results"][1]["error"]["code"] == "entity_not_found"

    from scheduling.batch import score_population

    report = score_population(settings, "fire_risk")
    assert report.rows == BUILDINGS
    assert pd.read_parquet(report.output_dir)["building_id"].nunique() == BUILDINGS

    db = MetadataDB.from_settings(settings)
    with db.session() as session:
        assert session.scalars(select(BatchRun.status)).all() == ["succeeded"]
        moves = session.scalars(select(AliasEvent)).all()
    db.dispose()
    assert [(move.alias, move.from_version, move.to_version) for move in moves] == [("champion", None, "1")]

    mlflow_engine = create_engine(mlflow_url)
    with mlflow_engine.connect() as connection:
        versions = connection.execute(text("SELECT name, version FROM model_versions")).all()
    mlflow_engine.dispose()
    assert [(name, str(version)) for name, version in versions] == [("fire_risk", "1")]
    assert not (settings.data_dir / "warehouse.db").exists()
    assert not (settings.data_dir / "mlflow.db").exists()
