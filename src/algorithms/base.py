"""The algorithm contract, and the metadata written next to every logged model.

An :class:`Algorithm` knows its entity, feature service and label, how to fit a model on a training
frame, how to export the fitted model to ONNX, and how to turn hold-out scores into a
:class:`GradingPolicy`. Everything that serves a model reads :class:`ModelMetadata`
(``warehouse_model.json``) instead of importing the algorithm's training libraries: serving needs
the ONNX file and this card, nothing else.

Algorithms are stateless: one instance is shared by every caller in a process. Heavy libraries
(LightGBM, ONNX, ONNX Runtime) are imported inside the methods that use them.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from algorithms.grading import Grades, GradingPolicy
from algorithms.search_space import ParamValue, SearchSpace
from warehouse.errors import DataValidationError, ModelIntegrityError

if TYPE_CHECKING:
    import onnx

__all__ = [
    "EXPLAINER_ARTIFACT_PATH",
    "METADATA_ARTIFACT_PATH",
    "MODEL_ARTIFACT_NAME",
    "ONNX_FILE_NAME",
    "TIMESTAMP_COLUMN",
    "Algorithm",
    "FittedModel",
    "Grades",
    "GradingPolicy",
    "ModelMetadata",
    "ParamValue",
    "SearchSpace",
    "Task",
]

Task = Literal["binary", "regression"]

TIMESTAMP_COLUMN = "event_timestamp"
"""Event-time column of every training set (Feast's convention): one row per entity and snapshot."""

MODEL_ARTIFACT_NAME = "model"
"""Name of the ONNX model logged in each training run (the ``name`` given to ``log_model``)."""

ONNX_FILE_NAME = "model.onnx"
"""The ONNX file inside a logged model's directory (MLflow's ONNX flavour)."""

METADATA_ARTIFACT_PATH = "extra_files/warehouse_model.json"
"""Where :class:`ModelMetadata` lies inside a logged model's directory (MLflow's ``extra_files``)."""

EXPLAINER_ARTIFACT_PATH = "extra_files/explainer_model.txt"
"""Where the explainer (a LightGBM text model, never a pickle) lies inside a logged model's directory."""


@dataclass(frozen=True)
class FittedModel:
    """What :meth:`Algorithm.fit` returns: the library's fitted estimator and its input columns."""

    estimator: object
    """The fitted estimator; only the algorithm that made it looks inside."""

    feature_names: tuple[str, ...]
    """Feature columns in the order the estimator (and its ONNX export) takes them."""


class Algorithm(ABC):
    """A trainable, ONNX-exportable model family with its grading rule.

    Subclasses set the class attributes and implement the four abstract methods; third-party
    packages expose them through the ``warehouse.algorithms`` entry-point group.
    """

    name: ClassVar[str]
    """Short name: the entry-point name, the MLflow experiment and the registered model name."""

    entity: ClassVar[str]
    """Join key of the population scored, e.g. ``building_id``."""

    feature_service: ClassVar[str]
    """Feast feature service that feeds the model."""

    label: ClassVar[str]
    """Target column of the training set."""

    task: ClassVar[Task]
    """Kind of prediction."""

    onnx_input: ClassVar[str] = "input"
    """Name of the ONNX model's single float32 input tensor, shape ``[N, len(feature_names)]``."""

    onnx_output: ClassVar[str] = "probabilities"
    """Name of the ONNX output holding class probabilities, shape ``[N, classes]``."""

    positive_class_index: ClassVar[int] = 1
    """Column of :attr:`onnx_output` that holds the positive class."""

    default_grading: ClassVar[GradingPolicy]
    """Grading used by :meth:`grade` when no trained model card supplies one."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def default_params(self) -> dict[str, ParamValue]:
        """Hyper-parameters used when the caller overrides none."""
        return {}

    def search_space(self) -> SearchSpace:
        """What a hyper-parameter search may vary (``warehouse train --search N``); empty: no search."""
        return SearchSpace()

    def feature_columns(self, frame: pd.DataFrame) -> list[str]:
        """The model inputs of a training frame: every column but the entity, timestamp and label."""
        keys = {self.entity, TIMESTAMP_COLUMN, self.label}
        columns = [str(column) for column in frame.columns if column not in keys]
        not_numeric = [
            column
            for column in columns
            if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column])
        ]
        if not_numeric:
            raise DataValidationError(f"feature columns must be numeric, these are not: {', '.join(not_numeric)}")
        if not columns:
            raise DataValidationError(f"the training frame holds no feature column besides {sorted(keys)}")
        return columns

    @staticmethod
    def feature_matrix(frame: pd.DataFrame, feature_names: Sequence[str]) -> npt.NDArray[np.float32]:
        """The float32 matrix the ONNX model takes (missing values as NaN), columns in model order."""
        return frame[list(feature_names)].to_numpy(dtype=np.float32, na_value=np.nan)

    @abstractmethod
    def fit(self, train: pd.DataFrame, params: Mapping[str, ParamValue]) -> FittedModel:
        """Fit a model on ``train`` (features, entity, timestamp and label columns)."""

    @abstractmethod
    def predict_proba(self, model: FittedModel, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Positive-class probability of every row, computed by the training library itself."""

    @abstractmethod
    def to_onnx(self, model: FittedModel, sample: pd.DataFrame) -> onnx.ModelProto:
        """The fitted model as ONNX: input :attr:`onnx_input`, probabilities in :attr:`onnx_output`."""

    @abstractmethod
    def derive_grading(self, holdout_scores: npt.NDArray[np.float64]) -> GradingPolicy:
        """The grading policy of a newly trained model, from its scores on the hold-out set."""

    def feature_importance(self, model: FittedModel) -> dict[str, float]:
        """Importance of each feature to the fitted model (empty where the family has none)."""
        return {}

    def explainer_text(self, model: FittedModel) -> str | None:
        """A text model that computes exact per-feature contributions for reason codes; None if unsupported."""
        return None

    def grade(self, scores: npt.ArrayLike, policy: GradingPolicy | None = None) -> Grades:
        """Levels and warning flags of ``scores`` under ``policy`` (default: :attr:`default_grading`)."""
        return (policy or self.default_grading).grade(scores)

    def onnx_predict_proba(
        self, onnx_model: onnx.ModelProto, frame: pd.DataFrame, feature_names: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        """Positive-class probability of every row, computed by ONNX Runtime from ``onnx_model``."""
        import onnxruntime as ort

        session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
        (output,) = session.run([self.onnx_output], {self.onnx_input: self.feature_matrix(frame, feature_names)})
        return np.asarray(output, dtype=np.float64)[:, self.positive_class_index]


class ModelMetadata(BaseModel):
    """The model card the serving runtime reads: how to feed the ONNX model and grade its output."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    format_version: Literal[1] = 1
    """Version of this file's layout."""

    algorithm: str
    """Algorithm (entry-point name) that trained the model."""

    model_name: str
    """Registered model name the model was trained for."""

    entity: str
    """Join key of the scored population."""

    feature_service: str
    """Feast feature service that supplies the features online and in batch."""

    feature_names: list[str]
    """Model inputs, in the column order of the ONNX input tensor (a list: it indexes DataFrames)."""

    label: str
    """Target column the model was trained on."""

    task: Task
    """Kind of prediction."""

    grading: GradingPolicy
    """Levels, thresholds and warning levels derived at training time."""

    onnx_input: str
    """Name of the ONNX input tensor (float32, ``[N, len(feature_names)]``, NaN = missing)."""

    onnx_output: str
    """Name of the ONNX output holding class probabilities (float32, ``[N, classes]``)."""

    positive_class_index: int = Field(ge=0)
    """Column of ``onnx_output`` that holds the positive class."""

    onnx_sm3: str
    """SM3 hex digest of the ``model.onnx`` bytes, checked whenever the model is fetched."""

    explainer_sm3: str | None = None
    """SM3 hex digest of the explainer text model (LightGBM), checked before it is loaded; None: no reasons."""

    metrics: dict[str, float]
    """Hold-out metrics of the training run."""

    params: dict[str, ParamValue]
    """Hyper-parameters the model was fitted with."""

    training_data_digest: str
    """SM3 hex digest of the canonical CSV of the whole training set."""

    run_id: str
    """MLflow run that trained and logged the model."""

    seed: int
    """Seed of the split and the fit."""

    trained_at: dt.datetime
    """When the training run logged the model (UTC)."""

    def write(self, path: Path) -> None:
        """Write the card as indented JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> ModelMetadata:
        """Read and validate a card; a missing or invalid card is an integrity error."""
        try:
            return cls.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ModelIntegrityError(f"model metadata {path.name} is unreadable or invalid: {exc}") from exc
