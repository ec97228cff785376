"""A prepared credit-supervision warehouse (market entities and a champion), built once, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from warehouse.settings import Settings

CREDIT_ENTITIES = 400
CREDIT_SEED = 7


@pytest.fixture(scope="session")
def prepared_credit_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding market-entity features and a credit_supervision champion."""
    from warehouse.pipeline import initialize, prepare_features, train_and_publish

    root = tmp_path_factory.mktemp("prepared_credit")
    settings = Settings(data_dir=root)
    initialize(settings)
    prepare_features(settings, n_entities=CREDIT_ENTITIES, seed=CREDIT_SEED, population="market_entities")
    train_and_publish(settings, "credit_supervision", seed=CREDIT_SEED, actor="scientist")
    return root


@pytest.fixture
def credit_settings(prepared_credit_warehouse: Path, tmp_path: Path) -> Settings:
    """Settings over a private copy of the prepared credit warehouse."""
    shutil.copytree(prepared_credit_warehouse, tmp_path / "credit")
    return Settings(data_dir=tmp_path / "credit")
