"""Suspending the served champion takes it out of a running server without a restart, and
reinstating it brings it back; the server picks both up through its governance watcher."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

from tests.engines import wait_for_score_status, wait_until_ready
from warehouse.api import create_app

if TYPE_CHECKING:
    from warehouse.settings import Settings

SCORE = "/v1/score/fire_risk"
BODY = {"entities": ["B0000001"]}
STEP = "/v1/models/fire_risk/versions/1"


def test_suspend_and_reinstate_reach_the_running_server(settings: Settings, admin_headers: dict[str, str]) -> None:
    with TestClient(create_app(settings), headers=admin_headers) as client:
        wait_until_ready(client)
        assert client.post(SCORE, json=BODY).json()["model_version"] == "1"

        assert client.post(f"{STEP}/suspend", json={"reason": "drift"}).status_code == 200
        refused = wait_for_score_status(client, 409, BODY)
        assert client.post(f"{STEP}/reinstate", json={"reason": "fixed"}).status_code == 200
        restored = wait_for_score_status(client, 200, BODY)

    assert refused.json()["error"]["code"] == "model_not_approved"
    assert "fire_risk version 1 is suspended" in refused.json()["error"]["message"]
    assert restored.json()["model_version"] == "1"
