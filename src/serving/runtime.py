"""Model runtime: one ONNX Runtime session per registered model version.

A :class:`OnnxModel` is built cheaply from a fetched artifact (no I/O), opened with :meth:`load`, and
then scores float32 matrices whose columns are in the order its metadata records. Online requests
build that matrix straight from their rows while checking them against the inference schema
(``features.schemas.inference_check``, no DataFrame on the hot path); the batch executor passes
frames (:meth:`OnnxModel.score`), which become the same matrix, so online and batch scores of one
version are identical. Never unpickles anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from warehouse.errors import ExplanationUnavailable, InvalidRequest, ModelIntegrityError, ModelNotReady

if TYPE_CHECKING:
    from collections.abc import Mapping

    import onnxruntime as ort
    import pandas as pd
    from lightgbm import Booster

    from algorithms.base import Grades, ModelMetadata
    from algorithms.reasons import ReasonCode
    from registry.models import ModelArtifact

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    """Scores of a batch of rows with their grading."""

    probabilities: np.ndarray
    grades: Grades


class OnnxModel:
    """A registered model version served from its ONNX artifact."""

    def __init__(self, artifact: ModelArtifact, *, intra_op_threads: int = 1) -> None:
        self.artifact = artifact
        self.metadata: ModelMetadata = artifact.metadata
        self.version: str = artifact.ref.version
        self._intra_op_threads = intra_op_threads
        self._session: ort.InferenceSession | None = None
        self._explainer: Booster | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """True once the ONNX session is open."""
        return self._session is not None

    def load(self) -> None:
        """Open the ONNX Runtime session (idempotent)."""
        import onnxruntime as ort

        with self._lock:
            if self._session is not None:
                return
            options = ort.SessionOptions()
            # One thread per session: request-level parallelism comes from the server, not the op.
            options.intra_op_num_threads = self._intra_op_threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                str(self.artifact.onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        logger.info("loaded %s version %s", self.metadata.model_name, self.version)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Positive-class probability of each row; ``features`` must hold every model feature."""
        return self.predict_matrix(self.feature_matrix(features))

    def predict_matrix(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Positive-class probability of each row of a float32 matrix in model feature order."""
        if self._session is None:
            raise ModelNotReady(f"model {self.metadata.model_name} v{self.version} is not loaded")
        (output,) = self._session.run([self.metadata.onnx_output], {self.metadata.onnx_input: matrix})
        probabilities = np.asarray(output, dtype=np.float64)
        if probabilities.ndim == 2:
            probabilities = probabilities[:, self.metadata.positive_class_index]
        return probabilities

    def feature_matrix(self, features: pd.DataFrame) -> npt.NDArray[np.float32]:
        """The float32 model input (NaN = missing), columns in model order; every feature must be present."""
        missing = [name for name in self.metadata.feature_names if name not in features.columns]
        if missing:
            raise InvalidRequest(f"missing features: {', '.join(missing)}")
        matrix: npt.NDArray[np.float32] = features[self.metadata.feature_names].to_numpy(
            dtype=np.float32, na_value=np.nan
        )
        return matrix

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Exact per-feature contributions in log-odds ``[N, F + 1]`` (last column: expected value)."""
        return self.contributions_matrix(self.feature_matrix(features))

    def contributions_matrix(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Exact per-feature contributions of a model-order matrix (see :meth:`contributions`)."""
        from algorithms.reasons import contributions

        return contributions(self._load_explainer(), matrix)

    def top_reasons(self, features: pd.DataFrame, descriptions: Mapping[str, str]) -> list[list[ReasonCode]]:
        """The top reason codes of every row, largest absolute contribution first (batch alerts use this)."""
        from algorithms.reasons import top_reasons

        matrix = self.feature_matrix(features)
        return top_reasons(self.contributions_matrix(matrix), matrix, self.metadata.feature_names, descriptions)

    def _load_explainer(self) -> Booster:
        """The explainer's LightGBM text model, SM3-checked and loaded once, on first use (never unpickled)."""
        from algorithms.base import EXPLAINER_ARTIFACT_PATH
        from algorithms.reasons import load_explainer
        from warehouse.security import sm3_hex

        with self._lock:
            if self._explainer is not None:
                return self._explainer
            expected = self.metadata.explainer_sm3
            path = self.artifact.directory / EXPLAINER_ARTIFACT_PATH
            if expected is None or not path.is_file():
                raise ExplanationUnavailable(f"{self.metadata.model_name} v{self.version} was logged without reasons")
            text = path.read_bytes()
            if sm3_hex(text) != expected:
                raise ModelIntegrityError(
                    f"explainer of {self.metadata.model_name} v{self.version} fails its SM3 check"
                )
            self._explainer = load_explainer(text.decode("utf-8"))
            return self._explainer

    def score(self, features: pd.DataFrame) -> Scores:
        """Probabilities and their grading (levels, warning flags) from the model card."""
        return self.score_matrix(self.feature_matrix(features))

    def score_matrix(self, matrix: npt.NDArray[np.float32]) -> Scores:
        """Probabilities and grading of a float32 matrix in model feature order."""
        probabilities = self.predict_matrix(matrix)
        return Scores(probabilities=probabilities, grades=self.metadata.grading.grade(probabilities))
