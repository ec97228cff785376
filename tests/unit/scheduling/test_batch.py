"""Batch scoring of the whole population: one row per entity, run recorded, same scores as online."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from features.datasets import table_path
from scheduling.batch import score_population
from scheduling.executor import execute_run, start_run
from scheduling.specs import RunRequest
from scheduling.store import RunChunk, RunResult
from tests.conftest import PREPARED_BUILDINGS
from warehouse.db import BatchRun, MetadataDB
from warehouse.errors import DataValidationError
from warehouse.settings import Settings


def test_scores_every_building_once_and_records_the_run(settings: Settings) -> None:
    seen: list[int] = []
    report = score_population(settings, "fire_risk", on_progress=lambda n, _t=None: seen.append(n))
    assert report.rows == PREPARED_BUILDINGS == sum(seen)
    results = pd.read_parquet(report.output_dir)
    assert len(results) == PREPARED_BUILDINGS
    assert results["building_id"].is_unique
    assert set(results.columns) >= {"building_id", "score", "level", "warning", "model_version", "run_id"}
    assert (results["model_version"] == "1").all()
    assert (results["run_id"] == report.run_id).all()
    assert results["score"].between(0, 1).all()
    assert not list(report.output_dir.glob("*.partial"))
    db = MetadataDB.from_settings(settings)
    with db.session() as session:
        run = session.scalars(select(BatchRun)).one()
    db.dispose()
    assert (run.id, run.status, run.rows_done, run.model_version) == (report.run_id, "succeeded", report.rows, "1")


def test_batch_and_online_scores_agree(settings: Settings, admin_headers: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    from tests.engines import wait_until_ready
    from warehouse.api import create_app

    report = score_population(settings, "fire_risk")
    batch = pd.read_parquet(report.output_dir).set_index("building_id")
    ids = ["B0000001", "B0000010", "B0000100"]
    with TestClient(create_app(settings), headers=admin_headers) as client:
        wait_until_ready(client)
        online = client.post("/v1/score/fire_risk", json={"entities": ids}).json()["results"]
    for result in online:
        assert result["score"] == pytest.approx(batch.loc[result["entity_id"], "score"], abs=1e-7)
        assert result["level"] == batch.loc[result["entity_id"], "level"]


def test_unknown_alias_fails_before_anything_is_written(settings: Settings) -> None:
    from warehouse.errors import ModelNotFound

    with pytest.raises(ModelNotFound):
        score_population(settings, "fire_risk", alias="nobody")
    assert not (settings.results_dir / "fire_risk").exists()


def test_a_batch_run_is_in_the_audit_chain(settings: Settings) -> None:
    from warehouse.audit import list_entries, verify_chain

    report = score_population(settings, "fire_risk")
    entries = list_entries(settings, subject=f"batch_run/{report.run_id}")
    assert [entry.action for entry in reversed(entries)] == ["batch.run_running", "batch.run_succeeded"]
    assert entries[0].detail["version"] == report.model_version
    assert entries[0].detail["rows_done"] == report.rows
    assert verify_chain(settings).intact


def test_a_chunk_that_breaks_a_rule_fails_the_run_naming_column_and_rule(settings: Settings) -> None:
    """A feature value outside its bounds fails the run with pandera's error; its chunk commits nothing."""
    path = table_path(settings, "buildings", "profile")
    profile = pd.read_parquet(path)
    broken = sorted(profile["building_id"].unique())[7]
    profile.loc[profile["building_id"] == broken, "floors"] = 0
    profile.to_parquet(path, index=False)
    run_id = start_run(settings, RunRequest(algorithm="fire_risk", model="champion", features="latest"))
    with pytest.raises(DataValidationError) as caught:
        execute_run(settings, run_id)
    message = caught.value.message
    assert message.startswith("fire_risk population chunk failed validation:")
    assert "column 'floors' failed greater_than_or_equal_to(1) in 1 case(s), e.g. row 7: 0.0" in message
    db = MetadataDB.from_settings(settings)
    with db.session() as session:
        run = session.get(BatchRun, run_id)
        assert run is not None
        assert (run.status, run.rows_done) == ("failed", 0)
        assert "column 'floors' failed greater_than_or_equal_to(1)" in run.error
        assert session.scalars(select(RunChunk).where(RunChunk.run_id == run_id)).all() == []
        assert session.scalars(select(RunResult).where(RunResult.run_id == run_id)).all() == []
    db.dispose()
