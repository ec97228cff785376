"""Opening the feature store from settings, applying definitions, materialising, moving the data dir."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from features.definitions import POPULATIONS
from features.online import read_online_features
from features.store import (
    apply_definitions,
    materialize_latest,
    open_feature_store,
    redis_connection_string,
    repo_config,
)
from features.training import build_training_set
from warehouse.errors import ConfigurationError, DatasetNotFound
from warehouse.settings import Settings

from .conftest import MONTHS, N_BUILDINGS, PreparedFeatures

VIEW_NAMES = [view.name for view in POPULATIONS["buildings"].views]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "127.0.0.1:6379,db=0"),
        ("redis://cache.local", "cache.local:6379"),
        ("redis://user:p%40ss@cache.local:6380/2", "cache.local:6380,db=2,username=user,password=p@ss"),
        ("rediss://:secret@cache.local:6379/1", "cache.local:6379,db=1,password=secret,ssl=true"),
    ],
)
def test_redis_url_becomes_feast_connection_string(url: str, expected: str) -> None:
    assert redis_connection_string(url) == expected


def test_redis_url_with_another_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="redis_url must look like"):
        redis_connection_string("http://127.0.0.1:6379")


def test_repo_config_resolves_paths_under_the_current_data_dir(empty_settings: Settings) -> None:
    config = repo_config(empty_settings)
    assert config.project == "features_unit"
    assert config.online_store.path == str(empty_settings.feature_repo_dir / "online_store.db")
    assert config.registry.path == str(empty_settings.feature_repo_dir / "registry.db")
    assert config.offline_store.type == "duckdb"


def test_repo_config_uses_redis_and_a_sql_registry_when_configured(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        online_store="redis",
        redis_url=SecretStr("redis://127.0.0.1:6379/3"),
        feast_registry_url=SecretStr("postgresql+psycopg://postgres@127.0.0.1:5432/feast"),
    )
    config = repo_config(settings)
    assert config.online_store.connection_string == "127.0.0.1:6379,db=3"
    assert config.registry.registry_type == "sql"
    assert config.registry.path == "postgresql+psycopg://postgres@127.0.0.1:5432/feast"


def test_redis_online_store_without_url_is_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, online_store="redis", redis_url=None)
    with pytest.raises(ConfigurationError, match="redis_url is not set"):
        repo_config(settings)


def test_apply_registers_views_and_service_and_is_idempotent(copied_settings: Settings) -> None:
    apply_definitions(copied_settings)
    apply_definitions(copied_settings)
    store = open_feature_store(copied_settings)
    assert sorted(view.name for view in store.list_feature_views()) == sorted(VIEW_NAMES)
    assert [service.name for service in store.list_feature_services()] == ["fire_risk"]
    assert [entity.name for entity in store.list_entities()] == ["building"]


def test_apply_without_a_population_is_dataset_not_found(empty_settings: Settings) -> None:
    with pytest.raises(DatasetNotFound, match="has not been generated"):
        apply_definitions(empty_settings)


def test_materialize_reports_the_latest_row_of_every_entity_per_view(prepared_features: PreparedFeatures) -> None:
    report = prepared_features.report
    assert report.project == "features_unit"
    assert report.online_store == "sqlite"
    assert report.rows_per_view == dict.fromkeys(VIEW_NAMES, N_BUILDINGS)
    assert set(report.seconds_per_view) == set(VIEW_NAMES)
    assert report.seconds > 0


def test_materialize_without_a_population_is_dataset_not_found(empty_settings: Settings) -> None:
    with pytest.raises(DatasetNotFound, match="no population has been generated"):
        materialize_latest(empty_settings)


def test_a_copied_data_dir_works_after_the_original_is_gone(
    copied_settings: Settings, make_settings: Callable[[Path], Settings], tmp_path: Path
) -> None:
    open_feature_store(copied_settings)
    moved_root = tmp_path / "moved"
    shutil.copytree(copied_settings.data_dir, moved_root)
    shutil.rmtree(copied_settings.data_dir)
    moved = make_settings(moved_root)

    store = open_feature_store(moved)
    sources = {view.name: str(getattr(view.batch_source, "path", "")) for view in store.list_feature_views()}
    assert all(path.startswith(str(moved_root)) for path in sources.values())
    online = read_online_features(store, feature_service="fire_risk", entity_key="building_id", entity_ids=["B0000001"])
    assert list(online.frame.index) == ["B0000001"]
    assert online.missing == []
    assert len(build_training_set(moved)) == N_BUILDINGS * (MONTHS - 1)


def test_opening_a_current_store_does_not_reapply(prepared_settings: Settings) -> None:
    registry = prepared_settings.feature_repo_dir / "registry.db"
    before = registry.stat().st_mtime_ns
    open_feature_store(prepared_settings)
    assert registry.stat().st_mtime_ns == before
