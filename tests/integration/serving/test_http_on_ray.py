"""The HTTP workflows that change state, through the Ray engine: the same app, reached through Serve's
proxy, its ingress replica and its model replicas.

The read-only HTTP suites (scoring, Open Inference Protocol and its clients, metrics, limits, hot
reload, rollouts and every route of the permission matrix) take both engines as a parameter. The
tests here change what their warehouse holds, so they share one deployment of their own, over one
copy of the prepared warehouse (a Ray deployment costs tens of seconds on a small machine): each
names its own jobs and principals and asserts only on what it made. They cover what differs on Ray:
a run started with ``POST /v1/runs`` executes in the ingress replica after the 202, governance steps
reach the model replicas, the console's cookie and CSRF token survive the proxy and its route prefix,
and generated requests of every operation meet no server error there either.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_helpers import caller_headers
from tests.conftest import PREPARED_BUILDINGS
from tests.engines import RayServed, one_replica, ray_served, wait_for_score_status, wait_until_ready
from tests.unit.warehouse import identity_contract as contract
from warehouse.identity import create_key
from warehouse.sessions import CSRF_HEADER, SESSION_COOKIE

pytestmark = pytest.mark.integration

CSRF_META = re.compile(r'name="csrf-token" content="([0-9a-f]+)"')
SCORE_BODY = {"entities": ["B0000001"]}
RAY_FUZZ_EXAMPLES = 5
"""Generated cases per operation and generation mode through Ray (the in-process run sends 30)."""
RAY_FUZZ_MINIMUM_CASES = 300


@pytest.fixture(scope="module")
def served(ray_serve: None, prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayServed]:
    """This module's own warehouse on the session's Ray Serve."""
    root = tmp_path_factory.mktemp("ray-http") / "wh"
    shutil.copytree(prepared_warehouse, root)
    with ray_served(one_replica(root)) as deployed:
        with httpx.Client(base_url=deployed.base_url, timeout=60) as probe:
            wait_until_ready(probe)
        yield deployed


@pytest.fixture
def anonymous(served: RayServed) -> Iterator[httpx.Client]:
    """A client of the Ray-served app that sends no key unless a request brings one."""
    with httpx.Client(base_url=served.base_url, timeout=60) as client:
        yield client


def _job(name: str) -> dict[str, Any]:
    return {"name": name, "algorithm": "fire_risk", "cron": "0 2 * * *", "thresholds": {"min_level": "high"}}


def _finished_run(client: httpx.Client, run_id: str, headers: dict[str, str], timeout_s: float = 180.0) -> Any:
    """Poll a run until it is no longer pending or running; fail with the last answer at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (run := client.get(f"/v1/runs/{run_id}", headers=headers).json())["status"] in ("pending", "running"):
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {run['status']} after {timeout_s} s: {run}")
        time.sleep(0.2)
    return run


