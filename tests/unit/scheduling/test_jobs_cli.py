"""``warehouse jobs``, ``alerts`` and ``batch resume`` on the command line: output and exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from scheduling.alerts import list_alerts
from scheduling.jobs import get_job, list_runs
from tests.conftest import PREPARED_BUILDINGS
from warehouse.cli import app
from warehouse.settings import Settings


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    """Run the CLI on the settings' data dir; (exit code, output)."""
    result = CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_jobs_add_list_show_pause_resume_run_runs(settings: Settings) -> None:
    limits = json.dumps({"min_level": "high"})
    code, output = invoke(
        settings, "jobs", "add", "nightly", "--algorithm", "fire_risk", "--cron", "0 2 * * *", "--thresholds", limits
    )
    assert code == 0, output
    assert get_job(settings, "nightly").spec.thresholds is not None
    code, output = invoke(settings, "jobs", "list")
    assert code == 0 and "nightly" in output and "active" in output
    assert invoke(settings, "jobs", "pause", "nightly")[0] == 0
    assert get_job(settings, "nightly").paused
    assert invoke(settings, "jobs", "resume", "nightly")[0] == 0
    assert "min_level" in invoke(settings, "jobs", "show", "nightly")[1]

    code, output = invoke(settings, "jobs", "run", "nightly")
    assert code == 0, output
    (run,) = list_runs(settings, job_name="nightly")
    assert run.id in output and f"{PREPARED_BUILDINGS:,} rows" in output
    code, output = invoke(settings, "jobs", "runs", "nightly")
    assert code == 0 and run.id[:12] in output and "succeeded" in output

    alert = list_alerts(settings, job_name="nightly")[0]
    code, output = invoke(settings, "alerts", "list", "--job", "nightly", "--status", "open")
    assert code == 0 and alert.entity_id in output
    assert invoke(settings, "alerts", "ack", str(alert.id), "--actor", "inspector.li")[0] == 0
    code, output = invoke(settings, "alerts", "dismiss", str(alert.id), "--actor", "li", "--reason", "test building")
    assert code == 0 and "dismissed" in output
    assert list_alerts(settings, status="dismissed")[0].reason == "test building"


def test_bad_job_input_is_a_usage_or_domain_error(settings: Settings) -> None:
    code, _ = invoke(settings, "jobs", "add", "nightly", "--algorithm", "fire_risk", "--cron", "often")
    assert code == 1
    code, _ = invoke(settings, "jobs", "add", "n", "--algorithm", "fire_risk", "--cron", "* * * * *", "--filter", "{")
    assert code == 1
    assert invoke(settings, "jobs", "show", "nobody")[0] == 1
    assert invoke(settings, "alerts", "ack", "12345", "--actor", "li")[0] == 1


def test_jobs_backfill_runs_a_range_once(settings: Settings) -> None:
    assert invoke(settings, "jobs", "add", "nightly", "--algorithm", "fire_risk", "--cron", "0 2 * * *")[0] == 0
    window = ("--start", "2026-11-20T00:00", "--end", "2026-11-20T23:59")
    code, output = invoke(settings, "jobs", "backfill", "nightly", *window)
    assert code == 0, output
    (run,) = list_runs(settings, job_name="nightly")
    assert "1 ran, 0 already claimed, 0 failed" in output and run.id[:12] in output
    assert run.scheduled_for is not None and run.scheduled_for.isoformat() == "2026-11-20T02:00:00+00:00"
    code, output = invoke(settings, "jobs", "backfill", "nightly", *window)
    assert code == 0 and "0 ran, 1 already claimed" in output
    assert invoke(settings, "jobs", "backfill", "nightly", "--start", "yesterday", "--end", "2026-11-20")[0] == 1


def test_jobs_add_stores_the_executor_and_feature_source_and_refuses_unknown_ones(settings: Settings) -> None:
    cron = ["--algorithm", "fire_risk", "--cron", "0 2 * * *"]
    code, output = invoke(settings, "jobs", "add", "on-ray", *cron, "--executor", "ray", "--ray-address", "auto")
    assert code == 0, output
    spec = get_job(settings, "on-ray").spec
    assert (spec.executor, spec.ray_address, spec.features) == ("ray", "auto", "latest")
    code, output = invoke(settings, "jobs", "add", "pit", *cron, "--features", "point-in-time")
    assert code == 0, output
    pit = get_job(settings, "pit").spec
    assert (pit.executor, pit.features) == ("local", "point-in-time")
    assert invoke(settings, "jobs", "add", "bad", *cron, "--executor", "spark")[0] == 1
    assert invoke(settings, "jobs", "add", "bad", *cron, "--features", "yesterday")[0] == 1
    assert invoke(settings, "jobs", "run", "pit", "--executor", "spark")[0] == 1
    assert invoke(settings, "batch", "score", "fire_risk", "--features", "yesterday")[0] == 1


def test_a_point_in_time_job_run_records_its_feature_source_and_executor(settings: Settings) -> None:
    from sqlalchemy import select

    from warehouse.audit import AuditRecord
    from warehouse.db import open_metadata_db

    cron = ["--algorithm", "fire_risk", "--cron", "0 2 * * *", "--features", "point-in-time"]
    assert invoke(settings, "jobs", "add", "pit", *cron)[0] == 0
    code, output = invoke(settings, "jobs", "run", "pit")
    assert code == 0, output
    (run,) = list_runs(settings, job_name="pit")
    assert (run.status, run.rows_written) == ("succeeded", PREPARED_BUILDINGS)
    with open_metadata_db(settings) as db, db.session() as session:
        query = select(AuditRecord).where(AuditRecord.subject == f"batch_run/{run.id}")
        details = [json.loads(record.detail) for record in session.scalars(query)]
    assert [(detail["executor"], detail["features"]) for detail in details] == [("local", "point-in-time")] * 2
