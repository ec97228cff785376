"""Training runs: split by time, fit, evaluate, export to ONNX, check parity, log to MLflow.

:func:`run_training` takes the training set as an argument (the point-in-time join lives in
``features``) and records everything in one MLflow run of the experiment named after the
algorithm: parameters, hold-out metrics, lineage tags (feature service, entity, SM3 digest of the
training data, git commit, seed), and the ONNX model with its signature and
``warehouse_model.json``. The run is opened before fitting, so a failed attempt (a parity failure
included) stays visible as a FAILED run. The same seed gives the same metrics and the same model.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict

from algorithms.base import (
    TIMESTAMP_COLUMN,
    Algorithm,
    FittedModel,
    GradingPolicy,
    ModelMetadata,
    ParamValue,
)
from experiments.evaluation import binary_metrics, calibration_curve, metrics_by_level
from experiments.lineage import git_commit, training_data_digest
from experiments.model_logging import LoggedModel, log_onnx_model
from experiments.splits import TimeSplit, split_by_month
from experiments.validation import require_both_classes, validate_training_set
from warehouse.db import utc_now
from warehouse.errors import InvalidRequest, ModelIntegrityError
from warehouse.progress import ProgressCallback, no_progress
from warehouse.security import sm3_hex
from warehouse.tracking import ensure_experiment

if TYPE_CHECKING:
    import onnx
    import pandas as pd

    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-5
"""Largest |ONNX - LightGBM| probability accepted on the hold-out set."""

EXAMPLE_ROWS = 5
"""Hold-out rows logged as the model's input example."""

EVALUATION_DIR = "evaluation"
"""Run artifact folder of the hold-out evaluation: calibration curve and plots."""

STEPS = ("validate", "fit", "evaluate", "onnx_convert", "parity", "log_model")
"""The timed steps of a run, in order; ``on_progress`` advances once per step."""


class TrainingReport(BaseModel):
    """What a training run produced and where it is logged."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    algorithm: str
    experiment_id: str
    run_id: str
    model_uri: str
    """URI of the logged ONNX model (``models:/m-...``), loadable with ``mlflow.onnx`` or pyfunc."""
    metrics: dict[str, float]
    parity_max_abs_diff: float
    train_rows: int
    holdout_rows: int
    holdout_months: tuple[str, ...]
    grading: GradingPolicy
    thresholds: dict[str, float]
    """Lower score bound of each level but the lowest (same numbers as ``grading``)."""
    feature_names: list[str]
    training_data_digest: str
    seed: int
    durations_s: dict[str, float]
    """Wall time of each step in :data:`STEPS`."""


@dataclass
class StepClock:
    """Times each step and reports it done to the progress callback."""

    on_progress: ProgressCallback
    durations_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as step ``name``, then advance the progress by one."""
        started = time.perf_counter()
        yield
        self.durations_s[name] = time.perf_counter() - started
        self.on_progress(1)


@dataclass(frozen=True)
class PreparedSet:
    """A validated training set split by time, with the SM3 digest of the whole set."""

    split: TimeSplit
    digest: str


@dataclass(frozen=True)
class _Trained:
    model: FittedModel
    onnx_model: onnx.ModelProto
    grading: GradingPolicy
    metrics: dict[str, float]
    parity_max_abs_diff: float


def prepare_training_set(algorithm: Algorithm, training_set: pd.DataFrame, *, holdout_months: int) -> PreparedSet:
    """Validate ``training_set``, hold out its last months (both classes on each side), digest it."""
    validate_training_set(algorithm, training_set)
    split = split_by_month(training_set, holdout_months=holdout_months)
    require_both_classes(algorithm, split.train, part="training")
    require_both_classes(algorithm, split.holdout, part="hold-out")
    return PreparedSet(split, training_data_digest(training_set, sort_by=[algorithm.entity, TIMESTAMP_COLUMN]))


def require_binary(algorithm: Algorithm) -> None:
    """Training evaluates binary tasks only."""
    if algorithm.task != "binary":
        raise InvalidRequest(f"training evaluates binary tasks only; {algorithm.name} is a {algorithm.task} task")


