"""Seeded synthetic training sets shaped like a feature service's point-in-time output.

For contract tests of algorithms (built-in or third-party) and for timing the training path: one
row per entity and monthly snapshot, tz-aware UTC ``event_timestamp``, numeric features with
missing values, and a rare binary label driven by a few of the features. Never used to train a
model that is served.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from algorithms.base import TIMESTAMP_COLUMN, ParamValue

FIRE_RISK_FEATURES = (
    "building_age_years",
    "floors",
    "floor_area_m2",
    "occupants",
    "is_high_rise",
    "electrical_inspection_overdue_days",
    "sprinkler_faults_90d",
    "alarm_faults_90d",
    "extinguisher_expired_share",
    "hazardous_materials",
    "prior_incidents_12m",
    "inspections_12m",
    "open_violations",
    "kitchens",
    "rain_mm_30d",
    "temp_max_c_30d",
    "humidity_mean_30d",
    "wind_max_ms_30d",
    "power_peak_kw",
    "power_mean_kw",
    "gas_alarm_events_30d",
    "smoke_sensor_offline_share",
    "distance_to_station_km",
    "response_time_min",
    "grid_risk_index",
)
"""Feature names of the synthetic fire-risk frame, in column order."""

FAST_FIRE_RISK_PARAMS: dict[str, ParamValue] = {"n_estimators": 12, "num_leaves": 7, "min_child_samples": 10}
"""A few small trees: enough to rank the synthetic label, fast enough for unit tests."""


def synthetic_training_set(
    *,
    n_entities: int,
    seed: int,
    months: int = 24,
    positive_rate: float = 0.02,
    missing_share: float = 0.05,
    entity: str = "building_id",
    label: str = "incident_next_month",
    start: str = "2023-01-01",
) -> pd.DataFrame:
    """``n_entities * months`` rows: entity id, snapshot time, the 25 features, then the label."""
    rng = np.random.default_rng(seed)
    rows = n_entities * months
    features = rng.normal(size=(rows, len(FIRE_RISK_FEATURES)))
    for position in (1, 3, 6, 7, 10, 12):  # counts: non-negative integers, like the real sources
        features[:, position] = rng.poisson(np.exp(features[:, position] * 0.5), size=rows)
    features[:, 1] += 1  # every building has at least one floor
    features[:, 4] = rng.random(rows) < 0.15
    logits = features[:, [0, 6, 7, 10, 14, 21]] @ np.array([0.6, 0.35, 0.3, 0.5, -0.4, 0.8])
    logits += _intercept_for_rate(logits, positive_rate)
    labels = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
    features[rng.random(features.shape) < missing_share] = np.nan
    snapshots = pd.date_range(start, periods=months, freq="MS", tz="UTC")
    frame = pd.DataFrame(features, columns=list(FIRE_RISK_FEATURES))
    frame.insert(0, entity, np.repeat([f"B{number:07d}" for number in range(n_entities)], months))
    frame.insert(1, TIMESTAMP_COLUMN, snapshots[np.tile(np.arange(months), n_entities)])
    frame["floors"] = frame["floors"].fillna(1).astype(np.int64)
    frame[label] = labels
    return frame


def _intercept_for_rate(logits: np.ndarray, positive_rate: float) -> float:
    """Bisect the intercept that makes the mean probability equal ``positive_rate``."""
    low, high = -30.0, 30.0
    for _ in range(60):
        middle = (low + high) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(logits + middle)))) < positive_rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2
