"""FireRisk: fit, ONNX export with probability parity, determinism, and the model metadata card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from algorithms.base import FittedModel, GradingPolicy, ModelMetadata
from algorithms.fire_risk import FireRisk
from algorithms.testing import FAST_FIRE_RISK_PARAMS, FIRE_RISK_FEATURES
from warehouse.errors import DataValidationError, ModelIntegrityError
from warehouse.security import sm3_hex


def test_onnx_export_matches_lightgbm_on_every_row(fire_frame: pd.DataFrame, fitted_fire_model: FittedModel) -> None:
    algorithm = FireRisk()
    onnx_model = algorithm.to_onnx(fitted_fire_model, fire_frame.head())

    reference = algorithm.predict_proba(fitted_fire_model, fire_frame)
    exported = algorithm.onnx_predict_proba(onnx_model, fire_frame, fitted_fire_model.feature_names)

    assert fire_frame[list(FIRE_RISK_FEATURES)].isna().to_numpy().any()  # missing values are covered
    assert np.max(np.abs(exported - reference)) <= 1e-5
    assert reference.min() >= 0.0
    assert reference.max() <= 1.0
    assert np.unique(reference).size > 10


def test_onnx_graph_has_the_documented_names_and_a_symbolic_batch(fitted_fire_model: FittedModel) -> None:
    onnx_model = FireRisk().to_onnx(fitted_fire_model, pd.DataFrame(columns=list(FIRE_RISK_FEATURES)))
    graph = onnx_model.graph

    assert graph.name == "fire_risk"
    assert [value.name for value in graph.input] == ["input"]
    assert [value.name for value in graph.output] == ["label", "probabilities"]
    for value in (*graph.input, *graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "N"
    assert [dim.dim_value for dim in graph.input[0].type.tensor_type.shape.dim][1:] == [len(FIRE_RISK_FEATURES)]
    assert [dim.dim_value for dim in graph.output[1].type.tensor_type.shape.dim][1:] == [2]


def test_feature_order_is_the_frame_order_without_keys(fitted_fire_model: FittedModel) -> None:
    assert fitted_fire_model.feature_names == FIRE_RISK_FEATURES


def test_same_seed_gives_the_same_model_and_another_seed_another(fire_frame: pd.DataFrame) -> None:
    algorithm = FireRisk()
    params = {**FAST_FIRE_RISK_PARAMS, "seed": 21}
    first, second = algorithm.fit(fire_frame, params), algorithm.fit(fire_frame, params)
    other = algorithm.fit(fire_frame, {**params, "seed": 22})

    first_onnx = algorithm.to_onnx(first, fire_frame).SerializeToString()
    assert first_onnx == algorithm.to_onnx(second, fire_frame).SerializeToString()
    np.testing.assert_array_equal(
        algorithm.predict_proba(first, fire_frame), algorithm.predict_proba(second, fire_frame)
    )
    assert not np.array_equal(algorithm.predict_proba(first, fire_frame), algorithm.predict_proba(other, fire_frame))


def test_default_params_are_deterministic_and_overridable() -> None:
    params = FireRisk().default_params()

    assert params["deterministic"] is True
    assert params["objective"] == "binary"
    assert "is_unbalance" not in params
    assert "scale_pos_weight" not in params


def test_non_numeric_features_are_refused(fire_frame: pd.DataFrame) -> None:
    frame = fire_frame.assign(district="Tianhe")

    with pytest.raises(DataValidationError, match="district"):
        FireRisk().fit(frame, FAST_FIRE_RISK_PARAMS)


def test_a_single_class_cannot_be_fitted(fire_frame: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="one class"):
        FireRisk().fit(fire_frame.assign(incident_next_month=0), FAST_FIRE_RISK_PARAMS)


def test_export_needs_a_sample_with_every_feature(fitted_fire_model: FittedModel, fire_frame: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="floors"):
        FireRisk().to_onnx(fitted_fire_model, fire_frame.drop(columns=["floors"]))


def test_a_foreign_estimator_is_refused() -> None:
    with pytest.raises(TypeError, match="Booster"):
        FireRisk().predict_proba(FittedModel(estimator=object(), feature_names=("a",)), pd.DataFrame({"a": [1.0]}))


def _metadata() -> ModelMetadata:
    return ModelMetadata(
        algorithm="fire_risk",
        model_name="fire_risk",
        entity="building_id",
        feature_service="fire_risk",
        feature_names=["a", "b"],
        label="incident_next_month",
        task="binary",
        grading=GradingPolicy(levels=("low", "high"), thresholds=(0.5,), warning_levels=("high",)),
        onnx_input="input",
        onnx_output="probabilities",
        positive_class_index=1,
        onnx_sm3=sm3_hex(b"model"),
        metrics={"roc_auc": 0.8},
        params={"seed": 1, "deterministic": True},
        training_data_digest=sm3_hex(b"data"),
        run_id="r1",
        seed=1,
        trained_at=pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime(),
    )


def test_metadata_round_trips_and_refuses_a_bad_card(tmp_path: Path) -> None:
    path = tmp_path / "extra_files" / "warehouse_model.json"
    _metadata().write(path)

    assert ModelMetadata.read(path) == _metadata()
    path.write_text('{"algorithm": "fire_risk"}')
    with pytest.raises(ModelIntegrityError, match=r"warehouse_model\.json"):
        ModelMetadata.read(path)
    with pytest.raises(ModelIntegrityError):
        ModelMetadata.read(tmp_path / "absent.json")


def test_sm3_is_the_standard_digest() -> None:
    # GB/T 32905-2016 test vector: SM3("abc").
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_fire_risk_is_monotone_in_each_declared_direction(fire_frame: pd.DataFrame) -> None:
    from features.definitions import service_spec

    algorithm = FireRisk()
    declared = {feature.name: feature.risk_direction for feature in service_spec("fire_risk").features}
    names = list(declared)
    assert algorithm.monotone_constraints(names) == [declared[name] for name in names]
    assert declared["open_violations"] == 1 and declared["has_sprinkler"] == -1 and declared["use_type_code"] == 0

    model = algorithm.fit(fire_frame, {**FAST_FIRE_RISK_PARAMS, "seed": 5})
    rows = fire_frame.head(20)
    ages = np.linspace(0.0, 6.0, 13)  # building_age_years is declared to raise risk
    curves = np.array([algorithm.predict_proba(model, rows.assign(building_age_years=age)) for age in ages])
    assert (np.diff(curves, axis=0) >= 0).all()
    assert (curves[-1] > curves[0]).any()


def test_fire_risk_features_read_as_reasons() -> None:
    from features.definitions import service_spec

    features = service_spec("fire_risk").features
    assert not [feature.name for feature in features if feature.description.startswith("1 if")]
    flags = [feature for feature in features if feature.kind == "int" and feature.maximum == 1]
    assert flags and all(feature.description.endswith(", 1 = yes") for feature in flags)
    assert sum(feature.risk_direction != 0 for feature in features) >= 15
