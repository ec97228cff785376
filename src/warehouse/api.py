"""The FastAPI app factory: the one HTTP app that every serving engine runs.

``create_app(settings)`` builds the app without I/O; the lifespan loads the published models in a
background thread so that ``/v2/health/ready`` answers 503 until they are in. Every error leaves as
``{"error": {"code", "message"}}``. Every route but health and the OpenAPI documents needs an API key
and declares its permission (:mod:`warehouse.auth`); an app with an undeclared route is refused.
Start it with ``uvicorn --factory warehouse.api:create_app``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry import routes as registry_routes
from scheduling import routes as scheduling_routes
from serving.limits import RequestLimitsMiddleware
from serving.metrics import MetricsMiddleware, ServingMetrics
from serving.repository import ModelRepository
from serving.routes import comparison, metrics, native, v2
from serving.scoring import ScoringService
from warehouse import identity_routes
from warehouse.auth import check_declared_permissions, render_access_denied
from warehouse.errors import AccessDenied, WarehouseError
from warehouse.identity import IdentityStore
from warehouse.library_env import apply_library_defaults
from warehouse.logs import configure_logging
from warehouse.paths import app_path
from warehouse.sessions import SessionSigner
from warehouse.settings import Settings, get_settings
from warehouse.webconsole import mount_console
from warehouse.webconsole.rendering import is_console_page, render_refusal

if TYPE_CHECKING:
    from serving.repository import ModelOpener

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, open_model: ModelOpener | None = None) -> FastAPI:
    """Build the warehouse's HTTP app for ``settings`` (default: from the environment).

    ``open_model`` decides where a served version runs (default: ONNX Runtime in this process; the
    Ray engine's ingress passes one that calls its model deployment).
    """
    settings = settings or get_settings()
    apply_library_defaults()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="Algorithm warehouse",
        summary="Scoring, registry and scheduling API of the algorithm warehouse (一网统管).",
        version="0.1.0",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.repository = ModelRepository(settings, open_model=open_model)
    app.state.metrics = ServingMetrics(app.state.repository)  # one registry per app, never the global one
    app.state.scoring = ScoringService(settings, app.state.repository, metrics=app.state.metrics)
    app.state.identity = IdentityStore(settings)
    app.state.repository.on_revision(app.state.identity.note_revision)  # callers are cached per revision
    app.state.classifications = app.state.repository.classifications  # cleared with each governance change
    app.state.session_signer = SessionSigner(settings)
    app.add_exception_handler(WarehouseError, _render_warehouse_error)  # type: ignore[arg-type]  # Starlette types handlers loosely
    app.add_exception_handler(AccessDenied, _render_access_denied)  # type: ignore[arg-type]  # audits every refusal
    app.add_exception_handler(RequestValidationError, _render_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _render_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _render_unexpected_error)
    routers = (native, v2, metrics, comparison, registry_routes, scheduling_routes, identity_routes)
    for router in (module.router for module in routers):
        app.include_router(router)
    mount_console(app)
    check_declared_permissions(app)
    app.add_middleware(
        RequestLimitsMiddleware,
        max_request_bytes=settings.max_request_bytes,
        request_timeout_s=settings.request_timeout_s,
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: it also counts 413 and 504
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    # Loading runs beside the server so that readiness is observable (503 until loaded).
    loading = loop.run_in_executor(None, _warm_up, app)
    yield
    app.state.repository.stop_watching()
    await loop.run_in_executor(None, app.state.scoring.comparisons.stop)  # writes what is queued first
    app.state.identity.close()
    if not loading.done():
        logger.info("shutting down while models are still loading")


def _warm_up(app: FastAPI) -> None:
    repository: ModelRepository = app.state.repository
    scoring: ScoringService = app.state.scoring
    try:
        # First, so that suspensions and alias moves reach this server without a restart even while
        # the feature store warms up (requests with inline features are served meanwhile).
        repository.start_watching()
        scoring.feature_store()
        repository.load_champions()
    except Exception:
        logger.exception("warm-up failed; the server stays not ready")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _render_warehouse_error(_request: Request, exc: WarehouseError) -> JSONResponse:
    return JSONResponse(exc.to_body(), status_code=exc.status)


async def _render_access_denied(request: Request, exc: AccessDenied) -> Response:
    if is_console_page(app_path(request)):
        return await render_refusal(request, exc)  # a page: sign in again, or a 403 page
    return await render_access_denied(request, exc)


async def _render_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors())
    return _error(422, "invalid_request", problems or "invalid request")


async def _render_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed"}
    return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))


async def _render_unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    return _error(500, "internal_error", "internal error; the server log has the details")
