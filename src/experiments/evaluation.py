"""Hold-out metrics of a binary risk model, including how well its early-warning flag works.

Ranking (ROC-AUC, PR-AUC, KS), calibration (Brier score, log loss, mean score against the base
rate, and a calibration curve over score deciles), the warning flag's precision, recall and share
of the population, and per level (or grade) its share of the population, observed rate and mean
score. Every value is a plain ``float`` so it can be logged to MLflow and written into the model card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from algorithms.grading import Grades
from warehouse.errors import DataValidationError


def binary_metrics(labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], grades: Grades) -> dict[str, float]:
    """Metrics of ``scores`` (positive-class probabilities) against 0/1 ``labels``."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    positives = int(labels.sum())
    if positives in (0, labels.size):
        raise DataValidationError(
            f"the hold-out holds {positives} positives in {labels.size} rows; ranking metrics need both classes"
        )
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "ks": ks_statistic(labels, scores),
        "pr_auc": float(average_precision_score(labels, scores)),
        "brier": float(brier_score_loss(labels, scores)),
        "log_loss": float(log_loss(labels, scores, labels=[0, 1])),
        "base_rate": float(labels.mean()),
        "mean_score": float(scores.mean()),
        **_warning_metrics(labels, grades.warnings),
    }


def _warning_metrics(labels: npt.NDArray[np.int64], warnings: npt.NDArray[np.bool_]) -> dict[str, float]:
    flagged = int(warnings.sum())
    hits = int((labels.astype(bool) & warnings).sum())
    return {
        "warning_rate": flagged / labels.size,
        "warning_precision": hits / flagged if flagged else 0.0,
        "warning_recall": hits / int(labels.sum()),
    }


def ks_statistic(labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap between the score distributions of the classes."""
    from sklearn.metrics import roc_curve

    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores)
    return float(np.max(true_positive_rate - false_positive_rate))


@dataclass(frozen=True)
class CalibrationCurve:
    """Mean predicted probability against the observed rate, per score bin (equal-count bins)."""

    mean_predicted: list[float]
    observed_rate: list[float]
    rows: list[int]


def calibration_curve(
    labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], *, bins: int = 10
) -> CalibrationCurve:
    """Calibration over ``bins`` quantile bins of the scores (ties may merge bins)."""
    edges = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, bins + 1)))
    index = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, max(edges.size - 2, 0))
    present = [position for position in range(max(edges.size - 1, 1)) if (index == position).any()]
    return CalibrationCurve(
        mean_predicted=[float(scores[index == position].mean()) for position in present],
        observed_rate=[float(labels[index == position].mean()) for position in present],
        rows=[int((index == position).sum()) for position in present],
    )


def metrics_by_level(
    labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], grades: Grades, levels: Sequence[str]
) -> dict[str, float]:
    """Per level: share of rows, observed positive rate and mean score (rate and score 0 when empty)."""
    metrics: dict[str, float] = {}
    for level in levels:
        members = grades.levels == level
        count = int(members.sum())
        metrics[f"level_{level}_share"] = count / labels.size
        metrics[f"level_{level}_rate"] = float(labels[members].mean()) if count else 0.0
        metrics[f"level_{level}_mean_score"] = float(scores[members].mean()) if count else 0.0
    return metrics
