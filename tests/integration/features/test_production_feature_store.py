"""The feature store on this machine's production backends: Redis online store, SQL registry on PostgreSQL.

Each test writes under a Feast project of its own (``redis_project``); the root fixtures delete its
Redis keys and drop the PostgreSQL databases afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from features.datasets import generate_population, read_table
from features.definitions import POPULATIONS, SERVICES
from features.online import read_online_features
from features.store import apply_definitions, materialize_latest, open_feature_store
from features.training import build_training_set
from tests.conftest import REDIS_URL
from warehouse.settings import Settings

pytestmark = pytest.mark.integration

BUILDINGS = 200
MONTHS = 6
NAMES = SERVICES["fire_risk"].feature_names


def _latest_features(settings: Settings, ids: list[str]) -> np.ndarray:
    population = POPULATIONS["buildings"]
    frames = [read_table(settings, "buildings", view.table) for view in population.views]
    latest = frames[0]["event_timestamp"].max()
    rows = [frame[frame["event_timestamp"] == latest].set_index("building_id") for frame in frames]
    return np.hstack([row.loc[ids].drop(columns="event_timestamp").to_numpy(dtype=float) for row in rows])


def _redis_settings(data_dir: Path, project: str, registry_url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        online_store="redis",
        redis_url=SecretStr(REDIS_URL),
        feast_project=project,
        feast_registry_url=SecretStr(registry_url) if registry_url else None,
    )


def test_materialize_into_redis_and_read_back(tmp_path: Path, redis_project: str) -> None:
    import redis

    settings = _redis_settings(tmp_path / "wh", redis_project)
    generate_population(settings, n_entities=BUILDINGS, months=MONTHS, seed=5)
    apply_definitions(settings)
    report = materialize_latest(settings)
    assert report.online_store == "redis"
    assert set(report.rows_per_view.values()) == {BUILDINGS}

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key for key in client.scan_iter(count=1000) if key.endswith(redis_project.encode())]
    finally:
        client.close()
    assert len(keys) == BUILDINGS

    store = open_feature_store(settings)
    ids = ["B0000007", "B0000150"]
    online = read_online_features(
        store, feature_service="fire_risk", entity_key="building_id", entity_ids=[*ids, "B9999999"]
    )
    assert online.missing == ["B9999999"]
    assert list(online.frame.columns) == NAMES
    np.testing.assert_array_equal(online.frame.loc[ids].to_numpy(), _latest_features(settings, ids))


def test_sql_registry_on_postgres_survives_a_moved_data_dir(
    tmp_path: Path, redis_project: str, postgres_database: Callable[[], str]
) -> None:
    registry_url = postgres_database()
    first = _redis_settings(tmp_path / "first", redis_project, registry_url)
    generate_population(first, n_entities=BUILDINGS, months=MONTHS, seed=6)
    apply_definitions(first)
    apply_definitions(first)
    materialize_latest(first)

    shutil.copytree(first.data_dir, tmp_path / "second")
    shutil.rmtree(first.data_dir)
    second = _redis_settings(tmp_path / "second", redis_project, registry_url)
    store = open_feature_store(second)
    paths = [str(getattr(view.batch_source, "path", "")) for view in store.list_feature_views()]
    assert len(paths) == len(POPULATIONS["buildings"].views)
    assert all(path.startswith(str(second.data_dir)) for path in paths)
    assert len(build_training_set(second)) == BUILDINGS * (MONTHS - 1)
    online = read_online_features(store, feature_service="fire_risk", entity_key="building_id", entity_ids=["B0000001"])
    assert list(online.frame.index) == ["B0000001"]
