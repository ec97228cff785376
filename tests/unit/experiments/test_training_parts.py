"""The pieces of a training run: time split, data digest, git lineage, hold-out metrics."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from algorithms.grading import GradingPolicy
from experiments import lineage
from experiments.evaluation import binary_metrics
from experiments.lineage import UNKNOWN_COMMIT, git_commit, training_data_digest
from experiments.splits import split_by_month
from warehouse.errors import DataValidationError

KEYS = ["building_id", "event_timestamp"]


def test_holdout_is_the_last_months_and_train_everything_before(fire_frame: pd.DataFrame) -> None:
    split = split_by_month(fire_frame, holdout_months=3)

    assert split.holdout_months == ("2024-10", "2024-11", "2024-12")
    assert split.train["event_timestamp"].max() < split.holdout["event_timestamp"].min()
    assert len(split.train) + len(split.holdout) == len(fire_frame)
    assert split.holdout["event_timestamp"].dt.month.unique().tolist() == [10, 11, 12]


def test_months_are_calendar_months_in_utc() -> None:
    stamps = ["2023-12-15T00:00:00+00:00", "2024-01-31T23:30:00+00:00", "2024-02-01T00:30:00+08:00"]
    frame = pd.DataFrame({"event_timestamp": pd.to_datetime(stamps, utc=True)})

    split = split_by_month(frame, holdout_months=1)

    assert split.holdout_months == ("2024-01",)  # 00:30 in UTC+8 is still January in UTC
    assert (len(split.train), len(split.holdout)) == (1, 2)
    with pytest.raises(DataValidationError, match="spans 2 months"):
        split_by_month(frame, holdout_months=2)


def test_digest_ignores_row_and_column_order(fire_frame: pd.DataFrame) -> None:
    shuffled = fire_frame.sample(frac=1.0, random_state=np.random.default_rng(1).integers(1 << 31))
    shuffled = shuffled[list(reversed(shuffled.columns))]

    digest = training_data_digest(fire_frame, sort_by=KEYS)

    assert digest == training_data_digest(shuffled, sort_by=KEYS)
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_digest_sees_any_changed_value(fire_frame: pd.DataFrame) -> None:
    changed = fire_frame.copy()
    changed.loc[17, "grid_risk_index"] = np.nextafter(changed.loc[17, "grid_risk_index"], np.inf)
    missing = fire_frame.copy()
    missing.loc[3, "floors"] = 0

    digests = {training_data_digest(frame, sort_by=KEYS) for frame in (fire_frame, changed, missing)}

    assert len(digests) == 3


def test_digest_ignores_storage_details_but_not_types(fire_frame: pd.DataFrame) -> None:
    digest = training_data_digest(fire_frame, sort_by=KEYS)
    narrower = fire_frame.astype({"floors": "int32"})
    microseconds = fire_frame.assign(event_timestamp=fire_frame["event_timestamp"].dt.as_unit("us"))
    other_zone = fire_frame.assign(event_timestamp=fire_frame["event_timestamp"].dt.tz_convert("Asia/Shanghai"))
    arrow_strings = fire_frame.astype({"building_id": "string"})
    as_floats = fire_frame.astype({"floors": "float64"})

    for same in (narrower, microseconds, other_zone, arrow_strings):
        assert training_data_digest(same, sort_by=KEYS) == digest
    assert training_data_digest(as_floats, sort_by=KEYS) != digest


def test_git_commit_of_the_working_tree_or_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    commit = git_commit()
    assert commit == UNKNOWN_COMMIT or (len(commit) == 40 and int(commit, 16) >= 0)

    def no_git(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError("git")

    monkeypatch.setattr(lineage.subprocess, "run", no_git)
    assert git_commit() == UNKNOWN_COMMIT


def test_metrics_of_a_perfect_and_a_useless_ranking() -> None:
    labels = np.array([0, 0, 0, 1, 0, 1, 0, 0, 0, 1], dtype=np.int64)
    perfect = labels * 0.9 + 0.05
    policy = GradingPolicy(levels=("low", "high"), thresholds=(0.5,), warning_levels=("high",))

    metrics = binary_metrics(labels, perfect, policy.grade(perfect))
    flat = binary_metrics(labels, np.full(10, 0.3), policy.grade(np.full(10, 0.3)))

    assert metrics["roc_auc"] == 1.0
    assert metrics["pr_auc"] == 1.0
    assert metrics["brier"] == pytest.approx(0.05**2)
    assert metrics["base_rate"] == pytest.approx(0.3)
    assert (metrics["warning_rate"], metrics["warning_precision"], metrics["warning_recall"]) == (0.3, 1.0, 1.0)
    assert flat["roc_auc"] == 0.5
    assert (flat["warning_rate"], flat["warning_precision"], flat["warning_recall"]) == (0.0, 0.0, 0.0)


def test_metrics_need_both_classes() -> None:
    policy = GradingPolicy(levels=("low", "high"), thresholds=(0.5,))
    with pytest.raises(DataValidationError, match="both classes"):
        binary_metrics(np.zeros(4, dtype=np.int64), np.full(4, 0.1), policy.grade(np.full(4, 0.1)))
