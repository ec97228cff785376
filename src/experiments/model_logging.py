"""Logging an ONNX model to the active MLflow run, the way ``registry`` and ``serving`` expect it.

The model is logged with MLflow's ONNX flavour as one self-contained ``model.onnx`` (no external
data files), a tensor signature read from the ONNX graph itself (so ``mlflow models serve`` accepts
``{"inputs": [[...], ...]}`` and answers ``label`` and ``probabilities``), an input example,
explicit pip requirements (MLflow otherwise spends seconds inferring them), CPU execution, and
``warehouse_model.json`` as an extra file, with the explainer's LightGBM text model beside it when
the algorithm has one (serving loads it for reason codes; it is never a pickle).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from algorithms.base import EXPLAINER_ARTIFACT_PATH, METADATA_ARTIFACT_PATH, MODEL_ARTIFACT_NAME, ModelMetadata

if TYPE_CHECKING:
    import onnx
    from mlflow.models import ModelSignature
    from mlflow.types import TensorSpec

    from warehouse.settings import Settings

ONNX_RUNTIME_PACKAGES = ("onnx", "onnxruntime")


@dataclass(frozen=True)
class LoggedModel:
    """Where a logged model lives."""

    run_id: str
    model_id: str
    model_uri: str


def log_onnx_model(
    settings: Settings,
    onnx_model: onnx.ModelProto,
    metadata: ModelMetadata,
    *,
    input_example: npt.NDArray[np.float32],
    explainer_text: str | None = None,
) -> LoggedModel:
    """Log ``onnx_model`` with its metadata card (and the explainer text model, if any) to the active run."""
    import mlflow.onnx

    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.runtime_dir, prefix="model-card-") as staging:
        card = Path(staging) / Path(METADATA_ARTIFACT_PATH).name
        metadata.write(card)
        extra_files = [str(card)]
        if explainer_text is not None:
            explainer = Path(staging) / Path(EXPLAINER_ARTIFACT_PATH).name
            explainer.write_text(explainer_text, encoding="utf-8")
            extra_files.append(str(explainer))
        info = mlflow.onnx.log_model(
            onnx_model,
            name=MODEL_ARTIFACT_NAME,
            signature=onnx_signature(onnx_model),
            # NaN is not JSON: the example shows missing values as 0.
            input_example=np.nan_to_num(input_example, nan=0.0),
            pip_requirements=[f"{package}=={version(package)}" for package in ONNX_RUNTIME_PACKAGES],
            save_as_external_data=False,
            onnx_execution_providers=["CPUExecutionProvider"],
            extra_files=extra_files,
        )
    return LoggedModel(run_id=metadata.run_id, model_id=str(info.model_id), model_uri=str(info.model_uri))


def onnx_signature(onnx_model: onnx.ModelProto) -> ModelSignature:
    """A tensor signature with the graph's input and output names, dtypes and shapes (-1 = any)."""
    from mlflow.models import ModelSignature
    from mlflow.types import Schema

    return ModelSignature(
        inputs=Schema([_tensor_spec(value) for value in onnx_model.graph.input]),
        outputs=Schema([_tensor_spec(value) for value in onnx_model.graph.output]),
    )


def _tensor_spec(value: onnx.ValueInfoProto) -> TensorSpec:
    from mlflow.types import TensorSpec
    from onnx.helper import tensor_dtype_to_np_dtype

    tensor = value.type.tensor_type
    shape = tuple(dim.dim_value if dim.HasField("dim_value") else -1 for dim in tensor.shape.dim)
    return TensorSpec(tensor_dtype_to_np_dtype(tensor.elem_type), shape, value.name)
