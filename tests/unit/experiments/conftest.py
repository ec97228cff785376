"""Settings over an empty data dir (SQLite MLflow and metadata DB) and a small synthetic training set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from algorithms.testing import synthetic_training_set
from warehouse.settings import Settings


@pytest.fixture(scope="module")
def fire_frame() -> pd.DataFrame:
    """60 buildings x 24 months, 10 % positives."""
    return synthetic_training_set(n_entities=60, seed=17, positive_rate=0.10)


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data dir shared by the tests of one module (runs accumulate in one MLflow store)."""
    return Settings(data_dir=tmp_path_factory.mktemp("experiments"))


@pytest.fixture
def empty_settings(tmp_path: Path) -> Settings:
    """A data dir of this test alone."""
    return Settings(data_dir=tmp_path / "wh")
