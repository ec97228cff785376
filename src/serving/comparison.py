"""The comparison log of canary and shadow rollouts, written off the request path, and its report.

Each answer given under a rollout becomes a row of ``score_comparisons``: in shadow mode the
champion's answer and the challenger's for the same entity (the champion's is the one returned);
under a canary the one arm that answered. The request path only hands a job to
:class:`ComparisonLog`'s bounded queue (``put_nowait``); a worker thread scores shadow rows with the
challenger and writes the rows in batches. A full queue drops the job and counts it in
``warehouse_comparison_jobs_dropped``, so a slow challenger or database never slows or fails a caller.

:func:`compare_models` reads the log back: agreement of levels, score differences and correlations
over shadow pairs, and per-arm score distributions over canary answers.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, Float, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.db import Base, connect_metadata_db, open_metadata_db, utc_now
from warehouse.errors import InvalidRequest

if TYPE_CHECKING:
    from serving.metrics import ServingMetrics
    from warehouse.db import MetadataDB
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

QUEUE_SIZE = 1024
"""Jobs (one per scored request) waiting for the worker; more are dropped and counted."""
BATCH_JOBS = 64
"""Jobs the worker writes in one transaction."""


class ComparisonRecord(Base):
    """One entity's answer(s) under a rollout."""

    __tablename__ = "score_comparisons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(200))
    entity_id: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(10))
    served_by: Mapped[str] = mapped_column(String(20))
    champion_version: Mapped[str | None] = mapped_column(String(50))
    challenger_version: Mapped[str | None] = mapped_column(String(50))
    champion_score: Mapped[float | None] = mapped_column(Float)
    challenger_score: Mapped[float | None] = mapped_column(Float)
    champion_level: Mapped[str | None] = mapped_column(String(50))
    challenger_level: Mapped[str | None] = mapped_column(String(50))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class ComparisonRow:
    """One row for the log, as a job produces it."""

    model_name: str
    entity_id: str
    mode: str
    served_by: str
    champion_version: str | None
    challenger_version: str | None
    champion_score: float | None = None
    challenger_score: float | None = None
    champion_level: str | None = None
    challenger_level: str | None = None


ComparisonJob = Callable[[], Sequence[ComparisonRow]]
"""Work for the worker: answers the rows to log (a shadow job scores the challenger first)."""


@dataclass(frozen=True)
class _Queued:
    model_name: str
    mode: str
    job: ComparisonJob


_STOP = object()


class ComparisonLog:
    """A bounded queue of comparison jobs and the one worker thread that runs and writes them."""

    def __init__(self, settings: Settings, metrics: ServingMetrics, *, queue_size: int = QUEUE_SIZE) -> None:
        self._settings = settings
        self._metrics = metrics
        self._queue: queue.Queue[_Queued | object] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, *, model_name: str, mode: str, job: ComparisonJob) -> bool:
        """Queue a job without waiting; False (and counted as dropped) when the queue is full."""
        self._ensure_worker()
        try:
            self._queue.put_nowait(_Queued(model_name=model_name, mode=mode, job=job))
        except queue.Full:
            self._metrics.comparison_jobs_dropped.labels(model=model_name, mode=mode).inc()
            return False
        return True

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued job is written; False if that did not happen within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
            return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (up to ``timeout_s``), then stop the worker."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is None:
            return
        self.flush(timeout_s)
        self._queue.put(_STOP)
        worker.join(timeout_s)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="comparison-log", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        db = connect_metadata_db(self._settings)
        try:
            while (first := self._queue.get()) is not _STOP:
                batch = [first, *self._drain(BATCH_JOBS - 1)]
                try:
                    self._write(db, [item for item in batch if isinstance(item, _Queued)])
                finally:
                    for _ in batch:
                        self._queue.task_done()
                if any(item is _STOP for item in batch):
                    break
        finally:
            db.dispose()

    def _drain(self, count: int) -> list[_Queued | object]:
        items: list[_Queued | object] = []
        while len(items) < count:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _write(self, db: MetadataDB, batch: list[_Queued]) -> None:
        records: list[ComparisonRecord] = []
        counts: Counter[tuple[str, str]] = Counter()
        for item in batch:
            try:
                rows = item.job()
            except Exception:
                logger.exception("a %s comparison job of %s failed", item.mode, item.model_name)
                self._metrics.comparison_jobs_failed.labels(model=item.model_name, mode=item.mode).inc()
                continue
            records.extend(_record(row) for row in rows)
            counts[(item.model_name, item.mode)] += len(rows)
        try:
            with db.session() as session:
                session.add_all(records)
        except Exception:
            logger.exception("writing %d comparison rows failed", len(records))
            for model_name, mode in counts:
                self._metrics.comparison_jobs_failed.labels(model=model_name, mode=mode).inc()
            return
        for (model_name, mode), written in counts.items():
            self._metrics.comparison_rows_logged.labels(model=model_name, mode=mode).inc(written)


def _record(row: ComparisonRow) -> ComparisonRecord:
    return ComparisonRecord(**vars(row), at=utc_now())


