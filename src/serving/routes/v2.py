"""Open Inference Protocol v2: server and model health, model metadata, inference.

Only HTTP lives here; :mod:`serving.dataplane` holds the logic. Health answers carry JSON bodies
(``{"live": true}``, ``{"ready": true}``) because the KServe client reads the body, not only the
status code. Every error on these routes leaves in the protocol's shape, ``{"error": "<message>"}``,
with the status of the warehouse error behind it (404 unknown model or version, 400 bad tensor or
bad body, 422 too many rows or values that break the inference schema, 503 not loaded). Refusals
of a caller (401, 403) are audited like any other and say their code first
(``{"error": "forbidden: ..."}``). Health is open; metadata, readiness and inference need the
``score`` permission, a grant (role ``app``) and a clearance of at least the model's highest
classification.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from importlib.metadata import version as package_version
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.dataplane import InferenceDataPlane
from serving.dependencies import MetricsDep, RepositoryDep, SettingsDep
from serving.v2_schemas import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadataResponse,
    ModelReadyResponse,
    ProtocolError,
)
from warehouse.auth import render_access_denied, require, require_model_access
from warehouse.errors import AccessDenied, WarehouseError
from warehouse.identity import Caller
from warehouse.permissions import Permission

BINARY_HEADER = "inference-header-content-length"
"""Set by clients that append binary tensor data after the JSON header (not supported here)."""


class ProtocolErrorRoute(APIRoute):
    """A route whose errors are rendered as the protocol's ``{"error": "<message>"}``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The default handler, with warehouse and validation errors turned into protocol errors."""
        handler = super().get_route_handler()

        async def protocol_handler(request: Request) -> Response:
            if BINARY_HEADER in request.headers:
                message = "the binary tensor extension is not supported; send tensors as JSON data"
                return JSONResponse({"error": message}, status_code=400)
            try:
                return await handler(request)
            except StarletteHTTPException as exc:
                return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)
            except AccessDenied as exc:
                # Audited like every refusal; the body keeps the protocol's string shape that clients parse.
                refusal = await render_access_denied(request, exc)
                challenge = {"WWW-Authenticate": refusal.headers["www-authenticate"]} if exc.status == 401 else None
                return JSONResponse({"error": f"{exc.code}: {exc.message}"}, status_code=exc.status, headers=challenge)
            except WarehouseError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            except RequestValidationError as exc:
                return JSONResponse({"error": _validation_message(exc)}, status_code=400)

        return protocol_handler


def _validation_message(exc: RequestValidationError) -> str:
    problems = "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors())
    return problems or "invalid request"


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ProtocolError, "description": description}
    for status, description in (
        (400, "Bad tensor or body"),
        (404, "Unknown model or version"),
        (422, "Too many rows, or values that break the inference schema"),
        (503, "Model not loaded"),
    )
}

# The Triton client posts JSON without a content-type header: parse such bodies as JSON too.
router = APIRouter(
    prefix="/v2", tags=["open inference protocol v2"], route_class=ProtocolErrorRoute, strict_content_type=False
)


ModelName = Annotated[str, Path(max_length=200, description="Registered model name, e.g. fire_risk.")]
ModelVersion = Annotated[str, Path(max_length=100, description="Version number or alias (champion, challenger).")]


async def get_dataplane(
    name: ModelName,
    settings: SettingsDep,
    repository: RepositoryDep,
    metrics: MetricsDep,
    caller: Annotated[Caller, Depends(require(Permission.SCORE))],
) -> InferenceDataPlane:
    """The data plane over the app's model repository, once the caller may use model ``name``."""
    levels = repository.classifications
    cached = levels.cached_of_model(name)
    level = cached if cached is not None else await run_in_threadpool(levels.of_model, name)  # DB once, then cached
    require_model_access(caller, name, level)
    return InferenceDataPlane(settings, repository, metrics=metrics)


DataPlaneDep = Annotated[InferenceDataPlane, Depends(get_dataplane)]


class LiveResponse(BaseModel):
    """Server liveness."""

    live: bool


class ReadyResponse(BaseModel):
    """Server readiness: every start-up model is loaded."""

    ready: bool


class ServerMetadata(BaseModel):
    """Server metadata as the protocol defines it."""

    name: str
    version: str
    extensions: list[str]


@router.get("/health/live", response_model=LiveResponse)
def live() -> LiveResponse:
    """The process answers."""
    return LiveResponse(live=True)


@router.get("/health/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
def ready(repository: RepositoryDep) -> JSONResponse:
    """200 once the published models are loaded, 503 before."""
    is_ready = repository.ready
    return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)


@router.get("", response_model=ServerMetadata, dependencies=[Depends(require(Permission.SERVER_READ))])
def server_metadata() -> ServerMetadata:
    """Name, version and protocol extensions of this server."""
    return ServerMetadata(name="algorithm-warehouse", version=package_version("algorithm-warehouse"), extensions=[])


@router.get("/models/{name}", response_model=ModelMetadataResponse, responses=ERRORS)
def model_metadata(name: ModelName, dataplane: DataPlaneDep) -> ModelMetadataResponse:
    """Metadata of a model's champion: versions, platform, input and output tensors."""
    return dataplane.model_metadata(name)


@router.get("/models/{name}/versions/{version}", response_model=ModelMetadataResponse, responses=ERRORS)
def model_version_metadata(name: ModelName, version: ModelVersion, dataplane: DataPlaneDep) -> ModelMetadataResponse:
    """Metadata of a model version (a version number or an alias)."""
    return dataplane.model_metadata(name, version)


@router.get("/models/{name}/ready", response_model=ModelReadyResponse, responses=ERRORS)
def model_ready(name: ModelName, dataplane: DataPlaneDep) -> ModelReadyResponse:
    """200 when the model's champion is loaded (loading it on first use)."""
    return dataplane.model_ready(name)


@router.get("/models/{name}/versions/{version}/ready", response_model=ModelReadyResponse, responses=ERRORS)
def model_version_ready(name: ModelName, version: ModelVersion, dataplane: DataPlaneDep) -> ModelReadyResponse:
    """200 when the model version is loaded (loading it on first use)."""
    return dataplane.model_ready(name, version)


@router.post("/models/{name}/infer", response_model=InferenceResponse, responses=ERRORS)
async def infer(name: ModelName, body: InferenceRequest, dataplane: DataPlaneDep) -> InferenceResponse:
    """Score the feature matrix with the model's champion."""
    return await run_in_threadpool(dataplane.infer, name, None, body)  # one hop: the answer is checked on the loop


@router.post("/models/{name}/versions/{version}/infer", response_model=InferenceResponse, responses=ERRORS)
async def infer_version(
    name: ModelName, version: ModelVersion, body: InferenceRequest, dataplane: DataPlaneDep
) -> InferenceResponse:
    """Score the feature matrix with a model version (a version number or an alias)."""
    return await run_in_threadpool(dataplane.infer, name, version, body)
