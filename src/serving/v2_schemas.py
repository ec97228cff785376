"""Bodies of the Open Inference Protocol v2 (``/v2``), with KServe's field names.

``InferenceRequest {id, parameters, inputs, outputs}`` and ``InferenceResponse {model_name,
model_version, id, parameters, outputs}``; tensors are ``{name, shape, datatype, data, parameters}``
with ``data`` flat (row-major) or nested. Only the JSON tensor encoding is supported.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

Parameters = dict[str, JsonValue]
"""Protocol parameters: name to a JSON value; unknown ones are accepted and ignored."""


class RequestInput(BaseModel):
    """One input tensor."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200, description="Input name, from the model metadata.")
    shape: list[int] = Field(max_length=8, description="Tensor shape, e.g. [rows, features].")
    datatype: str = Field(max_length=20, description="Tensor datatype, e.g. FP32.")
    parameters: Parameters | None = None
    data: list[JsonValue] = Field(description="Values, flat in row-major order or nested by dimension.")


class RequestOutput(BaseModel):
    """An output the caller asks for (all outputs when none is named)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    parameters: Parameters | None = None


class InferenceRequest(BaseModel):
    """An inference request."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "42", "inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [0.5, 1.0]}]}
            ]
        },
    )

    id: str | None = Field(default=None, max_length=200, description="Echoed in the response.")
    model_name: str | None = Field(
        default=None, max_length=200, description="Sent by the KServe client; the path names the model."
    )
    parameters: Parameters | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    """One output tensor."""

    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[JsonValue]


class InferenceResponse(BaseModel):
    """An inference response."""

    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class MetadataTensor(BaseModel):
    """Name, datatype and shape of an input or output (-1: any size)."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadataResponse(BaseModel):
    """Model metadata as the protocol defines it, plus the feature order under ``parameters``."""

    name: str
    versions: list[str] = Field(description="Versions that may be requested (approved or published).")
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    parameters: Parameters | None = Field(
        default=None, description="feature_names: the input's columns in order; version: the one described."
    )


class ModelReadyResponse(BaseModel):
    """Whether a model version is loaded and can infer."""

    name: str
    ready: bool


class ProtocolError(BaseModel):
    """The protocol's error body."""

    error: str
