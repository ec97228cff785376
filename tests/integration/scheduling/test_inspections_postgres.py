"""Inspection draws over HTTP on PostgreSQL: recorded with the largest seed, reproducible, audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from scheduling.inspections import MAX_SEED
from scheduling.jobs import add_job, run_job_now
from scheduling.specs import JobSpec
from tests.auth_helpers import caller_headers
from warehouse.audit import list_entries, verify_chain
from warehouse.settings import Settings

pytestmark = pytest.mark.integration

ENTITIES = 300


def test_draws_over_http_on_postgres(postgres_database: Callable[[], str], tmp_path: Path) -> None:
    from warehouse.api import create_app
    from warehouse.pipeline import initialize, prepare_features, train_and_publish

    settings = Settings(data_dir=tmp_path / "wh", database_url=postgres_database())
    initialize(settings)
    prepare_features(settings, n_entities=ENTITIES, seed=7, population="market_entities")
    train_and_publish(settings, "credit_supervision", seed=7, actor="scientist")
    add_job(settings, JobSpec(name="credit", algorithm="credit_supervision", cron="0 3 * * 1"))
    run_id = run_job_now(settings, "credit").run_id
    reviewer = caller_headers(settings, "reviewer", name="inspector.pg", clearance="internal")

    with TestClient(create_app(settings), headers=reviewer) as client:
        first = client.post("/v1/inspections/draw", json={"job": "credit", "seed": MAX_SEED, "total": 30})
        again = client.post("/v1/inspections/draw", json={"run": run_id, "seed": MAX_SEED, "total": 30})
        assert (first.status_code, again.status_code) == (201, 201), first.text
        ids = [entity["entity_id"] for entity in first.json()["entities"]]
        assert len(ids) == len(set(ids)) == 30
        assert ids == [entity["entity_id"] for entity in again.json()["entities"]]
        listed = client.get("/v1/inspections").json()
        assert [draw["id"] for draw in listed] == [again.json()["id"], first.json()["id"]]
        shown = client.get(f"/v1/inspections/{first.json()['id']}").json()
        assert shown == first.json() and shown["seed"] == MAX_SEED and shown["actor"] == "inspector.pg"

    (entry,) = list_entries(settings, subject=f"inspection_draw/{first.json()['id']}")
    assert (entry.action, entry.actor, entry.detail["run_id"]) == ("inspections.draw", "inspector.pg", run_id)
    assert verify_chain(settings).intact
