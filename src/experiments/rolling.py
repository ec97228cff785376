"""Rolling time-based validation: an expanding window over the months, one fold per validated month.

For each of the last ``folds`` months ``t + 1`` the algorithm is fitted on every month up to ``t``
and scored on month ``t + 1``, as it would have been used then: the folds show how stable the
ranking and the calibration are from month to month, which a single hold-out cannot. The same
code serves every algorithm (it only calls the contract's ``fit`` and ``predict_proba``).

The folds go into one MLflow run (``<algorithm>-rolling<k>-seed<seed>``) of the algorithm's
experiment: each metric per fold as a metric history (``fold_<metric>``, step = fold number),
its mean and standard deviation over the folds (``rolling_<metric>_mean`` / ``_std``, the sample
standard deviation, 0 for one fold), and the fold table as ``rolling/folds.json``. No model is
logged: this run judges a configuration, it does not produce a version.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict

from algorithms.base import TIMESTAMP_COLUMN, Algorithm, ParamValue
from experiments.evaluation import ks_statistic
from experiments.lineage import git_commit, training_data_digest
from experiments.splits import TimeSplit, expanding_window_splits
from experiments.training import require_binary
from experiments.validation import require_both_classes, validate_training_set
from warehouse.progress import ProgressCallback, no_progress
from warehouse.tracking import ensure_experiment

if TYPE_CHECKING:
    import pandas as pd

    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

FOLD_METRICS = ("roc_auc", "pr_auc", "ks", "brier", "log_loss", "base_rate", "mean_score")
"""What each fold measures on its validation month."""


class FoldResult(BaseModel):
    """One fold: the months it trained on, the month it validated, and its metrics there."""

    model_config = ConfigDict(frozen=True)

    fold: int
    first_train_month: str
    last_train_month: str
    validation_month: str
    train_rows: int
    validation_rows: int
    metrics: dict[str, float]


class RollingReport(BaseModel):
    """Every fold, and the mean and sample standard deviation of each metric over the folds."""

    model_config = ConfigDict(frozen=True)

    algorithm: str
    run_id: str
    folds: list[FoldResult]
    mean: dict[str, float]
    std: dict[str, float]


def fold_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Ranking and calibration of ``scores`` on one validation month."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "pr_auc": float(average_precision_score(labels, scores)),
        "ks": ks_statistic(labels, scores),
        "brier": float(brier_score_loss(labels, scores)),
        "log_loss": float(log_loss(labels, scores, labels=[0, 1])),
        "base_rate": float(labels.mean()),
        "mean_score": float(scores.mean()),
    }


def evaluate_fold(algorithm: Algorithm, split: TimeSplit, fold: int, params: Mapping[str, ParamValue]) -> FoldResult:
    """Fit on the fold's training months and measure on its validation month."""
    require_both_classes(algorithm, split.train, part=f"fold {fold} training")
    require_both_classes(algorithm, split.holdout, part=f"fold {fold} validation")
    model = algorithm.fit(split.train, params)
    scores = algorithm.predict_proba(model, split.holdout)
    labels = split.holdout[algorithm.label].to_numpy(dtype=np.int64)
    train_months = split.train[TIMESTAMP_COLUMN].dt.tz_convert("UTC").dt.strftime("%Y-%m")
    return FoldResult(
        fold=fold,
        first_train_month=str(train_months.min()),
        last_train_month=str(train_months.max()),
        validation_month=split.holdout_months[0],
        train_rows=len(split.train),
        validation_rows=len(split.holdout),
        metrics=fold_metrics(labels, scores),
    )


def summarise_folds(folds: list[FoldResult]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample standard deviation (0 for a single fold) of each metric over the folds."""
    table = {name: np.array([fold.metrics[name] for fold in folds]) for name in FOLD_METRICS}
    mean = {name: float(values.mean()) for name, values in table.items()}
    std = {name: float(values.std(ddof=1)) if values.size > 1 else 0.0 for name, values in table.items()}
    return mean, std


def run_rolling_validation(
    settings: Settings,
    algorithm: Algorithm,
    training_set: pd.DataFrame,
    *,
    folds: int = 3,
    seed: int = 42,
    params: Mapping[str, ParamValue] | None = None,
    on_progress: ProgressCallback | None = None,
) -> RollingReport:
    """Fit and measure each expanding-window fold, and log them in one MLflow run."""
    import mlflow

    require_binary(algorithm)
    validate_training_set(algorithm, training_set)
    splits = expanding_window_splits(training_set, folds=folds)
    fit_params: dict[str, ParamValue] = {**algorithm.default_params(), **(params or {}), "seed": seed}
    progress = on_progress or no_progress
    progress(0, len(splits))
    experiment_id = ensure_experiment(settings, algorithm.name)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{algorithm.name}-rolling{folds}-seed{seed}") as run:
        _log_setup(algorithm, training_set, fit_params, folds=folds, seed=seed)
        results = []
        for number, split in enumerate(splits):
            result = evaluate_fold(algorithm, split, number, fit_params)
            mlflow.log_metrics({f"fold_{name}": value for name, value in result.metrics.items()}, step=number)
            results.append(result)
            progress(1)
        mean, std = summarise_folds(results)
        mlflow.log_metrics({f"rolling_{name}_mean": value for name, value in mean.items()})
        mlflow.log_metrics({f"rolling_{name}_std": value for name, value in std.items()})
        mlflow.log_dict({"folds": [result.model_dump(mode="json") for result in results]}, "rolling/folds.json")
    logger.info("rolling validation of %s: roc_auc %.4f +- %.4f", algorithm.name, mean["roc_auc"], std["roc_auc"])
    return RollingReport(algorithm=algorithm.name, run_id=run.info.run_id, folds=results, mean=mean, std=std)


def _log_setup(
    algorithm: Algorithm, training_set: pd.DataFrame, fit_params: Mapping[str, ParamValue], *, folds: int, seed: int
) -> None:
    import mlflow

    mlflow.log_params({**fit_params, "rolling_folds": folds, "rolling_window": "expanding"})
    mlflow.set_tags(
        {
            "warehouse.algorithm": algorithm.name,
            "warehouse.evaluation": "rolling",
            "warehouse.feature_service": algorithm.feature_service,
            "warehouse.training_data_digest": training_data_digest(
                training_set, sort_by=[algorithm.entity, TIMESTAMP_COLUMN]
            ),
            "warehouse.git_commit": git_commit(),
            "warehouse.seed": str(seed),
        }
    )
