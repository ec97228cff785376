"""Whole-population feature vectors from the offline store, for batch scoring."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from features.definitions import SERVICES
from features.offline import iter_population_features
from warehouse.errors import DatasetNotFound, DataValidationError, InvalidRequest
from warehouse.settings import Settings

from .conftest import N_BUILDINGS

NAMES = SERVICES["fire_risk"].feature_names


def _snapshot(raw_features: pd.DataFrame, stamp: pd.Timestamp) -> np.ndarray:
    rows = raw_features[raw_features["event_timestamp"] == stamp].sort_values("building_id")
    return rows[NAMES].to_numpy(dtype=float)


def test_every_entity_comes_back_exactly_once_in_chunks(prepared_settings: Settings) -> None:
    progress: list[tuple[int, int | None]] = []
    chunks = list(
        iter_population_features(
            prepared_settings, chunk_rows=128, on_progress=lambda n, total=None: progress.append((n, total))
        )
    )
    assert [len(chunk) for chunk in chunks] == [128, 128, N_BUILDINGS - 256]
    ids = pd.concat([chunk["building_id"] for chunk in chunks])
    assert ids.is_unique
    assert list(ids) == [f"B{i:07d}" for i in range(1, N_BUILDINGS + 1)]
    assert list(chunks[0].columns) == ["building_id", *NAMES]
    assert progress[0] == (0, N_BUILDINGS)
    assert sum(advance for advance, _ in progress) == N_BUILDINGS


def test_default_is_the_last_snapshot(prepared_settings: Settings, raw_features: pd.DataFrame) -> None:
    population = pd.concat(iter_population_features(prepared_settings), ignore_index=True)
    expected = _snapshot(raw_features, raw_features["event_timestamp"].max())
    np.testing.assert_array_equal(population[NAMES].to_numpy(), expected)


def test_as_of_between_snapshots_sees_only_the_earlier_one(
    prepared_settings: Settings, raw_features: pd.DataFrame
) -> None:
    stamps = sorted(raw_features["event_timestamp"].unique())
    mid_month = datetime(stamps[4].year, stamps[4].month, 20)
    population = pd.concat(iter_population_features(prepared_settings, as_of=mid_month), ignore_index=True)
    np.testing.assert_array_equal(population[NAMES].to_numpy(), _snapshot(raw_features, stamps[4]))


def test_as_of_before_any_snapshot_fails_validation(prepared_settings: Settings) -> None:
    chunks = iter_population_features(prepared_settings, as_of=datetime(2000, 1, 1))
    with pytest.raises(DataValidationError, match="population chunk failed validation"):
        next(chunks)


def test_missing_population_fails_at_call_time(empty_settings: Settings) -> None:
    with pytest.raises(DatasetNotFound):
        iter_population_features(empty_settings)


def test_chunk_rows_must_be_positive(prepared_settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="chunk_rows"):
        iter_population_features(prepared_settings, chunk_rows=0)
