"""The Ray engine's deployments: an ingress running the warehouse app, and the model replicas.

* ``warehouse-ingress`` wraps the one app (``warehouse.api:create_app``, built in the replica by
  ``__serve_build_asgi_app__`` so that it can hold the model deployment's handle). Routes, feature
  lookup, grading, governance and the hot-reload watcher are the app's own (``serving.scoring``,
  ``serving.repository``); only the ONNX session runs elsewhere, behind :class:`DeployedOnnxModel`.
* ``warehouse-models`` holds ONNX Runtime sessions, multiplexed by ``model/version``
  (``@serve.multiplexed``: a replica keeps a few versions, least recently used go first, and requests
  are routed to replicas that already hold theirs) and batched (``@serve.batch``). Versions whose
  ONNX file is at most ``ray_ingress_model_max_bytes`` skip it and run in the ingress replica.

This module exists to define Ray deployments, so it imports Ray at the top; only
:mod:`serving.engines.ray` (and Ray, in its replicas) imports it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from ray import serve
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.handle import DeploymentResponse

from serving.runtime import OnnxModel
from warehouse.errors import WarehouseError
from warehouse.library_env import apply_library_defaults

if TYPE_CHECKING:
    from fastapi import FastAPI
    from ray.serve import Deployment
    from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

    from registry.models import ModelArtifact
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

INGRESS_DEPLOYMENT = "warehouse-ingress"
MODELS_DEPLOYMENT = "warehouse-models"
REMOTE_CALL_TIMEOUT_S = 60.0
"""How long the ingress waits for a model replica's answer."""


def multiplexed_id(model_name: str, version: str) -> str:
    """The multiplexed model id of a version (``fire_risk/3``)."""
    return f"{model_name}/{version}"


def open_version(settings: Settings, model_id: str) -> OnnxModel:
    """Fetch, verify (state, SM3, SM2) and open the version a multiplexed id names."""
    from registry.models import fetch_model, resolve_version

    model_name, _, version = model_id.rpartition("/")
    artifact = fetch_model(settings, resolve_version(settings, model_name=model_name, alias_or_version=version))
    model = OnnxModel(artifact)
    model.load()
    return model


def _answer(call: Callable[[], DeploymentResponse[Any] | DeploymentResponseGenerator[Any]]) -> Any:
    """The answer of a model replica call, made again once if the replica died under it (every call is
    idempotent); a warehouse error raised there is raised here as itself."""
    try:
        return _result(call())
    except RayActorError:
        logger.warning("a model replica died during a call; calling another")
        return _result(call())


def _result(response: DeploymentResponse[Any] | DeploymentResponseGenerator[Any]) -> Any:
    assert isinstance(response, DeploymentResponse)  # no model replica method is a generator
    try:
        return response.result(timeout_s=REMOTE_CALL_TIMEOUT_S)
    except RayTaskError as exc:
        if isinstance(exc.cause, WarehouseError):
            raise exc.cause from None
        raise


class DeployedOnnxModel(OnnxModel):
    """A model version as the ingress sees it: metadata here, the ONNX session in the model replicas."""

    def __init__(self, artifact: ModelArtifact, *, models: DeploymentHandle[ModelReplica]) -> None:
        super().__init__(artifact)
        self._models = models.options(multiplexed_model_id=multiplexed_id(artifact.ref.model_name, self.version))
        self._loaded = False

    @property
    def ready(self) -> bool:
        """True once a model replica has opened this version."""
        return self._loaded

    def load(self) -> None:
        """Have a model replica open this version (so that the first request does not wait for it)."""
        _answer(self._models.load.remote)
        self._loaded = True

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Probabilities from a model replica (batched there with other requests for this version)."""
        probabilities: np.ndarray = _answer(functools.partial(self._models.predict.remote, matrix))
        return probabilities

    def contributions_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Exact per-feature contributions, computed by the model replica that holds the explainer."""
        contributions: np.ndarray = _answer(functools.partial(self._models.contributions.remote, matrix))
        return contributions


class ModelReplica:
    """ONNX Runtime sessions of the versions requested of this replica (multiplexed, batched)."""

    def __init__(self, settings: Settings) -> None:
        apply_library_defaults()

        async def open_requested(model_id: str) -> OnnxModel:
            return await asyncio.to_thread(open_version, settings, model_id)

        self._version = serve.multiplexed(max_num_models_per_replica=settings.ray_max_models_per_replica)(
            open_requested
        )
        self.predict.set_max_batch_size(settings.ray_max_batch_size)  # type: ignore[attr-defined]  # set by @serve.batch
        self.predict.set_batch_wait_timeout_s(settings.ray_batch_wait_timeout_ms / 1000)  # type: ignore[attr-defined]

    async def _requested(self) -> OnnxModel:
        model: OnnxModel = await self._version(serve.get_multiplexed_model_id())
        return model

    async def load(self) -> str:
        """Open the requested version here; answers its version."""
        return (await self._requested()).version

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.001)
    async def predict(self, matrices: list[np.ndarray]) -> list[np.ndarray]:
        """Probabilities of a batch of requests for one version, through one ONNX Runtime call."""
        model = await self._requested()
        probabilities = model.predict_matrix(np.concatenate(matrices))
        return np.split(probabilities, np.cumsum([len(matrix) for matrix in matrices])[:-1])

    async def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Exact per-feature contributions of the requested version (explain=true)."""
        import pandas as pd

        model = await self._requested()
        frame = pd.DataFrame(matrix, columns=model.metadata.feature_names)
        return await asyncio.to_thread(model.contributions, frame)


def placed_opener(settings: Settings, models: DeploymentHandle[ModelReplica]) -> Callable[[ModelArtifact], OnnxModel]:
    """Where the ingress runs a version: in its own process when the ONNX file is at most
    ``ray_ingress_model_max_bytes``, otherwise in the model deployment (:class:`DeployedOnnxModel`)."""

    def open_model(artifact: ModelArtifact) -> OnnxModel:
        if artifact.onnx_path.stat().st_size <= settings.ray_ingress_model_max_bytes:
            return OnnxModel(artifact)
        return DeployedOnnxModel(artifact, models=models)

    return open_model


class WarehouseIngress:
    """The warehouse app; its models run in the model deployment (small ones here, if so configured)."""

    def __init__(self, settings: Settings, models: DeploymentHandle[ModelReplica]) -> None:
        self._settings = settings
        self._models = models

    def __serve_build_asgi_app__(self) -> FastAPI:
        """The same app as the local engine's, with versions placed by :func:`placed_opener`."""
        from warehouse.api import create_app

        return create_app(self._settings, open_model=placed_opener(self._settings, self._models))


MODELS: Deployment = serve.deployment(name=MODELS_DEPLOYMENT)(ModelReplica)
"""The model deployment (configure with ``.options``, then ``.bind(settings)``)."""
INGRESS: Deployment = serve.deployment(name=INGRESS_DEPLOYMENT)(serve.ingress()(WarehouseIngress))
"""The ingress deployment (configure with ``.options``, then ``.bind(settings, models)``)."""
