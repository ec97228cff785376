"""A data dir stands on its own: moved to a new place, with the original gone, it still serves and scores."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from scheduling.batch import score_population
from tests.auth_helpers import caller_headers
from tests.conftest import PREPARED_BUILDINGS
from tests.engines import wait_until_ready
from warehouse.api import create_app
from warehouse.settings import Settings
from warehouse.tracking import LOCATION_MARKER, mlflow_client


def test_moved_data_dir_serves_and_scores_without_the_original(settings: Settings, tmp_path: Path) -> None:
    moved = tmp_path / "moved" / "wh"
    shutil.copytree(settings.data_dir, moved)
    shutil.rmtree(settings.data_dir)
    shutil.rmtree(moved / "runtime", ignore_errors=True)  # no cached model files: fetch from artifacts
    relocated = Settings(data_dir=moved)

    report = score_population(relocated, "fire_risk")
    assert report.rows == PREPARED_BUILDINGS
    client = mlflow_client(relocated)
    experiment = client.get_experiment_by_name("fire_risk")
    assert experiment is not None
    assert experiment.artifact_location.startswith(relocated.mlflow_artifacts_uri)
    version = client.get_model_version("fire_risk", "1")
    assert client.get_run(version.run_id).info.artifact_uri.startswith(relocated.mlflow_artifacts_uri)
    assert (moved / LOCATION_MARKER).read_text() == relocated.mlflow_artifacts_uri
    headers = caller_headers(relocated, "app", clearance="internal", grants=["fire_risk"])
    with TestClient(create_app(relocated), headers=headers) as client:
        wait_until_ready(client)
        response = client.post("/v1/score/fire_risk", json={"entities": ["B0000001"]})
    assert response.status_code == 200
    assert response.json()["results"][0]["score"] is not None


def test_threads_opening_a_moved_store_at_once_rewrite_its_locations_once(settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from registry.models import resolve_version

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: mlflow_client(settings), range(32)))

    run_id = resolve_version(settings, model_name="fire_risk", alias_or_version="champion").run_id
    assert run_id is not None
    artifact_uri = mlflow_client(settings).get_run(run_id).info.artifact_uri
    assert artifact_uri == f"{settings.mlflow_artifacts_uri}/{run_id}/artifacts"
    assert (settings.data_dir / LOCATION_MARKER).read_text(encoding="utf-8") == settings.mlflow_artifacts_uri
