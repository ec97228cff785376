"""LightGBM binary classifiers exported to ONNX: the shared model family of the built-in algorithms.

:class:`LightGBMBinary` fits a LightGBM ``Booster`` on float32 features, makes its thresholds
float32-exact (so that it and its ONNX export agree to float rounding on every row, see
:mod:`algorithms.lightgbm_export`), converts it with onnxmltools (no ZipMap: probabilities come out
as a plain ``[N, 2]`` float tensor) and computes exact per-feature contributions (TreeSHAP, in
log-odds, via LightGBM's ``pred_contrib``). Subclasses set the class attributes, the grading, and
optionally :meth:`LightGBMBinary.monotone_constraints`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from algorithms.base import Algorithm, FittedModel, GradingPolicy, ParamValue
from algorithms.lightgbm_export import float32_exact_booster
from algorithms.search_space import FloatRange, IntRange, SearchSpace
from features.definitions import service_spec
from warehouse.errors import DataValidationError

if TYPE_CHECKING:
    import onnx
    from lightgbm import Booster

ONNX_TARGET_OPSET = 15
"""Highest default-domain opset onnxmltools 1.16 converts LightGBM to; pinned so exports are stable."""


class LightGBMBinary(Algorithm):
    """A LightGBM binary classifier with float32-exact thresholds and an ONNX export."""

    def default_params(self) -> dict[str, ParamValue]:
        """LightGBM settings for a rare monthly event (the reasoning is in :mod:`algorithms.fire_risk`)."""
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

    def search_space(self) -> SearchSpace:
        """Shrinkage, tree size, leaf size, row and column sampling, L2: the knobs that matter for rare events.

        The number of trees stays at the default; shrinkage is searched on a log scale instead.
        """
        return SearchSpace(
            dimensions={
                "learning_rate": FloatRange(low=0.02, high=0.2, log=True),
                "num_leaves": IntRange(low=7, high=63, log=True),
                "min_child_samples": IntRange(low=20, high=300, log=True),
                "subsample": FloatRange(low=0.6, high=1.0),
                "colsample_bytree": FloatRange(low=0.5, high=1.0),
                "reg_lambda": FloatRange(low=1e-3, high=10.0, log=True),
            }
        )

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
        merged = {**self.default_params(), **params}
        constraints = self.monotone_constraints(feature_names)
        if any(constraints):
            merged["monotone_constraints"] = ",".join(str(value) for value in constraints)
        estimator = LGBMClassifier().set_params(**merged)
        estimator.fit(_float32_frame(train, feature_names), labels)
        return FittedModel(estimator=float32_exact_booster(estimator.booster_), feature_names=feature_names)

    def monotone_constraints(self, feature_names: Sequence[str]) -> list[int]:
        """LightGBM monotone constraint per feature (1 up, -1 down, 0 free); none by default."""
        return [0] * len(feature_names)

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

    def contributions(self, model: FittedModel, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Exact TreeSHAP contributions in log-odds, ``[N, F + 1]`` (last column: the expected value).

        Each row sums to the model's raw margin, whose sigmoid is :meth:`predict_proba`.
        """
        matrix = self.feature_matrix(frame, model.feature_names)
        return np.asarray(_booster(model).predict(matrix, pred_contrib=True), dtype=np.float64)

    def raw_margin(self, model: FittedModel, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """The model's log-odds of every row."""
        matrix = self.feature_matrix(frame, model.feature_names)
        return np.asarray(_booster(model).predict(matrix, raw_score=True), dtype=np.float64)

    def feature_importance(self, model: FittedModel) -> dict[str, float]:
        """Total gain of the splits on each feature."""
        gains = _booster(model).feature_importance(importance_type="gain")
        return {name: float(gain) for name, gain in zip(model.feature_names, gains, strict=True)}

    def explainer_text(self, model: FittedModel) -> str | None:
        """The booster as LightGBM's text model format: loadable without unpickling, and exact."""
        return str(_booster(model).model_to_string())


def declared_directions(feature_service: str, feature_names: Sequence[str]) -> list[int]:
    """The declared direction of risk of each feature of ``feature_service`` (0 where none is declared)."""
    directions = {feature.name: feature.risk_direction for feature in service_spec(feature_service).features}
    return [int(directions.get(name, 0)) for name in feature_names]


def _booster(model: FittedModel) -> Booster:
    from lightgbm import Booster

    if not isinstance(model.estimator, Booster):
        raise TypeError(f"LightGBM algorithms fit Boosters, got {type(model.estimator).__name__}")
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


RISK_LEVELS = ("low", "medium", "high", "critical")
RISK_TOP_SHARES = (0.20, 0.05, 0.01)
"""Share of hold-out scores at or above ``medium``, ``high`` and ``critical``."""
RISK_WARNING_LEVELS = ("high", "critical")


def fixed_risk_grading(thresholds: tuple[float, float, float]) -> GradingPolicy:
    """Probability cut-offs for the four risk levels, used only where no trained model card is at hand."""
    return GradingPolicy(
        levels=RISK_LEVELS,
        thresholds=thresholds,
        warning_levels=RISK_WARNING_LEVELS,
        basis="fixed probability cut-offs, used only where no trained model card is at hand",
    )


class LevelledRiskModel(LightGBMBinary):
    """A LightGBM probability graded low / medium / high / critical by its hold-out score distribution."""

    def derive_grading(self, holdout_scores: npt.NDArray[np.float64]) -> GradingPolicy:
        """critical = top 1 %, high = top 5 %, medium = top 20 % of the hold-out scores."""
        return GradingPolicy.from_top_shares(
            holdout_scores, levels=RISK_LEVELS, top_shares=RISK_TOP_SHARES, warning_levels=RISK_WARNING_LEVELS
        )