class LevelPair(BaseModel):
    """How often the champion gave one level and the challenger another (a confusion cell)."""

    champion_level: str
    challenger_level: str
    count: int


class ArmSummary(BaseModel):
    """The answers one arm gave under a canary: how many, their score distribution, their levels."""

    model_config = ConfigDict(protected_namespaces=())

    arm: str = Field(description="champion or challenger")
    versions: list[str]
    answers: int
    mean_score: float | None
    score_quantiles: dict[str, float] = Field(description="p10, p50, p90 of the scores.")
    levels: dict[str, int]


class ComparisonReport(BaseModel):
    """Agreement between champion and challenger, from the comparison log."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    since: dt.datetime | None
    pairs: int = Field(description="Shadow rows where both models scored the same entity.")
    level_agreement: float | None = Field(description="Share of pairs where both gave the same level.")
    mean_abs_score_diff: float | None
    max_abs_score_diff: float | None
    pearson: float | None = Field(description="Pearson correlation of the paired scores (null if undefined).")
    spearman: float | None = Field(description="Spearman rank correlation of the paired scores.")
    level_confusion: list[LevelPair] = Field(description="Champion level x challenger level counts.")
    version_pairs: list[str] = Field(description="champion->challenger versions the pairs came from.")
    canary: list[ArmSummary] = Field(description="Per-arm answers under a canary.")


def compare_models(settings: Settings, model_name: str, *, since: dt.datetime | None = None) -> ComparisonReport:
    """The comparison report of ``model_name`` over the log (from ``since`` on, if given)."""
    query = select(ComparisonRecord).where(ComparisonRecord.model_name == model_name)
    if since is not None:
        since = _utc(since)
        query = query.where(ComparisonRecord.at >= since)
    with open_metadata_db(settings) as db, db.session() as session:
        records = list(session.scalars(query.order_by(ComparisonRecord.id)))
    pairs = [
        record
        for record in records
        if record.mode == "shadow" and record.champion_score is not None and record.challenger_score is not None
    ]
    return ComparisonReport(
        model_name=model_name,
        since=since,
        **_pair_figures(pairs),
        canary=[_arm(arm, [r for r in records if r.mode == "canary" and r.served_by == arm]) for arm in ARMS],
    )


ARMS = ("champion", "challenger")


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC (a naive one is taken as UTC); a moment outside the calendar is a bad request."""
    try:
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    except OverflowError as exc:
        raise InvalidRequest(f"since={moment.isoformat()} lies outside the representable dates") from exc


def _pair_figures(pairs: list[ComparisonRecord]) -> dict[str, object]:
    champion = np.array([record.champion_score for record in pairs], dtype=np.float64)
    challenger = np.array([record.challenger_score for record in pairs], dtype=np.float64)
    confusion = Counter((record.champion_level or "-", record.challenger_level or "-") for record in pairs)
    versions = sorted({f"{record.champion_version}->{record.challenger_version}" for record in pairs})
    difference = np.abs(champion - challenger)
    agreeing = sum(count for (left, right), count in confusion.items() if left == right)
    return {
        "pairs": len(pairs),
        "level_agreement": agreeing / len(pairs) if pairs else None,
        "mean_abs_score_diff": float(difference.mean()) if pairs else None,
        "max_abs_score_diff": float(difference.max()) if pairs else None,
        "pearson": _correlation(champion, challenger),
        "spearman": _correlation(_ranks(champion), _ranks(challenger)),
        "level_confusion": [
            LevelPair(champion_level=left, challenger_level=right, count=count)
            for (left, right), count in sorted(confusion.items())
        ],
        "version_pairs": versions,
    }


def _correlation(left: np.ndarray, right: np.ndarray) -> float | None:
    """Pearson correlation; None with fewer than two pairs or when either side is constant."""
    if len(left) < 2 or float(left.std()) == 0.0 or float(right.std()) == 0.0:
        return None
    value = float(np.corrcoef(left, right)[0, 1])
    return None if math.isnan(value) else value


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (as Spearman's coefficient needs)."""
    import pandas as pd

    ranks: np.ndarray = pd.Series(values).rank(method="average").to_numpy(dtype=np.float64)
    return ranks


def _arm(arm: str, records: list[ComparisonRecord]) -> ArmSummary:
    scores = np.array(
        [record.champion_score if arm == "champion" else record.challenger_score for record in records],
        dtype=np.float64,
    )
    levels = Counter(
        (record.champion_level if arm == "champion" else record.challenger_level) or "-" for record in records
    )
    versions = {record.champion_version if arm == "champion" else record.challenger_version for record in records}
    quantiles = np.quantile(scores, [0.1, 0.5, 0.9]).tolist() if len(scores) else []
    return ArmSummary(
        arm=arm,
        versions=sorted(version for version in versions if version),
        answers=len(records),
        mean_score=float(scores.mean()) if len(scores) else None,
        score_quantiles=dict(zip(("p10", "p50", "p90"), quantiles, strict=False)),
        levels=dict(sorted(levels.items())),
    )
