"""Point-in-time training sets from the offline store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.datasets import read_table
from features.definitions import SERVICES
from features.schemas import training_set_schema
from features.training import build_training_set, feature_names
from warehouse.errors import DatasetNotFound, InvalidRequest
from warehouse.settings import Settings

KEYS = ["building_id", "event_timestamp"]


@pytest.fixture(scope="module")
def training_set(prepared_settings: Settings) -> pd.DataFrame:
    return build_training_set(prepared_settings)


def test_every_label_row_is_kept(training_set: pd.DataFrame, prepared_settings: Settings) -> None:
    labels = read_table(prepared_settings, "buildings", "labels")
    assert len(training_set) == len(labels)
    merged = labels.merge(training_set[[*KEYS, "incident_next_month"]], on=KEYS, suffixes=("", "_joined"))
    assert len(merged) == len(labels)
    assert (merged["incident_next_month"] == merged["incident_next_month_joined"]).all()


def test_columns_are_keys_features_in_service_order_then_label(training_set: pd.DataFrame) -> None:
    assert list(training_set.columns) == [*KEYS, *SERVICES["fire_risk"].feature_names, "incident_next_month"]
    assert list(training_set.columns) == list(training_set_schema("fire_risk").columns)


def test_features_are_the_snapshot_at_the_label_time_never_the_next(
    training_set: pd.DataFrame, raw_features: pd.DataFrame
) -> None:
    names = SERVICES["fire_risk"].feature_names
    expected = training_set[KEYS].merge(raw_features, on=KEYS, how="left")
    np.testing.assert_array_equal(training_set[names].to_numpy(), expected[names].to_numpy(dtype=float))
    following = raw_features.assign(event_timestamp=raw_features["event_timestamp"] - pd.DateOffset(months=1))
    next_month = training_set[KEYS].merge(following, on=KEYS, how="left")
    assert not np.array_equal(training_set["incidents_total"], next_month["incidents_total"])


def test_rows_are_sorted_by_time_then_entity(training_set: pd.DataFrame) -> None:
    ordered = training_set.sort_values(["event_timestamp", "building_id"], ignore_index=True)
    assert training_set[KEYS].equals(ordered[KEYS])


def test_feature_names_follow_the_registered_service(prepared_settings: Settings) -> None:
    names = feature_names(prepared_settings, "fire_risk")
    assert names == SERVICES["fire_risk"].feature_names
    assert len(names) == len(set(names)) == 30


def test_missing_population_is_dataset_not_found(empty_settings: Settings) -> None:
    with pytest.raises(DatasetNotFound, match="has not been generated"):
        build_training_set(empty_settings)


def test_unknown_feature_service_is_an_invalid_request(prepared_settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="unknown feature service"):
        build_training_set(prepared_settings, feature_service="credit")
