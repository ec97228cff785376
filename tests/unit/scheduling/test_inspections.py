"""Credit-supervision batch output and "双随机" inspection draws: reproducible, weighted by grade, recorded.

The draws go through the CLI, the service functions and ``/v1/inspections`` (each call names its caller).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from scheduling.executor import RunNotFound
from scheduling.inspections import allocate, draw_inspections, get_draw, list_draws, sampling_ratios
from scheduling.jobs import add_job, run_job_now
from scheduling.specs import JobSpec
from tests.auth_helpers import caller_headers
from tests.unit.scheduling.conftest import CREDIT_ENTITIES
from tests.unit.scheduling.test_jobs_cli import invoke
from warehouse.errors import InvalidRequest
from warehouse.settings import Settings

RATIOS = {"A": 0.03, "B": 0.10, "C": 0.30, "D": 1.0}


def credit_run(settings: Settings) -> tuple[str, pd.DataFrame]:
    """A finished run of a credit_supervision job, and its output."""
    add_job(settings, JobSpec(name="credit", algorithm="credit_supervision", cron="0 3 * * 1"))
    report = run_job_now(settings, "credit")
    return report.run_id, pd.read_parquet(report.output_dir)


def test_inspection_ratios_are_read_from_the_credit_grading() -> None:
    from algorithms.credit_supervision import INSPECTION_FREQUENCY

    assert sampling_ratios(INSPECTION_FREQUENCY) == RATIOS
    with pytest.raises(InvalidRequest, match="no sampling ratio"):
        sampling_ratios({"A": "now and then"})


def test_a_total_is_split_by_entities_times_ratio_never_beyond_a_grade() -> None:
    population = {"A": 100, "B": 100, "C": 100, "D": 10}
    assert allocate(population, RATIOS, None) == {"A": 3, "B": 10, "C": 30, "D": 10}
    # Weights 3 : 10 : 30 : 10 of 53; D is capped at its 10 entities and the rest spreads by weight.
    counts = allocate(population, RATIOS, 106)
    assert sum(counts.values()) == 106 and counts["D"] == 10
    assert counts["A"] < counts["B"] < counts["C"] <= 100
    assert allocate(population, RATIOS, 1) == {"A": 0, "B": 0, "C": 1, "D": 0}
    with pytest.raises(InvalidRequest, match="between 1 and the 310"):
        allocate(population, RATIOS, 311)


def test_credit_batch_output_carries_score_grade_and_inspection_frequency(credit_settings: Settings) -> None:
    from algorithms.credit_supervision import CREDIT_SCALE, INSPECTION_FREQUENCY

    _run_id, results = credit_run(credit_settings)
    assert len(results) == CREDIT_ENTITIES
    assert results["credit_score"].between(300, 900).all()
    assert (results["grade"] == results["level"]).all() and set(results["grade"]) <= set("ABCD")
    assert (results["inspection_frequency"] == results["grade"].map(INSPECTION_FREQUENCY)).all()
    expected = CREDIT_SCALE.points(results["score"].to_numpy()).round(1)
    assert results["credit_score"].to_numpy() == pytest.approx(expected)


def test_draws_are_reproducible_weighted_by_grade_recorded_and_audited(credit_settings: Settings) -> None:
    from warehouse.audit import list_entries

    run_id, results = credit_run(credit_settings)
    population = {str(grade): int(size) for grade, size in results["grade"].value_counts().items()}
    first = draw_inspections(credit_settings, job_name="credit", seed=2026, actor="inspector.li")
    again = draw_inspections(credit_settings, run_id=run_id, seed=2026)
    other = draw_inspections(credit_settings, run_id=run_id, seed=2027)
    assert first.run_id == run_id
    assert [e.entity_id for e in first.entities] == [e.entity_id for e in again.entities]
    assert [e.entity_id for e in first.entities] != [e.entity_id for e in other.entities]
    assert first.counts == other.counts == allocate(population, RATIOS, None)
    grades = results.set_index("market_entity_id")["grade"]
    assert all(grades[entity.entity_id] == entity.grade for entity in first.entities)
    assert len({entity.entity_id for entity in first.entities}) == first.drawn == sum(first.counts.values())

    weighted = draw_inspections(credit_settings, run_id=run_id, seed=1, total=60)
    assert weighted.drawn == 60 and weighted.requested_total == 60
    rates = {grade: weighted.counts[grade] / size for grade, size in weighted.population.items() if size >= 10}
    ordered = [rates[grade] for grade in sorted(rates)]
    assert ordered == sorted(ordered) and ordered[-1] > ordered[0], rates

    shown = get_draw(credit_settings, first.id)
    assert shown.entities == first.entities and shown.actor == "inspector.li"
    assert [draw.id for draw in list_draws(credit_settings, run_id=run_id)] == [
        weighted.id,
        other.id,
        again.id,
        first.id,
    ]
    (entry,) = list_entries(credit_settings, subject=f"inspection_draw/{first.id}")
    assert (entry.action, entry.actor, entry.detail["seed"], entry.detail["run_id"]) == (
        "inspections.draw",
        "inspector.li",
        2026,
        run_id,
    )


def test_draws_need_one_finished_run_with_grades(settings: Settings, credit_settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="not both"):
        draw_inspections(credit_settings, seed=1)
    with pytest.raises(RunNotFound, match="no finished run"):
        draw_inspections(credit_settings, job_name="credit", seed=1)
    with pytest.raises(RunNotFound):
        draw_inspections(credit_settings, run_id="nope", seed=1)
    add_job(settings, JobSpec(name="fire", algorithm="fire_risk", cron="0 2 * * *"))
    fire_run = run_job_now(settings, "fire").run_id
    with pytest.raises(InvalidRequest, match="no grades"):
        draw_inspections(settings, run_id=fire_run, seed=1)
    assert list_draws(settings) == []


def test_inspections_cli_draws_lists_and_shows(credit_settings: Settings) -> None:
    credit_run(credit_settings)
    code, output = invoke(credit_settings, "inspections", "draw", "--job", "credit", "--seed", "7", "--total", "25")
    assert code == 0, output
    (draw,) = list_draws(credit_settings)
    assert f"draw {draw.id}: 25 entities" in output
    code, output = invoke(credit_settings, "inspections", "list")
    assert code == 0 and draw.id in output
    code, output = invoke(credit_settings, "inspections", "show", draw.id)
    assert code == 0 and all(entity.entity_id in output for entity in get_draw(credit_settings, draw.id).entities)
    assert invoke(credit_settings, "inspections", "show", "nope")[0] == 1
    assert invoke(credit_settings, "inspections", "draw", "--seed", "7")[0] == 1
    assert invoke(credit_settings, "inspections", "draw", "--job", "credit", "--seed", "-1")[0] == 1


@pytest.fixture
def credit_client(credit_settings: Settings) -> Iterator[TestClient]:
    """An HTTP client over the credit warehouse (no key of its own: each call names its caller)."""
    from warehouse.api import create_app

    with TestClient(create_app(credit_settings)) as client:
        yield client


def test_draws_over_http_are_reproducible_listed_shown_and_audited(
    credit_settings: Settings, credit_client: TestClient
) -> None:
    from warehouse.audit import list_entries, verify_chain

    run_id, _results = credit_run(credit_settings)
    wang = caller_headers(credit_settings, "reviewer", name="inspector.wang", clearance="internal")
    auditor = caller_headers(credit_settings, "auditor", name="draw-auditor", clearance="internal")

    first = credit_client.post("/v1/inspections/draw", json={"job": "credit", "seed": 2026}, headers=wang)
    again = credit_client.post("/v1/inspections/draw", json={"run": run_id, "seed": 2026}, headers=wang)
    sized = credit_client.post("/v1/inspections/draw", json={"run": run_id, "seed": 9, "total": 40}, headers=wang)
    assert (first.status_code, again.status_code, sized.status_code) == (201, 201, 201), first.text
    drawn = first.json()
    assert (drawn["run_id"], drawn["actor"], drawn["seed"], drawn["requested_total"]) == (
        run_id,
        "inspector.wang",
        2026,
        None,
    )
    ids = [entity["entity_id"] for entity in drawn["entities"]]
    assert ids == [entity["entity_id"] for entity in again.json()["entities"]]
    # The CLI's function with the same seed on the same run draws the same list.
    assert ids == [entity.entity_id for entity in draw_inspections(credit_settings, run_id=run_id, seed=2026).entities]
    assert drawn["counts"] == allocate(drawn["population"], RATIOS, None) and len(ids) == drawn["drawn"]
    assert (sized.json()["drawn"], sum(sized.json()["counts"].values())) == (40, 40)

    listed = credit_client.get("/v1/inspections", params={"run": run_id}, headers=auditor).json()
    assert [draw["id"] for draw in listed[1:]] == [sized.json()["id"], again.json()["id"], drawn["id"]]
    assert all("entities" not in draw for draw in listed)
    assert [draw["id"] for draw in credit_client.get("/v1/inspections?limit=1", headers=auditor).json()] == [
        listed[0]["id"]
    ]
    shown = credit_client.get(f"/v1/inspections/{drawn['id']}", headers=auditor)
    assert shown.status_code == 200 and shown.json() == drawn
    missing = credit_client.get("/v1/inspections/nope", headers=auditor)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "inspection_draw_not_found")
    no_run = credit_client.post("/v1/inspections/draw", json={"run": "nope", "seed": 1}, headers=wang)
    assert (no_run.status_code, no_run.json()["error"]["code"]) == (404, "run_not_found")

    (entry,) = list_entries(credit_settings, subject=f"inspection_draw/{drawn['id']}")
    assert (entry.action, entry.actor, entry.detail["seed"], entry.detail["run_id"]) == (
        "inspections.draw",
        "inspector.wang",
        2026,
        run_id,
    )
    audited = credit_client.get("/v1/audit", params={"actor": "inspector.wang"}, headers=auditor).json()
    assert [e["subject"] for e in audited if e["action"] == "inspections.draw"] == [
        f"inspection_draw/{draw.json()['id']}" for draw in (sized, again, first)
    ]
    assert verify_chain(credit_settings).intact


def test_bad_draw_requests_are_refused_with_422_and_record_nothing(
    credit_settings: Settings, credit_client: TestClient
) -> None:
    run_id, _results = credit_run(credit_settings)
    admin = caller_headers(credit_settings, "admin", name="draw-admin")
    bodies: list[dict[str, object]] = [
        {"job": "credit"},
        {"seed": 1},
        {"seed": 1, "job": "credit", "run": run_id},
        {"seed": -1, "job": "credit"},
        {"seed": 2**31, "job": "credit"},
        {"seed": "many", "job": "credit"},
        {"seed": 1, "job": "credit", "total": 0},
        {"seed": 1, "job": "credit", "total": CREDIT_ENTITIES + 1},
        {"seed": 1, "job": "credit", "actor": "someone.else"},
    ]
    for body in bodies:
        response = credit_client.post("/v1/inspections/draw", json=body, headers=admin)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request"), body
    too_many = credit_client.get("/v1/inspections", params={"limit": 0}, headers=admin)
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (422, "invalid_request")
    assert credit_client.get("/v1/inspections", headers=admin).json() == []


def test_draws_are_seen_and_made_only_within_the_callers_clearance(
    credit_settings: Settings, credit_client: TestClient
) -> None:
    from warehouse.audit import list_entries

    run_id, _results = credit_run(credit_settings)
    # credit_supervision's card is internal: a caller cleared to public neither sees nor draws.
    public = caller_headers(credit_settings, "reviewer", "auditor", name="clerk.public", clearance="public")
    internal = caller_headers(credit_settings, "reviewer", name="clerk.internal", clearance="internal")
    drawn = credit_client.post("/v1/inspections/draw", json={"run": run_id, "seed": 3}, headers=internal)
    assert drawn.status_code == 201, drawn.text

    assert credit_client.get("/v1/inspections", headers=public).json() == []
    assert [draw["id"] for draw in credit_client.get("/v1/inspections", headers=internal).json()] == [
        drawn.json()["id"]
    ]
    refusals = [
        credit_client.get(f"/v1/inspections/{drawn.json()['id']}", headers=public),
        credit_client.post("/v1/inspections/draw", json={"run": run_id, "seed": 3}, headers=public),
        credit_client.post("/v1/inspections/draw", json={"job": "credit", "seed": 4}, headers=public),
    ]
    assert [(response.status_code, response.json()["error"]["code"]) for response in refusals] == [
        (403, "forbidden")
    ] * len(refusals)
    assert "classified internal" in refusals[1].json()["error"]["message"]
    assert len(credit_client.get("/v1/inspections", headers=internal).json()) == 1  # the refused draws left nothing
    denied = [entry for entry in list_entries(credit_settings, actor="clerk.public") if entry.action == "access.denied"]
    assert [entry.subject for entry in reversed(denied)] == [
        f"GET /v1/inspections/{drawn.json()['id']}",
        "POST /v1/inspections/draw",
        "POST /v1/inspections/draw",
    ]
