"""The latest-values feature source: the same chunks and values as Feast's point-in-time read, without Feast."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.datasets import generate_population, read_table, table_path
from features.definitions import SERVICES, service_spec
from features.latest import iter_latest_features, plan_blocks
from features.offline import iter_population_features
from warehouse.errors import DatasetNotFound, DataValidationError, InvalidRequest
from warehouse.settings import Settings

from .conftest import MONTHS, N_BUILDINGS, SEED, settings_for

NAMES = SERVICES["fire_risk"].feature_names


def _both(settings: Settings, **options: object) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    latest = list(iter_latest_features(settings, **options))  # type: ignore[arg-type]  # keyword options by name
    point_in_time = list(iter_population_features(settings, **options))  # type: ignore[arg-type]  # as above
    return latest, point_in_time


def _assert_same_chunks(latest: list[pd.DataFrame], point_in_time: list[pd.DataFrame]) -> None:
    assert [len(chunk) for chunk in latest] == [len(chunk) for chunk in point_in_time]
    for ours, feasts in zip(latest, point_in_time, strict=True):
        pd.testing.assert_frame_equal(ours.reset_index(drop=True), feasts.reset_index(drop=True), check_exact=True)


def test_same_chunks_and_values_as_the_point_in_time_read(prepared_settings: Settings) -> None:
    progress: list[tuple[int, int | None]] = []
    latest = list(
        iter_latest_features(
            prepared_settings, chunk_rows=128, on_progress=lambda n, total=None: progress.append((n, total))
        )
    )
    _assert_same_chunks(latest, list(iter_population_features(prepared_settings, chunk_rows=128)))
    assert [len(chunk) for chunk in latest] == [128, 128, N_BUILDINGS - 256]
    assert list(latest[0].columns) == ["building_id", *NAMES]
    assert progress[0] == (0, N_BUILDINGS)
    assert sum(advance for advance, _ in progress) == N_BUILDINGS


def test_same_values_between_snapshots(prepared_settings: Settings) -> None:
    stamps = sorted(read_table(prepared_settings, "buildings", "profile")["event_timestamp"].unique())
    mid_month = datetime(stamps[4].year, stamps[4].month, 20)
    _assert_same_chunks(*_both(prepared_settings, as_of=mid_month, chunk_rows=100))


def test_an_entity_missing_its_last_snapshot_gets_the_one_before_as_in_feast(copied_settings: Settings) -> None:
    path = table_path(copied_settings, "buildings", "monitoring")
    frame = pd.read_parquet(path)
    last = frame["event_timestamp"].max()
    dropped = frame["building_id"].isin(["B0000003", "B0000150"]) & (frame["event_timestamp"] == last)
    frame[~dropped].to_parquet(path, index=False)
    latest, point_in_time = _both(copied_settings, chunk_rows=1_000)
    _assert_same_chunks(latest, point_in_time)
    before = frame[(frame["building_id"] == "B0000003") & (frame["event_timestamp"] < last)]
    expected = before.sort_values("event_timestamp").iloc[-1]["occupancy_rate"]
    assert latest[0].set_index("building_id").loc["B0000003", "occupancy_rate"] == expected


def test_as_of_before_any_snapshot_fails_validation(prepared_settings: Settings) -> None:
    chunks = iter_latest_features(prepared_settings, as_of=datetime(2000, 1, 1))
    with pytest.raises(DataValidationError, match="population chunk failed validation"):
        next(chunks)


def test_missing_population_fails_at_call_time(empty_settings: Settings) -> None:
    with pytest.raises(DatasetNotFound):
        iter_latest_features(empty_settings)


def test_unknown_service_and_bad_chunk_rows_fail_at_call_time(prepared_settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="unknown feature service"):
        iter_latest_features(prepared_settings, feature_service="nope")
    with pytest.raises(InvalidRequest, match="chunk_rows"):
        iter_latest_features(prepared_settings, chunk_rows=0)


def test_reading_the_latest_values_imports_no_feast(prepared_settings: Settings) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from features.latest import iter_latest_features\n"
        "from warehouse.settings import Settings\n"
        f"settings = Settings(data_dir=Path({str(prepared_settings.data_dir)!r}))\n"
        "rows = sum(len(chunk) for chunk in iter_latest_features(settings, chunk_rows=64))\n"
        "print(rows, 'feast' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    assert done.stdout.split() == [str(N_BUILDINGS), "False"]


def test_blocks_smaller_than_a_chunk_give_the_same_chunks(
    prepared_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import features.latest

    monkeypatch.setattr(features.latest, "BLOCK_ROWS", 70)
    _assert_same_chunks(*_both(prepared_settings, chunk_rows=128))


def test_the_population_is_counted_and_cut_into_blocks_in_key_order(prepared_settings: Settings) -> None:
    blocks = plan_blocks(prepared_settings, service_spec("fire_risk"), 70)
    keys = sorted(read_table(prepared_settings, "buildings", "profile")["building_id"].unique())
    assert blocks.entities == N_BUILDINGS
    assert blocks.first_keys == keys[::70]


def test_tables_in_small_row_groups_give_the_same_chunks(
    prepared_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import features.datasets
    import features.latest

    monkeypatch.setattr(features.datasets, "ROW_GROUP_ROWS", 256)
    monkeypatch.setattr(features.latest, "BLOCK_ROWS", 70)
    settings = settings_for(tmp_path / "small-groups")
    generate_population(settings, n_entities=N_BUILDINGS, months=MONTHS, seed=SEED)
    metadata = pq.ParquetFile(table_path(settings, "buildings", "profile")).metadata
    assert metadata.num_row_groups == math.ceil(N_BUILDINGS * MONTHS / 256)
    assert max(metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)) == 256
    ours = list(iter_latest_features(settings, chunk_rows=128))
    _assert_same_chunks(ours, list(iter_latest_features(prepared_settings, chunk_rows=128)))
