"""Writing a generated population to the data dir, and finding it again."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.datasets import generate_population, load_manifest, read_table, table_path
from warehouse.errors import DatasetNotFound, InvalidRequest
from warehouse.settings import Settings

from .conftest import MONTHS, N_BUILDINGS, SEED, PreparedFeatures


def test_manifest_records_relative_paths_rows_and_last_snapshot(prepared_features: PreparedFeatures) -> None:
    manifest = prepared_features.manifest
    assert manifest.population == "buildings"
    assert manifest.entity_key == "building_id"
    assert (manifest.n_entities, manifest.months, manifest.seed) == (N_BUILDINGS, MONTHS, SEED)
    assert manifest.tables["labels"] == "buildings/labels.parquet"
    assert all(not path.startswith("/") for path in manifest.tables.values())
    assert manifest.rows["profile"] == N_BUILDINGS * MONTHS
    assert manifest.rows["labels"] == N_BUILDINGS * (MONTHS - 1)
    assert manifest.last_snapshot.isoformat() == "2026-10-01T00:00:00+00:00"
    on_disk = json.loads((prepared_features.root / "datasets" / "buildings" / "manifest.json").read_text())
    assert on_disk["tables"] == manifest.tables


def test_parquet_timestamps_are_utc_microseconds(prepared_settings: Settings) -> None:
    schema = pq.read_schema(table_path(prepared_settings, "buildings", "monitoring"))
    assert schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert schema.field("building_id").type == pa.string()


def test_regenerating_with_the_same_seed_writes_the_same_tables(
    prepared_settings: Settings, empty_settings: Settings
) -> None:
    generate_population(empty_settings, n_entities=N_BUILDINGS, months=MONTHS, seed=SEED)
    for table in ("profile", "labels"):
        again = read_table(empty_settings, "buildings", table)
        assert again.equals(read_table(prepared_settings, "buildings", table))


def test_progress_reports_every_table(empty_settings: Settings) -> None:
    calls: list[tuple[int, int | None]] = []
    generate_population(
        empty_settings, n_entities=5, months=2, seed=1, on_progress=lambda n, total=None: calls.append((n, total))
    )
    assert calls[0] == (0, 7)
    assert sum(advance for advance, _ in calls) == 7


def test_missing_population_is_dataset_not_found(empty_settings: Settings) -> None:
    with pytest.raises(DatasetNotFound, match="population 'buildings' has not been generated"):
        load_manifest(empty_settings, "buildings")
    with pytest.raises(DatasetNotFound):
        read_table(empty_settings, "buildings", "labels")


def test_unknown_population_is_an_invalid_request(empty_settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="unknown population 'ships'"):
        generate_population(empty_settings, population="ships", n_entities=5)
