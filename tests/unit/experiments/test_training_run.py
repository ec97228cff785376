"""run_training end to end on SQLite MLflow: what it logs, determinism, parity enforcement, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import onnx
import pandas as pd
import pytest
from mlflow import MlflowClient

from algorithms.base import METADATA_ARTIFACT_PATH, MODEL_ARTIFACT_NAME, ModelMetadata
from algorithms.fire_risk import FireRisk
from algorithms.testing import FAST_FIRE_RISK_PARAMS, FIRE_RISK_FEATURES
from experiments.lineage import training_data_digest
from experiments.training import STEPS, TrainingReport, run_training
from warehouse.errors import DataValidationError, InvalidRequest, ModelIntegrityError
from warehouse.security import sm3_hex
from warehouse.settings import Settings
from warehouse.tracking import mlflow_client


@pytest.fixture(scope="module")
def report(module_settings: Settings, fire_frame: pd.DataFrame) -> TrainingReport:
    return run_training(module_settings, FireRisk(), fire_frame, seed=7, params=FAST_FIRE_RISK_PARAMS)


@pytest.fixture(scope="module")
def client(module_settings: Settings, report: TrainingReport) -> MlflowClient:
    return mlflow_client(module_settings)


@pytest.fixture(scope="module")
def model_dir(report: TrainingReport, module_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    mlflow_client(module_settings)
    return Path(mlflow.artifacts.download_artifacts(report.model_uri, dst_path=str(tmp_path_factory.mktemp("model"))))


def test_report_describes_the_split_and_the_model(report: TrainingReport) -> None:
    assert report.algorithm == "fire_risk"
    assert (report.train_rows, report.holdout_rows) == (60 * 20, 60 * 4)
    assert report.holdout_months == ("2024-09", "2024-10", "2024-11", "2024-12")
    assert report.model_uri.startswith("models:/")
    assert report.feature_names == list(FIRE_RISK_FEATURES)
    assert 0.0 <= report.parity_max_abs_diff <= 1e-5
    assert report.thresholds == report.grading.threshold_by_level()
    assert list(report.thresholds) == ["medium", "high", "critical"]
    assert set(report.durations_s) == set(STEPS)
    assert report.metrics["roc_auc"] > 0.6  # the synthetic label is learnable
    assert 0.0 < report.metrics["brier"] < 0.25
    assert report.metrics["base_rate"] == pytest.approx(0.1, abs=0.05)


def test_run_is_logged_in_the_algorithms_experiment(client: MlflowClient, report: TrainingReport) -> None:
    run = client.get_run(report.run_id)

    assert client.get_experiment(run.info.experiment_id).name == "fire_risk"
    assert run.info.status == "FINISHED"
    assert run.data.params["n_estimators"] == str(FAST_FIRE_RISK_PARAMS["n_estimators"])
    assert run.data.params["seed"] == "7"
    assert run.data.params["deterministic"] == "True"
    assert run.data.params["holdout_months"] == "4"
    assert run.data.params["train_rows"] == str(report.train_rows)
    for name in ("roc_auc", "pr_auc", "brier", "base_rate", "warning_precision", "threshold_critical"):
        assert run.data.metrics[name] == pytest.approx(report.metrics.get(name, report.thresholds.get("critical")))
    assert run.data.metrics["parity_max_abs_diff"] == pytest.approx(report.parity_max_abs_diff)


def test_run_carries_its_lineage_tags(client: MlflowClient, report: TrainingReport, fire_frame: pd.DataFrame) -> None:
    tags = client.get_run(report.run_id).data.tags

    assert tags["warehouse.feature_service"] == "fire_risk"
    assert tags["warehouse.entity"] == "building_id"
    assert tags["warehouse.seed"] == "7"
    assert tags["warehouse.training_data_digest_algorithm"] == "sm3"
    assert tags["warehouse.training_data_digest"] == report.training_data_digest
    assert report.training_data_digest == training_data_digest(fire_frame, sort_by=["building_id", "event_timestamp"])
    commit = tags["warehouse.git_commit"]
    assert commit == "unknown" or (len(commit) == 40 and int(commit, 16) >= 0)


def test_logged_model_is_onnx_with_signature_and_card(
    client: MlflowClient, report: TrainingReport, model_dir: Path
) -> None:
    logged = client.get_logged_model(report.model_uri.removeprefix("models:/"))
    files = {info.path for info in client.list_logged_model_artifacts(logged.model_id)}
    card = ModelMetadata.read(model_dir / METADATA_ARTIFACT_PATH)
    mlmodel = (model_dir / "MLmodel").read_text()

    assert logged.name == MODEL_ARTIFACT_NAME
    assert logged.source_run_id == report.run_id
    assert {"MLmodel", "model.onnx", "input_example.json", "requirements.txt", "extra_files"} <= files
    assert card.run_id == report.run_id
    assert card.feature_names == report.feature_names
    assert card.grading == report.grading
    assert card.metrics == report.metrics
    assert (card.onnx_input, card.onnx_output, card.positive_class_index) == ("input", "probabilities", 1)
    assert card.onnx_sm3 == sm3_hex((model_dir / "model.onnx").read_bytes())
    assert card.training_data_digest == report.training_data_digest
    assert '"name": "input", "type": "tensor"' in mlmodel
    assert "float32" in mlmodel
    assert "CPUExecutionProvider" in mlmodel
    requirements = (model_dir / "requirements.txt").read_text().split()
    assert {line.split("==")[0] for line in requirements} >= {"onnx", "onnxruntime"}
    assert not [path for path in model_dir.rglob("*") if path.suffix == ".data"]  # one self-contained file


def test_logged_model_serves_through_pyfunc(
    module_settings: Settings, report: TrainingReport, fire_frame: pd.DataFrame, model_dir: Path
) -> None:
    mlflow_client(module_settings)
    matrix = fire_frame[list(report.feature_names)].to_numpy(dtype=np.float32)[:20]
    served = mlflow.pyfunc.load_model(report.model_uri).predict(matrix)
    onnx_model = onnx.load(str(model_dir / "model.onnx"))
    expected = FireRisk().onnx_predict_proba(onnx_model, fire_frame.head(20), report.feature_names)
    example = json.loads((model_dir / "serving_input_example.json").read_text())

    assert set(served) == {"label", "probabilities"}
    np.testing.assert_allclose(served["probabilities"][:, 1], expected, atol=1e-7)
    assert np.asarray(example["inputs"]).shape[1] == len(report.feature_names)


def test_same_seed_same_metrics_and_scores(module_settings: Settings, fire_frame: pd.DataFrame) -> None:
    first = run_training(module_settings, FireRisk(), fire_frame, seed=3, params=FAST_FIRE_RISK_PARAMS)
    second = run_training(module_settings, FireRisk(), fire_frame, seed=3, params=FAST_FIRE_RISK_PARAMS)
    other = run_training(module_settings, FireRisk(), fire_frame, seed=4, params=FAST_FIRE_RISK_PARAMS)

    assert first.run_id != second.run_id
    assert first.metrics == second.metrics
    assert first.grading == second.grading
    assert first.metrics != other.metrics
    mlflow_client(module_settings)
    matrix = fire_frame[list(first.feature_names)].to_numpy(dtype=np.float32)
    first_scores = mlflow.pyfunc.load_model(first.model_uri).predict(matrix)["probabilities"]
    second_scores = mlflow.pyfunc.load_model(second.model_uri).predict(matrix)["probabilities"]
    np.testing.assert_array_equal(first_scores, second_scores)


def test_progress_is_reported_once_per_step(empty_settings: Settings, fire_frame: pd.DataFrame) -> None:
    calls: list[tuple[int, int | None]] = []

    run_training(
        empty_settings,
        FireRisk(),
        fire_frame,
        params=FAST_FIRE_RISK_PARAMS,
        on_progress=lambda advance, total=None: calls.append((advance, total)),
    )

    assert calls == [(0, len(STEPS))] + [(1, None)] * len(STEPS)


class DriftingExport(FireRisk):
    """An algorithm whose ONNX scores drift from the fitted model's (a broken converter)."""

    def onnx_predict_proba(
        self, onnx_model: onnx.ModelProto, frame: pd.DataFrame, feature_names: tuple[str, ...] | list[str]
    ) -> np.ndarray:
        return super().onnx_predict_proba(onnx_model, frame, feature_names) + 1e-3


