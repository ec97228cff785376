"""The Open Inference Protocol v2 data plane: model metadata, readiness and inference, without HTTP.

A model is addressed by its registered name (``fire_risk``) and optionally a version, which may be
a version number or an alias (``champion``, ``challenger``); no version means the champion. The one
input is the model's float32 feature matrix ``[rows, features]`` in the order the metadata lists;
outputs are ``probability`` (FP64), ``level`` (BYTES) and ``warning`` (BOOL), the same numbers
``/v1/score`` answers for the same features. Every bad tensor raises :class:`InvalidTensor` (400);
values that break the feature service's inference schema (a null where a feature is required, a
value out of range) raise :class:`DataValidationError` (422) naming column, rule and rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from serving.metrics import ServingMetrics
from serving.repository import DEFAULT_ALIAS
from serving.v2_schemas import (
    InferenceRequest,
    InferenceResponse,
    MetadataTensor,
    ModelMetadataResponse,
    ModelReadyResponse,
    RequestInput,
    ResponseOutput,
)
from warehouse.errors import InvalidRequest, InvalidTensor, ModelNotFound

if TYPE_CHECKING:
    from pydantic import JsonValue

    from serving.repository import ModelRepository
    from serving.runtime import OnnxModel, Scores
    from warehouse.settings import Settings

PLATFORM = "onnxruntime"
INPUT_DATATYPES = {"FP32": np.float32, "FP64": np.float64}
"""Accepted input datatypes; FP64 values are narrowed to the model's float32, as ``/v1`` does."""
_LARGEST_INT = 2**1000
"""Integers beyond this do not fit a float; they are refused rather than overflowing."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_VERSION = re.compile(r"[0-9]{1,18}|[A-Za-z][A-Za-z0-9_-]{0,99}")

OutputBuilder = Callable[["Scores"], tuple[str, list["JsonValue"]]]
OUTPUTS: dict[str, OutputBuilder] = {
    "probability": lambda scores: ("FP64", list(scores.probabilities.tolist())),
    "level": lambda scores: ("BYTES", list(scores.grades.levels.tolist())),
    "warning": lambda scores: ("BOOL", list(scores.grades.warnings.tolist())),
}
"""Every output a model answers: name -> (datatype, values of a scored batch)."""


class InferenceDataPlane:
    """Metadata, readiness and inference over the models a repository serves."""

    def __init__(
        self, settings: Settings, repository: ModelRepository, *, metrics: ServingMetrics | None = None
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.metrics = metrics or ServingMetrics()

    def model(self, name: str, version: str | None = None) -> OnnxModel:
        """The loaded model a name and version (number or alias; default champion) address."""
        if not _NAME.fullmatch(name):
            raise ModelNotFound(f"no registered model named {name!r}")
        if version is not None and not _VERSION.fullmatch(version):
            raise ModelNotFound(f"model {name!r} has no version or alias {version!r}")
        return self.repository.get(name, version or DEFAULT_ALIAS)

    def model_metadata(self, name: str, version: str | None = None) -> ModelMetadataResponse:
        """Name, servable versions, platform and tensor metadata of a model version."""
        model = self.model(name, version)
        features = model.metadata.feature_names
        return ModelMetadataResponse(
            name=name,
            versions=servable_versions(self.settings, name),
            platform=PLATFORM,
            inputs=[MetadataTensor(name=model.metadata.onnx_input, datatype="FP32", shape=[-1, len(features)])],
            outputs=[
                MetadataTensor(name=output, datatype=datatype, shape=[-1])
                for output, datatype in (("probability", "FP64"), ("level", "BYTES"), ("warning", "BOOL"))
            ],
            parameters={"version": model.version, "feature_names": list(features)},
        )

    def model_ready(self, name: str, version: str | None = None) -> ModelReadyResponse:
        """Whether the model version is loaded (it is loaded on first use, as inference would)."""
        return ModelReadyResponse(name=name, ready=self.model(name, version).ready)

    def infer(self, name: str, version: str | None, request: InferenceRequest) -> InferenceResponse:
        """Score the request's feature matrix and answer the requested outputs."""
        model = self.model(name, version)
        matrix = self.input_matrix(model, request.inputs)
        wanted = _requested_outputs(request)
        with self.metrics.time_inference(name, model.version):
            scores = model.score_matrix(matrix)
        outputs = []
        for output in wanted:
            datatype, data = OUTPUTS[output](scores)
            outputs.append(ResponseOutput(name=output, shape=[matrix.shape[0]], datatype=datatype, data=data))
        return InferenceResponse(model_name=name, model_version=model.version, id=request.id, outputs=outputs)

    def input_matrix(self, model: OnnxModel, inputs: Sequence[RequestInput]) -> npt.NDArray[np.float32]:
        """The model's float32 matrix from the one input tensor; anything else is an :class:`InvalidTensor`."""
        expected = model.metadata.onnx_input
        n_features = len(model.metadata.feature_names)
        if len(inputs) != 1 or inputs[0].name != expected:
            names = ", ".join(repr(tensor.name) for tensor in inputs)
            raise InvalidTensor(f"expected exactly one input named {expected!r}, got {names}")
        tensor = inputs[0]
        if tensor.datatype not in INPUT_DATATYPES:
            raise InvalidTensor(f"input {expected!r} must be FP32 or FP64, got {tensor.datatype!r}")
        if len(tensor.shape) != 2 or tensor.shape[1] != n_features or tensor.shape[0] < 1:
            raise InvalidTensor(f"input {expected!r} must have shape [rows >= 1, {n_features}], got {tensor.shape}")
        rows = tensor.shape[0]
        limit = self.settings.max_entities_per_request
        if rows > limit:
            raise InvalidRequest(f"{rows} rows in one request; the limit is {limit}")
        values = _flatten(tensor.data, expected)
        if len(values) != rows * n_features:
            raise InvalidTensor(f"input {expected!r} has shape {tensor.shape} but {len(values)} values")
        matrix = np.array(values, dtype=INPUT_DATATYPES[tensor.datatype]).reshape(rows, n_features)
        from features.schemas import inference_check

        # Columns are the metadata's feature names, so the inference schema's value rules apply (422 if broken).
        inference_check(model.metadata.feature_service, tuple(model.metadata.feature_names)).check(matrix)
        return matrix.astype(np.float32, copy=False)