def run_training(
    settings: Settings,
    algorithm: Algorithm,
    training_set: pd.DataFrame,
    *,
    seed: int = 42,
    holdout_months: int = 4,
    params: Mapping[str, ParamValue] | None = None,
    on_progress: ProgressCallback | None = None,
) -> TrainingReport:
    """Train ``algorithm`` on ``training_set`` and log the run; ``params`` override its defaults."""
    import mlflow

    require_binary(algorithm)
    clock = StepClock(on_progress or no_progress)
    clock.on_progress(0, len(STEPS))
    with clock.step("validate"):
        prepared = prepare_training_set(algorithm, training_set, holdout_months=holdout_months)
    fit_params: dict[str, ParamValue] = {**algorithm.default_params(), **(params or {}), "seed": seed}
    experiment_id = ensure_experiment(settings, algorithm.name)  # also points MLflow's fluent API at this node
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{algorithm.name}-seed{seed}") as run:
        report = train_in_active_run(
            settings, algorithm, prepared, fit_params, experiment_id=experiment_id, seed=seed, clock=clock
        )
    logger.info("trained %s in run %s: %s", algorithm.name, run.info.run_id, _summary(report.metrics))
    return report


def train_in_active_run(
    settings: Settings,
    algorithm: Algorithm,
    prepared: PreparedSet,
    fit_params: Mapping[str, ParamValue],
    *,
    experiment_id: str,
    seed: int,
    clock: StepClock,
) -> TrainingReport:
    """Fit, evaluate, export, check parity and log the model in the active MLflow run."""
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("train_in_active_run needs an active MLflow run")
    split, digest = prepared.split, prepared.digest
    _log_inputs(algorithm, split, fit_params, digest=digest, seed=seed)
    trained = _train_and_check(algorithm, split, fit_params, clock)
    with clock.step("log_model"):
        explainer = algorithm.explainer_text(trained.model)
        metadata = _model_metadata(algorithm, trained, fit_params, run_id=run.info.run_id, digest=digest, seed=seed)
        if explainer is not None:
            metadata = metadata.model_copy(update={"explainer_sm3": sm3_hex(explainer.encode("utf-8"))})
        example = algorithm.feature_matrix(split.holdout.head(EXAMPLE_ROWS), trained.model.feature_names)
        logged = log_onnx_model(settings, trained.onnx_model, metadata, input_example=example, explainer_text=explainer)
    return _report(algorithm, experiment_id, logged, trained, split, digest=digest, seed=seed, clock=clock)


def _train_and_check(
    algorithm: Algorithm, split: TimeSplit, fit_params: Mapping[str, ParamValue], clock: StepClock
) -> _Trained:
    import mlflow

    with clock.step("fit"):
        model = algorithm.fit(split.train, fit_params)
    with clock.step("evaluate"):
        scores = algorithm.predict_proba(model, split.holdout)
        grading = algorithm.derive_grading(scores)
        labels = split.holdout[algorithm.label].to_numpy(dtype=np.int64)
        grades = grading.grade(scores)
        metrics = binary_metrics(labels, scores, grades) | metrics_by_level(labels, scores, grades, grading.levels)
        mlflow.log_metrics(
            metrics | {f"threshold_{level}": value for level, value in grading.threshold_by_level().items()}
        )
        _log_evaluation_artifacts(algorithm, model, labels, scores)
    with clock.step("onnx_convert"):
        onnx_model = algorithm.to_onnx(model, split.holdout)
    with clock.step("parity"):
        onnx_scores = algorithm.onnx_predict_proba(onnx_model, split.holdout, model.feature_names)
        parity = float(np.max(np.abs(onnx_scores - scores)))
        mlflow.log_metric("parity_max_abs_diff", parity)
    if not parity <= PARITY_TOLERANCE:
        raise ModelIntegrityError(
            f"ONNX export of {algorithm.name} differs from the fitted model by up to {parity:.3e} "
            f"on the hold-out set (tolerance {PARITY_TOLERANCE:.0e})"
        )
    return _Trained(model, onnx_model, grading, metrics | {"parity_max_abs_diff": parity}, parity)


