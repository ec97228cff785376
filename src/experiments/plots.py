"""Evaluation plots of a training run, logged to MLflow as artifacts: calibration, ROC, importance.

matplotlib is imported inside the functions with the non-interactive Agg backend, so nothing here
needs a display and importing the module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from experiments.evaluation import CalibrationCurve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOP_FEATURES = 20


def _figure() -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(6.0, 4.5), layout="constrained")


def calibration_figure(curve: CalibrationCurve, *, title: str) -> Figure:
    """Observed rate against mean predicted probability per score bin, with the diagonal."""
    figure = _figure()
    axes = figure.subplots()
    top = max([*curve.mean_predicted, *curve.observed_rate, 1e-3])
    axes.plot([0.0, top], [0.0, top], linestyle="--", color="grey", label="perfect")
    axes.plot(curve.mean_predicted, curve.observed_rate, marker="o", label="model")
    axes.set(xlabel="mean predicted probability", ylabel="observed rate", title=title)
    axes.legend()
    return figure


def roc_figure(labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], *, title: str) -> Figure:
    """The ROC curve with its area."""
    from sklearn.metrics import roc_auc_score, roc_curve

    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores)
    figure = _figure()
    axes = figure.subplots()
    axes.plot([0.0, 1.0], [0.0, 1.0], linestyle="--", color="grey")
    axes.plot(false_positive_rate, true_positive_rate, label=f"ROC-AUC {roc_auc_score(labels, scores):.3f}")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    axes.legend(loc="lower right")
    return figure


def importance_figure(importance: Mapping[str, float], *, title: str) -> Figure:
    """The largest feature importances as horizontal bars, largest on top."""
    top = sorted(importance.items(), key=lambda item: item[1], reverse=True)[:TOP_FEATURES][::-1]
    figure = _figure()
    axes = figure.subplots()
    axes.barh([name for name, _ in top], [value for _, value in top])
    axes.set(xlabel="total gain", title=title)
    axes.tick_params(axis="y", labelsize=7)
    return figure
