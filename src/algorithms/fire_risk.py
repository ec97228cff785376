"""Fire-risk prediction: probability that a building has a fire incident next month, and its level.

A LightGBM binary classifier on the ``fire_risk`` feature service, exported to ONNX with
onnxmltools (no ZipMap, so the probabilities come out as a plain ``[N, 2]`` float tensor). The
fitted model is a LightGBM ``Booster`` with float32-exact thresholds, so that it and its ONNX
export agree to float rounding on every row (see :mod:`algorithms.lightgbm_export`).

Choices, and why:

* Imbalance (1-3 % positives) is handled with large leaves (``min_child_samples``), shrinkage and
  bagging, *not* with ``is_unbalance`` or ``scale_pos_weight``: those distort the probabilities,
  while the Brier score, the grading thresholds and any capacity planning downstream need
  probabilities that mean what they say.
* Levels are rate-based, derived on the hold-out months: ``critical`` = top 1 % of scores,
  ``high`` = top 5 %, ``medium`` = top 20 %, ``low`` = the rest. Inspection capacity is planned as
  a share of buildings, so shares stay meaningful when the base rate drifts, and a fixed
  probability cut-off would not. ``high`` and ``critical`` raise the early-warning flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from algorithms.base import Algorithm, FittedModel, GradingPolicy, ParamValue, Task
from algorithms.lightgbm_export import float32_exact_booster
from warehouse.errors import DataValidationError

if TYPE_CHECKING:
    import onnx
    from lightgbm import Booster

LEVELS = ("low", "medium", "high", "critical")
TOP_SHARES = (0.20, 0.05, 0.01)
"""Share of hold-out scores at or above ``medium``, ``high`` and ``critical``."""
WARNING_LEVELS = ("high", "critical")
ONNX_TARGET_OPSET = 15
"""Highest default-domain opset onnxmltools 1.16 converts LightGBM to; pinned so exports are stable."""


class FireRisk(Algorithm):
    """Building fire-incident probability for next month, with a low/medium/high/critical level."""

    name: ClassVar[str] = "fire_risk"
    entity: ClassVar[str] = "building_id"
    feature_service: ClassVar[str] = "fire_risk"
    label: ClassVar[str] = "incident_next_month"
    task: ClassVar[Task] = "binary"
    default_grading: ClassVar[GradingPolicy] = GradingPolicy(
        levels=LEVELS,
        thresholds=(0.05, 0.15, 0.40),
        warning_levels=WARNING_LEVELS,
        basis="fixed probability cut-offs, used only where no trained model card is at hand",
    )

    def default_params(self) -> dict[str, ParamValue]:
        """LightGBM settings for a rare monthly event (see the module docstring)."""
        return {
            "objective": "binary",
            "n_estimators": 300,
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_child_samples": 100,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
            "max_bin": 255,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            "seed": 42,
        }

    def fit(self, train: pd.DataFrame, params: Mapping[str, ParamValue]) -> FittedModel:
        """Fit LightGBM on float32 features; the booster's thresholds are made float32-exact.

        Scoring float32 inputs, the booster then decides at every split exactly as its ONNX export
        (see :mod:`algorithms.lightgbm_export`).
        """
        from lightgbm import LGBMClassifier

        feature_names = tuple(self.feature_columns(train))
        labels = train[self.label].to_numpy(dtype=np.int64)
        if np.unique(labels).size < 2:
            raise DataValidationError(f"the training rows hold only one class of {self.label}")
        estimator = LGBMClassifier().set_params(**{**self.default_params(), **params})
        estimator.fit(_float32_frame(train, feature_names), labels)
        return FittedModel(estimator=float32_exact_booster(estimator.booster_), feature_names=feature_names)

    def predict_proba(self, model: FittedModel, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """LightGBM's own positive-class probabilities (the reference for the ONNX parity check)."""
        probabilities = _booster(model).predict(self.feature_matrix(frame, model.feature_names))
        return np.asarray(probabilities, dtype=np.float64)

    def to_onnx(self, model: FittedModel, sample: pd.DataFrame) -> onnx.ModelProto:
        """Convert with onnxmltools: input ``input`` ``[N, F]`` float32; ``label`` and ``probabilities``."""
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        missing = [name for name in model.feature_names if name not in sample.columns]
        if missing:
            raise DataValidationError(f"the sample lacks model features: {', '.join(missing)}")
        onnx_model: onnx.ModelProto = onnxmltools.convert_lightgbm(
            _booster(model),
            name=self.name,
            initial_types=[(self.onnx_input, FloatTensorType([None, len(model.feature_names)]))],
            zipmap=False,
            target_opset=ONNX_TARGET_OPSET,
        )
        _normalise_graph(onnx_model, graph_name=self.name)
        return onnx_model

    def derive_grading(self, holdout_scores: npt.NDArray[np.float64]) -> GradingPolicy:
        """critical = top 1 %, high = top 5 %, medium = top 20 % of the hold-out scores."""
        return GradingPolicy.from_top_shares(
            holdout_scores, levels=LEVELS, top_shares=TOP_SHARES, warning_levels=WARNING_LEVELS
        )


def _booster(model: FittedModel) -> Booster:
    from lightgbm import Booster

    if not isinstance(model.estimator, Booster):
        raise TypeError(f"fire_risk models are LightGBM Boosters, got {type(model.estimator).__name__}")
    return model.estimator


def _float32_frame(frame: pd.DataFrame, feature_names: tuple[str, ...]) -> pd.DataFrame:
    """Features as float32 (named columns), so that LightGBM trains on the values ONNX Runtime sees."""
    return pd.DataFrame(Algorithm.feature_matrix(frame, feature_names), columns=list(feature_names), index=frame.index)


def _normalise_graph(onnx_model: onnx.ModelProto, *, graph_name: str) -> None:
    """A fixed graph name (the converter draws a random one) and a symbolic batch dimension.

    onnxmltools declares the ``label`` output as shape ``[1]``; ONNX Runtime then warns on every
    batch, and MLflow's signature would be wrong.
    """
    onnx_model.graph.name = graph_name
    for value in (*onnx_model.graph.input, *onnx_model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