def test_a_run_started_over_http_executes_in_the_ingress_after_the_202_and_its_alerts_close_the_loop(
    served: RayServed, anonymous: httpx.Client
) -> None:
    settings = served.settings
    admin = caller_headers(settings, "admin", name="ray-ops")
    li = caller_headers(settings, "reviewer", name="ray-inspector.li")
    wang = caller_headers(settings, "reviewer", name="ray-inspector.wang")
    assert anonymous.post("/v1/jobs", json=_job("ray-nightly"), headers=admin).status_code == 201

    started = anonymous.post("/v1/runs", json={"job": "ray-nightly"}, headers=admin)
    assert started.status_code == 202, started.text
    assert (started.json()["job_name"], started.json()["model_version"]) == ("ray-nightly", "1")
    run = _finished_run(anonymous, started.json()["id"], admin)
    assert (run["status"], run["rows_done"], run["rows_total"]) == ("succeeded", PREPARED_BUILDINGS, PREPARED_BUILDINGS)
    page = anonymous.get(f"/v1/runs/{run['id']}/results", params={"limit": 1000}, headers=admin).json()
    assert page["total"] == PREPARED_BUILDINGS == len({row["entity_id"] for row in page["results"]})

    alerts = anonymous.get("/v1/alerts", params={"job": "ray-nightly", "status": "open"}, headers=admin).json()
    assert alerts and {alert["level"] for alert in alerts} <= {"high", "critical"}
    alert_id = alerts[0]["id"]
    acked = anonymous.post(f"/v1/alerts/{alert_id}/ack", json={}, headers=li)
    resolved = anonymous.post(f"/v1/alerts/{alert_id}/resolve", json={"reason": "fixed"}, headers=wang)
    assert (acked.json()["status"], acked.json()["acted_by"]) == ("acknowledged", "ray-inspector.li")
    assert (resolved.json()["status"], resolved.json()["acted_by"]) == ("resolved", "ray-inspector.wang")
    trail = anonymous.get("/v1/audit", params={"subject": f"alert/{alert_id}"}, headers=admin).json()
    assert [(entry["action"], entry["actor"]) for entry in trail] == [
        ("alert.resolve", "ray-inspector.wang"),
        ("alert.ack", "ray-inspector.li"),
    ]


def test_backfill_over_http_runs_each_missed_fire_time_once(served: RayServed, anonymous: httpx.Client) -> None:
    admin = caller_headers(served.settings, "admin", name="ray-backfiller")
    anonymous.post("/v1/jobs", json={**_job("ray-backfill"), "thresholds": None}, headers=admin)
    window = {"start": "2026-11-20T00:00:00Z", "end": "2026-11-20T23:00:00Z"}

    first = anonymous.post("/v1/jobs/ray-backfill/backfill", json=window, headers=admin)
    again = anonymous.post("/v1/jobs/ray-backfill/backfill", json=window, headers=admin)

    assert first.status_code == 200, first.text
    assert list(first.json()["ran"]) == ["2026-11-20T02:00:00Z"]
    assert (again.json()["ran"], again.json()["already_claimed"]) == ({}, ["2026-11-20T02:00:00Z"])


def test_principals_keys_grants_clearance_and_refusals_over_ray(served: RayServed, anonymous: httpx.Client) -> None:
    contract.check_identity_over_http(served.settings, anonymous)
    contract.check_refusals_are_audited(served.settings, anonymous)
    contract.check_clearance_and_grants(served.settings, anonymous)


def test_the_console_session_and_its_csrf_token_work_through_the_proxy_and_its_prefix(
    served: RayServed, anonymous: httpx.Client
) -> None:
    settings = served.settings
    admin = caller_headers(settings, "admin", name="ray-console-admin")
    anonymous.post("/v1/jobs", json=_job("ray-console"), headers=admin)
    token = create_key(settings, principal="ray-console-admin", actor="tests").token
    prefix = anonymous.base_url.path.rstrip("/")

    unsigned = anonymous.get("/console/jobs", follow_redirects=False)
    signed = anonymous.post("/console/login", data={"key": token, "next": "/console/jobs"}, follow_redirects=False)
    page = anonymous.get("/console/jobs")
    found = CSRF_META.search(page.text)
    without = anonymous.post("/v1/jobs/ray-console/pause")
    paused = anonymous.post("/v1/jobs/ray-console/pause", headers={CSRF_HEADER: found.group(1) if found else ""})
    signed_out = anonymous.post("/console/logout", follow_redirects=False)

    assert (unsigned.status_code, unsigned.headers["location"]) == (
        303,
        f"{prefix}/console/login?next=%2Fconsole%2Fjobs",
    )
    assert (signed.status_code, signed.headers["location"]) == (303, f"{prefix}/console/jobs")
    assert SESSION_COOKIE in signed.cookies
    assert page.status_code == 200 and "ray-console" in page.text and found, page.text[:500]
    assert f'href="{prefix}/console/alerts"' in page.text
    assert (without.status_code, without.json()["error"]["code"]) == (403, "forbidden")
    assert (paused.status_code, paused.json()["paused"]) == (200, True)
    assert (signed_out.status_code, signed_out.headers["location"]) == (303, f"{prefix}/console/login")


