"""Feature vectors of a whole population as of one instant, for batch scoring.

Point-in-time correct through the offline store: every entity gets the latest values known at
``as_of`` (within the views' ttl), and exactly one row, whether or not it has values. Entities are
fetched in blocks (one Feast query per block, since each query scans every view's table) and
yielded in chunks of ``chunk_rows``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from features.datasets import load_manifest, read_table
from features.definitions import population_spec, service_spec
from features.schemas import TIMESTAMP_COLUMN, population_chunk_check
from features.store import open_feature_store, registered_feature_service, service_feature_names
from warehouse.errors import DataValidationError, InvalidRequest
from warehouse.progress import ProgressCallback, no_progress
from warehouse.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

logger = logging.getLogger(__name__)

FETCH_BLOCK_ROWS = 100_000
"""Entities per offline query; bounds the memory of one query's result."""


def population_entity_ids(settings: Settings, population: str) -> list[str]:
    """Every entity id of a generated population, sorted."""
    spec = population_spec(population)
    keys = read_table(settings, population, spec.views[0].table, columns=[spec.entity_key])[spec.entity_key]
    return sorted(keys.unique().tolist())


def _as_utc(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return (stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)).as_unit("us")


def _fetch_block(
    store: FeatureStore, service: FeatureService, key: str, entity_ids: list[str], as_of: pd.Timestamp
) -> pd.DataFrame:
    """One row per entity: key, then the service's features as float64, sorted by key."""
    names = service_feature_names(service)
    entity_df = pd.DataFrame({key: entity_ids, TIMESTAMP_COLUMN: as_of})
    joined = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    if len(joined) != len(entity_ids) or not joined[key].is_unique:
        raise DataValidationError(
            f"offline store answered {len(joined)} rows for {len(entity_ids)} entities of {service.name!r}"
        )
    frame = joined[[key, *names]].astype(dict.fromkeys(names, "float64"))
    return frame.sort_values(key, ignore_index=True)


def _chunks(
    store: FeatureStore,
    service: FeatureService,
    key: str,
    entity_ids: list[str],
    as_of: pd.Timestamp,
    chunk_rows: int,
    on_progress: ProgressCallback,
) -> Iterator[pd.DataFrame]:
    check = population_chunk_check(service.name)
    block_rows = max(chunk_rows, FETCH_BLOCK_ROWS)
    for block_start in range(0, len(entity_ids), block_rows):
        block = _fetch_block(store, service, key, entity_ids[block_start : block_start + block_rows], as_of)
        for start in range(0, len(block), chunk_rows):
            chunk = check.validate(block.iloc[start : start + chunk_rows].reset_index(drop=True))
            on_progress(len(chunk))
            yield chunk


def iter_population_features(
    settings: Settings,
    *,
    feature_service: str = "fire_risk",
    as_of: datetime | None = None,
    chunk_rows: int = 5_000,
    on_progress: ProgressCallback | None = None,
) -> Iterator[pd.DataFrame]:
    """Chunks of ``[entity key, features...]``, one row per entity of the population, as of ``as_of``.

    ``as_of`` defaults to the population's last snapshot; a naive datetime is taken as UTC. Checks
    (unknown service, missing dataset) run at call time, the offline queries as chunks are consumed.
    """
    if chunk_rows < 1:
        raise InvalidRequest("chunk_rows must be at least 1")
    population = service_spec(feature_service).population
    moment = _as_utc(as_of or load_manifest(settings, population.name).last_snapshot)
    entity_ids = population_entity_ids(settings, population.name)
    store = open_feature_store(settings)
    service = registered_feature_service(store, feature_service)
    progress = on_progress or no_progress
    progress(0, len(entity_ids))
    logger.info("population features %s as of %s: %d entities", feature_service, moment, len(entity_ids))
    return _chunks(store, service, population.entity_key, entity_ids, moment, chunk_rows, progress)