def test_parity_failure_raises_and_leaves_a_failed_run(empty_settings: Settings, fire_frame: pd.DataFrame) -> None:
    with pytest.raises(ModelIntegrityError, match=r"1\.000e-03"):
        run_training(empty_settings, DriftingExport(), fire_frame, params=FAST_FIRE_RISK_PARAMS)

    client = mlflow_client(empty_settings)
    experiment = client.get_experiment_by_name("fire_risk")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.metrics["parity_max_abs_diff"] == pytest.approx(1e-3, rel=1e-3)
    assert not run.outputs.model_outputs  # nothing was logged that could be registered


def _naive_times(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(event_timestamp=frame["event_timestamp"].dt.tz_localize(None))


def _no_holdout_positives(frame: pd.DataFrame) -> pd.DataFrame:
    late = frame["event_timestamp"] >= pd.Timestamp("2024-09-01", tz="UTC")
    return frame.assign(incident_next_month=frame["incident_next_month"].where(~late, 0))


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (lambda frame: frame.drop(columns=["incident_next_month"]), "lacks the columns"),
        (lambda frame: frame.iloc[0:0], "empty"),
        (lambda frame: pd.concat([frame, frame.head(3)]), "building_id"),
        (_naive_times, "tz-aware UTC"),
        (lambda frame: frame.assign(incident_next_month=frame["incident_next_month"] * 2), "isin"),
        (lambda frame: frame.assign(building_id=frame["building_id"].where(frame.index > 0)), "building_id"),
        (lambda frame: frame.assign(floors=frame["floors"].astype(float).where(frame.index > 0, np.inf)), "infinite"),
        (lambda frame: frame.assign(district="Tianhe"), "district"),
        (lambda frame: frame[frame["event_timestamp"] >= pd.Timestamp("2024-10-01", tz="UTC")], "spans 3 months"),
        (_no_holdout_positives, "hold-out rows hold 0 positives"),
    ],
)
def test_bad_training_sets_are_refused_before_anything_is_logged(
    empty_settings: Settings, fire_frame: pd.DataFrame, spoil: Callable[[pd.DataFrame], pd.DataFrame], problem: str
) -> None:
    with pytest.raises(DataValidationError, match=problem):
        run_training(empty_settings, FireRisk(), spoil(fire_frame), params=FAST_FIRE_RISK_PARAMS)

    assert not (empty_settings.data_dir / "mlflow.db").exists()