def _flatten(data: Sequence[JsonValue], name: str) -> list[float]:
    """Row-major numbers of flat or nested data; null is a missing value (NaN)."""
    values: list[float] = []
    # Iterative, so that deeply nested data is a 400 rather than a RecursionError.
    pending: list[tuple[Sequence[JsonValue], int]] = [(data, 0)]
    while pending:
        items, start = pending.pop()
        for position in range(start, len(items)):
            item = items[position]
            if isinstance(item, list):
                pending.append((items, position + 1))
                pending.append((item, 0))
                break
            if item is None:
                values.append(math.nan)
            elif isinstance(item, float):
                values.append(item)
            elif isinstance(item, int) and not isinstance(item, bool) and abs(item) < _LARGEST_INT:
                values.append(float(item))
            else:
                raise InvalidTensor(f"input {name!r} holds a non-numeric value {item!r}")
    return values


def _requested_outputs(request: InferenceRequest) -> list[str]:
    if not request.outputs:
        return list(OUTPUTS)
    unknown = [output.name for output in request.outputs if output.name not in OUTPUTS]
    if unknown:
        raise InvalidTensor(f"unknown outputs {unknown}; this model answers {list(OUTPUTS)}")
    return list(dict.fromkeys(output.name for output in request.outputs))


def servable_versions(settings: Settings, model_name: str) -> list[str]:
    """Versions of a model that are approved or published, in number order."""
    from sqlalchemy import select

    from registry.store import SERVABLE_STATES, VersionRecord, governance_session

    query = select(VersionRecord.version).where(
        VersionRecord.model_name == model_name, VersionRecord.state.in_([str(state) for state in SERVABLE_STATES])
    )
    with governance_session(settings) as session:
        versions = list(session.scalars(query))
    return sorted(versions, key=lambda version: (len(version), version))
