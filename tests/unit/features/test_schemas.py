"""Pandera schemas and the DataValidationError they turn into."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.buildings import generate_buildings
from features.schemas import (
    feature_frame_schema,
    population_chunk_schema,
    raw_table_schema,
    training_set_schema,
    validate_frame,
)
from warehouse.errors import DataValidationError, InvalidRequest


@pytest.fixture(scope="module")
def profile() -> pd.DataFrame:
    return generate_buildings(20, months=2, seed=5)["profile"]


def test_failure_message_names_column_rule_and_offending_rows(profile: pd.DataFrame) -> None:
    broken = profile.copy()
    broken.loc[[3, 8], "floor_area_m2"] = -5.0
    with pytest.raises(DataValidationError) as caught:
        validate_frame(raw_table_schema("buildings", "profile"), broken)
    message = caught.value.message
    assert message.startswith("buildings.profile failed validation:")
    assert "column 'floor_area_m2' failed greater_than_or_equal_to(1) in 2 case(s)" in message
    assert "row 3: -5.0" in message
    assert "row 8: -5.0" in message
    assert caught.value.status == 422
    assert caught.value.code == "data_validation_failed"


def test_every_failed_rule_is_reported_together(profile: pd.DataFrame) -> None:
    broken = profile.drop(columns=["is_warehouse"])
    broken.loc[0, "building_id"] = "X1"
    broken.loc[1, "has_sprinkler"] = 2
    with pytest.raises(DataValidationError) as caught:
        validate_frame(raw_table_schema("buildings", "profile"), broken)
    message = caught.value.message
    assert "the frame failed column_in_dataframe in 1 case(s), e.g. 'is_warehouse'" in message
    assert "column 'building_id' failed str_matches" in message
    assert "row 0: 'X1'" in message
    assert "column 'has_sprinkler' failed less_than_or_equal_to(1)" in message


def test_duplicate_snapshots_are_rejected_even_on_a_duplicated_index(profile: pd.DataFrame) -> None:
    doubled = pd.concat([profile, profile.head(1)])
    with pytest.raises(DataValidationError, match="multiple_fields_uniqueness"):
        validate_frame(raw_table_schema("buildings", "profile"), doubled)


def test_labels_must_be_binary() -> None:
    labels = generate_buildings(5, months=3, seed=5)["labels"]
    labels.loc[2, "incident_next_month"] = 3
    with pytest.raises(DataValidationError, match=r"isin\(\[0, 1\]\).*row 2: 3"):
        validate_frame(raw_table_schema("buildings", "labels"), labels)


def test_valid_frame_is_returned_unchanged(profile: pd.DataFrame) -> None:
    assert validate_frame(raw_table_schema("buildings", "profile"), profile) is profile


def test_unknown_table_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no table 'nope'"):
        raw_table_schema("buildings", "nope")


def test_unknown_feature_service_is_an_invalid_request() -> None:
    with pytest.raises(
        InvalidRequest, match="unknown feature service 'nope'; known: credit_supervision, fire_risk, risk_scoring"
    ):
        training_set_schema("nope")


def test_training_set_schema_wants_float_features_in_service_order() -> None:
    schema = training_set_schema("fire_risk")
    columns = list(schema.columns)
    assert columns[:3] == ["building_id", "event_timestamp", "building_age_years"]
    assert columns[-1] == "incident_next_month"
    assert all(str(schema.columns[name].dtype) == "float64" for name in columns[2:-1])


def test_feature_frame_schema_rejects_missing_and_out_of_range_features() -> None:
    schema = feature_frame_schema("fire_risk")
    frame = pd.DataFrame([np.ones(len(schema.columns))], columns=list(schema.columns), index=["B0000001"])
    frame["floors"] = 0.0
    frame = frame.drop(columns=["dry_days"])
    with pytest.raises(DataValidationError) as caught:
        validate_frame(schema, frame)
    assert "column 'floors' failed greater_than_or_equal_to(1)" in caught.value.message
    assert "'dry_days'" in caught.value.message


def test_population_chunk_schema_wants_unique_entities() -> None:
    schema = population_chunk_schema("fire_risk")
    features = [name for name in schema.columns if name != "building_id"]
    frame = pd.DataFrame({"building_id": ["B0000001", "B0000001"]} | {name: [1.0, 1.0] for name in features})
    with pytest.raises(DataValidationError, match="column 'building_id' failed field_uniqueness"):
        validate_frame(schema, frame)
