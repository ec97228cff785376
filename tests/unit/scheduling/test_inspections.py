"""Credit-supervision batch output and "双随机" inspection draws: reproducible, weighted by grade, recorded."""

from __future__ import annotations

import pandas as pd
import pytest

from scheduling.executor import RunNotFound
from scheduling.inspections import allocate, draw_inspections, get_draw, list_draws, sampling_ratios
from scheduling.jobs import add_job, run_job_now
from scheduling.specs import JobSpec
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
