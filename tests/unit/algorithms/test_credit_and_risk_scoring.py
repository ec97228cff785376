"""credit_supervision and risk_scoring models: points scale, grades, monotonicity, exact contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from algorithms.base import FittedModel
from algorithms.catalogue import get_algorithm
from algorithms.credit_supervision import CREDIT_SCALE, INSPECTION_FREQUENCY, CreditSupervision, credit_grading
from algorithms.grading import GradingPolicy, PointsScale
from algorithms.lightgbm_model import LightGBMBinary
from algorithms.risk_scoring import RiskScoring
from features.definitions import POPULATIONS
from features.enterprises import generate_enterprises
from features.market_entities import generate_market_entities

FAST = {"n_estimators": 40, "min_child_samples": 20}


def _training_frame(population: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The tables joined on key and snapshot, as a point-in-time join over monthly snapshots gives."""
    spec = POPULATIONS[population]
    keys = [spec.entity_key, "event_timestamp"]
    frame = tables[spec.label_table]
    for view in spec.views:
        frame = frame.merge(tables[view.table], on=keys, how="left")
    features = [name for view in spec.views for name in view.feature_names]
    frame = frame[[*keys, *features, spec.label]]
    return frame.astype(dict.fromkeys(features, "float64"))


@pytest.fixture(scope="module")
def credit_frame() -> pd.DataFrame:
    return _training_frame("market_entities", generate_market_entities(600, seed=3))


@pytest.fixture(scope="module")
def credit_model(credit_frame: pd.DataFrame) -> FittedModel:
    return CreditSupervision().fit(credit_frame, {**FAST, "seed": 3})


@pytest.fixture(scope="module")
def risk_frame() -> pd.DataFrame:
    return _training_frame("enterprises", generate_enterprises(300, seed=3))


def test_points_scale_is_600_at_50_to_1_and_40_points_double_the_odds() -> None:
    scale = PointsScale()
    p_base, p_double = 1 / 51, 1 / 101
    assert scale.points([p_base])[0] == pytest.approx(600.0)
    assert scale.points([p_double])[0] == pytest.approx(640.0)
    assert scale.probability_at(640.0) == pytest.approx(p_double)
    assert scale.points([1e-9, 0.999])[0] == 900.0
    assert scale.points([0.999])[0] == 300.0
    assert np.all(np.diff(scale.points(np.linspace(0.001, 0.5, 50))) < 0)


def test_credit_grades_follow_the_points_cut_offs_and_carry_inspection_frequency() -> None:
    policy = credit_grading()
    points = np.array([850.0, 700.5, 699.5, 620.5, 619.5, 540.5, 539.5, 320.0])
    probabilities = np.array([CREDIT_SCALE.probability_at(value) for value in points])
    grades = policy.grade(probabilities)
    assert grades.levels.tolist() == ["A", "A", "B", "B", "C", "C", "D", "D"]
    assert grades.warnings.tolist() == [False] * 6 + [True, True]
    assert policy.inspection_frequency == INSPECTION_FREQUENCY
    assert set(policy.inspection_frequency) == {"A", "B", "C", "D"}
    assert "100 %" in policy.inspection_frequency["D"]
    # The policy round-trips through the model card's JSON.
    assert GradingPolicy.model_validate_json(policy.model_dump_json()) == policy


def test_inspection_frequency_for_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        GradingPolicy(levels=("A", "B"), thresholds=(0.5,), inspection_frequency={"Z": "never"})


def test_monotone_constraints_come_from_the_declared_directions(credit_frame: pd.DataFrame) -> None:
    algorithm = CreditSupervision()
    names = algorithm.feature_columns(credit_frame)
    constraints = dict(zip(names, algorithm.monotone_constraints(names), strict=True))
    assert constraints["admin_penalties_12m"] == 1
    assert constraints["registration_age_years"] == -1
    assert constraints["industry_code"] == 0
    assert RiskScoring().monotone_constraints(names) == [0] * len(names)


@pytest.mark.parametrize(("feature", "direction"), [("admin_penalties_12m", 1), ("annual_report_filed", -1)])
def test_credit_model_is_monotone_in_each_declared_direction(
    credit_frame: pd.DataFrame, credit_model: FittedModel, feature: str, direction: int
) -> None:
    algorithm = CreditSupervision()
    rows = credit_frame.sample(200, random_state=1)
    low, high = rows.copy(), rows.copy()
    low[feature], high[feature] = 0.0, 3.0 if feature != "annual_report_filed" else 1.0
    change = algorithm.predict_proba(credit_model, high) - algorithm.predict_proba(credit_model, low)
    assert np.all(direction * change >= -1e-12)
    assert np.any(direction * change > 0)


def test_contributions_add_up_to_the_raw_margin_exactly(credit_frame: pd.DataFrame, credit_model: FittedModel) -> None:
    algorithm = CreditSupervision()
    rows = credit_frame.head(500)
    contributions = algorithm.contributions(credit_model, rows)
    margin = algorithm.raw_margin(credit_model, rows)
    assert contributions.shape == (500, len(credit_model.feature_names) + 1)
    assert np.max(np.abs(contributions.sum(axis=1) - margin)) <= 1e-6
    probabilities = algorithm.predict_proba(credit_model, rows)
    assert np.allclose(1.0 / (1.0 + np.exp(-margin)), probabilities, atol=1e-12)


def test_risk_scoring_fits_and_exports_with_onnx_parity_on_a_wide_missing_profile(risk_frame: pd.DataFrame) -> None:
    algorithm = RiskScoring()
    model = algorithm.fit(risk_frame, {**FAST, "seed": 4})
    assert len(model.feature_names) > 100
    assert risk_frame[list(model.feature_names)].isna().to_numpy().mean() > 0.05
    reference = algorithm.predict_proba(model, risk_frame)
    exported = algorithm.onnx_predict_proba(
        algorithm.to_onnx(model, risk_frame.head()), risk_frame, model.feature_names
    )
    assert np.max(np.abs(exported - reference)) <= 1e-5
    grading = algorithm.derive_grading(reference)
    assert grading.levels == ("low", "medium", "high", "critical")
    assert algorithm.grade(reference, grading).warnings.mean() == pytest.approx(0.05, abs=0.01)


def test_both_algorithms_are_in_the_catalogue_with_their_services() -> None:
    for name in ("credit_supervision", "risk_scoring"):
        algorithm = get_algorithm(name)
        assert isinstance(algorithm, LightGBMBinary)
        assert algorithm.feature_service == name


@pytest.mark.parametrize("name", ["credit_supervision", "fire_risk", "risk_scoring"])
def test_every_algorithms_contributions_add_up_to_its_output_exactly(name: str, request: pytest.FixtureRequest) -> None:
    """Per-feature contributions plus the expected value are the raw margin; its sigmoid is the probability."""
    frame = request.getfixturevalue(
        {"credit_supervision": "credit_frame", "risk_scoring": "risk_frame"}.get(name, "fire_frame")
    )
    algorithm = get_algorithm(name)
    assert isinstance(algorithm, LightGBMBinary)
    model = algorithm.fit(frame, {**FAST, "seed": 6})
    rows = frame.head(300)
    contributions = algorithm.contributions(model, rows)
    margin = algorithm.raw_margin(model, rows)
    assert contributions.shape == (len(rows), len(model.feature_names) + 1)
    assert np.max(np.abs(contributions.sum(axis=1) - margin)) <= 1e-9
    assert np.max(np.abs(1.0 / (1.0 + np.exp(-margin)) - algorithm.predict_proba(model, rows))) <= 1e-12
    assert np.count_nonzero(contributions[:, :-1]) > 0
