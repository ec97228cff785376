"""The market-entity and enterprise populations: schemas, determinism, imbalance, missingness, drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.definitions import POPULATIONS, SERVICES
from features.enterprises import generate_enterprises
from features.market_entities import generate_market_entities
from features.schemas import raw_table_schema, validate_frame
from warehouse.errors import DataValidationError

N_ENTITIES = 1_500


@pytest.fixture(scope="module")
def market_entities() -> dict[str, pd.DataFrame]:
    return generate_market_entities(N_ENTITIES, seed=5)


@pytest.fixture(scope="module")
def enterprises() -> dict[str, pd.DataFrame]:
    return generate_enterprises(N_ENTITIES, seed=5)


def _monthly_rate(labels: pd.DataFrame, label: str) -> pd.Series:
    return labels.groupby("event_timestamp")[label].mean()


@pytest.mark.parametrize("population", ["market_entities", "enterprises"])
def test_every_generated_table_passes_its_raw_schema(
    population: str, market_entities: dict[str, pd.DataFrame], enterprises: dict[str, pd.DataFrame]
) -> None:
    frames = market_entities if population == "market_entities" else enterprises
    spec = POPULATIONS[population]
    assert set(frames) == set(spec.tables)
    for table in spec.tables:
        validate_frame(raw_table_schema(population, table), frames[table])
        assert frames[table]["event_timestamp"].nunique() == (23 if table == spec.label_table else 24)


def test_the_same_seed_gives_the_same_population() -> None:
    first, second = generate_market_entities(50, seed=9), generate_market_entities(50, seed=9)
    other = generate_market_entities(50, seed=10)
    for table, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[table])
    assert not first["enforcement"].equals(other["enforcement"])
    pd.testing.assert_frame_equal(generate_enterprises(30, seed=9)["tax"], generate_enterprises(30, seed=9)["tax"])


def test_serious_violations_are_rare_but_present(market_entities: dict[str, pd.DataFrame]) -> None:
    rate = market_entities["labels"]["serious_violation_next_month"].mean()
    assert 0.01 < rate < 0.05


def test_credit_features_declare_a_direction_of_risk() -> None:
    features = {feature.name: feature for feature in SERVICES["credit_supervision"].features}
    assert features["admin_penalties_12m"].risk_direction == 1
    assert features["dishonest_debtor"].risk_direction == 1
    assert features["registration_age_years"].risk_direction == -1
    assert features["annual_report_filed"].risk_direction == -1
    assert sum(feature.risk_direction != 0 for feature in features.values()) >= 12


def test_risk_scoring_profile_has_more_than_100_features_in_seven_views() -> None:
    service = SERVICES["risk_scoring"]
    assert len(service.feature_names) > 100
    assert len(set(service.feature_names)) == len(service.feature_names)
    assert {view.table for view in service.views} == {
        "registration",
        "tax",
        "social_insurance",
        "utilities",
        "court_penalty",
        "financing",
        "supply_chain",
    }


def test_enterprise_sources_are_partly_missing_and_utilities_coverage_grows(
    enterprises: dict[str, pd.DataFrame],
) -> None:
    financing = enterprises["financing"]["loan_balance_1m"]
    assert 0.2 < financing.isna().mean() < 0.45
    utilities = (
        enterprises["utilities"].groupby("event_timestamp")["electricity_mwh_1m"].apply(lambda s: s.isna().mean())
    )
    assert utilities.iloc[:12].mean() > utilities.iloc[-6:].mean() + 0.2


def test_enterprise_distress_drifts_upwards_over_the_two_years(enterprises: dict[str, pd.DataFrame]) -> None:
    rate = _monthly_rate(enterprises["labels"], "distress_next_month")
    assert 0.005 < rate.mean() < 0.04
    assert rate.iloc[-6:].mean() > rate.iloc[:6].mean()


def test_a_corrupted_enterprise_table_names_the_column_and_rule(enterprises: dict[str, pd.DataFrame]) -> None:
    broken = enterprises["tax"].copy()
    broken.loc[broken.index[:2], "vat_paid_1m"] = -np.arange(1.0, 3.0)
    with pytest.raises(DataValidationError, match=r"vat_paid_1m.*greater_than_or_equal_to"):
        validate_frame(raw_table_schema("enterprises", "tax"), broken)
