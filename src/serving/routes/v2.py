"""Open Inference Protocol v2: server health and metadata.

Health answers carry JSON bodies (``{"live": true}``, ``{"ready": true}``) because the KServe client
reads the body, not only the status code. Health is open to anyone; server metadata needs a key.
"""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from serving.dependencies import RepositoryDep
from warehouse.auth import require
from warehouse.permissions import Permission

router = APIRouter(prefix="/v2", tags=["open inference protocol v2"])


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
    return ServerMetadata(name="algorithm-warehouse", version=version("algorithm-warehouse"), extensions=[])