def _log_evaluation_artifacts(algorithm: Algorithm, model: FittedModel, labels: np.ndarray, scores: np.ndarray) -> None:
    """Calibration curve (JSON and plot), ROC curve and feature importance of the hold-out, as run artifacts."""
    import mlflow

    from experiments.plots import calibration_figure, importance_figure, roc_figure

    curve = calibration_curve(labels, scores)
    mlflow.log_dict(dataclasses.asdict(curve), f"{EVALUATION_DIR}/calibration.json")
    mlflow.log_figure(
        calibration_figure(curve, title=f"{algorithm.name}: calibration"), f"{EVALUATION_DIR}/calibration.png"
    )
    mlflow.log_figure(roc_figure(labels, scores, title=f"{algorithm.name}: ROC"), f"{EVALUATION_DIR}/roc.png")
    importance = algorithm.feature_importance(model)
    if importance:
        figure = importance_figure(importance, title=f"{algorithm.name}: feature importance")
        mlflow.log_figure(figure, f"{EVALUATION_DIR}/feature_importance.png")


def _log_inputs(
    algorithm: Algorithm, split: TimeSplit, fit_params: Mapping[str, ParamValue], *, digest: str, seed: int
) -> None:
    import mlflow

    mlflow.log_params(
        {
            **fit_params,
            "holdout_months": len(split.holdout_months),
            "holdout_first_month": split.holdout_months[0],
            "train_rows": len(split.train),
            "holdout_rows": len(split.holdout),
        }
    )
    mlflow.set_tags(
        {
            "warehouse.algorithm": algorithm.name,
            "warehouse.feature_service": algorithm.feature_service,
            "warehouse.entity": algorithm.entity,
            "warehouse.label": algorithm.label,
            "warehouse.training_data_digest": digest,
            "warehouse.training_data_digest_algorithm": "sm3",
            "warehouse.git_commit": git_commit(),
            "warehouse.seed": str(seed),
        }
    )


def _model_metadata(
    algorithm: Algorithm,
    trained: _Trained,
    fit_params: Mapping[str, ParamValue],
    *,
    run_id: str,
    digest: str,
    seed: int,
) -> ModelMetadata:
    return ModelMetadata(
        algorithm=algorithm.name,
        model_name=algorithm.name,
        entity=algorithm.entity,
        feature_service=algorithm.feature_service,
        feature_names=list(trained.model.feature_names),
        label=algorithm.label,
        task=algorithm.task,
        grading=trained.grading,
        onnx_input=algorithm.onnx_input,
        onnx_output=algorithm.onnx_output,
        positive_class_index=algorithm.positive_class_index,
        onnx_sm3=sm3_hex(trained.onnx_model.SerializeToString()),
        metrics=trained.metrics,
        params=dict(fit_params),
        training_data_digest=digest,
        run_id=run_id,
        seed=seed,
        trained_at=utc_now(),
    )


def _report(
    algorithm: Algorithm,
    experiment_id: str,
    logged: LoggedModel,
    trained: _Trained,
    split: TimeSplit,
    *,
    digest: str,
    seed: int,
    clock: StepClock,
) -> TrainingReport:
    return TrainingReport(
        algorithm=algorithm.name,
        experiment_id=experiment_id,
        run_id=logged.run_id,
        model_uri=logged.model_uri,
        metrics=trained.metrics,
        parity_max_abs_diff=trained.parity_max_abs_diff,
        train_rows=len(split.train),
        holdout_rows=len(split.holdout),
        holdout_months=split.holdout_months,
        grading=trained.grading,
        thresholds=trained.grading.threshold_by_level(),
        feature_names=list(trained.model.feature_names),
        training_data_digest=digest,
        seed=seed,
        durations_s=dict(clock.durations_s),
    )


def _summary(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={metrics[name]:.4f}" for name in ("roc_auc", "pr_auc", "brier") if name in metrics)
