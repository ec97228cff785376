"""Pydantic models at the scheduling boundary: job specs, run requests, the plan a run pins.

A :class:`JobSpec` is what an admin submits (CLI or HTTP); a :class:`RunRequest` is what one run is
asked to do; a :class:`RunPlan` is what a run fixed when it started (the as-of instant, the chunking,
the filter, the thresholds), stored as JSON on its ``batch_runs`` row so that a resumed run does
exactly what the interrupted one began.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]  # APScheduler 3 ships no types

JOB_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")
MisfirePolicy = Literal["skip", "catch_up"]
FeatureSource = Literal["latest", "point-in-time"]
"""Where a run reads features: ``latest`` reads each entity's latest values straight from the offline
parquet with DuckDB (:mod:`features.latest`, no Feast); ``point-in-time`` asks Feast's offline store
for a point-in-time join at the run's as-of instant (:mod:`features.offline`). Both give the same values."""
ExecutorName = Literal["local", "ray"]
"""Which executor scores a job's runs: ``local`` (ONNX Runtime in-process) or ``ray`` (Ray Data actors)."""

PopulationFilter = dict[str, list[float]]
"""Feature name -> accepted values; an entity is scored when every named feature takes one of them."""


class WarningThresholds(BaseModel):
    """When a scored entity becomes an early warning: a score at or above ``score``, or a level at
    or above ``min_level`` in the model's level order (either suffices)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: float | None = Field(default=None, ge=0.0, le=1.0)
    min_level: str | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> WarningThresholds:
        if self.score is None and self.min_level is None:
            raise ValueError("thresholds need a score, a min_level, or both")
        return self


class AlertDelivery(BaseModel):
    """Where a job's new and updated alerts are sent, and how hard to try.

    Every alert a run opens or refreshes becomes one outbox row per target, written in the chunk's
    transaction; a deliverer sends them with exponential backoff and jitter until each is accepted
    or has used ``max_attempts``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhooks: list[str] = Field(default_factory=list, max_length=10)
    """URLs each alert is POSTed to as JSON (``http`` or ``https``)."""
    redis_stream: str | None = Field(default=None, min_length=1, max_length=200)
    """Redis stream key each alert is XADDed to, e.g. ``fire:alerts`` (Redis: ``alert_redis_url``)."""
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_initial_s: float = Field(default=2.0, gt=0)
    """Ceiling of the delay before the second attempt; it doubles after each failure. Each delay is
    drawn between half its ceiling and all of it (jitter), so retries of many alerts spread out."""
    backoff_max_s: float = Field(default=600.0, gt=0)
    """Longest delay between two attempts."""

    @field_validator("webhooks")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        from urllib.parse import urlsplit

        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"webhook must be an http(s) URL with a host, got {url!r}")
        return urls

    @model_validator(mode="after")
    def _somewhere(self) -> AlertDelivery:
        if not self.webhooks and self.redis_stream is None:
            raise ValueError("alert delivery needs a webhook, a redis_stream, or both")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must not be below backoff_initial_s")
        return self


class RunRequest(BaseModel):
    """What one batch run is asked to score and with which model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: str
    model: str = "champion"
    """Alias, or a version number to pin."""
    population_filter: PopulationFilter = Field(default_factory=dict)
    thresholds: WarningThresholds | None = None
    delivery: AlertDelivery | None = None
    output: str | None = None
    """Output directory; relative paths are taken inside the results dir. Default: ``<algorithm>/run_id=<id>``."""
    features: FeatureSource = "latest"
    """How the run reads the population's features (see :data:`FeatureSource`)."""


class RunPlan(BaseModel):
    """Everything a run fixed when it started; a resume follows it exactly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature_service: str
    entity_key: str
    as_of: dt.datetime
    chunk_rows: int = Field(gt=0)
    population_filter: PopulationFilter = Field(default_factory=dict)
    thresholds: WarningThresholds | None = None
    delivery: AlertDelivery | None = None
    """Where the run's alerts are sent (pinned, so a resumed run sends where it began to)."""
    output: str
    """Output directory, relative to the results dir unless absolute."""
    features: FeatureSource = "point-in-time"
    """Feature source the run reads with; plans stored before the choice existed read point in time."""


class JobSpec(BaseModel):
    """A scheduled batch-scoring job as an admin submits it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    algorithm: str
    alias: str = "champion"
    version: str | None = Field(default=None, pattern=r"^[0-9]+$")
    """A pinned model version; when set, ``alias`` is ignored."""
    population_filter: PopulationFilter = Field(default_factory=dict)
    cron: str
    """Crontab with five fields (minute first), or six with seconds first."""
    output: str | None = None
    thresholds: WarningThresholds | None = None
    misfire: MisfirePolicy = "skip"
    """After downtime: ``skip`` runs only the latest missed fire time, ``catch_up`` runs each one."""
    delivery: AlertDelivery | None = None
    """Webhooks and / or a Redis stream that new and updated alerts are sent to."""
    features: FeatureSource = "latest"
    """How each run reads the population's features (see :data:`FeatureSource`)."""
    executor: ExecutorName = "local"
    """Which executor the scheduler and ``jobs run`` score the job's runs with."""
    ray_address: str | None = None
    """Ray cluster for ``executor: ray``; default: a Ray started in-process for the run."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not JOB_NAME_PATTERN.fullmatch(value):
            raise ValueError("job name must start with a letter and hold only letters, digits, _ . -")
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        cron_trigger(value)
        return value

    def run_request(self) -> RunRequest:
        """The run this job asks for at each fire time."""
        return RunRequest(
            algorithm=self.algorithm,
            model=self.version or self.alias,
            population_filter=self.population_filter,
            thresholds=self.thresholds,
            delivery=self.delivery,
            output=self.output,
            features=self.features,
        )


def cron_trigger(expression: str) -> CronTrigger:
    """APScheduler's cron arithmetic (UTC) for a 5-field crontab or a 6-field one with seconds first."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) == 5:
        return CronTrigger.from_crontab(expression, timezone=dt.UTC)
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=dt.UTC
        )
    raise ValueError(f"cron needs 5 fields (or 6 with seconds first), got {len(fields)}: {expression!r}")
