"""Rolling time-based validation: expanding-window folds, metrics per fold, mean and std in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from algorithms.fire_risk import FireRisk
from algorithms.testing import FAST_FIRE_RISK_PARAMS
from experiments.rolling import FOLD_METRICS, RollingReport, run_rolling_validation
from experiments.splits import expanding_window_splits
from warehouse.cli import app
from warehouse.errors import DataValidationError, InvalidRequest
from warehouse.settings import Settings
from warehouse.tracking import mlflow_client

FOLDS = 3


@pytest.fixture(scope="module")
def rolling(module_settings: Settings, fire_frame: pd.DataFrame) -> RollingReport:
    return run_rolling_validation(
        module_settings, FireRisk(), fire_frame, folds=FOLDS, seed=4, params=FAST_FIRE_RISK_PARAMS
    )


def test_folds_expand_month_by_month_and_never_train_on_what_they_validate(fire_frame: pd.DataFrame) -> None:
    splits = expanding_window_splits(fire_frame, folds=FOLDS)

    assert [split.holdout_months for split in splits] == [("2024-10",), ("2024-11",), ("2024-12",)]
    assert [len(split.train) for split in splits] == [60 * 21, 60 * 22, 60 * 23]
    for split in splits:
        assert len(split.holdout) == 60
        assert split.train["event_timestamp"].max() < split.holdout["event_timestamp"].min()
    with pytest.raises(InvalidRequest, match="at least 1"):
        expanding_window_splits(fire_frame, folds=0)
    with pytest.raises(DataValidationError, match="spans 24 months"):
        expanding_window_splits(fire_frame, folds=24)


def test_the_report_holds_every_fold_and_their_mean_and_std(rolling: RollingReport) -> None:
    assert [fold.fold for fold in rolling.folds] == [0, 1, 2]
    assert [fold.validation_month for fold in rolling.folds] == ["2024-10", "2024-11", "2024-12"]
    assert [fold.last_train_month for fold in rolling.folds] == ["2024-09", "2024-10", "2024-11"]
    assert {fold.first_train_month for fold in rolling.folds} == {"2023-01"}
    for name in FOLD_METRICS:
        values = np.array([fold.metrics[name] for fold in rolling.folds])
        assert rolling.mean[name] == pytest.approx(values.mean())
        assert rolling.std[name] == pytest.approx(values.std(ddof=1))
    assert rolling.mean["roc_auc"] > 0.6


def test_mlflow_holds_the_fold_history_and_the_summary(module_settings: Settings, rolling: RollingReport) -> None:
    client = mlflow_client(module_settings)
    run = client.get_run(rolling.run_id)

    history = client.get_metric_history(rolling.run_id, "fold_roc_auc")
    assert [(point.step, point.value) for point in sorted(history, key=lambda point: point.step)] == [
        (fold.fold, pytest.approx(fold.metrics["roc_auc"])) for fold in rolling.folds
    ]
    assert run.data.metrics["rolling_roc_auc_mean"] == pytest.approx(rolling.mean["roc_auc"])
    assert run.data.metrics["rolling_brier_std"] == pytest.approx(rolling.std["brier"])
    assert run.data.params["rolling_folds"] == str(FOLDS)
    assert run.data.tags["warehouse.evaluation"] == "rolling"
    assert (
        client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
        == []
    )
    folds_file = Path(mlflow.artifacts.download_artifacts(run_id=rolling.run_id, artifact_path="rolling/folds.json"))
    assert [fold["validation_month"] for fold in json.loads(folds_file.read_text(encoding="utf-8"))["folds"]] == [
        "2024-10",
        "2024-11",
        "2024-12",
    ]


def test_same_seed_same_folds(module_settings: Settings, fire_frame: pd.DataFrame, rolling: RollingReport) -> None:
    again = run_rolling_validation(
        module_settings, FireRisk(), fire_frame, folds=FOLDS, seed=4, params=FAST_FIRE_RISK_PARAMS
    )
    assert [fold.metrics for fold in again.folds] == [fold.metrics for fold in rolling.folds]
    assert again.run_id != rolling.run_id


def test_a_month_with_one_class_is_refused(empty_settings: Settings, fire_frame: pd.DataFrame) -> None:
    last = fire_frame["event_timestamp"].max()
    frame = fire_frame.assign(
        incident_next_month=np.where(fire_frame["event_timestamp"] == last, 0, fire_frame["incident_next_month"])
    )
    with pytest.raises(DataValidationError, match="fold 2 validation rows hold 0 positives"):
        run_rolling_validation(empty_settings, FireRisk(), frame, folds=FOLDS, params=FAST_FIRE_RISK_PARAMS)


def test_the_cli_prints_each_fold_and_the_summary(settings: Settings) -> None:
    result = CliRunner().invoke(
        app,
        ["--data-dir", str(settings.data_dir), "experiments", "rolling", "fire_risk", "--folds", "2"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.count("│") > 3]
    assert [row.split("│")[3].strip() for row in rows] == ["2026-08", "2026-09"]
    assert "mean ± std: roc_auc=" in result.output
