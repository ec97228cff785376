"""Hold-out metrics of a binary risk model, including how well its early-warning flag works.

Ranking (ROC-AUC, PR-AUC), calibration (Brier score, log loss, mean score against the base rate)
and the warning flag's precision, recall and share of the population. Every value is a plain
``float`` so it can be logged to MLflow and written into the model card.
"""

from __future__ import annotations

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