class RegressionAlgorithm(FireRisk):
    """A regression task, which training does not evaluate yet."""

    task = "regression"


def test_only_binary_tasks_are_trained(empty_settings: Settings, fire_frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="binary tasks only"):
        run_training(empty_settings, RegressionAlgorithm(), fire_frame)


def test_holdout_must_be_at_least_one_month(empty_settings: Settings, fire_frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="holdout_months"):
        run_training(empty_settings, FireRisk(), fire_frame, holdout_months=0)


def test_evaluation_plots_and_calibration_are_run_artifacts(client: MlflowClient, report: TrainingReport) -> None:
    names = {artifact.path for artifact in client.list_artifacts(report.run_id, "evaluation")}
    assert names == {
        "evaluation/calibration.json",
        "evaluation/calibration.png",
        "evaluation/roc.png",
        "evaluation/feature_importance.png",
    }
    curve = json.loads(Path(client.download_artifacts(report.run_id, "evaluation/calibration.json")).read_text())
    assert sum(curve["rows"]) == report.holdout_rows
    run = client.get_run(report.run_id)
    assert 0.0 < run.data.metrics["ks"] <= 1.0
    shares = [run.data.metrics[f"level_{level}_share"] for level in ("low", "medium", "high", "critical")]
    assert sum(shares) == pytest.approx(1.0)


def test_the_explainer_is_logged_as_lightgbm_text_with_its_digest_in_the_card(model_dir: Path) -> None:
    from algorithms.base import EXPLAINER_ARTIFACT_PATH

    card = ModelMetadata.read(model_dir / METADATA_ARTIFACT_PATH)
    explainer = (model_dir / EXPLAINER_ARTIFACT_PATH).read_bytes()
    assert explainer.startswith(b"tree\n")
    assert card.explainer_sm3 == sm3_hex(explainer)
