"""Reason codes: exact per-feature contributions turned into the top-k human-readable reasons.

Contributions are LightGBM's ``pred_contrib`` (exact TreeSHAP, in log-odds): one value per feature
plus the expected value, adding up to the model's raw margin, whose sigmoid is the probability.
The explainer is LightGBM's *text* model, loaded with ``Booster(model_str=...)``: nothing is ever
unpickled. A reason reads "<feature description>: <value> (raises risk)".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from lightgbm import Booster

TOP_REASONS = 3


@dataclass(frozen=True)
class ReasonCode:
    """One feature's share of one prediction."""

    feature: str
    value: float | None
    """The feature's value (None where missing)."""
    contribution: float
    """Change of the log-odds this feature makes against the average prediction."""
    text: str


def load_explainer(model_text: str) -> Booster:
    """A LightGBM booster from its text model (no pickle)."""
    from lightgbm import Booster

    return Booster(model_str=model_text)


def contributions(explainer: Booster, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Contributions ``[N, F + 1]`` in log-odds; the last column is the expected value."""
    return np.asarray(explainer.predict(matrix, pred_contrib=True), dtype=np.float64)


def _reported_value(value: float) -> float | None:
    """The float32 model input as the decimal it stands for (7.65, not 7.650000095), None where missing."""
    return None if np.isnan(value) else float(f"{value:.7g}")


def _value_text(value: float) -> str:
    if np.isnan(value):
        return "missing"
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def reason_text(description: str, value: float, contribution: float) -> str:
    """``"<description>: <value> (raises risk)"`` or ``(lowers risk)``."""
    effect = "raises risk" if contribution > 0 else "lowers risk"
    return f"{description}: {_value_text(value)} ({effect})"


def top_reasons(
    contribution_rows: npt.NDArray[np.float64],
    matrix: npt.NDArray[np.float32],
    feature_names: Sequence[str],
    descriptions: Mapping[str, str],
    *,
    top_k: int = TOP_REASONS,
) -> list[list[ReasonCode]]:
    """The ``top_k`` features with the largest absolute contribution of each row, largest first."""
    per_feature = contribution_rows[:, : len(feature_names)]
    order = np.argsort(-np.abs(per_feature), axis=1, kind="stable")[:, :top_k]
    reasons: list[list[ReasonCode]] = []
    for row, columns in enumerate(order):
        reasons.append(
            [
                ReasonCode(
                    feature=feature_names[column],
                    value=_reported_value(float(matrix[row, column])),
                    contribution=float(per_feature[row, column]),
                    text=reason_text(
                        descriptions.get(feature_names[column], feature_names[column]),
                        float(matrix[row, column]),
                        float(per_feature[row, column]),
                    ),
                )
                for column in columns
                if per_feature[row, column] != 0.0
            ]
        )
    return reasons
