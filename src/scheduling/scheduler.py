"""The scheduler: runs each active job at its cron fire times, at most once per fire time.

Every tick, for each active job, the fire times due since the job's last claimed fire time (or since
the job was added) are computed with APScheduler's ``CronTrigger`` (cron arithmetic only; APScheduler's
job stores are not used). A fire time is claimed by INSERTing its row into ``batch_job_ticks``, which is
unique on ``(job_name, scheduled_for)``: the insert that wins runs it and every other scheduler on the
same database skips it, so any number of schedulers never run one tick twice. After downtime a job's
misfire policy applies: ``skip`` runs only the latest missed fire time, ``catch_up`` runs each one
(at most :data:`MAX_CATCH_UP` per tick). A backfill runs a job's fire times in a past range through the
same claim, so a fire time that already ran (by schedule or an earlier backfill) is not run again.
After each tick the loop drains the alert-delivery outbox
(see :mod:`scheduling.delivery`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from scheduling.executor import start_run
from scheduling.jobs import JobNotFound, job_execution
from scheduling.specs import JobSpec, cron_trigger
from scheduling.store import JobRecord, JobTick
from warehouse.db import MetadataDB, as_utc, utc_now
from warehouse.errors import InvalidRequest
from warehouse.progress import no_progress

if TYPE_CHECKING:
    import threading

    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

MAX_CATCH_UP = 100
"""Missed fire times one job may run in one tick under ``catch_up``; the rest follow on later ticks."""
MAX_BACKFILL = 1_000
"""Fire times one backfill may cover; a longer range is refused (split it)."""
ONE_MICROSECOND = dt.timedelta(microseconds=1)

RunExecutor = Callable[["Settings", str], object]
"""Executes a started run by id (by default the executor the job's spec names)."""


def due_fire_times(cron: str, *, after: dt.datetime, now: dt.datetime, limit: int = MAX_CATCH_UP) -> list[dt.datetime]:
    """Fire times of ``cron`` strictly after ``after`` and not later than ``now`` (the first ``limit``)."""
    trigger = cron_trigger(cron)
    times: list[dt.datetime] = []
    moment = trigger.get_next_fire_time(None, after + ONE_MICROSECOND)
    while moment is not None and moment <= now and len(times) < limit:
        times.append(moment)
        moment = trigger.get_next_fire_time(moment, moment + ONE_MICROSECOND)
    return times


class BackfillReport(BaseModel):
    """What a backfill did with each fire time of its range."""

    job_name: str
    start: dt.datetime
    end: dt.datetime
    ran: dict[dt.datetime, str]
    """Fire time -> run id, for the fire times this backfill claimed and ran."""
    already_claimed: list[dt.datetime]
    """Fire times that had run (or were running) before: left alone."""
    failed: list[dt.datetime]
    """Fire times claimed whose run failed (the run row records why)."""


def new_scheduler_id() -> str:
    """A name for this scheduler process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    """One scheduler process's view of the jobs; many may share one metadata DB."""

    def __init__(self, settings: Settings, *, scheduler_id: str, execute: RunExecutor | None = None) -> None:
        """``execute`` runs every job's runs; default: the executor each job's spec names."""
        self.settings = settings
        self.scheduler_id = scheduler_id
        self._execute = execute
        self._db = MetadataDB.from_settings(settings)
        self._db.upgrade_schema()

    def run_until(self, stop: threading.Event, *, tick_interval_s: float) -> None:
        """Tick every ``tick_interval_s`` until ``stop`` is set (a run in progress finishes first)."""
        logger.info("scheduler %s started (tick every %.2f s)", self.scheduler_id, tick_interval_s)
        try:
            while not stop.is_set():
                self.tick(utc_now())
                self._deliver_alerts()
                stop.wait(tick_interval_s)
        finally:
            self._db.dispose()
            logger.info("scheduler %s stopped", self.scheduler_id)

    def tick(self, now: dt.datetime) -> list[str]:
        """Claim and run every due fire time of every active job; returns the run ids this scheduler ran."""
        ran: list[str] = []
        for name, spec, cursor in self._active_jobs():
            due = due_fire_times(spec.cron, after=cursor, now=now)
            if spec.misfire == "skip" and len(due) > 1:
                logger.warning("job %s: skipping %d missed fire time(s)", name, len(due) - 1)
                due = due[-1:]
            for fire_time in due:
                if self._claim(name, fire_time):
                    ran.extend(self._run(name, spec, fire_time))
        return ran

    def backfill(self, name: str, *, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> BackfillReport:
        """Run each fire time of job ``name`` in ``[start, end]`` that no scheduler has claimed yet."""
        start, end = as_utc(start), as_utc(end)  # a naive datetime is taken as UTC
        if end < start:
            raise InvalidRequest(f"backfill end {end.isoformat()} is before its start {start.isoformat()}")
        if end > now:
            raise InvalidRequest(f"backfill end {end.isoformat()} is in the future; the scheduler runs those")
        spec = self._spec(name)
        fire_times = due_fire_times(spec.cron, after=start - ONE_MICROSECOND, now=end, limit=MAX_BACKFILL + 1)
        if len(fire_times) > MAX_BACKFILL:
            raise InvalidRequest(f"the range holds more than {MAX_BACKFILL} fire times of {spec.cron!r}; split it")
        report = BackfillReport(job_name=name, start=start, end=end, ran={}, already_claimed=[], failed=[])
        for fire_time in fire_times:
            if not self._claim(name, fire_time):
                report.already_claimed.append(fire_time)
                continue
            ran = self._run(name, spec, fire_time)
            if ran:
                report.ran[fire_time] = ran[0]
            else:
                report.failed.append(fire_time)
        logger.info("job %s backfill %s..%s: %d ran", name, start, end, len(report.ran))
        return report

    def close(self) -> None:
        """Release the database connections (``run_until`` does this when it stops)."""
        self._db.dispose()

    def _spec(self, name: str) -> JobSpec:
        with self._db.session() as session:
            record = session.get(JobRecord, name)
            if record is None:
                raise JobNotFound(f"no job {name!r}")
            return JobSpec.model_validate_json(record.spec)

    def _deliver_alerts(self) -> None:
        from scheduling.delivery import deliver_due

        try:
            deliver_due(self.settings)
        except Exception:
            # A delivery outage must not stop the schedule; undelivered rows stay in the outbox.
            logger.exception("alert delivery failed")

    def _active_jobs(self) -> list[tuple[str, JobSpec, dt.datetime]]:
        """(name, spec, the later of last claimed fire time and creation time) of every job not paused.

        A backfill may claim fire times from before the job existed; they must not pull the cursor back.
        """
        last_claimed = (
            select(JobTick.job_name, func.max(JobTick.scheduled_for).label("last"))
            .group_by(JobTick.job_name)
            .subquery()
        )
        query = (
            select(JobRecord, last_claimed.c.last)
            .outerjoin(last_claimed, last_claimed.c.job_name == JobRecord.name)
            .where(JobRecord.paused.is_(False))
            .order_by(JobRecord.name)
        )
        with self._db.session() as session:
            return [
                (record.name, JobSpec.model_validate_json(record.spec), _cursor(record.created_at, last))
                for record, last in session.execute(query)
            ]

    def _claim(self, name: str, fire_time: dt.datetime) -> bool:
        try:
            with self._db.session() as session:
                session.add(JobTick(job_name=name, scheduled_for=fire_time, scheduler_id=self.scheduler_id))
        except IntegrityError:
            logger.debug("job %s at %s: claimed by another scheduler", name, fire_time)
            return False
        return True

    def _run(self, name: str, spec: JobSpec, fire_time: dt.datetime) -> list[str]:
        try:
            run_id = start_run(self.settings, spec.run_request(), job_name=name, scheduled_for=fire_time)
            self._link(name, fire_time, run_id)
            self._execute_run(spec, run_id)
        except Exception:
            # One failed run must not stop the schedule; the run row records the failure.
            logger.exception("job %s at %s failed", name, fire_time)
            return []
        logger.info("job %s at %s: run %s done", name, fire_time, run_id)
        return [run_id]

    def _execute_run(self, spec: JobSpec, run_id: str) -> None:
        if self._execute is not None:
            self._execute(self.settings, run_id)
            return
        job_execution(spec)(self.settings, run_id, on_progress=no_progress)

    def _link(self, name: str, fire_time: dt.datetime, run_id: str) -> None:
        with self._db.session() as session:
            tick = session.scalars(
                select(JobTick).where(JobTick.job_name == name, JobTick.scheduled_for == fire_time)
            ).one()
            tick.run_id = run_id


def _cursor(created_at: dt.datetime, last_claimed: dt.datetime | None) -> dt.datetime:
    created = as_utc(created_at)
    return created if last_claimed is None else max(created, as_utc(last_claimed))


def backfill_job(
    settings: Settings, name: str, *, start: dt.datetime, end: dt.datetime, execute: RunExecutor | None = None
) -> BackfillReport:
    """Run job ``name``'s fire times in ``[start, end]`` (each at most once, ever), now."""
    scheduler = Scheduler(settings, scheduler_id=f"backfill:{new_scheduler_id()}", execute=execute)
    try:
        return scheduler.backfill(name, start=start, end=end, now=utc_now())
    finally:
        scheduler.close()
