"""The ``/v1/jobs``, ``/v1/runs`` and ``/v1/alerts`` routes: bodies, status codes, error shapes.

The client holds an admin key; alerts are acted on by reviewers, whose principal is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PREPARED_BUILDINGS
from warehouse.settings import Settings

JOB = {"name": "nightly", "algorithm": "fire_risk", "cron": "0 2 * * *", "thresholds": {"min_level": "high"}}


@pytest.fixture
def client(settings: Settings, admin_headers: dict[str, str]) -> Iterator[TestClient]:
    from warehouse.api import create_app

    with TestClient(create_app(settings), headers=admin_headers) as client:
        yield client


def test_jobs_are_created_listed_shown_and_paused(client: TestClient) -> None:
    created = client.post("/v1/jobs", json=JOB)
    assert created.status_code == 201, created.text
    assert created.json()["spec"]["thresholds"] == {"score": None, "min_level": "high"}
    assert [job["spec"]["name"] for job in client.get("/v1/jobs").json()] == ["nightly"]
    assert client.get("/v1/jobs/nightly").json()["paused"] is False
    assert client.post("/v1/jobs/nightly/pause").json()["paused"] is True
    assert client.post("/v1/jobs/nightly/resume").json()["paused"] is False

    again = client.post("/v1/jobs", json=JOB)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "job_exists")
    missing = client.get("/v1/jobs/weekly")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "job_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {**JOB, "cron": "whenever"},
        {**JOB, "surprise": True},
        {**JOB, "population_filter": {"district": [1]}},
        {**JOB, "algorithm": "no_such_algorithm"},
    ],
)
def test_bad_jobs_are_refused_with_a_json_error(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/v1/jobs", json=body)
    assert response.status_code in (404, 422)
    assert response.json()["error"]["code"] in ("invalid_request", "model_not_found")
    assert client.get("/v1/jobs").json() == []


def test_runs_show_progress_rate_and_pinned_version_and_alerts_close_the_loop(
    client: TestClient, settings: Settings, auth_headers: Callable[..., dict[str, str]]
) -> None:
    from scheduling.jobs import run_job_now

    client.post("/v1/jobs", json=JOB)
    report = run_job_now(settings, "nightly")
    runs = client.get("/v1/runs", params={"job": "nightly"}).json()
    assert [run["id"] for run in runs] == [report.run_id]
    run = client.get(f"/v1/runs/{report.run_id}").json()
    assert (run["status"], run["rows_done"], run["rows_total"], run["model_version"]) == (
        "succeeded",
        PREPARED_BUILDINGS,
        PREPARED_BUILDINGS,
        "1",
    )
    assert run["rows_per_s"] > 0
    assert client.get("/v1/runs/nope").json()["error"]["code"] == "run_not_found"

    alerts = client.get("/v1/alerts", params={"job": "nightly", "status": "open"}).json()
    assert alerts and {alert["level"] for alert in alerts} <= {"high", "critical"}
    alert_id = alerts[0]["id"]
    li = auth_headers("reviewer", name="inspector.li")
    wang = auth_headers("reviewer", name="inspector.wang")
    acked = client.post(f"/v1/alerts/{alert_id}/ack", json={}, headers=li)
    assert acked.status_code == 200
    assert (acked.json()["status"], acked.json()["acted_by"]) == ("acknowledged", "inspector.li")
    refused = client.post(f"/v1/alerts/{alert_id}/dismiss", json={}, headers=li)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_request")
    again = client.post(f"/v1/alerts/{alert_id}/ack", json={}, headers=li)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "alert_transition_refused")
    resolved = client.post(f"/v1/alerts/{alert_id}/resolve", json={"reason": "fixed"}, headers=wang)
    assert (resolved.json()["status"], resolved.json()["acted_by"]) == ("resolved", "inspector.wang")
    assert len(client.get("/v1/alerts", params={"status": "open"}).json()) == len(alerts) - 1
    trail = client.get("/v1/audit", params={"subject": f"alert/{alert_id}"}).json()
    assert [(entry["action"], entry["actor"]) for entry in trail] == [
        ("alert.resolve", "inspector.wang"),
        ("alert.ack", "inspector.li"),
    ]


def test_a_job_runs_now_over_http_and_executes_after_the_answer(client: TestClient) -> None:
    client.post("/v1/jobs", json=JOB)

    started = client.post("/v1/runs", json={"job": "nightly"})
    missing = client.post("/v1/runs", json={"job": "weekly"})

    assert started.status_code == 202, started.text
    assert (started.json()["job_name"], started.json()["model_version"]) == ("nightly", "1")
    # The test client runs the background execution before it returns the answer.
    run = client.get(f"/v1/runs/{started.json()['id']}").json()
    assert (run["status"], run["rows_done"], run["rows_total"]) == ("succeeded", PREPARED_BUILDINGS, PREPARED_BUILDINGS)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "job_not_found")


def test_backfill_runs_missed_fire_times_once_and_refuses_bad_ranges(client: TestClient) -> None:
    client.post("/v1/jobs", json={**JOB, "thresholds": None})
    body = {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T23:00:00Z"}
    first = client.post("/v1/jobs/nightly/backfill", json=body)
    assert first.status_code == 200, first.text
    ran = first.json()["ran"]
    assert sorted(ran) == ["2026-11-20T02:00:00Z", "2026-11-21T02:00:00Z"]
    runs = {run["id"]: run for run in client.get("/v1/runs", params={"job": "nightly"}).json()}
    assert {runs[run_id]["scheduled_for"] for run_id in ran.values()} == set(ran)
    assert {runs[run_id]["status"] for run_id in ran.values()} == {"succeeded"}

    again = client.post("/v1/jobs/nightly/backfill", json=body).json()
    assert (again["ran"], sorted(again["already_claimed"])) == ({}, sorted(ran))
    backwards = client.post("/v1/jobs/nightly/backfill", json={"start": body["end"], "end": body["start"]})
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (422, "invalid_request")
    missing = client.post("/v1/jobs/weekly/backfill", json=body)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "job_not_found")
    extra = client.post("/v1/jobs/nightly/backfill", json={**body, "force": True})
    assert (extra.status_code, extra.json()["error"]["code"]) == (422, "invalid_request")


def test_run_results_are_paged_by_entity_and_filter_on_warnings(client: TestClient, settings: Settings) -> None:
    import pandas as pd

    from scheduling.batch import score_population

    report = score_population(settings, "fire_risk")
    expected = pd.read_parquet(report.output_dir).sort_values("building_id", ignore_index=True)
    url = f"/v1/runs/{report.run_id}/results"
    first = client.get(url, params={"limit": 150})
    assert first.status_code == 200, first.text
    pages = [first.json()]
    pages += [client.get(url, params={"limit": 150, "offset": offset}).json() for offset in (150, 300)]
    rows = [row for page in pages for row in page["results"]]
    assert [page["total"] for page in pages] == [PREPARED_BUILDINGS] * 3
    assert [len(page["results"]) for page in pages] == [150, 150, 100]
    assert [row["entity_id"] for row in rows] == expected["building_id"].tolist()
    assert [row["level"] for row in rows] == expected["level"].tolist()
    assert rows[0]["score"] == pytest.approx(expected["score"][0])
    assert {(row["model_version"], row["credit_score"]) for row in rows} == {("1", None)}

    warnings = client.get(url, params={"warning": True, "limit": 1000}).json()
    assert warnings["total"] == int(expected["warning"].sum()) == len(warnings["results"])
    assert all(row["warning"] for row in warnings["results"])
    missing = client.get("/v1/runs/nope/results")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "run_not_found")
    too_many = client.get(url, params={"limit": 5000})
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (422, "invalid_request")


def test_jobs_runs_and_alerts_are_seen_only_within_the_callers_clearance(
    client: TestClient, settings: Settings, auth_headers: Callable[..., dict[str, str]]
) -> None:
    from scheduling.jobs import run_job_now

    client.post("/v1/jobs", json=JOB)
    run_id = run_job_now(settings, "nightly").run_id
    alert_id = client.get("/v1/alerts").json()[0]["id"]
    # fire_risk's card is internal: an auditor cleared to public sees none of it, one cleared to internal all.
    public = auth_headers("auditor", "reviewer", "admin", clearance="public", name="clerk.public")
    internal = auth_headers("auditor", clearance="internal", name="clerk.internal")

    for path in ("/v1/jobs", "/v1/runs", "/v1/alerts"):
        assert client.get(path, headers=public).json() == []
        assert client.get(path, headers=internal).json() != []
    refusals = [
        client.get("/v1/jobs/nightly", headers=public),
        client.get(f"/v1/runs/{run_id}", headers=public),
        client.get(f"/v1/runs/{run_id}/results", headers=public),
        client.post("/v1/jobs/nightly/pause", headers=public),
        client.post("/v1/jobs", json={**JOB, "name": "weekly"}, headers=public),
        client.post(f"/v1/alerts/{alert_id}/ack", json={}, headers=public),
    ]
    assert [(response.status_code, response.json()["error"]["code"]) for response in refusals] == [
        (403, "forbidden")
    ] * len(refusals)
    assert "classified internal" in refusals[0].json()["error"]["message"]
    assert client.get(f"/v1/runs/{run_id}", headers=internal).status_code == 200
    assert client.get("/v1/alerts", params={"status": "open"}).json()[0]["status"] == "open"  # nothing was acted on
    assert [job["spec"]["name"] for job in client.get("/v1/jobs").json()] == ["nightly"]  # nothing was added
