"""Fixtures of the features tests: one small population, generated, applied and materialised once.

Tests that only read use ``prepared_settings`` directly; tests that write or move the data dir take
``copied_settings``, a private copy per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from features.datasets import DatasetManifest, generate_population, read_table
from features.definitions import POPULATIONS
from features.store import MaterializeReport, apply_definitions, materialize_latest
from warehouse.settings import Settings

N_BUILDINGS = 300
MONTHS = 12
SEED = 11
PROJECT = "features_unit"


def settings_for(data_dir: Path) -> Settings:
    """Embedded-default settings over ``data_dir``, whatever the environment says."""
    return Settings(data_dir=data_dir, online_store="sqlite", feast_registry_url=None, feast_project=PROJECT)


@dataclass(frozen=True)
class PreparedFeatures:
    """A data dir with a generated, applied and materialised population."""

    root: Path
    manifest: DatasetManifest
    report: MaterializeReport


@pytest.fixture(scope="session")
def prepared_features(tmp_path_factory: pytest.TempPathFactory) -> PreparedFeatures:
    root = tmp_path_factory.mktemp("features")
    settings = settings_for(root)
    manifest = generate_population(settings, n_entities=N_BUILDINGS, months=MONTHS, seed=SEED)
    apply_definitions(settings)
    report = materialize_latest(settings)
    return PreparedFeatures(root=root, manifest=manifest, report=report)


@pytest.fixture(scope="session")
def prepared_settings(prepared_features: PreparedFeatures) -> Settings:
    """Settings over the shared prepared data dir; tests using it must not write."""
    return settings_for(prepared_features.root)


@pytest.fixture
def copied_settings(prepared_features: PreparedFeatures, tmp_path: Path) -> Settings:
    """Settings over a private copy of the prepared data dir."""
    shutil.copytree(prepared_features.root, tmp_path / "copy")
    return settings_for(tmp_path / "copy")


@pytest.fixture
def empty_settings(tmp_path: Path) -> Settings:
    """Settings over a data dir where nothing has been generated."""
    return settings_for(tmp_path / "empty")


@pytest.fixture
def make_settings() -> Callable[[Path], Settings]:
    """Factory of embedded-default settings over any data dir."""
    return settings_for


@pytest.fixture(scope="session")
def raw_features(prepared_settings: Settings) -> pd.DataFrame:
    """Every raw feature table joined on (building_id, event_timestamp), straight from parquet."""
    population = POPULATIONS["buildings"]
    keys = [population.entity_key, "event_timestamp"]
    frame = read_table(prepared_settings, population.name, population.views[0].table)
    for view in population.views[1:]:
        frame = frame.merge(read_table(prepared_settings, population.name, view.table), on=keys, how="inner")
    return frame