def test_generated_requests_through_ray_meet_no_server_error_and_match_the_schema(served: RayServed) -> None:
    """Schemathesis over the Ray-served app's own OpenAPI, fewer cases per operation than the in-process
    run (``tests/unit/serving/test_api_fuzz.py``): each one crosses the proxy and the ingress replica."""
    import schemathesis

    from tests.unit.serving.test_api_fuzz import fuzz_every_operation

    schema = schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")
    admin = caller_headers(served.settings, "admin", name="ray-fuzzer")
    cases = fuzz_every_operation(schema, admin, RAY_FUZZ_EXAMPLES, base_url=served.base_url)
    assert sum(cases.values()) >= RAY_FUZZ_MINIMUM_CASES, cases


def test_suspend_and_reinstate_over_http_reach_the_model_replicas(served: RayServed, anonymous: httpx.Client) -> None:
    """Last in the module: it takes the champion out of service (and puts it back)."""
    reviewer = caller_headers(served.settings, "reviewer", "app", name="ray-reviewer", grants=["fire_risk"])
    anonymous.headers.update(reviewer)
    step = "/v1/models/fire_risk/versions/1"

    served_before = wait_for_score_status(anonymous, 200, SCORE_BODY)
    suspended = anonymous.post(f"{step}/suspend", json={"reason": "drift"})
    refused = wait_for_score_status(anonymous, 409, SCORE_BODY)
    reinstated = anonymous.post(f"{step}/reinstate", json={"reason": "fixed"})
    restored = wait_for_score_status(anonymous, 200, SCORE_BODY)

    assert served_before.json()["model_version"] == "1"
    assert (suspended.status_code, reinstated.status_code) == (200, 200)
    assert refused.json()["error"]["code"] == "model_not_approved"
    assert restored.json()["results"][0]["score"] == served_before.json()["results"][0]["score"]


def test_a_model_held_by_the_ingress_answers_as_the_local_engine_does(
    ray_serve: None, prepared_warehouse: Path, tmp_path: Path
) -> None:
    """With ``ray_ingress_model_max_bytes`` above the model's size the ingress runs it itself (no model
    replica hop): scores, levels and reasons are those of the same app in this process."""
    from fastapi.testclient import TestClient

    from warehouse.api import create_app

    root = tmp_path / "wh"
    shutil.copytree(prepared_warehouse, root)
    settings = one_replica(root).model_copy(update={"ray_ingress_model_max_bytes": 64 << 20})
    headers = caller_headers(settings, "admin", name="held-admin")
    body = {"entities": [f"B{n:07d}" for n in range(1, 6)], "explain": True}
    with TestClient(create_app(settings), headers=headers) as local:
        wait_until_ready(local)
        expected = local.post("/v1/score/fire_risk", json=body).json()["results"]
    with ray_served(settings) as held, httpx.Client(base_url=held.base_url, timeout=60, headers=headers) as client:
        wait_until_ready(client)
        answered = client.post("/v1/score/fire_risk", json=body)
        inline = client.post("/v1/score/fire_risk", json={"features": [{"floors": 3.0}]})
    assert answered.status_code == 200, answered.text
    results = answered.json()["results"]
    assert [r["entity_id"] for r in results] == [r["entity_id"] for r in expected]
    for got, want in zip(results, expected, strict=True):
        assert got["score"] == pytest.approx(want["score"], abs=1e-6)
        assert (got["level"], got["warning"], got["reasons"]) == (want["level"], want["warning"], want["reasons"])
    assert inline.status_code == 422  # the inference check runs in the ingress as everywhere else
