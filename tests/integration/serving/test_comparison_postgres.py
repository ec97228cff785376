"""The comparison log and its report on real PostgreSQL (a fresh database per test).

The same known log as the SQLite test, written through the log's own worker, then read back with
and without ``since``; timestamps are ``timestamptz`` here, so ``since`` is compared as a moment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from serving.comparison import ComparisonLog, ComparisonRow, compare_models
from serving.metrics import ServingMetrics
from tests.unit.serving.test_rollout import KNOWN_PAIRS
from warehouse.settings import Settings

pytestmark = pytest.mark.integration


def test_the_worker_writes_pairs_that_the_report_reads(postgres_database: Callable[[], str], tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh", database_url=postgres_database())
    log = ComparisonLog(settings, ServingMetrics())
    rows = [
        ComparisonRow(
            model_name="fire_risk", entity_id=entity, mode="shadow", served_by="champion", champion_version="1",
            challenger_version="2", champion_score=left, challenger_score=right, champion_level=left_level,
            challenger_level=right_level,
        )
        for entity, left, left_level, right, right_level in KNOWN_PAIRS
    ]  # fmt: skip
    before = dt.datetime.now(dt.UTC)
    assert log.submit(model_name="fire_risk", mode="shadow", job=lambda: rows)
    assert log.flush(timeout_s=60)
    log.stop()

    report = compare_models(settings, "fire_risk", since=before.astimezone(dt.timezone(dt.timedelta(hours=8))))
    later = compare_models(settings, "fire_risk", since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))

    assert (report.pairs, report.version_pairs) == (4, ["1->2"])
    assert report.level_agreement == pytest.approx(0.75)
    assert report.mean_abs_score_diff == pytest.approx(0.0625)
    assert report.spearman == pytest.approx(0.8)
    assert later.pairs == 0
