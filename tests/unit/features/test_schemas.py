"""Pandera schemas, the numpy checks derived from them, and the DataValidationError they turn into."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.buildings import generate_buildings
from features.schemas import (
    feature_frame_schema,
    inference_check,
    population_chunk_check,
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
    assert "column 'is_warehouse' failed column_in_dataframe" in message
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


def _valid_row(names: tuple[str, ...]) -> dict[str, object]:
    """A fire_risk row that meets every rule: each feature at its lower bound (or 1.0 when unbounded)."""
    schema = feature_frame_schema("fire_risk")
    row: dict[str, object] = {}
    for name in names:
        lows = [
            check.statistics["min_value"] for check in schema.columns[name].checks if "min_value" in check.statistics
        ]
        row[name] = float(lows[0]) if lows else 1.0
    return row


def _failures(error: DataValidationError) -> dict[tuple[str | None, str], dict[str, object]]:
    return {(failure["column"], failure["rule"]): failure for failure in error.to_body()["error"]["failures"]}


@pytest.fixture(scope="module")
def fire_names() -> tuple[str, ...]:
    return tuple(feature_frame_schema("fire_risk").columns)


def test_inference_check_passes_valid_rows_and_keeps_their_values(fire_names: tuple[str, ...]) -> None:
    check = inference_check("fire_risk", fire_names)
    rows = [_valid_row(fire_names), _valid_row(fire_names)]
    nullable = [name for name in fire_names if feature_frame_schema("fire_risk").columns[name].nullable]
    rows[1] |= dict.fromkeys(nullable)
    matrix = check.matrix(rows)
    assert matrix.shape == (2, len(fire_names))
    assert matrix[0].tolist() == [rows[0][name] for name in fire_names]
    assert np.isnan(matrix[1, [fire_names.index(name) for name in nullable]]).all()


def test_inference_check_names_a_non_numeric_value(fire_names: tuple[str, ...]) -> None:
    rows = [_valid_row(fire_names), _valid_row(fire_names) | {"floors": "3"}, _valid_row(fire_names) | {"floors": True}]
    with pytest.raises(DataValidationError) as caught:
        inference_check("fire_risk", fire_names).matrix(rows)
    failure = _failures(caught.value)[("floors", "dtype('float64')")]
    assert failure["count"] == 2
    assert failure["examples"] == [{"row": 1, "value": "3"}, {"row": 2, "value": True}]
    assert caught.value.message.startswith("fire_risk features failed validation: column 'floors' failed dtype")


def test_inference_check_names_values_out_of_range(fire_names: tuple[str, ...]) -> None:
    rows = [_valid_row(fire_names) | {"floors": 0.0}, _valid_row(fire_names) | {"occupancy_rate": float("inf")}]
    with pytest.raises(DataValidationError) as caught:
        inference_check("fire_risk", fire_names).matrix(rows)
    failures = _failures(caught.value)
    assert failures[("floors", "greater_than_or_equal_to(1)")]["examples"] == [{"row": 0, "value": 0.0}]
    assert failures[("occupancy_rate", "less_than_or_equal_to(1)")]["examples"] == [{"row": 1, "value": "Infinity"}]
    assert "column 'floors' failed greater_than_or_equal_to(1) in 1 case(s), e.g. row 0: 0.0" in caught.value.message


def test_inference_check_names_missing_and_unknown_columns(fire_names: tuple[str, ...]) -> None:
    short = {name: value for name, value in _valid_row(fire_names).items() if name != "dry_days"}
    rows = [_valid_row(fire_names), short | {"dry_dayz": 4.0}]
    with pytest.raises(DataValidationError) as caught:
        inference_check("fire_risk", fire_names).matrix(rows)
    failures = _failures(caught.value)
    assert failures[("dry_days", "column_in_dataframe")]["examples"] == [{"row": 1, "value": None}]
    assert failures[("dry_dayz", "column_in_schema")]["examples"] == [{"row": 1, "value": 4.0}]


def test_inference_check_refuses_nan_and_null_where_a_feature_is_required(fire_names: tuple[str, ...]) -> None:
    rows = [_valid_row(fire_names) | {"floors": None}, _valid_row(fire_names) | {"floors": float("nan")}]
    with pytest.raises(DataValidationError) as caught:
        inference_check("fire_risk", fire_names).matrix(rows)
    failure = _failures(caught.value)[("floors", "not_nullable")]
    assert failure["count"] == 2
    assert failure["examples"] == [{"row": 0, "value": None}, {"row": 1, "value": None}]


def test_inference_check_finds_what_pandera_finds(fire_names: tuple[str, ...]) -> None:
    """The numpy check and the pandera inference schema fail the same (column, rule) pairs, as often."""
    generator = np.random.default_rng(7)
    schema = feature_frame_schema("fire_risk")
    frame = pd.DataFrame([_valid_row(fire_names) for _ in range(40)], columns=list(fire_names))
    for name in generator.choice(fire_names, size=6, replace=False):  # at most 18 rules: all reported
        rows = generator.choice(40, size=3, replace=False)
        frame.loc[rows, name] = generator.choice([np.nan, -1e9, 1e9, -np.inf, np.inf], size=3)
    with pytest.raises(DataValidationError) as by_pandera:
        validate_frame(schema, frame)
    with pytest.raises(DataValidationError) as by_numpy:
        inference_check("fire_risk", fire_names).check(frame.to_numpy())
    counts = {key: failure["count"] for key, failure in _failures(by_numpy.value).items()}
    assert len(counts) > 6
    assert counts == {key: failure["count"] for key, failure in _failures(by_pandera.value).items()}


def test_inference_check_follows_the_model_feature_order(fire_names: tuple[str, ...]) -> None:
    reordered = tuple(reversed(fire_names))
    matrix = np.ones((1, len(reordered)))
    matrix[0, reordered.index("floors")] = 0.0
    with pytest.raises(DataValidationError, match="column 'floors' failed greater_than_or_equal_to"):
        inference_check("fire_risk", reordered).check(matrix)


def _valid_chunk(rows: int) -> pd.DataFrame:
    """A fire_risk population chunk that meets every rule of its schema."""
    names = tuple(feature_frame_schema("fire_risk").columns)
    keys = [f"B{position:07d}" for position in range(rows)]
    return pd.DataFrame({"building_id": keys} | {name: [_valid_row(names)[name]] * rows for name in names})


def _broken_chunks() -> dict[str, pd.DataFrame]:
    """Chunks that each break one rule of the population chunk schema (or several)."""
    valid = _valid_chunk(6)
    chunks = {
        "repeated key": valid.assign(building_id=["B1", "B1", "B2", "B3", "B4", "B5"]),
        "missing key": valid.assign(building_id=["B1", None, "B2", "B3", "B4", "B5"]),
        "numeric key": valid.assign(building_id=range(6)),
        "missing column": valid.drop(columns=["dry_days"]),
        "unknown column": valid.assign(dry_dayz=1.0),
        "columns out of order": valid[[*valid.columns[1:], "building_id"]],
        "integer feature": valid.astype({"floors": "int64"}),
        "below the minimum": valid.assign(floors=[1.0, 0.0, 1.0, 1.0, -3.0, 1.0]),
        "above the maximum": valid.assign(occupancy_rate=[1.0, 1.0, np.inf, 1.0, 1.0, 2.0]),
        "null where required": valid.assign(floors=[1.0, np.nan, 1.0, 1.0, 1.0, 1.0]),
    }
    several = valid.assign(floors=0.0, building_id=["B1"] * 6)
    return chunks | {"several rules": several.drop(columns=["dry_days"])}


def test_population_chunk_check_returns_a_valid_chunk_as_it_is() -> None:
    nullable = [name for name, column in population_chunk_schema("fire_risk").columns.items() if column.nullable]
    chunk = _valid_chunk(5)
    chunk.loc[2, nullable] = np.nan
    check = population_chunk_check("fire_risk")
    assert check.passes(chunk)
    assert check.validate(chunk) is chunk
    assert validate_frame(population_chunk_schema("fire_risk"), chunk) is chunk


@pytest.mark.parametrize("broken", list(_broken_chunks()))
def test_population_chunk_check_fails_what_pandera_fails_with_pandera_s_error(broken: str) -> None:
    """The vectorised check refuses every chunk pandera refuses, and the error is pandera's own."""
    chunk = _broken_chunks()[broken]
    check = population_chunk_check("fire_risk")
    assert not check.passes(chunk)
    with pytest.raises(DataValidationError) as by_pandera:
        validate_frame(population_chunk_schema("fire_risk"), chunk)
    with pytest.raises(DataValidationError) as by_check:
        check.validate(chunk)
    assert by_check.value.message == by_pandera.value.message
    assert by_check.value.message.startswith("fire_risk population chunk failed validation: ")


def test_population_chunk_check_names_the_column_and_rule_of_a_bad_value() -> None:
    chunk = _valid_chunk(4).assign(floors=[1.0, 0.0, 1.0, 1.0])
    with pytest.raises(DataValidationError) as caught:
        population_chunk_check("fire_risk").validate(chunk)
    assert "column 'floors' failed greater_than_or_equal_to(1) in 1 case(s), e.g. row 1: 0.0" in caught.value.message
    assert _failures(caught.value)[("floors", "greater_than_or_equal_to(1)")]["count"] == 1
