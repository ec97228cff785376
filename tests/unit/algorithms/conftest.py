"""A small synthetic fire-risk frame and a model fitted on it, shared by the algorithm tests."""

from __future__ import annotations

import pandas as pd
import pytest

from algorithms.base import FittedModel
from algorithms.fire_risk import FireRisk
from algorithms.testing import FAST_FIRE_RISK_PARAMS, synthetic_training_set


@pytest.fixture(scope="session")
def fire_frame() -> pd.DataFrame:
    """50 buildings x 24 months, 10 % positives, 5 % missing feature values."""
    return synthetic_training_set(n_entities=50, seed=11, positive_rate=0.10)


@pytest.fixture(scope="session")
def fitted_fire_model(fire_frame: pd.DataFrame) -> FittedModel:
    """FireRisk fitted with a few small trees."""
    return FireRisk().fit(fire_frame, {**FAST_FIRE_RISK_PARAMS, "seed": 5})
