"""Model runtime: one ONNX Runtime session per registered model version.

A :class:`OnnxModel` is built cheaply from a fetched artifact (no I/O), opened with :meth:`load`, and
then scores feature frames in the column order its metadata records. The batch executor uses this
same class, so online and batch scores of one version are identical. Never unpickles anything.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from warehouse.errors import InvalidRequest, ModelNotReady

if TYPE_CHECKING:
    import onnxruntime as ort
    import pandas as pd

    from algorithms.base import Grades, ModelMetadata
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
        if self._session is None:
            raise ModelNotReady(f"model {self.metadata.model_name} v{self.version} is not loaded")
        missing = [name for name in self.metadata.feature_names if name not in features.columns]
        if missing:
            raise InvalidRequest(f"missing features: {', '.join(missing)}")
        matrix = features[self.metadata.feature_names].to_numpy(dtype=np.float32, na_value=np.nan)
        (output,) = self._session.run([self.metadata.onnx_output], {self.metadata.onnx_input: matrix})
        probabilities = np.asarray(output, dtype=np.float64)
        if probabilities.ndim == 2:
            probabilities = probabilities[:, self.metadata.positive_class_index]
        return probabilities

    def score(self, features: pd.DataFrame) -> Scores:
        """Probabilities and their grading (levels, warning flags) from the model card."""
        probabilities = self.predict_proba(features)
        return Scores(probabilities=probabilities, grades=self.metadata.grading.grade(probabilities))
