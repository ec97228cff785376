"""Job specs, the job store, runs of a job, and early-warning alerts with their lifecycle."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from scheduling.alerts import AlertNotFound, AlertTransitionRefused, act_on_alert, list_alerts
from scheduling.jobs import (
    JobExists,
    JobNotFound,
    add_job,
    get_job,
    get_run,
    list_jobs,
    list_runs,
    run_job_now,
    set_paused,
)
from scheduling.specs import JobSpec
from tests.conftest import PREPARED_BUILDINGS
from warehouse.errors import InvalidRequest
from warehouse.settings import Settings

WARNING_LEVELS = {"medium", "high", "critical"}
"""Levels at or above ``medium`` in the fire-risk model's order (low, medium, high, critical)."""


def spec(**overrides: object) -> JobSpec:
    """A valid job spec with ``overrides``."""
    fields: dict[str, object] = {"name": "nightly", "algorithm": "fire_risk", "cron": "0 2 * * *"}
    return JobSpec.model_validate({**fields, **overrides})


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"cron": "every night"}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"name": "9 lives"}, "name"),
        ({"misfire": "sometimes"}, "misfire"),
        ({"version": "latest"}, "version"),
        ({"thresholds": {}}, "thresholds"),
        ({"thresholds": {"score": 1.5}}, "thresholds"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_invalid_job_specs_are_refused(overrides: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        spec(**overrides)


def test_six_field_cron_has_seconds_first() -> None:
    from scheduling.specs import cron_trigger

    assert str(cron_trigger("*/10 * * * * *").fields[-1]) == "*/10"


def test_jobs_are_stored_listed_paused_and_resumed(settings: Settings) -> None:
    added = add_job(settings, spec(population_filter={"district_code": [110101]}))
    assert (added.spec.name, added.paused) == ("nightly", False)
    with pytest.raises(JobExists):
        add_job(settings, spec())
    assert set_paused(settings, "nightly", paused=True).paused
    assert get_job(settings, "nightly").paused
    assert not set_paused(settings, "nightly", paused=False).paused
    assert [job.spec for job in list_jobs(settings)] == [added.spec]
    with pytest.raises(JobNotFound):
        get_job(settings, "weekly")


def test_a_job_filtering_on_an_unknown_feature_is_refused(settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="district"):
        add_job(settings, spec(population_filter={"district": [1]}))
    assert list_jobs(settings) == []


def test_job_runs_raise_alerts_once_per_entity_and_refresh_them(settings: Settings) -> None:
    add_job(settings, spec(thresholds={"min_level": "medium"}))
    first = run_job_now(settings, "nightly")
    results = pd.read_parquet(first.output_dir)
    crossing = set(results.loc[results["level"].isin(WARNING_LEVELS), "building_id"])
    assert crossing, "the prepared population should have buildings at medium or above"
    alerts = list_alerts(settings, job_name="nightly", limit=1000)
    assert {alert.entity_id for alert in alerts} == crossing
    assert {(alert.status, alert.times_seen, alert.first_run_id) for alert in alerts} == {("open", 1, first.run_id)}

    second = run_job_now(settings, "nightly")
    again = list_alerts(settings, job_name="nightly", limit=1000)
    assert len(again) == len(crossing)
    assert {(alert.times_seen, alert.first_run_id, alert.last_run_id) for alert in again} == {
        (2, first.run_id, second.run_id)
    }
    runs = list_runs(settings, job_name="nightly")
    assert [run.id for run in runs] == [second.run_id, first.run_id]
    view = get_run(settings, first.run_id)
    assert (view.status, view.rows_done, view.rows_total, view.rows_written) == (
        "succeeded",
        PREPARED_BUILDINGS,
        PREPARED_BUILDINGS,
        PREPARED_BUILDINGS,
    )
    assert (view.model_version, view.job_name) == ("1", "nightly")
    assert view.rows_per_s > 0


def test_alert_lifecycle_records_who_and_when_and_refuses_bad_steps(settings: Settings) -> None:
    add_job(settings, spec(thresholds={"min_level": "medium"}))
    run_job_now(settings, "nightly")
    first, second, *_ = list_alerts(settings, job_name="nightly")

    acknowledged = act_on_alert(settings, first.id, action="ack", actor="inspector.li")
    assert (acknowledged.status, acknowledged.acted_by) == ("acknowledged", "inspector.li")
    assert acknowledged.acted_at is not None
    with pytest.raises(AlertTransitionRefused):
        act_on_alert(settings, first.id, action="ack", actor="inspector.li")
    resolved = act_on_alert(settings, first.id, action="resolve", actor="inspector.wang", reason="sprinklers fixed")
    assert (resolved.status, resolved.acted_by, resolved.reason) == ("resolved", "inspector.wang", "sprinklers fixed")

    with pytest.raises(InvalidRequest, match="reason"):
        act_on_alert(settings, second.id, action="dismiss", actor="inspector.li")
    dismissed = act_on_alert(settings, second.id, action="dismiss", actor="inspector.li", reason="duplicate record")
    assert (dismissed.status, dismissed.reason) == ("dismissed", "duplicate record")
    with pytest.raises(AlertNotFound):
        act_on_alert(settings, 10**9, action="ack", actor="x")

    # A closed alert does not swallow the next crossing: the entity is alerted afresh.
    run_job_now(settings, "nightly")
    reopened = list_alerts(settings, job_name="nightly", status="open", limit=1000)
    assert first.entity_id in {alert.entity_id for alert in reopened}


def test_a_score_threshold_alerts_on_scores_at_or_above_it(settings: Settings) -> None:
    from scheduling.batch import score_population

    scores = pd.read_parquet(score_population(settings, "fire_risk").output_dir)["score"]
    threshold = float(scores.quantile(0.9))
    add_job(settings, spec(thresholds={"score": threshold}))
    results = pd.read_parquet(run_job_now(settings, "nightly").output_dir)
    alerts = list_alerts(settings, job_name="nightly", limit=1000)
    assert {alert.entity_id for alert in alerts} == set(results.loc[results["score"] >= threshold, "building_id"])
    assert all(alert.score >= threshold for alert in alerts)
    assert 0 < len(alerts) < PREPARED_BUILDINGS


def test_a_min_level_the_model_does_not_have_fails_the_run_before_writing(settings: Settings) -> None:
    add_job(settings, spec(thresholds={"min_level": "apocalyptic"}))
    with pytest.raises(InvalidRequest, match="apocalyptic"):
        run_job_now(settings, "nightly")
    assert list_alerts(settings) == []


def test_alerts_carry_the_same_top_reasons_as_the_online_explanation(
    settings: Settings, admin_headers: dict[str, str]
) -> None:
    from fastapi.testclient import TestClient

    from tests.engines import wait_until_ready
    from warehouse.api import create_app

    add_job(settings, spec(thresholds={"min_level": "high"}))
    run_job_now(settings, "nightly")
    alerts = list_alerts(settings, job_name="nightly", limit=1000)
    assert alerts and all(1 <= len(alert.reasons) <= 3 for alert in alerts)
    for alert in alerts:
        sizes = [abs(reason.contribution) for reason in alert.reasons]
        assert sizes == sorted(sizes, reverse=True)
    sample = alerts[:3]
    with TestClient(create_app(settings), headers=admin_headers) as client:
        wait_until_ready(client)
        body = {"entities": [alert.entity_id for alert in sample], "explain": True}
        online = client.post("/v1/score/fire_risk", json=body).json()["results"]
    for alert, answer in zip(sample, online, strict=True):
        assert [reason.feature for reason in alert.reasons] == [reason["feature"] for reason in answer["reasons"]]
        assert [reason.text for reason in alert.reasons] == [reason["text"] for reason in answer["reasons"]]
        assert alert.reasons[0].contribution == pytest.approx(answer["reasons"][0]["contribution"], abs=1e-6)


def test_reasons_are_computed_only_for_rows_that_cross(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from serving.runtime import OnnxModel

    explained: list[int] = []
    original = OnnxModel.contributions_matrix

    def counting(self: OnnxModel, matrix: np.ndarray) -> np.ndarray:
        explained.append(len(matrix))
        return original(self, matrix)

    monkeypatch.setattr(OnnxModel, "contributions_matrix", counting)
    add_job(settings, spec(thresholds={"min_level": "critical"}))
    run_job_now(settings, "nightly")
    alerts = list_alerts(settings, job_name="nightly", limit=1000)
    assert sum(explained) == len(alerts) < PREPARED_BUILDINGS
