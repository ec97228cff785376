"""Kill -9 of a batch run midway, then resume: exactly one row per entity, pinned version, idempotent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from scheduling.executor import RunNotFound, execute_run, start_run
from scheduling.jobs import list_results
from scheduling.specs import RunRequest
from scheduling.store import RunChunk
from tests.conftest import PREPARED_BUILDINGS
from warehouse.db import BatchRun, MetadataDB
from warehouse.errors import InvalidRequest
from warehouse.settings import Settings

WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))
CHUNK_ROWS = 50
STALL_AFTER_CHUNKS = 3
# The child executes the run and, after its third committed chunk, blocks until it is killed.
STALLING_EXECUTOR = """
import sys, threading
from scheduling.executor import execute_run
from warehouse.settings import Settings

committed = []
def stall(advance, total=None):
    if total is None:
        committed.append(advance)
    if len(committed) >= int(sys.argv[3]):
        threading.Event().wait()

execute_run(Settings(data_dir=sys.argv[1]), sys.argv[2], on_progress=stall)
"""


def wait_until(condition: Callable[[], bool], *, timeout_s: float, message: str) -> None:
    """Poll ``condition`` until it holds; fail with ``message`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.05)


def run_state(settings: Settings, run_id: str) -> tuple[str, int, int]:
    """(status, committed chunks, rows_done) of a run."""
    db = MetadataDB.from_settings(settings)
    try:
        with db.session() as session:
            run = session.get(BatchRun, run_id)
            assert run is not None
            chunks = session.scalar(select(func.count()).select_from(RunChunk).where(RunChunk.run_id == run_id))
            return run.status, int(chunks or 0), run.rows_done
    finally:
        db.dispose()


def test_kill_9_midway_then_resume_scores_each_entity_exactly_once(settings: Settings) -> None:
    from registry.models import list_aliases
    from warehouse.tracking import mlflow_client

    small_chunks = settings.model_copy(update={"batch_chunk_rows": CHUNK_ROWS})
    run_id = start_run(small_chunks, RunRequest(algorithm="fire_risk"))
    child = subprocess.Popen(
        [sys.executable, "-c", STALLING_EXECUTOR, str(settings.data_dir), run_id, str(STALL_AFTER_CHUNKS)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: run_state(settings, run_id)[1] >= STALL_AFTER_CHUNKS or child.poll() is not None,
            timeout_s=180,
            message="the executor committed no chunks in time",
        )
        assert child.poll() is None, "the executor exited before it was killed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert run_state(settings, run_id) == ("running", STALL_AFTER_CHUNKS, STALL_AFTER_CHUNKS * CHUNK_ROWS)

    # Move nothing but remove the alias: a resume must use the pinned version, not look the alias up.
    mlflow_client(settings).delete_registered_model_alias("fire_risk", "champion")
    assert "champion" not in list_aliases(settings, "fire_risk")
    resumed = subprocess.run(
        [WAREHOUSE, "--data-dir", str(settings.data_dir), "batch", "resume", run_id],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr

    output = settings.results_dir / "fire_risk" / f"run_id={run_id}"
    results = pd.read_parquet(output)
    assert len(results) == PREPARED_BUILDINGS
    assert results["building_id"].is_unique
    assert (results["model_version"] == "1").all()
    assert not list(output.glob(".*"))
    chunks = -(-PREPARED_BUILDINGS // CHUNK_ROWS)
    assert run_state(settings, run_id) == ("succeeded", chunks, PREPARED_BUILDINGS)
    # The results table was written chunk by chunk with the commits: one row per entity, same scores.
    page = list_results(settings, run_id, limit=1000)
    assert page.total == PREPARED_BUILDINGS
    assert [row.entity_id for row in page.results] == sorted(results["building_id"])
    by_id = results.set_index("building_id")
    assert all(row.score == pytest.approx(by_id.loc[row.entity_id, "score"]) for row in page.results)


def test_executing_a_finished_run_again_changes_nothing(settings: Settings) -> None:
    small_chunks = settings.model_copy(update={"batch_chunk_rows": 128})
    run_id = start_run(small_chunks, RunRequest(algorithm="fire_risk"))
    first = execute_run(settings, run_id)
    output = first.output_dir
    before = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in output.iterdir()}
    again = execute_run(settings, run_id)
    after = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in output.iterdir()}
    assert before == after
    assert len(before) == 4  # 400 rows in chunks of 128
    assert (again.rows, again.model_version) == (first.rows, first.model_version) == (PREPARED_BUILDINGS, "1")
    assert run_state(settings, run_id) == ("succeeded", 4, PREPARED_BUILDINGS)
    assert list_results(settings, run_id, limit=1).total == PREPARED_BUILDINGS


def test_a_population_filter_scores_only_matching_entities(settings: Settings) -> None:
    from features.offline import iter_population_features

    population = pd.concat(iter_population_features(settings, feature_service="fire_risk", chunk_rows=1000))
    districts = sorted(population["district_code"].unique().tolist())[:2]
    expected = set(population.loc[population["district_code"].isin(districts), "building_id"])
    request = RunRequest(algorithm="fire_risk", population_filter={"district_code": districts})
    report = execute_run(settings, start_run(settings, request))
    results = pd.read_parquet(report.output_dir)
    assert set(results["building_id"]) == expected
    assert report.rows == len(expected) < PREPARED_BUILDINGS
    assert run_state(settings, report.run_id) == ("succeeded", 1, PREPARED_BUILDINGS)


def test_a_filter_on_an_unknown_feature_is_refused_before_anything_is_recorded(settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="no_such_feature"):
        start_run(settings, RunRequest(algorithm="fire_risk", population_filter={"no_such_feature": [1]}))
    assert not (settings.results_dir / "fire_risk").exists()


def test_executing_an_unknown_run_is_not_found(settings: Settings) -> None:
    with pytest.raises(RunNotFound, match="nope"):
        execute_run(settings, "nope")
