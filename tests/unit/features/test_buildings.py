"""The seeded building generator: determinism, point-in-time sanity, shape and realism."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.buildings import BURN_IN_MONTHS, generate_buildings, snapshot_stamps
from features.definitions import POPULATIONS
from features.schemas import raw_table_schema, validate_frame

KEYS = ["building_id", "event_timestamp"]


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_buildings(500, months=24, seed=3)


def test_same_seed_gives_identical_tables(tables: dict[str, pd.DataFrame]) -> None:
    again = generate_buildings(500, months=24, seed=3)
    assert again.keys() == tables.keys()
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(again[name], frame)


def test_another_seed_gives_other_values(tables: dict[str, pd.DataFrame]) -> None:
    other = generate_buildings(500, months=24, seed=4)
    assert not other["monitoring"]["occupancy_rate"].equals(tables["monitoring"]["occupancy_rate"])
    assert other["labels"]["building_id"].equals(tables["labels"]["building_id"])


def test_features_at_a_snapshot_ignore_every_later_month(tables: dict[str, pd.DataFrame]) -> None:
    """Cutting the simulation 12 months earlier leaves every earlier snapshot untouched."""
    cut_month = snapshot_stamps(24)[11].date()
    short = generate_buildings(500, months=12, seed=3, end_month=cut_month)
    for name, frame in short.items():
        early = tables[name][tables[name]["event_timestamp"] <= frame["event_timestamp"].max()]
        pd.testing.assert_frame_equal(frame, early.reset_index(drop=True))


def test_incident_history_counts_only_months_already_labelled(tables: dict[str, pd.DataFrame]) -> None:
    """The label at t is the incident of month t+1: it shows in history at t+1, never at t."""
    history = tables["history"].pivot(index="event_timestamp", columns="building_id", values="incidents_total")
    labels = tables["labels"].pivot(index="event_timestamp", columns="building_id", values="incident_next_month")
    increments = history.diff().iloc[1:]
    np.testing.assert_array_equal(increments.to_numpy(), labels.to_numpy())


def test_last_snapshot_has_no_label(tables: dict[str, pd.DataFrame]) -> None:
    stamps = tables["profile"]["event_timestamp"].unique()
    labelled = tables["labels"]["event_timestamp"].unique()
    assert len(stamps) == 24
    assert list(labelled) == list(stamps[:-1])
    assert len(tables["labels"]) == 500 * 23


def test_incidents_are_rare_but_present(tables: dict[str, pd.DataFrame]) -> None:
    rate = tables["labels"]["incident_next_month"].mean()
    assert 0.005 < rate < 0.05


def test_sensor_features_are_missing_where_no_sensors_are_installed(tables: dict[str, pd.DataFrame]) -> None:
    monitoring = tables["monitoring"]
    sensors = ["sensor_faults_30d", "alarms_30d", "false_alarms_30d", "facility_offline_hours_30d"]
    missing = monitoring[sensors].isna()
    assert 0.1 < missing["alarms_30d"].mean() < 0.9
    assert (missing.all(axis=1) == missing.any(axis=1)).all()
    assert not monitoring["occupancy_rate"].isna().any()


def test_tables_hold_the_spec_columns_and_pass_their_raw_schemas(tables: dict[str, pd.DataFrame]) -> None:
    population = POPULATIONS["buildings"]
    for view in population.views:
        assert list(tables[view.table].columns) == [*KEYS, *view.feature_names]
    assert list(tables["labels"].columns) == [*KEYS, "incident_next_month"]
    for table in population.tables:
        validate_frame(raw_table_schema("buildings", table), tables[table])


def test_snapshots_are_month_starts_in_utc_microseconds(tables: dict[str, pd.DataFrame]) -> None:
    stamps = tables["weather"]["event_timestamp"]
    assert stamps.dtype == pd.DatetimeTZDtype(unit="us", tz="UTC")
    assert (stamps.dt.day == 1).all()
    assert (stamps.dt.hour == 0).all()
    assert stamps.max() == pd.Timestamp("2026-10-01", tz="UTC")


def test_end_month_moves_the_window() -> None:
    frames = generate_buildings(5, months=3, seed=1, end_month=dt.date(2025, 3, 17))
    assert list(frames["profile"]["event_timestamp"].unique()) == list(
        pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"], utc=True).as_unit("us")
    )


def test_building_ids_are_zero_padded(tables: dict[str, pd.DataFrame]) -> None:
    ids = tables["profile"]["building_id"].unique()
    assert ids[0] == "B0000001"
    assert ids[-1] == "B0000500"


def test_burn_in_fills_the_twelve_month_windows(tables: dict[str, pd.DataFrame]) -> None:
    first = tables["inspection"][
        tables["inspection"]["event_timestamp"] == tables["inspection"]["event_timestamp"].min()
    ]
    assert BURN_IN_MONTHS >= 12
    assert first["violations_12m"].sum() > 0


def test_rejects_fewer_than_two_months() -> None:
    with pytest.raises(ValueError, match="two months"):
        generate_buildings(10, months=1, seed=1)
