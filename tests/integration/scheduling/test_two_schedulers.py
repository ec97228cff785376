"""Two scheduler processes on one PostgreSQL database over many ticks: every fire time runs exactly once."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduling.jobs import add_job
from scheduling.specs import JobSpec
from scheduling.store import JobTick
from warehouse.db import BatchRun, MetadataDB
from warehouse.settings import Settings

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))
TICKS_WANTED = 15


def wait_until(condition: Callable[[], bool], *, timeout_s: float, message: str) -> None:
    """Poll ``condition`` until it holds; fail with ``message`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.1)


def finished_runs(db: MetadataDB) -> list[BatchRun]:
    """Runs of the job that have finished."""
    with db.session() as session:
        query = select(BatchRun).where(BatchRun.job_name == "every_second", BatchRun.finished_at.is_not(None))
        return list(session.scalars(query))


def test_two_schedulers_run_each_tick_exactly_once(postgres_database: Callable[[], str], tmp_path: Path) -> None:
    from tests.conftest import PREPARED_BUILDINGS, PREPARED_SEED
    from warehouse.pipeline import build_demo_warehouse

    url = postgres_database()
    # Model governance records live in the metadata DB, so the warehouse is built on PostgreSQL itself.
    shared = Settings(data_dir=tmp_path / "wh", database_url=url)
    build_demo_warehouse(shared, n_buildings=PREPARED_BUILDINGS, seed=PREPARED_SEED)
    db = MetadataDB(url)
    db.upgrade_schema()
    environment = {**os.environ, "WAREHOUSE_DATABASE_URL": url}
    logs = [tmp_path / f"scheduler-{n}.log" for n in (1, 2)]
    command = [WAREHOUSE, "--data-dir", str(shared.data_dir), "scheduler", "start", "--tick-interval", "0.2"]
    schedulers = [
        subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=environment) for log in logs
    ]
    try:
        wait_until(
            lambda: all("started" in log.read_text() for log in logs),
            timeout_s=120,
            message="the schedulers did not start",
        )
        add_job(shared, JobSpec(name="every_second", algorithm="fire_risk", cron="* * * * * *", misfire="catch_up"))
        wait_until(
            lambda: len(finished_runs(db)) >= TICKS_WANTED,
            timeout_s=180,
            message=f"fewer than {TICKS_WANTED} ticks ran",
        )
        for scheduler in schedulers:
            scheduler.send_signal(signal.SIGTERM)
        exit_codes = [scheduler.wait(timeout=120) for scheduler in schedulers]
    finally:
        for scheduler in schedulers:
            scheduler.kill()
            scheduler.wait(timeout=30)
    assert exit_codes == [0, 0], [log.read_text()[-2000:] for log in logs]

    with db.session() as session:
        ticks = list(session.scalars(select(JobTick).where(JobTick.job_name == "every_second")))
    runs = finished_runs(db)
    db.dispose()
    per_tick = Counter(run.scheduled_for for run in runs)
    assert len(runs) >= TICKS_WANTED
    assert set(per_tick.values()) == {1}, "a tick ran more than once"
    assert {run.status for run in runs} == {"succeeded"}
    assert {tick.run_id for tick in ticks} == {run.id for run in runs}
    fire_times = sorted(per_tick)
    steps = {later - earlier for earlier, later in pairwise(fire_times)}
    assert steps == {dt.timedelta(seconds=1)}, "a tick between the first and the last was never run"
    claims = Counter(tick.scheduler_id for tick in ticks)
    logger.info("%d ticks from %s to %s; claims per scheduler: %s", len(runs), fire_times[0], fire_times[-1], claims)
    assert len(claims) == 2, f"both schedulers should have won ticks: {claims}"
