"""Governance over HTTP (``/v1/models``, ``/v1/audit``) and the CLI, on the prepared warehouse.

The prepared warehouse's fire-risk champion went through the pipeline: registered and submitted by
``demo``, approved by ``reviewer``, published by receiving ``champion``. Over HTTP the acting person
is the principal of the API key (``ops``, an admin), never a field of the body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from warehouse.api import create_app
from warehouse.cli import app as cli_app
from warehouse.db import MetadataDB
from warehouse.errors import ModelIntegrityError

if TYPE_CHECKING:
    from warehouse.settings import Settings

MODEL = "/v1/models/fire_risk"
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def client(settings: Settings, auth_headers: Headers) -> TestClient:
    """The app, called as ``ops`` (an admin cleared for restricted data)."""
    return TestClient(create_app(settings), headers=auth_headers("admin", name="ops"))


def test_pipeline_published_the_champion_through_review(client: TestClient) -> None:

    state = client.get(f"{MODEL}/versions/1")
    history = client.get(f"{MODEL}/history").json()

    assert state.status_code == 200
    assert state.json()["state"] == "published"
    assert (state.json()["submitted_by"], len(state.json()["signer_key_id"])) == ("demo", 16)
    assert [(step["to_state"], step["actor"]) for step in history["lifecycle"]] == [
        ("registered", "demo"),
        ("in_review", "demo"),
        ("approved", "reviewer"),
        ("published", "demo"),
    ]
    assert [(move["alias"], move["to_version"]) for move in history["aliases"]] == [("champion", "1")]


def test_card_route(client: TestClient) -> None:
    body = client.get(f"{MODEL}/versions/1/card").json()

    assert body["missing_fields"] == []
    assert body["card"]["classification"] == "internal"
    assert body["markdown"].startswith("# Model card: fire_risk version 1")


def test_steps_and_their_errors(client: TestClient) -> None:
    suspended = client.post(f"{MODEL}/versions/1/suspend", json={"reason": "drift"})
    again = client.post(f"{MODEL}/versions/1/suspend", json={"reason": "drift"})
    promote = client.post(f"{MODEL}/aliases/challenger", json={"version": "1"})
    rollback = client.post(f"{MODEL}/aliases/champion/rollback", json={})
    missing = client.post(f"{MODEL}/versions/9/approve", json={})
    extra = client.post(f"{MODEL}/versions/1/reinstate", json={"actor": "someone-else", "reason": "fixed"})
    unknown_step = client.post(f"{MODEL}/versions/1/explode", json={})
    reinstated = client.post(f"{MODEL}/versions/1/reinstate", json={"reason": "fixed"})

    assert (suspended.status_code, suspended.json()["state"]) == (200, "suspended")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_lifecycle_transition"
    assert (promote.status_code, promote.json()["error"]["code"]) == (409, "model_not_approved")
    assert rollback.status_code == 409 and "nothing to roll back" in rollback.json()["error"]["message"]
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "model_not_found")
    assert (extra.status_code, extra.json()["error"]["code"]) == (422, "invalid_request")  # actor is no field
    assert (unknown_step.status_code, unknown_step.json()["error"]["code"]) == (404, "not_found")
    assert (reinstated.status_code, reinstated.json()["state"]) == (200, "approved")
    steps = client.get(f"{MODEL}/history").json()["lifecycle"][-2:]
    assert [(step["to_state"], step["actor"]) for step in steps] == [("suspended", "ops"), ("approved", "ops")]


def test_audit_routes(client: TestClient) -> None:
    client.post(f"{MODEL}/versions/1/suspend", json={"reason": "drift"})

    by_ops = client.get("/v1/audit", params={"actor": "ops"}).json()
    about_model = client.get("/v1/audit", params={"model": "fire_risk"}).json()
    since = client.get("/v1/audit", params={"model": "fire_risk", "since": by_ops[0]["at"]}).json()
    until = client.get("/v1/audit", params={"model": "fire_risk", "until": by_ops[0]["at"]}).json()
    clash = client.get("/v1/audit", params={"model": "fire_risk", "subject": "other/"})
    verify = client.get("/v1/audit/verify").json()

    assert [(entry["action"], entry["subject"]) for entry in by_ops] == [("model.suspend", "fire_risk/1")]
    assert by_ops[0]["detail"] == {"from_state": "published", "to_state": "suspended", "reason": "drift"}
    assert verify["intact"] is True and verify["entries"] >= 6
    assert about_model[0]["action"] == "model.suspend" and {e["subject"][:9] for e in about_model} == {"fire_risk"}
    middle = dt.datetime.fromisoformat(by_ops[0]["at"])
    moments = [(entry["seq"], dt.datetime.fromisoformat(entry["at"])) for entry in about_model]
    assert [entry["seq"] for entry in since] == [seq for seq, at in moments if at >= middle]
    assert [entry["seq"] for entry in until] == [seq for seq, at in moments if at < middle]
    assert len(since) + len(until) == len(about_model) and since[0]["action"] == "model.suspend"
    assert (clash.status_code, clash.json()["error"]["code"]) == (422, "invalid_request")


def test_cli_steps_card_and_audit_verify(settings: Settings) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir)]

    state = runner.invoke(cli_app, [*base, "models", "state", "fire_risk", "1"])
    card = runner.invoke(cli_app, [*base, "models", "card", "fire_risk", "1"])
    suspend = runner.invoke(
        cli_app, [*base, "models", "suspend", "fire_risk", "1", "--reason", "drift", "--actor", "ops"]
    )
    refused = runner.invoke(cli_app, [*base, "models", "promote", "fire_risk", "1", "--alias", "challenger"])
    verified = runner.invoke(cli_app, [*base, "audit", "verify"])

    assert state.exit_code == 0 and "fire_risk v1: published" in state.stdout
    assert card.exit_code == 0 and "## Grading thresholds" in card.stdout
    assert suspend.exit_code == 0 and "fire_risk v1: suspended" in suspend.stdout
    assert refused.exit_code == 1 and "is suspended" in str(refused.exception)
    assert verified.exit_code == 0 and "audit chain intact" in verified.stdout


def test_cli_audit_verify_names_the_edited_entry(settings: Settings) -> None:
    db = MetadataDB(settings.metadata_url)
    with db.session() as session:
        session.execute(text("UPDATE audit_log SET detail = :detail WHERE seq = :seq"), {"detail": "{}", "seq": 3})
    db.dispose()

    result = CliRunner().invoke(cli_app, ["--data-dir", str(settings.data_dir), "audit", "verify"])

    assert result.exit_code == 1
    assert "audit chain broken at entry 3" in result.stdout


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def test_batch_and_serving_refuse_a_changed_byte(settings: Settings) -> None:
    from scheduling.batch import score_population
    from serving.repository import ModelRepository
    from warehouse.audit import list_entries

    _flip_one_byte(settings.runtime_dir / "models" / "fire_risk" / "1" / "model.onnx")

    with pytest.raises(ModelIntegrityError, match="registered SM3 digest"):
        score_population(settings, "fire_risk")
    with pytest.raises(ModelIntegrityError, match="registered SM3 digest"):
        ModelRepository(settings).get("fire_risk", "champion")
    failures = [entry for entry in list_entries(settings) if entry.action == "model.integrity_failure"]

    assert [entry.subject for entry in failures] == ["fire_risk/1", "fire_risk/1"]
