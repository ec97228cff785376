"""The scheduler's tick: due fire times, leases, misfire policies, paused jobs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from scheduling.jobs import add_job, get_job, set_paused
from scheduling.scheduler import Scheduler, due_fire_times
from scheduling.specs import JobSpec
from scheduling.store import JobTick
from warehouse.db import BatchRun, MetadataDB
from warehouse.settings import Settings

T0 = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


class RecordingExecutor:
    """Stands in for the local executor: remembers which runs it was asked to execute."""

    def __init__(self) -> None:
        self.run_ids: list[str] = []

    def __call__(self, _settings: Settings, run_id: str) -> None:
        self.run_ids.append(run_id)


def test_due_fire_times_are_after_the_cursor_up_to_now() -> None:
    times = due_fire_times("*/15 * * * *", after=T0, now=T0 + dt.timedelta(hours=1))
    assert times == [T0 + n * 15 * MINUTE for n in (1, 2, 3, 4)]
    assert due_fire_times("*/15 * * * *", after=T0, now=T0 + 14 * MINUTE) == []
    assert len(due_fire_times("* * * * * *", after=T0, now=T0 + dt.timedelta(hours=1), limit=7)) == 7


@pytest.mark.parametrize(("misfire", "expected_runs"), [("catch_up", 10), ("skip", 1)])
def test_missed_ticks_follow_the_misfire_policy(settings: Settings, misfire: str, expected_runs: int) -> None:
    fields = {"name": "minutely", "algorithm": "fire_risk", "cron": "* * * * *", "misfire": misfire}
    add_job(settings, JobSpec.model_validate(fields))
    start = get_job(settings, "minutely").created_at.replace(second=0, microsecond=0)
    executor = RecordingExecutor()
    scheduler = Scheduler(settings, scheduler_id="test", execute=executor)
    later = start + 10 * MINUTE

    ran = scheduler.tick(later)
    assert len(ran) == expected_runs == len(executor.run_ids)
    assert scheduler.tick(later) == [], "a claimed tick ran twice"
    assert len(scheduler.tick(later + MINUTE)) == 1

    db = MetadataDB.from_settings(settings)
    with db.session() as session:
        runs = list(session.scalars(select(BatchRun).where(BatchRun.job_name == "minutely")))
        ticks = list(session.scalars(select(JobTick)))
    db.dispose()
    assert {run.scheduled_for.replace(tzinfo=dt.UTC) for run in runs if run.scheduled_for} == {
        tick.scheduled_for.replace(tzinfo=dt.UTC) for tick in ticks
    }
    assert max(tick.scheduled_for.replace(tzinfo=dt.UTC) for tick in ticks) == later + MINUTE
    assert {run.model_version for run in runs} == {"1"}


def test_a_second_scheduler_skips_ticks_the_first_claimed(settings: Settings) -> None:
    add_job(settings, JobSpec(name="minutely", algorithm="fire_risk", cron="* * * * *", misfire="catch_up"))
    start = get_job(settings, "minutely").created_at.replace(second=0, microsecond=0)
    first, second = RecordingExecutor(), RecordingExecutor()
    assert len(Scheduler(settings, scheduler_id="a", execute=first).tick(start + 3 * MINUTE)) == 3
    assert Scheduler(settings, scheduler_id="b", execute=second).tick(start + 3 * MINUTE) == []
    assert second.run_ids == []


def test_a_paused_job_is_left_alone(settings: Settings) -> None:
    add_job(settings, JobSpec(name="minutely", algorithm="fire_risk", cron="* * * * *"))
    set_paused(settings, "minutely", paused=True)
    executor = RecordingExecutor()
    start = get_job(settings, "minutely").created_at
    assert Scheduler(settings, scheduler_id="test", execute=executor).tick(start + 5 * MINUTE) == []
    assert executor.run_ids == []


def test_backfill_runs_each_missed_fire_time_once_and_leaves_the_schedule_alone(settings: Settings) -> None:
    from scheduling.scheduler import backfill_job

    add_job(settings, JobSpec(name="hourly", algorithm="fire_risk", cron="0 * * * *", misfire="catch_up"))
    executor = RecordingExecutor()
    first = backfill_job(settings, "hourly", start=T0, end=T0 + 5 * HOUR, execute=executor)
    assert sorted(first.ran) == [T0 + n * HOUR for n in range(6)]
    assert sorted(first.ran.values()) == sorted(executor.run_ids)
    assert (first.already_claimed, first.failed) == ([], [])

    # Overlapping range, naive instants (UTC): the three hours that ran already are left alone.
    naive = T0.replace(tzinfo=None)
    second = backfill_job(settings, "hourly", start=naive + 3 * HOUR, end=naive + 8 * HOUR, execute=executor)
    assert sorted(second.ran) == [T0 + n * HOUR for n in (6, 7, 8)]
    assert second.already_claimed == [T0 + n * HOUR for n in (3, 4, 5)]
    assert len(executor.run_ids) == 9

    db = MetadataDB.from_settings(settings)
    with db.session() as session:
        runs = {run.id: run for run in session.scalars(select(BatchRun).where(BatchRun.job_name == "hourly"))}
    db.dispose()
    for moment, run_id in second.ran.items():
        scheduled_for = runs[run_id].scheduled_for
        assert scheduled_for is not None and scheduled_for.replace(tzinfo=dt.UTC) == moment
    # Fire times from before the job existed must not pull the schedule's cursor back.
    created = get_job(settings, "hourly").created_at
    assert len(Scheduler(settings, scheduler_id="test", execute=executor).tick(created + 2 * HOUR)) == 2


def test_backfill_refuses_bad_ranges_and_unknown_jobs(settings: Settings) -> None:
    from scheduling.jobs import JobNotFound
    from scheduling.scheduler import MAX_BACKFILL, backfill_job
    from warehouse.errors import InvalidRequest

    add_job(settings, JobSpec(name="minutely", algorithm="fire_risk", cron="* * * * *"))
    executor = RecordingExecutor()
    with pytest.raises(InvalidRequest, match="before its start"):
        backfill_job(settings, "minutely", start=T0, end=T0 - MINUTE, execute=executor)
    with pytest.raises(InvalidRequest, match="future"):
        backfill_job(settings, "minutely", start=T0, end=dt.datetime(2999, 1, 1, tzinfo=dt.UTC), execute=executor)
    with pytest.raises(InvalidRequest, match=f"more than {MAX_BACKFILL}"):
        backfill_job(settings, "minutely", start=T0, end=T0 + (MAX_BACKFILL + 1) * MINUTE, execute=executor)
    with pytest.raises(JobNotFound):
        backfill_job(settings, "nobody", start=T0, end=T0 + MINUTE, execute=executor)
    assert executor.run_ids == []
