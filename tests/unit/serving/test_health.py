"""Open Inference Protocol health: live always, ready only once models are loaded (both engines)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from warehouse.api import create_app
from warehouse.pipeline import initialize
from warehouse.settings import Settings


def test_live_and_ready_with_a_champion(client: httpx.Client) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    response = client.get("/v2/health/ready")
    assert (response.status_code, response.json()) == (200, {"ready": True})
    assert client.get("/v2").json()["name"] == "algorithm-warehouse"


def test_not_ready_without_any_published_model(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "empty")
    initialize(settings)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.repository.wait_for_startup(timeout_s=120)  # type: ignore[attr-defined]
        response = client.get("/v2/health/ready")
        assert (response.status_code, response.json()) == (503, {"ready": False})
        assert client.get("/v2/health/live").status_code == 200
