"""Point-in-time training sets: the labels table joined against a feature service.

Every label row ``(entity, event_timestamp, label)`` gets the feature values that were known at
its timestamp (Feast ``get_historical_features`` on the DuckDB offline store), so nothing from the
labelled month leaks into its features. The result is validated and must keep every label row.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from features.datasets import read_table
from features.definitions import service_spec
from features.schemas import TIMESTAMP_COLUMN, TIMESTAMP_DTYPE, training_set_schema, validate_frame
from features.store import open_feature_store, registered_feature_service, service_feature_names
from warehouse.errors import DataValidationError
from warehouse.settings import Settings

logger = logging.getLogger(__name__)


def feature_names(settings: Settings, feature_service: str) -> list[str]:
    """Feature names of a registered feature service, in service order."""
    store = open_feature_store(settings)
    return service_feature_names(registered_feature_service(store, feature_service))


def _training_frame(joined: pd.DataFrame, key: str, names: list[str], label: str) -> pd.DataFrame:
    """Columns in contract order, features as float64, rows by time then entity."""
    frame = joined[[key, TIMESTAMP_COLUMN, *names, label]]
    frame = frame.astype({name: "float64" for name in names} | {TIMESTAMP_COLUMN: TIMESTAMP_DTYPE})
    return frame.sort_values([TIMESTAMP_COLUMN, key], ignore_index=True)


def build_training_set(settings: Settings, *, feature_service: str = "fire_risk") -> pd.DataFrame:
    """Labels joined point-in-time with the service's features: key, timestamp, features, label."""
    spec = service_spec(feature_service)
    population = spec.population
    labels = read_table(settings, population.name, population.label_table)
    store = open_feature_store(settings)
    service = registered_feature_service(store, feature_service)
    started = time.perf_counter()
    joined = store.get_historical_features(entity_df=labels, features=service).to_df()
    frame = _training_frame(joined, population.entity_key, service_feature_names(service), population.label)
    if len(frame) != len(labels):
        raise DataValidationError(
            f"{feature_service} training set has {len(frame)} rows for {len(labels)} label rows: "
            "the point-in-time join lost or duplicated rows"
        )
    validate_frame(training_set_schema(feature_service), frame)
    logger.info("training set %s: %d rows in %.1f s", feature_service, len(frame), time.perf_counter() - started)
    return frame
